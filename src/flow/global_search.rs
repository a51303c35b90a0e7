//! Large-displacement initialisation: an exhaustive block-matching search on a small copy of
//! the images, whose flow seeds the DIS pyramid.
//!
//! Neighbouring cameras of a ring 15-30 degrees apart see the background move by a third of
//! the image or more, and the foreground the other way. DIS refines from its coarsest level by
//! local Gauss-Newton steps, which cannot reach a displacement that is still many pixels there
//! (OpenCV's DIS fails on such pairs the same way). So before DIS we match patches of a ~128 px
//! wide copy of the images over every displacement within a wide window (most of the width
//! horizontally, since rigs orbit about a vertical axis), by normalised cross-correlation
//! (robust to exposure differences between cameras), keep the distinctive matches, clean the
//! grid with a vector median, and interpolate it to a dense flow at full size. DIS takes it
//! from there. This is the classic coarse exhaustive search of block-matching motion
//! estimation; written here because it is a few dozen lines over our planar buffers.

use super::FlowField;
use crate::frame::Plane;
use multiversion::multiversion;
use rayon::prelude::*;

/// Parameters of the search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GlobalSearch {
    /// Width of the finest working copy, in pixels (the full search runs at a quarter of it).
    pub width: usize,
    /// Patch side and grid step on the working copy.
    pub patch: usize,
    pub stride: usize,
    /// Search half-range as a fraction of the working width (x) and height (y). Cameras 30
    /// degrees apart on a ring with a 40-degree lens move the background by well over half
    /// the width; 0.6 (rather than 0.45) made leave-one-out on the 24-ring 1.4 dB better
    /// (15.07 to 16.49 dB) at the same visible-pixel EPE on 15-degree pairs.
    pub range_x: f32,
    pub range_y: f32,
    /// Matches below this normalised cross-correlation are not trusted.
    pub min_ncc: f32,
}

impl Default for GlobalSearch {
    fn default() -> Self {
        GlobalSearch {
            width: 256,
            patch: 8,
            stride: 4,
            range_x: 0.6,
            range_y: 0.15,
            min_ncc: 0.6,
        }
    }
}

/// Box-filtered copy of `p`, reduced by the integer factor `f`.
fn shrink(p: &Plane, f: usize) -> Plane {
    let (w, h) = (p.width / f, p.height / f);
    let mut out = Plane::new(w.max(1), h.max(1));
    let norm = 1.0 / (f * f) as f32;
    out.data
        .par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(y, row)| {
            for (x, o) in row.iter_mut().enumerate() {
                let mut s = 0.0;
                for yy in y * f..(y * f + f).min(p.height) {
                    let r = &p.data[yy * p.width..];
                    for v in &r[x * f..(x * f + f).min(p.width)] {
                        s += v;
                    }
                }
                *o = s * norm;
            }
        });
    out
}

/// Summed-area tables of values and squared values, (w+1) x (h+1).
fn integrals(p: &Plane) -> (Vec<f64>, Vec<f64>) {
    let (w, h) = (p.width, p.height);
    let mut s = vec![0f64; (w + 1) * (h + 1)];
    let mut q = vec![0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let (mut rs, mut rq) = (0f64, 0f64);
        for x in 0..w {
            let v = p.data[y * w + x] as f64;
            rs += v;
            rq += v * v;
            s[(y + 1) * (w + 1) + x + 1] = s[y * (w + 1) + x + 1] + rs;
            q[(y + 1) * (w + 1) + x + 1] = q[y * (w + 1) + x + 1] + rq;
        }
    }
    (s, q)
}

fn box_sum(t: &[f64], w: usize, x: usize, y: usize, n: usize) -> f64 {
    let s = w + 1;
    t[(y + n) * s + x + n] - t[y * s + x + n] - t[(y + n) * s + x] + t[y * s + x]
}

/// Lists the displacements to try for patch (i, j) of the grid.
type Candidates<'a> = &'a (dyn Fn(usize, usize, &mut Vec<(i64, i64)>) + Sync);

/// A grid of patch displacements on one working copy: `(dx, dy)` per patch, NaN where the
/// match is flat, weak or (with `check_rivals`) ambiguous.
struct Grid {
    cells: Vec<(f32, f32)>,
    gx: usize,
    gy: usize,
}

