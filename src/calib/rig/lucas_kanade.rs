//! Sub-pixel localisation of a match: where, in camera B, is the exact point that a keypoint
//! marks in camera A?
//!
//! Two Lucas-Kanade stages (Lucas and Kanade, IJCAI 1981), both in the inverse compositional
//! form (Baker and Matthews, "Lucas-Kanade 20 Years On: A Unifying Framework", IJCV 2004):
//!
//! 1. Translation, gain and bias of an 11x11 patch: brings a match from a few pixels off (a
//!    descriptor match, or the dense flow's guess at a reduced resolution) to within a few
//!    tenths of a pixel.
//! 2. A homography of a larger, Gaussian-weighted patch (33x33, sigma 9.6 px), section 4 of
//!    Baker and Matthews. Neighbouring cameras of a rig see the ground, walls and props turned,
//!    sheared and foreshortened differently; a translation cannot express that, and its fit
//!    lands off by a few tenths of a pixel, in the same sense for every patch of a surface,
//!    so the rig's poses drift along an arc (0.11 degrees median error on a 12-camera arc).
//!    The homography is exact for any planar piece of surface, and the larger patch averages
//!    out the image noise and the texture's aliasing.
//!
//! A match is accepted only if the reverse fit, from B's patch back to A, returns to the
//! keypoint within [`ROUND_TRIP_PX`]: patches on depth edges, on one-dimensional texture
//! (streaks, lines) and on repeated patterns fail it.
//!
//! Written here because the alignment is the core of the calibration's accuracy and needs the
//! gain-invariant, weighted, round-trip-checked patch fit above. The Rust crates found
//! (visual-odometry-rs: whole frames under a 3D rigid warp; apple-vision: macOS bindings)
//! do not offer it.

use crate::frame::Plane;
use nalgebra::{Matrix3, SMatrix, SVector, Vector3};

use super::features::bilinear;

/// A local affine map `[a00, a01, a10, a11]` from offsets around a point of one image to
/// offsets around its match in the other.
pub type Frame = [f32; 4];

pub const IDENTITY: Frame = [1.0, 0.0, 0.0, 1.0];

/// A half turn: between a camera and one mounted the other way up.
pub const HALF_TURN: Frame = [-1.0, 0.0, 0.0, -1.0];

/// Half-size of the translation stage's patch.
const HALF: i32 = 5;
const SIDE: usize = (2 * HALF + 1) as usize;

/// Half-size of the homography stage's patch, and its Gaussian weight's sigma.
const WHALF: i32 = 16;
const WSIDE: usize = (2 * WHALF + 1) as usize;

/// The largest round-trip error, pixels, of an accepted match.
pub const ROUND_TRIP_PX: f64 = 0.2;

/// Which matches [`refine_in_frame`] accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Acceptance {
    /// The largest round-trip error of the homography fit, pixels.
    pub round_trip: f64,
    /// Where the homography fit fails or does not come back, try it again on a 17x17 patch,
    /// then return the translation stage's result (a few tenths of a pixel, patch
    /// correlation at least 0.8) instead of nothing. Real footage needs it: on the
    /// Middlebury temple two thirds of the descriptor matches of cameras 23 degrees apart fail
    /// the homography fit (its 33x33 patch spans the columns' depth edges), and with them
    /// most of the tracks through three cameras. (The 17x17 step: temple 0.848 -> 0.813
    /// degrees median error; 21x21 then 13x13 instead: 0.900.)
    pub translation_fallback: bool,
}

/// The usual acceptance: the homography fit, back within [`ROUND_TRIP_PX`].
pub const STRICT: Acceptance = Acceptance {
    round_trip: ROUND_TRIP_PX,
    translation_fallback: false,
};

/// Refines the match `q` in `b` of the keypoint `p` in `a` (pixels): translation, then a
/// homography of the patch, checked by the fit back from `b` to `a`. `None` when an alignment
/// diverges, moves more than `max_shift` from `q`, fits poorly (normalised cross-correlation
/// below 0.8) or does not lead back to `p`. Near the border, where the large patch does not
/// fit, the translation stage's result is returned.
pub fn refine(a: &Plane, b: &Plane, p: [f32; 2], q: [f32; 2], max_shift: f32) -> Option<[f32; 2]> {
    refine_in_frame(a, b, p, q, IDENTITY, max_shift, STRICT)
}

