//! Camera resection (absolute pose, PnP): a camera's pose from 3D points and their images.
//!
//! Linear DLT on six or more correspondences in normalised image coordinates (Hartley and
//! Zisserman (2004), 7.1, with Hartley normalisation of the 3D points), the left 3x3 block
//! projected onto the rotations; inside RANSAC; then Gauss-Newton on the reprojection error of
//! the inliers ([`crate::calib::rig::bundle_adjustment::refine_pose`]).

use nalgebra::{Matrix3, Point3, SMatrix, Vector2, Vector3};

/// Pose `x_cam = R X + t` from `idx` correspondences (at least 6).
pub fn dlt(
    world: &[Point3<f64>],
    img: &[Vector2<f64>],
    idx: &[usize],
) -> Option<(Matrix3<f64>, Vector3<f64>)> {
    if idx.len() < 6 {
        return None;
    }
    let n = idx.len() as f64;
    let c: Vector3<f64> = idx.iter().map(|&i| world[i].coords).sum::<Vector3<f64>>() / n;
    let d: f64 = idx
        .iter()
        .map(|&i| (world[i].coords - c).norm())
        .sum::<f64>()
        / n;
    if d <= 0.0 {
        return None;
    }
    let s = 3f64.sqrt() / d;
    let mut ata = SMatrix::<f64, 12, 12>::zeros();
    for &i in idx {
        let x = (world[i].coords - c) * s;
        let (u, v) = (img[i].x, img[i].y);
        let r0 = SMatrix::<f64, 1, 12>::from_row_slice(&[
            x.x,
            x.y,
            x.z,
            1.0,
            0.0,
            0.0,
            0.0,
            0.0,
            -u * x.x,
            -u * x.y,
            -u * x.z,
            -u,
        ]);
        let r1 = SMatrix::<f64, 1, 12>::from_row_slice(&[
            0.0,
            0.0,
            0.0,
            0.0,
            x.x,
            x.y,
            x.z,
            1.0,
            -v * x.x,
            -v * x.y,
            -v * x.z,
            -v,
        ]);
        ata += r0.transpose() * r0 + r1.transpose() * r1;
    }
    let eig = ata.symmetric_eigen();
    let (k, _) = eig
        .eigenvalues
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    let p = eig.eigenvectors.column(k);
    let m = Matrix3::new(p[0], p[1], p[2], p[4], p[5], p[6], p[8], p[9], p[10]);
    let p4 = Vector3::new(p[3], p[7], p[11]);
    let svd = m.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let mut scale = svd.singular_values.mean();
    let mut r = u * vt;
    if r.determinant() < 0.0 {
        r = -r;
        scale = -scale;
    }
    // The normalised-world pose: x_cam = r (s (X - c)) + p4 / scale.
    let mut t_n = p4 / scale;
    // Points in front: flip the whole solution if most depths are negative.
    let front = idx
        .iter()
        .filter(|&&i| (r * ((world[i].coords - c) * s) + t_n).z > 0.0)
        .count();
    if front * 2 < idx.len() {
        return None;
    }
    // Undo the normalisation: x_cam ~ r s (X - c) + t_n, divide by s.
    t_n /= s;
    let t = t_n - r * c;
    Some((r, t))
}

/// RANSAC over [`dlt`]: the pose with the most correspondences within `threshold`
/// (normalised units) and those inliers.
pub fn ransac(
    world: &[Point3<f64>],
    img: &[Vector2<f64>],
    threshold: f64,
    iterations: usize,
) -> Option<(Matrix3<f64>, Vector3<f64>, Vec<bool>)> {
    let n = world.len();
    if n < 6 {
        return None;
    }
    let err = |r: &Matrix3<f64>, t: &Vector3<f64>, i: usize| {
        let q = r * world[i].coords + t;
        if q.z <= 0.0 {
            return f64::INFINITY;
        }
        (Vector2::new(q.x / q.z, q.y / q.z) - img[i]).norm()
    };
    let mut state = 0x1234_5678_9abc_def0u64 ^ n as u64;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as usize
    };
    let mut best: Option<(Matrix3<f64>, Vector3<f64>, usize)> = None;
    let mut sample = [0usize; 6];
    for _ in 0..iterations {
        let mut k = 0;
        while k < 6 {
            let c = next() % n;
            if !sample[..k].contains(&c) {
                sample[k] = c;
                k += 1;
            }
        }
        let Some((r, t)) = dlt(world, img, &sample) else {
            continue;
        };
        let cnt = (0..n).filter(|&i| err(&r, &t, i) < threshold).count();
        if best.as_ref().is_none_or(|b| cnt > b.2) {
            // Refit on the inliers.
            let idx: Vec<usize> = (0..n).filter(|&i| err(&r, &t, i) < threshold).collect();
            let (r, t) = dlt(world, img, &idx).unwrap_or((r, t));
            let cnt2 = (0..n).filter(|&i| err(&r, &t, i) < threshold).count();
            best = Some((r, t, cnt2.max(cnt)));
        }
    }
    let (r, t, _) = best?;
    let inl: Vec<bool> = (0..n).map(|i| err(&r, &t, i) < threshold).collect();
    Some((r, t, inl))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Pose;

    #[test]
    fn dlt_recovers_an_exact_pose_and_ransac_ignores_outliers() {
        let pose = Pose::look_at(
            Point3::new(4.0, -3.0, 1.5),
            Point3::new(0.0, 0.0, 0.5),
            Vector3::z(),
        );
        let (r, t) = (pose.rotation_matrix(), pose.translation);
        let world: Vec<Point3<f64>> = (0..60)
            .map(|i| {
                let a = i as f64;
                Point3::new(
                    (a * 0.7).sin(),
                    (a * 1.3).cos(),
                    0.5 + 0.5 * (a * 0.37).sin(),
                )
            })
            .collect();
        let mut img: Vec<Vector2<f64>> = world
            .iter()
            .map(|p| {
                let q = r * p.coords + t;
                Vector2::new(q.x / q.z, q.y / q.z)
            })
            .collect();
        let all: Vec<usize> = (0..60).collect();
        let (r1, t1) = dlt(&world, &img, &all).unwrap();
        assert!((r1 - r).norm() < 1e-9 && (t1 - t).norm() < 1e-9);
        for p in img.iter_mut().step_by(5) {
            *p += Vector2::new(0.05, -0.03);
        }
        let (r2, t2, inl) = ransac(&world, &img, 1e-3, 200).unwrap();
        assert_eq!(inl.iter().filter(|b| **b).count(), 48);
        assert!((r2 - r).norm() < 1e-9 && (t2 - t).norm() < 1e-9);
    }
}
