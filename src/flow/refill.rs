//! Refilling the flow where the forward-backward check fails, from the consistent flows
//! around it.
//!
//! Near a motion boundary the pyramid's patches and the variational smoothness blend the two
//! motions, so a band of pixels along the edge gets a motion that belongs to neither side: the
//! top of a small subject before a far backdrop takes part of the backdrop's motion, and a
//! view synthesized from it cuts the subject's top off. Those pixels fail the round trip
//! (their match in B points elsewhere), and the right motion is nearly always one of their
//! consistent neighbours': the subject's own or the backdrop's. So each inconsistent pixel
//! looks along eight directions for the nearest consistent pixel, and also tries no motion
//! (a converging rig's subject), and takes the candidate whose 3x3 window matches best in
//! the second image; this is the candidate selection of PatchMatch-style methods (Bleyer et
//! al., "PatchMatch Stereo", BMVC 2011) with neighbours chosen by the consistency map.

use super::consistency::Consistency;
use super::warp::sample_clamped;
use super::FlowField;
use crate::frame::Plane;
use multiversion::multiversion;
use rayon::prelude::*;

/// How far (pixels) each direction looks for a consistent pixel.
const REACH: usize = 32;
/// Below this confidence a pixel is refilled; at or above it, it is a candidate's source.
const CONSISTENT: f32 = 0.5;

/// Replaces the flow of `flow`'s inconsistent pixels (per `check`, the forward-backward test
/// of this flow against the other direction's) by the best of the candidates, judged by the
/// luma of `src` (the flow's first image) against `dst`.
pub fn refill(src: &Plane, dst: &Plane, flow: &mut FlowField, check: &Consistency) {
    let w = flow.width;
    let old = flow.clone();
    flow.u
        .par_chunks_mut(w)
        .zip(flow.v.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, (u, v))| refill_row(src, dst, &old, check, y, u, v));
}

/// Row `y` of [`refill`], compiled for the best SIMD level of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn refill_row(
    src: &Plane,
    dst: &Plane,
    flow: &FlowField,
    check: &Consistency,
    y: usize,
    us: &mut [f32],
    vs: &mut [f32],
) {
    let (w, h) = (flow.width as i64, flow.height as i64);
    let conf = &check.confidence.data;
    const DIRS: [(i64, i64); 8] = [
        (1, 0),
        (-1, 0),
        (0, 1),
        (0, -1),
        (1, 1),
        (-1, 1),
        (1, -1),
        (-1, -1),
    ];
    let at =
        |p: &Plane, x: i64, y: i64| p.data[(y.clamp(0, h - 1) * w + x.clamp(0, w - 1)) as usize];
    let cost = |x: i64, u: f32, v: f32| {
        let mut sum = 0.0f32;
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (sx, sy) = (x + dx, y as i64 + dy);
                sum += (at(src, sx, sy) - sample_clamped(dst, sx as f32 + u, sy as f32 + v)).abs();
            }
        }
        sum
    };
    for x in 0..w {
        let i = (y as i64 * w + x) as usize;
        if conf[i] >= CONSISTENT || !FlowField::is_known(us[x as usize], vs[x as usize]) {
            continue;
        }
        let mut best = (us[x as usize], vs[x as usize]);
        let mut best_cost = cost(x, best.0, best.1);
        let mut try_flow = |u: f32, v: f32, best: &mut (f32, f32)| {
            let c = cost(x, u, v);
            if c < best_cost {
                best_cost = c;
                *best = (u, v);
            }
        };
        try_flow(0.0, 0.0, &mut best);
        for (dx, dy) in DIRS {
            for k in 1..=REACH as i64 {
                let (nx, ny) = (x + dx * k, y as i64 + dy * k);
                if nx < 0 || ny < 0 || nx >= w || ny >= h {
                    break;
                }
                let j = (ny * w + nx) as usize;
                if conf[j] >= CONSISTENT {
                    try_flow(flow.u[j], flow.v[j], &mut best);
                    break;
                }
            }
        }
        us[x as usize] = best.0;
        vs[x as usize] = best.1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::consistency::{consistency, ConsistencyParams};

    #[test]
    fn a_smeared_edge_takes_the_motion_of_its_side() {
        // A textured square standing still before a textured backdrop moving 20 px right;
        // the flows are exact except for a 4-px band at the square's top edge, which has
        // half the backdrop's motion (a smeared boundary).
        let (w, h) = (96, 80);
        // Noise, so that no other shift matches by chance.
        let noise =
            |x: f32, y: f32, k: f32| ((x * 12.9898 + y * 78.233 + k).sin() * 43758.547).fract();
        let tex = |x: f32, y: f32| 0.3 + 0.4 * noise(x, y, 0.0);
        let sq = |x: f32, y: f32| 0.2 + 0.3 * noise(x, y, 5.0);
        let inside = |x: usize, y: usize| (30..60).contains(&x) && (30..60).contains(&y);
        let render = |shift: f32| {
            let mut p = Plane::new(w, h);
            for y in 0..h {
                for x in 0..w {
                    p.data[y * w + x] = if inside(x, y) {
                        sq(x as f32, y as f32)
                    } else {
                        tex((x as f32 - shift).rem_euclid(w as f32), y as f32)
                    };
                }
            }
            p
        };
        let (a, b) = (render(0.0), render(20.0));
        let smeared = |x: usize, y: usize| inside(x, y) && y < 34;
        let mut fwd = FlowField::from_fn(w, h, |x, y| {
            if smeared(x, y) {
                (10.0, 0.0)
            } else if inside(x, y) {
                (0.0, 0.0)
            } else {
                (20.0, 0.0)
            }
        });
        let bwd = FlowField::from_fn(w, h, |x, y| {
            if inside(x, y) {
                (0.0, 0.0)
            } else {
                (-20.0, 0.0)
            }
        });
        let check = consistency(&fwd, &bwd, ConsistencyParams::default()).unwrap();
        refill(&a, &b, &mut fwd, &check);
        for y in 30..34 {
            for x in 32..58 {
                let i = y * w + x;
                let f = (fwd.u[i], fwd.v[i]);
                if y == 30 {
                    // The edge row's window is a third backdrop: either side's motion.
                    assert!(f == (0.0, 0.0) || f == (20.0, 0.0), "({x}, {y}): {f:?}");
                } else {
                    assert_eq!(f, (0.0, 0.0), "({x}, {y})");
                }
            }
        }
        // Consistent pixels are left alone.
        assert_eq!(fwd.u[10 * w + 10], 20.0);
        assert_eq!(fwd.u[45 * w + 45], 0.0);
    }
}
