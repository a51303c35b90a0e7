//! Zhang's closed-form initialisation of a camera from views of a planar target.
//!
//! Zhang, "A flexible new technique for camera calibration", IEEE TPAMI 22(11), 2000:
//! 1. one homography per view, board plane (X, Y) to pixels, by the normalised DLT (Hartley,
//!    "In defense of the eight-point algorithm", 1997: centre and scale both point sets);
//! 2. each homography gives two linear constraints on the symmetric B = K^-T K^-1
//!    (h1' B h2 = 0, h1' B h1 = h2' B h2), written v_12' b = 0 and (v_11 - v_22)' b = 0;
//!    with zero skew imposed as one more row, the null vector of V gives B and K in closed
//!    form (the paper's appendix B);
//! 3. the extrinsics follow from K^-1 H = lambda [r1 r2 t].
//!
//! Distortion is ignored here (the refinement in [`super::board`] starts it at zero). With
//! strong distortion or near-parallel views Zhang's K can be unusable; then
//! [`intrinsics_centred`] solves only the focal lengths with the principal point at the image
//! centre, as OpenCV's `initIntrinsicParams2D` does.

use crate::camera::Pose;
use nalgebra::{
    DMatrix, Matrix3, Point2, Rotation3, SymmetricEigen, UnitQuaternion, Vector3, Vector6,
};

/// Centre and scale points so their mean distance from the origin is sqrt(2); returns the
/// normalising transform.
fn normaliser(pts: &[[f64; 2]]) -> Matrix3<f64> {
    let n = pts.len() as f64;
    let (mx, my) = pts
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p[0] / n, a.1 + p[1] / n));
    let mean_dist = pts
        .iter()
        .map(|p| (p[0] - mx).hypot(p[1] - my))
        .sum::<f64>()
        / n;
    let s = if mean_dist > 0.0 {
        std::f64::consts::SQRT_2 / mean_dist
    } else {
        1.0
    };
    Matrix3::new(s, 0.0, -s * mx, 0.0, s, -s * my, 0.0, 0.0, 1.0)
}

/// The homography `H` with `pixel ~ H (X, Y, 1)` by the normalised DLT; `None` when the points
/// are degenerate (fewer than four, or collinear).
pub fn homography(board: &[[f64; 2]], image: &[Point2<f64>]) -> Option<Matrix3<f64>> {
    if board.len() < 4 || board.len() != image.len() {
        return None;
    }
    let img: Vec<[f64; 2]> = image.iter().map(|p| [p.x, p.y]).collect();
    let (tb, ti) = (normaliser(board), normaliser(&img));
    // Accumulate A' A (9x9) directly; its smallest eigenvector is the DLT solution.
    let mut ata = nalgebra::SMatrix::<f64, 9, 9>::zeros();
    for (b, i) in board.iter().zip(&img) {
        let pb = tb * Vector3::new(b[0], b[1], 1.0);
        let pi = ti * Vector3::new(i[0], i[1], 1.0);
        let (x, y) = (pb.x, pb.y);
        let (u, v) = (pi.x, pi.y);
        let r1 = nalgebra::SVector::<f64, 9>::from_column_slice(&[
            -x,
            -y,
            -1.0,
            0.0,
            0.0,
            0.0,
            u * x,
            u * y,
            u,
        ]);
        let r2 = nalgebra::SVector::<f64, 9>::from_column_slice(&[
            0.0,
            0.0,
            0.0,
            -x,
            -y,
            -1.0,
            v * x,
            v * y,
            v,
        ]);
        ata += r1 * r1.transpose() + r2 * r2.transpose();
    }
    let eig = SymmetricEigen::new(ata);
    let k = eig.eigenvalues.imin();
    let h = eig.eigenvectors.column(k);
    let hn = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]);
    let hm = ti.try_inverse()? * hn * tb;
    let scale = hm[(2, 2)];
    if !scale.is_finite() || scale.abs() < 1e-300 {
        return None;
    }
    let hm = hm / scale;
    hm.iter().all(|v| v.is_finite()).then_some(hm)
}

