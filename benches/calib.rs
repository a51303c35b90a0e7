//! Criterion benches of board calibration: chessboard detection in one 1280x960 image (strong
//! barrel distortion, like the wide-angle set in ../shared/data/calib) and the Zhang + LM
//! calibration from 12 views of an 11x8 board. Run with `cargo bench --bench calib`; the peer
//! comparison with OpenCV is benches/peer/calib_board_peer.py.

use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::Point2;
use std::hint::black_box;
use timeslice::calib::board::calibrate_views;
use timeslice::calib::chessboard::{detect, Pattern};
use timeslice::synth::board::{calibration_poses, corners, render, Look};
use timeslice::Intrinsics;

fn camera() -> Intrinsics {
    Intrinsics {
        fx: 715.0,
        fy: 716.0,
        cx: 651.0,
        cy: 449.5,
        dist: [-0.41, 0.24, 0.0003, 0.0, -0.096],
    }
}

fn calib(c: &mut Criterion) {
    let k = camera();
    let pattern = Pattern::new(11, 8).unwrap();
    let poses = calibration_poses(&k, 1280, pattern, 1.0, 0.5, 12);
    let look = Look {
        blur: 0.8,
        noise: 0.01,
        ..Look::default()
    };
    let img = render(1280, 960, &k, &poses[5], pattern, 1.0, &look);
    let mut g = c.benchmark_group("calib");
    g.sample_size(10);
    g.bench_function("detect_11x8_1280x960", |b| {
        b.iter(|| black_box(detect(&img, pattern).expect("board found")))
    });
    // Truth corners with a deterministic 0.1 px wobble, so the LM has residuals to work on.
    let views: Vec<Vec<Point2<f64>>> = poses
        .iter()
        .enumerate()
        .map(|(v, p)| {
            corners(&k, p, pattern, 1.0)
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let a = (v * 131 + i * 17) as f64;
                    c + nalgebra::Vector2::new(0.1 * a.sin(), 0.1 * a.cos())
                })
                .collect()
        })
        .collect();
    let board = pattern.object_points(1.0);
    g.bench_function("calibrate_12_views_11x8", |b| {
        b.iter(|| black_box(calibrate_views(&board, &views, 1280, 960).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, calib);
criterion_main!(benches);
