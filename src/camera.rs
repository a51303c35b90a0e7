//! Cameras and rigs: the geometric conventions used everywhere in timeslice.
//!
//! Conventions (written down once, used by every module):
//! - Camera model: pinhole with radial-tangential distortion (k1, k2, p1, p2, k3) in OpenCV's
//!   convention, applied to normalised image coordinates.
//! - Poses are world-to-camera, as in COLMAP: `x_cam = R * x_world + t`. The camera looks down
//!   its +z axis, +x is right and +y is down in the image (OpenCV).
//! - Pixel (0, 0) is the centre of the top-left pixel (OpenCV). COLMAP puts that centre at
//!   (0.5, 0.5); the COLMAP reader and writer convert.

use nalgebra::{Matrix3, Point2, Point3, Rotation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

/// Pinhole intrinsics with OpenCV radial-tangential distortion, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    /// (k1, k2, p1, p2, k3), OpenCV order. All zero for an ideal pinhole.
    #[serde(default)]
    pub dist: [f64; 5],
}

impl Intrinsics {
    /// An ideal pinhole with square pixels and the principal point at the image centre.
    pub fn centred(width: u32, height: u32, focal_px: f64) -> Self {
        Intrinsics {
            fx: focal_px,
            fy: focal_px,
            cx: (width as f64 - 1.0) / 2.0,
            cy: (height as f64 - 1.0) / 2.0,
            dist: [0.0; 5],
        }
    }

    /// Focal length for a horizontal field of view in degrees.
    pub fn focal_for_hfov(width: u32, hfov_deg: f64) -> f64 {
        width as f64 / 2.0 / (hfov_deg.to_radians() / 2.0).tan()
    }

    /// The same camera at an image `sx` times wider and `sy` times taller (pixel centres at
    /// integer coordinates, so the principal point moves by half a pixel with the scale).
    pub fn rescaled(&self, sx: f64, sy: f64) -> Intrinsics {
        Intrinsics {
            fx: self.fx * sx,
            fy: self.fy * sy,
            cx: (self.cx + 0.5) * sx - 0.5,
            cy: (self.cy + 0.5) * sy - 0.5,
            dist: self.dist,
        }
    }

    pub fn matrix(&self) -> Matrix3<f64> {
        Matrix3::new(self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0)
    }

    /// Applies the distortion model to normalised coordinates (x/z, y/z).
    pub fn distort(&self, x: f64, y: f64) -> (f64, f64) {
        let [k1, k2, p1, p2, k3] = self.dist;
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        let xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x);
        let yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y;
        (xd, yd)
    }

    /// Projects a point in camera coordinates to pixels; `None` behind the camera.
    pub fn project(&self, p: &Point3<f64>) -> Option<Point2<f64>> {
        if p.z <= 1e-12 {
            return None;
        }
        let (x, y) = self.distort(p.x / p.z, p.y / p.z);
        Some(Point2::new(self.fx * x + self.cx, self.fy * y + self.cy))
    }

    /// The viewing ray direction (camera coordinates, z = 1) through an undistorted pixel.
    pub fn ray(&self, u: f64, v: f64) -> Vector3<f64> {
        Vector3::new((u - self.cx) / self.fx, (v - self.cy) / self.fy, 1.0)
    }
}

/// A world-to-camera rigid transform: `x_cam = rotation * x_world + translation`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    pub rotation: UnitQuaternion<f64>,
    pub translation: Vector3<f64>,
}

impl Pose {
    /// A camera at `eye` looking at `target`, upright with respect to `up` (world coordinates).
    pub fn look_at(eye: Point3<f64>, target: Point3<f64>, up: Vector3<f64>) -> Self {
        let z = (target - eye).normalize();
        // Image +y points down, so camera x = z cross up... chosen so that `up` maps to -y.
        let x = z.cross(&up).normalize();
        let y = z.cross(&x);
        let r = Matrix3::from_rows(&[x.transpose(), y.transpose(), z.transpose()]);
        let rotation = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(r));
        let translation = -(rotation * eye.coords);
        Pose {
            rotation,
            translation,
        }
    }

    pub fn rotation_matrix(&self) -> Matrix3<f64> {
        self.rotation.to_rotation_matrix().into_inner()
    }

    /// World point to camera coordinates.
    pub fn to_camera(&self, p: &Point3<f64>) -> Point3<f64> {
        Point3::from(self.rotation * p.coords + self.translation)
    }

    /// The camera centre in world coordinates: `-R^T t`.
    pub fn centre(&self) -> Point3<f64> {
        Point3::from(-(self.rotation.inverse() * self.translation))
    }

    /// The optical axis (+z of the camera) in world coordinates.
    pub fn axis(&self) -> Vector3<f64> {
        self.rotation.inverse() * Vector3::z()
    }

    /// A camera-frame direction expressed in world coordinates.
    pub fn dir_to_world(&self, d: &Vector3<f64>) -> Vector3<f64> {
        self.rotation.inverse() * d
    }
}

/// One calibrated camera of a rig.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub intrinsics: Intrinsics,
    pub pose: Pose,
}

impl Camera {
    /// Projects a world point to pixels; `None` behind the camera.
    pub fn project(&self, p: &Point3<f64>) -> Option<Point2<f64>> {
        self.intrinsics.project(&self.pose.to_camera(p))
    }

    /// The same camera for images of `size` (a calibration made at another resolution):
    /// the intrinsics rescaled. `None` when `size` has another shape (aspect off by over 1%).
    pub fn fitted(&self, size: (u32, u32)) -> Option<Camera> {
        if (self.width, self.height) == size {
            return Some(self.clone());
        }
        let (sx, sy) = (
            size.0 as f64 / self.width as f64,
            size.1 as f64 / self.height as f64,
        );
        ((sx - sy).abs() <= 0.01 * sx).then(|| Camera {
            width: size.0,
            height: size.1,
            intrinsics: self.intrinsics.rescaled(sx, sy),
            ..self.clone()
        })
    }
}

