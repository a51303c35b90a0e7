//! Blending the two splats into one view, and filling what neither camera saw.

use super::splat::Splat;
use crate::frame::Plane;
use multiversion::multiversion;
use rayon::prelude::*;

/// Below this much accumulated weight a splat has nothing to say about a pixel.
const EMPTY: f32 = 1e-4;

/// Combines the splat from A (weighted by 1 - t) and from B (weighted by t): each contributes
/// its normalised colour in proportion to its time weight times the evidence (accumulated
/// importance) it brought. Pixels neither covers are filled by push-pull.
pub fn blend(a: &Splat, b: &Splat, t: f32) -> [Plane; 3] {
    let (w, h) = (a.width, a.height);
    let mut out = [Plane::new(w, h), Plane::new(w, h), Plane::new(w, h)];
    let mut valid = Plane::new(w, h);
    let [r, g, bl] = &mut out;
    valid
        .data
        .par_chunks_mut(w)
        .zip(r.data.par_chunks_mut(w))
        .zip(g.data.par_chunks_mut(w))
        .zip(bl.data.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, (((val, rr), gg), bb))| blend_row(a, b, t, y, val, [rr, gg, bb]));
    fill_holes(&mut out, &mut valid);
    out
}

/// Row `y` of [`blend`], compiled for the best SIMD level of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn blend_row(a: &Splat, b: &Splat, t: f32, y: usize, val: &mut [f32], rgb: [&mut [f32]; 3]) {
    let w = a.width;
    let [rr, gg, bb] = rgb;
    for x in 0..w {
        let i = y * w + x;
        let (pa, pb) = (&a.acc[i], &b.acc[i]);
        let (wa, wb) = (pa[3], pb[3]);
        let ka = if wa > EMPTY {
            (1.0 - t) * wa.min(1.0)
        } else {
            0.0
        };
        let kb = if wb > EMPTY { t * wb.min(1.0) } else { 0.0 };
        let total = ka + kb;
        if total <= 0.0 {
            continue;
        }
        val[x] = 1.0;
        let (sa, sb) = (ka / total, kb / total);
        let mix = |c: usize| {
            let va = if ka > 0.0 { pa[c] / wa } else { 0.0 };
            let vb = if kb > 0.0 { pb[c] / wb } else { 0.0 };
            sa * va + sb * vb
        };
        rr[x] = mix(0);
        gg[x] = mix(1);
        bb[x] = mix(2);
    }
}

/// Push-pull hole filling: average the valid pixels down a pyramid until every cell has a
/// value, then pull those averages back up into the holes only. Level 0 is the image itself
/// (`valid` is 0 or 1, so the image is already its own premultiplied colour, and it becomes 1
/// where a hole is filled); the coarser levels are a quarter of the pixels each, and every
/// pass runs in parallel over rows.
fn fill_holes(img: &mut [Plane; 3], valid: &mut Plane) {
    let any_hole = valid.data.par_iter().any(|&v| v == 0.0);
    if !any_hole || !valid.data.par_iter().any(|&v| v > 0.0) {
        return;
    }
    // Level 1 down to a level without holes (or 1x1): premultiplied colour and weight.
    let mut levels: Vec<([Plane; 3], Plane)> = vec![down(img, valid, true)];
    while {
        let (_, wt) = levels.last().expect("one level");
        (wt.width > 1 || wt.height > 1) && wt.data.par_iter().any(|&v| v == 0.0)
    } {
        let (cols, wt) = levels.last().expect("one level");
        let next = down(cols, wt, false);
        levels.push(next);
    }
    // Pull: fill each level's holes from the coarser one, coarsest first.
    for l in (0..levels.len() - 1).rev() {
        let (finer, coarser) = levels.split_at_mut(l + 1);
        let (cols, wt) = &mut finer[l];
        pull(cols, wt, &coarser[0]);
    }
    // Level 0, the image itself: its holes from level 1.
    pull(img, valid, &levels[0]);
}

/// One push step: 2x2 sums of premultiplied colour and weight (`premultiply`: the colours
/// are plain values, to be multiplied by the weight first).
fn down(cols: &[Plane; 3], wt: &Plane, premultiply: bool) -> ([Plane; 3], Plane) {
    let (w, h) = (wt.width, wt.height);
    let (nw, nh) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = (
        [Plane::new(nw, nh), Plane::new(nw, nh), Plane::new(nw, nh)],
        Plane::new(nw, nh),
    );
    let ([r, g, b], ow) = (&mut out.0, &mut out.1);
    ow.data
        .par_chunks_mut(nw)
        .zip(r.data.par_chunks_mut(nw))
        .zip(g.data.par_chunks_mut(nw))
        .zip(b.data.par_chunks_mut(nw))
        .enumerate()
        .for_each(|(y, (((wr, rr), gg), bb))| {
            let rows = [2 * y, (2 * y + 1).min(h - 1)];
            for x in 0..nw {
                let xs = [2 * x, (2 * x + 1).min(w - 1)];
                let (mut s, mut c) = (0.0, [0.0f32; 3]);
                for &yy in &rows {
                    for &xx in &xs {
                        let i = yy * w + xx;
                        let m = wt.data[i];
                        s += m;
                        for k in 0..3 {
                            let v = cols[k].data[i];
                            c[k] += if premultiply { v * m } else { v };
                        }
                    }
                }
                wr[x] = s;
                rr[x] = c[0];
                gg[x] = c[1];
                bb[x] = c[2];
            }
        });
    out
}

/// Fills the holes (zero weight) of a level from the next coarser one, as unit-weight
/// premultiplied values.
fn pull(cols: &mut [Plane; 3], wt: &mut Plane, coarser: &([Plane; 3], Plane)) {
    let (coarse_c, coarse_w) = coarser;
    let w = wt.width;
    let [r, g, b] = cols;
    wt.data
        .par_chunks_mut(w)
        .zip(r.data.par_chunks_mut(w))
        .zip(g.data.par_chunks_mut(w))
        .zip(b.data.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, (((wr, rr), gg), bb))| {
            let j0 = (y / 2) * coarse_w.width;
            for x in 0..w {
                if wr[x] > 0.0 {
                    continue;
                }
                let j = j0 + x / 2;
                let cw = coarse_w.data[j];
                if cw > 0.0 {
                    rr[x] = coarse_c[0].data[j] / cw;
                    gg[x] = coarse_c[1].data[j] / cw;
                    bb[x] = coarse_c[2].data[j] / cw;
                    wr[x] = 1.0;
                }
            }
        });
}
