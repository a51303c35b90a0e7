//! Criterion benches of rig calibration's kernels: descriptor matching of one camera pair,
//! guided matching along its epipolar lines, the sub-pixel localisation of matches, two-view RANSAC, and the Schur-complement bundle
//! adjustment of a 24-camera ring. Run with `cargo bench --bench calib_rig`; the end-to-end
//! timing is `timeslice calibrate rig` (see benches/README.md).

use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::{Point3, Vector2, Vector3};
use std::hint::black_box;
use timeslice::calib::rig::bundle_adjustment::{
    bundle_adjust, BaCamera, BaOptions, FocalMode, Observation,
};
use timeslice::calib::rig::{features, guided_matches, lucas_kanade, two_view};
use timeslice::camera::Pose;
use timeslice::frame::Plane;
use timeslice::synth::{SampleRig, SampleSpec};

fn matching(c: &mut Criterion) {
    let rig = SampleRig::new(&SampleSpec {
        cameras: 24,
        width: 960,
        height: 540,
        frames: 1,
        ..SampleSpec::default()
    })
    .unwrap();
    let cams = &rig.rig().cameras;
    let a = Plane::luma(&rig.render_view(&cams[0], 0));
    let b = Plane::luma(&rig.render_view(&cams[1], 0));
    let ka = features::keypoints(&a, 19, 2e-4);
    let kb = features::keypoints(&b, 19, 2e-4);
    let (da, db) = (
        features::describe(&a, &ka, 16.0),
        features::describe(&b, &kb, 16.0),
    );
    let mut g = c.benchmark_group("calib_rig");
    g.sample_size(10);
    g.bench_function("keypoints_describe_960x540", |bch| {
        bch.iter(|| {
            let k = features::keypoints(black_box(&a), 19, 2e-4);
            black_box(features::describe(&a, &k, 16.0))
        })
    });
    let m = features::match_descriptors(&da, &db, 0.8);
    let matched: Vec<([f32; 2], [f32; 2])> = m
        .iter()
        .enumerate()
        .filter_map(|(i, j)| j.map(|j| (ka[i], kb[j])))
        .take(100)
        .collect();
    g.bench_function("match_descriptors_pair", |bch| {
        bch.iter(|| black_box(features::match_descriptors(&da, &db, 0.8)))
    });
    // The sub-pixel localisation (translation, homography, round trip) of 100 matches.
    g.bench_function("lucas_kanade_refine_100_matches", |bch| {
        bch.iter(|| {
            matched
                .iter()
                .filter_map(|(p, q)| lucas_kanade::refine(&a, &b, *p, *q, 3.0))
                .count()
        })
    });
    // Guided matching of every keypoint along its epipolar line (the truth's pose).
    let (c0, c1) = (&cams[0], &cams[1]);
    let r = c1.pose.rotation_matrix() * c0.pose.rotation_matrix().transpose();
    let t = c1.pose.translation - r * c0.pose.translation;
    let e = nalgebra::Matrix3::new(0.0, -t.z, t.y, t.z, 0.0, -t.x, -t.y, t.x, 0.0) * r;
    let k = &c0.intrinsics;
    let norm =
        |p: &[f32; 2]| Vector2::new((p[0] as f64 - k.cx) / k.fx, (p[1] as f64 - k.cy) / k.fy);
    let (na, nb): (Vec<Vector2<f64>>, Vec<Vector2<f64>>) =
        (ka.iter().map(norm).collect(), kb.iter().map(norm).collect());
    let skip = vec![false; ka.len()];
    g.bench_function("guided_matches_pair", |bch| {
        bch.iter(|| {
            black_box(guided_matches::match_along_epipolar_lines(
                guided_matches::Keypoints {
                    points: &na,
                    descriptors: &da,
                },
                guided_matches::Keypoints {
                    points: &nb,
                    descriptors: &db,
                },
                &e,
                5.0 / k.fx,
                0.9,
                &skip,
            ))
        })
    });
    g.finish();
}

/// A ring of 24 cameras around a cloud of 3000 points, each seen by about three cameras.
fn ring_problem() -> (Vec<BaCamera>, Vec<Point3<f64>>, Vec<Observation>) {
    let n = 24;
    let cams: Vec<BaCamera> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            let p = Pose::look_at(
                Point3::new(8.0 * a.cos(), 8.0 * a.sin(), 1.6),
                Point3::new(0.0, 0.0, 1.0),
                Vector3::z(),
            );
            BaCamera {
                rotation: p.rotation_matrix(),
                translation: p.translation,
                fx: 1758.0,
                fy: 1758.0,
                cx: 639.5,
                cy: 359.5,
            }
        })
        .collect();
    let mut pts = Vec::new();
    let mut obs = Vec::new();
    for k in 0..3000 {
        let t = k as f64;
        let p = Point3::new(
            3.0 * (t * 0.37).sin(),
            3.0 * (t * 0.91).cos(),
            1.0 + (t * 0.13).sin(),
        );
        let pi = pts.len();
        let mut seen = 0;
        for (ci, c) in cams.iter().enumerate() {
            let q = c.rotation * p.coords + c.translation;
            // Points on the near side of the ring only, like a rig's neighbours.
            if q.z < 7.0 {
                if let Some(px) = c.project(&p) {
                    if px.x > 0.0 && px.x < 1280.0 && px.y > 0.0 && px.y < 720.0 {
                        obs.push(Observation {
                            camera: ci,
                            point: pi,
                            pixel: px
                                + Vector2::new(0.3 * (t + ci as f64).sin(), 0.3 * (t * 1.7).cos()),
                        });
                        seen += 1;
                    }
                }
            }
        }
        if seen > 0 {
            pts.push(p);
        } else {
            obs.retain(|o| o.point != pi);
        }
    }
    (cams, pts, obs)
}

fn adjustment(c: &mut Criterion) {
    let (cams, pts, obs) = ring_problem();
    let mut g = c.benchmark_group("calib_rig");
    g.sample_size(10);
    g.bench_function("bundle_adjust_ring24_10_iterations", |bch| {
        bch.iter(|| {
            let (mut cs, mut ps) = (cams.clone(), pts.clone());
            for (i, cm) in cs.iter_mut().enumerate().skip(1) {
                cm.translation += Vector3::new(0.01, -0.02, 0.01) * ((i % 3) as f64 - 1.0);
            }
            let opts = BaOptions {
                max_iterations: 10,
                focal: FocalMode::Shared,
                tolerance: 0.0,
                ..Default::default()
            };
            black_box(bundle_adjust(&mut cs, &mut ps, &obs, &opts))
        })
    });
    // Two-view RANSAC on the observations of cameras 0 and 1.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for p in 0..pts.len() {
        let o0 = obs.iter().find(|o| o.point == p && o.camera == 0);
        let o1 = obs.iter().find(|o| o.point == p && o.camera == 1);
        if let (Some(o0), Some(o1)) = (o0, o1) {
            let n = |o: &Observation| {
                Vector2::new((o.pixel.x - 639.5) / 1758.0, (o.pixel.y - 359.5) / 1758.0)
            };
            a.push(n(o0));
            b.push(n(o1));
        }
    }
    g.bench_function("essential_ransac_pair", |bch| {
        bch.iter(|| {
            black_box(two_view::estimate_relative_pose(
                &a,
                &b,
                &two_view::RansacParams {
                    max_iterations: 2000,
                    ..Default::default()
                },
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, matching, adjustment);
criterion_main!(benches);