/// Matches every patch of `sa` against `sb` over the displacements `candidates(i, j, out)`
/// lists for patch (i, j), by normalised cross-correlation.
fn match_patches(
    sa: &Plane,
    sb: &Plane,
    params: &GlobalSearch,
    check_rivals: bool,
    candidates: Candidates,
) -> Grid {
    let (sw, sh) = (sa.width, sa.height);
    let n = params.patch;
    let (sumb, sqb) = integrals(sb);
    let (gx, gy) = ((sw - n) / params.stride + 1, (sh - n) / params.stride + 1);
    let mut cells: Vec<(f32, f32)> = vec![(f32::NAN, f32::NAN); gx * gy];
    cells.par_chunks_mut(gx).enumerate().for_each(|(j, row)| {
        match_row(
            sa,
            sb,
            (&sumb, &sqb),
            params,
            check_rivals,
            candidates,
            j,
            row,
        )
    });
    Grid { cells, gx, gy }
}

/// Row `j` of the patch grid of [`match_patches`]; `sums` are the integral images of `sb`.
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn match_row(
    sa: &Plane,
    sb: &Plane,
    sums: (&[f64], &[f64]),
    params: &GlobalSearch,
    check_rivals: bool,
    candidates: Candidates,
    j: usize,
    row: &mut [(f32, f32)],
) {
    let (sw, sh) = (sa.width, sa.height);
    let n = params.patch;
    let npx = (n * n) as f64;
    let (sumb, sqb) = sums;
    let mut pa = vec![0f32; n * n];
    let mut cands = Vec::new();
    let mut scores: Vec<(f64, i64, i64)> = Vec::new();
    for (i, cell) in row.iter_mut().enumerate() {
        let (x0, y0) = (i * params.stride, j * params.stride);
        let mut mean = 0f64;
        for yy in 0..n {
            for xx in 0..n {
                let v = sa.data[(y0 + yy) * sw + x0 + xx];
                pa[yy * n + xx] = v;
                mean += v as f64;
            }
        }
        mean /= npx;
        let mut var = 0f64;
        for v in pa.iter_mut() {
            *v -= mean as f32;
            var += (*v as f64) * (*v as f64);
        }
        if var / npx < 1e-5 {
            continue; // flat: nothing to match
        }
        cands.clear();
        candidates(i, j, &mut cands);
        scores.clear();
        let (mut best, mut best_d) = (f64::MIN, (0i64, 0i64));
        for &(dx, dy) in &cands {
            let (bx, by) = (x0 as i64 + dx, y0 as i64 + dy);
            if bx < 0 || by < 0 || bx + n as i64 > sw as i64 || by + n as i64 > sh as i64 {
                continue;
            }
            let (bx, by) = (bx as usize, by as usize);
            let sb_sum = box_sum(sumb, sw, bx, by, n);
            let vb = box_sum(sqb, sw, bx, by, n) - sb_sum * sb_sum / npx;
            if vb < 1e-6 {
                continue;
            }
            // (a - ma) has zero sum, so sum (a - ma)(b - mb) = sum (a - ma) b.
            let dot = if n == 8 {
                patch_dot::<8>(&pa, &sb.data[by * sw + bx..], sw)
            } else {
                patch_dot::<0>(&pa, &sb.data[by * sw + bx..], sw)
            };
            let ncc = dot as f64 / (var * vb).sqrt();
            if ncc > best {
                best = ncc;
                best_d = (dx, dy);
            }
            if check_rivals {
                scores.push((ncc, dx, dy));
            }
        }
        if best < params.min_ncc as f64 {
            continue;
        }
        if check_rivals {
            // Ambiguous (repetitive texture): a clearly different displacement scores as well.
            let rival = scores
                .iter()
                .filter(|(_, dx, dy)| (dx - best_d.0).abs() > 2 || (dy - best_d.1).abs() > 2)
                .map(|s| s.0)
                .fold(f64::MIN, f64::max);
            if rival > best - 0.02 {
                continue;
            }
        }
        *cell = (best_d.0 as f32, best_d.1 as f32);
    }
}

