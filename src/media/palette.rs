//! One global 256-colour palette for a whole clip (median cut refined by k-means) and
//! Floyd-Steinberg dithering onto it, for animated GIF.
//!
//! One palette for every frame keeps colours from flickering between frames of a spin. The
//! dithering diffuses the whole quantisation error, so the mean colour of an area survives
//! (what the colour-chart test checks), and it is deterministic: each frame is dithered on its
//! own, in parallel, with a pure nearest-colour function.

use crate::frame::RgbImage;
use rayon::prelude::*;

/// At most this many pixels are sampled over the whole clip to build the palette.
const MAX_SAMPLES: usize = 1 << 20;

#[derive(Clone, Copy)]
struct Bin {
    sum: [f64; 3],
    count: f64,
}

impl Bin {
    fn mean(&self) -> [f64; 3] {
        [
            self.sum[0] / self.count,
            self.sum[1] / self.count,
            self.sum[2] / self.count,
        ]
    }
}

/// Builds a palette of at most 256 colours for `frames`.
pub fn build(frames: &[&RgbImage]) -> Vec<[u8; 3]> {
    let total: usize = frames.iter().map(|f| f.data.len() / 3).sum();
    let step = total.div_ceil(MAX_SAMPLES).max(1);
    // A 6-bit-per-channel histogram that keeps the sum of the exact colours in each bin, so a
    // bin holding one colour yields that colour exactly.
    let mut hist = vec![
        Bin {
            sum: [0.0; 3],
            count: 0.0
        };
        1 << 18
    ];
    let mut i = 0usize;
    for f in frames {
        for px in f.data.chunks_exact(3) {
            if i.is_multiple_of(step) {
                let key = ((px[0] as usize >> 2) << 12)
                    | ((px[1] as usize >> 2) << 6)
                    | (px[2] as usize >> 2);
                let b = &mut hist[key];
                b.sum[0] += px[0] as f64;
                b.sum[1] += px[1] as f64;
                b.sum[2] += px[2] as f64;
                b.count += 1.0;
            }
            i += 1;
        }
    }
    let entries: Vec<([f64; 3], f64)> = hist
        .iter()
        .filter(|b| b.count > 0.0)
        .map(|b| (b.mean(), b.count))
        .collect();
    if entries.is_empty() {
        return vec![[0, 0, 0]];
    }
    let mut centres = median_cut(&entries, 256);
    kmeans(&entries, &mut centres, 4);
    centres
        .iter()
        .map(|c| c.map(|v| v.round().clamp(0.0, 255.0) as u8))
        .collect()
}

/// Weighted mean and total squared error of a set of entries.
fn stats(entries: &[([f64; 3], f64)]) -> ([f64; 3], [f64; 3], f64) {
    let mut w = 0.0;
    let mut s = [0.0; 3];
    let mut s2 = [0.0; 3];
    for (c, n) in entries {
        w += n;
        for k in 0..3 {
            s[k] += c[k] * n;
            s2[k] += c[k] * c[k] * n;
        }
    }
    let mean = s.map(|v| v / w);
    let var = [0, 1, 2].map(|k| (s2[k] - s[k] * s[k] / w).max(0.0));
    (mean, var, w)
}

