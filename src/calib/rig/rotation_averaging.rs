//! Rotation averaging: absolute camera rotations from noisy relative rotations of camera pairs.
//!
//! Each pair (i, j) measures `R_ij ~ R_j R_i^T`. We initialise from a maximum-weight spanning
//! tree (for a rig: the chain of neighbours, each pair weighted by its inlier count), then
//! minimise `sum w_ij |log(R_ij^T R_j R_i^T)|^2` by Gauss-Newton in the Lie algebra, solving
//! one dense 3N x 3N system per step (N <= a few hundred for a rig), with iteratively
//! reweighted least squares (Cauchy weights) so that a wrong pair cannot bend the solution.
//! The loop closure of a ring (last camera with the first, next neighbours across the seam)
//! spreads the drift of the chain over all cameras in one solve, rather than by slow local
//! sweeps.
//!
//! References: Hartley, Trumpf, Dai and Li, "Rotation Averaging", IJCV 2013 (section 6, the
//! Lie-algebraic L2 method); Govindu, "Lie-algebraic averaging for globally consistent motion
//! estimation", CVPR 2004; Chatterjee and Govindu, "Efficient and robust large-scale rotation
//! averaging", ICCV 2013 (IRLS).

use nalgebra::{DMatrix, DVector, Matrix3, Rotation3, Vector3};

/// One measured relative rotation: `rotation ~ R_j R_i^T` (camera i's frame to camera j's).
#[derive(Clone, Copy, Debug)]
pub struct RelativeRotation {
    pub i: usize,
    pub j: usize,
    pub rotation: Matrix3<f64>,
    /// Confidence, e.g. the number of inlier correspondences.
    pub weight: f64,
}

fn so3_log(r: &Matrix3<f64>) -> Vector3<f64> {
    Rotation3::from_matrix_unchecked(*r).scaled_axis()
}

/// The rotation angle of a (nearly orthonormal) rotation matrix, accurate near zero.
pub fn rotation_angle(r: &Matrix3<f64>) -> f64 {
    let s = Vector3::new(
        r[(2, 1)] - r[(1, 2)],
        r[(0, 2)] - r[(2, 0)],
        r[(1, 0)] - r[(0, 1)],
    )
    .norm()
        / 2.0;
    let c = (r.trace() - 1.0) / 2.0;
    s.atan2(c)
}

fn so3_exp(w: &Vector3<f64>) -> Matrix3<f64> {
    Rotation3::new(*w).into_inner()
}

/// Absolute rotations (world-to-camera) of cameras `0..n`, with `anchor` at the identity.
/// Cameras not connected to `anchor` by any pair get `None`.
pub fn average_rotations(
    n: usize,
    pairs: &[RelativeRotation],
    anchor: usize,
) -> Vec<Option<Matrix3<f64>>> {
    let mut rot: Vec<Option<Matrix3<f64>>> = vec![None; n];
    if anchor >= n {
        return rot;
    }
    // Maximum spanning tree grown from the anchor (Prim): strongest pairs first.
    rot[anchor] = Some(Matrix3::identity());
    loop {
        let best = pairs
            .iter()
            .filter(|p| p.i < n && p.j < n && rot[p.i].is_some() != rot[p.j].is_some())
            .max_by(|a, b| a.weight.total_cmp(&b.weight));
        let Some(p) = best else { break };
        if let Some(ri) = rot[p.i] {
            rot[p.j] = Some(p.rotation * ri);
        } else {
            let rj = rot[p.j].expect("one side is known");
            rot[p.i] = Some(p.rotation.transpose() * rj);
        }
    }
    // Unknowns: the cameras reached, except the anchor.
    let mut slot = vec![usize::MAX; n];
    let mut m = 0;
    for c in 0..n {
        if rot[c].is_some() && c != anchor {
            slot[c] = m;
            m += 1;
        }
    }
    if m == 0 {
        return rot;
    }
    let used: Vec<&RelativeRotation> = pairs
        .iter()
        .filter(|p| p.i < n && p.j < n && rot[p.i].is_some() && rot[p.j].is_some())
        .collect();
    // Plain least squares first (a wrong pair in the spanning tree must not look right), then
    // Cauchy weights at a scale that follows the residuals.
    let mut sigma = f64::INFINITY;
    for _round in 0..20 {
        let mut h = DMatrix::<f64>::zeros(3 * m, 3 * m);
        let mut g = DVector::<f64>::zeros(3 * m);
        let mut res = Vec::with_capacity(used.len());
        for p in &used {
            let (ri, rj) = (rot[p.i].unwrap(), rot[p.j].unwrap());
            // r = log(R_ij^T R_j R_i^T) + R_ij^T d_j - d_i  (left perturbations R <- exp(d) R)
            let e = so3_log(&(p.rotation.transpose() * rj * ri.transpose()));
            let en = e.norm();
            res.push(en);
            let w = p.weight / (1.0 + (en / sigma).powi(2));
            let a = -Matrix3::identity(); // d r / d d_i
            let b = p.rotation.transpose(); // d r / d d_j
            let blocks = [(p.i, a), (p.j, b)];
            for (ci, ji) in &blocks {
                if slot[*ci] == usize::MAX {
                    continue;
                }
                let si = 3 * slot[*ci];
                let gi = ji.transpose() * e * w;
                for k in 0..3 {
                    g[si + k] += gi[k];
                }
                for (cj, jj) in &blocks {
                    if slot[*cj] == usize::MAX {
                        continue;
                    }
                    let sj = 3 * slot[*cj];
                    let hij = ji.transpose() * jj * w;
                    for r in 0..3 {
                        for c in 0..3 {
                            h[(si + r, sj + c)] += hij[(r, c)];
                        }
                    }
                }
            }
        }
        for k in 0..3 * m {
            h[(k, k)] += 1e-9;
        }
        let Some(chol) = h.cholesky() else { break };
        let d = chol.solve(&(-g));
        let mut step = 0.0f64;
        for c in 0..n {
            if slot[c] != usize::MAX {
                let s = 3 * slot[c];
                let dv = Vector3::new(d[s], d[s + 1], d[s + 2]);
                step = step.max(dv.norm());
                rot[c] = Some(so3_exp(&dv) * rot[c].unwrap());
            }
        }
        // Robust scale from the median residual (never below 0.5 mrad, so exact data converge).
        res.sort_by(f64::total_cmp);
        let med = res[res.len() / 2];
        sigma = (3.0 * med).max(5e-4);
        if step < 1e-10 {
            break;
        }
    }
    // Re-orthonormalise against accumulated rounding.
    rot.iter()
        .map(|r| {
            r.map(|r| {
                let svd = r.svd(true, true);
                let (u, vt) = (svd.u.unwrap(), svd.v_t.unwrap());
                let mut q = u * vt;
                if q.determinant() < 0.0 {
                    q = -q;
                }
                q
            })
        })
        .collect()
}

