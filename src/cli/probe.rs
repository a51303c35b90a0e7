//! `timeslice probe`: one row per camera, and what differs between cameras.

use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
use timeslice::media::{self, SourceInfo};
use timeslice::progress::Progress;
use timeslice::project::Project;

/// Show each camera's resolution, frame rate, frame count, duration, codec, pixel format,
/// timecode and audio, and flag what differs between cameras.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice probe footage/\n  timeslice probe rig/timeslice.toml --json"
)]
pub struct Args {
    /// A project file, a footage folder, or camera files in rig order.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row {
    camera: String,
    #[serde(flatten)]
    info: SourceInfo,
    /// Frames whose data is in the file (fewer than `frame_count`: truncated or corrupt).
    frames_present: u64,
}

#[derive(Serialize)]
struct Report {
    cameras: Vec<Row>,
    /// Properties whose values differ between cameras.
    differences: Vec<String>,
}

fn fps_text(i: &SourceInfo) -> String {
    i.fps.map(|f| f.to_string()).unwrap_or_else(|| "-".into())
}

/// Names the properties that are not the same for every camera.
fn differences(rows: &[Row]) -> Vec<String> {
    type Key = fn(&SourceInfo) -> String;
    let keys: [(&str, Key); 7] = [
        ("resolution", |i| format!("{}x{}", i.width, i.height)),
        ("fps", fps_text),
        ("frames", |i| i.frame_count.to_string()),
        ("codec", |i| i.codec.clone()),
        ("pixel format", |i| i.pixel_format.clone()),
        ("timecode", |i| i.timecode.is_some().to_string()),
        ("audio", |i| i.audio.to_string()),
    ];
    keys.iter()
        .filter(|(_, k)| rows.iter().any(|r| k(&r.info) != k(&rows[0].info)))
        .map(|(name, _)| name.to_string())
        .collect()
}

pub fn run(a: Args, progress: &dyn Progress) -> Result<()> {
    let project = Project::from_inputs(&a.inputs)?;
    progress.begin("probing", project.cameras.len() as u64);
    let mut rows = Vec::new();
    for cam in &project.cameras {
        let path = project.source_path(cam);
        let context = |e| anyhow::Error::new(e).context(format!("camera {}", cam.name));
        let info = media::probe(&path).map_err(context)?;
        let frames_present = media::frames_present(&path).map_err(context)?;
        rows.push(Row {
            camera: cam.name.clone(),
            info,
            frames_present,
        });
        progress.advance(1);
    }
    progress.end();
    let report = Report {
        differences: differences(&rows),
        cameras: rows,
    };
    // A file cut short (an interrupted copy) keeps a header that promises every frame.
    let damaged: Vec<String> = report
        .cameras
        .iter()
        .filter(|r| r.frames_present < r.info.frame_count)
        .map(|r| {
            format!(
                "camera {} ({}) has only {} of its {} frames readable: the file is truncated or corrupt; copy or export it again",
                r.camera,
                r.info.path.display(),
                r.frames_present,
                r.info.frame_count
            )
        })
        .collect();
    let verdict = || -> Result<()> {
        match damaged.is_empty() {
            true => Ok(()),
            false => Err(anyhow::anyhow!(damaged.join("; "))),
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return verdict();
    }
    println!(
        "{:<14} {:>11} {:>10} {:>7} {:>9} {:<10} {:<12} {:<12} {:<5}",
        "camera",
        "resolution",
        "fps",
        "frames",
        "duration",
        "codec",
        "pix_fmt",
        "timecode",
        "audio"
    );
    for r in &report.cameras {
        let i = &r.info;
        println!(
            "{:<14} {:>11} {:>10} {:>7} {:>8.3}s {:<10} {:<12} {:<12} {:<5}",
            r.camera,
            format!("{}x{}", i.width, i.height),
            fps_text(i),
            i.frame_count,
            i.duration,
            i.codec,
            i.pixel_format,
            i.timecode.as_deref().unwrap_or("-"),
            if i.audio { "yes" } else { "no" }
        );
    }
    if report.differences.is_empty() {
        println!("all {} cameras match", report.cameras.len());
    } else {
        println!("differs between cameras: {}", report.differences.join(", "));
    }
    verdict()
}
