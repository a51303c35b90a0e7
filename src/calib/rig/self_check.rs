//! A calibration's check of itself, before it claims success.
//!
//! A bundle adjustment can converge on a small reprojection error with the wrong focal length:
//! with few cameras far apart, a longer focal and cameras bunched together explain the same
//! matches nearly as well (the depth / focal ambiguity of narrow views). The residuals cannot
//! tell; the rig's shape can. Cameras on a ring or an arc stand at about one distance from the
//! subject and step round it in one direction, by about the same angle each (a ring of N: 360 / N
//! degrees). A calibration that puts one camera ten times nearer than another, or turns back
//! between neighbours, is wrong whatever its RMS says. Each doubt names the camera; the CLI
//! refuses a calibration with doubts unless told `--accept-poor`.

use super::calibration_json::{CalibratedCamera, RigCalibration};
use super::Layout;
use nalgebra::Vector3;

/// How far (as a factor either way) a camera's distance from the focus, or its angular step
/// from its neighbour, may stray from the rig's median before it is doubted. Generous: real
/// rigs are not perfect circles, and a calibration that is wrong misses by far more
/// (`samples --cameras 8 --size 640x360`, a ring, 3 of 8 cameras registered: cam01 4.11
/// times the median distance, steps of 12 and -125 degrees against 45).
const SPREAD: f64 = 2.0;

/// Fields of view, degrees, outside which a focal length is doubted: no camera rig is shot
/// through a longer or a wider lens.
const FOV_DEGREES: (f64, f64) = (2.0, 150.0);

/// One thing wrong with a calibration, and the cameras it concerns (none: the whole rig).
#[derive(Clone, Debug, PartialEq)]
pub struct Doubt {
    pub cameras: Vec<String>,
    pub message: String,
}

impl std::fmt::Display for Doubt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How sure the calibration is of one camera, in [0, 1]: its support (observations kept by
/// the bundle adjustment, `1 - exp(-n / 100)`: 100 give 0.63, 300 give 0.95) times its fit
/// (`1 / (1 + rms^2)`, rms in pixels: 0.3 px gives 0.92, 1 px 0.5), halved when its distance
/// from its neighbour was assumed, and a fifth of that when a doubt names it or the whole rig.
/// The CLI calls 0.8 and above high, 0.5 and above medium, the rest low.
pub fn confidence(camera: &CalibratedCamera, doubts: &[Doubt]) -> f64 {
    let support = 1.0 - (-(camera.inliers as f64) / 100.0).exp();
    let fit = 1.0 / (1.0 + camera.rms * camera.rms);
    let mut c = support * fit;
    if camera.spacing_assumed {
        c *= 0.5;
    }
    if doubts
        .iter()
        .any(|d| d.cameras.is_empty() || d.cameras.contains(&camera.camera.name))
    {
        c *= 0.2;
    }
    c
}

/// The word for a [`confidence`].
pub fn confidence_word(c: f64) -> &'static str {
    if c >= 0.8 {
        "high"
    } else if c >= 0.5 {
        "medium"
    } else {
        "low"
    }
}

