//! Clip modes end to end: replay, slice, camera ranges, skipped cameras, bounce and loop,
//! and the schedule `render --plan-only --json` prints, on pattern footage whose every frame
//! says which camera and frame it is.

mod common;

use common::{listing, read_pattern, run, write_rig};
use std::path::Path;
use timeslice::media;

fn decode_clip(path: &Path) -> Vec<(u32, u32)> {
    let mut src = media::open(path).unwrap();
    let n = src.info().frame_count as i64;
    (0..n)
        .map(|i| read_pattern(&src.frame(i).unwrap()))
        .collect()
}

/// A 4-camera rig of 30 frames at 10 fps.
fn rig(d: &Path) -> String {
    let rig = d.join("rig");
    std::fs::create_dir(&rig).unwrap();
    write_rig(&rig, 4, 30);
    rig.to_str().unwrap().to_string()
}

#[test]
fn replay_plays_live_then_orbits_frozen_then_plays_on() {
    let d = tempfile::tempdir().unwrap();
    let rig = rig(d.path());
    let out = d.path().join("replay.mp4");
    let r = run(&[
        "render",
        &rig,
        "--mode",
        "replay",
        "--from",
        "0.5",
        "--orbit-at",
        "1.0",
        "--to",
        "1.5",
        "--interp",
        "0",
        "--fps",
        "10",
        "--duration",
        "0.8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Camera 0 live over frames 5..9, the orbit frozen at frame 10 (4 cameras, 2 frames
    // each), then the last camera live over frames 11..15.
    let mut want: Vec<(u32, u32)> = (5..10).map(|f| (0, f)).collect();
    want.extend((0..8).map(|i| (i / 2, 10)));
    want.extend((11..16).map(|f| (3, f)));
    assert_eq!(decode_clip(&out), want);
}

#[test]
fn slice_runs_time_while_the_view_moves() {
    let d = tempfile::tempdir().unwrap();
    let rig = rig(d.path());
    let out = d.path().join("slice.mp4");
    let r = run(&[
        "render",
        &rig,
        "--mode",
        "slice",
        "--at",
        "0.5",
        "--rate",
        "1",
        "--interp",
        "0",
        "--fps",
        "10",
        "--duration",
        "0.8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let want: Vec<(u32, u32)> = (0..8).map(|i| (i / 2, 5 + i)).collect();
    assert_eq!(decode_clip(&out), want);
}

#[test]
fn reversed_range_with_a_skipped_camera_and_bounce() {
    let d = tempfile::tempdir().unwrap();
    let rig = rig(d.path());
    let out = d.path().join("bounce.mp4");
    // Cameras 4 down to 1 without camera 2 (cam2), there and back: 4 3 1 3 (looped).
    let r = run(&[
        "render",
        &rig,
        "--at",
        "1.0",
        "--cameras",
        "4..1",
        "--skip-camera",
        "cam2",
        "--bounce",
        "--loop",
        "--interp",
        "0",
        "--fps",
        "10",
        "--duration",
        "0.8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let want: Vec<(u32, u32)> = [3, 3, 2, 2, 0, 0, 2, 2].iter().map(|&c| (c, 10)).collect();
    assert_eq!(decode_clip(&out), want);
}

#[test]
fn plan_only_prints_the_schedule_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let rig = rig(d.path());
    // A ring: the full orbit wraps from the last camera back to the first.
    std::fs::write(
        Path::new(&rig).join("timeslice.toml"),
        "layout = \"ring\"\n[[camera]]\nname = \"a\"\nsource = \"cam1.mp4\"\n[[camera]]\nname = \"b\"\nsource = \"cam2.mp4\"\n[[camera]]\nname = \"c\"\nsource = \"cam3.mp4\"\n[[camera]]\nname = \"d\"\nsource = \"cam4.mp4\"\n",
    )
    .unwrap();
    let r = run(&[
        "render",
        &rig,
        "--at",
        "1.0",
        "--speed",
        "90",
        "--fps",
        "10",
        "--plan-only",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["fps"], "10");
    assert_eq!(v["cameras"], serde_json::json!(["a", "b", "c", "d"]));
    let frames = v["frames"].as_array().unwrap();
    // 360 degrees at 90 deg/s and 10 fps: 40 frames, 9 degrees apart, none repeating the start.
    assert_eq!(frames.len(), 40);
    for (i, f) in frames.iter().enumerate() {
        assert!((f["angle"].as_f64().unwrap() - 9.0 * i as f64).abs() < 1e-9);
        assert_eq!(f["time"].as_f64().unwrap(), 0.0);
    }
    let last = &frames[39];
    // Cameras by name, as the command line names them.
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str()),
        (Some("d"), Some("a"))
    );
    assert!((last["t"].as_f64().unwrap() - 0.9).abs() < 1e-6);
    assert_eq!(
        listing(Path::new(&rig)).len(),
        5,
        "plan-only wrote something"
    );
}

#[test]
fn bad_combinations_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    let rig = rig(d.path());
    let out = d.path().join("x.mp4");
    let o = out.to_str().unwrap();
    for (args, says) in [
        (vec!["--mode", "slice", "--at", "1"], "--rate"),
        (
            vec!["--mode", "replay", "--orbit-at", "1", "--to", "2"],
            "--from",
        ),
        (
            vec![
                "--mode",
                "replay",
                "--from",
                "1.5",
                "--orbit-at",
                "1",
                "--to",
                "2",
            ],
            "--from <= --orbit-at <= --to",
        ),
        (vec!["--at", "1", "--rate", "0.5"], "--rate is not used"),
        (vec!["--at", "1", "--loop"], "--bounce"),
        (
            vec!["--at", "1", "--cameras", "1..9"],
            "cam1, cam2, cam3, cam4",
        ),
        (vec!["--at", "1", "--cameras", "1-3"], "A..B"),
        (vec!["--at", "1", "--skip-camera", "1"], "end of the orbit"),
        (vec!["--at", "1", "--speed", "30"], "arc_degrees"),
        (vec!["--at", "1", "--ease", "wobbly"], "in-out"),
    ] {
        let mut all = vec!["render", rig.as_str()];
        all.extend(&args);
        all.extend(["--out", o]);
        let r = run(&all);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert!(!out.exists(), "{args:?} left output");
    }
}

#[test]
fn output_presets_through_render() {
    let d = tempfile::tempdir().unwrap();
    let rig = rig(d.path());
    let mov = d.path().join("air.mov");
    let r = run(&[
        "render",
        &rig,
        "--at",
        "1.0",
        "--interp",
        "0",
        "--duration",
        "0.4",
        "--preset",
        "broadcast",
        "--out",
        mov.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let src = media::open(&mov).unwrap();
    let info = src.info();
    assert_eq!(info.codec, "prores");
    assert_eq!((info.width, info.height), (1920, 1080));
    // The rig runs at 10 fps, not a broadcast rate: the preset falls back to 25.
    assert_eq!(info.fps, Some(timeslice::Rational::new(25, 1)));
    assert_eq!(info.frame_count, 10);
    let bad = d.path().join("air.mp4");
    let r = run(&[
        "render",
        &rig,
        "--at",
        "1.0",
        "--preset",
        "broadcast",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(".mov") && !bad.exists(), "{}", r.stderr);
}
