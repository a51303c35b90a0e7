//! Exposure and white balance matched across a spin's shots, so that lighting flicker and
//! cameras of different colour do not pulse as the product turns.
//!
//! Each shot gets one gain per channel. Neighbouring shots see mostly the same surface, so
//! the flow between them pairs each product pixel of one with the same point in the other;
//! the middle half's mean of their colour ratios, per channel, over the pairs that pass the
//! forward-backward check (and are neither clipped nor backdrop), is how much brighter the
//! second shot is than the first. Chaining the ratios round the shots gives every shot's gain;
//! round a full turn the chain must come back to 1, and what it misses is shared evenly
//! between the steps (as a loop closure). The gains are then scaled to average 1, so the spin
//! keeps the shots' overall exposure. The flows run on copies at most 320 pixels wide: a gain
//! needs many pixels, not sharp ones.

use super::{backdrop_colour, downscale, product_matches};
use crate::error::Result;
use crate::flow::FlowParams;
use crate::frame::RgbImage;
use rayon::prelude::*;

/// Fewer matched product pixels than this and a pair's ratio is taken as 1 (unknown).
const MIN_SAMPLES: usize = 50;

/// Each shot's gain per channel (R, G, B) that makes the shots agree; see the module doc.
pub fn match_shots(
    shots: &[RgbImage],
    full_turn: bool,
    params: &FlowParams,
) -> Result<Vec<[f32; 3]>> {
    let n = shots.len();
    if n < 2 {
        return Ok(vec![[1.0; 3]; n]);
    }
    let bg = backdrop_colour(shots);
    let small: Vec<RgbImage> = shots.par_iter().map(|s| downscale(s, 320)).collect();
    let pairs = if full_turn { n } else { n - 1 };
    let mut steps: Vec<[f64; 3]> = (0..pairs)
        .into_par_iter()
        .map(|i| log_ratio(&small[i], &small[(i + 1) % n], bg, params))
        .collect::<Result<_>>()?;
    if full_turn {
        for c in 0..3 {
            let miss: f64 = steps.iter().map(|s| s[c]).sum::<f64>() / pairs as f64;
            for s in &mut steps {
                s[c] -= miss;
            }
        }
    }
    // Shot i+1 is exp(step) times as bright as shot i: its gain is exp(-step) times i's.
    let mut log_gain = vec![[0.0f64; 3]; n];
    for i in 1..n {
        for c in 0..3 {
            log_gain[i][c] = log_gain[i - 1][c] - steps[i - 1][c];
        }
    }
    for c in 0..3 {
        let mean = log_gain.iter().map(|g| g[c]).sum::<f64>() / n as f64;
        for g in &mut log_gain {
            g[c] -= mean;
        }
    }
    Ok(log_gain.iter().map(|g| g.map(|l| l.exp() as f32)).collect())
}

/// ln(b / a) per channel over `a`'s product pixels matched in `b`: the mean of the middle
/// half of the matched pairs' log ratios; 0 for a channel with too few pairs.
fn log_ratio(a: &RgbImage, b: &RgbImage, bg: [u8; 3], params: &FlowParams) -> Result<[f64; 3]> {
    let mut ratios: [Vec<f32>; 3] = Default::default();
    product_matches(a, b, bg, params, |px, q| {
        let Some(q) = q else { return };
        for c in 0..3 {
            // Clipped values say nothing about a gain.
            if (8..=247).contains(&px[c]) && (8..=247).contains(&q[c]) {
                ratios[c].push((q[c] as f32 / px[c] as f32).ln());
            }
        }
    })?;
    Ok(ratios.map(|mut r| {
        if r.len() < MIN_SAMPLES {
            return 0.0;
        }
        // The mean of the middle half: robust like the median, without the median's steps
        // (ratios of 8-bit values are coarse).
        r.sort_unstable_by(f32::total_cmp);
        let mid = &r[r.len() / 4..r.len() - r.len() / 4];
        mid.iter().map(|&v| v as f64).sum::<f64>() / mid.len() as f64
    }))
}

/// Multiplies each shot's channels by its gains (rounded, clamped to 0-255).
pub fn apply(shots: &mut [RgbImage], gains: &[[f32; 3]]) {
    shots.par_iter_mut().zip(gains).for_each(|(s, g)| {
        for px in s.data.chunks_exact_mut(3) {
            for c in 0..3 {
                px[c] = (px[c] as f32 * g[c]).round().clamp(0.0, 255.0) as u8;
            }
        }
    });
}
