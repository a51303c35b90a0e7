//! `DIR/calibration.json`: the result of rig calibration, and the rig's focus point and up
//! vector derived from the cameras.
//!
//! Format (all in the conventions of `camera.rs`: world-to-camera `x_cam = R x_world + t`,
//! `R` row-major, pixel (0, 0) at the centre of the top-left pixel, OpenCV distortion order
//! k1 k2 p1 p2 k3):
//!
//! ```json
//! { "version": 1, "focus": [x, y, z], "up": [x, y, z], "rms": 0.31,
//!   "cameras": [ { "name": "cam01", "width": 1280, "height": 720,
//!                  "K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], "dist": [0, 0, 0, 0, 0],
//!                  "R": [[...], [...], [...]], "t": [x, y, z], "centre": [x, y, z],
//!                  "rms": 0.28, "inliers": 812, "spacing_assumed": true,
//!                  "confidence": 0.93, "doubts": ["..."] } ],
//!   "unregistered": [ { "name": "cam07", "reason": "..." } ], "order": ["cam01", ...],
//!   "doubts": ["..."] }
//! ```
//!
//! Cameras are listed in rig order; `rms` is the reprojection error in pixels of the
//! observations kept by the bundle adjustment, `inliers` their number for that camera.
//! `spacing_assumed` (present only when true) marks a camera whose distance from its
//! neighbour is the rig's mean spacing rather than measured (see `calibrate_rig`).
//! `confidence` (0 to 1) says how sure the calibration is of the camera
//! ([`super::self_check::confidence`]); `doubts` (present only when kept with `--accept-poor`)
//! are the self-check's findings, per camera and for the whole rig.

use super::self_check::{confidence, Doubt};
use crate::camera::{Camera, Intrinsics, Pose};
use crate::error::{Error, Result};
use crate::output::AtomicOutput;
use nalgebra::{Matrix3, Point3, Rotation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One calibrated camera with its fit statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibratedCamera {
    pub camera: Camera,
    /// Reprojection RMS of this camera's observations, pixels.
    pub rms: f64,
    /// Observations of this camera kept by the final adjustment.
    pub inliers: usize,
    /// The camera's distance from the neighbour it was placed from is the rig's mean spacing,
    /// not measured: no point is seen by it and by a third camera (cameras far apart).
    pub spacing_assumed: bool,
}

/// A camera that could not be registered, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unregistered {
    pub name: String,
    pub reason: String,
}

/// The calibrated rig.
#[derive(Clone, Debug, PartialEq)]
pub struct RigCalibration {
    /// Registered cameras in rig order.
    pub cameras: Vec<CalibratedCamera>,
    pub unregistered: Vec<Unregistered>,
    /// The point nearest all optical axes (least squares).
    pub focus: Point3<f64>,
    /// Unit normal of the best-fit plane of the camera centres, pointing to the images' up.
    pub up: Vector3<f64>,
    /// Overall reprojection RMS, pixels.
    pub rms: f64,
    /// Triangulated points (world), for the COLMAP model.
    pub points: Vec<Point3<f64>>,
    /// Every camera's name, registered or not, in rig order: as given, or as found
    /// ([`super::RigOrder::Auto`]).
    pub order: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct JsonCamera {
    name: String,
    width: u32,
    height: u32,
    #[serde(rename = "K")]
    k: [[f64; 3]; 3],
    dist: [f64; 5],
    #[serde(rename = "R")]
    r: [[f64; 3]; 3],
    t: [f64; 3],
    centre: [f64; 3],
    rms: f64,
    inliers: usize,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    spacing_assumed: bool,
    /// How sure the calibration is of this camera (see `self_check::confidence`); absent in
    /// files of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confidence: Option<f64>,
    /// The self-check's doubts that name this camera (kept with `--accept-poor`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    doubts: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct JsonRig {
    version: u32,
    focus: [f64; 3],
    up: [f64; 3],
    rms: f64,
    cameras: Vec<JsonCamera>,
    #[serde(default)]
    unregistered: Vec<Unregistered>,
    /// Every camera's name in rig order (absent in files of earlier versions).
    #[serde(default)]
    order: Vec<String>,
    /// Every doubt of the self-check, kept with `--accept-poor`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    doubts: Vec<String>,
}

fn rows(m: &Matrix3<f64>) -> [[f64; 3]; 3] {
    [0, 1, 2].map(|i| [m[(i, 0)], m[(i, 1)], m[(i, 2)]])
}

/// Writes `path` atomically, with each camera's confidence in view of the self-check's
/// `doubts` (see [`super::self_check`]).
pub fn write(path: &Path, rig: &RigCalibration, doubts: &[Doubt]) -> Result<()> {
    let json = JsonRig {
        version: 1,
        focus: rig.focus.coords.into(),
        up: rig.up.into(),
        rms: rig.rms,
        cameras: rig
            .cameras
            .iter()
            .map(|c| {
                let k = &c.camera.intrinsics;
                JsonCamera {
                    name: c.camera.name.clone(),
                    width: c.camera.width,
                    height: c.camera.height,
                    k: rows(&k.matrix()),
                    dist: k.dist,
                    r: rows(&c.camera.pose.rotation_matrix()),
                    t: c.camera.pose.translation.into(),
                    centre: c.camera.pose.centre().coords.into(),
                    rms: c.rms,
                    inliers: c.inliers,
                    spacing_assumed: c.spacing_assumed,
                    confidence: Some((confidence(c, doubts) * 1000.0).round() / 1000.0),
                    doubts: doubts
                        .iter()
                        .filter(|d| d.cameras.contains(&c.camera.name))
                        .map(|d| d.message.clone())
                        .collect(),
                }
            })
            .collect(),
        unregistered: rig.unregistered.clone(),
        order: rig.order.clone(),
        doubts: doubts.iter().map(|d| d.message.clone()).collect(),
    };
    let text = serde_json::to_string_pretty(&json).expect("calibration serialises");
    let out = AtomicOutput::file(path)?;
    std::fs::write(out.path(), text).map_err(|e| Error::io(path, "cannot write", e))?;
    out.commit()
}

/// Reads a calibration written by [`write`] (the points are not stored there).
pub fn read(path: &Path) -> Result<RigCalibration> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "cannot read", e))?;
    let json: JsonRig = serde_json::from_str(&text)
        .map_err(|e| Error::input(path, format!("not a timeslice calibration.json: {e}")))?;
    let cameras: Vec<CalibratedCamera> = json
        .cameras
        .into_iter()
        .map(|c| {
            let r = Matrix3::from_fn(|i, j| c.r[i][j]);
            CalibratedCamera {
                camera: Camera {
                    name: c.name,
                    width: c.width,
                    height: c.height,
                    intrinsics: Intrinsics {
                        fx: c.k[0][0],
                        fy: c.k[1][1],
                        cx: c.k[0][2],
                        cy: c.k[1][2],
                        dist: c.dist,
                    },
                    pose: Pose {
                        rotation: UnitQuaternion::from_rotation_matrix(
                            &Rotation3::from_matrix_unchecked(r),
                        ),
                        translation: Vector3::from(c.t),
                    },
                },
                rms: c.rms,
                inliers: c.inliers,
                spacing_assumed: c.spacing_assumed,
            }
        })
        .collect();
    let order = if json.order.is_empty() {
        cameras.iter().map(|c| c.camera.name.clone()).collect()
    } else {
        json.order
    };
    Ok(RigCalibration {
        cameras,
        unregistered: json.unregistered,
        focus: Point3::from(json.focus),
        up: Vector3::from(json.up),
        rms: json.rms,
        points: Vec::new(),
        order,
    })
}

