//! Encoding round trips: a colour chart goes through every codec and preset, comes back through
//! the project's own decoder (`media::open`), and every patch must keep its colour. A matrix
//! (BT.601 vs BT.709) or range (full vs limited) mistake on either side moves saturated or
//! dark patches by far more than the tolerances here. The outputs are also probed with the
//! FFmpeg demuxer for the codec, pixel format, size, rate, colour tags and timecode promised.

use ffmpeg_next as ff;
use std::path::{Path, PathBuf};
use timeslice::media::encode::{check_output, ClipWriter, Codec, EncodeSettings};
use timeslice::media::preset::{resolve, OutputOverrides, OutputPreset, SourceFormat};
use timeslice::{Rational, RgbImage};

/// 8 x 6 patches: the 24 ColorChecker colours (sRGB), primaries and secondaries, black, white
/// and a 16-step grey ramp.
fn patches() -> Vec<[u8; 3]> {
    let mut p: Vec<[u8; 3]> = vec![
        [115, 82, 68],
        [194, 150, 130],
        [98, 122, 157],
        [87, 108, 67],
        [133, 128, 177],
        [103, 189, 170],
        [214, 126, 44],
        [80, 91, 166],
        [193, 90, 99],
        [94, 60, 108],
        [157, 188, 64],
        [224, 163, 46],
        [56, 61, 150],
        [70, 148, 73],
        [175, 54, 60],
        [231, 199, 31],
        [187, 86, 149],
        [8, 133, 161],
        [243, 243, 242],
        [200, 200, 200],
        [160, 160, 160],
        [122, 122, 121],
        [85, 85, 85],
        [52, 52, 52],
        // primaries and secondaries, a little inside the gamut so no channel clips
        [220, 20, 20],
        [20, 220, 20],
        [20, 20, 220],
        [20, 220, 220],
        [220, 20, 220],
        [220, 220, 20],
        [0, 0, 0],
        [255, 255, 255],
    ];
    for i in 0..16u32 {
        let v = (8 + i * 239 / 15) as u8;
        p.push([v, v, v]);
    }
    p
}

const COLS: u32 = 8;
const ROWS: u32 = 6;

fn chart(w: u32, h: u32) -> RgbImage {
    let pal = patches();
    let mut img = RgbImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let i = (y * ROWS / h) * COLS + x * COLS / w;
            img.put(x, y, pal[i as usize]);
        }
    }
    img
}

/// Compares each patch's centre (half its size, away from chroma bleeding at the edges).
/// Returns the worst channel error in levels.
fn worst_patch_error(img: &RgbImage) -> (f64, usize, [f64; 3], [u8; 3]) {
    let pal = patches();
    let (cw, ch) = (img.width / COLS, img.height / ROWS);
    let mut worst = (0.0, 0, [0.0; 3], [0; 3]);
    for (i, want) in pal.iter().enumerate() {
        let (cx, cy) = (i as u32 % COLS, i as u32 / COLS);
        let m = img.mean_rgb(cx * cw + cw / 4, cy * ch + ch / 4, cw / 2, ch / 2);
        for k in 0..3 {
            let d = (m[k] - want[k] as f64).abs();
            if d > worst.0 {
                worst = (d, i, m, *want);
            }
        }
    }
    worst
}

fn fps25() -> Rational {
    Rational::new(25, 1)
}

/// Writes `frames` copies of the chart (each pushed once) and returns the output path.
fn write_chart(out: &Path, s: EncodeSettings, frames: u32) -> PathBuf {
    let img = chart(s.width, s.height);
    let mut w = ClipWriter::create(out, s).unwrap();
    for _ in 0..frames {
        w.push(&img, 1).unwrap();
    }
    w.finish().unwrap()
}

