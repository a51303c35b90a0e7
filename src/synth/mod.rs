//! The sample rig generator: renders a synthetic scene from a ring or arc of cameras, with
//! exact ground truth, so every stage of the pipeline can be run and checked without footage.
//!
//! The scene (world Z up, metres, ground at z = 0): a red marker ball at the focus point
//! (0, 0, 1) on a striped pedestal, optionally a goalkeeper in mid-dive beside it
//! (`SampleSpec::figure`), textured props between 1.5 m and 6 m from the centre (all lower
//! than 0.95 m, so none, the figure included, ever hides the marker), paved and gravel
//! ground, pillars and a
//! skyline of building fronts outside the rig, a sky with clouds, and a yellow ball flying
//! over the scene whose apex (the "event") is at frame `frames / 2`. The marker is the only
//! saturated red thing in the scene, so tests and tools can find the focus by colour.
//!
//! The rig: cameras on a circle of radius 8 m at height 1.6 m, each aimed exactly at the focus
//! with a 40 degree horizontal field of view (`SampleSpec::hfov_degrees`) and no distortion;
//! see [`rig`].
//!
//! Layering: [`scene`] casts rays (origin, direction, time) into the scene and knows nothing
//! of cameras; `render` turns a [`Camera`] into pixel rays and supersamples them;
//! [`SampleRig`] ties the spec, the rig and the scene together; [`truth`] writes the ground
//! truth (`truth.json` and a COLMAP model).

pub mod board;
mod bvh;
pub mod footage;
mod noise;
mod render;
pub mod rig;
pub mod scene;
pub mod truth;
pub mod truth_flow;

// The rig layout is the project file's (see `SampleSpec::layout` for the geometry).
pub use crate::project::Layout;

pub use bvh::Aabb;
pub use footage::{generate, SampleOptions, SampleOutput, TruthView};
pub use render::CameraRenderer;
pub use scene::{Hit, Ray, Scene, Surface};
pub use truth::{BallTruth, Truth, TruthCamera};

use crate::camera::{Camera, Rig};
use crate::error::{Error, Result};
use crate::frame::RgbImage;
use crate::time::Rational;
use nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The point every camera aims at, centre of the red marker ball (world, metres).
pub const FOCUS: [f64; 3] = [0.0, 0.0, 1.0];
/// Horizontal distance of every camera from the focus axis, metres.
pub const RIG_RADIUS: f64 = 8.0;
/// Height of every camera centre, metres.
pub const CAMERA_HEIGHT: f64 = 1.6;
/// Horizontal field of view of every camera, degrees.
pub const HFOV_DEGREES: f64 = 40.0;
/// Radius of the red marker ball at the focus, metres.
pub const MARKER_RADIUS: f64 = 0.08;
/// Radius of the flying ball, metres.
pub const BALL_RADIUS: f64 = 0.12;
/// The flying ball's highest point: above every camera's line of sight to the marker (those
/// stay below the camera height), and beside the focus rather than over it.
pub const BALL_APEX: [f64; 3] = [0.0, 0.8, 2.3];

/// Where the turntable's camera aims (the product's middle), how far from the turntable's
/// axis it stands and how high, metres.
pub const TURNTABLE_FOCUS: [f64; 3] = [0.0, 0.0, 0.45];
pub const TURNTABLE_RADIUS: f64 = 2.7;
pub const TURNTABLE_CAMERA_HEIGHT: f64 = 1.1;

