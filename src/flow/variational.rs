//! Variational refinement: the last pass at every level of DIS (Kroeger et al., ECCV 2016,
//! section 2.3), following the energy of Brox et al., "High Accuracy Optical Flow Estimation
//! Based on a Theory for Warping" (ECCV 2004) as OpenCV's `VariationalRefinement` does.
//!
//! Around the current flow (u, v) we solve for an increment (du, dv) minimising
//!
//! ```text
//!   E = sum_x  delta * Psi( (Iz + Ix du + Iy dv)^2 / (|grad I|^2 + zeta^2) )        brightness
//!            + gamma * Psi( (Ixz + Ixx du + Ixy dv)^2 / (Ixx^2 + Ixy^2 + zeta^2)
//!                         + (Iyz + Ixy du + Iyy dv)^2 / (Iyy^2 + Ixy^2 + zeta^2) )   gradient
//!            + alpha * Psi( |grad(u + du)|^2 + |grad(v + dv)|^2 )                    smoothness
//! ```
//!
//! with the robust penaliser Psi(s^2) = sqrt(s^2 + eps^2) (an L1 norm that tolerates
//! occlusions and motion boundaries). I1 is warped once by the current flow; Ix, Iy, ... are
//! derivatives of the average of I0 and the warped I1, Iz and its derivatives of their
//! difference. The data terms are normalised by the gradient magnitude (Zimmer et al., 2011),
//! so that strong edges do not dominate.
//!
//! The Euler-Lagrange equations are solved by lagged nonlinearity: each fixed-point iteration
//! freezes the robust weights Psi' at the current increment, giving a linear 2x2-per-pixel
//! system coupled through the smoothness term, which a few red-black SOR sweeps solve.
//!
//! Red-black SOR updates all "red" pixels ((x + y) even) from their "black" neighbours and then
//! the other way round, so each half-sweep is parallel over rows and deterministic. Like
//! OpenCV we store each colour packed (row y of a colour holds its pixels x = 2k + parity), so
//! that a half-sweep reads and writes contiguous memory and vectorises.
//!
//! Intensities are scaled to 0..255 here so that OpenCV's weights (alpha 20, gamma 10,
//! delta 5) and constants (zeta, eps) mean the same.

use super::params::FlowParams;
use super::FlowField;
use crate::frame::Plane;
use multiversion::multiversion;
use rayon::prelude::*;

const ZETA2: f32 = 0.1 * 0.1;
const EPS2: f32 = 0.001 * 0.001;

/// Per-pixel image terms, stored row-interleaved (row y holds NT fields of `w` values each),
/// so that one parallel pass can write all of them.
const NT: usize = 12;
const T_IX: usize = 0;
const T_IY: usize = 1;
const T_IZ: usize = 2;
const T_IXX: usize = 3;
const T_IXY: usize = 4;
const T_IYY: usize = 5;
const T_IXZ: usize = 6;
const T_IYZ: usize = 7;
const T_MASK: usize = 8;
/// The data terms' normalisations 1 / (Ix^2 + Iy^2 + zeta^2), 1 / (Ixx^2 + Ixy^2 + zeta^2) and
/// 1 / (Iyy^2 + Ixy^2 + zeta^2): fixed for the level, so computed once, not per iteration.
const T_QN: usize = 9;
const T_QX: usize = 10;
const T_QY: usize = 11;

/// Per-pixel coefficients of the linear system, packed per colour, row-interleaved.
const NC: usize = 9;
const C_A12: usize = 0;
const C_INVU: usize = 1;
const C_INVV: usize = 2;
const C_RHS1: usize = 3;
const C_RHS2: usize = 4;
const C_WL: usize = 5;
const C_WR: usize = 6;
const C_WU: usize = 7;
const C_WD: usize = 8;

