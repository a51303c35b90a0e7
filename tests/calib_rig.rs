//! Rig self-calibration on generated rigs with known poses, and its failure modes.

use nalgebra::Point3;
use timeslice::align::{focus_from_pixels, Alignment};
use timeslice::calib::rig::{calibrate_rig, RigOptions, RigOrder, RigView};
use timeslice::camera::Camera;
use timeslice::eval::{alignment_errors, pose_errors};
use timeslice::frame::Plane;
use timeslice::progress::Silent;
use timeslice::project::Layout;
use timeslice::synth::{find_marker, SampleRig, SampleSpec};

fn render(cameras: usize, layout: Layout, w: u32, h: u32) -> (Vec<RigView>, Vec<Camera>) {
    render_spec(&SampleSpec {
        cameras,
        layout,
        width: w,
        height: h,
        frames: 1,
        ..Default::default()
    })
}

fn render_spec(spec: &SampleSpec) -> (Vec<RigView>, Vec<Camera>) {
    let sample = SampleRig::new(spec).unwrap();
    let cams = sample.rig().cameras.clone();
    let views = cams
        .iter()
        .map(|c| RigView {
            name: c.name.clone(),
            luma: Plane::luma(&sample.render_view(c, 0)),
        })
        .collect();
    (views, cams)
}

/// Median relative-rotation error over all pairs (degrees) and mean centre error after a
/// similarity alignment (percent of the rig radius), over the cameras in `est`.
fn errors(est: &[Camera], truth: &[Camera]) -> (f64, f64) {
    let e = pose_errors(est, truth).expect("cameras to compare");
    (e.rotation_median_deg, e.centre_mean_pct)
}

/// Calibrates `views` with `opts`; every camera must register. The estimated cameras, with
/// their median relative rotation error (degrees) and mean centre error (%) against `truth`.
fn calibrate_all(
    views: &[RigView],
    truth: &[Camera],
    opts: &RigOptions,
) -> (Vec<Camera>, f64, f64) {
    let r = calibrate_rig(views, opts, &Silent).unwrap();
    assert_eq!(
        r.cameras.len(),
        views.len(),
        "unregistered: {:?}",
        r.unregistered
    );
    let est: Vec<Camera> = r.cameras.iter().map(|c| c.camera.clone()).collect();
    let (rot, centre) = errors(&est, truth);
    (est, rot, centre)
}

/// The first camera's focal length is within `pct` percent of the truth.
fn assert_focal_within(est: &[Camera], truth: &[Camera], pct: f64) {
    let f = est[0].intrinsics.fx;
    let err = 100.0 * (f / truth[0].intrinsics.fx - 1.0).abs();
    assert!(err < pct, "focal {f} px, error {err} %");
}

#[test]
fn ring_of_24_with_known_focal() {
    let (views, truth) = render(24, Layout::Ring, 640, 360);
    let opts = RigOptions {
        layout: Layout::Ring,
        focal: Some(truth[0].intrinsics.fx),
        ..Default::default()
    };
    let r = calibrate_rig(&views, &opts, &Silent).unwrap();
    assert_eq!(r.cameras.len(), 24, "unregistered: {:?}", r.unregistered);
    let est: Vec<Camera> = r.cameras.iter().map(|c| c.camera.clone()).collect();
    let (rot, centre) = errors(&est, &truth);
    // Measured 2026-11-29 on this rig from the command line: 0.074 degrees, 0.38 %, RMS 0.03 px.
    assert!(rot < 0.15, "median relative rotation error {rot} deg");
    assert!(centre < 1.0, "centre error {centre} % of the radius");
    assert!(r.rms < 0.1, "reprojection rms {}", r.rms);
    // The gauge: focus at the origin, up +z, mean distance of the centres from the focus 1.
    let mean: f64 = est
        .iter()
        .map(|c| c.pose.centre().coords.norm())
        .sum::<f64>()
        / 24.0;
    assert!((mean - 1.0).abs() < 1e-9, "{mean}");
    // Cameras sit about 0.6 / 8 of the radius above the focus in the generated rig.
    for c in &est {
        let z = c.pose.centre().z;
        assert!(z > 0.0 && z < 0.2, "{}: height {z}", c.name);
        // Each camera aims close to the focus (the origin).
        let to_focus = (Point3::origin() - c.pose.centre()).normalize();
        assert!(c.pose.axis().angle(&to_focus).to_degrees() < 1.0);
    }
}