/// `sum a * b` over an n x n patch: `a` packed (n * n), `b` the top-left corner of the patch in
/// an image with rows of `stride`. `N` = n when it is a compile-time constant (8, the default),
/// so that the rows are fixed-length vector products; 0 otherwise.
#[inline(always)]
fn patch_dot<const N: usize>(a: &[f32], b: &[f32], stride: usize) -> f32 {
    let n = if N == 0 { a.len().isqrt() } else { N };
    let mut acc = [0f32; 8];
    let mut dot = 0f32;
    for yy in 0..n {
        let (ra, rb) = (&a[yy * n..yy * n + n], &b[yy * stride..yy * stride + n]);
        if N == 8 {
            for l in 0..8 {
                acc[l] += ra[l] * rb[l];
            }
        } else {
            for (p, q) in ra.iter().zip(rb) {
                dot += p * q;
            }
        }
    }
    dot + acc.iter().sum::<f32>()
}

/// Matches the patches of `sa` near twice the displacements of `coarse` (a filled grid on a
/// copy half the size): +-2 px around the vectors of the nearest coarse patches.
fn refine(coarse: &Grid, sa: &Plane, sb: &Plane, params: &GlobalSearch) -> Grid {
    let step = params.stride as f32;
    let centre = (params.patch as f32 - 1.0) / 2.0;
    let near = |i: usize, j: usize, out: &mut Vec<(i64, i64)>| {
        // This patch's centre in coarse-grid units.
        let cx = ((i as f32 * step + centre) / 2.0 - centre) / step;
        let cy = ((j as f32 * step + centre) / 2.0 - centre) / step;
        let (i0, j0) = (cx.floor().max(0.0) as usize, cy.floor().max(0.0) as usize);
        // The distinct answers of the (up to four) nearest coarse patches, then a small
        // window around each; neighbours mostly agree, so this is usually 25 candidates.
        let mut bases: [(i64, i64); 4] = [(0, 0); 4];
        let mut nb = 0;
        for jj in j0.min(coarse.gy - 1)..(j0 + 2).min(coarse.gy) {
            for ii in i0.min(coarse.gx - 1)..(i0 + 2).min(coarse.gx) {
                let (u, v) = coarse.cells[jj * coarse.gx + ii];
                let base = ((2.0 * u).round() as i64, (2.0 * v).round() as i64);
                if !bases[..nb].contains(&base) {
                    bases[nb] = base;
                    nb += 1;
                }
            }
        }
        for &(bx, by) in &bases[..nb] {
            for dy in -1..=1 {
                for dx in -1..=1 {
                    out.push((bx + dx, by + dy));
                }
            }
        }
    };
    let fine = match_patches(sa, sb, params, false, &near);
    let cells = fill_unknown(&median3(&fine.cells, fine.gx, fine.gy), fine.gx, fine.gy);
    Grid { cells, ..fine }
}

/// A dense initial flow from `a` to `b` (full size), or `None` when the images are too small
/// or too flat for the search to say anything.
///
/// Coarse to fine keeps it cheap: every displacement in the window on a copy a quarter of the
/// working width, then on copies twice as large only a small neighbourhood of the answers of
/// the patches around, up to the working width, fine enough to separate a subject a few
/// percent of the image wide from the background moving past it.
pub fn initial_flow(a: &Plane, b: &Plane, params: &GlobalSearch) -> Option<FlowField> {
    initial_flow_sized(a, b, params, None)
}