/// Refines `flow` (at the resolution of `i0`, `i1`) in place.
pub(crate) fn refine(i0: &Plane, i1: &Plane, flow: &mut FlowField, params: &FlowParams) {
    let (w, h) = (i0.width, i0.height);
    if params.var_iterations == 0 || w < 2 || h < 2 {
        return;
    }
    let terms = image_terms(i0, i1, flow);
    // Packed layout: `hw` cells per colour row; the increments carry one cell of zero padding
    // on every side so that the neighbour reads need no branches.
    let hw = w.div_ceil(2);
    let pw = hw + 2;
    let mut coef = [vec![0f32; h * NC * hw], vec![0f32; h * NC * hw]];
    let mut du = [vec![0f32; (h + 2) * pw], vec![0f32; (h + 2) * pw]];
    let mut dv = [vec![0f32; (h + 2) * pw], vec![0f32; (h + 2) * pw]];
    let mut du_full = vec![0f32; w * h];
    let mut dv_full = vec![0f32; w * h];
    let mut psi = vec![0f32; w * h];

    for _ in 0..params.var_iterations {
        smoothness_weights(flow, &du_full, &dv_full, params.alpha * 0.5, &mut psi);
        let [c0, c1] = &mut coef;
        c0.par_chunks_mut(NC * hw)
            .zip(c1.par_chunks_mut(NC * hw))
            .enumerate()
            .with_min_len(super::min_rows(w))
            .for_each_init(
                || RowScratch::new(w),
                |sc, (y, (r0, r1))| {
                    build_row(
                        y, w, h, &terms, flow, &du_full, &dv_full, &psi, params, sc, r0, r1,
                    )
                },
            );
        for _ in 0..params.sor_iterations {
            for (c, cf) in coef.iter().enumerate() {
                sor_half_sweep(c, w, h, cf, &mut du, &mut dv, params.sor_omega);
            }
        }
        unpack(w, &du, &mut du_full);
        unpack(w, &dv, &mut dv_full);
    }
    flow.u
        .par_iter_mut()
        .zip(flow.v.par_iter_mut())
        .zip(du_full.par_iter().zip(&dv_full))
        .with_min_len(super::min_rows(1))
        .for_each(|((u, v), (a, b))| {
            *u += a;
            *v += b;
        });
}

/// Warps I1 by the flow and computes the derivative terms of the linearised data terms.
fn image_terms(i0: &Plane, i1: &Plane, flow: &FlowField) -> Vec<f32> {
    let (w, h) = (i0.width, i0.height);
    let mut warped = vec![0f32; w * h];
    let mut mask = vec![0f32; w * h];
    super::warp::warp_into(i1, &flow.u, &flow.v, &mut warped, Some(&mut mask));
    // avg = (I0 + I1w) / 2 and z = I1w - I0, on the 0..255 scale.
    let mut avg = vec![0f32; w * h];
    let mut z = vec![0f32; w * h];
    avg.par_chunks_mut(w)
        .zip(z.par_chunks_mut(w))
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each(|(y, (a, zr))| {
            let (r0, r1) = (i0.row(y), &warped[y * w..(y + 1) * w]);
            for x in 0..w {
                a[x] = 127.5 * (r0[x] + r1[x]);
                zr[x] = 255.0 * (r1[x] - r0[x]);
            }
        });
    let mut terms = vec![0f32; h * NT * w];
    terms
        .par_chunks_mut(NT * w)
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each(|(y, t)| terms_row(y, w, h, &avg, &z, &mask, t));
    terms
}

