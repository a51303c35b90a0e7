//! Forward splatting with softmax weights (Niklaus and Liu, CVPR 2020).
//!
//! Each source pixel moves to `p + t * flow(p)` and spreads its colour over the four target
//! pixels around that point with bilinear weights times its importance weight exp(Z); each
//! target pixel then holds a weighted sum of colours and the sum of weights. Scattering from
//! many threads would race, so the target is cut into bands of rows: each band is owned by one
//! task, which scans only the source rows that can land in it. No locks, no per-thread copies
//! of the image, and the result does not depend on the number of threads.

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

/// Splats `src` along `t * flow`, each pixel weighted by `importance` (already exp'd).
pub fn splat(src: &[Plane; 3], flow: &FlowField, t: f32, importance: &Plane) -> Splat {
    splat_to(src, flow, t, importance, (flow.width, flow.height))
}

/// [`splat`] into a target of size `out` (target position = source position + t * flow).
fn splat_to(
    src: &[Plane; 3],
    flow: &FlowField,
    t: f32,
    importance: &Plane,
    out: (usize, usize),
) -> Splat {
    let (w, h) = (flow.width, flow.height);
    let (ow, oh) = out;
    // The range of target rows each segment of each source row can reach. Per segment, not
    // per row: where the vertical flow varies along a row, a whole-row range would make many
    // bands scan the full row for nothing.
    let segs = w.div_ceil(SEGMENT);
    let spans: Vec<(i64, i64)> = (0..h * segs)
        .into_par_iter()
        .map(|k| {
            let (y, seg) = (k / segs, k % segs);
            let row = &flow.v[y * w..(y + 1) * w];
            let (mut lo, mut hi) = (f32::MAX, f32::MIN);
            for &v in &row[seg * SEGMENT..((seg + 1) * SEGMENT).min(w)] {
                if v.is_finite() {
                    let ty = y as f32 + t * v;
                    lo = lo.min(ty);
                    hi = hi.max(ty);
                }
            }
            if lo > hi {
                (i64::MAX, i64::MIN)
            } else {
                (lo.floor() as i64, hi.floor() as i64 + 1)
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
        .for_each(|(band, out)| splat_band(src, flow, t, importance, &spans, ow, band, out));
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
    flow: &FlowField,
    t: f32,
    importance: &Plane,
    spans: &[(i64, i64)],
    ow: usize,
    band: usize,
    out: &mut [[f32; 4]],
) {
    let w = flow.width;
    let segs = w.div_ceil(SEGMENT);
    let y0 = (band * BAND) as i64;
    let y1 = y0 + (out.len() / ow) as i64;
    for (k, &(lo, hi)) in spans.iter().enumerate() {
        if hi < y0 || lo >= y1 {
            continue;
        }
        let (sy, seg) = (k / segs, k % segs);
        let row = sy * w;
        for sx in seg * SEGMENT..((seg + 1) * SEGMENT).min(w) {
            let i = row + sx;
            let e = importance.data[i];
            let (u, v) = (flow.u[i], flow.v[i]);
            if e <= 0.0 || !u.is_finite() || !v.is_finite() {
                continue;
            }
            let (tx, ty) = (sx as f32 + t * u, sy as f32 + t * v);
            let (fx, fy) = (tx.floor(), ty.floor());
            let (ax, ay) = (tx - fx, ty - fy);
            let (x0, yb) = (fx as i64, fy as i64);
            let c = [src[0].data[i], src[1].data[i], src[2].data[i]];
            for (dx, dy, bw) in [
                (0, 0, (1.0 - ax) * (1.0 - ay)),
                (1, 0, ax * (1.0 - ay)),
                (0, 1, (1.0 - ax) * ay),
                (1, 1, ax * ay),
            ] {
                let (x, y) = (x0 + dx, yb + dy);
                if y < y0 || y >= y1 || x < 0 || x >= ow as i64 || bw <= 0.0 {
                    continue;
                }
                let ww = bw * e;
                let o = &mut out[(y - y0) as usize * ow + x as usize];
                o[0] += ww * c[0];
                o[1] += ww * c[1];
                o[2] += ww * c[2];
                o[3] += ww;
            }
        }
    }
}