/// What is doubtful in `calibration` of a rig laid out as `layout` (its `order` lists every
/// camera in rig order, registered or not): one doubt per problem, naming the cameras. Empty
/// when the calibration looks like a rig of that layout.
pub fn doubts(calibration: &RigCalibration, layout: Layout) -> Vec<Doubt> {
    let mut out = Vec::new();
    let cams = &calibration.cameras;
    if let Some(c) = cams.first() {
        let k = &c.camera.intrinsics;
        let fov = 2.0 * (c.camera.width as f64 / (2.0 * k.fx)).atan().to_degrees();
        if !(FOV_DEGREES.0..=FOV_DEGREES.1).contains(&fov) {
            out.push(Doubt {
                cameras: Vec::new(),
                message: format!(
                    "focal {:.0} px is a {fov:.1}-degree field of view, which no rig uses; give the focal length (--focal or --intrinsics)",
                    k.fx
                ),
            });
        }
    }
    if cams.len() < 3 {
        return out;
    }
    let focus = calibration.focus;
    let up = calibration.up.normalize();
    // Two directions across the rig's axis (through the focus along up).
    let across = if up.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let e1 = (across - up * across.dot(&up)).normalize();
    let e2 = up.cross(&e1);
    // Distance from the focus, and azimuth about the axis.
    let polar: Vec<(f64, f64)> = cams
        .iter()
        .map(|c| {
            let d = c.camera.pose.centre() - focus;
            (d.norm(), d.dot(&e2).atan2(d.dot(&e1)))
        })
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mid = median(polar.iter().map(|p| p.0).collect());
    for (c, &(dist, _)) in cams.iter().zip(&polar) {
        let r = dist / mid;
        if !(1.0 / SPREAD..=SPREAD).contains(&r) {
            out.push(Doubt {
                cameras: vec![c.camera.name.clone()],
                message: format!(
                    "camera {} stands {r:.2} times the rig's median distance from the subject; the cameras of a {} stand at about one distance",
                    c.camera.name,
                    layout_name(layout)
                ),
            });
        }
    }
    // Steps round the axis between cameras next in rig order, per position in the order.
    let position = |name: &str| calibration.order.iter().position(|n| n == name);
    let n = calibration.order.len();
    let mut steps = Vec::new();
    let pairs = cams.len() - usize::from(layout == Layout::Arc);
    for i in 0..pairs {
        let j = (i + 1) % cams.len();
        let (Some(pi), Some(pj)) = (
            position(&cams[i].camera.name),
            position(&cams[j].camera.name),
        ) else {
            continue;
        };
        let gap = (pj + n - pi) % n;
        if gap == 0 {
            continue;
        }
        let mut step = (polar[j].1 - polar[i].1).to_degrees();
        step = (step + 540.0).rem_euclid(360.0) - 180.0;
        steps.push((i, j, step / gap as f64));
    }
    if steps.len() >= 2 {
        // The direction most steps take is the rig's.
        let sign = if steps.iter().filter(|s| s.2 > 0.0).count() * 2 >= steps.len() {
            1.0
        } else {
            -1.0
        };
        let typical = match layout {
            Layout::Ring => 360.0 / n as f64,
            Layout::Arc => median(steps.iter().map(|s| (s.2 * sign).abs()).collect()),
        };
        for &(i, j, step) in &steps {
            let r = step * sign / typical;
            if !(1.0 / SPREAD..=SPREAD).contains(&r) {
                out.push(Doubt {
                    cameras: vec![cams[i].camera.name.clone(), cams[j].camera.name.clone()],
                    message: format!(
                        "cameras {} and {} are {:.0} degrees apart round the subject per step, where the {} has {typical:.0}",
                        cams[i].camera.name,
                        cams[j].camera.name,
                        step * sign,
                        layout_name(layout)
                    ),
                });
            }
        }
    }
    out
}