/// Row `y` of [`image_terms`]: the NT fields of `w` values each.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn terms_row(y: usize, w: usize, h: usize, avg: &[f32], z: &[f32], mask: &[f32], t: &mut [f32]) {
    let row = |yy: usize| yy * w..(yy + 1) * w;
    let (yu, yd) = (y.saturating_sub(1), (y + 1).min(h - 1));
    let (au, am, ad) = (&avg[row(yu)], &avg[row(y)], &avg[row(yd)]);
    let (zu, zm, zd) = (&z[row(yu)], &z[row(y)], &z[row(yd)]);
    // One-sided differences at the borders (the clamped neighbour is the pixel itself).
    let sy = if y == 0 || y == h - 1 { 1.0 } else { 0.5 };
    let (fields, _) = t.split_at_mut(NT * w);
    let mut f = fields.chunks_exact_mut(w);
    let mut next = || f.next().expect("NT fields");
    let (ix, iy, iz, ixx, ixy, iyy, ixz, iyz, m, qn, qx, qy) = (
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
    );
    let mrow = &mask[y * w..(y + 1) * w];
    // Interior columns in blocks through local arrays (see `LANES`), so that the loop
    // vectorises; then the border columns, with one-sided differences.
    let mut x0 = 1;
    while x0 + 1 < w {
        let n = LANES.min(w - 1 - x0);
        let ld = |s: &[f32], at: usize| load_lanes(s, at, n);
        let (al, ac, ar) = (ld(am, x0 - 1), ld(am, x0), ld(am, x0 + 1));
        let (aul, auc, aur) = (ld(au, x0 - 1), ld(au, x0), ld(au, x0 + 1));
        let (adl, adc, adr) = (ld(ad, x0 - 1), ld(ad, x0), ld(ad, x0 + 1));
        let (zl, zc, zr, zuc, zdc) = (
            ld(zm, x0 - 1),
            ld(zm, x0),
            ld(zm, x0 + 1),
            ld(zu, x0),
            ld(zd, x0),
        );
        let mc = ld(mrow, x0);
        let mut o = [[0f32; LANES]; NT];
        for l in 0..LANES {
            let gx = 0.5 * (ar[l] - al[l]);
            let gy = sy * (adc[l] - auc[l]);
            let hxx = ar[l] - 2.0 * ac[l] + al[l];
            let hyy = adc[l] - 2.0 * ac[l] + auc[l];
            let hxy = 0.5 * sy * (adr[l] - adl[l] - aur[l] + aul[l]);
            o[T_IX][l] = gx;
            o[T_IY][l] = gy;
            o[T_IZ][l] = zc[l];
            o[T_IXX][l] = hxx;
            o[T_IXY][l] = hxy;
            o[T_IYY][l] = hyy;
            o[T_IXZ][l] = 0.5 * (zr[l] - zl[l]);
            o[T_IYZ][l] = sy * (zdc[l] - zuc[l]);
            o[T_MASK][l] = mc[l];
            o[T_QN][l] = 1.0 / (gx * gx + gy * gy + ZETA2);
            o[T_QX][l] = 1.0 / (hxx * hxx + hxy * hxy + ZETA2);
            o[T_QY][l] = 1.0 / (hyy * hyy + hxy * hxy + ZETA2);
        }
        for (dst, src) in [
            (&mut *ix, &o[T_IX]),
            (&mut *iy, &o[T_IY]),
            (&mut *iz, &o[T_IZ]),
            (&mut *ixx, &o[T_IXX]),
            (&mut *ixy, &o[T_IXY]),
            (&mut *iyy, &o[T_IYY]),
            (&mut *ixz, &o[T_IXZ]),
            (&mut *iyz, &o[T_IYZ]),
            (&mut *m, &o[T_MASK]),
            (&mut *qn, &o[T_QN]),
            (&mut *qx, &o[T_QX]),
            (&mut *qy, &o[T_QY]),
        ] {
            store_lanes(dst, x0, n, src);
        }
        x0 += n;
    }
    // (refine needs w >= 2, so these are two distinct columns.)
    for x in [0, w - 1] {
        let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
        let sx = if x == 0 || x == w - 1 { 1.0 } else { 0.5 };
        ix[x] = sx * (am[r] - am[l]);
        iy[x] = sy * (ad[x] - au[x]);
        iz[x] = zm[x];
        ixx[x] = am[r] - 2.0 * am[x] + am[l];
        iyy[x] = ad[x] - 2.0 * am[x] + au[x];
        ixy[x] = sx * sy * (ad[r] - ad[l] - au[r] + au[l]);
        ixz[x] = sx * (zm[r] - zm[l]);
        iyz[x] = sy * (zd[x] - zu[x]);
        m[x] = mask[y * w + x];
        qn[x] = 1.0 / (ix[x] * ix[x] + iy[x] * iy[x] + ZETA2);
        qx[x] = 1.0 / (ixx[x] * ixx[x] + ixy[x] * ixy[x] + ZETA2);
        qy[x] = 1.0 / (iyy[x] * iyy[x] + ixy[x] * ixy[x] + ZETA2);
    }
}

/// Robust smoothness weights alpha/2 * Psi'(|grad(u+du)|^2 + |grad(v+dv)|^2) per pixel, from
/// forward differences; the weight of pixel x belongs to its edges to x+1 and to the pixel
/// below.
fn smoothness_weights(flow: &FlowField, du: &[f32], dv: &[f32], alpha2: f32, psi: &mut [f32]) {
    let (w, h) = (flow.width, flow.height);
    psi.par_chunks_mut(w)
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each(|(y, p)| smoothness_row(y, w, h, flow, du, dv, alpha2, p));
}