/// [`refine`] for a match whose patch in `b` is the patch of `a` mapped by the affine
/// `frame` (an offset `u` from `p` sits at `frame u` from `q`): both stages start from it, so
/// that a wide baseline's shear does not defeat the translation stage. What it accepts is
/// `accept` ([`STRICT`] in [`refine`]).
pub fn refine_in_frame(
    a: &Plane,
    b: &Plane,
    p: [f32; 2],
    q: [f32; 2],
    frame: Frame,
    max_shift: f32,
    accept: Acceptance,
) -> Option<[f32; 2]> {
    let (px, py) = (p[0].round() as i32, p[1].round() as i32);
    let [f00, f01, f10, f11] = frame;
    // The keypoint's offset from the template's centre pixel, and where it goes in b.
    let (ox, oy) = (p[0] - px as f32, p[1] - py as f32);
    let (fx, fy) = (f00 * ox + f01 * oy, f10 * ox + f11 * oy);
    let (ux, uy) = translation(a, b, px, py, [q[0] - fx, q[1] - fy], frame, max_shift)?;
    let by_translation = Some([ux + fx, uy + fy]);
    // The patch sizes to try: the usual one, then (tolerant) a quarter of its area, whose
    // patch spans fewer depth edges, then the translation fit.
    let halves: &[i32] = if accept.translation_fallback {
        &[WHALF, WHALF / 2]
    } else {
        &[WHALF]
    };
    for &half in halves {
        match by_homography(a, b, p, frame, [ux, uy], max_shift, accept.round_trip, half) {
            Warp::Found(m) => return Some([m[0] as f32, m[1] as f32]),
            Warp::NearBorder => return by_translation,
            Warp::Failed => {}
        }
    }
    by_translation.filter(|_| accept.translation_fallback)
}

/// The homography stage of [`refine_in_frame`] with a patch of half-size `half`, from the
/// translation stage's `u` (where the patch's centre pixel goes), checked by its round trip:
/// the match.
#[allow(clippy::too_many_arguments)]
fn by_homography(
    a: &Plane,
    b: &Plane,
    p: [f32; 2],
    frame: Frame,
    u: [f32; 2],
    max_shift: f32,
    round_trip: f64,
    half: i32,
) -> Warp<[f64; 2]> {
    let (px, py) = (p[0].round() as i32, p[1].round() as i32);
    let [f00, f01, f10, f11] = frame.map(|v| v as f64);
    let (ox, oy) = ((p[0] - px as f32) as f64, (p[1] - py as f32) as f64);
    let s = half as f64;
    let start = Matrix3::new(
        f00 * s,
        f01 * s,
        u[0] as f64,
        f10 * s,
        f11 * s,
        u[1] as f64,
        0.0,
        0.0,
        1.0,
    );
    let h = match homography(a, b, px, py, start, max_shift as f64, half) {
        Warp::Found(h) => h,
        Warp::NearBorder => return Warp::NearBorder,
        Warp::Failed => return Warp::Failed,
    };
    let m = apply(&h, ox / s, oy / s);
    let found = Warp::Found(m);
    // Round trip: B's patch at the match's pixel, aligned back to A, must land on p.
    let (qx, qy) = (m[0].round() as i32, m[1].round() as i32);
    let Some(inv) = h.try_inverse() else {
        return Warp::Failed;
    };
    let back_start = centred(px as f64, py as f64, s) * inv * centred(qx as f64, qy as f64, s);
    match homography(b, a, qx, qy, back_start, max_shift as f64, half) {
        Warp::Found(g) => {
            let r = apply(&g, (m[0] - qx as f64) / s, (m[1] - qy as f64) / s);
            let err = (r[0] - p[0] as f64).hypot(r[1] - p[1] as f64);
            if err <= round_trip {
                found
            } else {
                Warp::Failed
            }
        }
        Warp::NearBorder => found,
        Warp::Failed => Warp::Failed,
    }
}

