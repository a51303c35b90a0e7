//! In-between views of a calibrated pair: each pixel's match is triangulated and projected
//! into the in-between camera, instead of moving a fraction `t` along its flow.
//!
//! Moving points linearly along their flow is exact only for cameras that translate parallel
//! to the image plane (Seitz and Dyer, "View Morphing", SIGGRAPH 1996). Cameras on a ring
//! turn about the subject: a point at distance `x` from the rotation axis's image moves on a
//! sinusoid, and the linear midpoint of two views `2d` apart puts it at `cos(d) * x`, a view
//! squeezed by 8% across the axis at 46 degrees (the temple's held-out views). With the two
//! cameras known, the match of a pixel is a 3D point (where the two rays pass closest), and
//! the in-between camera (on the arc of the pair's screw motion, orientation by slerp,
//! [`crate::camera::interpolate`]) sees it where it projects.
//!
//! The point is kept on the pixel's own ray, and what the other camera sees of it differs
//! from the match by the rays' miss (a flow slightly off its epipolar line), which each view
//! adds in proportion to `t`: `t = 0` and `t = 1` still land every pixel exactly on itself
//! and on its match. Rays that diverge or meet behind a camera may be a point at infinity
//! (the sky, a far backdrop), seen by the rotation alone. Matches that fit neither within
//! 3 px (`MISS`) move linearly along their flow, as without a calibration. Each pair is
//! triangulated once (`PairGeometry::triangulate`); each view only projects. A few dozen
//! lines over our own camera types, so written here.

use super::splat::Motion;
use crate::align::undistort;
use crate::camera::{interpolate, Camera};
use crate::flow::FlowField;
use multiversion::multiversion;
use nalgebra::{Matrix3, Point3, Vector3};
use rayon::prelude::*;

/// How far (in pixels, in either camera) the triangulated point may project from a match
/// before the match counts as off its epipolar line: a wrong flow, or a calibration that does
/// not fit these views. Such matches move linearly along their flow instead. Leave-one-out
/// with the first version (before points at infinity), temple 0003-0005 / 0007-0009 with its
/// camera file: 2 px 19.75 / 19.22 dB, 4 px 19.69 / 19.34, 8 px 19.61 / 19.26, no limit
/// 19.12 / 19.13 (the linear flow: 19.82 / 18.67); generated rings of 24 and 48 at 1280x720:
/// 2 and 8 px within 0.06 dB.
const MISS: f64 = 3.0;

/// The two cameras of a pair and the arc between them.
#[derive(Clone, Debug)]
pub struct PairGeometry {
    a: Camera,
    b: Camera,
    focus: Point3<f64>,
    up: Vector3<f64>,
}

/// One camera, ready for per-pixel work: its pose as matrices (a quaternion costs more per
/// point) and its intrinsics, with a pinhole fast path for cameras without distortion.
struct View<'a> {
    cam: &'a Camera,
    rotation: Matrix3<f64>,
    to_world: Matrix3<f64>,
    translation: Vector3<f64>,
    centre: Vector3<f64>,
    inv_f: (f64, f64),
    distorted: bool,
}

impl<'a> View<'a> {
    fn new(cam: &'a Camera) -> Self {
        let rotation = cam.pose.rotation_matrix();
        View {
            cam,
            rotation,
            to_world: rotation.transpose(),
            translation: cam.pose.translation,
            centre: cam.pose.centre().coords,
            inv_f: (1.0 / cam.intrinsics.fx, 1.0 / cam.intrinsics.fy),
            distorted: cam.intrinsics.dist.iter().any(|&d| d != 0.0),
        }
    }

    /// World direction (not normalised) of the ray through pixel (u, v): its camera-frame
    /// z is 1, so a point `s` along it is at depth `s`.
    #[inline(always)]
    fn dir(&self, u: f64, v: f64) -> Vector3<f64> {
        let k = &self.cam.intrinsics;
        let (x, y) = if self.distorted {
            undistort(k, u, v)
        } else {
            ((u - k.cx) * self.inv_f.0, (v - k.cy) * self.inv_f.1)
        };
        self.to_world * Vector3::new(x, y, 1.0)
    }

