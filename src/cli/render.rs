//! `timeslice render`: a bullet-time clip (frozen moment, time slice or replay).

use anyhow::Result;
use std::path::PathBuf;
use timeslice::error::Error;
use timeslice::flow::Preset;
use timeslice::media::encode::Codec;
use timeslice::media::preset::OutputPreset;
use timeslice::progress::Progress;
use timeslice::project::Project;
use timeslice::render::{plan, render, Fill, Focus, RenderOptions, RenderReport, TimeMode};
use timeslice::timeline::Ease;
use timeslice::{Rational, TimeSpec};

/// Render a clip: the moment freezes (or slows) while the view orbits the subject.
///
/// Between neighbouring cameras, views are synthesized from the optical flow of the pair
/// (softmax splatting), so the orbit glides instead of stepping; on a ring (layout = "ring"
/// in the project) the full orbit goes round 360 degrees. The output is written to a
/// temporary file and renamed when complete.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice render rig/ --at 1.0 --out clip.mp4\n  timeslice render rig/timeslice.toml --at 00:00:02.500 --duration 4 --fps 50 --out clip.mp4\n  timeslice render rig/ --mode slice --at 1.0 --rate 0.1 --cameras 1..12 --out slice.mp4\n  timeslice render rig/ --mode replay --from 0.5 --orbit-at 1.5 --to 2.5 --speed 90 \\\n      --ease in-out --out replay.mp4\n  timeslice render rig/ --at 1.0 --bounce --loop --skip-camera 7 --out loop.mp4\n  timeslice render rig/ --at 1.0 --plan-only --json\n  timeslice render rig/cam01.mp4 rig/cam02.mp4 rig/cam03.mp4 \\\n      --at frame:30 --codec prores --out clip.mov\n\nThey run as written on the README's sample rig (12 cameras, 3 s; rig/cam01.mp4 ...):\n  timeslice samples --out rig --cameras 12 --layout arc --arc-degrees 90 --frames 90\n\nTIME: seconds (12.48), HH:MM:SS.mmm, frame:N, or timecode HH:MM:SS:FF (counted from the\nfootage's own start timecode when it has one; HH:MM:SS;FF for drop-frame).\nCAMERA: a camera's name (cam05) or its 1-based number in rig order."
)]
pub struct Args {
    /// A project file, a footage folder, or camera files in rig order.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// freeze: every view at --at. slice: time runs at --rate times real speed while the
    /// view orbits, from --at. replay: the first camera plays live from --from to
    /// --orbit-at, the orbit runs frozen there, then the last camera plays on to --to.
    #[arg(long, value_enum, default_value = "freeze")]
    mode: ModeArg,
    /// The moment to freeze (freeze), or where the slice starts (slice).
    #[arg(long, value_parser = super::parse_time, value_name = "TIME")]
    at: Option<TimeSpec>,
    /// Slice mode: speed of time during the orbit (0.1 = a tenth of real speed).
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Replay mode: where the live lead-in starts.
    #[arg(long, value_parser = super::parse_time, value_name = "TIME")]
    from: Option<TimeSpec>,
    /// Replay mode: where the live ending stops.
    #[arg(long, value_parser = super::parse_time, value_name = "TIME")]
    to: Option<TimeSpec>,
    /// Replay mode: the moment the orbit freezes.
    #[arg(long, value_parser = super::parse_time, value_name = "TIME")]
    orbit_at: Option<TimeSpec>,
    /// Orbit over cameras A to B (reversed when A comes after B; on a ring, A..A is the full
    /// turn from A) [default: all, all the way round a ring].
    #[arg(long, value_name = "A..B", value_parser = parse_range)]
    cameras: Option<(String, String)>,
    /// Leave a dead or out-of-sync camera out: the orbit synthesizes across the gap from its
    /// neighbours (repeatable).
    #[arg(long = "skip-camera", value_name = "CAMERA")]
    skip_camera: Vec<String>,
    /// Orbit there and back.
    #[arg(long)]
    bounce: bool,
    /// Make the clip loop seamlessly (a full ring or a bounce): the last frame leads into
    /// the first.
    #[arg(long = "loop")]
    looped: bool,
    /// How the orbit accelerates.
    #[arg(
        long,
        default_value = "linear",
        ignore_case = true,
        value_parser = clap::builder::TypedValueParser::try_map(
            clap::builder::PossibleValuesParser::new([
                clap::builder::PossibleValue::new("linear").help("Constant angular speed"),
                clap::builder::PossibleValue::new("in").help("Starts at rest and accelerates"),
                clap::builder::PossibleValue::new("out").help("Decelerates to rest"),
                clap::builder::PossibleValue::new("in-out")
                    .alias("inout")
                    .help("Starts and ends at rest (slow in, slow out)"),
            ]),
            |s: String| parse_ease(&s),
        )
    )]
    ease: Ease,
    /// Orbit pace in degrees per second (needs a ring, arc_degrees in the project, or a
    /// calibration); instead of --duration.
    #[arg(long, value_name = "DEG_PER_S", conflicts_with = "duration")]
    speed: Option<f64>,
    /// Orbit length in seconds [default: 3].
    #[arg(long)]
    duration: Option<f64>,
    /// A rig calibration: calibration.json (timeslice calibrate rig) or the folder that holds
    /// it, a COLMAP text model folder (or a folder with colmap/ in it), or a Middlebury
    /// *_par.txt [default: the project's]. With one, every view is aligned to a virtual
    /// camera that looks at the focus point, stays upright and keeps the subject's size; the
    /// orbit follows the rig order a calibration.json records (`calibrate rig --order auto`).
    #[arg(long, value_name = "PATH")]
    calibration: Option<PathBuf>,
    /// The focus point in world units [default: the point nearest all optical axes].
    #[arg(long, value_name = "X,Y,Z", value_parser = parse_point, conflicts_with = "focus_px")]
    focus: Option<[f64; 3]>,
    /// The focus point picked in pixels in one or more cameras and triangulated (repeatable).
    #[arg(long = "focus-px", value_name = "CAMERA:X,Y", value_parser = parse_pick)]
    focus_px: Vec<(String, f64, f64)>,
    /// What fills the frame where an aligned camera saw nothing: crop (zoom every view alike
    /// to the largest rectangle they all fill), black, or blur (a blurred copy of the view).
    #[arg(long, value_enum, default_value = "crop")]
    fill: FillArg,
    /// Output: a .mp4/.mov/.mkv file, or a folder for --codec png.
    #[arg(long, short, required_unless_present = "plan_only")]
    out: Option<PathBuf>,
    /// Output frame rate, e.g. 30, 50, 30000/1001 or 29.97 [default: the first camera's].
    #[arg(long, value_parser = super::parse_fps)]
    fps: Option<Rational>,
    /// Output preset: broadcast (ProRes 422 HQ 1920x1080 at 25/29.97/50/59.94 with
    /// timecode, .mov), web (H.264 High, CRF 20, faststart), social (vertical 1080x1920).
    /// Explicit --codec, --crf, --bitrate, --size and --fps override it.
    #[arg(long, value_enum)]
    preset: Option<OutputPreset>,
    /// Output codec [default: from --out: .gif, .webp, a folder for png; otherwise h264].
    #[arg(long, value_enum)]
    codec: Option<Codec>,
    /// Target bitrate for h264/hevc, e.g. 8M or 2500k (instead of --crf).
    #[arg(long, value_parser = parse_bitrate, value_name = "RATE")]
    bitrate: Option<u64>,
    /// Quality 1-100 for jpeg and webp.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    quality: Option<u32>,
    /// Start timecode of the clip (MOV/MP4), HH:MM:SS:FF or HH:MM:SS;FF (drop-frame).
    #[arg(long, value_name = "TC")]
    timecode: Option<String>,
    /// Quality for h264/hevc: constant rate factor, lower is better (h264 default 18, hevc 22).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=51))]
    crf: Option<u32>,
    /// Output size WIDTHxHEIGHT; other aspect ratios are centre-cropped, never stretched.
    #[arg(long, value_parser = super::parse_size, value_name = "WxH")]
    size: Option<(u32, u32)>,
    /// x264/x265 speed preset (ultrafast .. veryslow).
    #[arg(long, value_name = "PRESET")]
    encoder_speed: Option<String>,
    /// Views to synthesize between each pair of neighbouring cameras; 0 shows only the real
    /// cameras [default: every output frame is its own view, the smoothest orbit].
    #[arg(long, value_name = "K")]
    interp: Option<u32>,
    /// Flow preset for view synthesis. With a calibration, quality also makes each view by a
    /// plane sweep through the two cameras and averages it in (sharper views, about 2.5 times
    /// the time).
    #[arg(
        long,
        value_name = "PRESET",
        default_value = "balanced",
        ignore_case = true,
        value_parser = clap::builder::PossibleValuesParser::new([
            clap::builder::PossibleValue::new("fast").help("Fastest, least accurate flow"),
            clap::builder::PossibleValue::new("balanced").help("Between the two, the default"),
            clap::builder::PossibleValue::new("quality")
                .help("Most accurate, slowest flow; with a calibration, plus the plane sweep"),
        ])
    )]
    flow_preset: String,
    /// Print the schedule (one entry per output frame: time, cameras, fraction) and stop.
    #[arg(long)]
    plan_only: bool,
    /// Print a JSON report of what was written (or, with --plan-only, the schedule).
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FillArg {
    Crop,
    Black,
    Blur,
}

