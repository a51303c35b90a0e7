//! The ground truth of a sample rig, written as `truth.json` beside the rendered footage.
//!
//! It holds everything needed to check the pipeline against the scene: the timing (fps as a
//! rational string such as "30" or "30000/1001", frame count, event frame and time), the rig
//! geometry (focus, up, radius, layout) and every camera's intrinsics and world-to-camera pose
//! in our conventions (see `camera.rs`: pixel (0, 0) is the centre of the top-left pixel,
//! `x_cam = R x_world + t`, `R` row-major). The same cameras also go to `colmap/` as a COLMAP
//! text model, for tools that read that instead.

use super::{Layout, SampleRig};
use crate::camera::{Camera, Intrinsics, Pose};
use crate::error::{Error, Result};
use crate::time::Rational;
use nalgebra::{Matrix3, Rotation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Contents of `truth.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub fps: Rational,
    pub frames: u32,
    pub width: u32,
    pub height: u32,
    /// Frame at which the ball is at the top of its flight.
    pub event_frame: u32,
    /// `event_frame / fps`, seconds.
    pub event_time: f64,
    /// The point every camera aims at: the centre of the red marker ball.
    pub focus: [f64; 3],
    pub up: [f64; 3],
    pub rig_radius: f64,
    pub camera_height: f64,
    pub layout: Layout,
    /// Span of an arc layout, degrees (informational for a ring).
    pub arc_degrees: f64,
    pub seed: u64,
    pub marker_radius: f64,
    /// The flying ball; absent for a turntable (`SampleSpec::turntable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ball: Option<BallTruth>,
    /// A turntable capture: one fixed camera, the product turning; the cameras are where the
    /// camera stood relative to the product, shot by shot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub turntable: bool,
    /// In rig order.
    pub cameras: Vec<TruthCamera>,
}

/// The flying ball: centre(t) = apex + velocity (t - apex_time) - gravity (t - apex_time)^2 / 2
/// in z, never below `radius` (it rolls once it reaches the ground).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BallTruth {
    pub radius: f64,
    pub apex: [f64; 3],
    pub apex_time: f64,
    pub velocity: [f64; 3],
    pub gravity: f64,
}

/// One camera: pinhole intrinsics with OpenCV distortion and a world-to-camera pose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthCamera {
    pub name: String,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    /// (k1, k2, p1, p2, k3).
    pub dist: [f64; 5],
    /// World-to-camera rotation, row-major.
    #[serde(rename = "R")]
    pub r: [[f64; 3]; 3],
    /// World-to-camera translation.
    pub t: [f64; 3],
    /// Camera centre in world coordinates (`-R^T t`).
    pub centre: [f64; 3],
}

impl TruthCamera {
    pub fn from_camera(c: &Camera) -> Self {
        let r = c.pose.rotation_matrix();
        let k = &c.intrinsics;
        TruthCamera {
            name: c.name.clone(),
            fx: k.fx,
            fy: k.fy,
            cx: k.cx,
            cy: k.cy,
            dist: k.dist,
            r: [0, 1, 2].map(|i| [r[(i, 0)], r[(i, 1)], r[(i, 2)]]),
            t: c.pose.translation.into(),
            centre: c.pose.centre().coords.into(),
        }
    }

    /// The camera back, for an image of `width` x `height`.
    pub fn to_camera(&self, width: u32, height: u32) -> Camera {
        let r = Matrix3::from_fn(|i, j| self.r[i][j]);
        Camera {
            name: self.name.clone(),
            width,
            height,
            intrinsics: Intrinsics {
                fx: self.fx,
                fy: self.fy,
                cx: self.cx,
                cy: self.cy,
                dist: self.dist,
            },
            pose: Pose {
                rotation: UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(
                    r,
                )),
                translation: Vector3::from(self.t),
            },
        }
    }
}

impl Truth {
    /// The cameras, in rig order.
    pub fn rig_cameras(&self) -> Vec<Camera> {
        self.cameras
            .iter()
            .map(|c| c.to_camera(self.width, self.height))
            .collect()
    }

    /// Reads a `truth.json`.
    pub fn read(path: &Path) -> Result<Truth> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "cannot read", e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::input(path, format!("not a valid truth.json: {e}")))
    }

    /// Writes pretty JSON through a temporary file renamed into place.
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| Error::output(path, format!("cannot serialise the ground truth: {e}")))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, json + "\n").map_err(|e| Error::io(&tmp, "cannot write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(
                path,
                "cannot write (rename of the temporary file failed)",
                e,
            )
        })
    }
}

/// The ground truth of `sample`.
pub(super) fn truth_of(sample: &SampleRig) -> Truth {
    let spec = sample.spec();
    let rig = sample.rig();
    let ball = sample.scene().ball.as_ref();
    let (radius, height) = sample.rig_geometry();
    Truth {
        fps: spec.fps,
        frames: spec.frames,
        width: spec.width,
        height: spec.height,
        event_frame: sample.event_frame(),
        event_time: sample.event_time(),
        focus: rig.focus.coords.into(),
        up: rig.up.into(),
        rig_radius: radius,
        camera_height: height,
        layout: spec.layout,
        arc_degrees: spec.arc_degrees,
        seed: spec.seed,
        marker_radius: super::MARKER_RADIUS,
        ball: ball.map(|ball| BallTruth {
            radius: ball.radius,
            apex: ball.apex.coords.into(),
            apex_time: ball.apex_time,
            velocity: ball.velocity.into(),
            gravity: ball.gravity,
        }),
        turntable: spec.turntable,
        cameras: rig.cameras.iter().map(TruthCamera::from_camera).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;

    #[test]
    fn camera_round_trips_through_truth_camera_json() {
        let mut intrinsics = Intrinsics::centred(640, 360, 500.0);
        intrinsics.dist = [-0.1, 0.01, 0.001, 0.0, 0.0];
        let cam = Camera {
            name: "cam07".into(),
            width: 640,
            height: 360,
            intrinsics,
            pose: Pose::look_at(
                Point3::new(3.0, -7.0, 1.6),
                Point3::new(0.0, 0.0, 1.0),
                Vector3::z(),
            ),
        };
        let tc = TruthCamera::from_camera(&cam);
        let json = serde_json::to_value(&tc).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        for k in ["name", "fx", "fy", "cx", "cy", "dist", "R", "t", "centre"] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        // R is world-to-camera and row-major: its third row is the optical axis in the world.
        let axis = cam.pose.axis();
        for j in 0..3 {
            assert!((tc.r[2][j] - axis[j]).abs() < 1e-12);
        }
        let back: TruthCamera = serde_json::from_value(json).unwrap();
        let cam2 = back.to_camera(640, 360);
        assert_eq!(cam2.name, cam.name);
        assert_eq!(cam2.intrinsics.dist, cam.intrinsics.dist);
        assert!(cam2.pose.rotation.angle_to(&cam.pose.rotation) < 1e-12);
        assert!((cam2.pose.translation - cam.pose.translation).norm() < 1e-12);
        assert!((Vector3::from(tc.centre) - cam.pose.centre().coords).norm() < 1e-12);
    }

    #[test]
    fn reading_bad_json_names_the_file() {
        let path =
            std::env::temp_dir().join(format!("timeslice-truth-bad-{}.json", std::process::id()));
        std::fs::write(&path, "{\"fps\": \"abc\"}").unwrap();
        let e = Truth::read(&path).unwrap_err().to_string();
        let _ = std::fs::remove_file(&path);
        assert!(
            e.contains("truth-bad") && e.contains("not a valid truth.json"),
            "{e}"
        );
    }
}
