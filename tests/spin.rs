//! Product spins (issue 20): the schedule's exact shots, the synthesized angles against the
//! turntable sample's truth, the package and the command's refusals.

mod common;

use common::{listing, run};
use timeslice::eval::psnr;
use timeslice::flow::{FlowParams, Preset};
use timeslice::progress::Silent;
use timeslice::spin::{schedule, synthesize, Turn};
use timeslice::synth::{SampleRig, SampleSpec};
use timeslice::RgbImage;

fn turntable(cameras: usize, w: u32, h: u32) -> Vec<RgbImage> {
    let rig = SampleRig::new(&SampleSpec {
        cameras,
        width: w,
        height: h,
        frames: 1,
        turntable: true,
        ..SampleSpec::default()
    })
    .unwrap();
    (0..cameras)
        .map(|i| rig.camera_renderer(i).frame(0))
        .collect()
}

#[test]
fn synthesized_angles_of_a_turntable_match_its_truth() {
    // 24 shots (15 degrees apart) spun to 48 frames; the truth is the same turntable shot 48
    // times, whose even shots are the 24 shots exactly.
    let shots = turntable(24, 320, 240);
    let truth = turntable(48, 320, 240);
    let angles = schedule(24, 48, Turn::Full).unwrap();
    let frames = synthesize(
        &shots,
        &angles,
        &FlowParams::preset(Preset::Balanced),
        &Silent,
    )
    .unwrap();
    let mut synth_db = Vec::new();
    let mut nearest_db = Vec::new();
    for (k, f) in frames.iter().enumerate() {
        if k % 2 == 0 {
            assert!(
                *f == shots[k / 2] && *f == truth[k],
                "frame {k} is shot {}",
                k / 2
            );
            continue;
        }
        synth_db.push(psnr(f, &truth[k]));
        nearest_db.push(psnr(&shots[k / 2], &truth[k]));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (s, n) = (mean(&synth_db), mean(&nearest_db));
    eprintln!("synthesized {s:.2} dB, nearest shot {n:.2} dB: {synth_db:.1?}");
    assert!(s > n + 3.0, "synthesized {s:.2} dB, nearest shot {n:.2} dB");
    assert!(
        synth_db.iter().all(|&d| d > 24.0),
        "every synthesized angle above 24 dB: {synth_db:.1?}"
    );
}

#[test]
fn spin_package_keeps_the_shots_and_serves_a_viewer() {
    let d = tempfile::tempdir().unwrap();
    let shoe = d.path().join("shoe");
    let s = shoe.to_str().unwrap();
    let r = run(&[
        "samples",
        "--turntable",
        "--out",
        s,
        "--cameras",
        "8",
        "--size",
        "192x144",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pkg = d.path().join("pkg");
    let p = pkg.to_str().unwrap();
    let r = run(&[
        "spin",
        s,
        "--out",
        p,
        "--frames",
        "24",
        "--keep-framing",
        "--format",
        "png",
        "--sizes",
        "96,1000",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r
        .stdout
        .contains("24 frames (16 synthesized) from 8 shots, a full turn"));
    assert_eq!(
        listing(&pkg),
        [
            "frames",
            "index.html",
            "poster.jpg",
            "spin.gif",
            "spin.json",
            "spin.mp4",
            "spin.webp",
            "sprite.jpg",
            "sprite.json",
            "viewer.js"
        ]
    );
    assert_eq!(listing(&pkg.join("frames")), ["192", "96"]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pkg.join("spin.json")).unwrap()).unwrap();
    let frames = json["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 24);
    assert_eq!(json["full_turn"], true);
    assert_eq!(json["sizes"], serde_json::json!([192, 96]));
    for (k, f) in frames.iter().enumerate() {
        assert!((f["angle"].as_f64().unwrap() - 15.0 * k as f64).abs() < 1e-9);
        let file = pkg.join(f["file"].as_str().unwrap());
        let img = image::open(&file).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (192, 144));
        if k % 3 == 0 {
            // Frame 3i is shot i unchanged, named as the shot.
            let name = format!("shot{:02}.png", k / 3 + 1);
            assert_eq!(f["shot"], serde_json::json!(name));
            let shot = image::open(shoe.join(&name)).unwrap().to_rgb8();
            assert!(img == shot, "frame {k} is {name}");
        } else {
            assert!(f["shot"].is_null());
        }
        let small = image::open(pkg.join("frames/96").join(file.file_name().unwrap())).unwrap();
        assert_eq!((small.width(), small.height()), (96, 72));
    }
    let sprite: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pkg.join("sprite.json")).unwrap()).unwrap();
    assert_eq!(
        (sprite["columns"].as_u64(), sprite["rows"].as_u64()),
        (Some(5), Some(5))
    );
    let sheet = image::open(pkg.join("sprite.jpg")).unwrap();
    assert_eq!((sheet.width(), sheet.height()), (5 * 96, 5 * 72));
    // The loop video: every frame once, even-sized at the full width.
    let video = timeslice::media::open(&pkg.join("spin.mp4")).unwrap();
    let info = video.info();
    assert_eq!((info.width, info.height, info.frame_count), (192, 144, 24));
    let html = std::fs::read_to_string(pkg.join("index.html")).unwrap();
    assert!(html.contains(r#"data-count="24""#) && html.contains("viewer.js"));
    assert!(!html.contains("http:") && !html.contains("https:"));
    let js = std::fs::read_to_string(pkg.join("viewer.js")).unwrap();
    assert!(js.contains("pointerdown") && js.contains("keydown") && js.contains("wheel"));

    // A package is never written over: the same --out again is refused, and kept whole.
    let r = run(&["spin", s, "--out", p, "--keep-framing"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
    assert_eq!(listing(&pkg.join("frames")), ["192", "96"]);
}

#[test]
fn spin_frames_the_product_and_finds_the_turn() {
    let d = tempfile::tempdir().unwrap();
    let shoe = d.path().join("shoe");
    let r = run(&[
        "samples",
        "--turntable",
        "--out",
        shoe.to_str().unwrap(),
        "--cameras",
        "24",
        "--size",
        "320x240",
        "--seed",
        "3",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The shots alone, without the project file's layout: the turn is found from them.
    let loose = d.path().join("loose");
    std::fs::create_dir(&loose).unwrap();
    for i in 1..=24 {
        let name = format!("shot{i:02}.png");
        std::fs::copy(shoe.join(&name), loose.join(&name)).unwrap();
    }
    let pkg = d.path().join("pkg");
    let r = run(&[
        "spin",
        loose.to_str().unwrap(),
        "--out",
        pkg.to_str().unwrap(),
        "--size",
        "200x200",
        "--no-animations",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("a full turn"), "{}", r.stdout);
    assert!(!r.stderr.contains("arc"), "{}", r.stderr);
    // Framed round the product: square, backdrop all round the border.
    let f0 = image::open(pkg.join("frames/200/frame_000.jpg"))
        .unwrap()
        .to_rgb8();
    assert_eq!(f0.dimensions(), (200, 200));
    for (x, y) in (0..200).flat_map(|i| [(i, 0), (i, 199), (0, i), (199, i)]) {
        let p = f0.get_pixel(x, y).0;
        assert!(
            p.iter().all(|&c| c > 200),
            "border pixel ({x}, {y}) is {p:?}"
        );
    }
    // The first half of the turn, said to be an arc of 180 degrees. (Found from the shots
    // alone, an arc is told from a full turn only where the product's texture is clear:
    // 480x360 shots of seeds 1, 2 and 5 were; this 320x240 one is not reliably, see
    // `detect_full_turn`.)
    let half = d.path().join("half");
    std::fs::create_dir(&half).unwrap();
    for i in 1..=13 {
        let name = format!("shot{i:02}.png");
        std::fs::copy(shoe.join(&name), half.join(&name)).unwrap();
    }
    let pkg = d.path().join("pkg-arc");
    let r = run(&[
        "spin",
        half.to_str().unwrap(),
        "--out",
        pkg.to_str().unwrap(),
        "--arc",
        "180",
        "--frames",
        "25",
        "--keep-framing",
        "--no-animations",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let frames: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let frames = frames.as_array().unwrap();
    assert_eq!(frames.len(), 25);
    assert_eq!(frames[24]["angle"], 180.0);
    assert_eq!(frames[24]["shot"], "shot13.png");
    assert_eq!(frames[1]["angle"], 7.5);
    assert!(frames[1]["shot"].is_null());
}

#[test]
fn spin_refuses_what_it_cannot_use() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("mixed");
    std::fs::create_dir(&dir).unwrap();
    common::pattern(64, 48, 1, 0)
        .to_image()
        .save(dir.join("a1.png"))
        .unwrap();
    common::pattern(80, 48, 2, 0)
        .to_image()
        .save(dir.join("a2.png"))
        .unwrap();
    let out = d.path().join("pkg");
    let r = run(&[
        "spin",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("a2.png") && r.stderr.contains("one size"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(!out.exists());
    let r = run(&[
        "spin",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--arc",
        "400",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--arc 400"), "{}", r.stderr);
    assert!(!out.exists());
    // A package inside the shots' folder would be read as a shot next time.
    let inside = dir.join("pkg");
    let r = run(&[
        "spin",
        dir.to_str().unwrap(),
        "--out",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("inside the shots' folder"),
        "{}",
        r.stderr
    );
    assert!(!inside.exists());
    let r = run(&[
        "spin",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--keep-framing",
        "--size",
        "64x48",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("give one of them"), "{}", r.stderr);
    // A batch's packages inside the products' folder likewise.
    let r = run(&[
        "batch",
        d.path().to_str().unwrap(),
        "--out",
        d.path().join("spins").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("inside the products' folder"),
        "{}",
        r.stderr
    );
    assert!(!d.path().join("spins").exists());
}

#[test]
fn flickering_shots_are_matched_back_to_one_exposure() {
    // A turntable of 24 shots whose exposure and white balance change from shot to shot by
    // up to 12%, as lamps flicker and cameras differ: the gains found undo most of it (net
    // spread across shots measured 2026-12-08: 0.991-1.013 red, within 3% here; what is left
    // follows the flicker at a tenth of its size).
    let shots = turntable(24, 320, 240);
    let flicker: Vec<[f32; 3]> = (0..24)
        .map(|i| {
            let i = i as f32;
            [
                1.0 + 0.12 * (1.7 * i).sin(),
                1.0 + 0.08 * (1.3 * i).cos(),
                1.0 - 0.10 * (0.7 * i).sin(),
            ]
        })
        .collect();
    let mut flickered = shots.clone();
    timeslice::spin::colour::apply(&mut flickered, &flicker);
    let params = FlowParams::preset(Preset::Balanced);
    let gains = timeslice::spin::colour::match_shots(&flickered, true, &params).unwrap();
    for c in 0..3 {
        let net: Vec<f32> = (0..24).map(|i| gains[i][c] * flicker[i][c]).collect();
        let (lo, hi) = net
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        eprintln!("channel {c}: net gain {lo:.4}-{hi:.4}");
        assert!(hi / lo < 1.03, "channel {c}: net gains {net:.3?}");
    }
    // Unflickered shots need (almost) nothing.
    let gains = timeslice::spin::colour::match_shots(&shots, true, &params).unwrap();
    assert!(
        gains.iter().flatten().all(|&g| (g - 1.0).abs() < 0.01),
        "{gains:.3?}"
    );
}

#[test]
fn a_turntable_video_gives_its_shots() {
    // One video of one turn (24 frames): --from-video 12 takes every other frame.
    let d = tempfile::tempdir().unwrap();
    let shots = turntable(24, 320, 240);
    let video = d.path().join("turn.mp4");
    let mut s = timeslice::media::encode::EncodeSettings::new(
        timeslice::media::encode::Codec::H264,
        320,
        240,
        timeslice::Rational::new(24, 1),
    );
    s.crf = Some(12);
    let mut w = timeslice::media::encode::ClipWriter::create(&video, s).unwrap();
    for f in &shots {
        w.push(f, 1).unwrap();
    }
    w.finish().unwrap();
    let pkg = d.path().join("pkg");
    let r = run(&[
        "spin",
        video.to_str().unwrap(),
        "--from-video",
        "12",
        "--keep-framing",
        "--format",
        "png",
        "--no-animations",
        "--json",
        "--out",
        pkg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let frames: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let frames = frames.as_array().unwrap();
    assert_eq!(frames.len(), 12);
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(f["shot"], format!("turn.mp4@{k}"));
        assert_eq!(f["angle"], 30.0 * k as f64);
        let img = timeslice::RgbImage::from_image(
            image::open(pkg.join(f["file"].as_str().unwrap()))
                .unwrap()
                .to_rgb8(),
        );
        let db = psnr(&img, &shots[2 * k]);
        assert!(db > 35.0, "frame {k} against shot {}: {db:.1} dB", 2 * k);
    }
    // More shots than frames is a clear error naming the video.
    let r = run(&[
        "spin",
        video.to_str().unwrap(),
        "--from-video",
        "30",
        "--out",
        d.path().join("pkg2").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("turn.mp4") && r.stderr.contains("24 frames"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_white_background_is_pure_white_round_an_untouched_product() {
    let d = tempfile::tempdir().unwrap();
    let shoe = d.path().join("shoe");
    let r = run(&[
        "samples",
        "--turntable",
        "--out",
        shoe.to_str().unwrap(),
        "--cameras",
        "8",
        "--size",
        "240x180",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Dim the shots to a grey-white studio (the backdrop at about 229).
    let dim = d.path().join("dim");
    std::fs::create_dir(&dim).unwrap();
    for i in 1..=8 {
        let name = format!("shot{i:02}.png");
        let mut img = image::open(shoe.join(&name)).unwrap().to_rgb8();
        img.pixels_mut()
            .for_each(|p| p.0 = p.0.map(|c| (c as f32 * 0.9).round() as u8));
        img.save(dim.join(&name)).unwrap();
    }
    let pkg = d.path().join("pkg");
    let r = run(&[
        "spin",
        dim.to_str().unwrap(),
        "--keep-framing",
        "--background",
        "white",
        "--format",
        "png",
        "--no-animations",
        "--out",
        pkg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pkg.join("spin.json")).unwrap()).unwrap();
    let f0 = image::open(pkg.join(json["frames"][0]["file"].as_str().unwrap()))
        .unwrap()
        .to_rgb8();
    let shot = image::open(dim.join("shot01.png")).unwrap().to_rgb8();
    // The frame is no longer the shot unchanged.
    assert!(json["frames"][0]["shot"].is_null());
    let (mut white, mut kept, mut product) = (0, 0, 0);
    for (a, b) in f0.pixels().zip(shot.pixels()) {
        let d: i32 = (0..3).map(|c| (b.0[c] as i32 - 229).abs()).sum();
        if a.0 == [255, 255, 255] {
            white += 1;
        }
        if d > 90 {
            // Clearly the product: untouched.
            product += 1;
            kept += usize::from(a == b);
        }
    }
    let n = (f0.width() * f0.height()) as usize;
    assert!(white > n / 2, "{white} of {n} pixels pure white");
    assert_eq!(kept, product, "product pixels changed");
    for (x, y) in [(0, 0), (239, 0), (0, 179), (120, 0)] {
        assert_eq!(f0.get_pixel(x, y).0, [255, 255, 255], "({x}, {y})");
    }
}
