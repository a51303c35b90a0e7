//! In-between views of a calibrated pair: each pixel's match is triangulated and projected
//! into the in-between camera, instead of moving a fraction `t` along its flow.
//!
//! Moving points linearly along their flow is exact only for cameras that translate parallel
//! to the image plane (Seitz and Dyer, "View Morphing", SIGGRAPH 1996). Cameras on a ring
//! turn about the subject: a point at distance `x` from the rotation axis's image moves on a
//! sinusoid, and the linear midpoint of two views `2d` apart puts it at `cos(d) * x`, a view
//! squeezed by 8% across the axis at 46 degrees (the temple's held-out views). With the two
//! cameras known, the match of a pixel is a 3D point (the midpoint of the closest approach
//! of the two rays), and the in-between camera (on the arc between them, orientation by
//! slerp, [`crate::camera::interpolate`]) sees it where it projects. What the two rays miss
//! each other by (a flow slightly off the epipolar line) is carried along linearly, so `t = 0`
//! and `t = 1` still land every pixel exactly on itself and on its match. Matches whose rays
//! diverge or meet behind a camera are treated as points at infinity, which the in-between
//! camera sees by its rotation alone.

use super::splat::Motion;
use crate::align::undistort;
use crate::camera::{interpolate, Camera};
use nalgebra::{Point3, Vector3};
use rayon::prelude::*;

/// How far (in pixels, in either camera) the triangulated point may project from a match
/// before the match counts as off its epipolar line: a wrong flow, or a calibration that does
/// not fit these views. Such matches move linearly along their flow instead. Measured on
/// leave-one-out (held-out views made from views 46 degrees apart on the temple, 30 and 15
/// on generated rings of 24 and 48 at 1280x720): 2 px and 8 px differ by under 0.1 dB on the
/// rings; on the temple 2 px is 0.1 dB worse than 4 px and 8 px 0.3 dB worse with
/// 0003-0005, 0.1 dB better with 0007-0009.
const MISS: f64 = 3.0;

/// The two cameras of a pair and the arc between them.
#[derive(Clone, Debug)]
pub struct PairGeometry {
    a: Camera,
    b: Camera,
    focus: Point3<f64>,
    up: Vector3<f64>,
}

/// One camera's pixel -> world ray: centre, and the rotation from camera to world.
struct Rays<'a> {
    cam: &'a Camera,
    centre: Vector3<f64>,
    to_world: nalgebra::Matrix3<f64>,
    distorted: bool,
}

impl<'a> Rays<'a> {
    fn new(cam: &'a Camera) -> Self {
        Rays {
            cam,
            centre: cam.pose.centre().coords,
            to_world: cam.pose.rotation_matrix().transpose(),
            distorted: cam.intrinsics.dist.iter().any(|&d| d != 0.0),
        }
    }

    /// World direction (not normalised) of the ray through pixel (u, v).
    fn dir(&self, u: f64, v: f64) -> Vector3<f64> {
        let k = &self.cam.intrinsics;
        let (x, y) = if self.distorted {
            undistort(k, u, v)
        } else {
            ((u - k.cx) / k.fx, (v - k.cy) / k.fy)
        };
        self.to_world * Vector3::new(x, y, 1.0)
    }
}

/// Where camera `cam` sees the homogeneous point (p, w): a point for w = 1, a direction
/// (a point at infinity) for w = 0.
fn project(cam: &Camera, p: &Vector3<f64>, w: f64) -> Option<(f64, f64)> {
    let c = cam.pose.rotation * p + cam.pose.translation * w;
    cam.intrinsics.project(&Point3::from(c)).map(|q| (q.x, q.y))
}

impl PairGeometry {
    /// The pair `a` (at 0) and `b` (at 1), the in-between camera moving on their screw
    /// motion: B's pose is A's turned about some axis and shifted along it (Chasles), and the
    /// in-between camera turns part of the way about that axis. For cameras on a ring that
    /// is the ring's own arc, found from the pair alone. Cameras that do not turn relative to
    /// each other move on the straight line between them.
    pub fn new(a: &Camera, b: &Camera) -> Self {
        let (ca, cb) = (a.pose.centre().coords, b.pose.centre().coords);
        // World-frame rotation taking A's orientation to B's: R_b = R_a Q^T.
        let q = b.pose.rotation.inverse() * a.pose.rotation;
        let (focus, up) = match q.axis_angle() {
            Some((axis, angle)) if angle > 1e-4 => {
                let up = axis.into_inner();
                // The axis passes through F with C_b - F = Q (C_a - F) up to a shift along
                // it: in the plane normal to the axis, (I - Q) F = C_b - Q C_a.
                let e1 = up.cross(&Vector3::x());
                let e1 = if e1.norm() > 0.1 {
                    e1.normalize()
                } else {
                    up.cross(&Vector3::y()).normalize()
                };
                let e2 = up.cross(&e1);
                let rhs = cb - q * ca;
                let (c, s) = (angle.cos(), angle.sin());
                // Q in the plane (e1, e2) is the rotation by `angle`; (I - Q) is
                // [[1 - c, s], [-s, 1 - c]], whose determinant 2 (1 - c) is positive.
                let (r1, r2) = (rhs.dot(&e1), rhs.dot(&e2));
                let det = 2.0 * (1.0 - c);
                let f1 = ((1.0 - c) * r1 - s * r2) / det;
                let f2 = (s * r1 + (1.0 - c) * r2) / det;
                let height = (ca + cb).dot(&up) / 2.0;
                (Point3::from(e1 * f1 + e2 * f2 + up * height), up)
            }
            _ => {
                // No turn: an arc about a far point is the straight line.
                let da = a.pose.axis();
                let side = (cb - ca).try_normalize(1e-12).unwrap_or_else(Vector3::x);
                let up = side
                    .cross(&da)
                    .try_normalize(1e-12)
                    .unwrap_or_else(|| side.cross(&Vector3::z()).normalize());
                (Point3::from((ca + cb) / 2.0 + da.cross(&up) * 1e9), up)
            }
        };
        PairGeometry {
            a: a.clone(),
            b: b.clone(),
            focus,
            up,
        }
    }

