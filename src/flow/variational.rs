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
use rayon::prelude::*;

const ZETA2: f32 = 0.1 * 0.1;
const EPS2: f32 = 0.001 * 0.001;

/// Per-pixel image terms, stored row-interleaved (row y holds NT fields of `w` values each),
/// so that one parallel pass can write all of them.
const NT: usize = 9;
const T_IX: usize = 0;
const T_IY: usize = 1;
const T_IZ: usize = 2;
const T_IXX: usize = 3;
const T_IXY: usize = 4;
const T_IYY: usize = 5;
const T_IXZ: usize = 6;
const T_IYZ: usize = 7;
const T_MASK: usize = 8;

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
        .for_each(|(y, t)| {
            let row = |yy: usize| yy * w..(yy + 1) * w;
            let (yu, yd) = (y.saturating_sub(1), (y + 1).min(h - 1));
            let (au, am, ad) = (&avg[row(yu)], &avg[row(y)], &avg[row(yd)]);
            let (zu, zm, zd) = (&z[row(yu)], &z[row(y)], &z[row(yd)]);
            // One-sided differences at the borders (the clamped neighbour is the pixel itself).
            let sy = if y == 0 || y == h - 1 { 1.0 } else { 0.5 };
            let (fields, _) = t.split_at_mut(NT * w);
            let mut f = fields.chunks_exact_mut(w);
            let mut next = || f.next().expect("NT fields");
            let (ix, iy, iz, ixx, ixy, iyy, ixz, iyz, m) = (
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
            for x in 0..w {
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
            }
        });
    terms
}

/// Robust smoothness weights alpha/2 * Psi'(|grad(u+du)|^2 + |grad(v+dv)|^2) per pixel, from
/// forward differences; the weight of pixel x belongs to its edges to x+1 and to the pixel
/// below.
fn smoothness_weights(flow: &FlowField, du: &[f32], dv: &[f32], alpha2: f32, psi: &mut [f32]) {
    let (w, h) = (flow.width, flow.height);
    psi.par_chunks_mut(w)
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each(|(y, p)| {
            let i = y * w;
            let j = if y + 1 < h { i + w } else { i };
            for x in 0..w {
                let xr = if x + 1 < w { x + 1 } else { x };
                let (uu, vv) = (flow.u[i + x] + du[i + x], flow.v[i + x] + dv[i + x]);
                let ux = flow.u[i + xr] + du[i + xr] - uu;
                let vx = flow.v[i + xr] + dv[i + xr] - vv;
                let uy = flow.u[j + x] + du[j + x] - uu;
                let vy = flow.v[j + x] + dv[j + x] - vv;
                p[x] = alpha2 / (ux * ux + uy * uy + vx * vx + vy * vy + EPS2).sqrt();
            }
        });
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

/// The linear system of row `y` for the current increment, computed in normal layout (one
/// contiguous, vectorisable loop) and then split into the row's red (`r0`: pixels with x + y
/// even) and black (`r1`) packed coefficient blocks.
#[allow(clippy::too_many_arguments)]
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
        let mut f = sc.coef.chunks_exact_mut(w);
        let mut next = || f.next().expect("NC fields");
        let (o_a12, o_invu, o_invv, o_rhs1, o_rhs2, o_wl, o_wr, o_wu, o_wd) = (
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
        let (wl, wr, ul, ur, vl, vr) = (&sc.wl, &sc.wr, &sc.ul, &sc.ur, &sc.vl, &sc.vr);
        for x in 0..w {
            let (a, b) = (du[x], dv[x]);
            // Brightness constancy, normalised by the gradient magnitude.
            let n = 1.0 / (ix[x] * ix[x] + iy[x] * iy[x] + ZETA2);
            let r = iz[x] + ix[x] * a + iy[x] * b;
            let wdat = m[x] * delta2 / (r * r * n + EPS2).sqrt() * n;
            // Gradient constancy, each component normalised by its own Hessian row.
            let nx = 1.0 / (ixx[x] * ixx[x] + ixy[x] * ixy[x] + ZETA2);
            let ny = 1.0 / (iyy[x] * iyy[x] + ixy[x] * ixy[x] + ZETA2);
            let rx = ixz[x] + ixx[x] * a + ixy[x] * b;
            let ry = iyz[x] + ixy[x] * a + iyy[x] * b;
            let wg = m[x] * gamma2 / (rx * rx * nx + ry * ry * ny + EPS2).sqrt();
            let (gx, gy) = (wg * nx, wg * ny);
            let a11 = wdat * ix[x] * ix[x] + gx * ixx[x] * ixx[x] + gy * ixy[x] * ixy[x];
            let a12 = wdat * ix[x] * iy[x] + gx * ixx[x] * ixy[x] + gy * ixy[x] * iyy[x];
            let a22 = wdat * iy[x] * iy[x] + gx * ixy[x] * ixy[x] + gy * iyy[x] * iyy[x];
            let b1 = -wdat * iz[x] * ix[x] - gx * ixx[x] * ixz[x] - gy * ixy[x] * iyz[x];
            let b2 = -wdat * iz[x] * iy[x] - gx * ixy[x] * ixz[x] - gy * iyy[x] * iyz[x];
            // Smoothness: the pull of the base flow's differences to the four neighbours.
            let (cu, cv) = (u[x], v[x]);
            let su = wl[x] * (ul[x] - cu)
                + wr[x] * (ur[x] - cu)
                + wu[x] * (uu[x] - cu)
                + wd[x] * (ud[x] - cu);
            let sv = wl[x] * (vl[x] - cv)
                + wr[x] * (vr[x] - cv)
                + wu[x] * (vu[x] - cv)
                + wd[x] * (vd[x] - cv);
            let sw = wl[x] + wr[x] + wu[x] + wd[x];
            o_a12[x] = a12;
            o_invu[x] = 1.0 / (a11 + sw + ZETA2);
            o_invv[x] = 1.0 / (a22 + sw + ZETA2);
            o_rhs1[x] = b1 + su;
            o_rhs2[x] = b2 + sv;
            o_wl[x] = wl[x];
            o_wr[x] = wr[x];
            o_wu[x] = wu[x];
            o_wd[x] = wd[x];
        }
    }
    // Split into colours: red cells of this row sit at x = 2k + (y & 1), black ones at
    // x = 2k + 1 - (y & 1).
    let (sr, sb) = (y & 1, 1 - (y & 1));
    for fld in 0..NC {
        let src = &sc.coef[fld * w..(fld + 1) * w];
        for (dst, s0) in [(&mut *r0, sr), (&mut *r1, sb)] {
            let d = &mut dst[fld * hw..(fld + 1) * hw];
            for (k, x) in (s0..w).step_by(2).enumerate() {
                d[k] = src[x];
            }
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
            for k in 0..hw {
                let nu = wl[k] * ul[k] + wr[k] * ur[k] + wu[k] * uu[k] + wd[k] * ud[k];
                let nv = wl[k] * vl[k] + wr[k] * vr[k] + wu[k] * vu[k] + wd[k] * vd[k];
                let a = su[k];
                let a_new = a + omega * ((rhs1[k] + nu - a12[k] * sv[k]) * invu[k] - a);
                su[k] = a_new;
                let b = sv[k];
                sv[k] = b + omega * ((rhs2[k] + nv - a12[k] * a_new) * invv[k] - b);
            }
        });
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
            for (x, v) in o.iter_mut().enumerate() {
                let c = (x + y) & 1;
                *v = packed[c][(y + 1) * pw + (x >> 1) + 1];
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