/// `X,Y,Z`.
fn parse_point(s: &str) -> Result<[f64; 3], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{s}' is not a point; write X,Y,Z, e.g. 0,0,1.2"))?;
    match v[..] {
        [x, y, z] if v.iter().all(|c| c.is_finite()) => Ok([x, y, z]),
        _ => Err(format!("'{s}' is not a point; write X,Y,Z, e.g. 0,0,1.2")),
    }
}

/// `CAMERA:X,Y`.
fn parse_pick(s: &str) -> Result<(String, f64, f64), String> {
    let err = || format!("'{s}' is not a pick; write CAMERA:X,Y, e.g. cam03:640,360");
    let (cam, xy) = s.rsplit_once(':').ok_or_else(err)?;
    let (x, y) = xy.split_once(',').ok_or_else(err)?;
    match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) if !cam.is_empty() && x.is_finite() && y.is_finite() => {
            Ok((cam.to_string(), x, y))
        }
        _ => Err(err()),
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Freeze,
    Slice,
    Replay,
}

/// `A..B` into its two ends.
fn parse_range(s: &str) -> Result<(String, String), String> {
    match s.split_once("..") {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
            Ok((a.trim().to_string(), b.trim().to_string()))
        }
        _ => Err(format!(
            "'{s}' is not a camera range; write A..B with camera names or numbers, e.g. 1..12"
        )),
    }
}