/// `view` as a camera mounted upside down sees it: the image turned by 180 degrees, and the
/// camera's frame turned about its optical axis.
fn upside_down(view: &RigView, cam: &Camera) -> (RigView, Camera) {
    let mut luma = view.luma.clone();
    luma.data.reverse();
    let half = nalgebra::Matrix3::new(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0);
    let mut cam = cam.clone();
    cam.pose.rotation = nalgebra::UnitQuaternion::from_matrix(&(half * cam.pose.rotation_matrix()));
    cam.pose.translation = half * cam.pose.translation;
    (
        RigView {
            name: view.name.clone(),
            luma,
        },
        cam,
    )
}

#[test]
fn a_shuffled_ring_with_cameras_upside_down_is_put_in_order() {
    let (views, truth) = render(24, Layout::Ring, 640, 360);
    // A fixed shuffle (multiplication by 7 modulo 24), and four cameras mounted upside down.
    let (mut shuffled, mut turned_truth) = (Vec::new(), truth.clone());
    for k in 0..24 {
        let c = (k * 7 + 5) % 24;
        if [3, 4, 11, 17].contains(&c) {
            let (v, cam) = upside_down(&views[c], &truth[c]);
            shuffled.push(v);
            turned_truth[c] = cam;
        } else {
            shuffled.push(views[c].clone());
        }
    }
    let opts = RigOptions {
        layout: Layout::Ring,
        focal: Some(truth[0].intrinsics.fx),
        order: RigOrder::Auto,
        ..Default::default()
    };
    let r = calibrate_rig(&shuffled, &opts, &Silent).unwrap();
    // The ring's order, from the first given camera one way round or the other.
    let names: Vec<&str> = truth.iter().map(|c| c.name.as_str()).collect();
    let first = names.iter().position(|n| *n == r.order[0]).unwrap();
    let fwd: Vec<&str> = (0..24).map(|k| names[(first + k) % 24]).collect();
    let bwd: Vec<&str> = (0..24).map(|k| names[(first + 24 - k) % 24]).collect();
    assert!(r.order == fwd || r.order == bwd, "{:?}", r.order);
    assert_eq!(r.order[0], shuffled[0].name);
    assert_eq!(r.cameras.len(), 24, "unregistered: {:?}", r.unregistered);
    let est: Vec<Camera> = r.cameras.iter().map(|c| c.camera.clone()).collect();
    let (rot, centre) = errors(&est, &turned_truth);
    eprintln!("shuffled ring of 24, four upside down: {rot:.4} degrees, centres {centre:.3} %");
    // Measured 2026-11-29: 0.196 degrees, 1.25 %. From the command line, the 640x360 ring of
    // 24 of `timeslice samples --stills` with the same four turned, in order: 0.094 degrees,
    // 0.52 %; upright: 0.030 degrees. Across a half turn fewer matches localise.
    assert!(rot < 0.3, "median relative rotation error {rot} deg");
    assert!(centre < 2.0, "centre error {centre} % of the radius");
}

