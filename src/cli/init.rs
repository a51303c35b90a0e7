//! `timeslice init`: writes a project file listing the cameras in rig order.

use anyhow::Result;
use std::path::PathBuf;
use timeslice::project::{Layout, Project, PROJECT_FILE};

/// Write a timeslice.toml listing the cameras in rig order.
///
/// File names are sorted naturally (cam2 before cam10). Edit the file to reorder cameras,
/// set per-camera frame offsets, or name a calibration.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice init footage/                  # writes footage/timeslice.toml\n  timeslice init a.mp4 b.mp4 c.mp4 --out rig.toml"
)]
pub struct Args {
    /// A footage folder, or camera files (videos, images, image folders) in rig order.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Where to write the project file [default: FOLDER/timeslice.toml for one folder, else ./timeslice.toml].
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Rig layout: a closed ring or an open arc.
    #[arg(long, value_enum)]
    layout: Option<Layout>,
    /// Replace an existing project file.
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args) -> Result<()> {
    let single_dir = a.inputs.len() == 1 && a.inputs[0].is_dir();
    let mut project = if single_dir {
        let p = Project::scan(&a.inputs[0])?;
        p.check()?;
        p
    } else {
        Project::from_inputs(&a.inputs)?
    };
    project.layout = a.layout;
    let out = a.out.unwrap_or_else(|| {
        if single_dir {
            a.inputs[0].join(PROJECT_FILE)
        } else {
            PathBuf::from(PROJECT_FILE)
        }
    });
    if out.exists() && !a.force {
        return Err(timeslice::Error::usage(format!(
            "{}: exists already; pass --force to replace it",
            out.display()
        ))
        .into());
    }
    // Sources are written relative to the project file's folder when they lie below it.
    let base = out.parent().map(PathBuf::from).unwrap_or_default();
    for cam in &mut project.cameras {
        let full = project.root.join(&cam.source);
        let abs = full.canonicalize().unwrap_or(full);
        let base_abs = if base.as_os_str().is_empty() {
            std::env::current_dir()?
        } else {
            base.canonicalize()?
        };
        cam.source = abs
            .strip_prefix(&base_abs)
            .map(PathBuf::from)
            .unwrap_or(abs);
    }
    project.save(&out)?;
    println!("{}: {} cameras", out.display(), project.cameras.len());
    for (i, c) in project.cameras.iter().enumerate() {
        println!("  {:>3}  {:<16} {}", i + 1, c.name, c.source.display());
    }
    Ok(())
}