fn check_round_trip(path: &Path, tolerance: f64, what: &str) {
    let mut src = timeslice::media::open(path).unwrap();
    let n = src.info().frame_count as i64;
    for f in [0, n - 1] {
        let img = src.frame(f).unwrap();
        let (err, patch, got, want) = worst_patch_error(&img);
        assert!(
            err <= tolerance,
            "{what}: frame {f} patch {patch} is {got:.1?}, want {want:?} (off by {err:.1}, tolerance {tolerance})"
        );
    }
}

fn settings(codec: Codec, w: u32, h: u32) -> EncodeSettings {
    let mut s = EncodeSettings::new(codec, w, h, fps25());
    s.threads = 2;
    s.speed = Some("veryfast".into());
    s
}

#[test]
fn colour_chart_survives_every_codec() {
    let d = tempfile::tempdir().unwrap();
    let (w, h) = (512, 384);
    // Measured: h264 1.0, hevc 1.75, prores 0, jpeg 1.0, gif 0 (48 colours fit a palette).
    let cases: [(Codec, &str, f64); 6] = [
        (Codec::H264, "c.mp4", 2.0),
        (Codec::Hevc, "c.mkv", 2.5),
        (Codec::Prores, "c.mov", 1.0),
        (Codec::Png, "png", 0.0),
        (Codec::Jpeg, "jpeg", 2.0),
        (Codec::Gif, "c.gif", 1.0),
    ];
    for (codec, name, tol) in cases {
        let mut s = settings(codec, w, h);
        if codec == Codec::Hevc || codec == Codec::Prores {
            s.speed = None;
        }
        if codec == Codec::Hevc {
            s.speed = Some("ultrafast".into());
        }
        if !matches!(codec, Codec::H264 | Codec::Hevc) {
            s.speed = None;
        }
        let out = write_chart(&d.path().join(name), s, 3);
        check_round_trip(&out, tol, codec.name());
    }
    // Noise on every patch: thousands of colours, so the GIF palette must quantise and dither,
    // and each patch's mean must still come back.
    let mut noisy = chart(w, h);
    let mut seed = 7u32;
    for v in noisy.data.iter_mut() {
        seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
        *v = (*v as i32 + (seed >> 28) as i32 - 8).clamp(0, 255) as u8;
    }
    let out = d.path().join("noisy.gif");
    let mut gif = ClipWriter::create(&out, settings(Codec::Gif, w, h)).unwrap();
    gif.push(&noisy, 2).unwrap();
    gif.finish().unwrap();
    let back = timeslice::media::open(&out).unwrap().frame(0).unwrap();
    // The clamped noise itself moves black and white by up to 2 levels.
    let (err, patch, got, want) = worst_patch_error(&back);
    assert!(
        err <= 4.0,
        "noisy gif: patch {patch} is {got:.1?}, want {want:?}"
    );

    // FFmpeg 5.1 decodes only still WebP, so the colour check uses a one-frame file (the same
    // encoder and conversion as an animation).
    let out = write_chart(&d.path().join("c.webp"), settings(Codec::Webp, w, h), 1);
    check_round_trip(&out, 2.5, "webp");
}

/// What the demuxer says about the video stream.
#[derive(Debug)]
struct Probe {
    codec: String,
    pixel: String,
    width: u32,
    height: u32,
    fps: (i32, i32),
    range: ff::ffi::AVColorRange,
    space: ff::ffi::AVColorSpace,
    trc: ff::ffi::AVColorTransferCharacteristic,
    profile: i32,
    timecode: Option<String>,
    frames: u64,
}

fn probe(path: &Path) -> Probe {
    let input = ff::format::input(&path).unwrap();
    let st = input.streams().best(ff::media::Type::Video).unwrap();
    let par = st.parameters();
    let p = unsafe { &*par.as_ptr() };
    let pixel = unsafe {
        std::ffi::CStr::from_ptr(ff::ffi::av_get_pix_fmt_name(std::mem::transmute::<
            i32,
            ff::ffi::AVPixelFormat,
        >(p.format)))
        .to_string_lossy()
        .to_string()
    };
    let info = timeslice::media::probe(path).unwrap();
    Probe {
        codec: ff::codec::Id::from(p.codec_id).name().to_string(),
        pixel,
        width: p.width as u32,
        height: p.height as u32,
        fps: (
            st.avg_frame_rate().numerator(),
            st.avg_frame_rate().denominator(),
        ),
        range: p.color_range,
        space: p.color_space,
        trc: p.color_trc,
        profile: p.profile,
        timecode: info.timecode,
        frames: info.frame_count,
    }
}

