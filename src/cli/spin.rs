//! `timeslice spin`: a product spin package from a turntable's shots or a camera array's
//! stills (see [`timeslice::spin`]).

use anyhow::Result;
use rayon::prelude::*;
use std::path::PathBuf;
use timeslice::progress::Progress;
use timeslice::project::{Layout, Project};
use timeslice::spin::package::{self, FrameFormat, PackageOptions, SpinInfo};
use timeslice::spin::{self as spin, Framing, Turn};
use timeslice::{Error, Rational, RgbImage, TimeSpec};

/// Make a 360-degree product spin: frames at several sizes, a loop video, a sprite sheet and a
/// self-contained web viewer (index.html + viewer.js), from shots in capture order.
///
/// INPUT is a folder of stills in capture order (natural sort: shot2 before shot10), a
/// project file, a folder of videos (one frame of each, --at), or one video of one turn
/// (--from-video N). The shots go round the
/// product: a full turn (the last shot leads back to the first) or an arc, found from the
/// shots themselves unless --arc says. --frames M gives M output angles, evenly spaced;
/// angles between shots are synthesized from the two nearest shots' optical flow.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice samples --turntable --out shoe --cameras 36 --size 1000x750\n  timeslice spin shoe --out shoe-spin\n  timeslice spin shoe --frames 72 --keep-framing --sizes 500 --out shoe-72\n  timeslice spin photos/ --arc 90 --frames 30 --format png --out arc-spin\n\nWrites PKG/spin.json (frames in order: file, angle, shot), PKG/frames/W/frame_000.jpg.. at\nevery width, poster.jpg, spin.mp4, spin.webp, spin.gif, sprite.jpg + sprite.json, and\nindex.html + viewer.js: open index.html in a browser (no network needed)."
)]
pub struct Args {
    /// A folder of stills in capture order, a project file, a folder of videos, or one video
    /// of one turn (with --from-video).
    input: PathBuf,
    /// The package folder to create (must not exist, or be empty).
    #[arg(long, short)]
    out: PathBuf,
    /// Output angles, evenly spaced (default: one per shot).
    #[arg(long, value_name = "M")]
    frames: Option<usize>,
    /// Keep the shots' own framing and size (no crop, centring or resize): with M a multiple
    /// of the shot count N, frame i*M/N is shot i unchanged.
    #[arg(long)]
    keep_framing: bool,
    /// The shots span this many degrees (360: a full turn); found from the shots when not
    /// given (or from the project's layout).
    #[arg(long, value_name = "DEG")]
    arc: Option<f64>,
    /// Size of the full-size frames, WxH (without --keep-framing; default: the crop round
    /// the product at the shots' scale).
    #[arg(long, value_parser = super::parse_size, value_name = "WxH")]
    size: Option<(u32, u32)>,
    /// Room round the product, a fraction of its extent on each side (without
    /// --keep-framing).
    #[arg(long, default_value_t = 0.08)]
    margin: f64,
    /// Smaller widths to write besides the full size, comma-separated (those not smaller
    /// than the full size are left out).
    #[arg(long, value_delimiter = ',', default_value = "1000,500")]
    sizes: Vec<u32>,
    /// The frames' format.
    #[arg(long, value_enum, default_value = "jpeg")]
    format: FormatArg,
    /// JPEG quality, 1-100.
    #[arg(long, default_value_t = 90)]
    quality: u8,
    /// Optical-flow preset for the synthesized angles: fast, balanced or quality.
    #[arg(long, default_value = "balanced")]
    preset: String,
    /// The loop video's frame rate.
    #[arg(long, value_parser = super::parse_fps, default_value = "24")]
    fps: Rational,
    /// Skip spin.mp4, spin.webp and spin.gif.
    #[arg(long)]
    no_animations: bool,
    /// Which frame of each video (a project of videos); the first when not given.
    #[arg(long, value_name = "TIME")]
    at: Option<TimeSpec>,
    /// INPUT is one video of one turn (a turntable filmed turning once): take N evenly spaced
    /// frames of it as the shots (frame round(i * F / N) of F, i = 0..N).
    #[arg(long, value_name = "N")]
    from_video: Option<usize>,
    /// Match exposure and white balance across shots, so lighting flicker and different
    /// cameras do not pulse in the spin: a gain per shot and channel, estimated on the
    /// product's pixels that the flow matches between neighbouring shots. auto: on, except
    /// with --keep-framing (which keeps the shots exactly).
    #[arg(long, value_enum, default_value = "auto")]
    match_colour: MatchColour,
    /// white: a near-white backdrop becomes pure white (255, 255, 255, as marketplaces ask
    /// for main images) with a soft edge, leaving the product alone; keep: as shot.
    #[arg(long, value_enum, default_value = "keep")]
    background: Background,
    /// Print the package's spin.json frame list as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MatchColour {
    /// On, except with --keep-framing.
    Auto,
    On,
    Off,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Background {
    Keep,
    White,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Jpeg,
    Png,
}

/// The shots of a project: one still of each camera, all one size.
fn read_shots(a: &Args, progress: &dyn Progress) -> Result<(Project, Vec<PathBuf>, Vec<RgbImage>)> {
    let project = Project::from_inputs(std::slice::from_ref(&a.input))?;
    let inputs: Vec<PathBuf> = project
        .cameras
        .iter()
        .map(|c| project.source_path(c))
        .collect();
    progress.begin("reading shots", project.cameras.len() as u64);
    // Decoding is most of the reading: the shots in parallel, in order.
    let shots: Vec<RgbImage> = project
        .cameras
        .par_iter()
        .map(|cam| {
            let img = super::still_of(&project, cam, a.at, "shot");
            progress.advance(1);
            img
        })
        .collect::<Result<_>>()?;
    progress.end();
    let first = &shots[0];
    for (img, path) in shots.iter().zip(&inputs) {
        if (img.width, img.height) != (first.width, first.height) {
            return Err(Error::input(
                path,
                format!(
                    "is {}x{} where the first shot is {}x{}; every shot of a spin must have one size",
                    img.width, img.height, first.width, first.height
                ),
            )
            .into());
        }
    }
    Ok((project, inputs, shots))
}

/// `n` evenly spaced frames of one video of one turn.
fn video_shots(path: &std::path::Path, n: usize, progress: &dyn Progress) -> Result<Vec<RgbImage>> {
    if n < 2 {
        return Err(Error::usage(format!("--from-video {n}: take at least 2 frames")).into());
    }
    let mut src = timeslice::media::open(path)?;
    let frames = src.info().frame_count;
    if (frames as usize) < n {
        return Err(Error::input(
            path,
            format!("has {frames} frames, fewer than the {n} shots asked for with --from-video"),
        )
        .into());
    }
    progress.begin("reading shots", n as u64);
    let mut shots = Vec::with_capacity(n);
    for i in 0..n {
        let index = ((i as u64 * frames) as f64 / n as f64).round() as i64;
        shots.push(src.frame(index)?);
        progress.advance(1);
    }
    progress.end();
    Ok(shots)
}

pub fn run(a: Args, progress: &dyn Progress) -> Result<()> {
    if a.keep_framing && a.size.is_some() {
        return Err(Error::usage(
            "--size resizes the frames and --keep-framing keeps the shots' own: give one of them",
        )
        .into());
    }
    if a.input.is_dir() && timeslice::output::is_within(&a.out, &a.input) {
        return Err(Error::usage(format!(
            "{}: the package would sit inside the shots' folder {} (and be read as shots next time); give an --out outside it",
            a.out.display(),
            a.input.display()
        ))
        .into());
    }
    if !(0.0..=10.0).contains(&a.margin) {
        return Err(Error::usage(format!(
            "--margin {} is not usable: give a fraction such as 0.08",
            a.margin
        ))
        .into());
    }
    if let Some(deg) = a.arc {
        if !(deg > 0.0 && deg <= 360.0) {
            return Err(Error::usage(format!(
                "--arc {deg} is not usable: give the degrees the shots span, above 0 and at most 360"
            ))
            .into());
        }
    }
    let params = super::interp::preset(&a.preset)?;
    let (project, inputs, mut shots, names) = match a.from_video {
        Some(n) => {
            let shots = video_shots(&a.input, n, progress)?;
            let stem = a
                .input
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let names: Vec<String> = (0..n).map(|i| format!("{stem}@{}", i)).collect();
            (None, vec![a.input.clone()], shots, names)
        }
        None => {
            let (project, inputs, shots) = read_shots(&a, progress)?;
            let names = inputs
                .iter()
                .map(|p| {
                    p.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                })
                .collect();
            (Some(project), inputs, shots, names)
        }
    };
    for p in &inputs {
        timeslice::output::refuse_input(&a.out, &[p.as_path()])?;
    }
    if timeslice::output::same_file(&a.out, &a.input) {
        return Err(Error::usage(format!(
            "{}: the package would overwrite the input; give another --out",
            a.out.display()
        ))
        .into());
    }
    let n = shots.len();
    if n < 2 {
        return Err(Error::usage(format!(
            "{}: a spin needs at least 2 shots, found {n}",
            a.input.display()
        ))
        .into());
    }
    let layout = project.as_ref().and_then(|p| p.layout);
    let arc_of_project = project.as_ref().and_then(|p| p.arc_degrees);
    let turn = match (a.arc, layout) {
        (Some(deg), _) if deg >= 360.0 => Turn::Full,
        (Some(deg), _) => Turn::Arc(deg),
        (None, Some(Layout::Ring)) => Turn::Full,
        (None, Some(Layout::Arc)) if arc_of_project.is_some() => {
            Turn::Arc(arc_of_project.unwrap_or(360.0))
        }
        // One video of one turn.
        (None, _) if a.from_video.is_some() => Turn::Full,
        _ => {
            if spin::detect_full_turn(&shots, &params)? {
                Turn::Full
            } else {
                // The shots' spacing is unknown: assume a full turn's, and say so.
                let deg = 360.0 * (n - 1) as f64 / n as f64;
                progress.warn(&format!(
                    "the last shot does not lead back to the first, so the spin is an arc; its angles assume shots {:.1} degrees apart: give --arc DEG for the real span",
                    360.0 / n as f64
                ));
                Turn::Arc(deg)
            }
        }
    };
    // Matched colours change the shots, so --keep-framing (which keeps them exactly) leaves
    // them alone unless told --match-colour on.
    let match_colour = match a.match_colour {
        MatchColour::On => true,
        MatchColour::Off => false,
        MatchColour::Auto => !a.keep_framing,
    };
    if match_colour {
        let gains = spin::colour::match_shots(&shots, turn == Turn::Full, &params)?;
        spin::colour::apply(&mut shots, &gains);
    }
    let m = a.frames.unwrap_or(n);
    let angles = spin::schedule(n, m, turn)?;
    let frames = spin::synthesize(&shots, &angles, &params, progress)?;

    let mut frames = frames;
    if a.background == Background::White {
        let bg = spin::backdrop_colour(&shots);
        for f in &mut frames {
            if !spin::background::whiten(f, bg) {
                progress.warn(&format!(
                    "--background white: the backdrop ({}, {}, {}) is not near white; left as shot",
                    bg[0], bg[1], bg[2]
                ));
                break;
            }
        }
    }
    // Framing: the shots' own, or one window round the product for every frame.
    let frames = if a.keep_framing {
        frames
    } else {
        let aspect = match a.size {
            Some((w, h)) => w as f64 / h as f64,
            None => shots[0].width as f64 / shots[0].height as f64,
        };
        let framing = Framing::around_product(&shots, a.margin, aspect);
        let fill = match a.background {
            Background::White => [255, 255, 255],
            Background::Keep => spin::backdrop_colour(&shots),
        };
        let (w, h) = a.size.unwrap_or((framing.width, framing.height));
        frames
            .par_iter()
            .map(|f| spin::resize(&framing.apply(f, fill), w, h))
            .collect()
    };

    // A frame is "that shot unchanged" only when nothing touched the shots.
    let unchanged = a.keep_framing && !match_colour && a.background == Background::Keep;
    let shot_of: Vec<Option<String>> = angles
        .iter()
        .map(|s| (unchanged && s.at.t == 0.0).then(|| names[s.at.a].clone()))
        .collect();
    let (full_turn, arc_degrees) = match turn {
        Turn::Full => (true, 360.0),
        Turn::Arc(d) => (false, d),
    };
    let settings = serde_json::json!({
        "input": a.input.display().to_string(),
        "shots": n,
        "frames": m,
        "keep_framing": a.keep_framing,
        "preset": a.preset,
        "margin": a.margin,
        "size": a.size.map(|(w, h)| format!("{w}x{h}")),
        "match_colour": match_colour,
        "background": if a.background == Background::White { "white" } else { "keep" },
        "from_video": a.from_video,
    });
    let opts = PackageOptions {
        widths: a.sizes.clone(),
        format: match a.format {
            FormatArg::Jpeg => FrameFormat::Jpeg,
            FormatArg::Png => FrameFormat::Png,
        },
        quality: a.quality,
        fps: a.fps,
        animations: !a.no_animations,
    };
    let info = SpinInfo {
        angles: &angles.iter().map(|s| s.angle).collect::<Vec<_>>(),
        shots: &shot_of,
        full_turn,
        arc_degrees,
        settings,
    };
    let entries = package::write(&a.out, &frames, &info, &opts, progress)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    let synthesized = angles.iter().filter(|s| s.at.t > 0.0).count();
    println!(
        "{}: {} frames ({} synthesized) from {} shots, {}, {}x{}; open {}",
        a.out.display(),
        m,
        synthesized,
        n,
        if full_turn {
            "a full turn".to_string()
        } else {
            format!("an arc of {arc_degrees:.0} degrees")
        },
        frames[0].width,
        frames[0].height,
        a.out.join("index.html").display()
    );
    Ok(())
}
