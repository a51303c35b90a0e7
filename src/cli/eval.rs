//! `timeslice eval`: image quality measurements.

use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
use timeslice::eval;
use timeslice::interp::{interpolate, Method, PairFlow};
use timeslice::output::save_image;
use timeslice::{Error, RgbImage};

/// Measure image quality.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Compare(CompareArgs),
    Loo(LooArgs),
}

/// Leave-one-out evaluation of view synthesis: hold out every other view, synthesize it
/// halfway between its neighbours, and measure it against the real one.
///
/// With views V0..Vn and --stride k, the held-out views are Vk, V3k, V5k, ..., each made from
/// V(i-k) and V(i+k) at 0.5.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  timeslice eval loo rig/cam*.png
  timeslice eval loo v0.png v1.png v2.png v3.png v4.png --method crossfade --json
  timeslice eval loo rig/cam*.png --stride 2 --sheet sheet.png
  timeslice eval loo rig/cam*.png --rig calib/calibration.json")]
struct LooArgs {
    /// Views in rig order (image files or VIDEO@N), at least three.
    #[arg(required = true, num_args = 3..)]
    views: Vec<String>,
    /// Distance (in views) from a held-out view to the two it is made from.
    #[arg(long, default_value_t = 1)]
    stride: usize,
    #[command(flatten)]
    synthesis: super::interp::Synthesis,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Write a contact sheet PNG: truth, synthesized, error (x4) per held-out view.
    #[arg(long)]
    sheet: Option<PathBuf>,
}

/// PSNR and SSIM (Wang et al. 2004: Gaussian 11x11, sigma 1.5, per RGB channel averaged)
/// between two images of the same size.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice eval compare truth.png synthesized.png\n  timeslice eval compare rig/cam01.mp4@30 out/frame_000000.png --json"
)]
struct CompareArgs {
    /// Reference image (an image file or VIDEO@N).
    reference: String,
    /// Image to measure (an image file or VIDEO@N).
    image: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Comparison {
    /// dB; null when the images are identical.
    psnr: Option<f64>,
    ssim: f64,
}

#[derive(Serialize)]
struct HeldOut {
    view: String,
    from: [String; 2],
    psnr: f64,
    ssim: f64,
}

#[derive(Serialize)]
struct Loo {
    method: Method,
    stride: usize,
    views: Vec<HeldOut>,
    mean_psnr: f64,
    mean_ssim: f64,
}

/// Error picture: |a - b| per channel, amplified 4x.
fn error_map(a: &RgbImage, b: &RgbImage) -> RgbImage {
    let data = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&p, &q)| ((p as i32 - q as i32).unsigned_abs() * 4).min(255) as u8)
        .collect();
    RgbImage::from_raw(a.width, a.height, data)
}

fn write_sheet(path: &std::path::Path, rows: &[[RgbImage; 3]]) -> Result<()> {
    // Each tile at most 400 px wide.
    let (w0, h0) = (rows[0][0].width, rows[0][0].height);
    let scale = (400.0 / w0 as f64).min(1.0);
    let (tw, th) = (
        ((w0 as f64 * scale) as u32).max(1),
        ((h0 as f64 * scale) as u32).max(1),
    );
    let gap = 4;
    let mut sheet = image::RgbImage::from_pixel(
        3 * tw + 4 * gap,
        rows.len() as u32 * (th + gap) + gap,
        image::Rgb([32, 32, 32]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, img) in row.iter().enumerate() {
            let tile = image::imageops::resize(
                &img.to_image(),
                tw,
                th,
                image::imageops::FilterType::Triangle,
            );
            image::imageops::replace(
                &mut sheet,
                &tile,
                (gap + c as u32 * (tw + gap)) as i64,
                (gap + r as u32 * (th + gap)) as i64,
            );
        }
    }
    save_image(path, sheet)?;
    Ok(())
}