    /// Where the camera sees the homogeneous point (p, w): a point for w = 1, a direction
    /// (a point at infinity) for w = 0.
    #[inline(always)]
    fn project(&self, p: &Vector3<f64>, w: f64) -> Option<(f64, f64)> {
        let c = self.rotation * p + self.translation * w;
        if c.z <= 1e-12 {
            return None;
        }
        let k = &self.cam.intrinsics;
        if self.distorted {
            return k.project(&Point3::from(c)).map(|q| (q.x, q.y));
        }
        let iz = 1.0 / c.z;
        Some((k.fx * c.x * iz + k.cx, k.fy * c.y * iz + k.cy))
    }
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

    /// Triangulates each pixel's match, for A's pixels (`from_a`) or B's: `matches` gives
    /// each pixel's position in its camera's image (`base`, or the pixel itself) and the
    /// displacement to its match in the other's (`u`, `v`). Done once per pair; each view
    /// then only projects ([`PairGeometry::targets`]).
    pub(crate) fn triangulate(&self, matches: &Motion, from_a: bool) -> Triangulated {
        let (src, dst) = self.ends(from_a);
        let (rs, rd) = (View::new(src), View::new(dst));
        let w = matches.width;
        let n = w * matches.height;
        let mut depth = vec![f32::NAN; n];
        let (mut mx, mut my) = (vec![0f32; n], vec![0f32; n]);
        depth
            .par_chunks_mut(w)
            .zip(mx.par_chunks_mut(w))
            .zip(my.par_chunks_mut(w))
            .enumerate()
            .for_each(|(y, ((d, mx), my))| triangulate_row(matches, y, [&rs, &rd], d, mx, my));
        Triangulated {
            depth,
            miss: [mx, my],
        }
    }

    /// Where camera `mid`, `t` of the way from A to B, sees each pixel of A (`from_a`) or of
    /// B, triangulated as `tri` from `matches`. Returns x and y per pixel, NaN where the
    /// match is unknown or the point is behind `mid`, and the point's nearness to `mid`: its
    /// inverse depth there in pixels of parallax between A and B (focal length times
    /// baseline over depth; 0 at infinity, NaN where no point was triangulated), the depth
    /// order of the splat ([`super::splat::Depth`]).
    pub(crate) fn targets(
        &self,
        matches: &Motion,
        tri: &Triangulated,
        from_a: bool,
        t: f32,
        mid: &Camera,
    ) -> [Vec<f32>; 3] {
        // How far from the pixel's camera towards the other the in-between camera is.
        let along = if from_a { t as f64 } else { 1.0 - t as f64 };
        let (rs, mid) = (View::new(self.ends(from_a).0), View::new(mid));
        let w = matches.width;
        let n = w * matches.height;
        let (mut tx, mut ty, mut near) = (vec![f32::NAN; n], vec![f32::NAN; n], vec![f32::NAN; n]);
        let parallax =
            (mid.cam.intrinsics.fx * (self.a.pose.centre() - self.b.pose.centre()).norm()) as f32;
        let pinhole = (!rs.distorted && !mid.distorted).then(|| Pinhole::new(&rs, &mid, along));
        tx.par_chunks_mut(w)
            .zip(ty.par_chunks_mut(w))
            .zip(near.par_chunks_mut(w))
            .enumerate()
            .for_each(|(y, ((ox, oy), on))| match &pinhole {
                Some(p) => targets_row_pinhole(matches, tri, y, p, [ox, oy, on], parallax),
                None => targets_row(matches, tri, y, [&rs, &mid], along, [ox, oy, on], parallax),
            });
        [tx, ty, near]
    }

