//! Board calibration end to end: chessboards rendered with known intrinsics, distortion and
//! poses (src/synth/board.rs), detection accuracy, calibration accuracy, OpenCV YAML, and the
//! `timeslice calibrate board` command line.

mod common;

use common::{listing, run};
use nalgebra::Point2;
use std::path::{Path, PathBuf};
use timeslice::calib::board::{calibrate_board, calibrate_views};
use timeslice::calib::chessboard::{detect, Pattern};
use timeslice::calib::opencv_yaml::CameraYaml;
use timeslice::frame::Plane;
use timeslice::synth::board::{calibration_poses, corners, render, to_rgb, Look};
use timeslice::{Intrinsics, Pose};

const W: usize = 640;
const H: usize = 480;

/// A wide-angle camera with strong barrel distortion (k1 = -0.4) and a little decentring.
fn camera() -> Intrinsics {
    Intrinsics {
        fx: 420.0,
        fy: 416.0,
        cx: 322.5,
        cy: 236.0,
        dist: [-0.4, 0.15, 0.0008, -0.0005, 0.0],
    }
}

fn pattern() -> Pattern {
    Pattern::new(9, 6).unwrap()
}

fn views(n: usize) -> Vec<Pose> {
    calibration_poses(&camera(), W, pattern(), 1.0, 0.58, n)
}

/// Detected corners against the truth: the order must be the truth's or its 180 degree
/// rotation (a 9x6 board, right-handed in the image); returns the RMS and the largest error
/// in pixels.
fn errors(found: &[Point2<f64>], truth: &[Point2<f64>]) -> (f64, f64) {
    assert_eq!(found.len(), truth.len());
    let stats = |pairs: Vec<f64>| {
        let rms = (pairs.iter().map(|e| e * e).sum::<f64>() / pairs.len() as f64).sqrt();
        (rms, pairs.iter().cloned().fold(0.0, f64::max))
    };
    let direct = stats(
        found
            .iter()
            .zip(truth)
            .map(|(a, b)| (a - b).norm())
            .collect(),
    );
    let turned = stats(
        found
            .iter()
            .zip(truth.iter().rev())
            .map(|(a, b)| (a - b).norm())
            .collect(),
    );
    let best = if direct.1 < turned.1 { direct } else { turned };
    assert!(
        best.1 < 2.0,
        "corner order is neither the truth's nor its 180 degree turn (max errors {}, {})",
        direct.1,
        turned.1
    );
    best
}

