//! Forward splatting with softmax weights (Niklaus and Liu, CVPR 2020).
//!
//! Each source pixel moves to `p + t * flow(p)` and spreads its colour over the target pixels
//! around that point with a tent (bilinear) kernel times its importance weight exp(Z); each
//! target pixel then holds a weighted sum of colours and the sum of weights. The kernel is
//! one target pixel wide, or wider where the target is magnified (an aligned output that
//! zooms in on the subject), so that the splatted pixels leave no gaps between them and the
//! splat is the view's only resampling. Scattering from many threads would race, so the
//! target is cut into bands of rows: each band is owned by one task, which scans only the
//! source rows that can land in it. No locks, no per-thread copies of the image, and the
//! result does not depend on the number of threads.

use crate::flow::FlowField;
use crate::frame::Plane;
use multiversion::multiversion;
use rayon::prelude::*;

/// Rows per band of the target.
const BAND: usize = 16;
/// Columns per segment of a source row (the unit whose reach is checked against a band).
const SEGMENT: usize = 64;

/// Accumulated colour (weighted sums) and total weight per target pixel, interleaved as
/// [r, g, b, weight] so that one splat touches one cache line per target pixel.
pub struct Splat {
    pub width: usize,
    pub height: usize,
    pub acc: Vec<[f32; 4]>,
}

/// Where each pixel of a `width` x `height` source goes at `t`: `base + t * (u, v)`, the base
/// being the pixel itself, or a given position (its place in an aligned output).
pub struct Motion<'a> {
    pub width: usize,
    pub height: usize,
    pub base: Option<(&'a [f32], &'a [f32])>,
    pub u: &'a [f32],
    pub v: &'a [f32],
}

impl<'a> Motion<'a> {
    /// Each pixel moving along `flow` from its own place.
    pub fn of(flow: &'a FlowField) -> Self {
        Motion {
            width: flow.width,
            height: flow.height,
            base: None,
            u: &flow.u,
            v: &flow.v,
        }
    }

    #[inline(always)]
    fn target(&self, i: usize, x: usize, y: usize, t: f32) -> (f32, f32) {
        let (bx, by) = match self.base {
            None => (x as f32, y as f32),
            Some((bx, by)) => (bx[i], by[i]),
        };
        (bx + t * self.u[i], by + t * self.v[i])
    }
}

/// Splats `src` along `motion` at `t` into a target of size `out`, each pixel weighted by
/// `importance` (already exp'd), with a tent kernel of `radius` target pixels (at least 1).
pub fn splat(
    src: &[Plane; 3],
    motion: &Motion,
    t: f32,
    importance: &Plane,
    out: (usize, usize),
    radius: f32,
) -> Splat {
    let (w, h) = (motion.width, motion.height);
    let (ow, oh) = out;
    let radius = radius.max(1.0);
    // The range of target rows each segment of each source row can reach. Per segment, not
    // per row: where the vertical flow varies along a row, a whole-row range would make many
    // bands scan the full row for nothing.
    let segs = w.div_ceil(SEGMENT);
    let spans: Vec<(i64, i64)> = (0..h * segs)
        .into_par_iter()
        .map(|k| {
            let (y, seg) = (k / segs, k % segs);
            let (mut lo, mut hi) = (f32::MAX, f32::MIN);
            for x in seg * SEGMENT..((seg + 1) * SEGMENT).min(w) {
                let ty = motion.target(y * w + x, x, y, t).1;
                if ty.is_finite() {
                    lo = lo.min(ty);
                    hi = hi.max(ty);
                }
            }
            if lo > hi {
                (i64::MAX, i64::MIN)
            } else {
                (
                    (lo - radius).floor() as i64,
                    (hi + radius).floor() as i64 + 1,
                )
            }
        })
        .collect();

    // Zeroed by writing, not by `vec!` (calloc): calloc hands out untouched pages that map the
    // shared zero page, and the first `+=` into each then takes a copy-on-write fault with a
    // TLB shootdown across all threads, which cost 15% of a 1080p view.
    let mut acc = Vec::with_capacity(ow * oh);
    acc.resize(ow * oh, [0f32; 4]);
    acc.par_chunks_mut(BAND * ow)
        .enumerate()
        .for_each(|(band, out)| {
            splat_band(src, motion, t, importance, &spans, ow, radius, band, out)
        });
    Splat {
        width: ow,
        height: oh,
        acc,
    }
}