fn loo(a: LooArgs) -> Result<()> {
    let k = a.stride.max(1);
    let held: Vec<usize> = (k..a.views.len())
        .step_by(2 * k)
        .filter(|i| i + k < a.views.len())
        .collect();
    if held.is_empty() {
        return Err(Error::usage(format!(
            "{} views leave nothing to hold out at stride {k}: give at least {} views",
            a.views.len(),
            2 * k + 1
        ))
        .into());
    }
    let (method, params) = (
        a.synthesis.method,
        super::interp::preset(&a.synthesis.preset)?,
    );
    if let Some(sheet) = &a.sheet {
        let specs: Vec<&str> = a.views.iter().map(String::as_str).collect();
        super::refuse_inputs(&[sheet], &specs, a.synthesis.rig.as_deref().as_slice())?;
    }
    let cams = a.synthesis.calibration()?;
    let mut results = Vec::new();
    let mut sheet_rows = Vec::new();
    for &i in &held {
        let (pa, pb, pt) = (&a.views[i - k], &a.views[i + k], &a.views[i]);
        let truth = super::load_image(pt)?;
        let (ia, ib) = (super::load_image(pa)?, super::load_image(pb)?);
        let made = match (method, &cams) {
            (Method::Flow, Some(cams)) => {
                let (ca, cb) = (cams.camera(pa, &ia)?, cams.camera(pb, &ib)?);
                PairFlow::compute(&ia, &ib, &params)?
                    .with_cameras(&ca, &cb)
                    .synthesize(0.5)
            }
            _ => interpolate(&ia, &ib, 0.5, method, &params)?,
        };
        if (made.width, made.height) != (truth.width, truth.height) {
            return Err(Error::usage(format!(
                "{pt} has a different size from {pa}; all views must have one size"
            ))
            .into());
        }
        results.push(HeldOut {
            view: pt.clone(),
            from: [pa.clone(), pb.clone()],
            psnr: eval::psnr(&truth, &made),
            ssim: eval::ssim(&truth, &made),
        });
        if a.sheet.is_some() {
            let err = error_map(&truth, &made);
            sheet_rows.push([truth, made, err]);
        }
    }
    let n = results.len() as f64;
    let report = Loo {
        method,
        stride: k,
        mean_psnr: results.iter().map(|r| r.psnr.min(100.0)).sum::<f64>() / n,
        mean_ssim: results.iter().map(|r| r.ssim).sum::<f64>() / n,
        views: results,
    };
    if let Some(p) = &a.sheet {
        write_sheet(p, &sheet_rows)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{:<40} {:>9} {:>8}", "held-out view", "PSNR dB", "SSIM");
        for r in &report.views {
            println!("{:<40} {:>9.3} {:>8.4}", r.view, r.psnr, r.ssim);
        }
        println!(
            "{:<40} {:>9.3} {:>8.4}",
            format!("mean ({:?}, stride {k})", method).to_lowercase(),
            report.mean_psnr,
            report.mean_ssim
        );
    }
    Ok(())
}

pub fn run(a: Args) -> Result<()> {
    match a.command {
        Command::Loo(l) => loo(l),
        Command::Compare(c) => {
            let r = super::load_image(&c.reference)?;
            let i = super::load_image(&c.image)?;
            if (r.width, r.height) != (i.width, i.height) {
                return Err(timeslice::Error::usage(format!(
                    "{} is {}x{} but {} is {}x{}; compare images of the same size",
                    c.reference, r.width, r.height, c.image, i.width, i.height
                ))
                .into());
            }
            let p = eval::psnr(&r, &i);
            let out = Comparison {
                psnr: p.is_finite().then_some(p),
                ssim: eval::ssim(&r, &i),
            };
            if c.json {
                println!("{}", serde_json::to_string(&out)?);
            } else {
                match out.psnr {
                    Some(p) => println!("PSNR {p:.3} dB  SSIM {:.5}", out.ssim),
                    None => println!("PSNR inf (identical)  SSIM {:.5}", out.ssim),
                }
            }
            Ok(())
        }
    }
}
