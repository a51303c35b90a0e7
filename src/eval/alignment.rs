//! How well a rendered orbit is aligned, against the truth: where the true focus point lands
//! in each output view, how tilted the true vertical through it appears (the horizon), and how
//! large a true length at the focus appears (the subject's scale).
//!
//! The true 3D points are projected by the true cameras (so the measurement includes every
//! error of the estimated calibration and focus) and carried into the output by the
//! estimated alignment's maps. A synthesized view between two cameras shows a point where its
//! flow takes it, the blend of its places in the two aligned camera frames
//! ([`crate::interp::PairFlow::aligned`]), so that is where it is measured.

use crate::align::Alignment;
use crate::camera::Camera;
use nalgebra::{Point3, Vector3};
use serde::Serialize;

/// The worst errors over a set of output views.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AlignmentErrors {
    pub views: usize,
    /// Largest distance of the focus from the frame centre, % of the frame width.
    pub offset_max_pct: f64,
    /// Largest tilt of the true vertical through the focus, degrees.
    pub tilt_max_deg: f64,
    /// Largest deviation of the subject's size from its mean, %.
    pub scale_max_pct: f64,
}

/// Measures `views` ((from, to, t) triples) of `al` against the true cameras `truth` (in the
/// same order as the alignment's cameras), the true focus point and the true up vector.
/// `None` where a true point is behind a camera.
pub fn alignment_errors(
    al: &Alignment,
    truth: &[Camera],
    focus: Point3<f64>,
    up: Vector3<f64>,
    views: &[(usize, usize, f32)],
) -> Option<AlignmentErrors> {
    // A length at the focus: a tenth of the mean distance to the cameras, straight up.
    let d = truth
        .iter()
        .map(|c| (c.pose.centre() - focus).norm())
        .sum::<f64>()
        / truth.len().max(1) as f64;
    let above = focus + 0.1 * d * up.normalize();
    // Where camera `c` shows a true point, in the output.
    let out = |c: usize, x: &Point3<f64>| -> Option<(f64, f64)> {
        let p = truth[c].project(x)?;
        al.view_map(c, c, 0.0).to_output(p.x, p.y)
    };
    let (cx, cy) = (
        (al.out_width as f64 - 1.0) / 2.0,
        (al.out_height as f64 - 1.0) / 2.0,
    );
    let mut offsets = Vec::new();
    let mut tilts = Vec::new();
    let mut sizes = Vec::new();
    for &(from, to, t) in views {
        let t = t as f64;
        let at = |x: &Point3<f64>| -> Option<(f64, f64)> {
            let (a, b) = (out(from, x)?, out(to, x)?);
            Some((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)))
        };
        let (f, u) = (at(&focus)?, at(&above)?);
        offsets.push(100.0 * (f.0 - cx).hypot(f.1 - cy) / al.out_width as f64);
        // Up is -y in the image.
        tilts.push((u.0 - f.0).atan2(f.1 - u.1).to_degrees().abs());
        sizes.push((u.0 - f.0).hypot(u.1 - f.1));
    }
    let mean = sizes.iter().sum::<f64>() / sizes.len().max(1) as f64;
    let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    Some(AlignmentErrors {
        views: views.len(),
        offset_max_pct: max(&offsets),
        tilt_max_deg: max(&tilts),
        scale_max_pct: sizes
            .iter()
            .map(|s| 100.0 * (s / mean - 1.0).abs())
            .fold(0.0, f64::max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Pose;
    use crate::synth::rig::{place_cameras, Placement};
    use crate::synth::Layout;
    use nalgebra::UnitQuaternion;

    fn rig() -> Vec<Camera> {
        place_cameras(&Placement {
            layout: Layout::Arc,
            cameras: 8,
            arc_degrees: 120.0,
            focus: Point3::new(0.0, 0.0, 1.0),
            up: Vector3::z(),
            radius: 8.0,
            height: 1.6,
            width: 640,
            height_px: 360,
            hfov_degrees: 40.0,
            aim_jitter_degrees: 4.0,
            roll_jitter_degrees: 3.0,
            seed: 5,
        })
        .cameras
    }

    #[test]
    fn the_truth_is_aligned_exactly_and_a_rolled_camera_is_measured() {
        let truth = rig();
        let focus = Point3::new(0.0, 0.0, 1.0);
        let views: Vec<(usize, usize, f32)> = (0..7)
            .flat_map(|c| [(c, c + 1, 0.0), (c, c + 1, 0.5)])
            .collect();
        let al = Alignment::new(truth.clone(), Some(focus), 640, 360).unwrap();
        let e = alignment_errors(&al, &truth, focus, Vector3::z(), &views).unwrap();
        assert!(e.offset_max_pct < 1e-6 && e.tilt_max_deg < 1e-6, "{e:?}");
        // Synthesized views blend two cameras' places: nearly, not exactly, the same size.
        assert!(e.scale_max_pct < 0.5, "{e:?}");
        // An estimate in which camera 3 is rolled by 1 degree more than it really is: its
        // frame turns by 1 degree, and the views next to it by half that.
        let mut est = truth.clone();
        let roll = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 1f64.to_radians());
        let p = &est[3].pose;
        est[3].pose = Pose {
            rotation: roll * p.rotation,
            translation: roll * p.translation,
        };
        let al = Alignment::new(est, Some(focus), 640, 360).unwrap();
        let e = alignment_errors(&al, &truth, focus, Vector3::z(), &views).unwrap();
        assert!((e.tilt_max_deg - 1.0).abs() < 0.05, "{e:?}");
    }
}
