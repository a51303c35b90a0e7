//! `timeslice render`: a frozen-moment clip.

use anyhow::Result;
use std::path::PathBuf;
use timeslice::media::encode::Codec;
use timeslice::progress::Progress;
use timeslice::project::Project;
use timeslice::render::{render_freeze, RenderOptions, RenderReport};
use timeslice::{Rational, TimeSpec};

/// Render a frozen moment: the frame at TIME from every camera, in rig order.
///
/// Between neighbouring cameras, views are synthesized from the optical flow of the pair
/// (softmax splatting), so the orbit glides instead of stepping; on a ring (layout = \"ring\"
/// in the project) the last camera leads back to the first. The output is written to a
/// temporary file and renamed when complete.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice render rig/ --at 1.0 --out clip.mp4\n  timeslice render rig/timeslice.toml --at 00:00:02.500 --duration 4 --fps 50 --out clip.mp4\n  timeslice render a.mp4 b.mp4 c.mp4 --at frame:30 --codec prores --out clip.mov\n  timeslice render rig/ --at 01:00:10:12 --codec png --out frames/\n\nTIME: seconds (12.48), HH:MM:SS.mmm, frame:N, or timecode HH:MM:SS:FF (counted from the\nfootage's own start timecode when it has one; HH:MM:SS;FF for drop-frame)."
)]
pub struct Args {
    /// A project file, a footage folder, or camera files in rig order.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The moment to freeze.
    #[arg(long, value_parser = super::parse_time, value_name = "TIME")]
    at: TimeSpec,
    /// Output: a .mp4/.mov/.mkv file, or a folder for --codec png.
    #[arg(long, short)]
    out: PathBuf,
    /// Output frame rate, e.g. 30, 50, 30000/1001 or 29.97 [default: the first camera's].
    #[arg(long, value_parser = super::parse_fps)]
    fps: Option<Rational>,
    /// Clip length in seconds [default: 3].
    #[arg(long)]
    duration: Option<f64>,
    /// Output codec [default: h264, or png when --out has no extension].
    #[arg(long, value_enum)]
    codec: Option<Codec>,
    /// Quality for h264/hevc: constant rate factor, lower is better (h264 default 18, hevc 22).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=51))]
    crf: Option<u32>,
    /// Output size WIDTHxHEIGHT; other aspect ratios are centre-cropped, never stretched.
    #[arg(long, value_parser = super::parse_size, value_name = "WxH")]
    size: Option<(u32, u32)>,
    /// x264/x265 speed preset (ultrafast .. veryslow).
    #[arg(long, value_name = "PRESET")]
    speed: Option<String>,
    /// Views to synthesize between each pair of neighbouring cameras; 0 shows only the real
    /// cameras [default: every output frame is its own view, the smoothest orbit].
    #[arg(long, value_name = "K")]
    interp: Option<u32>,
    /// Flow preset for view synthesis: fast, balanced or quality.
    #[arg(long, default_value = "balanced")]
    preset: String,
    /// Print a JSON report of what was written.
    #[arg(long)]
    json: bool,
}

pub fn options(a: &Args) -> Result<RenderOptions> {
    Ok(RenderOptions {
        at: a.at,
        fps: a.fps,
        duration: a.duration,
        codec: a.codec,
        crf: a.crf,
        size: a.size,
        speed: a.speed.clone(),
        interp: a.interp,
        flow: super::interp::preset(&a.preset)?,
    })
}

pub fn print_report(r: &RenderReport) {
    println!(
        "{}: {} frames, {}x{}, {} fps, {:.2} s, {:?}, {} cameras + {} synthesized views",
        r.output.display(),
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
    let report = render_freeze(&project, &options(&a)?, &a.out, progress)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}