    /// The inverse depths in camera `view` of the triangulated matches (every third pixel of
    /// every third row), for the range of a plane sweep ([`super::sweep`]).
    pub(crate) fn inverse_depths(
        &self,
        matches: &Motion,
        tri: &Triangulated,
        from_a: bool,
        view: &Camera,
    ) -> Vec<f64> {
        let rs = View::new(self.ends(from_a).0);
        let rv = View::new(view);
        let mut out = Vec::new();
        for y in (0..matches.height).step_by(3) {
            for x in (0..matches.width).step_by(3) {
                let d = tri.depth[y * matches.width + x] as f64;
                let Some((xs, ys, _, _)) = matched(matches, x, y) else {
                    continue;
                };
                if d.is_finite() {
                    let p = rs.centre + rs.dir(xs, ys) * d;
                    let z = (rv.rotation * p + rv.translation).z;
                    if z > 0.0 {
                        out.push(1.0 / z);
                    }
                }
            }
        }
        out
    }

    /// The pair's cameras, A and B.
    /// The nearness (as [`PairGeometry::targets`] gives it) of the pair's turning axis at
    /// the cameras' height, as camera `mid` sees it: about the subject's, on a rig whose
    /// cameras turn about it. `None` for cameras that do not turn, or an axis behind `mid`.
    pub(crate) fn axis_nearness(&self, mid: &Camera) -> Option<f32> {
        let z = mid.pose.to_camera(&self.focus).z;
        let parallax = mid.intrinsics.fx * (self.a.pose.centre() - self.b.pose.centre()).norm();
        (z > 0.0 && z < 1e6).then(|| (parallax / z) as f32)
    }

    /// The point on the turning axis the in-between cameras look at.
    pub(crate) fn focus(&self) -> Point3<f64> {
        self.focus
    }

    pub(crate) fn cameras(&self) -> (&Camera, &Camera) {
        (&self.a, &self.b)
    }

    /// The pixel's camera and the other one.
    fn ends(&self, from_a: bool) -> (&Camera, &Camera) {
        if from_a {
            (&self.a, &self.b)
        } else {
            (&self.b, &self.a)
        }
    }
}

/// Each pixel's match, triangulated: the point's depth along the pixel's own ray (infinite
/// for a point at infinity, seen along the ray; NaN where the geometry cannot place the
/// match) and where the other camera sees that point, from the match (x and y): the rays'
/// miss, which each view carries linearly so that both ends stay exact.
pub(crate) struct Triangulated {
    depth: Vec<f32>,
    miss: [Vec<f32>; 2],
}

/// The pixel's position and its match's, `None` where the match is unknown.
#[inline(always)]
fn matched(matches: &Motion, x: usize, y: usize) -> Option<(f64, f64, f64, f64)> {
    let i = y * matches.width + x;
    let (u, v) = (matches.u[i], matches.v[i]);
    let (xs, ys) = match matches.base {
        None => (x as f64, y as f64),
        Some((bx, by)) => (bx[i] as f64, by[i] as f64),
    };
    (FlowField::is_known(u, v) && xs.is_finite() && ys.is_finite())
        .then_some((xs, ys, u as f64, v as f64))
}

/// Row `y` of [`PairGeometry::triangulate`], compiled for the best SIMD level of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn triangulate_row(
    matches: &Motion,
    y: usize,
    [rs, rd]: [&View; 2],
    depth: &mut [f32],
    mx: &mut [f32],
    my: &mut [f32],
) {
    for x in 0..matches.width {
        let Some((xs, ys, u, v)) = matched(matches, x, y) else {
            continue;
        };
        let (xd, yd) = (xs + u, ys + v);
        if let Some((d, m)) = triangulate_one((rs, xs, ys), (rd, xd, yd)) {
            depth[x] = d as f32;
            mx[x] = m.0 as f32;
            my[x] = m.1 as f32;
        }
    }
}