/// Splats into band `band` of the target (`out`, whole rows) every source segment whose
/// `spans` entry reaches it. Compiled for the best SIMD level of the CPU (`floor` is one
/// instruction there, a library call on baseline x86-64).
#[multiversion(targets("x86_64+avx+avx2+fma"))]
#[allow(clippy::too_many_arguments)]
fn splat_band(
    src: &[Plane; 3],
    motion: &Motion,
    t: f32,
    importance: &Plane,
    spans: &[(i64, i64)],
    ow: usize,
    radius: f32,
    band: usize,
    out: &mut [[f32; 4]],
) {
    let w = motion.width;
    let segs = w.div_ceil(SEGMENT);
    let y0 = (band * BAND) as i64;
    let y1 = y0 + (out.len() / ow) as i64;
    let inv_r = 1.0 / radius;
    for (k, &(lo, hi)) in spans.iter().enumerate() {
        if hi < y0 || lo >= y1 {
            continue;
        }
        let (sy, seg) = (k / segs, k % segs);
        let row = sy * w;
        for sx in seg * SEGMENT..((seg + 1) * SEGMENT).min(w) {
            let i = row + sx;
            let e = importance.data[i];
            let (tx, ty) = motion.target(i, sx, sy, t);
            if e <= 0.0 || !tx.is_finite() || !ty.is_finite() {
                continue;
            }
            let c = [src[0].data[i], src[1].data[i], src[2].data[i]];
            let mut add = |x: i64, y: i64, bw: f32| {
                if y < y0 || y >= y1 || x < 0 || x >= ow as i64 || bw <= 0.0 {
                    return;
                }
                let ww = bw * e;
                let o = &mut out[(y - y0) as usize * ow + x as usize];
                o[0] += ww * c[0];
                o[1] += ww * c[1];
                o[2] += ww * c[2];
                o[3] += ww;
            };
            if radius == 1.0 {
                // The common case, bilinear: the four pixels around the target point.
                let (fx, fy) = (tx.floor(), ty.floor());
                let (ax, ay) = (tx - fx, ty - fy);
                let (x0, yb) = (fx as i64, fy as i64);
                add(x0, yb, (1.0 - ax) * (1.0 - ay));
                add(x0 + 1, yb, ax * (1.0 - ay));
                add(x0, yb + 1, (1.0 - ax) * ay);
                add(x0 + 1, yb + 1, ax * ay);
            } else {
                // A wider tent: every pixel closer than `radius` in both directions.
                let (xa, xb) = (
                    (tx - radius).floor() as i64 + 1,
                    (tx + radius).ceil() as i64,
                );
                let (ya, yb) = (
                    (ty - radius).floor() as i64 + 1,
                    (ty + radius).ceil() as i64,
                );
                for y in ya.max(y0)..yb.min(y1) {
                    let wy = 1.0 - (y as f32 - ty).abs() * inv_r;
                    if wy <= 0.0 {
                        continue;
                    }
                    for x in xa..xb {
                        let wx = 1.0 - (x as f32 - tx).abs() * inv_r;
                        add(x, y, wx * wy);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(w: usize, h: usize, v: f32) -> Plane {
        let mut p = Plane::new(w, h);
        p.data.fill(v);
        p
    }

    #[test]
    fn a_magnified_splat_leaves_no_gaps() {
        // A 20x20 source placed at 2.5x into a 50x50 target: with the bilinear kernel most
        // target pixels get nothing; with a tent of radius 2.5 every inner pixel is covered
        // and the colour is the source's everywhere.
        let (w, h) = (20, 20);
        let src = [flat(w, h, 0.2), flat(w, h, 0.5), flat(w, h, 0.8)];
        let bx: Vec<f32> = (0..w * h).map(|i| 2.5 * (i % w) as f32).collect();
        let by: Vec<f32> = (0..w * h).map(|i| 2.5 * (i / w) as f32).collect();
        let zero = vec![0f32; w * h];
        let motion = Motion {
            width: w,
            height: h,
            base: Some((&bx, &by)),
            u: &zero,
            v: &zero,
        };
        let ones = flat(w, h, 1.0);
        let thin = splat(&src, &motion, 0.5, &ones, (50, 50), 1.0);
        let wide = splat(&src, &motion, 0.5, &ones, (50, 50), 2.5);
        let inner = |s: &Splat| {
            (0..48 * 48)
                .map(|k| s.acc[(k / 48) * 50 + k % 48])
                .collect::<Vec<_>>()
        };
        let empty = inner(&thin).iter().filter(|p| p[3] == 0.0).count();
        assert!(empty > 1000, "{empty} empty pixels with the thin kernel");
        for p in inner(&wide) {
            assert!(p[3] > 0.3, "weight {}", p[3]);
            assert!((p[1] / p[3] - 0.5).abs() < 1e-5);
        }
    }
}