fn layout_name(layout: Layout) -> &'static str {
    match layout {
        Layout::Ring => "ring",
        Layout::Arc => "arc",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calib::rig::calibration_json::CalibratedCamera;
    use crate::camera::{Camera, Intrinsics, Pose};
    use nalgebra::Point3;

    /// A calibration of `n` cameras on a circle of radius 1 about the z axis (an arc of
    /// `span` degrees, or a full ring), looking at the origin, focal `f` at 640x360;
    /// `radius(i)` and `angle(i)` perturb camera i.
    fn rig(
        n: usize,
        span: Option<f64>,
        f: f64,
        radius: impl Fn(usize) -> f64,
        angle: impl Fn(usize) -> f64,
    ) -> RigCalibration {
        let cameras = (0..n)
            .map(|i| {
                let step = match span {
                    None => 360.0 / n as f64,
                    Some(s) => s / (n - 1) as f64,
                };
                let a = (i as f64 * step + angle(i)).to_radians();
                let eye = Point3::new(a.cos(), a.sin(), 0.2) * radius(i);
                let camera = Camera {
                    name: format!("cam{:02}", i + 1),
                    width: 640,
                    height: 360,
                    intrinsics: Intrinsics::centred(640, 360, f),
                    pose: Pose::look_at(eye, Point3::origin(), Vector3::z()),
                };
                CalibratedCamera {
                    camera,
                    rms: 0.1,
                    inliers: 100,
                    spacing_assumed: false,
                }
            })
            .collect::<Vec<_>>();
        RigCalibration {
            order: cameras.iter().map(|c| c.camera.name.clone()).collect(),
            cameras,
            unregistered: Vec::new(),
            focus: Point3::origin(),
            up: Vector3::z(),
            rms: 0.1,
            points: Vec::new(),
        }
    }

    #[test]
    fn a_true_ring_and_arc_raise_no_doubt() {
        let ring = rig(8, None, 879.0, |_| 1.0, |_| 0.0);
        assert!(doubts(&ring, Layout::Ring).is_empty());
        // Uneven spacing (steps 0.63-1.37 of the median) and distances up to a third apart
        // pass too.
        let arc = rig(
            12,
            Some(120.0),
            879.0,
            |i| 1.0 + 0.03 * i as f64,
            |i| if i == 5 { 4.0 } else { 0.0 },
        );
        assert!(
            doubts(&arc, Layout::Arc).is_empty(),
            "{:?}",
            doubts(&arc, Layout::Arc)
        );
    }

    #[test]
    fn a_collapsed_or_folded_ring_is_doubted_by_camera() {
        // As `samples --cameras 8` once calibrated: one camera four times further out, and a
        // step that turns back.
        let far = rig(8, None, 2092.0, |i| if i == 2 { 4.1 } else { 1.0 }, |_| 0.0);
        let d = doubts(&far, Layout::Ring);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message.contains("cam03") && d[0].message.contains("distance"),
            "{d:?}"
        );
        assert_eq!(d[0].cameras, ["cam03"]);
        let folded = rig(
            8,
            None,
            879.0,
            |_| 1.0,
            |i| if i == 4 { -100.0 } else { 0.0 },
        );
        let d = doubts(&folded, Layout::Ring);
        assert!(
            d.iter()
                .any(|m| m.cameras == ["cam04", "cam05"] && m.message.contains("cam04")),
            "{d:?}"
        );
        assert!(d.iter().any(|m| m.cameras == ["cam05", "cam06"]), "{d:?}");
        // The same cameras said to be an arc: the arc's own median step, and no wrap.
        let arc = rig(
            8,
            Some(180.0),
            879.0,
            |_| 1.0,
            |i| if i == 4 { -60.0 } else { 0.0 },
        );
        assert!(!doubts(&arc, Layout::Arc).is_empty());
    }

    #[test]
    fn confidence_follows_support_fit_and_doubts() {
        let ring = rig(8, None, 879.0, |_| 1.0, |_| 0.0);
        let mut cam = ring.cameras[0].clone();
        cam.inliers = 400;
        cam.rms = 0.3;
        let sure = confidence(&cam, &[]);
        assert!(
            (sure - (1.0 - (-4.0f64).exp()) / 1.09).abs() < 1e-12,
            "{sure}"
        );
        assert_eq!(confidence_word(sure), "high");
        cam.inliers = 30;
        assert_eq!(confidence_word(confidence(&cam, &[])), "low");
        cam.inliers = 400;
        cam.spacing_assumed = true;
        assert_eq!(confidence_word(confidence(&cam, &[])), "low");
        cam.spacing_assumed = false;
        cam.rms = 0.8;
        assert_eq!(confidence_word(confidence(&cam, &[])), "medium");
        // A doubt naming another camera changes nothing; one naming this camera does.
        let other = Doubt {
            cameras: vec!["cam05".into()],
            message: String::new(),
        };
        assert_eq!(
            confidence(&cam, std::slice::from_ref(&other)),
            confidence(&cam, &[])
        );
        let this = Doubt {
            cameras: vec!["cam01".into(), "cam02".into()],
            message: String::new(),
        };
        assert!((confidence(&cam, &[other, this]) - 0.2 * confidence(&cam, &[])).abs() < 1e-12);
    }

    #[test]
    fn a_focal_no_lens_has_is_doubted() {
        let ring = rig(8, None, 10.0, |_| 1.0, |_| 0.0);
        let d = doubts(&ring, Layout::Ring);
        assert!(
            d.iter()
                .any(|m| m.message.contains("field of view") && m.cameras.is_empty()),
            "{d:?}"
        );
        // A doubt about the whole rig lowers every camera's confidence.
        let c = confidence(&ring.cameras[0], &d);
        assert!(c < 0.2 && confidence_word(c) == "low", "{c}");
    }
}
