//! Camera placement for the sample rig: a full ring or an arc of cameras on a circle around
//! the focus, all at one height and aimed at the focus point, exactly or, to test alignment,
//! deliberately off by a reproducible random aim and roll error per camera.
//!
//! Azimuths are measured counter-clockwise seen from above (from +x towards +y), which is
//! also the rig order.

use super::Layout;
use crate::camera::{Camera, Intrinsics, Pose, Rig};
use nalgebra::{Point3, UnitQuaternion, Vector3};
use std::f64::consts::TAU;

/// Where and how the cameras stand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    pub layout: Layout,
    pub cameras: usize,
    /// Span of an arc, degrees; ignored for a ring.
    pub arc_degrees: f64,
    pub focus: Point3<f64>,
    pub up: Vector3<f64>,
    /// Horizontal distance from the focus axis to each camera, metres.
    pub radius: f64,
    /// Height of every camera centre above the ground, metres.
    pub height: f64,
    pub width: u32,
    pub height_px: u32,
    pub hfov_degrees: f64,
    /// Each camera is aimed off the focus by up to this many degrees in yaw and in pitch.
    pub aim_jitter_degrees: f64,
    /// Each camera is rolled about its optical axis by up to this many degrees.
    pub roll_jitter_degrees: f64,
    /// Seeds the jitter (same seed, same rig).
    pub seed: u64,
}

