//! Camera centres from known rotations and the baseline directions of camera pairs.
//!
//! A pair's relative pose gives `t_ij` (unit) with `x_j = R_ij x_i + t_ij`, hence the
//! world direction of the baseline `c_j - c_i = -s R_j^T t_ij` for an unknown scale `s > 0`.
//! Every such direction `d` contributes the linear constraint `d x (c_j - c_i) = 0`; stacking
//! them gives a homogeneous system whose null vector (with camera `anchor` at the origin) is the
//! set of centres up to one global scale, found as the eigenvector of the smallest eigenvalue of
//! the normal matrix. A ring or arc whose pairs include next neighbours forms triangles, which
//! fix the relative baseline lengths. The solution is refined by reweighting each constraint by
//! the inverse of its current baseline length (so long and short baselines count alike), as in
//! Govindu, "Combining two-view constraints for motion estimation", CVPR 2001; see also
//! Hartley and Zisserman (2004), 9.6, and the survey by Ozyesil et al., Acta Numerica 2017.

use nalgebra::{DMatrix, Matrix3, Point3, Vector3};

/// A measured baseline direction in world coordinates: `c_j - c_i ~ direction`.
#[derive(Clone, Copy, Debug)]
pub struct BaselineDirection {
    pub i: usize,
    pub j: usize,
    pub direction: Vector3<f64>,
    pub weight: f64,
}

/// The cross-product matrix: `skew(v) w = v x w`.
pub(crate) fn skew(v: &Vector3<f64>) -> Matrix3<f64> {
    Matrix3::new(0.0, -v.z, v.y, v.z, 0.0, -v.x, -v.y, v.x, 0.0)
}