/// The focus point, the cameras' distance from its axis and their height.
fn geometry(turntable: bool) -> (Point3<f64>, f64, f64) {
    if turntable {
        (
            Point3::from(TURNTABLE_FOCUS),
            TURNTABLE_RADIUS,
            TURNTABLE_CAMERA_HEIGHT,
        )
    } else {
        (Point3::from(FOCUS), RIG_RADIUS, CAMERA_HEIGHT)
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleSpec {
    pub cameras: usize,
    /// Ring: evenly spaced, camera i at azimuth 2 pi i / N. Arc: `arc_degrees` wide, both ends
    /// included, centred on azimuth -90 degrees. Rig order is counter-clockwise from above.
    pub layout: Layout,
    /// Span of an arc layout, degrees, in (0, 360].
    pub arc_degrees: f64,
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    pub fps: Rational,
    /// Varies the props' placement and the textures.
    pub seed: u64,
    /// Aim each camera off the focus by up to this many degrees (yaw and pitch), and roll it
    /// by up to `roll_jitter_degrees`: a real rig is never perfectly aimed.
    pub aim_jitter_degrees: f64,
    pub roll_jitter_degrees: f64,
    /// The lenses' horizontal field of view, degrees (40 by default; 10-15 is a long lens,
    /// whose views of the subject are nearly affine).
    pub hfov_degrees: f64,
    /// A turntable instead of the street scene: a product (seeded) turning on a disc in front
    /// of one fixed camera, on a plain white sweep under an overhead light. A fixed camera and
    /// a turning product are a ring of cameras round a still product, because nothing else in
    /// view changes as it turns (light from straight above, a plain backdrop): the cameras
    /// are those positions, named shot01.., and there is no ball.
    #[serde(default)]
    pub turntable: bool,
    /// A goalkeeper in mid-dive beside the pedestal (street scene only): a subject a viewer
    /// recognises. Off by default: near the axis it costs the rig calibration (a shuffled
    /// ring of 24 at 640x360: 0.45 degrees and 36% centre error with it, under 0.2 and 1.3%
    /// without).
    #[serde(default)]
    pub figure: bool,
}

impl Default for SampleSpec {
    fn default() -> Self {
        SampleSpec {
            // 15 degrees apart: what view synthesis handles (a ring of 12 is 30 apart).
            cameras: 24,
            layout: Layout::Ring,
            arc_degrees: 180.0,
            width: 1280,
            height: 720,
            frames: 60,
            fps: Rational::new(30, 1),
            seed: 1,
            aim_jitter_degrees: 0.0,
            roll_jitter_degrees: 0.0,
            hfov_degrees: HFOV_DEGREES,
            turntable: false,
            figure: false,
        }
    }
}

impl SampleSpec {
    fn validate(&self) -> Result<()> {
        if self.cameras < 2 {
            return Err(Error::usage(format!(
                "a sample rig needs at least 2 cameras, got {}",
                self.cameras
            )));
        }
        let size_ok = |v: u32| v >= 16 && v.is_multiple_of(2);
        if !size_ok(self.width) || !size_ok(self.height) {
            return Err(Error::usage(format!(
                "sample image size {}x{} is not usable: width and height must be even and at least 16",
                self.width, self.height
            )));
        }
        if self.frames < 1 {
            return Err(Error::usage("a sample clip needs at least 1 frame"));
        }
        if !(self.arc_degrees > 0.0 && self.arc_degrees <= 360.0) {
            return Err(Error::usage(format!(
                "arc of {} degrees is not usable: give an angle above 0 and at most 360",
                self.arc_degrees
            )));
        }
        if !(self.hfov_degrees >= 1.0 && self.hfov_degrees <= 150.0) {
            return Err(Error::usage(format!(
                "a field of view of {} degrees is not usable: give 1 to 150 degrees",
                self.hfov_degrees
            )));
        }
        if self.fps.num <= 0 || self.fps.den <= 0 {
            return Err(Error::usage(format!(
                "frame rate {} is not usable: it must be positive",
                self.fps
            )));
        }
        Ok(())
    }
}

/// A generated rig: the spec, the ground-truth cameras and the scene they film.
#[derive(Clone, Debug)]
pub struct SampleRig {
    spec: SampleSpec,
    rig: Rig,
    scene: Scene,
}

impl SampleRig {
    /// Places the cameras and builds the scene for `spec`; `Error::Usage` for an unusable spec.
    pub fn new(spec: &SampleSpec) -> Result<SampleRig> {
        spec.validate()?;
        let (focus, radius, height) = geometry(spec.turntable);
        let mut rig = rig::place_cameras(&rig::Placement {
            layout: spec.layout,
            cameras: spec.cameras,
            arc_degrees: spec.arc_degrees,
            focus,
            up: Vector3::z(),
            radius,
            height,
            width: spec.width,
            height_px: spec.height,
            hfov_degrees: spec.hfov_degrees,
            aim_jitter_degrees: spec.aim_jitter_degrees,
            roll_jitter_degrees: spec.roll_jitter_degrees,
            seed: spec.seed,
        });
        let event_frame = spec.frames / 2;
        let event_time = spec.fps.frames_to_seconds(event_frame as i64);
        let end_time = spec.fps.frames_to_seconds(spec.frames as i64 - 1);
        if spec.turntable {
            for c in &mut rig.cameras {
                c.name = c.name.replacen("cam", "shot", 1);
            }
            return Ok(SampleRig {
                spec: spec.clone(),
                rig,
                scene: scene::turntable_scene(spec.seed),
            });
        }
        let scene = scene::sample_scene(
            spec.seed,
            &scene::SceneLayout {
                focus,
                marker_radius: MARKER_RADIUS,
                pedestal_height: 0.9,
                objects_min_r: 1.5,
                objects_max_r: 6.0,
                objects_max_top: 0.9,
                backdrop_radius: 18.0,
                ball_radius: BALL_RADIUS,
                ball_apex: Point3::from(BALL_APEX),
                ball_apex_time: event_time,
                ball_half_flight: event_time.max(end_time - event_time),
                figure: spec.figure,
            },
        );
        Ok(SampleRig {
            spec: spec.clone(),
            rig,
            scene,
        })
    }

    pub fn spec(&self) -> &SampleSpec {
        &self.spec
    }

    /// The cameras' distance from the focus axis and their height, metres.
    pub fn rig_geometry(&self) -> (f64, f64) {
        let (_, radius, height) = geometry(self.spec.turntable);
        (radius, height)
    }

    /// The ground-truth cameras ("cam01".. in rig order), focus and up vector.
    pub fn rig(&self) -> &Rig {
        &self.rig
    }

    /// The scene, for casting rays directly (depth, ground-truth views, flow).
    pub fn scene(&self) -> &Scene {
        &self.scene
    }

    /// Image file names in rig order: "cam01.png"...
    pub fn image_names(&self) -> Vec<String> {
        self.rig
            .cameras
            .iter()
            .map(|c| format!("{}.png", c.name))
            .collect()
    }

    /// The frame at which the ball is at the top of its flight: `frames / 2`.
    pub fn event_frame(&self) -> u32 {
        self.spec.frames / 2
    }

    /// `event_frame / fps`, seconds.
    pub fn event_time(&self) -> f64 {
        self.spec.fps.frames_to_seconds(self.event_frame() as i64)
    }

    /// The time of frame `index`, seconds.
    pub fn frame_time(&self, index: u32) -> f64 {
        self.spec.fps.frames_to_seconds(index as i64)
    }

    /// A renderer for rig camera `cam` (index in rig order); renders its static background now.
    ///
    /// Panics if `cam` is out of range.
    pub fn camera_renderer(&self, cam: usize) -> CameraRenderer<'_> {
        self.renderer_for(&self.rig.cameras[cam])
    }

    /// A renderer for any camera (a virtual one between rig cameras, say).
    pub fn renderer_for(&self, camera: &Camera) -> CameraRenderer<'_> {
        CameraRenderer::new(&self.scene, self.spec.fps, camera)
    }

    /// A full render of frame `frame` through any camera.
    pub fn render_view(&self, camera: &Camera, frame: u32) -> RgbImage {
        render::render_image(
            &self.scene,
            camera,
            self.scene.ball_centre(self.frame_time(frame)),
        )
    }

    /// Depth along the optical axis (metres) through each pixel centre of `camera` at `frame`,
    /// row-major; `f32::INFINITY` where the pixel sees the sky. Not supersampled.
    pub fn render_depth(&self, camera: &Camera, frame: u32) -> Vec<f32> {
        render::render_depth(
            &self.scene,
            camera,
            self.scene.ball_centre(self.frame_time(frame)),
        )
    }

    pub fn truth(&self) -> Truth {
        truth::truth_of(self)
    }

    /// Writes `dir/truth.json` and the cameras as a COLMAP text model in `dir/colmap/`.
    pub fn write_truth(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create directory", e))?;
        self.truth().write(&dir.join("truth.json"))?;
        crate::calib::colmap::write_text_model(
            &dir.join("colmap"),
            &self.rig.cameras,
            &self.image_names(),
        )
    }
}

