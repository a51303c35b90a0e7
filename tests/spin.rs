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
}