/// Camera centres (anchor at the origin, mean distance from the anchor 1) for the cameras
/// flagged in `known`; `None` where a camera has no usable direction or the system is
/// degenerate (for example all baselines parallel).
pub fn solve_centres(
    n: usize,
    known: &[bool],
    dirs: &[BaselineDirection],
    anchor: usize,
) -> Option<Vec<Option<Point3<f64>>>> {
    let mut slot = vec![usize::MAX; n];
    let mut m = 0;
    for c in 0..n {
        if known[c] && c != anchor {
            slot[c] = m;
            m += 1;
        }
    }
    if m == 0 {
        return None;
    }
    let used: Vec<&BaselineDirection> = dirs
        .iter()
        .filter(|d| d.i < n && d.j < n && known[d.i] && known[d.j] && d.i != d.j)
        .collect();
    let mut lens: Vec<f64> = vec![1.0; used.len()];
    let mut centres: Vec<Vector3<f64>> = vec![Vector3::zeros(); n];
    for _round in 0..4 {
        let mut h = DMatrix::<f64>::zeros(3 * m, 3 * m);
        for (d, len) in used.iter().zip(&lens) {
            let s = skew(&d.direction.normalize());
            let a = s.transpose() * s * (d.weight / len.max(1e-6).powi(2));
            // constraint S (c_j - c_i) = 0
            let terms = [(d.j, 1.0), (d.i, -1.0)];
            for (ca, sa) in terms {
                if slot[ca] == usize::MAX {
                    continue;
                }
                for (cb, sb) in terms {
                    if slot[cb] == usize::MAX {
                        continue;
                    }
                    let (ra, rb) = (3 * slot[ca], 3 * slot[cb]);
                    for r in 0..3 {
                        for c in 0..3 {
                            h[(ra + r, rb + c)] += sa * sb * a[(r, c)];
                        }
                    }
                }
            }
        }
        let eig = h.symmetric_eigen();
        let mut order: Vec<usize> = (0..3 * m).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
        // The solution must be a clear null vector: the next eigenvalue well above it.
        if 3 * m > 1 {
            let (l0, l1) = (eig.eigenvalues[order[0]], eig.eigenvalues[order[1]]);
            if !(l1 > 1e-9 && l0.abs() < 0.5 * l1) {
                return None;
            }
        }
        let v = eig.eigenvectors.column(order[0]);
        for c in 0..n {
            centres[c] = if slot[c] == usize::MAX {
                Vector3::zeros()
            } else {
                let s = 3 * slot[c];
                Vector3::new(v[s], v[s + 1], v[s + 2])
            };
        }
        // Sign: baselines point along their measured directions.
        let agree: f64 = used
            .iter()
            .map(|d| d.weight * d.direction.dot(&(centres[d.j] - centres[d.i])))
            .sum();
        if agree < 0.0 {
            for c in centres.iter_mut() {
                *c = -*c;
            }
        }
        let mean: f64 = (0..n)
            .filter(|&c| known[c] && c != anchor)
            .map(|c| centres[c].norm())
            .sum::<f64>()
            / m as f64;
        if !(mean > 0.0 && mean.is_finite()) {
            return None;
        }
        for c in centres.iter_mut() {
            *c /= mean;
        }
        for (d, len) in used.iter().zip(lens.iter_mut()) {
            *len = (centres[d.j] - centres[d.i]).norm();
        }
    }
    Some(
        (0..n)
            .map(|c| known[c].then(|| Point3::from(centres[c])))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_ring_up_to_scale() {
        let n = 12;
        let truth: Vec<Vector3<f64>> = (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                Vector3::new(3.0 * a.cos(), 3.0 * a.sin(), 0.2 * (i % 2) as f64)
            })
            .collect();
        let mut dirs = Vec::new();
        for i in 0..n {
            for k in 1..=2 {
                let j = (i + k) % n;
                let d = truth[j] - truth[i];
                let noise = Vector3::new(0.002 * (i as f64).sin(), 0.001, -0.002) * d.norm();
                dirs.push(BaselineDirection {
                    i,
                    j,
                    direction: (d + noise).normalize(),
                    weight: 1.0,
                });
            }
        }
        let c = solve_centres(n, &vec![true; n], &dirs, 0).unwrap();
        let rel: Vec<Vector3<f64>> = truth.iter().map(|t| t - truth[0]).collect();
        let scale = rel.iter().map(|r| r.norm()).sum::<f64>() / (n - 1) as f64;
        for i in 0..n {
            let err = (c[i].unwrap().coords - rel[i] / scale).norm();
            assert!(err < 0.01, "camera {i}: error {err}");
        }
    }

    #[test]
    fn collinear_baselines_are_degenerate() {
        let d = |i, j| BaselineDirection {
            i,
            j,
            direction: Vector3::x(),
            weight: 1.0,
        };
        assert!(solve_centres(3, &[true; 3], &[d(0, 1), d(1, 2), d(0, 2)], 0).is_none());
    }
}

/// Camera centres (`None` for cameras not solved) and points.
pub type CentresAndPoints = (Vec<Option<Point3<f64>>>, Vec<Point3<f64>>);

/// One observation for [`solve_with_points`]: camera `camera` sees point `point` along the
/// world direction `ray` (`R^T K^-1 x`).
#[derive(Clone, Copy, Debug)]
pub struct Ray {
    pub camera: usize,
    pub point: usize,
    pub ray: Vector3<f64>,
}