/// Bits per second from `8000000`, `8M` or `2500k`.
fn parse_bitrate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&t[..t.len() - 1], 1e3),
        Some('m') => (&t[..t.len() - 1], 1e6),
        _ => (t, 1.0),
    };
    match num.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok((v * mul).round() as u64),
        _ => Err(format!(
            "'{s}' is not a bitrate; write e.g. 8M, 2500k or 8000000"
        )),
    }
}

fn parse_ease(s: &str) -> Result<Ease, String> {
    s.parse::<Ease>().map_err(|e| e.to_string())
}

/// The time mode, with a clear error for the options each mode needs or refuses.
fn time_mode(a: &Args) -> Result<TimeMode, Error> {
    let need = |v: Option<TimeSpec>, flag: &str, mode: &str| {
        v.ok_or_else(|| Error::usage(format!("--mode {mode} needs {flag} TIME")))
    };
    let refuse = |present: bool, flag: &str, mode: &str| {
        if present {
            Err(Error::usage(format!(
                "{flag} is not used by --mode {mode}; remove it"
            )))
        } else {
            Ok(())
        }
    };
    match a.mode {
        ModeArg::Freeze | ModeArg::Slice => {
            let mode = if matches!(a.mode, ModeArg::Freeze) {
                "freeze"
            } else {
                "slice"
            };
            refuse(a.from.is_some(), "--from", mode)?;
            refuse(a.to.is_some(), "--to", mode)?;
            refuse(a.orbit_at.is_some(), "--orbit-at", mode)?;
            let at = need(a.at, "--at", mode)?;
            if matches!(a.mode, ModeArg::Freeze) {
                refuse(a.rate.is_some(), "--rate", mode)?;
                Ok(TimeMode::Freeze { at })
            } else {
                let rate = a.rate.ok_or_else(|| {
                    Error::usage("--mode slice needs --rate R (e.g. 0.1 for a tenth of real speed)")
                })?;
                Ok(TimeMode::Slice { at, rate })
            }
        }
        ModeArg::Replay => {
            refuse(a.rate.is_some(), "--rate", "replay")?;
            let orbit_at = match (a.orbit_at, a.at) {
                (Some(_), Some(_)) => {
                    return Err(Error::usage(
                        "give the replay's moment once: --orbit-at (or --at), not both",
                    ))
                }
                (Some(t), None) | (None, Some(t)) => t,
                (None, None) => return Err(Error::usage("--mode replay needs --orbit-at TIME")),
            };
            Ok(TimeMode::Replay {
                from: need(a.from, "--from", "replay")?,
                to: need(a.to, "--to", "replay")?,
                orbit_at,
            })
        }
    }
}

