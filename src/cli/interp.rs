//! `timeslice interp`: one synthesized view between two cameras.

use anyhow::Result;
use std::path::{Path, PathBuf};
use timeslice::calib::load_rig;
use timeslice::flow::{FlowParams, Preset};
use timeslice::interp::{interpolate, Method, PairFlow};
use timeslice::output::{save_image, AtomicOutput};
use timeslice::{Camera, Error, RgbImage};

/// Synthesize the view a fraction of the way from camera A to camera B.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice interp cam01.png cam02.png --at 0.5 --out mid.png\n  timeslice interp rig/cam01.mp4@30 rig/cam02.mp4@30 --at 0.25 --preset quality --out q.png\n  timeslice interp rig/cam01.png rig/cam02.png --rig calib/calibration.json --out mid.png\n\nAn input is an image file or VIDEO@N for frame N of a video."
)]
pub struct Args {
    /// Camera A's image (at 0).
    a: String,
    /// Camera B's image (at 1).
    b: String,
    /// Where between them: 0 is A, 1 is B.
    #[arg(long, default_value_t = 0.5)]
    at: f32,
    /// Output image (PNG or JPEG by extension).
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    synthesis: Synthesis,
    /// Print a JSON report, with the milliseconds of the synthesis (images decoded).
    #[arg(long)]
    json: bool,
    /// Synthesize this many evenly spaced views from the same flows instead of --at, and write
    /// the middle one (for benchmarks: the time covers the flows and every view).
    #[arg(long, default_value_t = 0, hide = true)]
    views: u32,
}

/// How views are synthesized (shared by `interp` and `eval loo`).
#[derive(clap::Args)]
pub struct Synthesis {
    /// Synthesis method: flow (splatting), or the crossfade / nearest baselines.
    #[arg(long, value_enum, default_value = "flow")]
    pub method: Method,
    /// Flow preset: fast, balanced or quality.
    #[arg(long, default_value = "balanced")]
    pub preset: String,
    /// The views' calibration (calibration.json of `timeslice calibrate rig` or its folder,
    /// a COLMAP text model, a Middlebury *_par.txt), cameras named by the images' file
    /// stems: each match then goes where the camera on the arc between the two sees it,
    /// instead of a fraction of the way along its flow.
    #[arg(long, value_name = "CALIBRATION")]
    pub rig: Option<PathBuf>,
}

/// The cameras of a calibration, found by the names of the views.
pub struct Calibration {
    path: PathBuf,
    cameras: Vec<Camera>,
}

impl Calibration {
    /// The camera of view `view` (an image file or VIDEO@N, whose image is `image`), by its
    /// file stem. A camera calibrated at another resolution of the same aspect is rescaled.
    pub fn camera(&self, view: &str, image: &RgbImage) -> Result<Camera> {
        let file = view.rsplit_once('@').map_or(view, |(f, _)| f);
        let stem = Path::new(file)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(file);
        match self.cameras.iter().find(|c| c.name == stem) {
            Some(c) => c.fitted((image.width, image.height)).ok_or_else(|| {
                Error::usage(format!(
                    "{view} is {}x{} but its camera in {} is {}x{}, another shape; give views \
                     of the calibrated size",
                    image.width,
                    image.height,
                    self.path.display(),
                    c.width,
                    c.height
                ))
                .into()
            }),
            None => Err(Error::usage(format!(
                "{view}: the calibration {} has no camera named '{stem}'; calibrate these views \
                 (timeslice calibrate rig) or drop --rig",
                self.path.display()
            ))
            .into()),
        }
    }
}

impl Synthesis {
    /// The calibration given with --rig, if any.
    pub fn calibration(&self) -> Result<Option<Calibration>> {
        let Some(path) = &self.rig else {
            return Ok(None);
        };
        Ok(Some(Calibration {
            cameras: load_rig(path)?,
            path: path.clone(),
        }))
    }
}

pub fn preset(name: &str) -> Result<FlowParams> {
    let p: Preset = name.parse().map_err(|_| {
        Error::usage(format!(
            "unknown preset '{name}': use fast, balanced or quality"
        ))
    })?;
    Ok(FlowParams::preset(p))
}

pub fn run(a: Args) -> Result<()> {
    if !(0.0..=1.0).contains(&a.at) {
        return Err(Error::usage(format!(
            "--at {} must be between 0 (camera A) and 1 (camera B)",
            a.at
        ))
        .into());
    }
    let (method, params) = (a.synthesis.method, preset(&a.synthesis.preset)?);
    let calibration = a.synthesis.calibration()?;
    let (ia, ib) = (super::load_image(&a.a)?, super::load_image(&a.b)?);
    let cams = match (&method, calibration) {
        (Method::Flow, Some(c)) => Some((c.camera(&a.a, &ia)?, c.camera(&a.b, &ib)?)),
        _ => None,
    };
    super::refuse_inputs(
        &[&a.out],
        &[&a.a, &a.b],
        a.synthesis.rig.as_deref().as_slice(),
    )?;
    // Fail now, before computing anything, on a bad output name or an unwritable folder.
    image::ImageFormat::from_path(&a.out)
        .map_err(|_| Error::usage(format!("{}: name the output .png or .jpg", a.out.display())))?;
    drop(AtomicOutput::file(&a.out)?);
    let t0 = std::time::Instant::now();
    let pair = || -> Result<PairFlow> {
        let pair = PairFlow::compute(&ia, &ib, &params)?;
        Ok(match &cams {
            Some((ca, cb)) => pair.with_cameras(ca, cb),
            None => pair,
        })
    };
    let view = if a.views > 0 && method == Method::Flow {
        let pair = pair()?;
        let mut views: Vec<_> = (1..=a.views)
            .map(|k| pair.synthesize(k as f32 / (a.views + 1) as f32))
            .collect();
        views.swap_remove(views.len() / 2)
    } else if cams.is_some() {
        pair()?.synthesize(a.at)
    } else {
        interpolate(&ia, &ib, a.at, method, &params)?
    };
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    save_image(&a.out, view.to_image())?;
    if a.json {
        let report =
            serde_json::json!({"out": a.out, "at": a.at, "method": method, "milliseconds": ms});
        println!("{report}");
    } else {
        println!(
            "{}: view at {} between {} and {} ({ms:.0} ms)",
            a.out.display(),
            a.at,
            a.a,
            a.b
        );
    }
    Ok(())
}
