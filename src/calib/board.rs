//! Camera calibration from chessboard images: detection ([`super::chessboard`]), Zhang's
//! closed-form start ([`super::zhang`]), then Levenberg-Marquardt refinement of fx, fy, cx,
//! cy, k1, k2, p1, p2, k3 and one pose per image, minimising the reprojection error in pixels
//! (the cost of OpenCV's `calibrateCamera` with its default flags).
//!
//! The Jacobian is analytic. The normal equations are small (9 + 6 x views unknowns), so they
//! are assembled densely from per-view blocks (computed in parallel) and solved by Cholesky.
//! Rotations are updated multiplicatively, `R <- exp([d]x) R`, so no parametrisation has a
//! singularity. The overall RMS is OpenCV's: sqrt(sum of squared point errors / points).

use super::chessboard::{self, Pattern};
use super::zhang;
use crate::camera::{Intrinsics, Pose};
use crate::error::{Error, Result};
use crate::frame::Plane;
use nalgebra::{DMatrix, DVector, Matrix3, Point2, Point3, SMatrix, UnitQuaternion, Vector3};
use rayon::prelude::*;
use serde::Serialize;

/// One calibrated view.
#[derive(Clone, Debug, Serialize)]
pub struct ViewResult {
    pub name: String,
    /// Board to camera.
    pub pose: Pose,
    /// RMS reprojection error of this view's corners, pixels.
    pub rms: f64,
    /// Detected corners, row by row.
    #[serde(skip)]
    pub corners: Vec<Point2<f64>>,
}

/// The result of [`calibrate_board`].
#[derive(Clone, Debug, Serialize)]
pub struct BoardCalibration {
    pub width: u32,
    pub height: u32,
    pub intrinsics: Intrinsics,
    /// OpenCV's RMS: sqrt(sum of squared point errors / number of points), pixels.
    pub rms: f64,
    pub views: Vec<ViewResult>,
    /// Images in which the whole board was not found.
    pub not_found: Vec<String>,
}

/// Refined camera from corner observations (see [`refine`]).
#[derive(Clone, Debug)]
pub struct Refined {
    pub intrinsics: Intrinsics,
    pub poses: Vec<Pose>,
    pub view_rms: Vec<f64>,
    pub rms: f64,
}

/// Detects the board in every image (in parallel) and calibrates from the views where it is
/// found. `images` are (name, luma) pairs of one size; `square` is the board's square size in
/// the unit the poses should use.
pub fn calibrate_board(
    images: &[(String, Plane)],
    pattern: Pattern,
    square: f64,
) -> Result<BoardCalibration> {
    let Some((first, img0)) = images.first() else {
        return Err(Error::usage("no images given"));
    };
    let (w, h) = (img0.width, img0.height);
    for (name, img) in images {
        if (img.width, img.height) != (w, h) {
            return Err(Error::input(
                name,
                format!(
                    "is {}x{} but {first} is {w}x{h}; calibrate images of one camera and size together",
                    img.width, img.height
                ),
            ));
        }
    }
    let found: Vec<Option<Vec<Point2<f64>>>> = images
        .par_iter()
        .map(|(_, img)| chessboard::detect(img, pattern))
        .collect();
    let mut names = Vec::new();
    let mut views = Vec::new();
    let mut not_found = Vec::new();
    for ((name, _), f) in images.iter().zip(found) {
        match f {
            Some(c) => {
                names.push(name.clone());
                views.push(c);
            }
            None => not_found.push(name.clone()),
        }
    }
    if views.len() < 3 {
        return Err(Error::Rig(format!(
            "chessboard {pattern} (inner corners) found in {} of {} images, need at least 3; check --pattern (a board of 10x7 squares is 9x6) and that the whole board is in view",
            views.len(),
            images.len()
        )));
    }
    let board = pattern.object_points(square);
    let r = calibrate_views(&board, &views, w as u32, h as u32)?;
    let views = names
        .into_iter()
        .zip(views)
        .zip(r.poses.iter().zip(&r.view_rms))
        .map(|((name, corners), (&pose, &rms))| ViewResult {
            name,
            pose,
            rms,
            corners,
        })
        .collect();
    Ok(BoardCalibration {
        width: w as u32,
        height: h as u32,
        intrinsics: r.intrinsics,
        rms: r.rms,
        views,
        not_found,
    })
}