pub fn options(a: &Args) -> Result<RenderOptions> {
    Ok(RenderOptions {
        calibration: a.calibration.clone(),
        focus: match (a.focus, a.focus_px.is_empty()) {
            (Some(p), _) => Focus::Point(p),
            (None, false) => Focus::Pixels(a.focus_px.clone()),
            (None, true) => Focus::Auto,
        },
        fill: match a.fill {
            FillArg::Crop => Fill::Crop,
            FillArg::Black => Fill::Black,
            FillArg::Blur => Fill::Blur,
        },
        mode: time_mode(a)?,
        fps: a.fps,
        duration: a.duration,
        speed: a.speed,
        preset: a.preset,
        codec: a.codec,
        crf: a.crf,
        bitrate: a.bitrate,
        quality: a.quality,
        timecode: a.timecode.clone(),
        size: a.size,
        encoder_speed: a.encoder_speed.clone(),
        interp: a.interp,
        flow: super::interp::preset(&a.flow_preset)?,
        sweep: a.flow_preset.parse::<Preset>().ok() == Some(Preset::Quality),
        cameras: a.cameras.clone(),
        skip: a.skip_camera.clone(),
        bounce: a.bounce,
        looped: a.looped,
        ease: a.ease,
    })
}

pub fn print_report(r: &RenderReport) {
    println!(
        "{}: {} {} frames, {}x{}, {} fps, {:.2} s, {:?}, {} camera frames + {} synthesized views",
        r.output.display(),
        r.mode,
        r.frames,
        r.width,
        r.height,
        r.fps,
        r.duration,
        r.codec,
        r.cameras.len(),
        r.synthesized
    );
}

pub fn run(a: Args, progress: &dyn Progress) -> Result<()> {
    let project = Project::from_inputs(&a.inputs)?;
    let opts = options(&a)?;
    if a.plan_only {
        let planned = plan(&project, &opts, progress)?;
        let s = &planned.schedule;
        if a.json {
            // Cameras by name, as everywhere else on the command line (not by index).
            let frames: Vec<serde_json::Value> = s
                .frames
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "time": f.time,
                        "from": planned.names[f.from],
                        "to": planned.names[f.to],
                        "t": f.t,
                        "angle": f.angle,
                    })
                })
                .collect();
            let v = serde_json::json!({
                "fps": s.fps.to_string(),
                "cameras": planned.names,
                "frames": frames,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            println!(
                "{} frames at {} fps ({:.2} s); runs of identical frames:",
                s.frames.len(),
                s.fps,
                s.fps.frames_to_seconds(s.frames.len() as i64)
            );
            for (shot, n) in s.runs() {
                let (a, b) = (&planned.names[shot.from], &planned.names[shot.to]);
                let at = if shot.is_camera() {
                    a.clone()
                } else {
                    format!("{a} -> {b} at {:.3}", shot.t)
                };
                println!(
                    "  {n:>4} x  {at:<28} time {:+.3} s  angle {:.1}",
                    shot.time, shot.angle
                );
            }
        }
        return Ok(());
    }
    let out = a
        .out
        .as_ref()
        .expect("clap requires --out without --plan-only");
    let report = render(&project, &opts, out, progress)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}