/// One row of [`smoothness_weights`].
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn smoothness_row(
    y: usize,
    w: usize,
    h: usize,
    flow: &FlowField,
    du: &[f32],
    dv: &[f32],
    alpha2: f32,
    p: &mut [f32],
) {
    let i = y * w;
    let j = if y + 1 < h { i + w } else { i };
    let (fu, fv) = (&flow.u[..], &flow.v[..]);
    let weight = |ux: f32, uy: f32, vx: f32, vy: f32| {
        alpha2 / (ux * ux + uy * uy + vx * vx + vy * vy + EPS2).sqrt()
    };
    // Pixels with a right neighbour, in blocks through local arrays (as in
    // `RowIn::block`) so that the loop vectorises; then the last one.
    let mut x0 = 0;
    while x0 + 1 < w {
        let n = LANES.min(w - 1 - x0);
        let ld = |s: &[f32], at: usize| load_lanes(s, at + x0, n);
        let (uc, ur, ud) = (ld(fu, i), ld(fu, i + 1), ld(fu, j));
        let (vc, vr, vd) = (ld(fv, i), ld(fv, i + 1), ld(fv, j));
        let (duc, dur, dud) = (ld(du, i), ld(du, i + 1), ld(du, j));
        let (dvc, dvr, dvd) = (ld(dv, i), ld(dv, i + 1), ld(dv, j));
        let mut o = [0f32; LANES];
        for l in 0..LANES {
            let (uu, vv) = (uc[l] + duc[l], vc[l] + dvc[l]);
            o[l] = weight(
                ur[l] + dur[l] - uu,
                ud[l] + dud[l] - uu,
                vr[l] + dvr[l] - vv,
                vd[l] + dvd[l] - vv,
            );
        }
        store_lanes(p, x0, n, &o);
        x0 += n;
    }
    let x = w - 1;
    let (uu, vv) = (fu[i + x] + du[i + x], fv[i + x] + dv[i + x]);
    p[x] = weight(
        0.0,
        fu[j + x] + du[j + x] - uu,
        0.0,
        fv[j + x] + dv[j + x] - vv,
    );
}

/// Pixels per block of the vectorised loops: each block goes through local arrays, so that
/// the per-lane loop has neither bounds checks nor aliasing between its many input and
/// output rows, and compiles to SIMD.
const LANES: usize = 8;

/// `s[at..at + n]` as a block (zero beyond `n`; `n` <= [`LANES`]). The full-block case has a
/// constant size, so it compiles to plain vector loads rather than a `memcpy` call.
#[inline(always)]
fn load_lanes(s: &[f32], at: usize, n: usize) -> [f32; LANES] {
    let mut a = [0f32; LANES];
    if n == LANES {
        a.copy_from_slice(&s[at..at + LANES]);
    } else {
        a[..n].copy_from_slice(&s[at..at + n]);
    }
    a
}

/// Stores the first `n` lanes of `v` at `d[at..]`.
#[inline(always)]
fn store_lanes(d: &mut [f32], at: usize, n: usize, v: &[f32; LANES]) {
    if n == LANES {
        d[at..at + LANES].copy_from_slice(v);
    } else {
        d[at..at + n].copy_from_slice(&v[..n]);
    }
}

/// Per-thread scratch of [`build_row`]: the row's coefficients in normal layout (NC rows of
/// `w`) and shifted copies of neighbour rows, so that the per-pixel loop has no branches.
struct RowScratch {
    coef: Vec<f32>,
    wl: Vec<f32>,
    wr: Vec<f32>,
    ul: Vec<f32>,
    ur: Vec<f32>,
    vl: Vec<f32>,
    vr: Vec<f32>,
    zero: Vec<f32>,
}

impl RowScratch {
    fn new(w: usize) -> Self {
        let v = || vec![0f32; w];
        RowScratch {
            coef: vec![0f32; NC * w],
            wl: v(),
            wr: v(),
            ul: v(),
            ur: v(),
            vl: v(),
            vr: v(),
            zero: v(),
        }
    }
}

/// `dst[x] = src[x - 1]` (and `dst[0] = src[0]`).
fn shift_right(src: &[f32], dst: &mut [f32]) {
    dst[0] = src[0];
    dst[1..].copy_from_slice(&src[..src.len() - 1]);
}

/// `dst[x] = src[x + 1]` (and the last element repeated).
fn shift_left(src: &[f32], dst: &mut [f32]) {
    let n = src.len();
    dst[..n - 1].copy_from_slice(&src[1..]);
    dst[n - 1] = src[n - 1];
}

/// The inputs of one row of [`build_row`], each cut to the row width.
#[derive(Clone, Copy)]
struct RowIn<'a> {
    du: &'a [f32],
    dv: &'a [f32],
    ix: &'a [f32],
    iy: &'a [f32],
    iz: &'a [f32],
    ixx: &'a [f32],
    ixy: &'a [f32],
    iyy: &'a [f32],
    ixz: &'a [f32],
    iyz: &'a [f32],
    m: &'a [f32],
    u: &'a [f32],
    v: &'a [f32],
    ul: &'a [f32],
    ur: &'a [f32],
    uu: &'a [f32],
    ud: &'a [f32],
    vl: &'a [f32],
    vr: &'a [f32],
    vu: &'a [f32],
    vd: &'a [f32],
    wl: &'a [f32],
    wr: &'a [f32],
    wu: &'a [f32],
    wd: &'a [f32],
    qn: &'a [f32],
    qx: &'a [f32],
    qy: &'a [f32],
    delta2: f32,
    gamma2: f32,
}