#[test]
fn long_lens_arc_of_24() {
    // A 15-degree lens (focal 4861 px at 1280x720), 24 cameras over 180 degrees: the views of
    // the subject are nearly affine. The eight-point fits drifted to near pure rotations
    // (0.003 degrees of parallax where the matches were exact to 0.02 px) and the linear
    // resection failed: 8 of 24 registered. Measured 2026-11-29 from the command line on the
    // same rig (`timeslice samples --hfov 15`): 24/24, 0.008 degrees, centres 0.075 %.
    let (views, truth) = render_spec(&SampleSpec {
        cameras: 24,
        layout: Layout::Arc,
        hfov_degrees: 15.0,
        frames: 1,
        ..Default::default()
    });
    let opts = RigOptions {
        layout: Layout::Arc,
        focal: Some(truth[0].intrinsics.fx),
        ..Default::default()
    };
    let (_, rot, centre) = calibrate_all(&views, &truth, &opts);
    assert!(rot < 0.05, "median relative rotation error {rot} deg");
    assert!(centre < 0.5, "centre error {centre} % of the radius");
    // The focal not given: the sweep's coarse candidates near the truth left cameras out
    // and 2077 px (57 % off) was picked; with their second look, 4855 px (measured
    // 2026-11-29: 24/24, 0.073 degrees, centres 0.10 %; with the P3P resection outside the
    // sweep, 0.052 degrees, centres 0.089 %, focal 0.09 % off). The sweep's candidates
    // resect by the DLT: with the P3P there, wrong focal lengths registered every camera too
    // and 2356 px (52 % off) was picked.
    let opts = RigOptions {
        layout: Layout::Arc,
        ..Default::default()
    };
    let (est, rot, centre) = calibrate_all(&views, &truth, &opts);
    assert_focal_within(&est, &truth, 1.0);
    assert!(rot < 0.15, "median relative rotation error {rot} deg");
    assert!(centre < 0.5, "centre error {centre} % of the radius");
}

#[test]
fn ring_of_12_thirty_degrees_apart() {
    // Cameras 30 degrees apart: each pair shares 60-110 matches, all on the backdrop, and
    // almost no point is seen by three cameras, so no camera could be placed from points (2
    // of 12 registered, with the focal given; COLMAP 3.8 makes no model). Now: guided
    // matches along the epipolar lines, cameras placed at the rig's regular spacing, and the
    // focal length from the ring's closure. Measured 2026-11-29 from the command line on the
    // same rig: 12/12, 0.038 degrees, centres 0.036 %, focal 0.16 % off.
    let (views, truth) = render(12, Layout::Ring, 1280, 720);
    let opts = RigOptions {
        layout: Layout::Ring,
        ..Default::default()
    };
    let r = calibrate_rig(&views, &opts, &Silent).unwrap();
    assert_eq!(r.cameras.len(), 12, "unregistered: {:?}", r.unregistered);
    let est: Vec<Camera> = r.cameras.iter().map(|c| c.camera.clone()).collect();
    let (rot, centre) = errors(&est, &truth);
    assert!(rot < 0.05, "median relative rotation error {rot} deg");
    assert!(centre < 0.3, "centre error {centre} % of the radius");
    assert_focal_within(&est, &truth, 0.5);
    // The spacing was assumed, and the result says so.
    assert!(r.cameras.iter().any(|c| c.spacing_assumed));
}

#[test]
fn arc_of_12_with_unknown_focal_and_an_unrelated_camera() {
    let (mut views, truth) = render(12, Layout::Arc, 640, 360);
    // Focal length not given: estimated by the sweep and the bundle adjustment.
    let opts = RigOptions {
        layout: Layout::Arc,
        ..Default::default()
    };
    let (est, rot, centre) = calibrate_all(&views, &truth, &opts);
    assert_focal_within(&est, &truth, 1.0);
    // Measured 2026-11-29 on this rig from the command line: 0.18 degrees, 0.70 %. At
    // 640x360 the ground gives few matches, and an arc drifts (see arc_of_12_at_720p).
    assert!(rot < 0.4, "median relative rotation error {rot} deg");
    assert!(centre < 2.0, "centre error {centre} % of the radius");

    let opts = RigOptions {
        layout: Layout::Arc,
        focal: Some(truth[0].intrinsics.fx),
        ..Default::default()
    };

    // Replace the last camera by an unrelated textured image: it is named, the rest calibrate.
    let (w, h) = (640, 360);
    views[11].luma = Plane::from_fn(w, h, |x, y| {
        let v = ((x as f32 * 12.9898 + y as f32 * 78.233).sin() * 43758.547)
            .fract()
            .abs();
        0.2 + 0.6 * v
    });
    let r = calibrate_rig(&views, &opts, &Silent).unwrap();
    assert_eq!(r.unregistered.len(), 1, "{:?}", r.unregistered);
    assert_eq!(r.unregistered[0].name, "cam12");
    assert!(!r.unregistered[0].reason.is_empty());
    assert_eq!(r.cameras.len(), 11);
}