/// The depth along the source ray of the point whose images are (xs, ys) and (xd, yd), and
/// where `rd` sees it from (xd, yd); `None` for a match the geometry cannot place: rays
/// that miss each other by more than [`MISS`]. Rays that meet behind a camera, or do not
/// meet, may still be a point at infinity (the sky, a far backdrop), which the in-between
/// camera sees by its rotation alone (infinite depth).
#[inline(always)]
fn triangulate_one(
    (rs, xs, ys): (&View, f64, f64),
    (rd, xd, yd): (&View, f64, f64),
) -> Option<(f64, (f64, f64))> {
    let (ds, dd) = (rs.dir(xs, ys), rd.dir(xd, yd));
    let (point, w, depth) = match closest(&rs.centre, &ds, &rd.centre, &dd) {
        Some((s, r)) if s > 0.0 && r > 0.0 => {
            ((rs.centre + ds * s + rd.centre + dd * r) / 2.0, 1.0, s)
        }
        _ => (ds.normalize() + dd.normalize(), 0.0, f64::INFINITY),
    };
    let ps = rs.project(&point, w)?;
    let pd = rd.project(&point, w)?;
    let (es, ed) = ((xs - ps.0, ys - ps.1), (xd - pd.0, yd - pd.1));
    if es.0 * es.0 + es.1 * es.1 > MISS * MISS || ed.0 * ed.0 + ed.1 * ed.1 > MISS * MISS {
        return None;
    }
    // The point on the source ray, as the other camera sees it.
    let on_ray = if w == 0.0 {
        rd.project(&ds, 0.0)?
    } else {
        rd.project(&(rs.centre + ds * depth), 1.0)?
    };
    Some((depth, (xd - on_ray.0, yd - on_ray.1)))
}

/// The projection of a pixel's triangulated point into the in-between camera, for cameras
/// without distortion, as one affine map of the pixel's normalised ray in f32: with `n` the
/// ray in the pixel's camera, the point at depth `d` is `o + d M n` in the in-between
/// camera's frame (`M n` alone for a point at infinity). Branch-free, so the row vectorises.
struct Pinhole {
    m: [f32; 9],
    o: [f32; 3],
    /// The pixel's camera: (cx, cy, 1/fx, 1/fy); the in-between camera: (fx, fy, cx, cy).
    src: [f32; 4],
    dst: [f32; 4],
    along: f32,
}

impl Pinhole {
    fn new(rs: &View, mid: &View, along: f64) -> Self {
        let m = mid.rotation * rs.to_world;
        let o = mid.rotation * rs.centre + mid.translation;
        let (ks, km) = (&rs.cam.intrinsics, &mid.cam.intrinsics);
        Pinhole {
            m: std::array::from_fn(|i| m[(i / 3, i % 3)] as f32),
            o: [o.x as f32, o.y as f32, o.z as f32],
            src: [ks.cx, ks.cy, 1.0 / ks.fx, 1.0 / ks.fy].map(|v| v as f32),
            dst: [km.fx, km.fy, km.cx, km.cy].map(|v| v as f32),
            along: along as f32,
        }
    }
}