impl RowIn<'_> {
    /// The coefficients (a12, 1 / a11', 1 / a22', rhs1, rhs2) of the `n` <= [`LANES`] pixels
    /// from `x0`. The inputs are copied into local arrays first (zero beyond `n`, which
    /// gives finite values that are not stored), so that the per-lane loop has neither bounds
    /// checks nor aliasing between its many input and output rows, and compiles to SIMD.
    #[inline(always)]
    fn block(&self, x0: usize, n: usize) -> [[f32; LANES]; 5] {
        let load = |s: &[f32]| load_lanes(s, x0, n);
        let du = load(self.du);
        let dv = load(self.dv);
        let ix = load(self.ix);
        let iy = load(self.iy);
        let iz = load(self.iz);
        let ixx = load(self.ixx);
        let ixy = load(self.ixy);
        let iyy = load(self.iyy);
        let ixz = load(self.ixz);
        let iyz = load(self.iyz);
        let m = load(self.m);
        let u = load(self.u);
        let v = load(self.v);
        let ul = load(self.ul);
        let ur = load(self.ur);
        let uu = load(self.uu);
        let ud = load(self.ud);
        let vl = load(self.vl);
        let vr = load(self.vr);
        let vu = load(self.vu);
        let vd = load(self.vd);
        let wl = load(self.wl);
        let wr = load(self.wr);
        let wu = load(self.wu);
        let wd = load(self.wd);
        let (qn, qx, qy) = (load(self.qn), load(self.qx), load(self.qy));
        let (delta2, gamma2) = (self.delta2, self.gamma2);
        let mut out = [[0f32; LANES]; 5];
        for l in 0..LANES {
            let (a, b) = (du[l], dv[l]);
            let (gx1, gy1, gz) = (ix[l], iy[l], iz[l]);
            let (hxx, hxy, hyy) = (ixx[l], ixy[l], iyy[l]);
            // Brightness constancy, normalised by the gradient magnitude.
            let n = qn[l];
            let r = gz + gx1 * a + gy1 * b;
            let wdat = m[l] * delta2 / (r * r * n + EPS2).sqrt() * n;
            // Gradient constancy, each component normalised by its own Hessian row.
            let (nx, ny) = (qx[l], qy[l]);
            let rx = ixz[l] + hxx * a + hxy * b;
            let ry = iyz[l] + hxy * a + hyy * b;
            let wg = m[l] * gamma2 / (rx * rx * nx + ry * ry * ny + EPS2).sqrt();
            let (gx, gy) = (wg * nx, wg * ny);
            let a11 = wdat * gx1 * gx1 + gx * hxx * hxx + gy * hxy * hxy;
            let a12 = wdat * gx1 * gy1 + gx * hxx * hxy + gy * hxy * hyy;
            let a22 = wdat * gy1 * gy1 + gx * hxy * hxy + gy * hyy * hyy;
            let b1 = -wdat * gz * gx1 - gx * hxx * ixz[l] - gy * hxy * iyz[l];
            let b2 = -wdat * gz * gy1 - gx * hxy * ixz[l] - gy * hyy * iyz[l];
            // Smoothness: the pull of the base flow's differences to the four neighbours.
            let (cu, cv) = (u[l], v[l]);
            let su = wl[l] * (ul[l] - cu)
                + wr[l] * (ur[l] - cu)
                + wu[l] * (uu[l] - cu)
                + wd[l] * (ud[l] - cu);
            let sv = wl[l] * (vl[l] - cv)
                + wr[l] * (vr[l] - cv)
                + wu[l] * (vu[l] - cv)
                + wd[l] * (vd[l] - cv);
            let sw = wl[l] + wr[l] + wu[l] + wd[l];
            out[0][l] = a12;
            out[1][l] = 1.0 / (a11 + sw + ZETA2);
            out[2][l] = 1.0 / (a22 + sw + ZETA2);
            out[3][l] = b1 + su;
            out[4][l] = b2 + sv;
        }
        out
    }
}

