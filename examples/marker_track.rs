//! Where the sample rig's red marker (which sits at the focus point) is in every frame of a
//! clip: its distance from the frame centre in % of the width and its area, per frame, and
//! how many frames are within the 1% target. `cargo run --release --example marker_track CLIP`.

use timeslice::synth::find_marker;

fn main() {
    let path = std::env::args().nth(1).expect("usage: marker_track CLIP");
    let mut src = timeslice::media::open(std::path::Path::new(&path)).expect("open");
    let n = src.info().frame_count as i64;
    let (mut within, mut worst) = (0, 0.0f64);
    let mut areas = Vec::new();
    for i in 0..n {
        let img = src.frame(i).expect("frame");
        let (cx, cy) = (
            (img.width as f64 - 1.0) / 2.0,
            (img.height as f64 - 1.0) / 2.0,
        );
        match find_marker(&img) {
            Some((x, y, area)) => {
                let off = 100.0 * ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() / img.width as f64;
                println!(
                    "frame {i:4}: {off:6.2}% of the width, area {area:.0}, at ({x:.1}, {y:.1})"
                );
                within += usize::from(off <= 1.0);
                worst = worst.max(off);
                areas.push(area);
            }
            None => println!("frame {i:4}: no marker"),
        }
    }
    let mean = areas.iter().sum::<f64>() / areas.len().max(1) as f64;
    let spread = areas
        .iter()
        .map(|a| (a / mean - 1.0).abs())
        .fold(0.0, f64::max);
    println!(
        "{within}/{n} frames within 1%, worst {worst:.2}%, area within {:.0}% of the mean",
        100.0 * spread
    );
}