#[test]
fn degenerate_inputs_give_one_line_errors() {
    let (views, truth) = render(3, Layout::Arc, 320, 180);
    let opts = RigOptions {
        focal: Some(truth[0].intrinsics.fx),
        layout: Layout::Arc,
        ..Default::default()
    };
    // Two cameras.
    let e = calibrate_rig(&views[..2], &opts, &Silent)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 3 cameras"), "{e}");
    assert!(!e.contains('\n'));
    // A black frame.
    let mut black = views.clone();
    black[1].luma = Plane::new(320, 180);
    let e = calibrate_rig(&black, &opts, &Silent)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cam02") && e.contains("black"), "{e}");
    // All cameras identical.
    let same: Vec<RigView> = (0..4)
        .map(|i| RigView {
            name: format!("cam{i}"),
            luma: views[0].luma.clone(),
        })
        .collect();
    let e = calibrate_rig(&same, &opts, &Silent)
        .unwrap_err()
        .to_string();
    assert!(e.contains("same image"), "{e}");
    assert!(!e.contains('\n'));
}

/// `calibrate rig --intrinsics camera.yaml`: the known focal is used (rescaled from the YAML's
/// resolution to the footage's) and every camera registers.
#[test]
fn known_intrinsics_from_opencv_yaml() {
    let d = tempfile::tempdir().unwrap();
    let rig = d.path().join("rig");
    let bin = env!("CARGO_BIN_EXE_timeslice");
    let ok = std::process::Command::new(bin)
        .args([
            "--quiet",
            "samples",
            "--out",
            rig.to_str().unwrap(),
            "--cameras",
            "10",
        ])
        .args([
            "--layout",
            "arc",
            "--arc-degrees",
            "90",
            "--size",
            "640x360",
            "--stills",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rig.join("truth/truth.json")).unwrap())
            .unwrap();
    let fx = truth["cameras"][0]["fx"].as_f64().unwrap();
    // The YAML describes the same camera at half the resolution.
    let yaml = d.path().join("camera.yaml");
    std::fs::write(
        &yaml,
        format!(
            "%YAML:1.0\n---\nimage_width: 320\nimage_height: 180\ncamera_matrix: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ {}, 0., 159.75, 0., {}, 89.75, 0., 0., 1. ]\ndistortion_coefficients: !!opencv-matrix\n   rows: 1\n   cols: 5\n   dt: d\n   data: [ 0., 0., 0., 0., 0. ]\n",
            fx / 2.0,
            fx / 2.0
        ),
    )
    .unwrap();
    let out = d.path().join("calib");
    let r = std::process::Command::new(bin)
        .args([
            "--quiet",
            "calibrate",
            "rig",
            rig.to_str().unwrap(),
            "--layout",
            "arc",
        ])
        .args([
            "--intrinsics",
            yaml.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let cal = timeslice::calib::load_rig(&out).unwrap();
    assert_eq!(cal.len(), 10);
    // How sure it is, per camera (issue 28): a confidence for each, no doubts.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("calibration.json")).unwrap())
            .unwrap();
    for c in json["cameras"].as_array().unwrap() {
        let conf = c["confidence"].as_f64().unwrap();
        assert!((0.5..=1.0).contains(&conf), "{}: {conf}", c["name"]);
        assert!(c.get("doubts").is_none(), "{c}");
    }
    assert!(json.get("doubts").is_none());
    // The contact sheet: 4 columns of 320 px tiles (3 rows for 10 cameras) with 4 px gaps.
    let sheet = image::open(out.join("sheet.png")).unwrap();
    assert_eq!((sheet.width(), sheet.height()), (4 * 324 + 4, 3 * 184 + 4));
    for c in &cal {
        assert!(
            (c.intrinsics.fx / fx - 1.0).abs() < 1e-9,
            "{} vs {fx}",
            c.intrinsics.fx
        );
    }
    // Any calibration gives its first camera's intrinsics: here the truth's COLMAP model.
    let out2 = d.path().join("calib2");
    let r = std::process::Command::new(bin)
        .args(["--quiet", "calibrate", "rig", rig.to_str().unwrap()])
        .args(["--layout", "arc", "--out", out2.to_str().unwrap()])
        .arg("--intrinsics")
        .arg(rig.join("truth/colmap"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let cal = timeslice::calib::load_rig(&out2).unwrap();
    assert_eq!(cal.len(), 10);
    assert!(cal
        .iter()
        .all(|c| (c.intrinsics.fx / fx - 1.0).abs() < 1e-9));
    // Something that is no calibration: one line naming the file.
    let bogus = d.path().join("notes.txt");
    std::fs::write(&bogus, "hello\n").unwrap();
    let r = std::process::Command::new(bin)
        .args(["--quiet", "calibrate", "rig", rig.to_str().unwrap()])
        .args(["--out", d.path().join("calib3").to_str().unwrap()])
        .arg("--intrinsics")
        .arg(&bogus)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success() && err.contains("notes.txt"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!d.path().join("calib3").exists());
}

#[test]
fn virtual_cameras_from_a_self_calibration_meet_the_alignment_targets() {
    // The demo's rig: 12 cameras on a 90-degree arc, aimed up to 3 degrees off and rolled up
    // to 2, 1280x720; calibrated from its own views, the subject (the red marker) picked in
    // two cameras. Measured against the truth over every camera and the views halfway
    // between them: focus within 1% of the width, tilt at most 0.2 degrees, size within 2%
    // (measured 2026-11-29: 0.07%, 0.015 degrees, 0.08% in the demo).
    let spec = SampleSpec {
        cameras: 12,
        layout: Layout::Arc,
        arc_degrees: 90.0,
        aim_jitter_degrees: 3.0,
        roll_jitter_degrees: 2.0,
        frames: 1,
        figure: true,
        ..Default::default()
    };
    let sample = SampleRig::new(&spec).unwrap();
    let truth = sample.rig().cameras.clone();
    let images: Vec<_> = truth.iter().map(|c| sample.render_view(c, 0)).collect();
    let views: Vec<RigView> = truth
        .iter()
        .zip(&images)
        .map(|(c, img)| RigView {
            name: c.name.clone(),
            luma: Plane::luma(img),
        })
        .collect();
    let opts = RigOptions {
        layout: Layout::Arc,
        ..Default::default()
    };
    let r = calibrate_rig(&views, &opts, &Silent).unwrap();
    assert_eq!(r.cameras.len(), 12, "unregistered: {:?}", r.unregistered);
    let est: Vec<Camera> = r.cameras.iter().map(|c| c.camera.clone()).collect();
    let picks: Vec<(usize, f64, f64)> = [2, 9]
        .iter()
        .map(|&c| {
            let (x, y, _) = find_marker(&images[c]).expect("the marker");
            (c, x, y)
        })
        .collect();
    let focus = focus_from_pixels(&est, &picks).unwrap();
    let al = Alignment::new(est, Some(focus), 1280, 720).unwrap();
    let orbit: Vec<(usize, usize, f32)> = (0..11)
        .flat_map(|c| [(c, c + 1, 0.0), (c, c + 1, 0.5)])
        .chain([(11, 11, 0.0)])
        .collect();
    let rig = sample.rig();
    let e = alignment_errors(&al, &truth, rig.focus, rig.up, &orbit).unwrap();
    assert!(
        e.offset_max_pct <= 1.0 && e.tilt_max_deg <= 0.2 && e.scale_max_pct <= 2.0,
        "{e:?}"
    );
}

/// Calibrates the sample rig's 12-camera arc at `w`x`h` with the focal unknown; every camera
/// must register. Median relative rotation error (degrees) and mean centre error (%).
fn calibrated_arc_of_12(w: u32, h: u32) -> (f64, f64) {
    let (views, truth) = render(12, Layout::Arc, w, h);
    let opts = RigOptions {
        layout: Layout::Arc,
        ..Default::default()
    };
    let (_, rot, centre) = calibrate_all(&views, &truth, &opts);
    (rot, centre)
}

#[test]
fn arc_of_12_at_1080p() {
    // At 1080p the working copy is 960 px wide, not 640: the descriptor window scales with it
    // (measured 2026-11-29: 0.085 degrees median relative rotation, against 0.32 with a fixed
    // 16 px window). Since matches are localised by a homography fit with a round trip and
    // the final adjustment rejects residuals above a tenth of a pixel: 0.017 degrees (issue
    // 5's target is 0.05).
    let (rot, centre) = calibrated_arc_of_12(1920, 1080);
    assert!(rot < 0.05, "median relative rotation error {rot} deg");
    assert!(centre < 0.5, "centre error {centre} % of the radius");
}

#[test]
fn arc_of_12_at_720p_meets_the_target() {
    // Issue 5's target on the sample rig at 1280x720, focal unknown: every camera, at most
    // 0.05 degrees median relative rotation error and 0.3% of the radius centre error. The
    // 7th camera's resection fails at first (21 points, mostly on the backdrop) and succeeds
    // on the retry; it was once reported unregistered all the same.
    let (rot, centre) = calibrated_arc_of_12(1280, 720);
    assert!(rot < 0.05, "median relative rotation error {rot} deg");
    assert!(centre < 0.3, "centre error {centre} % of the radius");
}

#[test]
fn arc_of_8_over_180_degrees() {
    // Eight cameras 26 degrees apart: few points are seen by three cameras, and those few
    // span little depth. Before, with the focal length unknown, 5 of 8 registered; with it
    // given, 4 of 8: the six-point DLT's resection failed on the nearly affine views (1
    // inlier of 27 where a P3P finds 25), and a resection from such points can be several
    // degrees off where the neighbour pair's matches are not. Measured 2026-11-29 from the
    // command line on the same rig: focal given 8/8, 0.026 degrees, centres 0.021 %; focal
    // unknown 8/8, 0.34 degrees, centres 0.29 %, focal 0.47 % off (the tolerant pass starts
    // from the focal length the strict pass measured).
    let (views, truth) = render(8, Layout::Arc, 1280, 720);
    let opts = RigOptions {
        layout: Layout::Arc,
        focal: Some(truth[0].intrinsics.fx),
        ..Default::default()
    };
    let (_, rot, centre) = calibrate_all(&views, &truth, &opts);
    assert!(rot < 0.05, "median relative rotation error {rot} deg");
    assert!(centre < 0.1, "centre error {centre} % of the radius");
    let opts = RigOptions {
        focal: None,
        ..opts
    };
    let (est, rot, centre) = calibrate_all(&views, &truth, &opts);
    assert_focal_within(&est, &truth, 1.5);
    assert!(rot < 0.8, "median relative rotation error {rot} deg");
    assert!(centre < 1.0, "centre error {centre} % of the radius");
}