#[test]
fn web_preset_is_h264_high_yuv420p_bt709_limited() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("web.mp4");
    let src = SourceFormat {
        width: 513,
        height: 385,
        fps: Rational::new(30000, 1001),
    };
    let o = OutputOverrides {
        speed: Some("veryfast".into()),
        ..Default::default()
    };
    let s = resolve(Some(OutputPreset::Web), &o, src, &out).unwrap();
    write_chart(&out, s, 4);
    let p = probe(&out);
    assert_eq!(
        (p.codec.as_str(), p.pixel.as_str()),
        ("h264", "yuv420p"),
        "{p:?}"
    );
    assert_eq!(
        (p.width, p.height, p.fps, p.frames),
        (512, 384, (30000, 1001), 4)
    );
    assert_eq!(p.profile, 100, "High profile");
    assert_eq!(p.range, ff::ffi::AVColorRange::AVCOL_RANGE_MPEG);
    assert_eq!(p.space, ff::ffi::AVColorSpace::AVCOL_SPC_BT709);
    assert_eq!(
        p.trc,
        ff::ffi::AVColorTransferCharacteristic::AVCOL_TRC_BT709
    );
    check_round_trip(&out, 2.0, "web preset");
    // faststart: the index (moov) comes before the media data (mdat).
    let bytes = std::fs::read(&out).unwrap();
    let at = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(at(b"moov") < at(b"mdat"), "moov after mdat: no faststart");
}

#[test]
fn social_preset_is_vertical() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("social.mp4");
    let src = SourceFormat {
        width: 1920,
        height: 1080,
        fps: Rational::new(25, 1),
    };
    let o = OutputOverrides {
        speed: Some("ultrafast".into()),
        ..Default::default()
    };
    let s = resolve(Some(OutputPreset::Social), &o, src, &out).unwrap();
    write_chart(&out, s, 2);
    let p = probe(&out);
    assert_eq!(
        (p.codec.as_str(), p.pixel.as_str()),
        ("h264", "yuv420p"),
        "{p:?}"
    );
    assert_eq!((p.width, p.height, p.fps), (1080, 1920, (25, 1)));
}

#[test]
fn broadcast_preset_is_prores_hq_with_timecode() {
    let d = tempfile::tempdir().unwrap();
    let src = SourceFormat {
        width: 1280,
        height: 720,
        fps: Rational::new(60000, 1001),
    };
    let out = d.path().join("air.mov");
    let s = resolve(
        Some(OutputPreset::Broadcast),
        &OutputOverrides::default(),
        src,
        &out,
    )
    .unwrap();
    write_chart(&out, s, 2);
    let p = probe(&out);
    assert_eq!(
        (p.codec.as_str(), p.pixel.as_str()),
        ("prores", "yuv422p10le"),
        "{p:?}"
    );
    assert_eq!((p.width, p.height, p.fps), (1920, 1080, (60000, 1001)));
    assert_eq!(p.profile, 3, "ProRes 422 HQ");
    assert_eq!(p.range, ff::ffi::AVColorRange::AVCOL_RANGE_MPEG);
    assert_eq!(p.space, ff::ffi::AVColorSpace::AVCOL_SPC_BT709);
    assert_eq!(p.timecode.as_deref(), Some("00:00:00;00"));
    check_round_trip(&out, 1.0, "broadcast preset");

    // An explicit timecode and rate; the source rate is not a broadcast one.
    let out = d.path().join("air25.mov");
    let src = SourceFormat {
        fps: Rational::new(24, 1),
        ..src
    };
    let o = OutputOverrides {
        timecode: Some("10:00:00:12".into()),
        ..Default::default()
    };
    let s = resolve(Some(OutputPreset::Broadcast), &o, src, &out).unwrap();
    write_chart(&out, s, 1);
    let p = probe(&out);
    assert_eq!(p.fps, (25, 1));
    assert_eq!(p.timecode.as_deref(), Some("10:00:00:12"));
}

