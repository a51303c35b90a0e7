//! Criterion benches of view synthesis once the flows are known: one 1080p in-between view
//! (two softmax splats, the blend and the hole filling) from exact flows, in the cameras'
//! frame, and the same in an aligned output zoomed 1.3x (the splat kernel widens to leave no
//! gaps), and the first with the pair's cameras (each match triangulated and projected into
//! the in-between camera). Last, one view of a calibrated orbit with the quality preset's
//! plane sweep (`render --calibration --flow-preset quality`: the flow's placed splat and
//! the sweep from the virtual camera through the two real ones, flows computed beforehand).
//! The flow itself is benched in benches/flow.rs; the peer comparison of a whole pair is
//! benches/peer/interp_peer.py.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use timeslice::align::Alignment;
use timeslice::flow::{FlowParams, Preset};
use timeslice::frame::RgbImage;
use timeslice::interp::PairFlow;
use timeslice::render::{calibrated_pair, calibrated_view};
use timeslice::synth::truth_flow::truth_flow;
use timeslice::synth::{SampleRig, SampleSpec};

fn synthesize(c: &mut Criterion) {
    timeslice::memory::keep_freed_memory();
    let s = SampleRig::new(&SampleSpec {
        cameras: 24,
        width: 1920,
        height: 1080,
        frames: 1,
        ..SampleSpec::default()
    })
    .unwrap();
    let (ca, cb) = (&s.rig().cameras[0], &s.rig().cameras[1]);
    let (a, b) = (s.render_view(ca, 0), s.render_view(cb, 0));
    let fwd = truth_flow(&s, ca, cb, 0).flow;
    let bwd = truth_flow(&s, cb, ca, 0).flow;
    let pair = PairFlow::from_flows(&a, &b, fwd, bwd).unwrap();
    let mut g = c.benchmark_group("interp");
    g.sample_size(20);
    g.bench_function("synthesize_1080p", |bch| {
        bch.iter(|| black_box(pair.synthesize(0.37)))
    });
    let placed = pair.with_cameras(ca, cb);
    g.bench_function("synthesize_calibrated_1080p", |bch| {
        bch.iter(|| black_box(placed.synthesize(0.37)))
    });
    // Aligned: the output is the cameras' frame zoomed 1.3x about the centre (flows
    // computed there, at the balanced preset).
    let zoom = 1.3;
    let (cx, cy) = (959.5, 539.5);
    let to_out = move |u: f64, v: f64| Some((cx + zoom * (u - cx), cy + zoom * (v - cy)));
    let warp = |img: &RgbImage| {
        let mut out = RgbImage::new(img.width, img.height);
        for y in 0..img.height {
            for x in 0..img.width {
                let (u, v) = (cx + (x as f64 - cx) / zoom, cy + (y as f64 - cy) / zoom);
                out.put(x, y, img.pixel(u.round() as u32, v.round() as u32));
            }
        }
        out
    };
    let (wa, wb) = (warp(&a), warp(&b));
    let pair = PairFlow::aligned(
        (&a, &wa, &to_out),
        (&b, &wb, &to_out),
        &FlowParams::preset(Preset::Balanced),
    )
    .unwrap();
    g.bench_function("synthesize_aligned_zoomed_1080p", |bch| {
        bch.iter(|| black_box(pair.synthesize(0.37)))
    });
    let cams = s.rig().cameras.clone();
    let al = Alignment::new(cams, None, 1920, 1080).unwrap();
    let params = FlowParams::preset(Preset::Balanced);
    let swept = calibrated_pair(&al, (0, &a), (1, &b), &params, true).unwrap();
    g.bench_function("synthesize_swept_orbit_view_1080p", |bch| {
        bch.iter(|| black_box(calibrated_view(&al, &swept, 0, 1, 0.37)))
    });
    g.finish();
}

criterion_group!(benches, synthesize);
criterion_main!(benches);