#[test]
fn rendered_views_detect_every_corner_and_recover_the_camera() {
    let k = camera();
    let poses = views(10);
    let look = Look {
        blur: 0.6,
        noise: 0.01,
        ..Look::default()
    };
    let images: Vec<(String, Plane)> = poses
        .iter()
        .enumerate()
        .map(|(i, pose)| {
            let look = Look {
                seed: i as u64,
                ..look
            };
            (
                format!("view{i}"),
                render(W, H, &k, pose, pattern(), 1.0, &look),
            )
        })
        .collect();
    // Every view: every corner, within a small fraction of a pixel.
    for ((name, img), pose) in images.iter().zip(&poses) {
        let found = detect(img, pattern()).unwrap_or_else(|| panic!("{name}: board not found"));
        let (rms, max) = errors(&found, &corners(&k, pose, pattern(), 1.0));
        eprintln!("{name}: corner error rms {rms:.3} px, max {max:.3} px");
        assert!(
            rms < 0.08 && max < 0.25,
            "{name}: rms {rms:.3}, max {max:.3}"
        );
        // The ordering rule: right-handed in the image, first row running left to right.
        let row = found[8] - found[0];
        let col = found[9 * 5] - found[0];
        assert!(
            row.x * col.y - row.y * col.x > 0.0,
            "{name}: left-handed order"
        );
        assert!(row.x > 0.0, "{name}: first row runs right to left");
    }

    let cal = calibrate_board(&images, pattern(), 1.0).unwrap();
    assert!(cal.not_found.is_empty());
    assert_eq!((cal.width, cal.height), (W as u32, H as u32));
    let got = cal.intrinsics;
    eprintln!("{got:?} rms {}", cal.rms);
    for (what, a, b) in [
        ("fx", got.fx, k.fx),
        ("fy", got.fy, k.fy),
        ("cx", got.cx, k.cx),
        ("cy", got.cy, k.cy),
    ] {
        assert!((a - b).abs() < 0.005 * k.fx, "{what}: {a:.3}, truth {b:.3}");
    }
    assert!((got.dist[0] - k.dist[0]).abs() < 0.01, "k1 {}", got.dist[0]);
    assert!((got.dist[1] - k.dist[1]).abs() < 0.03, "k2 {}", got.dist[1]);
    assert!(got.dist[2].abs() < 0.002 && got.dist[3].abs() < 0.002);
    assert!(cal.rms < 0.06, "rms {}", cal.rms);
    assert_eq!(cal.views.len(), 10);
    for v in &cal.views {
        assert!(v.rms < 0.1, "{}: rms {}", v.name, v.rms);
    }
    // The poses are the rendered ones (or the board turned 180 degrees about its normal).
    for (v, truth) in cal.views.iter().zip(&poses) {
        let centre = |p: &Pose| p.to_camera(&nalgebra::Point3::new(4.0, 2.5, 0.0));
        assert!(
            (centre(&v.pose) - centre(truth)).norm() < 0.01 * truth.translation.norm(),
            "{}: board centre {} vs {}",
            v.name,
            centre(&v.pose),
            centre(truth)
        );
    }
}

#[test]
fn exact_corners_give_the_exact_camera() {
    let k = camera();
    // Metric units: 25 mm squares.
    let poses = calibration_poses(&k, W, pattern(), 0.025, 0.58, 8);
    let obs: Vec<Vec<Point2<f64>>> = poses
        .iter()
        .map(|p| corners(&k, p, pattern(), 0.025))
        .collect();
    let r = calibrate_views(&pattern().object_points(0.025), &obs, W as u32, H as u32).unwrap();
    assert!(r.rms < 1e-6, "rms {} {:?}", r.rms, r.intrinsics);
    let g = r.intrinsics;
    assert!(
        (g.fx - k.fx).abs() < 1e-4 && (g.fy - k.fy).abs() < 1e-4,
        "{g:?}"
    );
    assert!(
        (g.cx - k.cx).abs() < 1e-4 && (g.cy - k.cy).abs() < 1e-4,
        "{g:?}"
    );
    for (a, b) in g.dist.iter().zip(&k.dist) {
        assert!((a - b).abs() < 1e-5, "{g:?}");
    }
    for (p, t) in r.poses.iter().zip(&poses) {
        assert!(p.rotation.angle_to(&t.rotation) < 1e-7);
        assert!((p.translation - t.translation).norm() < 1e-7);
    }
}

#[test]
fn detection_copes_with_blur_and_uneven_light() {
    let k = camera();
    for (i, pose) in views(4).iter().enumerate() {
        let look = Look {
            blur: 2.0,
            noise: 0.02,
            // The right edge gets 25 % of the light of the left edge.
            light_falloff: 0.75,
            seed: 7 + i as u64,
            ..Look::default()
        };
        let img = render(W, H, &k, pose, pattern(), 1.0, &look);
        let found = detect(&img, pattern()).unwrap_or_else(|| panic!("view {i}: not found"));
        let (rms, max) = errors(&found, &corners(&k, pose, pattern(), 1.0));
        eprintln!("view {i}: corner error rms {rms:.3} px, max {max:.3} px");
        assert!(
            rms < 0.15 && max < 0.45,
            "view {i}: rms {rms:.3}, max {max:.3}"
        );
    }
}