#[test]
fn bitrate_mode_hits_its_target() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("rate.mp4");
    let src = SourceFormat {
        width: 320,
        height: 240,
        fps: Rational::new(25, 1),
    };
    let o = OutputOverrides {
        bitrate: Some(400_000),
        speed: Some("veryfast".into()),
        ..Default::default()
    };
    let s = resolve(None, &o, src, &out).unwrap();
    assert_eq!((s.crf, s.bitrate), (None, Some(400_000)));
    // Noise, so the encoder has to spend its budget.
    let mut w = ClipWriter::create(&out, s).unwrap();
    let mut seed = 1u32;
    for _ in 0..25 {
        let mut img = RgbImage::new(320, 240);
        for v in img.data.iter_mut() {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            *v = (seed >> 24) as u8;
        }
        w.push(&img, 1).unwrap();
    }
    w.finish().unwrap();
    // One second of video: the file size is the bitrate, give or take the rate control.
    let bits = std::fs::metadata(&out).unwrap().len() * 8;
    assert!(
        (200_000..800_000).contains(&bits),
        "{bits} bits for a 400 kbit/s second"
    );
}

#[test]
fn animated_gif_and_webp() {
    let d = tempfile::tempdir().unwrap();
    let frames: Vec<RgbImage> = (0..3)
        .map(|i| {
            let mut img = chart(128, 96);
            // A moving white bar makes each frame different.
            for y in 0..96 {
                for x in i * 30..i * 30 + 10 {
                    img.put(x, y, [255, 255, 255]);
                }
            }
            img
        })
        .collect();
    for name in ["a.gif", "a.webp"] {
        let out = d.path().join(name);
        let codec = Codec::from_path(&out);
        let mut w = ClipWriter::create(&out, settings(codec, 128, 96)).unwrap();
        for (i, f) in frames.iter().enumerate() {
            w.push(f, if i == 1 { 3 } else { 1 }).unwrap();
        }
        assert_eq!(w.frames(), 5);
        w.finish().unwrap();
        let bytes = std::fs::read(&out).unwrap();
        if codec == Codec::Gif {
            assert_eq!(&bytes[..6], b"GIF89a");
            let p = probe(&out);
            assert_eq!((p.width, p.height), (128, 96));
            // Three pictures; the held one lasts three frames: delays 4, 12, 4 cs at 25 fps
            // (Graphic Control Extensions: 21 F9 04 flags delay-lo delay-hi).
            let delays: Vec<u16> = bytes
                .windows(6)
                .filter(|w| w[..3] == [0x21, 0xf9, 0x04])
                .map(|w| u16::from_le_bytes([w[4], w[5]]))
                .collect();
            assert_eq!(delays, [4, 12, 4]);
            let mut src = timeslice::media::open(&out).unwrap();
            assert_eq!(src.info().frame_count, 3);
            // (The decoder indexes a variable-rate GIF by time at a guessed rate, so only the
            // first picture is checked by content.)
            let img = src.frame(0).unwrap();
            assert!(img.pixel(5, 48).iter().all(|&v| v > 235));
            assert!(img.pixel(65, 48) != [255, 255, 255]);
        } else {
            // RIFF WEBP with an ANIM chunk, one ANMF per distinct picture, looping forever.
            assert_eq!((&bytes[..4], &bytes[8..12]), (&b"RIFF"[..], &b"WEBP"[..]));
            let count = |tag: &[u8]| bytes.windows(4).filter(|w| *w == tag).count();
            assert_eq!(count(b"ANIM"), 1);
            assert!(count(b"ANMF") >= 3, "{} frames", count(b"ANMF"));
            let anim = bytes.windows(4).position(|w| w == b"ANIM").unwrap();
            assert_eq!(
                &bytes[anim + 12..anim + 14],
                &[0, 0],
                "loop count 0 (forever)"
            );
            // Frame durations (24 bits at offset 12 of each ANMF payload) add up to 5 frames.
            let mut total_ms = 0;
            let mut i = 12;
            while i + 8 <= bytes.len() {
                let n = u32::from_le_bytes(bytes[i + 4..i + 8].try_into().unwrap()) as usize;
                if &bytes[i..i + 4] == b"ANMF" {
                    let p = &bytes[i + 8 + 12..i + 8 + 15];
                    total_ms += p[0] as u32 | (p[1] as u32) << 8 | (p[2] as u32) << 16;
                }
                i += 8 + n + (n & 1);
            }
            assert_eq!(total_ms, 200);
        }
    }
}