/// The linear system of row `y` for the current increment, computed in normal layout (one
/// contiguous, vectorisable loop) and then split into the row's red (`r0`: pixels with x + y
/// even) and black (`r1`) packed coefficient blocks.
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn build_row(
    y: usize,
    w: usize,
    h: usize,
    terms: &[f32],
    flow: &FlowField,
    du: &[f32],
    dv: &[f32],
    psi: &[f32],
    params: &FlowParams,
    sc: &mut RowScratch,
    r0: &mut [f32],
    r1: &mut [f32],
) {
    let hw = w.div_ceil(2);
    let t = |f: usize| &terms[(y * NT + f) * w..(y * NT + f + 1) * w];
    let (qn, qx, qy) = (t(T_QN), t(T_QX), t(T_QY));
    let (ix, iy, iz, ixx, ixy, iyy, ixz, iyz, m) = (
        t(T_IX),
        t(T_IY),
        t(T_IZ),
        t(T_IXX),
        t(T_IXY),
        t(T_IYY),
        t(T_IXZ),
        t(T_IYZ),
        t(T_MASK),
    );
    let row = |yy: usize| yy * w..(yy + 1) * w;
    let (du, dv) = (&du[row(y)], &dv[row(y)]);
    let (u, v) = (&flow.u[row(y)], &flow.v[row(y)]);
    // Edge weights: psi of a pixel weights its edges to the right and below; none across the
    // image border.
    let pr = &psi[row(y)];
    shift_right(pr, &mut sc.wl);
    sc.wl[0] = 0.0;
    sc.wr.copy_from_slice(pr);
    sc.wr[w - 1] = 0.0;
    let wu: &[f32] = if y > 0 { &psi[row(y - 1)] } else { &sc.zero };
    let wd: &[f32] = if y + 1 < h { pr } else { &sc.zero };
    let (yu, yd) = (y.saturating_sub(1), (y + 1).min(h - 1));
    let (uu, ud) = (&flow.u[row(yu)], &flow.u[row(yd)]);
    let (vu, vd) = (&flow.v[row(yu)], &flow.v[row(yd)]);
    shift_right(u, &mut sc.ul);
    shift_left(u, &mut sc.ur);
    shift_right(v, &mut sc.vl);
    shift_left(v, &mut sc.vr);
    let (delta2, gamma2) = (params.delta * 0.5, params.gamma * 0.5);
    {
        // Every slice is cut to exactly `w` so that the loop below has no bounds checks and
        // vectorises.
        let (o_a12, rest) = sc.coef.split_at_mut(w);
        let (o_invu, rest) = rest.split_at_mut(w);
        let (o_invv, rest) = rest.split_at_mut(w);
        let (o_rhs1, rest) = rest.split_at_mut(w);
        let (o_rhs2, rest) = rest.split_at_mut(w);
        let (o_wl, rest) = rest.split_at_mut(w);
        let (o_wr, rest) = rest.split_at_mut(w);
        let (o_wu, rest) = rest.split_at_mut(w);
        let o_wd = &mut rest[..w];
        let (wl, wr, ul, ur, vl, vr) = (
            &sc.wl[..w],
            &sc.wr[..w],
            &sc.ul[..w],
            &sc.ur[..w],
            &sc.vl[..w],
            &sc.vr[..w],
        );
        let (wu, wd, uu, ud, vu, vd) = (&wu[..w], &wd[..w], &uu[..w], &ud[..w], &vu[..w], &vd[..w]);
        let (ix, iy, iz, ixx, ixy, iyy, ixz, iyz, m) = (
            &ix[..w],
            &iy[..w],
            &iz[..w],
            &ixx[..w],
            &ixy[..w],
            &iyy[..w],
            &ixz[..w],
            &iyz[..w],
            &m[..w],
        );
        let (du, dv, u, v) = (&du[..w], &dv[..w], &u[..w], &v[..w]);
        let (qn, qx, qy) = (&qn[..w], &qx[..w], &qy[..w]);
        let rin = RowIn {
            qn,
            qx,
            qy,
            du,
            dv,
            ix,
            iy,
            iz,
            ixx,
            ixy,
            iyy,
            ixz,
            iyz,
            m,
            u,
            v,
            ul,
            ur,
            uu,
            ud,
            vl,
            vr,
            vu,
            vd,
            wl,
            wr,
            wu,
            wd,
            delta2,
            gamma2,
        };
        let mut x0 = 0;
        while x0 < w {
            let n = LANES.min(w - x0);
            let blk = rin.block(x0, n);
            store_lanes(o_a12, x0, n, &blk[0]);
            store_lanes(o_invu, x0, n, &blk[1]);
            store_lanes(o_invv, x0, n, &blk[2]);
            store_lanes(o_rhs1, x0, n, &blk[3]);
            store_lanes(o_rhs2, x0, n, &blk[4]);
            x0 += n;
        }
        o_wl.copy_from_slice(wl);
        o_wr.copy_from_slice(wr);
        o_wu.copy_from_slice(wu);
        o_wd.copy_from_slice(wd);
    }
    // Split into colours: red cells of this row sit at x = 2k + (y & 1), black ones at
    // x = 2k + 1 - (y & 1).
    let (even, odd) = if y & 1 == 0 { (r0, r1) } else { (r1, r0) };
    let pairs = w / 2;
    for fld in 0..NC {
        let src = &sc.coef[fld * w..(fld + 1) * w];
        let (de, dod) = (
            &mut even[fld * hw..(fld + 1) * hw],
            &mut odd[fld * hw..(fld + 1) * hw],
        );
        for ((pair, e), o) in src
            .chunks_exact(2)
            .zip(de[..pairs].iter_mut())
            .zip(dod[..pairs].iter_mut())
        {
            *e = pair[0];
            *o = pair[1];
        }
        if w % 2 == 1 {
            de[pairs] = src[w - 1];
        }
    }
}

