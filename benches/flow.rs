//! Criterion benches of the dense flow engine: `compute_flow` per preset on a generated
//! textured pair shifted by a known smooth flow, at 720p and 1080p, and 4K for `fast`.
//! The OpenCV DIS peer runs the same sizes from benches/peer/ (scripts/peer_dis.py).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use timeslice::flow::{compute_flow, FlowParams, Preset};
use timeslice::frame::Plane;

/// A smooth multi-octave texture (sums of rotated sinusoids with incommensurate
/// frequencies, so it does not repeat within the frame), evaluated at continuous positions.
fn texture(x: f32, y: f32) -> f32 {
    let mut v = 0.5;
    let mut amp = 0.18;
    let mut f = 0.02;
    for o in 0..6 {
        let a = 0.7 + 1.3 * o as f32;
        let (c, s) = (a.cos(), a.sin());
        v += amp * ((c * x + s * y) * f + o as f32).sin() * ((s * x - c * y) * f * 1.37).cos();
        amp *= 0.7;
        f *= 1.9;
    }
    v.clamp(0.0, 1.0)
}

/// The pair: B(p) = A(p - w(p)) for a smooth flow w of up to ~20 px.
fn pair(w: usize, h: usize) -> (Plane, Plane) {
    let s = w as f32 / 1920.0;
    let flow = |x: f32, y: f32| {
        (
            s * (12.0 + 6.0 * (y / h as f32 * 3.0).sin()),
            s * (4.0 + 5.0 * (x / w as f32 * 2.0).cos()),
        )
    };
    let a = Plane::from_fn(w, h, |x, y| texture(x as f32 / s, y as f32 / s));
    let b = Plane::from_fn(w, h, |x, y| {
        let (x, y) = (x as f32, y as f32);
        let (u, v) = flow(x, y);
        texture((x - u) / s, (y - v) / s)
    });
    (a, b)
}

fn flow(c: &mut Criterion) {
    // As the command line does: reused buffers instead of fresh zeroed pages per call.
    timeslice::memory::keep_freed_memory();
    let mut g = c.benchmark_group("flow");
    g.sample_size(10);
    for (w, h) in [(1280, 720), (1920, 1080), (3840, 2160)] {
        let (a, b) = pair(w, h);
        for p in Preset::ALL {
            if w > 1920 && p != Preset::Fast {
                continue;
            }
            let params = FlowParams::preset(p);
            g.bench_with_input(
                BenchmarkId::new(p.to_string(), format!("{w}x{h}")),
                &params,
                |bch, params| bch.iter(|| black_box(compute_flow(&a, &b, params, None).unwrap())),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, flow);
criterion_main!(benches);