/// Translation stage: the position in `b` of integer pixel (px, py) of `a`, starting from the
/// guess `u0`, the patch mapped by `frame` (held fixed).
fn translation(
    a: &Plane,
    b: &Plane,
    px: i32,
    py: i32,
    u0: [f32; 2],
    frame: Frame,
    max_shift: f32,
) -> Option<(f32, f32)> {
    let [f00, f01, f10, f11] = frame;
    if !fits(a, px, py, HALF) {
        return None;
    }
    // Template and its gradients (fixed during the iterations: inverse compositional form).
    let mut t = [0f32; SIDE * SIDE];
    let mut tx = [0f32; SIDE * SIDE];
    let mut ty = [0f32; SIDE * SIDE];
    let mut k = 0;
    for dy in -HALF..=HALF {
        for dx in -HALF..=HALF {
            let (x, y) = ((px + dx) as usize, (py + dy) as usize);
            let i = y * a.width + x;
            t[k] = a.data[i];
            tx[k] = 0.5 * (a.data[i + 1] - a.data[i - 1]);
            ty[k] = 0.5 * (a.data[i + a.width] - a.data[i - a.width]);
            k += 1;
        }
    }
    let mean_t = t.iter().sum::<f32>() / t.len() as f32;
    let var_t = t.iter().map(|v| (v - mean_t).powi(2)).sum::<f32>();
    if var_t < 1e-6 {
        return None;
    }
    let (mut ux, mut uy) = (u0[0], u0[1]);
    let (ux0, uy0) = (ux, uy);
    let (mut h00, mut h01, mut h11) = (0f64, 0f64, 0f64);
    for k in 0..SIDE * SIDE {
        h00 += (tx[k] * tx[k]) as f64;
        h01 += (tx[k] * ty[k]) as f64;
        h11 += (ty[k] * ty[k]) as f64;
    }
    let det = h00 * h11 - h01 * h01;
    if det <= 1e-12 {
        return None;
    }
    let mut warped = [0f32; SIDE * SIDE];
    let sample = |ux: f32, uy: f32, warped: &mut [f32; SIDE * SIDE]| {
        let mut k = 0;
        for dy in -HALF..=HALF {
            for dx in -HALF..=HALF {
                let (dx, dy) = (dx as f32, dy as f32);
                warped[k] = bilinear(b, ux + f00 * dx + f01 * dy, uy + f10 * dx + f11 * dy);
                k += 1;
            }
        }
    };
    for _ in 0..20 {
        sample(ux, uy, &mut warped);
        // Gain and bias: match the warped patch's mean and contrast to the template's.
        let mean_w = warped.iter().sum::<f32>() / warped.len() as f32;
        let var_w = warped.iter().map(|v| (v - mean_w).powi(2)).sum::<f32>();
        if var_w < 1e-9 {
            return None;
        }
        let gain = (var_t / var_w).sqrt();
        let (mut g0, mut g1) = (0f64, 0f64);
        for k in 0..SIDE * SIDE {
            let e = (warped[k] - mean_w) * gain - (t[k] - mean_t);
            g0 += (tx[k] * e) as f64;
            g1 += (ty[k] * e) as f64;
        }
        let sx = ((h11 * g0 - h01 * g1) / det) as f32;
        let sy = ((h00 * g1 - h01 * g0) / det) as f32;
        // Inverse composition: the template's step, carried into b by the frame.
        ux -= f00 * sx + f01 * sy;
        uy -= f10 * sx + f11 * sy;
        if !(ux.is_finite() && uy.is_finite()) || (ux - ux0).hypot(uy - uy0) > max_shift {
            return None;
        }
        if sx * sx + sy * sy < 1e-6 {
            break;
        }
    }
    // Normalised residual (1 - NCC-like): reject patches that do not really match.
    sample(ux, uy, &mut warped);
    let mean_w = warped.iter().sum::<f32>() / warped.len() as f32;
    let (mut num, mut vw) = (0f32, 0f32);
    for k in 0..SIDE * SIDE {
        num += (warped[k] - mean_w) * (t[k] - mean_t);
        vw += (warped[k] - mean_w).powi(2);
    }
    let ncc = num / (var_t * vw).sqrt().max(1e-12);
    (ncc > 0.8).then_some((ux, uy))
}