#[test]
fn a_different_pattern_or_no_board_is_not_found() {
    let k = camera();
    let pose = views(1)[0];
    let img = render(W, H, &k, &pose, pattern(), 1.0, &Look::default());
    // The board has 9x6 inner corners: 9x7 and 10x6 are not there, 9x6 is.
    assert!(detect(&img, Pattern::new(9, 7).unwrap()).is_none());
    assert!(detect(&img, Pattern::new(10, 6).unwrap()).is_none());
    assert!(detect(&img, pattern()).is_some());
    let blank = Plane::from_fn(W, H, |x, y| 0.3 + 0.4 * ((x / 40 + y / 50) % 2) as f32);
    assert!(detect(&blank, pattern()).is_none());
}

#[test]
fn yaml_round_trip_is_exact() {
    let y = CameraYaml {
        width: 1280,
        height: 960,
        intrinsics: Intrinsics {
            fx: 715.4081234567891,
            fy: 716.1630000000001,
            cx: 650.953,
            cy: 449.65,
            dist: [-0.41174, 0.23775, 0.00026, 1e-5, -0.09594],
        },
        rms: Some(0.12034),
        board: Some((11, 8, 25.0)),
        views: Some(18),
    };
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("camera.yaml");
    y.write(&path).unwrap();
    assert_eq!(CameraYaml::read(&path).unwrap(), y);
    assert_eq!(listing(d.path()), ["camera.yaml"]);
}

/// Exactly what OpenCV 4's calibration sample writes (cv::FileStorage, YAML).
const OPENCV_YAML: &str = r#"%YAML:1.0
---
calibration_time: "Sun Oct  3 15:53:56 2021"
image_width: 1280
image_height: 960
board_width: 11
board_height: 8
square_size: 1.
flags: 0
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 7.1239787607124015e+02, 0., 6.5266087456356286e+02, 0.,
       7.1260663801079568e+02, 4.4994610712387629e+02, 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 5
   cols: 1
   dt: d
   data: [ -3.9450402568099502e-01, 1.6048105420872713e-01,
       1.2582245751145658e-04, -9.1387300023483065e-04, 0. ]
avg_reprojection_error: 9.2206388461300748e-02
"#;

#[test]
fn reads_a_file_written_by_opencv() {
    let y = CameraYaml::parse(OPENCV_YAML).unwrap();
    assert_eq!((y.width, y.height), (1280, 960));
    let k = y.intrinsics;
    // Exactly the numbers in the text (as strtod reads them).
    let n = |s: &str| s.parse::<f64>().unwrap();
    assert_eq!(k.fx, n("7.1239787607124015e+02"));
    assert_eq!(k.fy, n("7.1260663801079568e+02"));
    assert_eq!(k.cx, n("6.5266087456356286e+02"));
    assert_eq!(k.cy, n("4.4994610712387629e+02"));
    assert_eq!(
        k.dist,
        [
            n("-3.9450402568099502e-01"),
            n("1.6048105420872713e-01"),
            n("1.2582245751145658e-04"),
            n("-9.1387300023483065e-04"),
            0.0
        ]
    );
    assert_eq!(y.rms, Some(n("9.2206388461300748e-02")));
    assert_eq!(y.board, Some((11, 8, 1.0)));
    // A 1x4 distortion row (k3 absent) is read with k3 = 0.
    let four = OPENCV_YAML
        .replace("rows: 5\n   cols: 1", "rows: 1\n   cols: 4")
        .replace(", 0. ]\navg", " ]\navg");
    let y4 = CameraYaml::parse(&four).unwrap();
    assert_eq!(y4.intrinsics.dist[4], 0.0);
    assert_eq!(y4.intrinsics.dist[0], k.dist[0]);
}

/// Writes rendered board views as PNG files; returns their paths.
fn write_views(dir: &Path, n: usize) -> Vec<PathBuf> {
    let k = camera();
    views(n)
        .iter()
        .enumerate()
        .map(|(i, pose)| {
            let img = render(W, H, &k, pose, pattern(), 1.0, &Look::default());
            let path = dir.join(format!("board{i:02}.png"));
            to_rgb(&img).to_image().save(&path).unwrap();
            path
        })
        .collect()
}