/// The camera a fraction `t` of the way from `a` to `b` around a rig: its centre moves on the
/// arc about the axis through `focus` along `up` (angle, distance from the axis and height
/// interpolated linearly, the short way round), its orientation is the spherical
/// interpolation of the two, and its intrinsics are interpolated linearly. `t = 0` gives `a`,
/// `t = 1` gives `b`.
pub fn interpolate(
    a: &Camera,
    b: &Camera,
    t: f64,
    focus: &Point3<f64>,
    up: &Vector3<f64>,
) -> Camera {
    let up = up.normalize();
    let (ca, cb) = (a.pose.centre() - focus, b.pose.centre() - focus);
    let (ha, hb) = (ca.dot(&up), cb.dot(&up));
    let (ra, rb) = (ca - up * ha, cb - up * hb);
    // Angle from ra to rb about `up`, in (-pi, pi].
    let angle = up.dot(&ra.cross(&rb)).atan2(ra.dot(&rb));
    let radius = ra.norm() + (rb.norm() - ra.norm()) * t;
    let dir = UnitQuaternion::from_axis_angle(&nalgebra::Unit::new_normalize(up), angle * t)
        * ra.normalize();
    let centre = focus + dir * radius + up * (ha + (hb - ha) * t);
    let rotation = a.pose.rotation.slerp(&b.pose.rotation, t);
    let lerp = |x: f64, y: f64| x + (y - x) * t;
    let (ka, kb) = (&a.intrinsics, &b.intrinsics);
    let mut dist = [0.0; 5];
    for (i, d) in dist.iter_mut().enumerate() {
        *d = lerp(ka.dist[i], kb.dist[i]);
    }
    Camera {
        name: format!("{}-{}@{t:.3}", a.name, b.name),
        width: a.width,
        height: a.height,
        intrinsics: Intrinsics {
            fx: lerp(ka.fx, kb.fx),
            fy: lerp(ka.fy, kb.fy),
            cx: lerp(ka.cx, kb.cx),
            cy: lerp(ka.cy, kb.cy),
            dist,
        },
        pose: Pose {
            rotation,
            translation: -(rotation * centre.coords),
        },
    }
}

/// Cameras in rig order, with the point they orbit and the rig's up vector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rig {
    pub cameras: Vec<Camera>,
    pub focus: Point3<f64>,
    pub up: Vector3<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_at_centres_target_and_keeps_up_upright() {
        let eye = Point3::new(5.0, -3.0, 1.6);
        let target = Point3::new(0.0, 0.0, 1.0);
        let pose = Pose::look_at(eye, target, Vector3::z());
        assert!((pose.centre() - eye).norm() < 1e-12);
        let k = Intrinsics::centred(640, 480, 500.0);
        let px = k.project(&pose.to_camera(&target)).unwrap();
        assert!((px.x - 319.5).abs() < 1e-9 && (px.y - 239.5).abs() < 1e-9);
        // A point above the target appears above it in the image (smaller v), same column.
        let above = k
            .project(&pose.to_camera(&Point3::new(0.0, 0.0, 1.5)))
            .unwrap();
        assert!(above.y < px.y - 10.0);
        assert!((above.x - px.x).abs() < 1e-9);
    }

    #[test]
    fn interpolation_moves_on_the_arc_and_keeps_aiming_at_the_focus() {
        let focus = Point3::new(0.0, 0.0, 1.0);
        let k = Intrinsics::centred(640, 480, 500.0);
        let cam = |deg: f64| {
            let a = deg.to_radians();
            let eye = Point3::new(8.0 * a.cos(), 8.0 * a.sin(), 1.6);
            Camera {
                name: format!("c{deg}"),
                width: 640,
                height: 480,
                intrinsics: k,
                pose: Pose::look_at(eye, focus, Vector3::z()),
            }
        };
        let (a, b) = (cam(350.0), cam(20.0)); // the short way round crosses 0 degrees
        let ends = [(0.0, &a), (1.0, &b)];
        for (t, want) in ends {
            let c = interpolate(&a, &b, t, &focus, &Vector3::z());
            assert!((c.pose.centre() - want.pose.centre()).norm() < 1e-9);
            assert!(c.pose.rotation.angle_to(&want.pose.rotation) < 1e-9);
        }
        let mid = interpolate(&a, &b, 0.5, &focus, &Vector3::z());
        let want = cam(5.0);
        assert!(
            (mid.pose.centre() - want.pose.centre()).norm() < 1e-9,
            "{}",
            mid.pose.centre()
        );
        // Slerp of two look-at rotations about the vertical stays aimed at the focus.
        let px = mid.project(&focus).unwrap();
        assert!(
            (px.x - 319.5).abs() < 1e-6 && (px.y - 239.5).abs() < 1e-6,
            "{px}"
        );
    }

    #[test]
    fn distortion_is_identity_when_zero_and_matches_opencv_form() {
        let mut k = Intrinsics::centred(100, 100, 100.0);
        assert_eq!(k.distort(0.3, -0.2), (0.3, -0.2));
        k.dist = [0.1, 0.0, 0.0, 0.0, 0.0];
        let (x, y) = k.distort(0.3, 0.4);
        // r^2 = 0.25 -> factor 1.025
        assert!((x - 0.3075).abs() < 1e-12 && (y - 0.41).abs() < 1e-12);
    }
}
