//! The sample rig generator end to end: files, ground truth, and a render of its footage
//! whose frames come from the right camera and time.

mod common;

use common::{listing, run};
use timeslice::calib::colmap;
use timeslice::media::{self};
use timeslice::synth::{SampleRig, SampleSpec, Truth};
use timeslice::{Rational, RgbImage};

fn spec() -> SampleSpec {
    SampleSpec {
        cameras: 4,
        width: 320,
        height: 180,
        frames: 12,
        fps: Rational::new(10, 1),
        ..SampleSpec::default()
    }
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.data.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

#[test]
fn samples_then_render_gives_the_right_camera_and_time() {
    let d = tempfile::tempdir().unwrap();
    let rig_dir = d.path().join("rig");
    let r = run(&[
        "samples",
        "--out",
        rig_dir.to_str().unwrap(),
        "--cameras",
        "4",
        "--size",
        "320x180",
        "--frames",
        "12",
        "--fps",
        "10",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        listing(&rig_dir),
        [
            "cam01.mp4",
            "cam02.mp4",
            "cam03.mp4",
            "cam04.mp4",
            "timeslice.toml",
            "truth"
        ]
    );
    assert_eq!(
        listing(&rig_dir.join("truth/colmap")),
        ["cameras.txt", "images.txt", "points3D.txt"]
    );

    // Ground truth: truth.json and the COLMAP model agree with the generator's cameras.
    let sample = SampleRig::new(&spec()).unwrap();
    let truth = Truth::read(&rig_dir.join("truth/truth.json")).unwrap();
    assert_eq!(truth.cameras.len(), 4);
    assert_eq!(truth.event_frame, 6);
    let from_colmap = colmap::read_text_model(&rig_dir.join("truth/colmap")).unwrap();
    for (c, want) in from_colmap.iter().zip(&sample.rig().cameras) {
        assert_eq!(c.name, want.name);
        assert!((c.intrinsics.cx - want.intrinsics.cx).abs() < 1e-9);
        assert!((c.pose.centre() - want.pose.centre()).norm() < 1e-9);
    }

    for cam in ["cam01.mp4", "cam04.mp4"] {
        let info = media::probe(&rig_dir.join(cam)).unwrap();
        assert_eq!((info.width, info.height, info.frame_count), (320, 180, 12));
        assert_eq!(info.fps, Some(Rational::new(10, 1)));
    }

    // 0.5 s at 10 fps is frame 5; 8 output frames, 2 per camera.
    let clip = d.path().join("c.mp4");
    let r = run(&[
        "render",
        "--interp",
        "0",
        rig_dir.to_str().unwrap(),
        "--at",
        "0.5",
        "--fps",
        "10",
        "--duration",
        "0.8",
        "--out",
        clip.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut src = media::open(&clip).unwrap();
    assert_eq!(src.info().frame_count, 8);
    // Each output frame must match the true render of its camera at frame 5 best among every
    // camera at frames 2, 5 and 8, and closely.
    let candidates: Vec<(usize, u32, RgbImage)> = (0..4)
        .flat_map(|c| [2u32, 5, 8].map(|f| (c, f)))
        .map(|(c, f)| (c, f, sample.render_view(&sample.rig().cameras[c], f)))
        .collect();
    for i in 0..8 {
        let img = src.frame(i).unwrap();
        let scored: Vec<(f64, usize, u32)> = candidates
            .iter()
            .map(|(c, f, t)| (psnr(&img, t), *c, *f))
            .collect();
        let best = scored
            .iter()
            .cloned()
            .fold((0.0, 0, 0), |a, b| if b.0 > a.0 { b } else { a });
        assert_eq!(
            (best.1, best.2),
            (i as usize / 2, 5),
            "output frame {i}: {scored:?}"
        );
        assert!(
            best.0 > 30.0,
            "output frame {i} matches its camera at only {:.1} dB",
            best.0
        );
        let second = scored
            .iter()
            .filter(|s| (s.1, s.2) != (best.1, best.2))
            .map(|s| s.0)
            .fold(0.0, f64::max);
        assert!(
            best.0 > second + 0.5,
            "frame {i}: best {:.2} dB is not clearly above {second:.2} dB",
            best.0
        );
    }
}

#[test]
fn stills_are_exact_renders_at_the_event() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("s");
    let r = run(&[
        "samples",
        "--out",
        out.to_str().unwrap(),
        "--cameras",
        "3",
        "--size",
        "160x96",
        "--frames",
        "12",
        "--fps",
        "10",
        "--stills",
        "--seed",
        "5",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        listing(&out),
        [
            "cam01.png",
            "cam02.png",
            "cam03.png",
            "timeslice.toml",
            "truth"
        ]
    );
    let sample = SampleRig::new(&SampleSpec {
        cameras: 3,
        width: 160,
        height: 96,
        seed: 5,
        ..spec()
    })
    .unwrap();
    for (i, cam) in sample.rig().cameras.iter().enumerate() {
        let png = image::open(out.join(format!("cam0{}.png", i + 1)))
            .unwrap()
            .to_rgb8();
        assert_eq!(
            RgbImage::from_image(png),
            sample.render_view(cam, sample.event_frame())
        );
    }
    // The stills rig renders like any other.
    let clip = d.path().join("still.mp4");
    let r = run(&[
        "render",
        "--interp",
        "0",
        out.to_str().unwrap(),
        "--at",
        "0",
        "--out",
        clip.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn bad_sample_options_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().join("x");
    for args in [
        ["--cameras", "1"],
        ["--size", "15x16"],
        ["--arc-degrees", "400"],
        ["--frames", "0"],
    ] {
        let mut a = vec!["samples", "--out", o.to_str().unwrap()];
        a.extend(args);
        if args[0] == "--arc-degrees" {
            a.extend(["--layout", "arc"]);
        }
        let r = run(&a);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("error: ") && r.stderr.trim_end().lines().count() == 1,
            "{}",
            r.stderr
        );
    }
    assert!(
        !o.exists(),
        "a refused run must not create the output folder"
    );
}

#[test]
fn truth_flow_is_written_for_every_neighbouring_pair_of_a_ring() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("f");
    let r = run(&[
        "samples",
        "--out",
        out.to_str().unwrap(),
        "--cameras",
        "3",
        "--size",
        "96x64",
        "--stills",
        "--truth-flow",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let flow_dir = out.join("truth/flow");
    assert_eq!(
        listing(&flow_dir),
        [
            "cam01-cam02-occlusion.png",
            "cam01-cam02.flo",
            "cam02-cam03-occlusion.png",
            "cam02-cam03.flo",
            "cam03-cam01-occlusion.png",
            "cam03-cam01.flo"
        ]
    );
    let f = timeslice::flow::read_flo(flow_dir.join("cam03-cam01.flo")).unwrap();
    assert_eq!((f.width, f.height), (96, 64));
    // The focus point sits at the centre of every camera (cx = 47.5, cy = 31.5): pixels
    // around it barely move, even 120 degrees round the ring.
    let i = 31 * 96 + 47;
    assert!(
        f.u[i].abs() < 2.0 && f.v[i].abs() < 2.0,
        "{} {}",
        f.u[i],
        f.v[i]
    );
    let mask = image::open(flow_dir.join("cam03-cam01-occlusion.png"))
        .unwrap()
        .to_luma8();
    assert_eq!(mask.dimensions(), (96, 64));
    let occluded = mask.pixels().filter(|p| p.0[0] == 255).count();
    // 120 degrees apart: much of the view is not shared, but the centre is.
    assert!(
        occluded > 96 * 64 / 10 && mask.get_pixel(47, 31).0[0] == 0,
        "{occluded}"
    );
}

#[test]
fn truth_views_lie_between_neighbours_and_aim_at_the_focus() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("v");
    let r = run(&[
        "samples",
        "--out",
        out.to_str().unwrap(),
        "--cameras",
        "12",
        "--size",
        "192x108",
        "--stills",
        "--truth-views",
        "1",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let views: Vec<timeslice::synth::TruthView> =
        serde_json::from_str(&std::fs::read_to_string(out.join("truth/views/views.json")).unwrap())
            .unwrap();
    assert_eq!(views.len(), 12, "12 pairs on a ring, one view each");
    assert_eq!(
        (views[11].a.as_str(), views[11].b.as_str()),
        ("cam12", "cam01")
    );
    let load = |p: std::path::PathBuf| RgbImage::from_image(image::open(p).unwrap().to_rgb8());
    let mid = load(out.join("truth/views").join(&views[0].file));
    // Halfway round the ring from cam01 (azimuth 0) to cam02 (30 degrees), same radius and
    // height.
    let a = 15f64.to_radians();
    let want = [8.0 * a.cos(), 8.0 * a.sin(), 1.6];
    for (c, w) in views[0].camera.centre.iter().zip(want) {
        assert!(
            (c - w).abs() < 1e-9,
            "{:?} vs {want:?}",
            views[0].camera.centre
        );
    }
    assert!(
        psnr(&mid, &load(out.join("cam01.png"))) < 40.0,
        "a new view, not a copy of cam01"
    );
    // The saturated red marker (the focus) sits at the image centre.
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for y in 0..mid.height {
        for x in 0..mid.width {
            let [r, g, b] = mid.pixel(x, y);
            if r > 150 && (g as u32 + b as u32) < r as u32 / 2 {
                sx += x as f64;
                sy += y as f64;
                n += 1.0;
            }
        }
    }
    assert!(n > 3.0, "marker not found");
    assert!(
        (sx / n - 95.5).abs() < 1.5 && (sy / n - 53.5).abs() < 1.5,
        "marker at {} {}",
        sx / n,
        sy / n
    );
}

#[test]
fn ring_render_with_synthesized_views() {
    let d = tempfile::tempdir().unwrap();
    let rig_dir = d.path().join("r");
    let r = run(&[
        "samples",
        "--out",
        rig_dir.to_str().unwrap(),
        "--cameras",
        "24",
        "--size",
        "256x144",
        "--stills",
        "--truth-views",
        "1",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let frames = d.path().join("frames");
    // 24 cameras on a ring (15 degrees apart) with one view between each pair (24 -> 1
    // included): 48 views, one output frame each.
    let r = run(&[
        "render",
        rig_dir.to_str().unwrap(),
        "--at",
        "0",
        "--interp",
        "1",
        "--fps",
        "48",
        "--duration",
        "1",
        "--codec",
        "png",
        "--out",
        frames.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["frames"], 48);
    assert_eq!(report["synthesized"], 24);
    let load = |p: std::path::PathBuf| RgbImage::from_image(image::open(p).unwrap().to_rgb8());
    let out: Vec<RgbImage> = (0..48)
        .map(|i| load(frames.join(format!("frame_{i:06}.png"))))
        .collect();
    for k in 0..24 {
        let (cam, view, next) = (&out[2 * k], &out[2 * k + 1], &out[(2 * k + 2) % 48]);
        let real = load(rig_dir.join(format!("cam{:02}.png", k + 1)));
        assert_eq!(cam, &real, "frame {} is camera {}", 2 * k, k + 1);
        assert_ne!(view, cam);
        assert_ne!(view, next);
        // The synthesized view is closer to the true middle view than either camera is.
        let pair = format!("cam{:02}-cam{:02}", k + 1, (k + 1) % 24 + 1);
        let truth = load(rig_dir.join(format!("truth/views/{pair}/0.500.png")));
        let (ours, a, b) = (psnr(view, &truth), psnr(cam, &truth), psnr(next, &truth));
        assert!(
            ours > a.max(b) + 2.0,
            "{pair}: synthesized {ours:.2} dB, cameras {a:.2} / {b:.2} dB"
        );
    }
}

/// Renders a sample ring of `cameras` stills at 256x144 into `dir`; its first seven views.
fn ring_stills(dir: &std::path::Path, cameras: usize) -> Vec<String> {
    let r = run(&[
        "samples",
        "--out",
        dir.to_str().unwrap(),
        "--cameras",
        &cameras.to_string(),
        "--size",
        "256x144",
        "--stills",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (1..=7)
        .map(|i| {
            dir.join(format!("cam{i:02}.png"))
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn leave_one_out_ranks_flow_above_the_baselines() {
    let d = tempfile::tempdir().unwrap();
    let rig_dir = d.path().join("l");
    // 48 cameras: a held-out view is made from cameras 15 degrees apart.
    let views = ring_stills(&rig_dir, 48);
    let mean = |method: &str, extra: &[&str]| -> f64 {
        let mut args = vec!["eval", "loo", "--method", method, "--json"];
        args.extend(extra);
        args.extend(views.iter().map(String::as_str));
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(
            v["views"].as_array().unwrap().len(),
            3,
            "views 2, 4 and 6 are held out"
        );
        v["mean_psnr"].as_f64().unwrap()
    };
    let sheet = d.path().join("sheet.png");
    let flow = mean("flow", &["--sheet", sheet.to_str().unwrap()]);
    let fade = mean("crossfade", &[]);
    let near = mean("nearest", &[]);
    assert!(
        flow > fade + 2.0 && fade > 0.0 && flow > near + 2.0,
        "flow {flow:.2}, crossfade {fade:.2}, nearest {near:.2}"
    );
    let s = image::open(&sheet).unwrap();
    assert_eq!(
        s.height(),
        3 * (144 + 4) + 4,
        "three rows of truth / ours / error"
    );
}

#[test]
fn leave_one_out_with_the_calibration_places_matches_on_the_arc() {
    let d = tempfile::tempdir().unwrap();
    let rig_dir = d.path().join("l");
    // 24 cameras: a held-out view is made from cameras 30 degrees apart, where moving
    // halfway along the flow squeezes the view by 3% across the ring's axis.
    let views = ring_stills(&rig_dir, 24);
    let truth = rig_dir.join("truth");
    let mean = |extra: &[&str]| -> (f64, f64) {
        let mut args = vec!["eval", "loo", "--json"];
        args.extend(extra);
        args.extend(views.iter().map(String::as_str));
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        (
            v["mean_psnr"].as_f64().unwrap(),
            v["mean_ssim"].as_f64().unwrap(),
        )
    };
    let (flow, flow_ssim) = mean(&[]);
    let (placed, placed_ssim) = mean(&["--rig", truth.to_str().unwrap()]);
    // Measured: 17.141 dB / SSIM 0.428 without, 18.375 / 0.557 with the calibration (the
    // placed splat averaged with the plane sweep; 17.253 / 0.456 with the placement alone).
    assert!(
        placed > flow + 0.6 && placed_ssim > flow_ssim + 0.06,
        "flow {flow:.3} dB SSIM {flow_ssim:.4}, calibrated {placed:.3} SSIM {placed_ssim:.4}"
    );
    // A view the calibration does not know is named, and nothing is measured.
    let stranger = d.path().join("stranger.png");
    std::fs::copy(&views[2], &stranger).unwrap();
    let r = run(&[
        "eval",
        "loo",
        "--rig",
        truth.to_str().unwrap(),
        &views[0],
        &views[1],
        stranger.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no camera named 'stranger'") && r.stdout.is_empty(),
        "{}",
        r.stderr
    );
    // Views of another shape than the calibrated cameras are refused (another size of the
    // same shape is rescaled).
    let other = d.path().join("square");
    std::fs::create_dir(&other).unwrap();
    let squares: Vec<String> = views[..3]
        .iter()
        .map(|v| {
            let out = other.join(std::path::Path::new(v).file_name().unwrap());
            image::open(v)
                .unwrap()
                .resize_exact(96, 96, image::imageops::FilterType::Triangle)
                .save(&out)
                .unwrap();
            out.to_string_lossy().into_owned()
        })
        .collect();
    let mut args = vec!["eval", "loo", "--rig", truth.to_str().unwrap()];
    args.extend(squares.iter().map(String::as_str));
    let r = run(&args);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("is 96x96") && r.stderr.contains("another shape"),
        "{}",
        r.stderr
    );
}