/// Where the red marker (at the rig's focus point) is in a frame of sample footage: the
/// centroid and the count of every clearly red pixel, lit or shaded, as it survives lossy
/// encoding (the bright pixels alone sit on the lit side and bias the centroid by pixels).
/// `None` when the frame shows no marker.
pub fn find_marker(img: &RgbImage) -> Option<(f64, f64, f64)> {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for y in 0..img.height {
        for x in 0..img.width {
            let [r, g, b] = img.pixel(x, y);
            let (r, g, b) = (r as f64, g as f64, b as f64);
            if r > 60.0 && r > 1.6 * g && r > 1.6 * b {
                sx += x as f64;
                sy += y as f64;
                n += 1.0;
            }
        }
    }
    (n > 0.0).then(|| (sx / n, sy / n, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Intrinsics;

    fn spec(width: u32, height: u32, cameras: usize, frames: u32) -> SampleSpec {
        SampleSpec {
            cameras,
            width,
            height,
            frames,
            ..SampleSpec::default()
        }
    }

    /// HSV test for "the marker's red": red is the largest channel, hue within 25 degrees of
    /// red, saturation above 0.6 and not too dark to judge.
    fn is_saturated_red(p: [u8; 3]) -> bool {
        let [r, g, b] = p.map(|c| c as f64);
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        if max < 40.0 || max != r || max == min {
            return false;
        }
        let hue = 60.0 * (g - b) / (max - min);
        (max - min) / max > 0.6 && hue.abs() < 25.0
    }

    fn luma(img: &RgbImage, x: u32, y: u32) -> f64 {
        let [r, g, b] = img.pixel(x, y).map(|c| c as f64);
        0.299 * r + 0.587 * g + 0.114 * b
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let p =
                std::env::temp_dir().join(format!("timeslice-synth-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_field_of_view_sets_the_focal_length() {
        let s = SampleRig::new(&SampleSpec {
            hfov_degrees: 15.0,
            ..spec(320, 180, 4, 1)
        })
        .unwrap();
        let fx = s.rig().cameras[0].intrinsics.fx;
        assert!(
            (fx - 160.0 / 7.5f64.to_radians().tan()).abs() < 1e-9,
            "{fx}"
        );
        for bad in [0.5, 151.0, f64::NAN] {
            let e = SampleRig::new(&SampleSpec {
                hfov_degrees: bad,
                ..spec(320, 180, 4, 1)
            });
            assert!(matches!(e, Err(Error::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn default_spec_and_event() {
        let s = SampleSpec::default();
        assert_eq!(
            (s.cameras, s.layout, s.arc_degrees),
            (24, Layout::Ring, 180.0)
        );
        assert_eq!(
            (s.width, s.height, s.frames, s.fps, s.seed),
            (1280, 720, 60, Rational::new(30, 1), 1)
        );
        let rig = SampleRig::new(&s).unwrap();
        assert_eq!(rig.event_frame(), 30);
        assert!((rig.event_time() - 1.0).abs() < 1e-12);
        let names: Vec<&str> = rig.rig().cameras.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[0], "cam01");
        assert_eq!(names[23], "cam24");
        assert_eq!(rig.image_names()[0], "cam01.png");
        let odd = SampleRig::new(&SampleSpec {
            frames: 7,
            fps: Rational::new(30000, 1001),
            ..s
        })
        .unwrap();
        assert_eq!(odd.event_frame(), 3);
        assert!((odd.event_time() - 3.0 * 1001.0 / 30000.0).abs() < 1e-12);
    }

    #[test]
    fn unusable_specs_are_usage_errors() {
        let ok = SampleSpec::default();
        let bad = [
            (
                SampleSpec {
                    cameras: 1,
                    ..ok.clone()
                },
                "at least 2 cameras",
            ),
            (
                SampleSpec {
                    width: 15,
                    ..ok.clone()
                },
                "even and at least 16",
            ),
            (
                SampleSpec {
                    width: 8,
                    ..ok.clone()
                },
                "even and at least 16",
            ),
            (
                SampleSpec {
                    height: 101,
                    ..ok.clone()
                },
                "even and at least 16",
            ),
            (
                SampleSpec {
                    frames: 0,
                    ..ok.clone()
                },
                "at least 1 frame",
            ),
            (
                SampleSpec {
                    arc_degrees: 0.0,
                    ..ok.clone()
                },
                "above 0 and at most 360",
            ),
            (
                SampleSpec {
                    arc_degrees: 360.5,
                    ..ok.clone()
                },
                "above 0 and at most 360",
            ),
            (
                SampleSpec {
                    arc_degrees: f64::NAN,
                    ..ok.clone()
                },
                "above 0 and at most 360",
            ),
        ];
        for (s, needle) in bad {
            let e = SampleRig::new(&s).unwrap_err();
            assert!(e.is_usage(), "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
        assert!(SampleRig::new(&SampleSpec {
            arc_degrees: 360.0,
            layout: Layout::Arc,
            ..ok
        })
        .is_ok());
    }

    #[test]
    fn marker_is_the_centred_and_only_saturated_red() {
        for (layout, cams) in [
            (Layout::Ring, [0, 3, 5, 8, 10]),
            (Layout::Arc, [0, 2, 4, 6, 8]),
        ] {
            let sample = SampleRig::new(&SampleSpec {
                layout,
                cameras: 9,
                arc_degrees: 240.0,
                ..spec(320, 180, 9, 60)
            })
            .unwrap();
            let f = Intrinsics::focal_for_hfov(320, HFOV_DEGREES);
            for cam in cams.into_iter().filter(|&c| c < 9) {
                let camera = &sample.rig().cameras[cam];
                let d = (camera.pose.centre() - sample.rig().focus).norm();
                let r_px = f * MARKER_RADIUS / (d * d - MARKER_RADIUS * MARKER_RADIUS).sqrt();
                for frame in [0, sample.event_frame(), 59] {
                    let img = sample.render_view(camera, frame);
                    let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
                    for y in 0..img.height {
                        for x in 0..img.width {
                            if is_saturated_red(img.pixel(x, y)) {
                                let dist = (x as f64 - 159.5).hypot(y as f64 - 89.5);
                                assert!(
                                    dist < r_px + 2.5,
                                    "{}: red pixel at ({x}, {y}) far from the marker",
                                    camera.name
                                );
                                n += 1.0;
                                sx += x as f64;
                                sy += y as f64;
                            }
                        }
                    }
                    let area = std::f64::consts::PI * r_px * r_px;
                    assert!(
                        n > 0.7 * area && n < 1.3 * area,
                        "{}: {n} red pixels, expected about {area:.0}",
                        camera.name
                    );
                    let (cx, cy) = (sx / n, sy / n);
                    assert!(
                        (cx - 159.5).hypot(cy - 89.5) < 1.5,
                        "{}: centroid ({cx}, {cy})",
                        camera.name
                    );
                }
            }
        }
    }

    #[test]
    fn marker_is_centred_at_full_resolution() {
        let sample = SampleRig::new(&spec(1280, 720, 12, 60)).unwrap();
        let camera = &sample.rig().cameras[4];
        // Render only a window around the centre: a camera with the same pose and focal length
        // whose principal point makes its image the centre 160x120 crop.
        let mut crop = camera.clone();
        crop.width = 160;
        crop.height = 120;
        crop.intrinsics.cx -= 560.0;
        crop.intrinsics.cy -= 300.0;
        let img = sample.render_view(&crop, sample.event_frame());
        let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for y in 0..img.height {
            for x in 0..img.width {
                if is_saturated_red(img.pixel(x, y)) {
                    n += 1.0;
                    sx += x as f64;
                    sy += y as f64;
                }
            }
        }
        let (cx, cy) = (sx / n + 560.0, sy / n + 300.0);
        assert!(
            (cx - 639.5).hypot(cy - 359.5) < 1.0,
            "centroid ({cx}, {cy})"
        );
        let r_px = Intrinsics::focal_for_hfov(1280, HFOV_DEGREES) * MARKER_RADIUS / 8.0222;
        let area = std::f64::consts::PI * r_px * r_px;
        assert!(
            (n / area - 1.0).abs() < 0.1,
            "{n} red pixels, expected about {area:.0}"
        );
    }

    #[test]
    fn frames_are_deterministic_per_seed_and_thread_count() {
        let s = spec(160, 90, 4, 8);
        let a = SampleRig::new(&s).unwrap().camera_renderer(1).frame(4);
        let b = SampleRig::new(&s).unwrap().camera_renderer(1).frame(4);
        assert_eq!(a.data, b.data);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let single = pool.install(|| SampleRig::new(&s).unwrap().camera_renderer(1).frame(4));
        assert_eq!(a.data, single.data);
        let other = SampleRig::new(&SampleSpec { seed: 2, ..s })
            .unwrap()
            .camera_renderer(1)
            .frame(4);
        assert_ne!(a.data, other.data);
    }

    #[test]
    fn renderer_frames_equal_full_renders_and_show_the_moving_ball() {
        let sample = SampleRig::new(&spec(320, 180, 12, 60)).unwrap();
        let f = Intrinsics::focal_for_hfov(320, HFOV_DEGREES);
        let mut moving = false;
        for cam in [0, 3, 6, 9] {
            let renderer = sample.camera_renderer(cam);
            let camera = &sample.rig().cameras[cam];
            let mut centroids = Vec::new();
            for frame in [0, 10, 20, 30, 40, 50, 59] {
                let img = renderer.frame(frame);
                assert_eq!(
                    img,
                    sample.render_view(camera, frame),
                    "{} frame {frame}",
                    camera.name
                );
                // Pixels that differ from the background are on or right beside the ball.
                let ball = sample
                    .scene()
                    .ball_centre(sample.frame_time(frame))
                    .unwrap();
                let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
                for y in 0..img.height {
                    for x in 0..img.width {
                        if img.pixel(x, y) != renderer.background().pixel(x, y) {
                            let pc = camera.pose.to_camera(&ball);
                            let px = camera.project(&ball).unwrap();
                            let reach = f * BALL_RADIUS / (pc.z - BALL_RADIUS) + 2.0;
                            let off = (x as f64 - px.x).hypot(y as f64 - px.y);
                            assert!(
                                off < reach * 1.5,
                                "{} frame {frame}: ({x}, {y}) changed",
                                camera.name
                            );
                            n += 1.0;
                            sx += x as f64;
                            sy += y as f64;
                        }
                    }
                }
                if n > 20.0 {
                    centroids.push((sx / n, sy / n));
                }
            }
            moving |= centroids
                .windows(2)
                .any(|w| (w[0].0 - w[1].0).hypot(w[0].1 - w[1].1) > 5.0);
        }
        assert!(moving, "the ball should be seen moving in some camera");
    }

    #[test]
    fn ground_and_background_are_textured() {
        let sample = SampleRig::new(&spec(640, 360, 6, 10)).unwrap();
        for cam in 0..6 {
            let camera = &sample.rig().cameras[cam];
            let img = sample.camera_renderer(cam).background().clone();
            let depth = sample.render_depth(camera, 0);
            // Patches low in the frame (near ground) and just above the horizon (far
            // background: pillars, building fronts); each must carry texture.
            for (x0, y0) in [
                (40, 300),
                (520, 310),
                (100, 182),
                (480, 182),
                (40, 130),
                (300, 120),
                (560, 125),
            ] {
                let (w, h) = (48u32, 16u32);
                let mut vals = Vec::new();
                let mut grad = 0.0;
                for y in y0..y0 + h {
                    for x in x0..x0 + w {
                        let l = luma(&img, x, y);
                        vals.push(l);
                        grad +=
                            (luma(&img, x + 1, y) - l).powi(2) + (luma(&img, x, y + 1) - l).powi(2);
                    }
                }
                let n = vals.len() as f64;
                let mean = vals.iter().sum::<f64>() / n;
                let std = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
                let grad = grad / n;
                let z = depth[(y0 + h / 2) as usize * 640 + (x0 + w / 2) as usize];
                assert!(
                    std > 3.0 && grad > 6.0,
                    "{} patch ({x0}, {y0}) at depth {z}: std {std:.2}, gradient energy {grad:.2}",
                    camera.name
                );
            }
        }
    }

    #[test]
    fn depth_is_distance_along_the_axis() {
        let sample = SampleRig::new(&spec(320, 180, 4, 10)).unwrap();
        let camera = &sample.rig().cameras[2];
        let depth = sample.render_depth(camera, 0);
        // Pixel (160, 90) looks at the marker's front, a hair off the axis.
        let d = depth[90 * 320 + 160] as f64;
        let axis_dist = (camera.pose.centre() - sample.rig().focus).norm();
        assert!((d - (axis_dist - MARKER_RADIUS)).abs() < 0.01, "{d}");
        // The top rows see buildings or the sky: farther than the ring's far side.
        assert!(depth[5 * 320 + 10] > 20.0);
        // Ground at the bottom: depth matches the ground plane along that pixel's ray.
        let y = 179;
        let ray = camera
            .pose
            .dir_to_world(&camera.intrinsics.ray(100.0, y as f64));
        let c = camera.pose.centre();
        let t = -c.z / ray.z; // parameter along the (z = 1) camera ray to z = 0
        let z_cam = t; // camera-frame z of that point: the ray has camera z = 1
        let got = depth[y * 320 + 100] as f64;
        assert!(got <= z_cam + 1e-3, "{got} vs ground at {z_cam}");
    }

    #[test]
    fn truth_json_has_the_fields_and_parses_back() {
        let dir = TempDir::new("truth");
        let sample = SampleRig::new(&SampleSpec {
            fps: Rational::new(30000, 1001),
            layout: Layout::Arc,
            arc_degrees: 120.0,
            ..spec(320, 180, 5, 9)
        })
        .unwrap();
        sample.write_truth(&dir.0).unwrap();
        let text = std::fs::read_to_string(dir.0.join("truth.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["fps"], "30000/1001");
        assert_eq!(v["frames"], 9);
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(320), Some(180))
        );
        assert_eq!(v["event_frame"], 4);
        assert!((v["event_time"].as_f64().unwrap() - 4.0 * 1001.0 / 30000.0).abs() < 1e-12);
        assert_eq!(v["focus"], serde_json::json!([0.0, 0.0, 1.0]));
        assert_eq!(v["up"], serde_json::json!([0.0, 0.0, 1.0]));
        assert_eq!(v["rig_radius"], 8.0);
        assert_eq!(v["layout"], "arc");
        assert_eq!(v["seed"], 1);
        let cams = v["cameras"].as_array().unwrap();
        assert_eq!(cams.len(), 5);
        let c0 = &cams[0];
        assert_eq!(c0["name"], "cam01");
        for key in ["fx", "fy", "cx", "cy"] {
            assert!(c0[key].is_f64(), "{key}");
        }
        assert_eq!(c0["dist"].as_array().unwrap().len(), 5);
        let r = c0["R"].as_array().unwrap();
        assert!(r.len() == 3 && r.iter().all(|row| row.as_array().unwrap().len() == 3));
        assert_eq!(c0["t"].as_array().unwrap().len(), 3);
        assert_eq!(c0["centre"].as_array().unwrap().len(), 3);

        // serde_json's float parsing may be off by an ulp, so compare numbers with a tolerance.
        let back = Truth::read(&dir.0.join("truth.json")).unwrap();
        let truth = sample.truth();
        assert_eq!(
            (back.fps, back.frames, back.event_frame, back.layout),
            (truth.fps, truth.frames, truth.event_frame, truth.layout)
        );
        assert_eq!(back.cameras.len(), truth.cameras.len());
        for (a, b) in back.rig_cameras().iter().zip(&sample.rig().cameras) {
            assert_eq!(a.name, b.name);
            assert_eq!((a.width, a.height), (b.width, b.height));
            assert!((a.intrinsics.fx - b.intrinsics.fx).abs() < 1e-9);
            assert!((a.pose.centre() - b.pose.centre()).norm() < 1e-9);
            assert!(a.pose.rotation.angle_to(&b.pose.rotation) < 1e-9);
        }

        // The COLMAP model beside it describes the same cameras.
        let points = std::fs::read_to_string(dir.0.join("colmap/points3D.txt")).unwrap();
        assert!(points.starts_with('#'));
        let colmap = crate::calib::colmap::read_text_model(&dir.0.join("colmap")).unwrap();
        assert_eq!(colmap.len(), 5);
        for (a, b) in colmap.iter().zip(&sample.rig().cameras) {
            assert_eq!(a.name, b.name);
            assert!((a.intrinsics.cx - b.intrinsics.cx).abs() < 1e-9);
            assert!((a.pose.translation - b.pose.translation).norm() < 1e-9);
        }
    }
}