#[test]
fn bad_combinations_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    let check = |s: EncodeSettings, out: &str, want: &str| {
        let e = check_output(&d.path().join(out), &s).unwrap_err();
        assert!(e.is_usage(), "{e}");
        assert!(e.to_string().contains(want), "'{e}' should say '{want}'");
    };
    let mut s = settings(Codec::Prores, 64, 64);
    s.crf = Some(18);
    check(s, "a.mov", "--crf applies to h264 and hevc, not prores");
    let mut s = settings(Codec::Png, 64, 64);
    s.bitrate = Some(5_000_000);
    check(s, "frames", "--bitrate applies to h264 and hevc, not png");
    let mut s = settings(Codec::Gif, 64, 64);
    s.bitrate = Some(5_000_000);
    check(s, "a.gif", "--bitrate applies to h264 and hevc, not gif");
    let mut s = settings(Codec::H264, 64, 64);
    s.quality = Some(80);
    check(s, "a.mp4", "--quality applies to jpeg and webp");
    let mut s = settings(Codec::H264, 64, 64);
    s.pixel_format = Some(ff::format::Pixel::YUV422P10LE);
    check(s, "a.mp4", "not available for h264");
    let mut s = settings(Codec::Prores, 64, 64);
    s.timecode = Some("25:00:00:00".into());
    check(s, "a.mov", "out of range");
    check(
        settings(Codec::Webp, 64, 64),
        "a.gif",
        "name the output .webp",
    );
    check(settings(Codec::Jpeg, 64, 64), "a.jpg", "folder");
    let e = resolve(
        Some(OutputPreset::Broadcast),
        &OutputOverrides::default(),
        SourceFormat {
            width: 64,
            height: 64,
            fps: fps25(),
        },
        Path::new("out/clip.mp4"),
    )
    .unwrap_err();
    assert!(e.is_usage());
    assert!(e.to_string().starts_with("out/clip.mp4:"), "{e}");
    // Nothing was created for a refused output.
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
}

#[test]
fn timecode_in_mp4_and_mov() {
    let d = tempfile::tempdir().unwrap();
    for (name, codec) in [("t.mp4", Codec::H264), ("t.mov", Codec::Hevc)] {
        let out = d.path().join(name);
        let mut s = settings(codec, 64, 64);
        s.speed = Some("ultrafast".into());
        s.timecode = Some("01:02:03:04".into());
        write_chart(&out, s, 2);
        assert_eq!(
            probe(&out).timecode.as_deref(),
            Some("01:02:03:04"),
            "{name}"
        );
    }
}

#[test]
fn lossless_h264_keeps_its_profile_choice() {
    // CRF 0 needs High 4:4:4 Predictive; the default High profile must not be forced on it.
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("lossless.mp4");
    let mut s = settings(Codec::H264, 128, 96);
    s.crf = Some(0);
    write_chart(&out, s, 1);
    assert_eq!(probe(&out).profile, 244);
}