/// One half-sweep of red-black SOR over the pixels of colour `c`, reading the other colour.
fn sor_half_sweep(
    c: usize,
    w: usize,
    h: usize,
    coef: &[f32],
    du: &mut [Vec<f32>; 2],
    dv: &mut [Vec<f32>; 2],
    omega: f32,
) {
    let hw = w.div_ceil(2);
    let pw = hw + 2;
    let (du_self, du_other) = split_colours(du, c);
    let (dv_self, dv_other) = split_colours(dv, c);
    du_self[pw..(h + 1) * pw]
        .par_chunks_mut(pw)
        .zip(dv_self[pw..(h + 1) * pw].par_chunks_mut(pw))
        .zip(coef.par_chunks(NC * hw))
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each(|(y, ((su, sv), cf))| {
            // Pixel k of this row sits at x = 2k + s; its left/right neighbours (other colour,
            // same row) are cells k + s - 1 and k + s, i.e. padded k + s and k + s + 1.
            let s = (y + c) & 1;
            fn orow(o: &[f32], yy: usize, pw: usize) -> &[f32] {
                &o[yy * pw..(yy + 1) * pw]
            }
            let (ou, om, od) = (
                orow(du_other, y, pw),
                orow(du_other, y + 1, pw),
                orow(du_other, y + 2, pw),
            );
            let (pu, pm, pd) = (
                orow(dv_other, y, pw),
                orow(dv_other, y + 1, pw),
                orow(dv_other, y + 2, pw),
            );
            let f = |k: usize| &cf[k * hw..(k + 1) * hw];
            let (a12, invu, invv, rhs1, rhs2) =
                (f(C_A12), f(C_INVU), f(C_INVV), f(C_RHS1), f(C_RHS2));
            let (wl, wr, wu, wd) = (f(C_WL), f(C_WR), f(C_WU), f(C_WD));
            let (ul, ur, uu, ud) = (
                &om[s..s + hw],
                &om[s + 1..s + 1 + hw],
                &ou[1..1 + hw],
                &od[1..1 + hw],
            );
            let (vl, vr, vu, vd) = (
                &pm[s..s + hw],
                &pm[s + 1..s + 1 + hw],
                &pu[1..1 + hw],
                &pd[1..1 + hw],
            );
            let (su, sv) = (&mut su[1..1 + hw], &mut sv[1..1 + hw]);
            sor_row(
                su,
                sv,
                &SorRow {
                    wl,
                    wr,
                    wu,
                    wd,
                    ul,
                    ur,
                    uu,
                    ud,
                    vl,
                    vr,
                    vu,
                    vd,
                    a12,
                    invu,
                    invv,
                    rhs1,
                    rhs2,
                },
                omega,
            );
        });
}

/// The read-only rows of one SOR half-sweep row, each `hw` long.
struct SorRow<'a> {
    wl: &'a [f32],
    wr: &'a [f32],
    wu: &'a [f32],
    wd: &'a [f32],
    ul: &'a [f32],
    ur: &'a [f32],
    uu: &'a [f32],
    ud: &'a [f32],
    vl: &'a [f32],
    vr: &'a [f32],
    vu: &'a [f32],
    vd: &'a [f32],
    a12: &'a [f32],
    invu: &'a [f32],
    invv: &'a [f32],
    rhs1: &'a [f32],
    rhs2: &'a [f32],
}