/// Row `y` of [`PairGeometry::targets`] for pinhole cameras, compiled for the best SIMD level
/// of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn targets_row_pinhole(
    matches: &Motion,
    tri: &Triangulated,
    y: usize,
    p: &Pinhole,
    [ox, oy, on]: [&mut [f32]; 3],
    parallax: f32,
) {
    let w = matches.width;
    let row = y * w..(y + 1) * w;
    let (us, vs) = (&matches.u[row.clone()], &matches.v[row.clone()]);
    let (depth, mx, my) = (
        &tri.depth[row.clone()],
        &tri.miss[0][row.clone()],
        &tri.miss[1][row.clone()],
    );
    let base = matches.base.map(|(bx, by)| (&bx[row.clone()], &by[row]));
    let [m0, m1, m2, m3, m4, m5, m6, m7, m8] = p.m;
    let [o0, o1, o2] = p.o;
    let [scx, scy, sifx, sify] = p.src;
    let [fx, fy, cx, cy] = p.dst;
    let a = p.along;
    for x in 0..w {
        let (xs, ys) = match base {
            None => (x as f32, y as f32),
            Some((bx, by)) => (bx[x], by[x]),
        };
        let (u, v, d) = (us[x], vs[x], depth[x]);
        let (nx, ny) = ((xs - scx) * sifx, (ys - scy) * sify);
        let (rx, ry, rz) = (
            m0 * nx + m1 * ny + m2,
            m3 * nx + m4 * ny + m5,
            m6 * nx + m7 * ny + m8,
        );
        // A finite depth: o + d * r; infinite: r alone (a direction).
        let fin = d.is_finite();
        let (cx3, cy3, cz3) = if fin {
            (o0 + d * rx, o1 + d * ry, o2 + d * rz)
        } else {
            (rx, ry, rz)
        };
        let iz = 1.0 / cz3;
        let (px, py) = (
            fx * cx3 * iz + cx + a * mx[x],
            fy * cy3 * iz + cy + a * my[x],
        );
        // No triangulated point: halfway along the flow; behind the camera: nothing.
        let placed = !d.is_nan();
        let known = FlowField::is_known(u, v) && xs.is_finite() && ys.is_finite();
        let (tx, ty) = if placed {
            if cz3 > 1e-6 {
                (px, py)
            } else {
                (f32::NAN, f32::NAN)
            }
        } else {
            (xs + a * u, ys + a * v)
        };
        ox[x] = if known { tx } else { f32::NAN };
        oy[x] = if known { ty } else { f32::NAN };
        on[x] = if !placed {
            f32::NAN
        } else if fin {
            parallax * iz
        } else {
            0.0
        };
    }
}

