//! Semi-global matching: a cost volume smoothed along eight straight paths through each
//! pixel, after Hirschmüller, "Stereo Processing by Semiglobal Matching and Mutual
//! Information" (PAMI 2008).
//!
//! Along each path the cost of label `k` at a pixel is its own cost plus the cheapest way to
//! arrive from the previous pixel: the same label, a neighbouring label (penalty `p1`), or any
//! label (penalty `p2`). The eight paths' costs are summed. It is the standard fix for the
//! noise of choosing each pixel's depth on its own, and cheap enough for our volumes (a few
//! tens of millions of cells), so written here over plain slices.

use multiversion::multiversion;
use rayon::prelude::*;

/// Pixels per parallel task in the vertical and diagonal passes.
const CHUNK: usize = 32;

/// Penalties for a change of one label and of more between neighbouring pixels.
#[derive(Clone, Copy, Debug)]
pub struct Penalties {
    pub p1: f32,
    pub p2: f32,
}

/// The cost volume `cost` (`w` x `h` pixels, `d` labels contiguous per pixel) aggregated
/// along eight paths.
pub fn aggregate(cost: &[f32], w: usize, h: usize, d: usize, pen: Penalties) -> Vec<f32> {
    assert_eq!(cost.len(), w * h * d, "cost volume of the wrong size");
    let mut sum = vec![0f32; cost.len()];
    // Left to right and right to left: each row on its own.
    sum.par_chunks_mut(w * d)
        .zip(cost.par_chunks(w * d))
        .for_each(|(sum, cost)| {
            let (mut prev, mut cur) = (vec![0f32; d], vec![0f32; d]);
            for forward in [true, false] {
                for i in 0..w {
                    let x = if forward { i } else { w - 1 - i };
                    let c = &cost[x * d..(x + 1) * d];
                    if i == 0 {
                        cur.copy_from_slice(c);
                    } else {
                        step(&prev, c, &mut cur, pen);
                    }
                    let sum = &mut sum[x * d..(x + 1) * d];
                    if forward {
                        // The first path sets every cell, so the calloc'd volume is written
                        // before it is ever read: a read would map the shared zero page and
                        // the write then take a copy-on-write fault with a TLB shootdown
                        // across all threads.
                        sum.copy_from_slice(&cur);
                    } else {
                        for (s, v) in sum.iter_mut().zip(&cur) {
                            *s += v;
                        }
                    }
                    std::mem::swap(&mut prev, &mut cur);
                }
            }
        });
    // Down and up, straight and diagonal: rows in order, each pixel continuing from the row
    // before at x - dx, columns in parallel.
    let (mut prev, mut cur) = (vec![0f32; w * d], vec![0f32; w * d]);
    for down in [true, false] {
        for dx in [-1isize, 0, 1] {
            for i in 0..h {
                let y = if down { i } else { h - 1 - i };
                let row = &cost[y * w * d..(y + 1) * w * d];
                cur.par_chunks_mut(d * CHUNK)
                    .zip(sum[y * w * d..(y + 1) * w * d].par_chunks_mut(d * CHUNK))
                    .enumerate()
                    .for_each(|(j, (outs, sums))| {
                        for (o, (out, s)) in outs.chunks_mut(d).zip(sums.chunks_mut(d)).enumerate()
                        {
                            let x = j * CHUNK + o;
                            let c = &row[x * d..(x + 1) * d];
                            let px = x as isize - dx;
                            if i == 0 || px < 0 || px >= w as isize {
                                out.copy_from_slice(c);
                            } else {
                                let px = px as usize;
                                step(&prev[px * d..(px + 1) * d], c, out, pen);
                            }
                            s.iter_mut().zip(out.iter()).for_each(|(s, c)| *s += c);
                        }
                    });
                std::mem::swap(&mut prev, &mut cur);
            }
        }
    }
    sum
}

/// One step along a path: `out[k] = cost[k] + min(prev[k], prev[k +- 1] + p1, min + p2) - min`
/// (the minimum subtracted keeps the values bounded). Branch-free over the interior labels,
/// compiled for the best SIMD level of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn step(prev: &[f32], cost: &[f32], out: &mut [f32], pen: Penalties) {
    let d = prev.len();
    let m = prev.iter().copied().fold(f32::INFINITY, f32::min);
    let jump = m + pen.p2;
    if d == 1 {
        out[0] = cost[0] + prev[0].min(jump) - m;
        return;
    }
    out[0] = cost[0] + prev[0].min(prev[1] + pen.p1).min(jump) - m;
    out[d - 1] = cost[d - 1] + prev[d - 1].min(prev[d - 2] + pen.p1).min(jump) - m;
    let inner = &mut out[1..d - 1];
    for (i, o) in inner.iter_mut().enumerate() {
        let near = prev[i].min(prev[i + 2]) + pen.p1;
        *o = cost[i + 1] + prev[i + 1].min(near).min(jump) - m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A staircase of true labels with one pixel whose own cost points elsewhere: the
    /// aggregation keeps the staircase and outvotes the outlier.
    #[test]
    fn aggregation_outvotes_a_lone_wrong_cost() {
        let (w, h, d) = (24, 16, 8);
        let truth = |x: usize| (x / 8) * 2 + 1;
        let mut cost = vec![1f32; w * h * d];
        for y in 0..h {
            for x in 0..w {
                cost[(y * w + x) * d + truth(x)] = 0.0;
            }
        }
        // The outlier: its own cost prefers label 6 over the truth, by less than the jump
        // penalty (a larger difference is an edge SGM should keep).
        let (ox, oy) = (3, 7);
        cost[(oy * w + ox) * d + truth(ox)] = 0.4;
        cost[(oy * w + ox) * d + 6] = 0.0;
        let argmin = |v: &[f32], i: usize| {
            (0..d)
                .min_by(|&a, &b| v[i * d + a].total_cmp(&v[i * d + b]))
                .unwrap()
        };
        assert_eq!(argmin(&cost, oy * w + ox), 6);
        let sum = aggregate(&cost, w, h, d, Penalties { p1: 0.1, p2: 0.6 });
        for y in 0..h {
            for x in 0..w {
                assert_eq!(argmin(&sum, y * w + x), truth(x), "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn one_path_step_takes_the_cheapest_arrival() {
        let pen = Penalties { p1: 0.5, p2: 2.0 };
        let prev = [0.0, 3.0, 10.0, 10.0];
        let cost = [1.0, 1.0, 1.0, 1.0];
        let mut out = [0.0; 4];
        step(&prev, &cost, &mut out, pen);
        // From label 0: stay (0), one step (0.5), or jump (2).
        assert_eq!(out, [1.0, 1.5, 3.0, 3.0]);
    }
}
