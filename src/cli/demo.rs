//! `timeslice demo`: renders a sample rig, then a frozen-moment clip of its event.

use anyhow::Result;
use std::path::PathBuf;
use timeslice::progress::Progress;
use timeslice::project::Project;
use timeslice::render::{render, RenderOptions};
use timeslice::synth::SampleSpec;
use timeslice::TimeSpec;

/// Render a 24-camera sample rig (a 180 degree arc) and a frozen-moment orbit of its event, with
/// views synthesized between the cameras, and say where they are.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  timeslice demo --out demo-out && ls demo-out")]
pub struct Args {
    /// Output folder.
    #[arg(long, short, default_value = "demo-out")]
    out: PathBuf,
}

pub fn run(a: Args, progress: &dyn Progress) -> Result<()> {
    std::fs::create_dir_all(&a.out)?;
    let rig_dir = a.out.join("rig");
    // A half orbit: 24 cameras on a 180 degree arc, about 8 degrees apart, with a synthesized view
    // at every output frame between them.
    let spec = SampleSpec {
        cameras: 24,
        layout: timeslice::project::Layout::Arc,
        arc_degrees: 180.0,
        ..SampleSpec::default()
    };
    let made = super::samples::make(&rig_dir, &spec, Default::default(), progress)?;
    let project = Project::load(&made.project)?;
    let mut opts = RenderOptions::at(TimeSpec::Frame(made.event_frame as i64));
    opts.duration = Some(4.0);
    let clip = a.out.join("clip.mp4");
    let report = render(&project, &opts, &clip, progress)?;
    println!(
        "rig:          {} ({} cameras, {}x{}, {} frames at {} fps)",
        rig_dir.display(),
        spec.cameras,
        spec.width,
        spec.height,
        spec.frames,
        spec.fps
    );
    println!(
        "ground truth: {} and {}",
        made.truth.display(),
        made.colmap.display()
    );
    print!("clip:         ");
    super::render::print_report(&report);
    println!(
        "frozen at:    {:.3} s (frame {}), the ball's apex",
        made.event_time, made.event_frame
    );
    Ok(())
}