/// The residual angle (radians) of each pair under `rot`.
pub fn pair_residuals(rot: &[Option<Matrix3<f64>>], pairs: &[RelativeRotation]) -> Vec<f64> {
    pairs
        .iter()
        .map(|p| match (rot[p.i], rot[p.j]) {
            (Some(ri), Some(rj)) => so3_log(&(p.rotation.transpose() * rj * ri.transpose())).norm(),
            _ => f64::INFINITY,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Unit;

    fn ring(n: usize) -> Vec<Matrix3<f64>> {
        (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                (Rotation3::from_axis_angle(&Vector3::x_axis(), 0.1)
                    * Rotation3::from_axis_angle(&Vector3::y_axis(), a))
                .into_inner()
            })
            .collect()
    }

    fn angle(a: &Matrix3<f64>, b: &Matrix3<f64>) -> f64 {
        rotation_angle(&(a.transpose() * b))
    }

    #[test]
    fn recovers_rotations_from_noisy_pairs_with_an_outlier() {
        let n = 24;
        let truth = ring(n);
        // Relative to camera 0 (the gauge).
        let t0 = truth[0];
        let truth: Vec<_> = truth.iter().map(|r| r * t0.transpose()).collect();
        let mut pairs = Vec::new();
        let mut s = 1u64;
        let mut noise = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e-3 // up to 0.03 degrees per axis
        };
        for i in 0..n {
            for k in 1..=2 {
                let j = (i + k) % n;
                let mut r = truth[j] * truth[i].transpose();
                r = so3_exp(&Vector3::new(noise(), noise(), noise())) * r;
                pairs.push(RelativeRotation {
                    i,
                    j,
                    rotation: r,
                    weight: 100.0,
                });
            }
        }
        // A grossly wrong pair.
        pairs[7].rotation = Rotation3::from_axis_angle(&Unit::new_normalize(Vector3::z()), 0.5)
            .into_inner()
            * pairs[7].rotation;
        let rot = average_rotations(n, &pairs, 0);
        let mut worst = 0.0f64;
        for i in 0..n {
            worst = worst.max(angle(&rot[i].unwrap(), &truth[i]));
        }
        assert!(
            worst.to_degrees() < 0.05,
            "worst error {} deg",
            worst.to_degrees()
        );
        let res = pair_residuals(&rot, &pairs);
        assert!(res[7] > 0.4, "the bad pair stands out: {}", res[7]);
    }

    #[test]
    fn unconnected_cameras_stay_unknown() {
        let p = RelativeRotation {
            i: 0,
            j: 1,
            rotation: Matrix3::identity(),
            weight: 1.0,
        };
        let rot = average_rotations(3, &[p], 0);
        assert!(rot[0].is_some() && rot[1].is_some() && rot[2].is_none());
    }
}
