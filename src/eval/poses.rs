//! How far an estimated rig calibration is from the truth, in the gauge-free terms the
//! calibration targets use: the median relative-rotation error over all camera pairs (a
//! rotation of the whole rig does not count), and the camera-centre error after the
//! similarity transform that best aligns the estimated centres to the true ones (Umeyama,
//! "Least-squares estimation of transformation parameters between two point patterns", PAMI
//! 1991), as a percentage of the rig radius.

use crate::calib::rig::rotation_averaging::rotation_angle;
use crate::camera::Camera;
use nalgebra::{Matrix3, Vector3};
use serde::Serialize;

/// Errors of an estimated rig against the truth.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PoseErrors {
    /// Cameras compared (those of the estimate found in the truth by name).
    pub cameras: usize,
    /// Median and largest relative-rotation error over all pairs, degrees.
    pub rotation_median_deg: f64,
    pub rotation_max_deg: f64,
    /// Mean and largest centre error after the similarity alignment, % of the rig radius.
    pub centre_mean_pct: f64,
    pub centre_max_pct: f64,
}

/// Compares `est` with `truth`, matching cameras by name; `None` with fewer than two matches.
pub fn pose_errors(est: &[Camera], truth: &[Camera]) -> Option<PoseErrors> {
    let pairs: Vec<(&Camera, &Camera)> = est
        .iter()
        .filter_map(|e| truth.iter().find(|t| t.name == e.name).map(|t| (e, t)))
        .collect();
    if pairs.len() < 2 {
        return None;
    }
    let mut rel = Vec::new();
    for i in 0..pairs.len() {
        for j in i + 1..pairs.len() {
            let ((ei, ti), (ej, tj)) = (pairs[i], pairs[j]);
            let re = ej.pose.rotation_matrix() * ei.pose.rotation_matrix().transpose();
            let rt = tj.pose.rotation_matrix() * ti.pose.rotation_matrix().transpose();
            rel.push(rotation_angle(&(re * rt.transpose())).to_degrees());
        }
    }
    rel.sort_by(f64::total_cmp);
    let ce: Vec<Vector3<f64>> = pairs.iter().map(|p| p.0.pose.centre().coords).collect();
    let ct: Vec<Vector3<f64>> = pairs.iter().map(|p| p.1.pose.centre().coords).collect();
    let n = ce.len() as f64;
    let me = ce.iter().sum::<Vector3<f64>>() / n;
    let mt = ct.iter().sum::<Vector3<f64>>() / n;
    let mut cov = Matrix3::zeros();
    let mut var = 0.0;
    for (a, b) in ce.iter().zip(&ct) {
        cov += (b - mt) * (a - me).transpose();
        var += (a - me).norm_squared();
    }
    cov /= n;
    var /= n;
    let svd = cov.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let mut d = Matrix3::identity();
    if (u * vt).determinant() < 0.0 {
        d[(2, 2)] = -1.0;
    }
    let r = u * d * vt;
    let s = (Matrix3::from_diagonal(&svd.singular_values) * d).trace() / var;
    let radius = ct.iter().map(|c| (c - mt).norm()).sum::<f64>() / n;
    let errs: Vec<f64> = ce
        .iter()
        .zip(&ct)
        .map(|(a, b)| 100.0 * (s * r * (a - me) + mt - b).norm() / radius)
        .collect();
    Some(PoseErrors {
        cameras: pairs.len(),
        rotation_median_deg: rel[rel.len() / 2],
        rotation_max_deg: *rel.last()?,
        centre_mean_pct: errs.iter().sum::<f64>() / n,
        centre_max_pct: errs.iter().cloned().fold(0.0, f64::max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Pose;
    use nalgebra::{Point3, UnitQuaternion};

    #[test]
    fn a_similar_copy_has_no_error_and_a_perturbed_one_does() {
        let truth: Vec<Camera> = (0..6)
            .map(|i| {
                let a = i as f64;
                Camera {
                    name: format!("c{i}"),
                    width: 64,
                    height: 48,
                    intrinsics: crate::camera::Intrinsics::centred(64, 48, 50.0),
                    pose: Pose::look_at(
                        Point3::new(4.0 * a.cos(), 4.0 * a.sin(), 1.0),
                        Point3::origin(),
                        Vector3::z(),
                    ),
                }
            })
            .collect();
        // The same rig rotated, shifted and scaled: a different gauge, no error.
        let g = UnitQuaternion::from_euler_angles(0.3, -0.2, 1.1);
        let moved: Vec<Camera> = truth
            .iter()
            .map(|c| {
                let centre = g * c.pose.centre().coords * 2.5 + Vector3::new(1.0, 2.0, 3.0);
                let rotation = c.pose.rotation * g.inverse();
                let mut m = c.clone();
                m.pose = Pose {
                    rotation,
                    translation: -(rotation * centre),
                };
                m
            })
            .collect();
        let e = pose_errors(&moved, &truth).unwrap();
        assert!(
            e.rotation_max_deg < 1e-6 && e.centre_max_pct < 1e-6,
            "{e:?}"
        );
        // One camera turned by 1 degree: 5 of the 15 pairs see it.
        let mut bad = moved.clone();
        bad[2].pose.rotation =
            UnitQuaternion::from_euler_angles(0.0, 1f64.to_radians(), 0.0) * bad[2].pose.rotation;
        let e = pose_errors(&bad, &truth).unwrap();
        assert!((e.rotation_max_deg - 1.0).abs() < 1e-6 && e.rotation_median_deg < 1e-6);
    }
}
