//! Frame-accurate random access: every requested frame index (and time) decodes to the frame
//! that carries that index, for files with B-frames, open GOPs, no frame count, NTSC rates.

mod common;

use common::{pattern, read_pattern, write_video};
use timeslice::media::{self, FrameSource};
use timeslice::{Rational, TimeSpec};

/// Deterministic pseudo-random indices (an LCG), so failures reproduce.
fn indices(n: u32, count: usize, seed: u64) -> Vec<i64> {
    let mut x = seed;
    (0..count)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % n as u64) as i64
        })
        .collect()
}

fn check_random_access(src: &mut dyn FrameSource, frames: u32, camera: u32) {
    let mut order = indices(frames, 40, 7);
    // Also the edges, backwards runs and sequential reads.
    order.extend([0, frames as i64 - 1, 0, 5, 4, 3, 2, 1, 10, 11, 12, 13]);
    for n in order {
        let img = src.frame(n).unwrap();
        assert_eq!(
            read_pattern(&img),
            (camera, n as u32),
            "asked for frame {n}"
        );
    }
}

#[test]
fn b_frames_closed_gop() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("b.mp4");
    write_video(&p, 3, 60, Rational::new(25, 1), (160, 120), |s| {
        s.gop = Some(12);
        s.options
            .push(("x264-params".into(), "bframes=3:b-pyramid=normal".into()));
    });
    let mut src = media::open(&p).unwrap();
    assert_eq!(src.info().frame_count, 60);
    check_random_access(src.as_mut(), 60, 3);
}

#[test]
fn b_frames_open_gop() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("open.mp4");
    write_video(&p, 5, 72, Rational::new(30, 1), (160, 120), |s| {
        s.options.push((
            "x264-params".into(),
            "open-gop=1:keyint=10:min-keyint=10:bframes=3:scenecut=0".into(),
        ));
    });
    let mut src = media::open(&p).unwrap();
    check_random_access(src.as_mut(), 72, 5);
}

#[test]
fn matroska_without_frame_count_and_ntsc_rate() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("ntsc.mkv");
    let fps = Rational::new(30000, 1001);
    write_video(&p, 2, 45, fps, (160, 120), |s| s.gop = Some(15));
    let mut src = media::open(&p).unwrap();
    assert_eq!(src.info().frame_count, 45);
    assert_eq!(src.info().fps, Some(fps));
    check_random_access(src.as_mut(), 45, 2);
}

#[test]
fn times_decode_to_the_frame_showing_at_that_time() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("t.mp4");
    let fps = Rational::new(30000, 1001);
    write_video(&p, 1, 40, fps, (160, 120), |s| s.gop = Some(8));
    let mut src = media::open(&p).unwrap();
    // 1.0 s at 29.97 fps shows frame 29 (frame 30 starts at 1.001 s).
    for (t, want) in [
        ("1.0", 29),
        ("1.001", 30),
        ("00:00:00.500", 14),
        ("frame:33", 33),
        ("00:00:01:02", 32),
    ] {
        let n = t.parse::<TimeSpec>().unwrap().to_frame(fps, None).unwrap();
        assert_eq!(n, want, "{t}");
        assert_eq!(
            read_pattern(&src.frame(n).unwrap()),
            (1, want as u32),
            "{t}"
        );
    }
}

#[test]
fn out_of_range_frames_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("r.mp4");
    write_video(&p, 0, 10, Rational::new(10, 1), (160, 120), |_| {});
    let mut src = media::open(&p).unwrap();
    let e = src.frame(10).unwrap_err().to_string();
    assert!(e.contains("r.mp4") && e.contains("outside"), "{e}");
    assert!(src.frame(-1).is_err());
}

#[test]
fn stills_and_image_folders() {
    let d = tempfile::tempdir().unwrap();
    let still = d.path().join("one.png");
    pattern(64, 48, 9, 0).to_image().save(&still).unwrap();
    let mut s = media::open(&still).unwrap();
    assert_eq!(
        read_pattern(&s.frame(17).unwrap()),
        (9, 0),
        "a still is the same at every time"
    );

    let seq = d.path().join("seq");
    std::fs::create_dir(&seq).unwrap();
    for f in [0u32, 1, 2, 10] {
        // Natural order: img2 before img10.
        pattern(64, 48, 4, f)
            .to_image()
            .save(seq.join(format!("img{f}.png")))
            .unwrap();
    }
    let mut s = media::open(&seq).unwrap();
    assert_eq!(s.info().frame_count, 4);
    assert_eq!(read_pattern(&s.frame(3).unwrap()), (4, 10));
    assert_eq!(read_pattern(&s.frame(2).unwrap()), (4, 2));
}

/// Encodes pattern frames with the ffmpeg command line (codecs we do not write ourselves).
fn ffmpeg_encode(
    dir: &std::path::Path,
    name: &str,
    frames: u32,
    args: &[&str],
) -> std::path::PathBuf {
    let pngs = dir.join(format!("{name}_png"));
    std::fs::create_dir_all(&pngs).unwrap();
    for f in 0..frames {
        pattern(160, 128, 6, f)
            .to_image()
            .save(pngs.join(format!("{f:04}.png")))
            .unwrap();
    }
    let out = dir.join(name);
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-framerate", "25", "-i"])
        .arg(pngs.join("%04d.png"))
        .args(args)
        .arg(&out)
        .status()
        .expect("the ffmpeg command line is installed by scripts/install-deps.sh");
    assert!(status.success(), "ffmpeg failed for {name}");
    out
}

#[test]
fn vp9_mjpeg_hevc_prores_decode_frame_accurately() {
    let d = tempfile::tempdir().unwrap();
    let files = [
        ffmpeg_encode(
            d.path(),
            "vp9.mkv",
            40,
            &[
                "-c:v",
                "libvpx-vp9",
                "-g",
                "8",
                "-deadline",
                "realtime",
                "-b:v",
                "1M",
            ],
        ),
        ffmpeg_encode(
            d.path(),
            "mjpeg.mov",
            40,
            &["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"],
        ),
        ffmpeg_encode(
            d.path(),
            "hevc.mp4",
            40,
            &[
                "-c:v",
                "libx265",
                "-x265-params",
                "log-level=error:keyint=8:bframes=4",
                "-pix_fmt",
                "yuv420p",
            ],
        ),
        ffmpeg_encode(
            d.path(),
            "prores.mov",
            40,
            &["-c:v", "prores_ks", "-profile:v", "3"],
        ),
    ];
    for (f, codec) in files.iter().zip(["vp9", "mjpeg", "hevc", "prores"]) {
        let mut src = media::open(f).unwrap();
        assert_eq!(src.info().codec, codec);
        assert_eq!(src.info().frame_count, 40, "{codec}");
        check_random_access(src.as_mut(), 40, 6);
    }
}
