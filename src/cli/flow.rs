//! `timeslice flow`: dense optical flow between two images (or video frames).

use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;
use timeslice::flow::{self, FlowField};
use timeslice::frame::Plane;
use timeslice::output::{save_image, AtomicOutput};
use timeslice::{Error, RgbImage};

/// Dense optical flow from image A to image B (DIS, Kroeger et al. 2016), written as a
/// Middlebury .flo file, with an optional colour-wheel picture and consistency map.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  timeslice flow a.png b.png --out ab.flo --viz ab.png\n  timeslice flow rig/cam01.mp4@30 rig/cam02.mp4@30 --preset quality --out f.flo --consistency occ.png\n\nAn input is an image file, or VIDEO@N for frame N of a video."
)]
pub struct Args {
    /// First image (flow starts here): an image file or VIDEO@N.
    a: String,
    /// Second image: an image file or VIDEO@N.
    b: String,
    /// Output .flo file (Middlebury format).
    #[arg(long, short)]
    out: PathBuf,
    /// Also write the flow as a colour-wheel PNG (Baker et al. 2011).
    #[arg(long)]
    viz: Option<PathBuf>,
    /// Speed/accuracy preset: fast, balanced or quality.
    #[arg(long, default_value = "balanced")]
    preset: String,
    /// Also compute B->A and write a PNG marking pixels of A that are occluded or unreliable in
    /// B (255) by forward-backward consistency.
    #[arg(long)]
    consistency: Option<PathBuf>,
    /// Skip the large-displacement search that seeds the pyramid (plain DIS; faster, but
    /// misses motions of more than a few percent of the image).
    #[arg(long)]
    no_global_search: bool,
    /// Print a JSON report (sizes, timing, flow statistics).
    #[arg(long)]
    json: bool,
    /// Compute the flow this many times and report the median time (for benchmarks).
    #[arg(long, default_value_t = 1, hide = true)]
    repeat: u32,
}

#[derive(Serialize)]
struct Report {
    a: String,
    b: String,
    width: usize,
    height: usize,
    preset: String,
    /// Median milliseconds of the flow computation alone (images already decoded).
    milliseconds: f64,
    mean_magnitude: f64,
    max_magnitude: f64,
    out: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let params = super::interp::preset(&a.preset)?;
    let (ia, ib) = (super::load_image(&a.a)?, super::load_image(&a.b)?);
    if (ia.width, ia.height) != (ib.width, ib.height) {
        return Err(Error::usage(format!(
            "{} is {}x{} but {} is {}x{}; flow needs two images of the same size",
            a.a, ia.width, ia.height, a.b, ib.width, ib.height
        ))
        .into());
    }
    let outs: Vec<&std::path::Path> = std::iter::once(a.out.as_path())
        .chain(a.viz.as_deref())
        .chain(a.consistency.as_deref())
        .collect();
    super::refuse_inputs(&outs, &[&a.a, &a.b], &[])?;
    // Fail now, before computing anything, if the output folder is not writable.
    drop(AtomicOutput::file(&a.out)?);
    let (pa, pb) = (Plane::luma(&ia), Plane::luma(&ib));
    let mut times = Vec::new();
    let mut field: Option<FlowField> = None;
    for _ in 0..a.repeat.max(1) {
        let t0 = Instant::now();
        field = Some(if a.no_global_search {
            flow::compute_flow(&pa, &pb, &params, None)?
        } else {
            flow::global_search::compute_flow_large(&pa, &pb, &params)?
        });
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let field = field.expect("computed at least once");
    times.sort_by(f64::total_cmp);
    flow::write_flo(&a.out, &field)?;
    if let Some(v) = &a.viz {
        save_image(v, flow::flow_to_rgb(&field, None).to_image())?;
    }
    if let Some(c) = &a.consistency {
        let back = if a.no_global_search {
            flow::compute_flow(&pb, &pa, &params, None)?
        } else {
            flow::global_search::compute_flow_large(&pb, &pa, &params)?
        };
        let check = flow::consistency(&field, &back, flow::ConsistencyParams::default())?;
        let mask = RgbImage::from_raw(
            field.width as u32,
            field.height as u32,
            check
                .reliable
                .iter()
                .flat_map(|&ok| if ok { [0, 0, 0] } else { [255, 255, 255] })
                .collect(),
        );
        save_image(c, mask.to_image())?;
    }
    let mags: Vec<f64> = field
        .u
        .iter()
        .zip(&field.v)
        .map(|(u, v)| ((u * u + v * v) as f64).sqrt())
        .collect();
    let report = Report {
        a: a.a.clone(),
        b: a.b.clone(),
        width: field.width,
        height: field.height,
        preset: a.preset.clone(),
        milliseconds: times[times.len() / 2],
        mean_magnitude: mags.iter().sum::<f64>() / mags.len() as f64,
        max_magnitude: mags.iter().cloned().fold(0.0, f64::max),
        out: a.out.clone(),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}: {}x{} flow, mean {:.2} px, max {:.2} px, {:.1} ms ({})",
            report.out.display(),
            report.width,
            report.height,
            report.mean_magnitude,
            report.max_magnitude,
            report.milliseconds,
            report.preset
        );
    }
    Ok(())
}