/// Camera centres and points from known rotations and observed rays: the linear
/// known-rotation problem `ray x (X_p - c_i) = 0` for every observation (Kahl and Hartley,
/// "Multiple-View Geometry Under the L-infinity Norm", PAMI 2008, section 4; Rother and
/// Carlsson, "Linear Multi View Reconstruction and Camera Recovery Using a Reference Plane",
/// IJCV 2002), solved in least squares with the points eliminated (Schur complement, 3x3 per
/// point) and the anchor camera at the origin; the remaining global scale is the smallest
/// eigenvector. Unlike baseline directions alone, tracks through three or more cameras fix
/// the relative scale of consecutive baselines, so a chain of pairs (a ring whose
/// next neighbours are too far apart to match) is solvable. Two reweighting rounds divide each
/// constraint by its current depth, so near and far points count alike.
///
/// Returns centres (mean distance 1 from the anchor) and points; `None` when degenerate.
pub fn solve_with_points(
    n: usize,
    known: &[bool],
    rays: &[Ray],
    n_points: usize,
    anchor: usize,
) -> Option<CentresAndPoints> {
    let mut slot = vec![usize::MAX; n];
    let mut m = 0;
    for c in 0..n {
        if known[c] && c != anchor {
            slot[c] = m;
            m += 1;
        }
    }
    if m == 0 {
        return None;
    }
    let mut by_point: Vec<Vec<usize>> = vec![Vec::new(); n_points];
    for (k, r) in rays.iter().enumerate() {
        if r.camera < n && known[r.camera] {
            by_point[r.point].push(k);
        }
    }
    let mut depth_w = vec![1.0f64; rays.len()];
    let mut centres = vec![Vector3::zeros(); n];
    let mut points = vec![Vector3::zeros(); n_points];
    let mut robust_w = vec![1.0f64; rays.len()];
    for _round in 0..6 {
        let mut h = DMatrix::<f64>::zeros(3 * m, 3 * m);
        for obs in &by_point {
            if obs.len() < 2 {
                continue;
            }
            // Per observation A = S^T S (S = [ray]x): residual S (X - c).
            let mut v = Matrix3::zeros();
            let mut blocks: Vec<(usize, Matrix3<f64>)> = Vec::with_capacity(obs.len());
            for &k in obs {
                let s = skew(&rays[k].ray.normalize());
                let a = s.transpose() * s * (depth_w[k] * robust_w[k]);
                v += a;
                blocks.push((rays[k].camera, a));
            }
            let Some(vi) = v.try_inverse() else { continue };
            // h_cc += A_c, h_cd -= A_c V^-1 A_d
            for (ca, aa) in &blocks {
                if slot[*ca] == usize::MAX {
                    continue;
                }
                let ra = 3 * slot[*ca];
                let tmp = aa * vi;
                for (cb, ab) in &blocks {
                    if slot[*cb] == usize::MAX {
                        continue;
                    }
                    let rb = 3 * slot[*cb];
                    let mut blk = -(tmp * ab);
                    if ca == cb {
                        // Only the own observation's A on the diagonal; other observations of
                        // the same camera (none in a track) would add theirs.
                        blk += if std::ptr::eq(aa, ab) {
                            *aa
                        } else {
                            Matrix3::zeros()
                        };
                    }
                    for r in 0..3 {
                        for c in 0..3 {
                            h[(ra + r, rb + c)] += blk[(r, c)];
                        }
                    }
                }
            }
        }
        let eig = h.symmetric_eigen();
        let mut order: Vec<usize> = (0..3 * m).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
        if 3 * m > 1 {
            let (l0, l1) = (eig.eigenvalues[order[0]], eig.eigenvalues[order[1]]);
            if !(l1 > 1e-12 && l0.abs() < 0.5 * l1) {
                return None;
            }
        }
        let sol = eig.eigenvectors.column(order[0]);
        for c in 0..n {
            centres[c] = if slot[c] == usize::MAX {
                Vector3::zeros()
            } else {
                let s = 3 * slot[c];
                Vector3::new(sol[s], sol[s + 1], sol[s + 2])
            };
        }
        // Points: X = V^-1 sum A c.
        for (p, obs) in by_point.iter().enumerate() {
            let mut v = Matrix3::zeros();
            let mut b = Vector3::zeros();
            for &k in obs {
                let s = skew(&rays[k].ray.normalize());
                let a = s.transpose() * s * (depth_w[k] * robust_w[k]);
                v += a;
                b += a * centres[rays[k].camera];
            }
            points[p] = v
                .try_inverse()
                .map(|vi| vi * b)
                .unwrap_or_else(Vector3::zeros);
        }
        // Sign: points in front of the cameras.
        let front: f64 = rays
            .iter()
            .filter(|r| known[r.camera] && by_point[r.point].len() >= 2)
            .map(|r| r.ray.dot(&(points[r.point] - centres[r.camera])).signum())
            .sum();
        let flip = if front < 0.0 { -1.0 } else { 1.0 };
        let mean: f64 = (0..n)
            .filter(|&c| slot[c] != usize::MAX)
            .map(|c| centres[c].norm())
            .sum::<f64>()
            / m as f64;
        if !(mean > 0.0 && mean.is_finite()) {
            return None;
        }
        for c in centres.iter_mut() {
            *c *= flip / mean;
        }
        for p in points.iter_mut() {
            *p *= flip / mean;
        }
        // Reweighting: by depth, and (Cauchy) by the angle between each ray and its point, so
        // that wrong matches and slightly wrong rotations lose their pull.
        let mut angles = Vec::with_capacity(rays.len());
        for (k, r) in rays.iter().enumerate() {
            if known[r.camera] {
                let v = points[r.point] - centres[r.camera];
                let d = v.norm();
                depth_w[k] = 1.0 / d.max(1e-3).powi(2);
                let ang = r.ray.normalize().cross(&(v / d.max(1e-12))).norm().asin();
                angles.push((k, if v.dot(&r.ray) < 0.0 { 1.0 } else { ang }));
            }
        }
        let mut sorted: Vec<f64> = angles.iter().map(|a| a.1).collect();
        sorted.sort_by(f64::total_cmp);
        let sigma = (3.0 * sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)).max(2e-4);
        for (k, a) in angles {
            robust_w[k] = 1.0 / (1.0 + (a / sigma).powi(2));
        }
    }
    Some((
        (0..n)
            .map(|c| known[c].then(|| Point3::from(centres[c])))
            .collect(),
        points.into_iter().map(Point3::from).collect(),
    ))
}