/// The SOR update of one packed row. `su` and `sv` are function arguments (so the compiler
/// knows that no input row aliases them) and every input is cut to their length: the loop
/// vectorises without run-time checks.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn sor_row(su: &mut [f32], sv: &mut [f32], r: &SorRow, omega: f32) {
    let n = su.len().min(sv.len());
    let (su, sv) = (&mut su[..n], &mut sv[..n]);
    let wl = &r.wl[..n];
    let wr = &r.wr[..n];
    let wu = &r.wu[..n];
    let wd = &r.wd[..n];
    let ul = &r.ul[..n];
    let ur = &r.ur[..n];
    let uu = &r.uu[..n];
    let ud = &r.ud[..n];
    let vl = &r.vl[..n];
    let vr = &r.vr[..n];
    let vu = &r.vu[..n];
    let vd = &r.vd[..n];
    let a12 = &r.a12[..n];
    let invu = &r.invu[..n];
    let invv = &r.invv[..n];
    let rhs1 = &r.rhs1[..n];
    let rhs2 = &r.rhs2[..n];
    for k in 0..n {
        let nu = wl[k] * ul[k] + wr[k] * ur[k] + wu[k] * uu[k] + wd[k] * ud[k];
        let nv = wl[k] * vl[k] + wr[k] * vr[k] + wu[k] * vu[k] + wd[k] * vd[k];
        let a = su[k];
        let a_new = a + omega * ((rhs1[k] + nu - a12[k] * sv[k]) * invu[k] - a);
        su[k] = a_new;
        let b = sv[k];
        sv[k] = b + omega * ((rhs2[k] + nv - a12[k] * a_new) * invv[k] - b);
    }
}

fn split_colours(buf: &mut [Vec<f32>; 2], c: usize) -> (&mut [f32], &[f32]) {
    let [red, black] = buf;
    if c == 0 {
        (red, black)
    } else {
        (black, red)
    }
}

/// Packed red/black (padded) back to the normal layout.
fn unpack(w: usize, packed: &[Vec<f32>; 2], out: &mut [f32]) {
    let pw = w.div_ceil(2) + 2;
    out.par_chunks_mut(w)
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each(|(y, o)| {
            // Even x come from colour (y & 1), odd x from the other one.
            let (ce, co) = (y & 1, 1 - (y & 1));
            let row = |c: usize| &packed[c][(y + 1) * pw + 1..(y + 2) * pw - 1];
            let (pe, po) = (row(ce), row(co));
            let pairs = w / 2;
            for ((pair, &e), &od) in o.chunks_exact_mut(2).zip(&pe[..pairs]).zip(&po[..pairs]) {
                pair[0] = e;
                pair[1] = od;
            }
            if w % 2 == 1 {
                o[w - 1] = pe[pairs];
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texture(w: usize, h: usize, dx: f32, dy: f32) -> Plane {
        Plane::from_fn(w, h, |x, y| {
            let (x, y) = (x as f32 - dx, y as f32 - dy);
            0.5 + 0.2 * (0.31 * x + 0.17 * y).sin() + 0.15 * (0.23 * y - 0.41 * x).cos()
        })
    }

    #[test]
    fn refinement_pulls_a_slightly_wrong_flow_towards_the_truth() {
        let (w, h) = (48, 40);
        let a = texture(w, h, 0.0, 0.0);
        let b = texture(w, h, 1.0, 0.5);
        let truth = FlowField::from_fn(w, h, |_, _| (1.0, 0.5));
        // The densified flow of DIS is noisy from patch to patch: perturb the truth by a
        // deterministic pseudo-random +-0.3 px.
        let jitter = |x: usize, y: usize, k: usize| {
            (((x * 7919 + y * 104_729 + k * 31) % 1000) as f32 / 1000.0 - 0.5) * 0.6
        };
        let mut flow =
            FlowField::from_fn(w, h, |x, y| (1.0 + jitter(x, y, 0), 0.5 + jitter(x, y, 1)));
        let before = flow.epe(&truth);
        let params = FlowParams {
            var_iterations: 5,
            ..FlowParams::default()
        };
        refine(&a, &b, &mut flow, &params);
        let after = flow.epe(&truth);
        assert!(after < 0.35 * before, "EPE {before} -> {after}");
    }

    #[test]
    fn correct_flow_stays_put_and_odd_sizes_work() {
        let (w, h) = (33, 17);
        let a = texture(w, h, 0.0, 0.0);
        let b = texture(w, h, 0.5, 0.0);
        let truth = FlowField::from_fn(w, h, |_, _| (0.5, 0.0));
        let mut flow = truth.clone();
        refine(&a, &b, &mut flow, &FlowParams::default());
        assert!(flow.epe(&truth) < 0.05, "{}", flow.epe(&truth));
    }
}