/// [`initial_flow`] produced directly at `size` (a smaller field with the images' aspect, in
/// pixels of that size), e.g. the pyramid level DIS starts at, to save filling and shrinking
/// a full-size field.
pub fn initial_flow_sized(
    a: &Plane,
    b: &Plane,
    params: &GlobalSearch,
    size: Option<(usize, usize)>,
) -> Option<FlowField> {
    let (w, h) = (a.width, a.height);
    let f = w.div_ceil(params.width).max(1);
    let (sa, sb) = (shrink(a, f), shrink(b, f));
    let (ma, mb) = (shrink(&sa, 2), shrink(&sb, 2));
    let (ca, cb) = (shrink(&ma, 2), shrink(&mb, 2));
    let n = params.patch;
    if ca.width < 2 * n || ca.height < 2 * n {
        return None;
    }
    // Coarse: the whole window.
    let (rx, ry) = (
        (ca.width as f32 * params.range_x) as i64,
        (ca.height as f32 * params.range_y) as i64,
    );
    let window = |_: usize, _: usize, out: &mut Vec<(i64, i64)>| {
        for dy in -ry..=ry {
            for dx in -rx..=rx {
                out.push((dx, dy));
            }
        }
    };
    let coarse = match_patches(&ca, &cb, params, true, &window);
    let known = coarse.cells.iter().filter(|c| c.0.is_finite()).count();
    if known < (coarse.gx * coarse.gy) / 10 {
        return None;
    }
    let coarse = Grid {
        cells: fill_unknown(
            &median3(&coarse.cells, coarse.gx, coarse.gy),
            coarse.gx,
            coarse.gy,
        ),
        ..coarse
    };
    let middle = refine(&coarse, &ma, &mb, params);
    let fine = refine(&middle, &sa, &sb, params);
    let (gx, gy, grid) = (fine.gx, fine.gy, fine.cells);

    // Dense flow of the requested size: bilinear over the patch centres; a pixel of the output
    // is `zoom` full-size pixels, a working pixel `f` of them.
    let (ow, oh) = size.unwrap_or((w, h));
    let centre = (n as f32 - 1.0) / 2.0;
    let step = params.stride as f32;
    let (zx, zy) = (w as f32 / ow as f32, h as f32 / oh as f32);
    let (to_wx, to_wy) = (zx / f as f32, zy / f as f32);
    let (vx, vy) = (f as f32 / zx, f as f32 / zy);
    let mut flow = FlowField::new(ow, oh);
    flow.u
        .par_chunks_mut(ow)
        .zip(flow.v.par_chunks_mut(ow))
        .enumerate()
        .for_each(|(y, (ur, vr))| {
            let gyf =
                (((y as f32 + 0.5) * to_wy - 0.5 - centre) / step).clamp(0.0, (gy - 1) as f32);
            let (j0, ty) = (gyf.floor() as usize, gyf.fract());
            let j1 = (j0 + 1).min(gy - 1);
            for x in 0..ow {
                let gxf =
                    (((x as f32 + 0.5) * to_wx - 0.5 - centre) / step).clamp(0.0, (gx - 1) as f32);
                let (i0, tx) = (gxf.floor() as usize, gxf.fract());
                let i1 = (i0 + 1).min(gx - 1);
                let at = |i: usize, j: usize| grid[j * gx + i];
                let lerp = |p: (f32, f32), q: (f32, f32), t: f32| {
                    (p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t)
                };
                let top = lerp(at(i0, j0), at(i1, j0), tx);
                let bot = lerp(at(i0, j1), at(i1, j1), tx);
                let (u, v) = lerp(top, bot, ty);
                ur[x] = u * vx;
                vr[x] = v * vy;
            }
        });
    Some(flow)
}

/// 3x3 vector median (component-wise) over the known cells.
fn median3(grid: &[(f32, f32)], gx: usize, gy: usize) -> Vec<(f32, f32)> {
    let mut out = grid.to_vec();
    let mut us = Vec::with_capacity(9);
    let mut vs = Vec::with_capacity(9);
    for j in 0..gy {
        for i in 0..gx {
            us.clear();
            vs.clear();
            for jj in j.saturating_sub(1)..(j + 2).min(gy) {
                for ii in i.saturating_sub(1)..(i + 2).min(gx) {
                    let c = grid[jj * gx + ii];
                    if c.0.is_finite() {
                        us.push(c.0);
                        vs.push(c.1);
                    }
                }
            }
            if us.len() >= 3 {
                us.sort_by(f32::total_cmp);
                vs.sort_by(f32::total_cmp);
                out[j * gx + i] = (us[us.len() / 2], vs[vs.len() / 2]);
            }
        }
    }
    out
}