    /// The in-between camera at `t`.
    pub fn camera(&self, t: f64) -> Camera {
        interpolate(&self.a, &self.b, t, &self.focus, &self.up)
    }

    /// Where camera `mid`, `t` of the way from A to B, sees each pixel of A (`from_a`) or of
    /// B: `matches` gives each pixel's position in its camera's image (`base`, or the pixel
    /// itself) and the displacement to its match in the other's (`u`, `v`). Returns x and y
    /// per pixel, NaN where the match is unknown or the point is behind `mid`.
    pub(crate) fn targets(
        &self,
        matches: &Motion,
        from_a: bool,
        t: f32,
        mid: &Camera,
    ) -> [Vec<f32>; 2] {
        let (src, dst) = if from_a {
            (&self.a, &self.b)
        } else {
            (&self.b, &self.a)
        };
        // How far from `src` towards `dst` the in-between camera is.
        let along = if from_a { t as f64 } else { 1.0 - t as f64 };
        let (rs, rd) = (Rays::new(src), Rays::new(dst));
        let w = matches.width;
        let n = w * matches.height;
        let (mut tx, mut ty) = (vec![f32::NAN; n], vec![f32::NAN; n]);
        tx.par_chunks_mut(w)
            .zip(ty.par_chunks_mut(w))
            .enumerate()
            .for_each(|(y, (ox, oy))| {
                for x in 0..w {
                    let i = y * w + x;
                    let (u, v) = (matches.u[i] as f64, matches.v[i] as f64);
                    let (xs, ys) = match matches.base {
                        None => (x as f64, y as f64),
                        Some((bx, by)) => (bx[i] as f64, by[i] as f64),
                    };
                    if !(u.is_finite() && v.is_finite() && xs.is_finite() && ys.is_finite()) {
                        continue;
                    }
                    let (xd, yd) = (xs + u, ys + v);
                    let p = seen_by(mid, (&rs, xs, ys), (&rd, xd, yd), along)
                        .unwrap_or((xs + along * u, ys + along * v));
                    ox[x] = p.0 as f32;
                    oy[x] = p.1 as f32;
                }
            });
        [tx, ty]
    }
}

/// Where `mid` (`along` of the way from the source camera to the other) sees the point whose
/// images are (xs, ys) and (xd, yd); `None` for a match the geometry cannot place: rays that
/// miss each other by more than [`MISS`]. Rays that meet behind a camera, or do not meet,
/// may still be a point at infinity (the sky, a far backdrop), which `mid` sees by its
/// rotation alone.
fn seen_by(
    mid: &Camera,
    (rs, xs, ys): (&Rays, f64, f64),
    (rd, xd, yd): (&Rays, f64, f64),
    along: f64,
) -> Option<(f64, f64)> {
    let (ds, dd) = (rs.dir(xs, ys), rd.dir(xd, yd));
    let (point, w) = match closest(&rs.centre, &ds, &rd.centre, &dd) {
        Some((s, r)) if s > 0.0 && r > 0.0 => {
            ((rs.centre + ds * s + rd.centre + dd * r) / 2.0, 1.0)
        }
        _ => (ds.normalize() + dd.normalize(), 0.0),
    };
    let pm = project(mid, &point, w)?;
    let ps = project(rs.cam, &point, w)?;
    let pd = project(rd.cam, &point, w)?;
    let (es, ed) = ((xs - ps.0, ys - ps.1), (xd - pd.0, yd - pd.1));
    if es.0.hypot(es.1) > MISS || ed.0.hypot(ed.1) > MISS {
        return None;
    }
    // The rays' miss, carried linearly: exact at both ends.
    Some((
        pm.0 + (1.0 - along) * es.0 + along * ed.0,
        pm.1 + (1.0 - along) * es.1 + along * ed.1,
    ))
}

/// Parameters `(s, r)` of the closest approach of the lines `p + s d` and `q + r e`; `None`
/// when they are (nearly) parallel.
fn closest(
    p: &Vector3<f64>,
    d: &Vector3<f64>,
    q: &Vector3<f64>,
    e: &Vector3<f64>,
) -> Option<(f64, f64)> {
    let w = p - q;
    let (a, b, c) = (d.dot(d), d.dot(e), e.dot(e));
    let (dd, ee) = (d.dot(&w), e.dot(&w));
    let den = a * c - b * b;
    if den <= 1e-12 * a * c {
        return None;
    }
    Some(((b * ee - c * dd) / den, (a * ee - b * dd) / den))
}
