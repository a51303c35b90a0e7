//! `timeslice calibrate`: camera calibration.

use anyhow::Result;
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};
use timeslice::calib::board::{calibrate_board, BoardCalibration};
use timeslice::calib::chessboard::Pattern;
use timeslice::calib::opencv_yaml::CameraYaml;
use timeslice::frame::Plane;
use timeslice::output::AtomicOutput;

/// Calibrate cameras.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: CalibrateCommand,
}

#[derive(clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum CalibrateCommand {
    Board(BoardArgs),
    Rig(super::calibrate_rig::RigArgs),
}

pub fn run(a: Args, progress: &dyn timeslice::progress::Progress) -> Result<()> {
    match a.command {
        CalibrateCommand::Board(b) => run_board(b),
        CalibrateCommand::Rig(r) => super::calibrate_rig::run(r, progress),
    }
}

/// One camera's intrinsics and distortion (k1, k2, p1, p2, k3) from chessboard images.
///
/// Finds the board's inner corners in every image (images without the whole board are listed
/// and skipped), then fits a pinhole camera with OpenCV's radial-tangential distortion (Zhang's
/// method, refined by Levenberg-Marquardt). Writes OpenCV FileStorage YAML that
/// cv2.FileStorage and timeslice both read.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  timeslice calibrate board shots/*.jpg --pattern 9x6 --square 25mm --out camera.yaml
  timeslice calibrate board shots/*.jpg --pattern 11x8 --out camera.yaml --json")]
pub struct BoardArgs {
    /// Images of the board from one camera (image files or VIDEO@N), at least three.
    #[arg(required = true)]
    images: Vec<String>,
    /// INNER corners as COLSxROWS: a board of 10x7 squares is 9x6.
    #[arg(long, value_parser = parse_pattern)]
    pattern: Pattern,
    /// Square size: 25mm, 2.5cm, 0.025m, or a plain number in your own unit. Only the poses
    /// depend on it.
    #[arg(long, default_value = "1", value_parser = parse_square)]
    square: Square,
    /// Output: OpenCV FileStorage YAML.
    #[arg(long)]
    out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug)]
struct Square {
    /// In millimetres when a unit was given, else in the user's unit.
    value: f64,
    unit: &'static str,
}

fn parse_pattern(s: &str) -> Result<Pattern, String> {
    s.parse().map_err(|e: timeslice::Error| e.to_string())
}

fn parse_square(s: &str) -> Result<Square, String> {
    let t = s.trim();
    let (num, scale, unit) = if let Some(n) = t.strip_suffix("mm") {
        (n, 1.0, "mm")
    } else if let Some(n) = t.strip_suffix("cm") {
        (n, 10.0, "mm")
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1000.0, "mm")
    } else {
        (t, 1.0, "")
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(Square {
            value: v * scale,
            unit,
        }),
        _ => Err(format!(
            "bad square size '{s}': give a positive size such as 25mm, 2.5cm or 0.025m"
        )),
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    pattern: String,
    square: f64,
    square_unit: &'a str,
    images: usize,
    used: usize,
    not_found: &'a [String],
    width: u32,
    height: u32,
    rms: f64,
    fx: f64,
    fy: f64,
    cx: f64,
    cy: f64,
    /// k1, k2, p1, p2, k3.
    dist: [f64; 5],
    views: Vec<ViewSummary<'a>>,
    out: &'a Path,
}

#[derive(Serialize)]
struct ViewSummary<'a> {
    image: &'a str,
    rms: f64,
}

fn run_board(a: BoardArgs) -> Result<()> {
    let specs: Vec<&str> = a.images.iter().map(String::as_str).collect();
    super::refuse_inputs(&[&a.out], &specs, &[])?;
    // Check the output folder before any work; nothing appears under --out unless all works.
    let out = AtomicOutput::file(&a.out)?;
    let images: Vec<(String, Plane)> = a
        .images
        .par_iter()
        .map(|spec| {
            let img = super::load_image(spec)?;
            Ok((spec.clone(), Plane::luma(&img)))
        })
        .collect::<timeslice::Result<_>>()?;
    let cal: BoardCalibration = calibrate_board(&images, a.pattern, a.square.value)?;
    for name in &cal.not_found {
        eprintln!(
            "warning: {name}: chessboard {} not found (whole board with {} inner corners needed); skipped",
            a.pattern,
            a.pattern.count()
        );
    }
    // A view far worse than the others is usually motion blur, a bent board or a wrong
    // detection: say so, the user decides whether to drop it.
    let mut rms: Vec<f64> = cal.views.iter().map(|v| v.rms).collect();
    rms.sort_by(f64::total_cmp);
    let median = rms[rms.len() / 2];
    for v in &cal.views {
        if v.rms > 3.0 * median && v.rms > 0.2 {
            eprintln!(
                "warning: {}: reprojection RMS {:.3} px, over 3 times the median {median:.3}; check it for motion blur or a bent board, or leave it out",
                v.name, v.rms
            );
        }
    }
    let k = cal.intrinsics;
    let yaml = CameraYaml {
        width: cal.width,
        height: cal.height,
        intrinsics: k,
        rms: Some(cal.rms),
        board: Some((a.pattern.cols as u32, a.pattern.rows as u32, a.square.value)),
        views: Some(cal.views.len() as u32),
    };
    std::fs::write(out.path(), yaml.to_yaml()).map_err(|e| {
        timeslice::Error::output(&a.out, format!("cannot write ({e}); check the disk"))
    })?;
    out.commit()?;
    if a.json {
        let s = Summary {
            pattern: a.pattern.to_string(),
            square: a.square.value,
            square_unit: a.square.unit,
            images: images.len(),
            used: cal.views.len(),
            not_found: &cal.not_found,
            width: cal.width,
            height: cal.height,
            rms: cal.rms,
            fx: k.fx,
            fy: k.fy,
            cx: k.cx,
            cy: k.cy,
            dist: k.dist,
            views: cal
                .views
                .iter()
                .map(|v| ViewSummary {
                    image: &v.name,
                    rms: v.rms,
                })
                .collect(),
            out: &a.out,
        };
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!(
        "chessboard {} found in {} of {} images ({}x{})",
        a.pattern,
        cal.views.len(),
        images.len(),
        cal.width,
        cal.height
    );
    let wide = cal
        .views
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!("{:<wide$}  rms px", "image");
    for v in &cal.views {
        println!("{:<wide$}  {:.4}", v.name, v.rms);
    }
    println!("overall rms {:.4} px", cal.rms);
    println!(
        "fx {:.3}  fy {:.3}  cx {:.3}  cy {:.3}",
        k.fx, k.fy, k.cx, k.cy
    );
    let [k1, k2, p1, p2, k3] = k.dist;
    println!("k1 {k1:.5}  k2 {k2:.5}  p1 {p1:.5}  p2 {p2:.5}  k3 {k3:.5}");
    println!("wrote {}", a.out.display());
    Ok(())
}