/// Zhang's initialisation then LM refinement, from board points (plane z = 0) and their
/// pixel positions in each view.
pub fn calibrate_views(
    board: &[[f64; 2]],
    views: &[Vec<Point2<f64>>],
    width: u32,
    height: u32,
) -> Result<Refined> {
    let fail = |what: &str| {
        Error::Rig(format!(
            "calibration failed: {what}; use views with the board tilted in different directions"
        ))
    };
    let hs: Vec<Matrix3<f64>> = views
        .iter()
        .map(|v| zhang::homography(board, v))
        .collect::<Option<_>>()
        .ok_or_else(|| fail("a view's corners are degenerate"))?;
    let (cx0, cy0) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    // Zhang's K when it is plausible, else focal lengths with the principal point centred.
    let plausible = |k: &Matrix3<f64>| {
        let (fx, fy) = (k[(0, 0)], k[(1, 1)]);
        fx > 0.0
            && fy > 0.0
            && (fx / fy - 1.0).abs() < 0.3
            && (k[(0, 2)] - cx0).abs() < 0.25 * width as f64
            && (k[(1, 2)] - cy0).abs() < 0.25 * height as f64
    };
    let k = zhang::intrinsics_zhang(&hs)
        .filter(plausible)
        .or_else(|| zhang::intrinsics_centred(&hs, cx0, cy0))
        .ok_or_else(|| fail("no initial focal length"))?;
    let poses: Vec<Pose> = hs
        .iter()
        .map(|h| zhang::pose_from_homography(&k, h))
        .collect::<Option<_>>()
        .ok_or_else(|| fail("no initial pose"))?;
    let intr = Intrinsics {
        fx: k[(0, 0)],
        fy: k[(1, 1)],
        cx: k[(0, 2)],
        cy: k[(1, 2)],
        dist: [0.0; 5],
    };
    let r = refine(board, views, intr, poses);
    if !r.rms.is_finite() || r.intrinsics.fx <= 0.0 || r.intrinsics.fy <= 0.0 {
        return Err(fail("the refinement diverged"));
    }
    Ok(r)
}

const NI: usize = 9;

/// Projection of board point `x` and its Jacobian (rows u, v) with respect to the nine
/// intrinsics and the six pose parameters (rotation increment, translation).
#[inline]
fn project_jac(
    k: &Intrinsics,
    pose: &(Matrix3<f64>, Vector3<f64>),
    x: &[f64; 2],
) -> (Point2<f64>, SMatrix<f64, 2, 15>) {
    let rx = pose.0 * Vector3::new(x[0], x[1], 0.0);
    let pc = rx + pose.1;
    let iz = 1.0 / pc.z;
    let (x, y) = (pc.x * iz, pc.y * iz);
    let [k1, k2, p1, p2, k3] = k.dist;
    let r2 = x * x + y * y;
    let r4 = r2 * r2;
    let r6 = r4 * r2;
    let rad = 1.0 + k1 * r2 + k2 * r4 + k3 * r6;
    let xd = x * rad + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x);
    let yd = y * rad + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y;
    let mut j = SMatrix::<f64, 2, 15>::zeros();
    // Intrinsics: fx, fy, cx, cy, k1, k2, p1, p2, k3.
    j[(0, 0)] = xd;
    j[(1, 1)] = yd;
    j[(0, 2)] = 1.0;
    j[(1, 3)] = 1.0;
    let (fx, fy) = (k.fx, k.fy);
    for (c, (dx, dy)) in [
        (4, (x * r2, y * r2)),
        (5, (x * r4, y * r4)),
        (6, (2.0 * x * y, r2 + 2.0 * y * y)),
        (7, (r2 + 2.0 * x * x, 2.0 * x * y)),
        (8, (x * r6, y * r6)),
    ] {
        j[(0, c)] = fx * dx;
        j[(1, c)] = fy * dy;
    }
    // d(xd, yd)/d(x, y).
    let dr = 2.0 * (k1 + 2.0 * k2 * r2 + 3.0 * k3 * r4);
    let a11 = rad + x * x * dr + 2.0 * p1 * y + 6.0 * p2 * x;
    let a12 = x * y * dr + 2.0 * p1 * x + 2.0 * p2 * y;
    let a22 = rad + y * y * dr + 6.0 * p1 * y + 2.0 * p2 * x;
    // d(u, v)/d(pc) = diag(fx, fy) * A * d(x, y)/d(pc).
    let dxy = SMatrix::<f64, 2, 3>::new(iz, 0.0, -x * iz, 0.0, iz, -y * iz);
    let a = nalgebra::Matrix2::new(fx * a11, fx * a12, fy * a12, fy * a22);
    let dpc = a * dxy;
    // pc = exp([d]x) R X + t: d pc / d d = -[R X]x, d pc / d t = I.
    let skew = Matrix3::new(0.0, rx.z, -rx.y, -rx.z, 0.0, rx.x, rx.y, -rx.x, 0.0);
    let drot = dpc * skew;
    for r in 0..2 {
        for c in 0..3 {
            j[(r, NI + c)] = drot[(r, c)];
            j[(r, NI + 3 + c)] = dpc[(r, c)];
        }
    }
    let uv = Point2::new(fx * xd + k.cx, fy * yd + k.cy);
    (uv, j)
}

