//! `timeslice calibrate rig`: camera poses, and the focal length
//! when unknown, from one frame per camera, written as DIR/calibration.json and DIR/colmap/.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use timeslice::calib::opencv_yaml::CameraYaml;
use timeslice::calib::rig::{self, RigOptions, RigOrder, RigView};
use timeslice::camera::Intrinsics;
use timeslice::frame::Plane;
use timeslice::media;
use timeslice::progress::Progress;
use timeslice::project::{Layout, Project};
use timeslice::TimeSpec;

/// Calibrate a rig from its own footage: every camera's pose (and the shared focal length when
/// not given), from one frame per camera, by matching neighbouring cameras, robust two-view
/// geometry, rotation averaging and a global bundle adjustment.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice calibrate rig rig/ --out calib/\n  timeslice calibrate rig rig/timeslice.toml --at 2.0 --focal 1758 --out calib/\n  timeslice calibrate rig a.png b.png c.png d.png --layout arc --out calib/\n  timeslice calibrate rig photos/*.jpg --order auto --intrinsics camera.yaml --out calib/\n\nWrites DIR/calibration.json, DIR/colmap/ (cameras.txt, images.txt, points3D.txt) and\nDIR/sheet.png (every camera with the triangulated points reprojected over it). The world\nframe: origin at the focus point, +z up, unit = mean camera distance from the focus."
)]
pub struct RigArgs {
    /// A project file, a footage folder, or camera files in rig order.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The moment to calibrate from [default: the first frame].
    #[arg(long, value_parser = super::parse_time, value_name = "TIME")]
    pub at: Option<TimeSpec>,
    /// Focal length in pixels (square pixels, principal point at the centre, no distortion)
    /// [default: estimated].
    #[arg(long, value_name = "PX", conflicts_with = "intrinsics")]
    pub focal: Option<f64>,
    /// Known intrinsics shared by every camera: an OpenCV YAML file (from `timeslice
    /// calibrate board` or OpenCV's calibrateCamera), or the first camera of a calibration
    /// (a COLMAP text model folder, calibration.json or a Middlebury *_par.txt); rescaled
    /// when the footage has another resolution of the same shape; its lens distortion is
    /// removed from the matches.
    #[arg(long, value_name = "FILE")]
    pub intrinsics: Option<PathBuf>,
    /// ring (the last camera neighbours the first) or arc [default: the project's, else ring].
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// Output folder.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Width of the working copy for matching, pixels.
    #[arg(long, default_value_t = 960)]
    pub work_width: usize,
    /// Match each camera with this many following cameras.
    #[arg(long, default_value_t = 2)]
    pub neighbours: usize,
    /// Lowe's ratio for descriptor matches (higher: more, less distinctive matches).
    #[arg(long, default_value_t = 0.8)]
    pub ratio: f32,
    /// given: the cameras come in rig order; auto: find the order (every pair is matched,
    /// cameras mounted upside down are recognised), listed in the output in that order.
    #[arg(long, value_enum, default_value_t = OrderArg::Given)]
    pub order: OrderArg,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the calibration even when its self-check doubts it (cameras at very different
    /// distances from the subject, steps round it that turn back or differ several-fold, a
    /// field of view no lens has); the doubts are still printed.
    #[arg(long)]
    pub accept_poor: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OrderArg {
    Given,
    Auto,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LayoutArg {
    Ring,
    Arc,
}

/// Known intrinsics and the image size they are for: an OpenCV YAML file, or the first camera
/// of any calibration `calib::load_rig` reads.
fn read_intrinsics(path: &Path) -> Result<(u32, u32, Intrinsics)> {
    let yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if yaml {
        let y = CameraYaml::read(path)?;
        return Ok((y.width, y.height, y.intrinsics));
    }
    let cams = timeslice::calib::load_rig(path)?;
    let c = cams
        .first()
        .ok_or_else(|| timeslice::Error::input(path, "the calibration has no camera"))?;
    Ok((c.width, c.height, c.intrinsics))
}

/// The intrinsics at the footage's resolution (the first camera's).
fn scaled(y: &(u32, u32, Intrinsics), project: &Project, a: &RigArgs) -> Result<Intrinsics> {
    let &(width, height, intrinsics) = y;
    let path = a.intrinsics.as_deref().expect("called with --intrinsics");
    let first = project
        .cameras
        .first()
        .context("the project lists no cameras")?;
    let info = media::probe(&project.source_path(first))?;
    let (sx, sy) = (
        info.width as f64 / width as f64,
        info.height as f64 / height as f64,
    );
    if (sx - sy).abs() > 0.01 * sx {
        return Err(timeslice::Error::input(
            path,
            format!(
                "the intrinsics are for {}x{} images but the footage is {}x{}, another shape; calibrate at the footage's resolution",
                width, height, info.width, info.height
            ),
        )
        .into());
    }
    Ok(intrinsics.rescaled(sx, sy))
}

/// Calibrates `project` from one frame per camera at `at` (frame 0 when `None`) and writes
/// `out`/calibration.json and `out`/colmap/.
pub fn calibrate_project(
    project: &Project,
    at: Option<TimeSpec>,
    opts: &RigOptions,
    out: &Path,
    accept_poor: bool,
    progress: &dyn Progress,
) -> Result<rig::calibration_json::RigCalibration> {
    progress.begin("reading frames", project.cameras.len() as u64);
    let mut views = Vec::new();
    // Small copies for the contact sheet, so that no full frames are kept.
    let mut thumbs = Vec::new();
    for cam in &project.cameras {
        let img = super::still_of(project, cam, at, "camera")?;
        let scale = (SHEET_TILE as f64 / img.width as f64).min(1.0);
        thumbs.push(image::imageops::resize(
            &img.to_image(),
            ((img.width as f64 * scale) as u32).max(1),
            ((img.height as f64 * scale) as u32).max(1),
            image::imageops::FilterType::Triangle,
        ));
        views.push(RigView {
            name: cam.name.clone(),
            luma: Plane::luma(&img),
        });
        progress.advance(1);
    }
    progress.end();
    let result = rig::calibrate_rig(&views, opts, progress)?;
    // The self-check, before anything is written: a wrong calibration must not look right.
    let doubts = rig::self_check::doubts(&result, opts.layout);
    if !doubts.is_empty() {
        if !accept_poor {
            anyhow::bail!(
                "the calibration does not look like a {} of cameras ({} of {} registered): {}; nothing was written. Give the focal length (--focal or --intrinsics), check the rig order and --layout, or keep it anyway with --accept-poor",
                match opts.layout {
                    Layout::Ring => "ring",
                    Layout::Arc => "arc",
                },
                result.cameras.len(),
                project.cameras.len(),
                doubts
                    .iter()
                    .map(|d| d.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        for d in &doubts {
            progress.warn(&format!("calibration kept with --accept-poor: {d}"));
        }
    }
    let file_of = |name: &str| {
        project
            .cameras
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.source.file_name())
            .map(|f| f.to_string_lossy().replace(char::is_whitespace, "_"))
            .unwrap_or_else(|| format!("{name}.png"))
    };
    // All three outputs land together, or none: a rerun that fails keeps the last good one.
    timeslice::output::write_into_folder(out, |dir| {
        rig::calibration_json::write(&dir.join("calibration.json"), &result, &doubts)?;
        rig::write_colmap(&dir.join("colmap"), &result, file_of)?;
        write_sheet(&dir.join("sheet.png"), project, &thumbs, &result)
            .map_err(|e| timeslice::Error::output(out.join("sheet.png"), e.to_string()))
    })?;
    Ok(result)
}

/// Width of a camera's tile on the contact sheet, pixels.
const SHEET_TILE: u32 = 320;

/// The contact sheet: every camera's frame with the triangulated points reprojected over it
/// (green; cameras that could not be registered get a red frame and no points).
fn write_sheet(
    path: &Path,
    project: &Project,
    thumbs: &[image::RgbImage],
    result: &rig::calibration_json::RigCalibration,
) -> Result<()> {
    let (tw, th) = (thumbs[0].width(), thumbs[0].height());
    let cols = 4u32.min(thumbs.len() as u32);
    let rows = (thumbs.len() as u32).div_ceil(cols);
    let gap = 4;
    let mut sheet = image::RgbImage::from_pixel(
        cols * (tw + gap) + gap,
        rows * (th + gap) + gap,
        image::Rgb([32, 32, 32]),
    );
    for (i, (cam, thumb)) in project.cameras.iter().zip(thumbs).enumerate() {
        let mut tile = thumb.clone();
        match result.cameras.iter().find(|c| c.camera.name == cam.name) {
            Some(c) => {
                let s = tw as f64 / c.camera.width as f64;
                for p in &result.points {
                    let Some(q) = c.camera.project(p) else {
                        continue;
                    };
                    let (x, y) = ((q.x + 0.5) * s - 0.5, (q.y + 0.5) * s - 0.5);
                    for (dx, dy) in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)] {
                        let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
                        if px >= 0 && py >= 0 && px < tw as i64 && py < th as i64 {
                            tile.put_pixel(px as u32, py as u32, image::Rgb([40, 255, 40]));
                        }
                    }
                }
            }
            None => {
                for x in 0..tw {
                    for y in [0, 1, th - 2, th - 1] {
                        tile.put_pixel(x, y, image::Rgb([230, 30, 30]));
                    }
                }
            }
        }
        let (c, r) = (i as u32 % cols, i as u32 / cols);
        image::imageops::replace(
            &mut sheet,
            &tile,
            (gap + c * (tw + gap)) as i64,
            (gap + r * (th + gap)) as i64,
        );
    }
    timeslice::output::save_image(path, sheet)?;
    Ok(())
}

pub fn run(a: RigArgs, progress: &dyn Progress) -> Result<()> {
    if let Some(f) = a.focal {
        if !(f.is_finite() && f > 0.0) {
            return Err(timeslice::Error::usage(format!(
                "--focal {f} is not usable: give the focal length in pixels, e.g. 1500"
            ))
            .into());
        }
    }
    let project = Project::from_inputs(&a.inputs)?;
    let layout = match a.layout {
        Some(LayoutArg::Ring) => Layout::Ring,
        Some(LayoutArg::Arc) => Layout::Arc,
        None => project.layout.unwrap_or(Layout::Ring),
    };
    let intrinsics = match &a.intrinsics {
        Some(path) => Some(read_intrinsics(path)?),
        None => None,
    };
    let opts = RigOptions {
        layout,
        intrinsics: intrinsics.map(|y| scaled(&y, &project, &a)).transpose()?,
        focal: a.focal,
        work_width: a.work_width.max(64),
        neighbours: a.neighbours.max(1),
        ratio: a.ratio.clamp(0.5, 1.0),
        order: match a.order {
            OrderArg::Given => RigOrder::Given,
            OrderArg::Auto => RigOrder::Auto,
        },
        ..Default::default()
    };
    let result = calibrate_project(&project, a.at, &opts, &a.out, a.accept_poor, progress)?;
    if a.json {
        let text = std::fs::read_to_string(a.out.join("calibration.json"))?;
        println!("{text}");
        return Ok(());
    }
    let f = result
        .cameras
        .first()
        .map(|c| c.camera.intrinsics.fx)
        .unwrap_or(0.0);
    println!(
        "{}: {} of {} cameras registered, focal {:.1} px, reprojection RMS {:.3} px, {} points",
        a.out.display(),
        result.cameras.len(),
        project.cameras.len(),
        f,
        result.rms,
        result.points.len()
    );
    if opts.order == RigOrder::Auto {
        println!("rig order found: {}", result.order.join(" "));
    }
    let doubts = rig::self_check::doubts(&result, opts.layout);
    for c in &result.cameras {
        let confidence = rig::self_check::confidence(c, &doubts);
        println!(
            "  {}: confidence {:.2} ({}), reprojection RMS {:.3} px over {} observations{}",
            c.camera.name,
            confidence,
            rig::self_check::confidence_word(confidence),
            c.rms,
            c.inliers,
            if c.spacing_assumed {
                ", distance assumed"
            } else {
                ""
            }
        );
    }
    for u in &result.unregistered {
        println!("not registered: {}: {}", u.name, u.reason);
    }
    let spaced: Vec<&str> = result
        .cameras
        .iter()
        .filter(|c| c.spacing_assumed)
        .map(|c| c.camera.name.as_str())
        .collect();
    if !spaced.is_empty() {
        println!(
            "regular spacing assumed for {}: no point is seen by them and a third camera, so \
             their distances from their neighbours are the rig's mean spacing, not measured \
             (more cameras between them would measure it)",
            spaced.join(", ")
        );
    }
    Ok(())
}
