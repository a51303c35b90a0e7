//! Argument parsing (clap derive) and dispatch; one file per subcommand.

mod batch;
mod calibrate;
mod calibrate_rig;
mod demo;
mod eval;
mod flow;
mod init;
mod interp;
mod probe;
mod progress;
mod render;
mod samples;
mod spin;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

const ABOUT: &str = "Bullet-time clips from a ring or arc of cameras: the moment freezes while a virtual camera orbits the subject.";

const AFTER_HELP: &str = "\
Quick start:
  timeslice demo --out demo-out               # render a sample rig and a clip
  timeslice samples --out rig --cameras 8     # synthetic footage with ground truth
  timeslice probe rig                         # what each camera holds
  timeslice render rig --at 1.0 --out c.mp4   # frozen moment at 1.0 s

Cameras can be given as a project file (timeslice.toml), a footage folder, or a list of
files in rig order. Exit status: 0 success, 1 failure, 2 usage error.";

#[derive(Parser)]
#[command(name = "timeslice", version, about = ABOUT, after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    /// Print no progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Init(init::Args),
    Probe(probe::Args),
    Samples(samples::Args),
    Render(Box<render::Args>),
    Demo(demo::Args),
    Flow(flow::Args),
    Interp(interp::Args),
    Eval(eval::Args),
    Calibrate(calibrate::Args),
    Spin(Box<spin::Args>),
    Batch(batch::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Ctrl-C: remove the temporary outputs, so nothing half-written stays behind.
    let _ = ctrlc::set_handler(|| {
        timeslice::output::remove_unfinished();
        eprintln!("error: interrupted; no output was written");
        std::process::exit(130);
    });
    let progress = progress::Bars::new(cli.quiet);
    let result = match cli.command {
        Command::Init(a) => init::run(a),
        Command::Probe(a) => probe::run(a, &progress),
        Command::Samples(a) => samples::run(a, &progress),
        Command::Render(a) => render::run(*a, &progress),
        Command::Demo(a) => demo::run(a, &progress),
        Command::Flow(a) => flow::run(a),
        Command::Interp(a) => interp::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Calibrate(a) => calibrate::run(a, &progress),
        Command::Spin(a) => spin::run(*a, &progress),
        Command::Batch(a) => batch::run(a, &progress),
    };
    progress.clear();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e
                .downcast_ref::<timeslice::Error>()
                .map(|e| e.is_usage())
                .unwrap_or(false);
            // One line: the library's messages already name the file or camera.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// Parses `WIDTHxHEIGHT`.
/// One still frame of camera `cam` at `at` (its first frame when `None`), the moment counted
/// at the stream's frame rate (the project's, else one per second, for an image folder):
/// what calibrate rig and spin take from each camera. `what` names the camera in errors.
pub fn still_of(
    project: &timeslice::project::Project,
    cam: &timeslice::project::CameraSource,
    at: Option<timeslice::TimeSpec>,
    what: &str,
) -> anyhow::Result<timeslice::RgbImage> {
    use anyhow::Context;
    let path = project.source_path(cam);
    let mut src = timeslice::media::open(&path).with_context(|| format!("{what} {}", cam.name))?;
    let index = match at {
        None => 0,
        Some(t) => {
            let info = src.info();
            let fps = info
                .fps
                .or(cam.fps)
                .unwrap_or(timeslice::Rational::new(1, 1));
            t.to_frame(fps, info.timecode_frames())? + cam.offset
        }
    };
    src.frame(index)
        .with_context(|| format!("{what} {}: frame {index}", cam.name))
}

pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("bad size '{s}': use WIDTHxHEIGHT, e.g. 1280x720"))?;
    let w: u32 = w
        .trim()
        .parse()
        .map_err(|_| format!("bad width in '{s}': use e.g. 1280x720"))?;
    let h: u32 = h
        .trim()
        .parse()
        .map_err(|_| format!("bad height in '{s}': use e.g. 1280x720"))?;
    if w == 0 || h == 0 {
        return Err(format!("bad size '{s}': width and height must be positive"));
    }
    Ok((w, h))
}

pub fn parse_time(s: &str) -> Result<timeslice::TimeSpec, String> {
    s.parse().map_err(|e: timeslice::Error| e.to_string())
}

pub fn parse_fps(s: &str) -> Result<timeslice::Rational, String> {
    s.parse().map_err(|e: timeslice::Error| e.to_string())
}

/// The file an input spec names: the path itself, or the video of `VIDEO@N`.
pub fn input_path(spec: &str) -> std::path::PathBuf {
    let direct = std::path::Path::new(spec);
    match spec.rsplit_once('@') {
        Some((path, n)) if !direct.exists() && n.parse::<i64>().is_ok() => path.into(),
        _ => direct.to_path_buf(),
    }
}

/// Refuses each of `outputs` that names one of the input specs `inputs` (see
/// [`input_path`]) or of the input `files`: no command writes over what the user gave it.
pub fn refuse_inputs(
    outputs: &[&std::path::Path],
    inputs: &[&str],
    files: &[&std::path::Path],
) -> timeslice::Result<()> {
    let paths: Vec<std::path::PathBuf> = inputs.iter().map(|s| input_path(s)).collect();
    let refs: Vec<&std::path::Path> = paths
        .iter()
        .map(|p| p.as_path())
        .chain(files.iter().copied())
        .collect();
    outputs
        .iter()
        .try_for_each(|o| timeslice::output::refuse_input(o, &refs))
}

/// Loads an image file, the first frame of any camera source, or `VIDEO@N` (frame N).
pub fn load_image(spec: &str) -> timeslice::Result<timeslice::RgbImage> {
    use std::path::Path;
    use timeslice::{media, Error};
    let direct = Path::new(spec);
    if direct.exists() {
        return media::open(direct)?.frame(0);
    }
    if let Some((path, n)) = spec.rsplit_once('@') {
        let index: i64 = n.parse().map_err(|_| {
            Error::usage(format!(
                "{spec}: after @ give a frame number, e.g. {path}@30"
            ))
        })?;
        return media::open(Path::new(path))?.frame(index);
    }
    Err(Error::NotFound(direct.to_path_buf()))
}