fn to_params(k: &Intrinsics) -> [f64; NI] {
    let [k1, k2, p1, p2, k3] = k.dist;
    [k.fx, k.fy, k.cx, k.cy, k1, k2, p1, p2, k3]
}

fn from_params(p: &[f64]) -> Intrinsics {
    Intrinsics {
        fx: p[0],
        fy: p[1],
        cx: p[2],
        cy: p[3],
        dist: [p[4], p[5], p[6], p[7], p[8]],
    }
}

/// Sum of squared errors per view.
fn view_costs(
    board: &[[f64; 2]],
    views: &[Vec<Point2<f64>>],
    k: &Intrinsics,
    poses: &[(Matrix3<f64>, Vector3<f64>)],
) -> Vec<f64> {
    views
        .par_iter()
        .zip(poses)
        .map(|(obs, pose)| {
            board
                .iter()
                .zip(obs)
                .map(|(x, o)| {
                    let pc = pose.0 * Vector3::new(x[0], x[1], 0.0) + pose.1;
                    match k.project(&Point3::from(pc)) {
                        Some(p) => (p - o).norm_squared(),
                        None => f64::INFINITY,
                    }
                })
                .sum()
        })
        .collect()
}

/// Levenberg-Marquardt over intrinsics, distortion and poses from a starting point.
pub fn refine(
    board: &[[f64; 2]],
    views: &[Vec<Point2<f64>>],
    start: Intrinsics,
    start_poses: Vec<Pose>,
) -> Refined {
    let nv = views.len();
    let np = NI + 6 * nv;
    let mut k = start;
    let mut poses: Vec<(Matrix3<f64>, Vector3<f64>)> = start_poses
        .iter()
        .map(|p| (p.rotation_matrix(), p.translation))
        .collect();
    let mut cost: f64 = view_costs(board, views, &k, &poses).iter().sum();
    let mut lambda = 1e-3;
    for _ in 0..200 {
        // Per-view blocks of J'J and J'r.
        type Blocks = (
            SMatrix<f64, NI, NI>,
            SMatrix<f64, NI, 6>,
            SMatrix<f64, 6, 6>,
            SMatrix<f64, NI, 1>,
            SMatrix<f64, 6, 1>,
        );
        let blocks: Vec<Blocks> = views
            .par_iter()
            .zip(&poses)
            .map(|(obs, pose)| {
                let mut b: Blocks = Default::default();
                for (x, o) in board.iter().zip(obs) {
                    let (uv, j) = project_jac(&k, pose, x);
                    let r = uv - o;
                    let ji = j.fixed_columns::<NI>(0);
                    let jp = j.fixed_columns::<6>(NI);
                    b.0 += ji.transpose() * ji;
                    b.1 += ji.transpose() * jp;
                    b.2 += jp.transpose() * jp;
                    b.3 += ji.transpose() * r;
                    b.4 += jp.transpose() * r;
                }
                b
            })
            .collect();
        let mut a = DMatrix::<f64>::zeros(np, np);
        let mut g = DVector::<f64>::zeros(np);
        for (v, b) in blocks.iter().enumerate() {
            let o = NI + 6 * v;
            let mut aii = a.fixed_view_mut::<NI, NI>(0, 0);
            aii += b.0;
            a.fixed_view_mut::<NI, 6>(0, o).copy_from(&b.1);
            a.fixed_view_mut::<6, NI>(o, 0).copy_from(&b.1.transpose());
            a.fixed_view_mut::<6, 6>(o, o).copy_from(&b.2);
            let mut gi = g.fixed_rows_mut::<NI>(0);
            gi += b.3;
            g.fixed_rows_mut::<6>(o).copy_from(&b.4);
        }
        // Jacobi scaling: the unknowns differ by many orders of magnitude (fx ~ 1e3, k3 ~
        // 1e-1 with tiny derivatives), and Cholesky of the unscaled matrix loses the digits the
        // distortion terms need. Marquardt's damping is then lambda * I in scaled units.
        let scale: Vec<f64> = (0..np)
            .map(|i| 1.0 / a[(i, i)].max(1e-300).sqrt())
            .collect();
        let mut scaled = a.clone();
        for c in 0..np {
            for r in 0..np {
                scaled[(r, c)] *= scale[r] * scale[c];
            }
        }
        let gs = DVector::from_iterator(np, (0..np).map(|i| -g[i] * scale[i]));
        let mut improved = false;
        while lambda < 1e10 {
            let mut damped = scaled.clone();
            for i in 0..np {
                damped[(i, i)] += lambda;
            }
            let Some(chol) = damped.cholesky() else {
                lambda *= 10.0;
                continue;
            };
            let mut step = chol.solve(&gs);
            for (s, sc) in step.iter_mut().zip(&scale) {
                *s *= sc;
            }
            let p = to_params(&k);
            let nk = from_params(&(0..NI).map(|i| p[i] + step[i]).collect::<Vec<_>>());
            let nposes: Vec<(Matrix3<f64>, Vector3<f64>)> = poses
                .iter()
                .enumerate()
                .map(|(v, (r, t))| {
                    let o = NI + 6 * v;
                    let d = Vector3::new(step[o], step[o + 1], step[o + 2]);
                    let dr = UnitQuaternion::from_scaled_axis(d).to_rotation_matrix();
                    (
                        dr.into_inner() * r,
                        t + Vector3::new(step[o + 3], step[o + 4], step[o + 5]),
                    )
                })
                .collect();
            let ncost: f64 = view_costs(board, views, &nk, &nposes).iter().sum();
            if ncost.is_finite() && ncost < cost {
                let rel = (cost - ncost) / cost.max(1e-300);
                k = nk;
                poses = nposes;
                cost = ncost;
                lambda = (lambda / 10.0).max(1e-12);
                improved = rel > 1e-12;
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    let costs = view_costs(board, views, &k, &poses);
    let n = board.len() as f64;
    let view_rms = costs.iter().map(|c| (c / n).sqrt()).collect();
    let rms = (costs.iter().sum::<f64>() / (n * nv as f64)).sqrt();
    let poses = poses
        .into_iter()
        .map(|(r, t)| Pose {
            rotation: UnitQuaternion::from_rotation_matrix(
                &nalgebra::Rotation3::from_matrix_unchecked(r),
            ),
            translation: t,
        })
        .collect();
    Refined {
        intrinsics: k,
        poses,
        view_rms,
        rms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobian_matches_finite_differences() {
        let k = Intrinsics {
            fx: 700.0,
            fy: 690.0,
            cx: 640.0,
            cy: 470.0,
            dist: [-0.4, 0.2, 0.001, -0.002, -0.05],
        };
        let pose = (
            UnitQuaternion::from_euler_angles(0.3, -0.2, 0.4)
                .to_rotation_matrix()
                .into_inner(),
            Vector3::new(-0.2, 0.1, 1.5),
        );
        let x = [0.35, -0.2];
        let (uv, j) = project_jac(&k, &pose, &x);
        let p = to_params(&k);
        for c in 0..15 {
            let h = 1e-6;
            let eval = |s: f64| {
                let mut q = p;
                let mut pose2 = pose;
                if c < NI {
                    q[c] += s;
                } else if c < NI + 3 {
                    let mut d = Vector3::zeros();
                    d[c - NI] = s;
                    pose2.0 = UnitQuaternion::from_scaled_axis(d)
                        .to_rotation_matrix()
                        .into_inner()
                        * pose.0;
                } else {
                    pose2.1[c - NI - 3] += s;
                }
                project_jac(&from_params(&q), &pose2, &x).0
            };
            let num = (eval(h) - eval(-h)) / (2.0 * h);
            for r in 0..2 {
                assert!(
                    (num[r] - j[(r, c)]).abs() < 1e-4 * (1.0 + j[(r, c)].abs()),
                    "column {c} row {r}: numeric {} analytic {}",
                    num[r],
                    j[(r, c)]
                );
            }
        }
        let direct = k
            .project(&Point3::from(
                pose.0 * Vector3::new(x[0], x[1], 0.0) + pose.1,
            ))
            .unwrap();
        assert!((direct - uv).norm() < 1e-9);
    }
}
