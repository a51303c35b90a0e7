//! Alignment end to end: a rig of deliberately mis-aimed and rolled cameras, rendered with its
//! calibration, keeps the red marker (which sits at the focus point) at the frame centre and
//! at one size in every output frame. The cameras' own frames are checked (`--interp 0`):
//! synthesized views go through the same map, but at these sizes and spacings the synthesis
//! itself still smears the small marker (issue 4), which would hide what is measured here.

mod common;

use common::run;
use std::path::Path;
use timeslice::media;
use timeslice::synth::find_marker as marker;

fn check_rig(dir: &Path, layout: &[&str]) {
    check_rig_with(dir, layout, None);
}

/// Renders the rig's camera frames aligned either with its calibration (`pick` None) or with
/// the 2D fallback from the marker picked in camera 1 (`pick` Some), and checks the marker.
fn check_rig_with(dir: &Path, layout: &[&str], pick: Option<()>) {
    let rig = dir.join("rig");
    let mut args = vec![
        "samples",
        "--out",
        rig.to_str().unwrap(),
        "--cameras",
        "8",
        "--size",
        "480x270",
        "--frames",
        "3",
        "--aim-jitter",
        "4",
        "--roll-jitter",
        "3",
    ];
    args.extend(layout);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.join("clip.mp4");
    let colmap = rig.join("truth").join("colmap");
    let align: Vec<String> = match pick {
        None => vec![
            "--calibration".into(),
            colmap.to_str().unwrap().into(),
            "--focus".into(),
            "0,0,1".into(),
        ],
        Some(()) => {
            // The user's pick: the marker in camera 1 (found here by its colour).
            let mut src = media::open(&rig.join("cam01.mp4")).unwrap();
            let (x, y, _) = marker(&src.frame(1).unwrap()).unwrap();
            vec!["--focus-px".into(), format!("cam01:{x:.2},{y:.2}")]
        }
    };
    let mut args: Vec<&str> = vec!["render", rig.to_str().unwrap(), "--at", "frame:1"];
    args.extend(align.iter().map(|s| s.as_str()));
    let r = run(&[
        &args[..],
        &[
            "--fps",
            "10",
            "--duration",
            "1.6",
            "--interp",
            "0",
            "--crf",
            "12",
            "--out",
            out.to_str().unwrap(),
        ],
    ]
    .concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut src = media::open(&out).unwrap();
    let n = src.info().frame_count as i64;
    assert_eq!(n, 16);
    let mut areas = Vec::new();
    for i in 0..n {
        let img = src.frame(i).unwrap();
        let (x, y, area) = marker(&img).unwrap_or_else(|| panic!("frame {i}: no marker"));
        let (cx, cy) = (
            (img.width as f64 - 1.0) / 2.0,
            (img.height as f64 - 1.0) / 2.0,
        );
        let off = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        // Target: within 1% of the frame width of the centre.
        assert!(
            off <= 0.01 * img.width as f64,
            "frame {i}: marker at ({x:.1}, {y:.1}), {off:.2} px from the centre"
        );
        areas.push(area);
    }
    // One size throughout (pixel counts of a small disc vary a little with its sub-pixel
    // position and the synthesis).
    let mean = areas.iter().sum::<f64>() / areas.len() as f64;
    for (i, a) in areas.iter().enumerate() {
        assert!(
            (a / mean - 1.0).abs() < 0.2,
            "frame {i}: marker area {a} vs mean {mean}"
        );
    }
}

#[test]
fn mis_aimed_ring_keeps_the_marker_centred() {
    let d = tempfile::tempdir().unwrap();
    check_rig(d.path(), &["--layout", "ring"]);
}

#[test]
fn mis_aimed_arc_keeps_the_marker_centred() {
    let d = tempfile::tempdir().unwrap();
    check_rig(d.path(), &["--layout", "arc", "--arc-degrees", "120"]);
}

#[test]
fn without_a_calibration_the_picked_subject_is_chained_round_the_rig() {
    let d = tempfile::tempdir().unwrap();
    check_rig_with(
        d.path(),
        &["--layout", "arc", "--arc-degrees", "120"],
        Some(()),
    );
}

#[test]
fn focus_options_need_a_calibration() {
    let d = tempfile::tempdir().unwrap();
    let rig = d.path().join("rig");
    let r = run(&[
        "samples",
        "--out",
        rig.to_str().unwrap(),
        "--cameras",
        "3",
        "--size",
        "64x36",
        "--frames",
        "2",
        "--stills",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = d.path().join("x.mp4");
    let r = run(&[
        "render",
        rig.to_str().unwrap(),
        "--at",
        "0",
        "--focus",
        "0,0,1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--calibration") && !out.exists(),
        "{}",
        r.stderr
    );
    let r = run(&[
        "render",
        rig.to_str().unwrap(),
        "--at",
        "0",
        "--calibration",
        d.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("COLMAP") && !out.exists(), "{}", r.stderr);
}