/// Fills unknown cells with the mean of known neighbours, growing outwards until none is left.
fn fill_unknown(grid: &[(f32, f32)], gx: usize, gy: usize) -> Vec<(f32, f32)> {
    let mut cur = grid.to_vec();
    loop {
        let unknown = cur.iter().filter(|c| !c.0.is_finite()).count();
        if unknown == 0 {
            return cur;
        }
        let prev = cur.clone();
        for j in 0..gy {
            for i in 0..gx {
                if prev[j * gx + i].0.is_finite() {
                    continue;
                }
                let (mut su, mut sv, mut k) = (0.0, 0.0, 0.0);
                for jj in j.saturating_sub(1)..(j + 2).min(gy) {
                    for ii in i.saturating_sub(1)..(i + 2).min(gx) {
                        let c = prev[jj * gx + ii];
                        if c.0.is_finite() {
                            su += c.0;
                            sv += c.1;
                            k += 1.0;
                        }
                    }
                }
                if k > 0.0 {
                    cur[j * gx + i] = (su / k, sv / k);
                }
            }
        }
        if cur.iter().filter(|c| !c.0.is_finite()).count() == unknown {
            // Nothing known anywhere (cannot happen after the check above); give zero.
            return cur
                .into_iter()
                .map(|c| if c.0.is_finite() { c } else { (0.0, 0.0) })
                .collect();
        }
    }
}

/// DIS flow from `a` to `b` seeded by the global search (falls back to plain DIS when the
/// search finds nothing).
pub fn compute_flow_large(
    a: &Plane,
    b: &Plane,
    params: &super::FlowParams,
) -> crate::error::Result<FlowField> {
    compute_flow_searched(a, b, params, &GlobalSearch::default())
}

/// [`compute_flow_large`] with the search's parameters given.
pub fn compute_flow_searched(
    a: &Plane,
    b: &Plane,
    params: &super::FlowParams,
    search: &GlobalSearch,
) -> crate::error::Result<FlowField> {
    // The seed resolves the motion at the working copy's resolution, so the pyramid starts
    // two levels below that size instead of at its usual ~40 px: much coarser levels would
    // blur away the seed's detail (a subject moving against the background), while two
    // levels of refinement before the working resolution keep small motions accurate
    // (Middlebury Urban: quality 0.96 px, against 1.37 px when starting at the seed's size).
    let mut p = params.clone();
    let levels = (a.width as f32 / search.width as f32)
        .log2()
        .floor()
        .max(0.0) as usize;
    let start = (levels + 2).max(p.finest_scale);
    p.coarsest_scale = Some(start);
    let size = super::pyramid::level_size(a.width, a.height, start);
    let Some(init) = initial_flow_sized(a, b, search, Some(size)) else {
        return super::compute_flow(a, b, params, None);
    };
    super::compute_flow(a, b, &p, Some(&init))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Smooth value noise over 24 px cells plus finer ripples: structure at several scales,
    /// like a camera image.
    fn texture(x: f32, y: f32) -> f32 {
        let h = |i: f32, j: f32| ((i * 12.9898 + j * 78.233).sin() * 43758.547).fract().abs();
        let (gx, gy) = (x / 24.0, y / 24.0);
        let (i, j) = (gx.floor(), gy.floor());
        let (tx, ty) = (gx - i, gy - j);
        let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
        let top = h(i, j) + (h(i + 1.0, j) - h(i, j)) * sx;
        let bot = h(i, j + 1.0) + (h(i + 1.0, j + 1.0) - h(i, j + 1.0)) * sx;
        0.2 + 0.5 * (top + (bot - top) * sy) + 0.1 * (x * 0.3).sin() * (y * 0.23).cos()
    }

    #[test]
    fn finds_a_shift_of_a_third_of_the_image() {
        let (w, h) = (640, 360);
        let a = Plane::from_fn(w, h, |x, y| texture(x as f32, y as f32));
        let b = Plane::from_fn(w, h, |x, y| texture(x as f32 + 210.0, y as f32 - 12.0));
        let f = initial_flow(&a, &b, &GlobalSearch::default()).expect("textured");
        // Points of A move by (-210, +12) in B. Check the left part, whose match is inside B.
        let mut err = 0.0;
        let mut n = 0.0;
        for y in (40..320).step_by(10) {
            for x in (260..600).step_by(10) {
                let (u, v) = f.at(x, y);
                err += ((u + 210.0).powi(2) + (v - 12.0).powi(2)).sqrt();
                n += 1.0;
            }
        }
        // Within the working copy's resolution (5 px per working pixel here).
        assert!(err / n < 6.0, "mean error {} px", err / n);
    }

    #[test]
    fn flat_images_give_no_guess() {
        let a = Plane::from_fn(256, 128, |_, _| 0.5);
        assert!(initial_flow(&a, &a, &GlobalSearch::default()).is_none());
    }
}
