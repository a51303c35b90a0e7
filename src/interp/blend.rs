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
    fill_holes(&mut out, &valid);
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
/// value, then pull those averages back up into the holes only.
fn fill_holes(img: &mut [Plane; 3], valid: &Plane) {
    if valid.data.iter().all(|&v| v > 0.0) || valid.data.iter().all(|&v| v == 0.0) {
        return;
    }
    // Level 0: premultiplied colour and weight.
    let mut levels: Vec<([Plane; 3], Plane)> = Vec::new();
    let pre = |c: &Plane| Plane {
        width: c.width,
        height: c.height,
        data: c.data.iter().zip(&valid.data).map(|(v, m)| v * m).collect(),
    };
    levels.push(([pre(&img[0]), pre(&img[1]), pre(&img[2])], valid.clone()));
    while {
        let (_, wt) = levels.last().expect("one level");
        (wt.width > 1 || wt.height > 1) && wt.data.contains(&0.0)
    } {
        let (cols, wt) = levels.last().expect("one level");
        let (nw, nh) = (wt.width.div_ceil(2), wt.height.div_ceil(2));
        let down = |p: &Plane| {
            Plane::from_fn(nw, nh, |x, y| {
                let mut s = 0.0;
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (sx, sy) = (
                        (2 * x + dx).min(p.width - 1),
                        (2 * y + dy).min(p.height - 1),
                    );
                    s += p.at(sx, sy);
                }
                s
            })
        };
        let next = ([down(&cols[0]), down(&cols[1]), down(&cols[2])], down(wt));
        levels.push(next);
    }
    // Pull: fill each level's holes from the coarser level, finest last.
    for l in (0..levels.len() - 1).rev() {
        let (finer, coarser) = levels.split_at_mut(l + 1);
        let (cols, wt) = &mut finer[l];
        let (coarse_c, coarse_w) = &coarser[0];
        for y in 0..wt.height {
            for x in 0..wt.width {
                let i = y * wt.width + x;
                if wt.data[i] > 0.0 {
                    continue;
                }
                let j = (y / 2) * coarse_w.width + x / 2;
                let cw = coarse_w.data[j];
                if cw > 0.0 {
                    // Store as a unit-weight premultiplied value.
                    for (c, cc) in cols.iter_mut().zip(coarse_c) {
                        c.data[i] = cc.data[j] / cw;
                    }
                    wt.data[i] = 1.0;
                }
            }
        }
    }
    let (cols, wt) = &levels[0];
    for c in 0..3 {
        for (i, v) in img[c].data.iter_mut().enumerate() {
            if valid.data[i] == 0.0 && wt.data[i] > 0.0 {
                *v = cols[c].data[i] / wt.data[i];
            }
        }
    }
}