/// v_ij of Zhang's paper: h_i' B h_j = v_ij' b with b = (B11, B12, B22, B13, B23, B33).
fn v_ij(h: &Matrix3<f64>, i: usize, j: usize) -> Vector6<f64> {
    let (hi, hj) = (h.column(i), h.column(j));
    Vector6::new(
        hi[0] * hj[0],
        hi[0] * hj[1] + hi[1] * hj[0],
        hi[1] * hj[1],
        hi[2] * hj[0] + hi[0] * hj[2],
        hi[2] * hj[1] + hi[1] * hj[2],
        hi[2] * hj[2],
    )
}

/// Zhang's closed-form K (zero skew) from three or more homographies; `None` when the views
/// do not determine it (B not positive definite).
pub fn intrinsics_zhang(hs: &[Matrix3<f64>]) -> Option<Matrix3<f64>> {
    if hs.len() < 3 {
        return None;
    }
    // Normalise each homography so the constraint rows have similar weight.
    let mut v = DMatrix::<f64>::zeros(2 * hs.len() + 1, 6);
    for (n, h) in hs.iter().enumerate() {
        let h = h / h.norm();
        v.row_mut(2 * n).copy_from(&v_ij(&h, 0, 1).transpose());
        v.row_mut(2 * n + 1)
            .copy_from(&(v_ij(&h, 0, 0) - v_ij(&h, 1, 1)).transpose());
    }
    // Zero skew: B12 = 0, weighted well above the data rows.
    v[(2 * hs.len(), 1)] = 10.0 * hs.len() as f64;
    let vtv = v.transpose() * &v;
    let eig = SymmetricEigen::new(vtv);
    let b = eig.eigenvectors.column(eig.eigenvalues.imin()).into_owned();
    let b = if b[0] < 0.0 { -b } else { b };
    let (b11, b12, b22, b13, b23, b33) = (b[0], b[1], b[2], b[3], b[4], b[5]);
    let den = b11 * b22 - b12 * b12;
    if b11 <= 0.0 || den <= 0.0 {
        return None;
    }
    let v0 = (b12 * b13 - b11 * b23) / den;
    let lambda = b33 - (b13 * b13 + v0 * (b12 * b13 - b11 * b23)) / b11;
    if lambda / b11 <= 0.0 {
        return None;
    }
    let alpha = (lambda / b11).sqrt();
    let beta = (lambda * b11 / den).sqrt();
    let gamma = -b12 * alpha * alpha * beta / lambda;
    let u0 = gamma * v0 / beta - b13 * alpha * alpha / lambda;
    let k = Matrix3::new(alpha, 0.0, u0, 0.0, beta, v0, 0.0, 0.0, 1.0);
    k.iter().all(|x| x.is_finite()).then_some(k)
}

/// Focal lengths only, principal point fixed at `(cx, cy)`: each homography's vanishing
/// points of the board axes are orthogonal directions, which is linear in 1/fx^2 and 1/fy^2
/// (OpenCV's `initIntrinsicParams2D`).
pub fn intrinsics_centred(hs: &[Matrix3<f64>], cx: f64, cy: f64) -> Option<Matrix3<f64>> {
    let shift = Matrix3::new(1.0, 0.0, -cx, 0.0, 1.0, -cy, 0.0, 0.0, 1.0);
    let mut a = DMatrix::<f64>::zeros(2 * hs.len(), 2);
    let mut rhs = nalgebra::DVector::<f64>::zeros(2 * hs.len());
    for (n, h) in hs.iter().enumerate() {
        let h = shift * h;
        let (h1, h2) = (h.column(0), h.column(1));
        // Vanishing points of the two board axes and of the two diagonals.
        let a1 = (h1 + h2) * 0.5;
        let b1 = (h1 - h2) * 0.5;
        let mut pairs = [(h1.into_owned(), h2.into_owned()), (a1, b1)];
        for (p, q) in pairs.iter_mut() {
            let s = 1.0 / (p.norm() * q.norm());
            *p *= s.sqrt();
            *q *= s.sqrt();
        }
        for (r, (p, q)) in pairs.iter().enumerate() {
            // p' diag(1/fx^2, 1/fy^2, 1) q = 0.
            a[(2 * n + r, 0)] = p[0] * q[0];
            a[(2 * n + r, 1)] = p[1] * q[1];
            rhs[2 * n + r] = -p[2] * q[2];
        }
    }
    let sol = (a.transpose() * &a).try_inverse()? * a.transpose() * rhs;
    if sol[0] <= 0.0 || sol[1] <= 0.0 {
        return None;
    }
    let (fx, fy) = ((1.0 / sol[0]).sqrt(), (1.0 / sol[1]).sqrt());
    Some(Matrix3::new(fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0))
}

