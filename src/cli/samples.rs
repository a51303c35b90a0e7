//! `timeslice samples`: renders a synthetic rig with ground truth.

use anyhow::Result;
use std::path::{Path, PathBuf};
use timeslice::progress::Progress;
use timeslice::project::Layout;
use timeslice::synth::{generate, SampleOptions, SampleOutput, SampleSpec};
use timeslice::Rational;

/// Render a synthetic rig: a scene filmed by N cameras, with ground-truth poses.
///
/// The scene has a textured ground, props at several depths, a backdrop, a goalkeeper in
/// mid-dive beside the focus (--figure), a ball flying on a parabola (the event, at its apex halfway
/// through) and a small saturated red marker ball on a pedestal at the focus point, which
/// every camera aims at. Writes one H.264 MP4 per camera (or one PNG
/// still per camera with --stills, taken at the event), a timeslice.toml, and the ground
/// truth in DIR/truth: truth.json and a COLMAP text model (truth/colmap).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice samples --out rig\n  timeslice samples --out arc --cameras 24 --layout arc --arc-degrees 120 --size 1920x1080\n  timeslice samples --out shop --cameras 36 --stills --seed 7"
)]
pub struct Args {
    /// Output folder (created if missing; files of the same names are replaced).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Number of cameras (24 on a ring: 15 degrees apart, what view synthesis handles well).
    #[arg(long, default_value_t = 24)]
    pub cameras: usize,
    /// A closed ring, or an open arc.
    #[arg(long, value_enum, default_value = "ring")]
    pub layout: Layout,
    /// Span of an arc layout, degrees.
    #[arg(long, default_value_t = 180.0)]
    pub arc_degrees: f64,
    /// Image size.
    #[arg(long, value_parser = super::parse_size, default_value = "1280x720", value_name = "WxH")]
    pub size: (u32, u32),
    /// Frames per camera.
    #[arg(long, default_value_t = 60)]
    pub frames: u32,
    /// Frame rate, e.g. 30 or 30000/1001.
    #[arg(long, value_parser = super::parse_fps, default_value = "30")]
    pub fps: Rational,
    /// Varies the props and textures; the same seed gives the same footage.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Aim every camera off the focus by up to DEG degrees (yaw and pitch), reproducibly
    /// from the seed: footage to test alignment with.
    #[arg(long, default_value_t = 0.0, value_name = "DEG")]
    pub aim_jitter: f64,
    /// Roll every camera about its optical axis by up to DEG degrees.
    #[arg(long, default_value_t = 0.0, value_name = "DEG")]
    pub roll_jitter: f64,
    /// The lenses' horizontal field of view, degrees (a long lens: 10-15).
    #[arg(long, default_value_t = timeslice::synth::HFOV_DEGREES, value_name = "DEG")]
    pub hfov: f64,
    /// Write one PNG still per camera (at the event) instead of videos.
    #[arg(long)]
    pub stills: bool,
    /// Also write the exact optical flow between neighbouring cameras at the event frame, with
    /// occlusion masks: truth/flow/camA-camB.flo and camA-camB-occlusion.png (255 = hidden in B).
    #[arg(long)]
    pub truth_flow: bool,
    /// Also render M ground-truth views between each pair of neighbouring cameras at the event
    /// frame (fractions k/(M+1)): truth/views/camA-camB/0.500.png ..., listed with their
    /// cameras in truth/views/views.json.
    #[arg(long, default_value_t = 0, value_name = "M")]
    pub truth_views: u32,
    /// A turntable capture instead of the street: a product (seeded) turning in front of one
    /// fixed camera on a plain white backdrop, one still per shot (shot01.png..), in capture
    /// order; --cameras is the number of shots per turn (or over --layout arc
    /// --arc-degrees). The truth lists where the camera stood relative to the product.
    #[arg(long)]
    pub turntable: bool,
    /// Add a goalkeeper in mid-dive beside the red marker: a subject a viewer recognises.
    #[arg(long)]
    pub figure: bool,
}

impl Args {
    pub fn spec(&self) -> SampleSpec {
        SampleSpec {
            cameras: self.cameras,
            layout: self.layout,
            arc_degrees: self.arc_degrees,
            width: self.size.0,
            height: self.size.1,
            frames: self.frames,
            fps: self.fps,
            seed: self.seed,
            aim_jitter_degrees: self.aim_jitter,
            roll_jitter_degrees: self.roll_jitter,
            hfov_degrees: self.hfov,
            turntable: self.turntable,
            figure: self.figure,
        }
    }
}

pub fn make(
    out: &Path,
    spec: &SampleSpec,
    opts: SampleOptions,
    progress: &dyn Progress,
) -> Result<SampleOutput> {
    // Interrupted or failed, the run leaves no half-made rig (nor an empty folder) behind.
    let folder = timeslice::output::NewFolder::create(out)?;
    let made = generate(out, spec, opts, progress)?;
    folder.keep();
    Ok(made)
}

pub fn run(a: Args, progress: &dyn Progress) -> Result<()> {
    let opts = SampleOptions {
        stills: a.stills || a.turntable,
        truth_flow: a.truth_flow,
        truth_views: a.truth_views,
    };
    let made = make(&a.out, &a.spec(), opts, progress)?;
    let what = if a.turntable {
        "a turntable, one still per shot".to_string()
    } else if a.stills {
        "one still each, at the event".to_string()
    } else {
        format!(
            "{} frames, event at {:.3} s (frame {})",
            a.frames, made.event_time, made.event_frame
        )
    };
    println!(
        "{}: {} cameras at {}x{}, {what}",
        a.out.display(),
        made.cameras.len(),
        a.size.0,
        a.size.1
    );
    println!("  project:      {}", made.project.display());
    println!("  ground truth: {}", made.truth.display());
    println!("  COLMAP model: {}", made.colmap.display());
    if a.truth_flow {
        println!(
            "  truth flow:   {}",
            made.truth.with_file_name("flow").display()
        );
    }
    Ok(())
}