/// The point with the least summed squared distance to all optical axes (`None` when they
/// are all parallel); the same computation alignment uses.
pub fn focus_point(cameras: &[Camera]) -> Option<Point3<f64>> {
    crate::align::nearest_to_axes(cameras).ok()
}

/// The normal of the best-fit plane of the camera centres, signed like the cameras' image-up.
pub use crate::align::rig_up;

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Vec<Camera> {
        let focus = Point3::new(0.5, -0.2, 1.0);
        (0..8)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / 8.0;
                let eye = Point3::new(5.0 * a.cos(), 5.0 * a.sin(), 1.7);
                Camera {
                    name: format!("c{i}"),
                    width: 640,
                    height: 480,
                    intrinsics: Intrinsics::centred(640, 480, 700.0),
                    pose: Pose::look_at(eye, focus, Vector3::z()),
                }
            })
            .collect()
    }

    #[test]
    fn focus_and_up_of_a_ring() {
        let cams = ring();
        let f = focus_point(&cams).unwrap();
        assert!((f - Point3::new(0.5, -0.2, 1.0)).norm() < 1e-9, "{f}");
        let up = rig_up(&cams);
        assert!((up - Vector3::z()).norm() < 1e-9, "{up}");
    }

    #[test]
    fn json_round_trip() {
        let cams = ring();
        let rig = RigCalibration {
            cameras: cams
                .iter()
                .map(|c| CalibratedCamera {
                    camera: c.clone(),
                    rms: 0.25,
                    inliers: 100,
                    spacing_assumed: c.name == "c1",
                })
                .collect(),
            unregistered: vec![Unregistered {
                name: "c9".into(),
                reason: "no matches".into(),
            }],
            focus: Point3::new(0.5, -0.2, 1.0),
            up: Vector3::z(),
            rms: 0.3,
            points: Vec::new(),
            order: cams
                .iter()
                .map(|c| c.name.clone())
                .chain(["c9".to_string()])
                .collect(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calibration.json");
        write(&path, &rig, &[]).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.unregistered, rig.unregistered);
        assert_eq!(back.order, rig.order);
        assert_eq!(back.cameras.len(), 8);
        for (a, b) in back.cameras.iter().zip(&rig.cameras) {
            assert_eq!(a.camera.name, b.camera.name);
            assert_eq!(a.camera.intrinsics, b.camera.intrinsics);
            assert!(a.camera.pose.rotation.angle_to(&b.camera.pose.rotation) < 1e-12);
            assert!((a.camera.pose.translation - b.camera.pose.translation).norm() < 1e-12);
            assert_eq!((a.rms, a.inliers), (b.rms, b.inliers));
        }
        assert_eq!(back.focus, rig.focus);
    }
}
