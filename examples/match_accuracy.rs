//! How accurately the rig calibration localises its matches: every keypoint of camera A of a
//! sample rig (rendered with `timeslice samples --stills --truth-flow`) is refined in camera
//! B from a start 0.78 px off its true position (from the exact flow), and the error of the
//! result is reported per third of the image rows (backdrop, props, ground).
//!
//! `cargo run --release --example match_accuracy DIR A B` (cameras by 1-based index, B = A + 1).

use timeslice::calib::rig::dense_matches::ViewImages;
use timeslice::calib::rig::{features, lucas_kanade};
use timeslice::frame::{Plane, RgbImage};

fn load(path: &str) -> Plane {
    let img = image::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Plane::luma(&RgbImage::from_image(img.to_rgb8()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    assert!(args.len() == 4, "usage: match_accuracy DIR A B");
    let dir = &args[1];
    let (a, b): (usize, usize) = (args[2].parse().unwrap(), args[3].parse().unwrap());
    let ia = ViewImages::new(load(&format!("{dir}/cam{a:02}.png")), 960);
    let ib = ViewImages::new(load(&format!("{dir}/cam{b:02}.png")), 960);
    let flow = timeslice::flow::flo::read_flo(format!("{dir}/truth/flow/cam{a:02}-cam{b:02}.flo"))
        .expect("truth flow (render the rig with --truth-flow)");
    let occ = image::open(format!(
        "{dir}/truth/flow/cam{a:02}-cam{b:02}-occlusion.png"
    ))
    .expect("occlusion mask")
    .to_luma8();
    let cell = (ia.work.width / 50).clamp(4, 64);
    let keypoints: Vec<[f32; 2]> = features::keypoints(&ia.work, cell, 2e-4)
        .iter()
        .map(|p| ia.to_full(*p))
        .collect();
    let flow_at = |p: [f32; 2]| {
        // Bilinear: keypoints sit between pixel centres.
        let (x0, y0) = (p[0].floor() as usize, p[1].floor() as usize);
        let (fx, fy) = (p[0] - x0 as f32, p[1] - y0 as f32);
        let at = |x: usize, y: usize| {
            let i = y * flow.width + x;
            (flow.u[i], flow.v[i])
        };
        let (a00, a10, a01, a11) = (
            at(x0, y0),
            at(x0 + 1, y0),
            at(x0, y0 + 1),
            at(x0 + 1, y0 + 1),
        );
        let lerp = |a: f32, b: f32, c: f32, d: f32| {
            (1.0 - fy) * ((1.0 - fx) * a + fx * b) + fy * ((1.0 - fx) * c + fx * d)
        };
        (
            lerp(a00.0, a10.0, a01.0, a11.0),
            lerp(a00.1, a10.1, a01.1, a11.1),
        )
    };
    let (mut tried, mut errs) = (0, vec![Vec::new(); 3]);
    for &p in &keypoints {
        let (x, y) = (p[0].round() as u32, p[1].round() as u32);
        if x + 1 >= flow.width as u32 || y + 1 >= flow.height as u32 || occ.get_pixel(x, y)[0] > 0 {
            continue;
        }
        let (u, v) = flow_at(p);
        let truth = [p[0] + u, p[1] + v];
        tried += 1;
        let start = [truth[0] + 0.6, truth[1] - 0.5];
        let Some(q) = lucas_kanade::refine(&ia.full, &ib.full, p, start, 1.5 * ia.scale + 1.0)
        else {
            continue;
        };
        let band = (p[1] as usize * 3 / ia.full.height).min(2);
        errs[band].push(((q[0] - truth[0]) as f64, (q[1] - truth[1]) as f64));
    }
    println!(
        "cam{a:02} -> cam{b:02}: {tried} visible keypoints, {} matched",
        errs.iter().map(Vec::len).sum::<usize>()
    );
    for (band, e) in errs.iter().enumerate() {
        let norm: Vec<f64> = e.iter().map(|e| e.0.hypot(e.1)).collect();
        let mut sorted = norm.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "  rows third {band}: {:4} matches, error median {:.3} px, 90th percentile {:.3}, \
             median |x| {:.3}, |y| {:.3}, mean x {:+.3}",
            e.len(),
            median(norm),
            sorted
                .get(sorted.len() * 9 / 10)
                .copied()
                .unwrap_or(f64::NAN),
            median(e.iter().map(|e| e.0.abs()).collect()),
            median(e.iter().map(|e| e.1.abs()).collect()),
            e.iter().map(|e| e.0).sum::<f64>() / e.len().max(1) as f64,
        );
    }
}