#[test]
fn cli_calibrates_and_lists_images_without_the_board() {
    let d = tempfile::tempdir().unwrap();
    let mut files = write_views(d.path(), 6);
    // One image without a board: listed, not fatal.
    let blank = d.path().join("blank.png");
    image::GrayImage::from_pixel(W as u32, H as u32, image::Luma([128]))
        .save(&blank)
        .unwrap();
    files.push(blank);
    let out = d.path().join("camera.yaml");
    let mut args = vec!["calibrate", "board", "--pattern", "9x6", "--square", "25mm"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    args.extend(["--out", out.to_str().unwrap(), "--json"]);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("blank.png") && r.stderr.contains("not found"),
        "{}",
        r.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["used"], 6);
    assert_eq!(v["images"], 7);
    assert_eq!(v["square"], 25.0);
    let k = camera();
    assert!(
        (v["fx"].as_f64().unwrap() - k.fx).abs() < 0.01 * k.fx,
        "{v}"
    );
    assert!(v["rms"].as_f64().unwrap() < 0.1, "{v}");
    assert_eq!(v["views"].as_array().unwrap().len(), 6);
    let y = CameraYaml::read(&out).unwrap();
    assert_eq!(y.intrinsics.fx, v["fx"].as_f64().unwrap());
    assert_eq!(y.board, Some((9, 6, 25.0)));

    // The plain summary names every image and the overall RMS.
    let out2 = d.path().join("again.yaml");
    let mut args = vec!["calibrate", "board", "--pattern", "9x6"];
    args.extend(names.iter().map(String::as_str));
    args.extend(["--out", out2.to_str().unwrap()]);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("board03.png") && r.stdout.contains("overall rms"));
    assert!(r.stdout.contains("found in 6 of 7 images"), "{}", r.stdout);
}

#[test]
fn cli_bad_inputs_fail_cleanly() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("camera.yaml");
    let blank: Vec<String> = (0..3)
        .map(|i| {
            let p = d.path().join(format!("blank{i}.png"));
            image::GrayImage::from_pixel(64, 48, image::Luma([90 + 20 * i as u8]))
                .save(&p)
                .unwrap();
            p.display().to_string()
        })
        .collect();
    let o = out.to_str().unwrap();

    // No image holds the board: one clear line, exit 1, nothing written.
    let mut args = vec!["calibrate", "board", "--pattern", "9x6", "--out", o];
    args.extend(blank.iter().map(String::as_str));
    let r = run(&args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("found in 0 of 3 images") && r.stderr.contains("at least 3"),
        "{}",
        r.stderr
    );

    // An unreadable image: the error names it.
    let junk = d.path().join("junk.png");
    std::fs::write(&junk, b"not a png").unwrap();
    let mut args = vec!["calibrate", "board", "--pattern", "9x6", "--out", o];
    args.extend(blank.iter().map(String::as_str));
    args.push(junk.to_str().unwrap());
    let r = run(&args);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("junk.png"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);

    // A missing file, too.
    let missing = d.path().join("missing.png");
    let r = run(&[
        "calibrate",
        "board",
        "--pattern",
        "9x6",
        "--out",
        o,
        missing.to_str().unwrap(),
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("missing.png"), "{}", r.stderr);

    // Bad --pattern and --square are usage errors (exit 2).
    for (flag, bad) in [
        ("--pattern", "9"),
        ("--pattern", "2x6"),
        ("--pattern", "axb"),
        ("--square", "0mm"),
    ] {
        let mut args = vec!["calibrate", "board", "--out", o, &blank[0]];
        if flag == "--square" {
            args.extend(["--pattern", "9x6"]);
        }
        args.extend([flag, bad]);
        let r = run(&args);
        assert_eq!(r.code, 2, "{flag} {bad}: {}", r.stderr);
        assert!(r.stderr.contains(bad), "{}", r.stderr);
    }
    // Nothing was left behind by any failure.
    let mut left = listing(d.path());
    left.retain(|n| !n.starts_with("blank") && n != "junk.png");
    assert!(left.is_empty(), "{left:?}");
}