/// Whether the patch of half-size `half` around (px, py), and the pixels around it that its
/// gradients read, lie inside `img`.
fn fits(img: &Plane, px: i32, py: i32, half: i32) -> bool {
    px > half && py > half && px + half + 1 < img.width as i32 && py + half + 1 < img.height as i32
}

/// The warp taking the template's normalised coordinates (pixel offsets / `s`, the patch's
/// half-size) to pixels of the other image, with the template's centre at (x, y) and no
/// distortion.
fn centred(x: f64, y: f64, s: f64) -> Matrix3<f64> {
    Matrix3::new(s, 0.0, x, 0.0, s, y, 0.0, 0.0, 1.0)
}

fn apply(h: &Matrix3<f64>, x: f64, y: f64) -> [f64; 2] {
    let v = h * Vector3::new(x, y, 1.0);
    [v.x / v.z, v.y / v.z]
}

/// The outcome of a patch fit: what it found, or that the patch leaves the image, or failure.
enum Warp<T> {
    Found(T),
    NearBorder,
    Failed,
}

/// Homography stage: the warp from the Gaussian-weighted patch around integer pixel
/// (px, py) of `a` (in normalised coordinates) to pixels of `b`, from `start`; the patch of
/// half-size `half` (at most [`WHALF`]), its weight's sigma 0.6 `half`.
fn homography(
    a: &Plane,
    b: &Plane,
    px: i32,
    py: i32,
    start: Matrix3<f64>,
    max_shift: f64,
    half: i32,
) -> Warp<Matrix3<f64>> {
    type M8 = SMatrix<f64, 8, 8>;
    type V8 = SVector<f64, 8>;
    if !fits(a, px, py, half) {
        return Warp::NearBorder;
    }
    let side = (2 * half + 1) as usize;
    let n = side * side;
    let s = half as f64;
    let sigma = 0.6 * s;
    // Template, weights and steepest-descent images (gradient times the warp's Jacobian at
    // the identity, in normalised coordinates). Fixed-size arrays: no allocation per match.
    let mut t = [0f64; WSIDE * WSIDE];
    let mut wt = [0f64; WSIDE * WSIDE];
    let mut sd = [[0f64; 8]; WSIDE * WSIDE];
    let mut k = 0;
    for dy in -half..=half {
        for dx in -half..=half {
            let i = (py + dy) as usize * a.width + (px + dx) as usize;
            t[k] = a.data[i] as f64;
            let gx = 0.5 * (a.data[i + 1] - a.data[i - 1]) as f64 * s;
            let gy = 0.5 * (a.data[i + a.width] - a.data[i - a.width]) as f64 * s;
            let (x, y) = (dx as f64 / s, dy as f64 / s);
            sd[k] = [
                gx * x,
                gy * x,
                gx * y,
                gy * y,
                gx,
                gy,
                -(gx * x + gy * y) * x,
                -(gx * x + gy * y) * y,
            ];
            let r2 = (dx * dx + dy * dy) as f64;
            wt[k] = (-r2 / (2.0 * sigma * sigma)).exp();
            k += 1;
        }
    }
    let (t, wt) = (&t[..n], &wt[..n]);
    let wsum: f64 = wt.iter().sum();
    // Weighted mean and (unnormalised) variance of a patch.
    let weighted_stats = |patch: &[f64]| {
        let mean = patch.iter().zip(wt).map(|(v, w)| v * w).sum::<f64>() / wsum;
        let var = patch
            .iter()
            .zip(wt)
            .map(|(v, w)| w * (v - mean).powi(2))
            .sum::<f64>();
        (mean, var)
    };
    let (mean_t, var_t) = weighted_stats(t);
    if var_t < 1e-6 {
        return Warp::Failed;
    }
    let mut hess = M8::zeros();
    for k in 0..n {
        let v = V8::from_row_slice(&sd[k]);
        hess += v * v.transpose() * wt[k];
    }
    let Some(hinv) = hess.try_inverse() else {
        return Warp::Failed;
    };
    let mut h = start;
    let centre0 = apply(&start, 0.0, 0.0);
    let mut warped = [0f64; WSIDE * WSIDE];
    let sample = |h: &Matrix3<f64>, warped: &mut [f64]| {
        let mut k = 0;
        // Homogeneous coordinates are linear along a row: step them.
        let (sx, sy, sz) = (h[(0, 0)] / s, h[(1, 0)] / s, h[(2, 0)] / s);
        for dy in -half..=half {
            let (x, y) = (-1.0, dy as f64 / s);
            let mut hx = h[(0, 0)] * x + h[(0, 1)] * y + h[(0, 2)];
            let mut hy = h[(1, 0)] * x + h[(1, 1)] * y + h[(1, 2)];
            let mut hz = h[(2, 0)] * x + h[(2, 1)] * y + h[(2, 2)];
            for _ in 0..side {
                let iz = 1.0 / hz;
                warped[k] = bilinear(b, (hx * iz) as f32, (hy * iz) as f32) as f64;
                hx += sx;
                hy += sy;
                hz += sz;
                k += 1;
            }
        }
    };
    let mut converged = false;
    for _ in 0..40 {
        sample(&h, &mut warped);
        let (mean_w, var_w) = weighted_stats(&warped[..n]);
        if var_w < 1e-12 {
            return Warp::Failed;
        }
        let gain = (var_t / var_w).sqrt();
        let mut g = V8::zeros();
        for k in 0..n {
            let e = ((warped[k] - mean_w) * gain - (t[k] - mean_t)) * wt[k];
            for (j, v) in sd[k].iter().enumerate() {
                g[j] += v * e;
            }
        }
        let d = hinv * g;
        // Inverse composition: H <- H * D^-1, D the increment's homography.
        let dm = Matrix3::new(
            1.0 + d[0],
            d[2],
            d[4],
            d[1],
            1.0 + d[3],
            d[5],
            d[6],
            d[7],
            1.0,
        );
        let Some(di) = dm.try_inverse() else {
            return Warp::Failed;
        };
        h *= di;
        h /= h[(2, 2)];
        let c = apply(&h, 0.0, 0.0);
        if !h.iter().all(|v| v.is_finite())
            || (c[0] - centre0[0]).hypot(c[1] - centre0[1]) > max_shift
        {
            return Warp::Failed;
        }
        // The largest motion of the patch's pixels by this step, in template pixels.
        let step =
            s * (d[4].abs() + d[5].abs() + d.rows(0, 4).abs().sum() + d.rows(6, 2).abs().sum());
        if step < 5e-3 {
            converged = true;
            break;
        }
    }
    // The local scale at the centre: reject collapsed or exploded warps.
    let (u, v) = (h[(0, 2)], h[(1, 2)]);
    let jac = ((h[(0, 0)] - u * h[(2, 0)]) * (h[(1, 1)] - v * h[(2, 1)])
        - (h[(0, 1)] - u * h[(2, 1)]) * (h[(1, 0)] - v * h[(2, 0)]))
        / (s * s);
    if !converged || !(0.4..2.5).contains(&jac) {
        return Warp::Failed;
    }
    sample(&h, &mut warped);
    let (mean_w, var_w) = weighted_stats(&warped[..n]);
    let num = warped
        .iter()
        .zip(t)
        .zip(wt)
        .map(|((v, tv), w)| w * (v - mean_w) * (tv - mean_t))
        .sum::<f64>();
    let ncc = num / (var_t * var_w).sqrt().max(1e-12);
    if ncc > 0.8 {
        Warp::Found(h)
    } else {
        Warp::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Band-limited texture with structure at several scales and orientations.
    fn texture(x: f64, y: f64) -> f64 {
        0.5 + 0.15 * (x * 0.31).sin() * (y * 0.17).cos()
            + 0.1 * (x * 0.07 + y * 0.11).sin()
            + 0.08 * (x * 0.23 - y * 0.41).sin()
            + 0.06 * (x * 0.53 + y * 0.29).cos()
    }

    /// A homography (rotation, anisotropic scale, shear and perspective about (cx, cy)).
    fn warp(x: f64, y: f64) -> (f64, f64) {
        let (cx, cy) = (100.0, 80.0);
        let (dx, dy) = (x - cx, y - cy);
        let (c, s) = (0.1f64.cos(), 0.1f64.sin());
        let u = 1.08 * (c * dx - s * dy) + 0.06 * dy + 2.3;
        let v = 0.95 * (s * dx + c * dy) - 1.1;
        let z = 1.0 + 6e-4 * dx - 4e-4 * dy;
        (cx + u / z, cy + v / z)
    }

    #[test]
    fn refinement_follows_a_sheared_foreshortened_patch() {
        // b shows a's texture through the homography: b(warp(p)) = a(p). b is sampled by
        // inverting the warp numerically per pixel.
        let a = Plane::from_fn(200, 160, |x, y| texture(x as f64, y as f64) as f32);
        let inv = |u: f64, v: f64| {
            let (mut x, mut y) = (u, v);
            for _ in 0..50 {
                let (wu, wv) = warp(x, y);
                x -= (wu - u) * 0.9;
                y -= (wv - v) * 0.9;
            }
            (x, y)
        };
        let b = Plane::from_fn(200, 160, |u, v| {
            let (x, y) = inv(u as f64, v as f64);
            (0.8 * texture(x, y) + 0.1) as f32
        });
        let mut worst = 0f64;
        for p in [[90.5, 70.5], [110.5, 85.5], [100.5, 95.5], [85.5, 90.5]] {
            let (tx, ty) = warp(p[0], p[1]);
            let guess = [tx as f32 + 0.6, ty as f32 - 0.5];
            let r = refine(&a, &b, [p[0] as f32, p[1] as f32], guess, 3.0)
                .unwrap_or_else(|| panic!("no match for {p:?}"));
            worst = worst.max((r[0] as f64 - tx).hypot(r[1] as f64 - ty));
        }
        assert!(worst < 0.03, "worst error {worst} px");
    }

    #[test]
    fn a_frame_lets_the_refinement_follow_a_strong_shear() {
        // The ground seen from the next camera of a sparse ring: b(x + 2 (y - 80) + 3.4, y +
        // 0.7) = a(x, y), a horizontal shear of 2 that the translation stage cannot follow.
        let (k, ox, oy) = (2.0f64, 3.4f64, 0.7f64);
        // Half the test texture's frequencies: sheared by 2, the full ones come near the
        // sampling limit in b (0.07 px worst error); with these, 0.054 px.
        let tex = |x: f64, y: f64| texture(0.5 * x, 0.5 * y);
        let a = Plane::from_fn(240, 160, |x, y| tex(x as f64, y as f64) as f32);
        let b = Plane::from_fn(240, 160, |u, v| {
            let y = v as f64 - oy;
            let x = u as f64 - ox - k * (y - 80.0);
            (0.9 * tex(x, y) + 0.05) as f32
        });
        let truth = |p: [f32; 2]| {
            let (x, y) = (p[0] as f64, p[1] as f64);
            [x + k * (y - 80.0) + ox, y + oy]
        };
        let frame = [1.0, k as f32, 0.0, 1.0];
        let mut worst = 0f64;
        for p in [[100.3f32, 78.6], [120.0, 84.0], [110.5, 75.2]] {
            let t = truth(p);
            let guess = [t[0] as f32 - 0.9, t[1] as f32 + 0.6];
            assert!(
                refine(&a, &b, p, guess, 3.0).is_none(),
                "found without the frame"
            );
            let r = refine_in_frame(&a, &b, p, guess, frame, 3.0, STRICT)
                .unwrap_or_else(|| panic!("no match for {p:?}"));
            worst = worst.max((r[0] as f64 - t[0]).hypot(r[1] as f64 - t[1]));
        }
        assert!(worst < 0.08, "worst error {worst} px");
    }

    #[test]
    fn refinement_finds_a_subpixel_shift() {
        let tex = |x: f32, y: f32| texture(x as f64, y as f64) as f32;
        let a = Plane::from_fn(96, 96, |x, y| tex(x as f32, y as f32));
        let b = Plane::from_fn(96, 96, |x, y| {
            0.9 * tex(x as f32 - 3.3, y as f32 + 1.7) + 0.05
        });
        // a(p) = b(p + (3.3, -1.7)): start 0.8 px off.
        let r = refine(&a, &b, [46.0, 46.0], [49.9, 44.8], 3.0).unwrap();
        assert!(
            (r[0] - 49.3).abs() < 0.02 && (r[1] - 44.3).abs() < 0.02,
            "{r:?}"
        );
    }
}