/// Row `y` of [`PairGeometry::targets`] (`rs` the pixels' camera, `mid` the in-between one),
/// compiled for the best SIMD level of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn targets_row(
    matches: &Motion,
    tri: &Triangulated,
    y: usize,
    [rs, mid]: [&View; 2],
    along: f64,
    [ox, oy, on]: [&mut [f32]; 3],
    parallax: f32,
) {
    let w = matches.width;
    for x in 0..w {
        let Some((xs, ys, u, v)) = matched(matches, x, y) else {
            continue;
        };
        let i = y * w + x;
        let depth = tri.depth[i] as f64;
        let p = if depth.is_nan() {
            // Moves linearly along its flow.
            Some((xs + along * u, ys + along * v))
        } else {
            let ds = rs.dir(xs, ys);
            let seen = if depth.is_infinite() {
                on[x] = 0.0;
                mid.project(&ds, 0.0)
            } else {
                let p = rs.centre + ds * depth;
                let z = (mid.rotation * p + mid.translation).z;
                on[x] = (parallax as f64 / z) as f32;
                mid.project(&p, 1.0)
            };
            seen.map(|q| {
                (
                    q.0 + along * tri.miss[0][i] as f64,
                    q.1 + along * tri.miss[1][i] as f64,
                )
            })
        };
        if let Some(p) = p {
            ox[x] = p.0 as f32;
            oy[x] = p.1 as f32;
        }
    }
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
    let inv = 1.0 / den;
    Some(((b * ee - c * dd) * inv, (a * ee - b * dd) * inv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Intrinsics, Pose};

    #[test]
    fn cameras_that_slide_sideways_move_points_linearly() {
        // Two cameras 1 m apart looking the same way: no turn, so the in-between camera is
        // on the straight line, and a point 10 m away moves linearly, halfway at t = 0.5.
        let k = Intrinsics::centred(64, 48, 100.0);
        let cam = |x: f64| Camera {
            name: format!("c{x}"),
            width: 64,
            height: 48,
            intrinsics: k,
            pose: Pose::look_at(
                Point3::new(x, 0.0, 0.0),
                Point3::new(x, 0.0, 10.0),
                -Vector3::y(),
            ),
        };
        let (a, b) = (cam(0.0), cam(1.0));
        let g = PairGeometry::new(&a, &b);
        let mid = g.camera(0.5);
        assert!((mid.pose.centre() - Point3::new(0.5, 0.0, 0.0)).norm() < 1e-6);
        assert!(mid.pose.rotation.angle_to(&a.pose.rotation) < 1e-9);
        // Every pixel sees the plane z = 10: B sees it 100 * 1 / 10 = 10 px to the side.
        let shift = (b.project(&Point3::new(0.0, 0.0, 10.0)).unwrap().x
            - a.project(&Point3::new(0.0, 0.0, 10.0)).unwrap().x) as f32;
        assert!((shift.abs() - 10.0).abs() < 1e-6, "{shift}");
        let flow = FlowField::from_fn(64, 48, |_, _| (shift, 0.0));
        let m = Motion::of(&flow);
        let tri = g.triangulate(&m, true);
        let [tx, ty, _] = g.targets(&m, &tri, true, 0.5, &mid);
        for i in 0..64 * 48 {
            let (x, y) = ((i % 64) as f32, (i / 64) as f32);
            assert!(
                (tx[i] - (x + shift / 2.0)).abs() < 1e-3 && (ty[i] - y).abs() < 1e-3,
                "pixel {i}: ({}, {})",
                tx[i],
                ty[i]
            );
            // Triangulated at 10 m, not left to the linear fallback.
            assert!((tri.depth[i] - 10.0).abs() < 1e-3, "depth {}", tri.depth[i]);
        }
    }

    #[test]
    fn pinhole_projection_agrees_with_the_general_one() {
        // Two cameras 30 degrees apart on a ring, a flow field with unknown pixels and
        // matches both on and off their epipolar lines: the f32 affine projection for
        // cameras without distortion gives what the general f64 path gives.
        let k = Intrinsics::centred(64, 48, 60.0);
        let cam = |deg: f64| {
            let a = deg.to_radians();
            Camera {
                name: format!("c{deg}"),
                width: 64,
                height: 48,
                intrinsics: k,
                pose: Pose::look_at(
                    Point3::new(5.0 * a.cos(), 5.0 * a.sin(), 0.3),
                    Point3::origin(),
                    Vector3::z(),
                ),
            }
        };
        let (a, b) = (cam(0.0), cam(30.0));
        let g = PairGeometry::new(&a, &b);
        let n = 64 * 48;
        let flow = FlowField::from_fn(64, 48, |x, y| {
            let u = if (y * 64 + x) % 7 == 0 {
                f32::NAN
            } else {
                -20.0 + 0.05 * x as f32
            };
            (u, 0.02 * y as f32 - 0.5)
        });
        let m = Motion::of(&flow);
        let tri = g.triangulate(&m, true);
        let placed = tri.depth.iter().filter(|d| !d.is_nan()).count();
        assert!(placed > 0 && placed < n, "{placed} of {n} placed");
        let mid = g.camera(0.4);
        let (rs, vm) = (View::new(&a), View::new(&mid));
        let pinhole = Pinhole::new(&rs, &vm, 0.4);
        for y in 0..48 {
            let [mut gx, mut gy, mut gn, mut px, mut py, mut pn] =
                std::array::from_fn(|_| vec![f32::NAN; 64]);
            targets_row(
                &m,
                &tri,
                y,
                [&rs, &vm],
                0.4,
                [&mut gx, &mut gy, &mut gn],
                1.0,
            );
            targets_row_pinhole(&m, &tri, y, &pinhole, [&mut px, &mut py, &mut pn], 1.0);
            for x in 0..64 {
                let same = |p: f32, q: f32| (p.is_nan() && q.is_nan()) || (p - q).abs() < 1e-3;
                assert!(
                    same(gx[x], px[x]) && same(gy[x], py[x]) && same(gn[x], pn[x]),
                    "({x}, {y}): general ({}, {}, {}), pinhole ({}, {}, {})",
                    gx[x],
                    gy[x],
                    gn[x],
                    px[x],
                    py[x],
                    pn[x]
                );
            }
        }
    }
}