fn median_cut(entries: &[([f64; 3], f64)], n: usize) -> Vec<[f64; 3]> {
    let mut boxes: Vec<Vec<([f64; 3], f64)>> = vec![entries.to_vec()];
    while boxes.len() < n {
        // Split the box with the largest total squared error along its widest channel.
        let best = boxes
            .iter()
            .enumerate()
            .filter(|(_, b)| b.len() > 1)
            .map(|(i, b)| {
                let (_, var, _) = stats(b);
                (i, var[0] + var[1] + var[2])
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((i, err)) = best else { break };
        if err <= 0.0 {
            break;
        }
        let mut b = boxes.swap_remove(i);
        let (_, var, w) = stats(&b);
        let axis = (0..3)
            .max_by(|&x, &y| var[x].total_cmp(&var[y]))
            .expect("three channels");
        b.sort_by(|x, y| x.0[axis].total_cmp(&y.0[axis]));
        // Split at the weighted median, keeping both halves non-empty.
        let mut acc = 0.0;
        let mut cut = 1;
        for (j, e) in b.iter().enumerate() {
            acc += e.1;
            if acc >= w / 2.0 {
                cut = (j + 1).clamp(1, b.len() - 1);
                break;
            }
        }
        let hi = b.split_off(cut);
        boxes.push(b);
        boxes.push(hi);
    }
    boxes.iter().map(|b| stats(b).0).collect()
}

fn nearest_f(c: &[f64; 3], centres: &[[f64; 3]]) -> usize {
    let mut best = (f64::MAX, 0);
    for (i, p) in centres.iter().enumerate() {
        let d = (c[0] - p[0]).powi(2) + (c[1] - p[1]).powi(2) + (c[2] - p[2]).powi(2);
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// Lloyd iterations over the histogram entries: moves each colour to the mean of what it
/// represents, which median cut alone leaves too coarse in busy regions.
fn kmeans(entries: &[([f64; 3], f64)], centres: &mut [[f64; 3]], iterations: usize) {
    for _ in 0..iterations {
        let assign: Vec<usize> = entries
            .par_iter()
            .map(|(c, _)| nearest_f(c, centres))
            .collect();
        let mut acc = vec![([0.0f64; 3], 0.0f64); centres.len()];
        for ((c, n), &a) in entries.iter().zip(&assign) {
            for (s, v) in acc[a].0.iter_mut().zip(c) {
                *s += v * n;
            }
            acc[a].1 += n;
        }
        for (centre, (s, w)) in centres.iter_mut().zip(acc) {
            if w > 0.0 {
                *centre = s.map(|v| v / w);
            }
        }
    }
}

/// Maps colours to palette indices exactly (squared RGB distance), searching only the entries
/// that can win in the colour's cell of RGB space.
pub struct Mapper {
    palette: Vec<[i32; 3]>,
    /// For each 16x16x16 cell of RGB space, the palette entries (in index order) that can be
    /// nearest to some colour in it: those no farther than the best entry's farthest corner.
    candidates: Vec<Vec<u8>>,
}

const CELL: i32 = 16;

impl Mapper {
    pub fn new(palette: &[[u8; 3]]) -> Self {
        let palette: Vec<[i32; 3]> = palette.iter().map(|c| c.map(i32::from)).collect();
        let n = 256 / CELL;
        let candidates = (0..n * n * n)
            .into_par_iter()
            .map(|cell| {
                let lo = [cell / (n * n), cell / n % n, cell % n].map(|c| c * CELL);
                let (near, far): (Vec<i32>, Vec<i32>) = palette
                    .iter()
                    .map(|p| {
                        let (mut near, mut far) = (0, 0);
                        for k in 0..3 {
                            let (a, b) = (lo[k], lo[k] + CELL - 1);
                            let d = if p[k] < a {
                                a - p[k]
                            } else if p[k] > b {
                                p[k] - b
                            } else {
                                0
                            };
                            near += d * d;
                            far += (p[k] - a).abs().max((p[k] - b).abs()).pow(2);
                        }
                        (near, far)
                    })
                    .unzip();
                let bound = far.iter().copied().min().unwrap_or(0);
                (0..palette.len())
                    .filter(|&i| near[i] <= bound)
                    .map(|i| i as u8)
                    .collect()
            })
            .collect();
        Mapper {
            palette,
            candidates,
        }
    }

    /// The nearest palette index (squared RGB distance, lowest index on ties).
    pub fn nearest(&self, c: [u8; 3]) -> u8 {
        let c = c.map(i32::from);
        let n = 256 / CELL;
        let cell = ((c[0] / CELL * n + c[1] / CELL) * n + c[2] / CELL) as usize;
        let mut best = (i32::MAX, 0usize);
        for &i in &self.candidates[cell] {
            let p = self.palette[i as usize];
            let d = (c[0] - p[0]).pow(2) + (c[1] - p[1]).pow(2) + (c[2] - p[2]).pow(2);
            if d < best.0 {
                best = (d, i as usize);
            }
        }
        best.1 as u8
    }

    /// Floyd-Steinberg dithering (serpentine) of one frame; returns one index per pixel.
    pub fn dither(&self, img: &RgbImage) -> Vec<u8> {
        let (w, h) = (img.width as usize, img.height as usize);
        let mut out = vec![0u8; w * h];
        // Error carried to the current and the next row, with a pixel of margin each side.
        let mut cur = vec![[0f32; 3]; w + 2];
        let mut next = vec![[0f32; 3]; w + 2];
        for y in 0..h {
            let ltr = y % 2 == 0;
            for i in 0..w {
                let x = if ltr { i } else { w - 1 - i };
                let p = (y * w + x) * 3;
                let e = cur[x + 1];
                let want = [0, 1, 2].map(|k| img.data[p + k] as f32 + e[k]);
                let q = want.map(|v| v.round().clamp(0.0, 255.0) as u8);
                let idx = self.nearest(q);
                out[y * w + x] = idx;
                let got = self.palette[idx as usize];
                let err = [0, 1, 2].map(|k| want[k] - got[k] as f32);
                let (fwd, back) = if ltr { (x + 2, x) } else { (x, x + 2) };
                for k in 0..3 {
                    cur[fwd][k] += err[k] * 7.0 / 16.0;
                    next[back][k] += err[k] * 3.0 / 16.0;
                    next[x + 1][k] += err[k] * 5.0 / 16.0;
                    next[fwd][k] += err[k] * 1.0 / 16.0;
                }
            }
            std::mem::swap(&mut cur, &mut next);
            next.iter_mut().for_each(|e| *e = [0.0; 3]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_search_is_exhaustive_search() {
        let mut seed = 3u32;
        let mut next = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 24) as u8
        };
        let pal: Vec<[u8; 3]> = (0..200).map(|_| [next(), next(), next()]).collect();
        let m = Mapper::new(&pal);
        for _ in 0..20000 {
            let c = [next(), next(), next()];
            let want = (0..pal.len())
                .min_by_key(|&i| {
                    (0..3)
                        .map(|k| (c[k] as i32 - pal[i][k] as i32).pow(2))
                        .sum::<i32>()
                })
                .unwrap();
            assert_eq!(m.nearest(c) as usize, want, "{c:?}");
        }
    }

    #[test]
    fn few_colours_are_kept_exactly() {
        let mut img = RgbImage::new(64, 64);
        for (i, px) in img.data.chunks_exact_mut(3).enumerate() {
            let c = [[10, 200, 30], [255, 255, 255], [0, 0, 0], [120, 64, 220]][i % 4];
            px.copy_from_slice(&c);
        }
        let pal = build(&[&img]);
        let m = Mapper::new(&pal);
        let idx = m.dither(&img);
        for (i, px) in img.data.chunks_exact(3).enumerate() {
            assert_eq!(pal[idx[i] as usize], [px[0], px[1], px[2]]);
        }
    }

    #[test]
    fn dithering_keeps_the_mean_of_a_gradient() {
        let mut img = RgbImage::new(256, 32);
        for (i, px) in img.data.chunks_exact_mut(3).enumerate() {
            let x = (i % 256) as u8;
            px.copy_from_slice(&[x, x / 2, 255 - x]);
        }
        // The corners of the RGB cube: every colour is a mix of them, but only by dithering.
        let pal: Vec<[u8; 3]> = (0..8u8)
            .map(|i| [i & 1, i >> 1 & 1, i >> 2 & 1].map(|b| b * 255))
            .collect();
        let m = Mapper::new(&pal);
        let idx = m.dither(&img);
        for x0 in (0..256).step_by(32) {
            let (mut want, mut got) = ([0f64; 3], [0f64; 3]);
            for y in 0..32 {
                for x in x0..x0 + 32 {
                    let i = y * 256 + x;
                    for k in 0..3 {
                        want[k] += img.data[i * 3 + k] as f64;
                        got[k] += pal[idx[i] as usize][k] as f64;
                    }
                }
            }
            for k in 0..3 {
                let d = (want[k] - got[k]).abs() / 1024.0;
                assert!(d < 3.0, "column {x0} channel {k}: off by {d}");
            }
        }
    }
}