/// A reproducible value in [-1, 1] for camera `i`, component `k`.
fn jitter(seed: u64, i: usize, k: u64) -> f64 {
    // SplitMix64 of (seed, camera, component).
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((i as u64) << 8 | k)
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Azimuth in radians of each camera, in rig order.
///
/// Ring: camera i at 2 pi i / N. Arc: N cameras evenly spanning the arc with both ends
/// included, centred on -90 degrees (so a 360 degree arc puts its last camera on its first).
pub fn azimuths(layout: Layout, n: usize, arc_degrees: f64) -> Vec<f64> {
    match layout {
        Layout::Ring => (0..n).map(|i| TAU * i as f64 / n as f64).collect(),
        Layout::Arc => {
            let span = arc_degrees.to_radians();
            let start = -90f64.to_radians() - span / 2.0;
            let step = if n > 1 { span / (n - 1) as f64 } else { 0.0 };
            (0..n).map(|i| start + step * i as f64).collect()
        }
    }
}

/// Camera names "cam01".."camNN": zero-padded to at least two digits, more for 100+ cameras.
pub fn camera_names(n: usize) -> Vec<String> {
    let digits = n.to_string().len().max(2);
    (1..=n).map(|i| format!("cam{i:0digits$}")).collect()
}

/// Builds the rig: ideal pinhole cameras (no distortion), each aimed at the focus.
pub fn place_cameras(p: &Placement) -> Rig {
    let intrinsics = Intrinsics::centred(
        p.width,
        p.height_px,
        Intrinsics::focal_for_hfov(p.width, p.hfov_degrees),
    );
    let cameras = azimuths(p.layout, p.cameras, p.arc_degrees)
        .into_iter()
        .zip(camera_names(p.cameras))
        .enumerate()
        .map(|(i, (az, name))| {
            let eye = Point3::new(
                p.focus.x + p.radius * az.cos(),
                p.focus.y + p.radius * az.sin(),
                p.height,
            );
            let mut pose = Pose::look_at(eye, p.focus, p.up);
            if p.aim_jitter_degrees != 0.0 || p.roll_jitter_degrees != 0.0 {
                // A rotation in the camera's own frame keeps its centre: yaw about its y
                // axis, pitch about x, roll about the optical axis z.
                let yaw = (p.aim_jitter_degrees * jitter(p.seed, i, 0)).to_radians();
                let pitch = (p.aim_jitter_degrees * jitter(p.seed, i, 1)).to_radians();
                let roll = (p.roll_jitter_degrees * jitter(p.seed, i, 2)).to_radians();
                let j = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), roll)
                    * UnitQuaternion::from_axis_angle(&Vector3::x_axis(), pitch)
                    * UnitQuaternion::from_axis_angle(&Vector3::y_axis(), yaw);
                pose = Pose {
                    rotation: j * pose.rotation,
                    translation: j * pose.translation,
                };
            }
            Camera {
                name,
                width: p.width,
                height: p.height_px,
                intrinsics,
                pose,
            }
        })
        .collect();
    Rig {
        cameras,
        focus: p.focus,
        up: p.up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(layout: Layout, cameras: usize, arc_degrees: f64) -> Placement {
        Placement {
            layout,
            cameras,
            arc_degrees,
            focus: Point3::new(0.0, 0.0, 1.0),
            up: Vector3::z(),
            radius: 8.0,
            height: 1.6,
            width: 1280,
            height_px: 720,
            hfov_degrees: 40.0,
            aim_jitter_degrees: 0.0,
            roll_jitter_degrees: 0.0,
            seed: 1,
        }
    }

    fn azimuth_of(c: &Camera) -> f64 {
        let p = c.pose.centre();
        p.y.atan2(p.x)
    }

    /// Signed angle b - a wrapped to (-pi, pi].
    fn angle_diff(a: f64, b: f64) -> f64 {
        let d = (b - a).rem_euclid(TAU);
        if d > TAU / 2.0 {
            d - TAU
        } else {
            d
        }
    }

    #[test]
    fn ring_is_evenly_spaced_counter_clockwise_at_radius_and_height() {
        for n in [2, 5, 12, 36] {
            let rig = place_cameras(&placement(Layout::Ring, n, 180.0));
            assert_eq!(rig.cameras.len(), n);
            for (i, c) in rig.cameras.iter().enumerate() {
                let p = c.pose.centre();
                assert!(((p.x * p.x + p.y * p.y).sqrt() - 8.0).abs() < 1e-9);
                assert!((p.z - 1.6).abs() < 1e-9);
                let expected = TAU * i as f64 / n as f64;
                assert!(angle_diff(expected, azimuth_of(c)).abs() < 1e-9);
                let next = &rig.cameras[(i + 1) % n];
                let step = angle_diff(azimuth_of(c), azimuth_of(next));
                assert!(
                    (step - TAU / n as f64).abs() < 1e-9
                        || (n == 2 && (step.abs() - TAU / 2.0).abs() < 1e-9)
                );
            }
        }
    }

    #[test]
    fn arc_spans_the_given_angle_centred_on_minus_90() {
        for (n, deg) in [(2, 90.0), (7, 180.0), (12, 120.0), (10, 300.0)] {
            let rig = place_cameras(&placement(Layout::Arc, n, deg));
            let first = azimuth_of(&rig.cameras[0]);
            let last = azimuth_of(&rig.cameras[n - 1]);
            let half = f64::to_radians(deg) / 2.0;
            assert!(
                angle_diff(-TAU / 4.0 - half, first).abs() < 1e-9,
                "{n} {deg}"
            );
            assert!(
                angle_diff(-TAU / 4.0 + half, last).abs() < 1e-9,
                "{n} {deg}"
            );
            let step = f64::to_radians(deg) / (n - 1) as f64;
            for w in rig.cameras.windows(2) {
                let d = angle_diff(azimuth_of(&w[0]), azimuth_of(&w[1]));
                assert!((d - step).abs() < 1e-9, "{n} {deg}: {d} vs {step}");
            }
            for c in &rig.cameras {
                let p = c.pose.centre();
                assert!(((p.x * p.x + p.y * p.y).sqrt() - 8.0).abs() < 1e-9);
                assert!((p.z - 1.6).abs() < 1e-9);
            }
            // Centred on -90 degrees: the mean of the unwrapped azimuths points down -y.
            let mut unwrapped = vec![first];
            for w in rig.cameras.windows(2) {
                let last = *unwrapped.last().unwrap();
                unwrapped.push(last + angle_diff(azimuth_of(&w[0]), azimuth_of(&w[1])));
            }
            let mid = unwrapped.iter().sum::<f64>() / n as f64;
            assert!(angle_diff(-TAU / 4.0, mid).abs() < 1e-9, "{n} {deg}: {mid}");
        }
    }

    #[test]
    fn every_camera_projects_the_focus_to_the_image_centre() {
        for (layout, n) in [(Layout::Ring, 12), (Layout::Arc, 9), (Layout::Ring, 101)] {
            let rig = place_cameras(&placement(layout, n, 200.0));
            for c in &rig.cameras {
                let px = c.project(&rig.focus).unwrap();
                assert!(
                    (px.x - 639.5).abs() < 1e-6 && (px.y - 359.5).abs() < 1e-6,
                    "{}: {px}",
                    c.name
                );
                assert_eq!(c.intrinsics.dist, [0.0; 5]);
                // Upright: a point above the focus appears above the centre.
                let above = c.project(&Point3::new(0.0, 0.0, 1.5)).unwrap();
                assert!(above.y < px.y - 10.0);
            }
        }
    }

    #[test]
    fn names_are_zero_padded() {
        assert_eq!(camera_names(3), ["cam01", "cam02", "cam03"]);
        let n = camera_names(12);
        assert_eq!((n[0].as_str(), n[11].as_str()), ("cam01", "cam12"));
        let n = camera_names(120);
        assert_eq!((n[0].as_str(), n[119].as_str()), ("cam001", "cam120"));
    }
}