/// The board's pose from its homography: `K^-1 H = lambda [r1 r2 t]`, the rotation made
/// orthonormal by SVD, the board in front of the camera.
pub fn pose_from_homography(k: &Matrix3<f64>, h: &Matrix3<f64>) -> Option<Pose> {
    let m = k.try_inverse()? * h;
    let (c1, c2, c3) = (m.column(0), m.column(1), m.column(2));
    let mut lambda = 2.0 / (c1.norm() + c2.norm());
    if c3[2] * lambda < 0.0 {
        lambda = -lambda;
    }
    let r1 = c1 * lambda;
    let r2 = c2 * lambda;
    let r3 = r1.cross(&r2);
    let r = Matrix3::from_columns(&[r1, r2, r3]);
    let svd = r.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let mut rot = u * vt;
    if rot.determinant() < 0.0 {
        let mut u2 = u;
        u2.column_mut(2).neg_mut();
        rot = u2 * vt;
    }
    let rotation = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(rot));
    Some(Pose {
        rotation,
        translation: c3 * lambda,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Intrinsics;

    fn views() -> (Intrinsics, Vec<Pose>) {
        let k = Intrinsics {
            fx: 800.0,
            fy: 780.0,
            cx: 330.0,
            cy: 235.0,
            dist: [0.0; 5],
        };
        let poses = [
            (0.3, 0.0, 0.1),
            (-0.3, 0.2, -0.1),
            (0.1, -0.4, 0.5),
            (0.2, 0.35, 1.2),
        ]
        .iter()
        .map(|&(a, b, c)| {
            let rotation = UnitQuaternion::from_euler_angles(a, b, c);
            let translation =
                Vector3::new(-3.0, -2.0, 14.0) - rotation * Vector3::new(4.0, 2.5, 0.0);
            Pose {
                rotation,
                translation,
            }
        })
        .collect();
        (k, poses)
    }

    #[test]
    fn recovers_an_exact_camera() {
        let (k, poses) = views();
        let board: Vec<[f64; 2]> = (0..6)
            .flat_map(|r| (0..9).map(move |c| [c as f64, r as f64]))
            .collect();
        let mut hs = Vec::new();
        for pose in &poses {
            let img: Vec<Point2<f64>> = board
                .iter()
                .map(|b| {
                    k.project(&pose.to_camera(&nalgebra::Point3::new(b[0], b[1], 0.0)))
                        .unwrap()
                })
                .collect();
            hs.push(homography(&board, &img).unwrap());
        }
        let kz = intrinsics_zhang(&hs).unwrap();
        assert!((kz[(0, 0)] - 800.0).abs() < 1e-6, "{kz}");
        assert!((kz[(1, 1)] - 780.0).abs() < 1e-6, "{kz}");
        assert!((kz[(0, 2)] - 330.0).abs() < 1e-6, "{kz}");
        assert!((kz[(1, 2)] - 235.0).abs() < 1e-6, "{kz}");
        let kc = intrinsics_centred(&hs, 330.0, 235.0).unwrap();
        assert!((kc[(0, 0)] - 800.0).abs() < 1e-6 && (kc[(1, 1)] - 780.0).abs() < 1e-6);
        for (h, pose) in hs.iter().zip(&poses) {
            let p = pose_from_homography(&kz, h).unwrap();
            assert!(p.rotation.angle_to(&pose.rotation) < 1e-8);
            assert!((p.translation - pose.translation).norm() < 1e-6);
        }
    }
}