#[cfg(test)]
mod point_tests {
    use super::*;

    #[test]
    fn a_chain_with_three_view_tracks_is_solved() {
        // Cameras on an arc, looking at the origin; only consecutive cameras share points,
        // through tracks of three.
        let n = 8;
        let cams: Vec<crate::camera::Pose> = (0..n)
            .map(|i| {
                let a = 0.3 * i as f64;
                crate::camera::Pose::look_at(
                    Point3::new(5.0 * a.cos(), 5.0 * a.sin(), 0.4),
                    Point3::origin(),
                    Vector3::z(),
                )
            })
            .collect();
        let mut rays = Vec::new();
        let mut pts = Vec::new();
        for i in 0..n - 2 {
            for k in 0..20 {
                let t = k as f64 * 0.7 + i as f64;
                let p = Point3::new(t.sin(), (1.3 * t).cos(), 0.5 * (0.7 * t).sin());
                for (c, cam) in cams.iter().enumerate().skip(i).take(3) {
                    let d = (p - cam.centre()).normalize();
                    rays.push(Ray {
                        camera: c,
                        point: pts.len(),
                        ray: d,
                    });
                }
                pts.push(p);
            }
        }
        let (c, x) = solve_with_points(n, &vec![true; n], &rays, pts.len(), 0).unwrap();
        let rel: Vec<Vector3<f64>> = cams.iter().map(|p| p.centre() - cams[0].centre()).collect();
        let scale = rel[1..].iter().map(|r| r.norm()).sum::<f64>() / (n - 1) as f64;
        for i in 0..n {
            let err = (c[i].unwrap().coords - rel[i] / scale).norm();
            assert!(err < 1e-6, "camera {i}: error {err}");
        }
        let p0 = (pts[0] - cams[0].centre()) / scale;
        assert!((x[0].coords - p0).norm() < 1e-6);
    }
}
