//! `timeslice eval`: image quality measurements.

use anyhow::Result;
use serde::Serialize;
use timeslice::eval;

/// Measure image quality.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Compare(CompareArgs),
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

pub fn run(a: Args) -> Result<()> {
    match a.command {
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
