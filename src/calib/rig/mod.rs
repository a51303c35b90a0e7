//! Rig self-calibration: every camera's pose (and, when unknown, the shared focal length) from
//! one frame per camera of a ring or arc, with no calibration target.
//!
//! The passes, one file each, in the order they run:
//!
//! 1. [`features`]: Shi-Tomasi keypoints on a grid and upright SIFT-style descriptors, per
//!    camera, on a working copy at most 960 px wide (an integer reduction: 720p works at
//!    640, 1080p at 960; the descriptor window scales with it).
//! 2. Matching of each camera with the next `neighbours` cameras in rig order (wrapping on a
//!    ring): mutual nearest neighbours with Lowe's ratio test, each match localised at full
//!    resolution to a few hundredths of a pixel by a homography fit of the patch, checked by
//!    the fit back ([`lucas_kanade`]). Pairs with few matches (low texture) add matches from
//!    the dense flow engine ([`dense_matches`]). Views given in any order are first put in
//!    rig order ([`RigOrder::Auto`], [`ring_order`]: every pair matched, the cycle of the
//!    strongest links). A camera mounted upside down is recognised by its pairs' votes
//!    (more descriptor matches with its image turned by 180 degrees than upright); its
//!    matches use the turned descriptors and a half-turned patch frame, its pixels stay as
//!    given. Where the strict localisation leaves cameras out (real footage: patches that
//!    span depth edges fail the homography fit), everything runs again accepting the
//!    translation fit ([`lucas_kanade::Acceptance`]), and the run that registers more
//!    cameras is kept.
//! 3. [`two_view`]: per pair, the essential matrix by LO-RANSAC (normalised eight-point, MSAC
//!    score) and the relative pose by the cheirality test, minimised directly from rig-shaped
//!    starts where the fit is weak (long lenses); neighbours with few inliers (cameras far
//!    apart) add the matches found along the fit's epipolar lines ([`guided_matches`]) and are
//!    fitted again; a fit that does not turn about the rig's common axis is dropped
//!    ([`drop_off_axis`]). The inliers form tracks (union of matches through shared keypoints), each
//!    camera's observation localised against the first camera's keypoint, or else the nearest
//!    camera's already in the track.
//! 4. Incremental registration ([`incremental`]): from the pair with the most inliers (and
//!    enough parallax), each next camera is placed by resection ([`resection`]: RANSAC P3P +
//!    Gauss-Newton, or, where that fails as it does for long lenses, Gauss-Newton from the
//!    nearest placed camera's pose) from the points it sees, or from its pair's relative pose
//!    when it shares too few; the resection competes with the pose from its strongest pair
//!    to a placed camera (scaled and refined on the same points), and the pose that agrees
//!    better with the points and the pairs' matches wins. (The focal length sweep's guesses
//!    resect by the DLT alone: see [`reconstruct`].) New tracks are triangulated and the
//!    bundle adjusted as the rig grows. When no camera shares points with the placed ones (a ring of 12, cameras 30
//!    degrees apart: no point is seen by three), the baselines' lengths are not in the
//!    matches at all; a neighbour is then placed from its pair's pose at the rig's mean
//!    spacing, the adjustment holds the neighbours' spacing equal (a prior that only decides
//!    what the points leave free), and the result marks those cameras `spacing_assumed`.
//! 5. [`bundle_adjustment`]: Levenberg-Marquardt with the Schur complement, a Cauchy then a
//!    Huber loss, three rounds with outlier rejection in between, refining the shared focal
//!    length when it was not given. The ring closes here: the last cameras' points tie them
//!    to the first.
//! 6. [`calibration_json`]: the gauge (below), the focus point and up vector, and the output.
//!
//! [`rotation_averaging`] (robust Lie-algebraic averaging) and [`translation`] (centres from
//! baseline directions, or jointly with points given rotations) are the global alternative to
//! step 4. They are tested, but the pipeline does not use them: with a 40-degree or narrower
//! field of view, two-view relative rotations suffer the bas-relief ambiguity (a rotation
//! about the axis across the baseline traded against depth) and often came out several
//! degrees wrong for a third of the pairs, which averaging cannot out-vote on a chain; the
//! incremental scheme places cameras from 3D points instead.
//!
//! When the focal length is not given, it is found by a sweep: the reconstruction of the
//! first 8 cameras (steps 3-5, focal held fixed) runs for candidate horizontal fields of view
//! from 8 to 100 degrees (factor 1.2 apart, then +-10 % around the best), scored by the
//! truncated reprojection error (unregistered cameras, and cameras placed by the spacing, at
//! the cap); the whole rig is then
//! reconstructed at the best candidate with the focal free in the final adjustment, and again
//! at the refined focal while that registers more cameras or fits better. (Two-view focal
//! estimation (Bougnoux's formula, Kruppa equations) is degenerate for a rig: the optical
//! axes of cameras aimed at one point intersect.) Where no candidate links the cameras by
//! points, every pair fits its own points at any focal length and the sweep has nothing to go
//! on; a closed ring then takes the focal length at which its neighbours' rotations add up to
//! one turn ([`ring_closure`]).
//!
//! The gauge of the result: the world origin is the focus point (the point nearest all optical
//! axes), +z is the rig's up vector (normal of the best-fit plane of the camera centres, on the
//! side of the images' up), +x points from the focus towards the first registered camera
//! (horizontally), and the unit of length is the mean distance of the camera centres from the
//! focus (so a ring has radius about 1).

pub mod bundle_adjustment;
pub mod calibration_json;
pub mod dense_matches;
pub mod features;
pub mod guided_matches;
pub mod lucas_kanade;
pub mod resection;
pub mod ring_closure;
pub mod ring_order;
pub mod rotation_averaging;
pub mod self_check;
pub mod translation;
pub mod two_view;

pub use calibration_json::{CalibratedCamera, RigCalibration, Unregistered};

use crate::camera::{Camera, Intrinsics, Pose};
use crate::error::{Error, Result};
use crate::flow::{FlowParams, Preset};
use crate::frame::Plane;
use crate::progress::Progress;
use crate::project::Layout;
use bundle_adjustment::{BaCamera, BaOptions, FocalMode, Loss, Observation};
use dense_matches::ViewImages;
use nalgebra::{Matrix3, Point3, Rotation3, UnitQuaternion, Vector2, Vector3};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// How to calibrate.
#[derive(Clone, Debug)]
pub struct RigOptions {
    /// Ring: the last camera neighbours the first. Arc: it does not.
    pub layout: Layout,
    /// Known intrinsics shared by all cameras (distortion is removed from the matches).
    pub intrinsics: Option<Intrinsics>,
    /// Known focal length in pixels (square pixels, principal point at the image centre, no
    /// distortion); ignored when `intrinsics` is given. Estimated when neither is given.
    pub focal: Option<f64>,
    /// Width of the working copy the flow runs on.
    pub work_width: usize,
    pub flow: FlowParams,
    /// Pairs per camera: each camera is matched with this many following cameras.
    pub neighbours: usize,
    /// Add matches from the dense flow for pairs with fewer than `dense_below` feature
    /// matches.
    pub dense: bool,
    pub dense_below: usize,
    /// Lowe's ratio for descriptor matches.
    pub ratio: f32,
    /// Whether the views come in rig order, or the order is to be found.
    pub order: RigOrder,
}

/// Where the rig order comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RigOrder {
    /// The views are in rig order.
    #[default]
    Given,
    /// The views are in any order: match every pair and take the cycle whose neighbours share
    /// the most matches ([`ring_order`]); the result lists the cameras in that order.
    Auto,
}

impl Default for RigOptions {
    fn default() -> Self {
        RigOptions {
            layout: Layout::Ring,
            intrinsics: None,
            focal: None,
            work_width: 960,
            flow: {
                let mut p = FlowParams::preset(Preset::Balanced);
                p.finest_scale = 1;
                // Four fixed-point iterations: balanced runs three for speed, and with three
                // one camera of the 24-ring test no longer registered.
                p.var_iterations = 4;
                p
            },
            neighbours: 2,
            dense: true,
            dense_below: 150,
            ratio: 0.8,
            order: RigOrder::Given,
        }
    }
}

/// One camera's frame: its name and luma (0..1).
#[derive(Clone, Debug)]
pub struct RigView {
    pub name: String,
    pub luma: Plane,
}

type Desc = Option<[f32; features::DESC_LEN]>;

/// One camera's keypoints (full-resolution pixels) and their descriptors, of the image as it is
/// and, when first asked for, of the image turned by 180 degrees.
struct CameraFeatures {
    points: Vec<[f32; 2]>,
    desc: Vec<Desc>,
    window: f32,
    turned_desc: OnceLock<Vec<Desc>>,
}

impl CameraFeatures {
    /// The descriptors of the keypoints in the image turned by 180 degrees (what a camera
    /// mounted the other way up sees there, upright).
    fn turned(&self, img: &ViewImages) -> &[Desc] {
        self.turned_desc.get_or_init(|| {
            let w = &img.work;
            let turned = Plane {
                width: w.width,
                height: w.height,
                data: w.data.iter().rev().copied().collect(),
            };
            let (xm, ym) = ((w.width - 1) as f32, (w.height - 1) as f32);
            let points: Vec<[f32; 2]> = self
                .points
                .iter()
                .map(|p| {
                    let q = img.to_work(*p);
                    [xm - q[0], ym - q[1]]
                })
                .collect();
            features::describe(&turned, &points, self.window)
        })
    }
}

/// What the passes after the keypoints read: every camera's images and features, which
/// cameras are mounted the other way up, and how strictly matches are localised.
struct Views<'a> {
    imgs: &'a [ViewImages],
    feats: &'a [CameraFeatures],
    /// Per camera: its image is turned by 180 degrees from the first camera's.
    turned: &'a [bool],
    /// The upright descriptor matches of the rig's pairs (i, j), found while looking for
    /// turned cameras (per keypoint of i, its match in j).
    upright: &'a HashMap<(usize, usize), Vec<Option<usize>>>,
    /// Accept a match's translation fit where its homography fit fails
    /// ([`lucas_kanade::Acceptance`]).
    tolerant: bool,
}

impl Views<'_> {
    /// The local map from camera `a`'s patches to camera `b`'s: a half turn between an upright
    /// and a turned camera.
    fn frame(&self, a: usize, b: usize) -> lucas_kanade::Frame {
        if self.turned[a] != self.turned[b] {
            lucas_kanade::HALF_TURN
        } else {
            lucas_kanade::IDENTITY
        }
    }

    /// Accepts matches back within `round_trip` pixels, or by translation when tolerant.
    fn accept(&self, round_trip: f64) -> lucas_kanade::Acceptance {
        lucas_kanade::Acceptance {
            round_trip,
            translation_fallback: self.tolerant,
        }
    }

    /// Camera `c`'s descriptors as camera `from` sees them: of the turned image where one of
    /// the two is mounted the other way up.
    fn descriptors(&self, c: usize, from: usize) -> &[Desc] {
        if self.turned[c] != self.turned[from] {
            self.feats[c].turned(&self.imgs[c])
        } else {
            &self.feats[c].desc
        }
    }
}

/// A pair of cameras and their keypoint matches (pixels).
#[derive(Clone)]
struct PairData {
    i: usize,
    j: usize,
    /// Keypoint index in camera i, its pixel in i and its match in j.
    kp: Vec<usize>,
    /// The matched keypoint of camera j, when the match came from descriptors.
    kp_b: Vec<Option<usize>>,
    a: Vec<Vector2<f64>>,
    b: Vec<Vector2<f64>>,
    identical: bool,
    /// Matches were added along the epipolar lines ([`guided_matches`]).
    guided: bool,
    /// One camera is mounted the other way up from the other.
    turned: bool,
}

/// The smallest median angle between a pair's inlier rays for it to seed the reconstruction.
const MIN_PARALLAX_DEG: f64 = 0.3;

/// Outcome of one pair's two-view estimation.
#[derive(Clone, Debug)]
struct PairFit {
    rotation: Matrix3<f64>,
    translation: Vector3<f64>,
    inliers: Vec<bool>,
    count: usize,
    /// Median angle between the inlier rays, radians.
    parallax: f64,
}

/// A pair's relative pose at intrinsics `k`: LO-RANSAC on the eight-point essential matrix,
/// minimised directly from the rig-shaped `starts` where that fit is weak. `None` for too few
/// matches or inliers.
fn fit_pair(p: &PairData, k: &Intrinsics, starts: &[two_view::RelativePose]) -> Option<PairFit> {
    let norm = |p: &Vector2<f64>| Vector2::new((p.x - k.cx) / k.fx, (p.y - k.cy) / k.fy);
    let px_thresh = PX_THRESH;
    if p.identical || p.a.len() < 16 {
        return None;
    }
    let a: Vec<Vector2<f64>> = p.a.iter().map(|q| norm(&undistort(k, q))).collect();
    let b: Vec<Vector2<f64>> = p.b.iter().map(|q| norm(&undistort(k, q))).collect();
    let params = two_view::RansacParams {
        threshold: px_thresh / k.fx,
        max_iterations: 2000,
        confidence: 0.99999,
        ..Default::default()
    };
    // The median angle between the inliers' rays. A fit whose rays barely converge
    // explains the matches by a rotation alone: the far backdrop seen from cameras 20
    // degrees apart fits one (13.8 degrees instead of 20 on a 90-degree arc of 10
    // cameras at 640x360) when the pair's other matches are few or wrong.
    let parallax_of = |r: &two_view::TwoViewResult| {
        let mut parallax: Vec<f64> = (0..a.len())
            .filter(|&s| r.inliers[s])
            .map(|s| {
                let ra = Vector3::new(a[s].x, a[s].y, 1.0);
                let rb = r.pose.rotation.transpose() * Vector3::new(b[s].x, b[s].y, 1.0);
                ra.angle(&rb)
            })
            .collect();
        parallax.sort_by(f64::total_cmp);
        parallax.get(parallax.len() / 2).copied().unwrap_or(0.0)
    };
    let plain = two_view::estimate_relative_pose(&a, &b, &params);
    // The rig-shaped starts, with the second camera turned where it is mounted the other way up.
    let turned_starts: Vec<two_view::RelativePose>;
    let starts = if p.turned {
        turned_starts = starts
            .iter()
            .map(|s| two_view::RelativePose {
                rotation: two_view::HALF_TURN * s.rotation,
                translation: two_view::HALF_TURN * s.translation,
            })
            .collect();
        &turned_starts
    } else {
        starts
    };
    // The eight-point fits of nearly affine views (long lenses) drift to such a
    // rotation even when every match is exact: then minimise directly from rig-shaped
    // starts as well (15-degree lens, 24 cameras over 180 degrees, focal known:
    // 8/24 registered before, 24/24 at 0.008 degrees with).
    let weak = plain.as_ref().is_none_or(|r| {
        parallax_of(r) < MIN_PARALLAX_DEG.to_radians()
            || (r.inlier_count as f64) < 0.8 * a.len() as f64
    });
    let r = if weak {
        two_view::estimate_relative_pose_from(&a, &b, &params, starts)?
    } else {
        plain?
    };
    if r.inlier_count < 16 || (r.inlier_count as f64) < 0.25 * a.len() as f64 {
        return None;
    }
    let parallax = parallax_of(&r);
    Some(PairFit {
        rotation: r.pose.rotation,
        translation: r.pose.translation,
        count: r.inlier_count,
        inliers: r.inliers,
        parallax,
    })
}

/// Inlier threshold, pixels: matches are localised to a few tenths of a pixel.
const PX_THRESH: f64 = 1.5;

/// A reconstruction at given intrinsics.
struct Recon {
    cams: Vec<Option<BaCamera>>,
    points: Vec<Point3<f64>>,
    obs: Vec<Observation>,
    /// Truncated mean squared reprojection error over all matches (the focal sweep's score).
    score: f64,
    reasons: Vec<Option<String>>,
    /// Cameras placed by the rig's regular spacing (no point tied them to the others).
    spaced: Vec<bool>,
}

fn luma_spread(p: &Plane) -> f32 {
    let n = p.data.len().max(1) as f32;
    let mean = p.data.iter().sum::<f32>() / n;
    (p.data.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt()
}

/// The pairs (i, j) to match: each camera with the next `k` in rig order, wrapping on a ring.
pub fn rig_pairs(n: usize, layout: Layout, k: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for i in 0..n {
        for d in 1..=k {
            let j = i + d;
            let j = if j < n {
                j
            } else if layout == Layout::Ring {
                j % n
            } else {
                continue;
            };
            if i != j && !out.contains(&(i, j)) && !out.contains(&(j, i)) {
                out.push((i, j));
            }
        }
    }
    out
}

/// How many places apart cameras `a` and `b` of `n` are in rig order, counted either way round
/// (the ring's wrap; on an arc the cameras near the ends meet too, which only orders
/// guesses).
fn rig_distance(n: usize, a: usize, b: usize) -> usize {
    let d = a.abs_diff(b);
    d.min(n - d)
}

/// Calibrates the rig seen in `views` (in rig order, one frame per camera, equal sizes).
pub fn calibrate_rig(
    views: &[RigView],
    opts: &RigOptions,
    progress: &dyn Progress,
) -> Result<RigCalibration> {
    let n = views.len();
    if n < 3 {
        return Err(Error::usage(format!(
            "rig calibration needs at least 3 cameras, got {n}; with two cameras the scale and \
             the focal length are not observable, give more cameras"
        )));
    }
    let (w, h) = (views[0].luma.width, views[0].luma.height);
    if let Some(v) = views
        .iter()
        .find(|v| (v.luma.width, v.luma.height) != (w, h))
    {
        return Err(Error::Rig(format!(
            "camera {} is {}x{} but camera {} is {w}x{h}; rig calibration needs one image size",
            v.name, v.luma.width, v.luma.height, views[0].name
        )));
    }
    if w < 64 || h < 64 {
        return Err(Error::usage(format!(
            "images of {w}x{h} are too small to calibrate; give at least 64x64"
        )));
    }
    for v in views {
        let s = luma_spread(&v.luma);
        if s < 0.01 {
            return Err(Error::Rig(format!(
                "camera {}: the frame is black or featureless (luma spread {s:.4}); check the \
                 source, pick another moment with --at, or leave the camera out",
                v.name
            )));
        }
    }

    progress.begin("keypoints", n as u64);
    let imgs: Vec<ViewImages> = views
        .par_iter()
        .map(|v| ViewImages::new(v.luma.clone(), opts.work_width))
        .collect();
    let cell = (imgs[0].work.width / 50).clamp(4, 64);
    // The descriptor window: 16 px on a 640 px working copy (720p footage halved), and the
    // same share of the image on larger copies. A fixed 16 px on 1080p's 960 px copy saw too
    // little of each corner: 0.32 degrees median rotation error on a 12-camera arc, 0.085
    // with the window scaled.
    let window = 16.0 * (imgs[0].work.width as f32 / 640.0).max(1.0);
    // Keypoints and descriptors on the working copy; positions in full-resolution pixels.
    let feats: Vec<CameraFeatures> = imgs
        .par_iter()
        .map(|v| {
            let k = features::keypoints(&v.work, cell, 2e-4);
            let desc = features::describe(&v.work, &k, window);
            progress.advance(1);
            CameraFeatures {
                points: k.iter().map(|p| v.to_full(*p)).collect(),
                desc,
                window,
                turned_desc: OnceLock::new(),
            }
        })
        .collect();
    progress.end();
    // Views in any order: put them (and their images and features) in the order found.
    let (views, imgs, feats) = match opts.order {
        RigOrder::Given => (views.to_vec(), imgs, feats),
        RigOrder::Auto => {
            let order = found_order(&imgs, &feats, opts, progress);
            let mut imgs: Vec<Option<ViewImages>> = imgs.into_iter().map(Some).collect();
            let mut feats: Vec<Option<CameraFeatures>> = feats.into_iter().map(Some).collect();
            (
                order.iter().map(|&c| views[c].clone()).collect(),
                order
                    .iter()
                    .map(|&c| imgs[c].take().expect("once"))
                    .collect(),
                order
                    .iter()
                    .map(|&c| feats[c].take().expect("once"))
                    .collect(),
            )
        }
    };
    let views = &views[..];
    let (turned, upright) = turned_cameras(n, &imgs, &feats, opts);
    let mut out: Option<Result<RigCalibration>> = None;
    // Matches localised strictly first; where that leaves cameras out (real footage, whose
    // patches span depth edges), again accepting the translation fits.
    let registered = |r: &Result<RigCalibration>| r.as_ref().map_or(0, |c| c.cameras.len());
    for tolerant in [false, true] {
        let v = Views {
            imgs: &imgs,
            feats: &feats,
            turned: &turned,
            upright: &upright,
            tolerant,
        };
        // The focal length the strict pass measured, where it registered at least half the
        // rig by its points: the tolerant pass starts there instead of sweeping again. Its
        // looser matches can leave the sweep's score flat over a wide range of focal lengths
        // (an arc of 8 over 180 degrees, in a version that also extended tracks: the strict
        // pass measured 1757 px, the truth is 1758, and the tolerant sweep's scores differed
        // by thousandths between 1482 and 1861 px; it took 1482). The sweep also doubled the
        // run's time.
        let hint = out.as_ref().and_then(|o| o.as_ref().ok()).and_then(|c| {
            let measured = c.cameras.iter().filter(|c| !c.spacing_assumed).count();
            (measured * 2 >= n).then(|| c.cameras[0].camera.intrinsics.fx)
        });
        let cal = calibrate_views(views, &v, opts, hint, progress);
        if out
            .as_ref()
            .is_none_or(|o| registered(&cal) > registered(o))
        {
            out = Some(cal);
        }
        if registered(out.as_ref().expect("set")) == n {
            break;
        }
    }
    out.expect("one pass ran")
}

/// The rig order of views given in any order (see [`ring_order`]): every pair's descriptor
/// matches (upright, and with the second image turned), verified by an
/// essential matrix at the given intrinsics or a 50-degree lens; the order is the cycle whose
/// neighbours share the most inliers, for an arc the path that keeps the most inliers
/// between near cameras ([`ring_order::arc_order`]).
fn found_order(
    imgs: &[ViewImages],
    feats: &[CameraFeatures],
    opts: &RigOptions,
    progress: &dyn Progress,
) -> Vec<usize> {
    let n = imgs.len();
    let (w, h) = (imgs[0].full.width as u32, imgs[0].full.height as u32);
    let k = opts.intrinsics.unwrap_or_else(|| {
        let f = opts
            .focal
            .unwrap_or_else(|| Intrinsics::focal_for_hfov(w, 50.0));
        Intrinsics::centred(w, h, f)
    });
    let norm = |q: &[f32; 2]| {
        let u = undistort(&k, &Vector2::new(q[0] as f64, q[1] as f64));
        Vector2::new((u.x - k.cx) / k.fx, (u.y - k.cy) / k.fy)
    };
    // Keypoints are found on the working copy: allow for its pixels.
    let params = two_view::RansacParams {
        threshold: (2.0 * imgs[0].scale as f64 + 1.0) / k.fx,
        max_iterations: 1000,
        ..Default::default()
    };
    let inliers = |i: usize, j: usize, d: &[Desc]| {
        let m = features::match_descriptors(&feats[i].desc, d, opts.ratio);
        let (a, b): (Vec<_>, Vec<_>) = m
            .iter()
            .enumerate()
            .filter_map(|(x, y)| Some((norm(&feats[i].points[x]), norm(&feats[j].points[(*y)?]))))
            .unzip();
        if a.len() < 8 {
            return 0;
        }
        two_view::estimate_relative_pose(&a, &b, &params).map_or(0, |r| r.inlier_count)
    };
    let all: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    progress.begin("matching every pair for the rig order", all.len() as u64);
    let counts: Vec<usize> = all
        .par_iter()
        .map(|&(i, j)| {
            let upright = inliers(i, j, &feats[j].desc);
            let c = upright.max(inliers(i, j, feats[j].turned(&imgs[j])));
            progress.advance(1);
            c
        })
        .collect();
    progress.end();
    let mut weight = vec![0.0; n * n];
    for (&(i, j), &c) in all.iter().zip(&counts) {
        weight[i * n + j] = c as f64;
        weight[j * n + i] = c as f64;
    }
    let weight = |a: usize, b: usize| weight[a * n + b];
    match opts.layout {
        Layout::Ring => ring_order::ring_order(n, &weight),
        Layout::Arc => ring_order::arc_order(n, &weight),
    }
}

/// Below this many upright descriptor matches (or half the median pair's), a pair is also
/// matched with the second camera turned by 180 degrees.
const TRY_TURNED_BELOW: usize = 50;

/// Per camera, whether it is mounted the other way up from the first (its image turned by 180
/// degrees). Each pair to be matched votes by its descriptor matches, upright and (where those
/// are few) with the second image turned; the votes are taken in order of their margin, the
/// surest first, each deciding a camera's turn only if the cameras are not yet linked (a
/// maximum spanning tree: Kruskal's). Chaining the neighbours' votes alone let one unsure
/// pair turn half the rig: on the Middlebury temple, cameras 42 degrees apart, one turned,
/// find 24 upright matches and 40 turned. Also returns the upright matches of those pairs,
/// which the matching reuses.
#[allow(clippy::type_complexity)]
fn turned_cameras(
    n: usize,
    imgs: &[ViewImages],
    feats: &[CameraFeatures],
    opts: &RigOptions,
) -> (Vec<bool>, HashMap<(usize, usize), Vec<Option<usize>>>) {
    let pairs = rig_pairs(n, opts.layout, opts.neighbours.max(1));
    let count = |i: usize, d: &[Desc]| {
        features::match_descriptors(&feats[i].desc, d, opts.ratio)
            .iter()
            .flatten()
            .count()
    };
    let matches: Vec<Vec<Option<usize>>> = pairs
        .par_iter()
        .map(|&(i, j)| features::match_descriptors(&feats[i].desc, &feats[j].desc, opts.ratio))
        .collect();
    let upright: Vec<usize> = matches.iter().map(|m| m.iter().flatten().count()).collect();
    // Few is relative: a turned view of a scene with repeated texture still finds 50-70
    // upright matches (generated ring of 24) where its neighbours find 150-250.
    let mut sorted = upright.clone();
    sorted.sort_unstable();
    let few = TRY_TURNED_BELOW.max(sorted[sorted.len() / 2] / 2);
    // Per pair: whether it is a half turn, and the margin of the vote.
    let mut votes: Vec<(usize, usize, bool, usize)> = pairs
        .par_iter()
        .zip(&upright)
        .map(|(&(i, j), &upright)| {
            if upright >= few {
                return (i, j, false, upright);
            }
            let turned = count(i, feats[j].turned(&imgs[j]));
            (i, j, turned > upright, turned.abs_diff(upright))
        })
        .collect();
    votes.sort_by_key(|v| std::cmp::Reverse(v.3));
    // Union-find with each camera's turn relative to its root.
    let mut parent: Vec<usize> = (0..n).collect();
    let mut turn = vec![false; n];
    fn root(parent: &[usize], turn: &[bool], mut c: usize) -> (usize, bool) {
        let mut t = false;
        while parent[c] != c {
            t ^= turn[c];
            c = parent[c];
        }
        (c, t)
    }
    for (i, j, half, _) in votes {
        let ((ri, ti), (rj, tj)) = (root(&parent, &turn, i), root(&parent, &turn, j));
        if ri != rj {
            parent[rj] = ri;
            turn[rj] = ti ^ tj ^ half;
        }
    }
    let first = root(&parent, &turn, 0).1;
    let turned = (0..n).map(|c| root(&parent, &turn, c).1 ^ first).collect();
    (turned, pairs.into_iter().zip(matches).collect())
}

/// Matching, the reconstruction and the output, for keypoints already found.
fn calibrate_views(
    views: &[RigView],
    v: &Views,
    opts: &RigOptions,
    focal_hint: Option<f64>,
    progress: &dyn Progress,
) -> Result<RigCalibration> {
    let n = views.len();
    let (w, h) = (views[0].luma.width, views[0].luma.height);
    let (imgs, feats) = (v.imgs, v.feats);
    // Across a half turn fewer matches survive the localisation (41 % of the descriptor
    // matches on a generated ring of 24, 56 % upright), and with them the tracks through
    // three cameras: one more neighbour per camera keeps the scale linked (that ring with four
    // cameras upside down: 1.22 degrees median error with two neighbours, one camera 40 % of
    // the radius off; 0.094 degrees with three).
    let neighbours = if v.turned.iter().any(|t| *t) {
        opts.neighbours.max(3)
    } else {
        opts.neighbours.max(1)
    };
    let pairs = rig_pairs(n, opts.layout, neighbours);
    progress.begin("matching camera pairs", pairs.len() as u64);
    let matched: Vec<Result<PairData>> = pairs
        .par_iter()
        .map(|&(i, j)| {
            let (ki, kj) = (&feats[i].points, &feats[j].points);
            let turned = v.turned[i] != v.turned[j];
            let m: Cow<[Option<usize>]> = match v.upright.get(&(i, j)) {
                Some(m) if !turned => Cow::Borrowed(m),
                _ => features::match_descriptors(&feats[i].desc, v.descriptors(j, i), opts.ratio)
                    .into(),
            };
            let max_shift = 1.5 * imgs[i].scale + 1.0;
            let (frame, accept) = (v.frame(i, j), v.accept(lucas_kanade::ROUND_TRIP_PX));
            let (a, b) = (&imgs[i].full, &imgs[j].full);
            let mut found: Vec<Option<[f32; 2]>> = m
                .iter()
                .enumerate()
                .map(|(k, l)| {
                    let l = (*l)?;
                    lucas_kanade::refine_in_frame(a, b, ki[k], kj[l], frame, max_shift, accept)
                })
                .collect();
            let mut motion: Vec<f32> = found
                .iter()
                .enumerate()
                .filter_map(|(k, q)| q.map(|q| (q[0] - ki[k][0]).hypot(q[1] - ki[k][1])))
                .collect();
            // Few distinctive matches (low texture, repetitive patterns): add the dense flow's
            // (not across a half turn, which the flow does not search).
            if opts.dense && motion.len() < opts.dense_below && !turned {
                let d = dense_matches::match_pair(&imgs[i], &imgs[j], ki, &opts.flow, accept)?;
                for (f, q) in found.iter_mut().zip(d.matches) {
                    if f.is_none() {
                        *f = q;
                    }
                }
                motion.push(d.median_motion * imgs[i].scale);
            }
            progress.advance(1);
            motion.sort_by(f32::total_cmp);
            let mut pd = PairData {
                i,
                j,
                kp: Vec::new(),
                kp_b: Vec::new(),
                a: Vec::new(),
                b: Vec::new(),
                identical: false,
                guided: false,
                turned,
            };
            for (k, q) in found.iter().enumerate() {
                if let Some(q) = q {
                    pd.kp.push(k);
                    pd.kp_b.push(m[k]);
                    pd.a.push(Vector2::new(ki[k][0] as f64, ki[k][1] as f64));
                    pd.b.push(Vector2::new(q[0] as f64, q[1] as f64));
                }
            }
            let med = motion
                .get(motion.len() / 2)
                .copied()
                .unwrap_or(f32::INFINITY);
            pd.identical = !turned && med < 0.5 && pd.kp.len() * 2 > ki.len();
            Ok(pd)
        })
        .collect();
    progress.end();
    let pairs: Vec<PairData> = matched.into_iter().collect::<Result<_>>()?;
    if pairs.iter().all(|p| p.identical) {
        return Err(Error::Rig(format!(
            "all {n} cameras show the same image (no motion between neighbours); rig \
             calibration needs views from different positions"
        )));
    }

    let centred = |f: f64| Intrinsics::centred(w as u32, h as u32, f);
    let recon = if let Some(k) = opts.intrinsics {
        reconstruct(n, &pairs, v, &k, FocalMode::Fixed, true, true)
    } else if let Some(f) = opts.focal {
        reconstruct(n, &pairs, v, &centred(f), FocalMode::Fixed, true, true)
    } else if let Some(f) = focal_hint {
        refined_focal(n, &pairs, v, &centred, f, true)
    } else {
        focal_sweep(n, &pairs, v, opts.layout, &centred, progress)
    };
    finish(
        views,
        recon,
        (w as u32, h as u32),
        opts.intrinsics.map(|k| k.dist),
    )
}

/// The focal length by a sweep (see the module doc), and the reconstruction at it: the
/// candidates on the first 8 cameras, finer steps around the best, then the whole rig with the
/// focal free in the final adjustment; a sparse ring from its closure instead.
fn focal_sweep(
    n: usize,
    pairs: &[PairData],
    views: &Views,
    layout: Layout,
    centred: &dyn Fn(f64) -> Intrinsics,
    progress: &dyn Progress,
) -> Recon {
    // Sweep the horizontal field of view, then refine the best few with the focal free.
    let cands = sweep_candidates(views.imgs[0].full.width);
    let registered = |r: &Recon| r.cams.iter().filter(|c| c.is_some()).count();
    progress.begin("focal length sweep", cands.len() as u64);
    // The sweep runs on the first few cameras only (a short arc), in full.
    let m = n.min(8);
    let sub: Vec<PairData> = pairs
        .iter()
        .filter(|p| p.i < m && p.j < m)
        .cloned()
        .collect();
    let spaced = |r: &Recon| r.spaced.iter().filter(|s| **s).count();
    // Score, cameras registered from points, cameras placed by the rig's spacing.
    let sweep_at = |f: f64| {
        let r = reconstruct(m, &sub, views, &centred(f), FocalMode::Fixed, true, false);
        (r.score, registered(&r) - spaced(&r), spaced(&r))
    };
    let score_at = |f: f64| sweep_at(f).0;
    // A coarse candidate that leaves cameras out gets a second look: with the focal free
    // in the final adjustment, then again at the focal it moved to (more than 1 %).
    // Registration runs at a fixed focal, and for a long lens a focal 4-10 % off already
    // leaves cameras out, so the coarse grid alone missed the true focal's basin (15-degree
    // lens: 2077 px picked, 57 % off; with the second look, 4855 px).
    let second_look = |f: f64| -> Option<(f64, f64)> {
        let r = reconstruct(m, &sub, views, &centred(f), FocalMode::Shared, true, false);
        let f2 = r.cams.iter().flatten().next().map(|c| c.fx)?;
        if !(f2.is_finite() && f2 > 0.0) || (f2 / f - 1.0).abs() <= 0.01 {
            return Some((r.score, f));
        }
        Some((score_at(f2).min(r.score), f2))
    };
    let first: Vec<(f64, usize, usize)> = cands
        .iter()
        .map(|&f| {
            let r = sweep_at(f);
            progress.advance(1);
            r
        })
        .collect();
    progress.end();
    // No candidate links the first cameras by points: a sparse ring, whose closure gives
    // the focal length where the sweep has nothing to go on. (Kept, if tried, for the end.)
    let ring_closure = || by_ring_closure(n, pairs, views, layout, centred);
    let mut by_closure = None;
    if first.iter().all(|c| c.2 > 0) {
        match ring_closure() {
            Some(r) if registered(&r) == n => return r,
            r => by_closure = Some(r),
        }
    }
    let coarse: Vec<(f64, f64)> = cands
        .iter()
        .zip(&first)
        .map(|(&f, &(s, reg, _))| {
            let look = (reg < m).then(|| second_look(f)).flatten();
            look.filter(|l| l.0 < s).unwrap_or((s, f))
        })
        .collect();
    let scores: Vec<f64> = coarse.iter().map(|c| c.0).collect();
    let cands: Vec<f64> = coarse.iter().map(|c| c.1).collect();
    let best = (0..cands.len())
        .min_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .expect("candidates");
    // Finer looks around the best candidate: steps of 1.2^(1/4) (4.7 %), then
    // 1.2^(1/16) (1.1 %). Precise matches make the score sharp: a focal a few percent
    // off leaves cameras unregistered, and the final adjustment may not recover it.
    let mut f0 = cands[best];
    let mut s0 = scores[best];
    for step in [1.2f64.powf(0.25), 1.2f64.powf(1.0 / 16.0)] {
        let centre = f0;
        for k in [-3i32, -2, -1, 1, 2, 3] {
            let f = centre * step.powi(k);
            let sc = score_at(f);
            if sc < s0 {
                (f0, s0) = (f, sc);
            }
        }
    }
    // Refine: reconstruct at the best candidate with the focal free in the final
    // adjustment, then again at the refined focal (registration itself runs at a fixed
    // focal, so a closer start registers more cameras), while that helps. Not by the rig's
    // spacing: with cameras that no point ties to the rig, nothing measures the focal length
    // (a 10-degree lens on an arc: 22 degrees off), and an arc has no closure to give it.
    let mut recon = refined_focal(n, pairs, views, centred, f0, false);
    // A ring whose cameras are too far apart to share points gives the sweep nothing to
    // go on; its closure does.
    if spaced(&recon) > 0 || registered(&recon) < n {
        if let Some(r) = by_closure
            .unwrap_or_else(ring_closure)
            .filter(|r| registered(r) >= registered(&recon))
        {
            recon = r;
        }
    }
    recon
}

/// The whole rig reconstructed from focal length `f0` with the focal free in the final
/// adjustment, then again at the refined focal (registration itself runs at a fixed focal,
/// so a closer start registers more cameras), while that helps. `trusted`: `f0` was measured
/// by points (see [`reconstruct`]); the sweep's own pick is not, and is checked like its
/// candidates (a 10-degree lens with the P3P here: 24/24 registered at a focal 39 % off, 61
/// degrees wrong).
fn refined_focal(
    n: usize,
    pairs: &[PairData],
    views: &Views,
    centred: &dyn Fn(f64) -> Intrinsics,
    f0: f64,
    trusted: bool,
) -> Recon {
    let registered = |r: &Recon| r.cams.iter().filter(|c| c.is_some()).count();
    let at = |f: f64| {
        reconstruct(
            n,
            pairs,
            views,
            &centred(f),
            FocalMode::Shared,
            false,
            trusted,
        )
    };
    let mut recon = at(f0);
    for _ in 0..3 {
        let Some(f) = recon.cams.iter().flatten().next().map(|c| c.fx) else {
            break;
        };
        let next = at(f);
        let nf = next.cams.iter().flatten().next().map(|c| c.fx).unwrap_or(f);
        let better = (registered(&next), -next.score) > (registered(&recon), -recon.score);
        if better {
            recon = next;
        }
        if !better || (nf - f).abs() < 1e-3 * f {
            break;
        }
    }
    recon
}

/// Candidate focal lengths of the sweep: horizontal fields of view from 8 to 100 degrees, a
/// factor 1.2 apart.
fn sweep_candidates(width: usize) -> Vec<f64> {
    (0..28)
        .map(|k| 8.0 * 1.2f64.powi(k))
        .filter(|d| *d <= 100.0)
        .map(|d| Intrinsics::focal_for_hfov(width as u32, d))
        .collect()
}

/// The reconstruction of a closed ring at the focal length its closure gives
/// ([`ring_closure`]); `None` for an arc, or a ring without every neighbour pair.
fn by_ring_closure(
    n: usize,
    pairs: &[PairData],
    views: &Views,
    layout: Layout,
    centred: &dyn Fn(f64) -> Intrinsics,
) -> Option<Recon> {
    let neighbours: Vec<&PairData> = pairs
        .iter()
        .filter(|p| rig_distance(n, p.i, p.j) == 1)
        .collect();
    if layout != Layout::Ring || neighbours.len() != n {
        return None;
    }
    let starts = two_view::rig_hypotheses();
    let turn = |f: f64| -> Option<f64> {
        let k = centred(f);
        let angles: Vec<Option<f64>> = neighbours
            .par_iter()
            .map(|p| {
                let fit = fit_guided(n, p, views, &k, &starts).1?;
                Some(rotation_averaging::rotation_angle(&fit.rotation))
            })
            .collect();
        angles.into_iter().sum()
    };
    let f = ring_closure::focal_from_closure(&sweep_candidates(views.imgs[0].full.width), turn)?;
    Some(reconstruct(
        n,
        pairs,
        views,
        &centred(f),
        FocalMode::Fixed,
        true,
        true,
    ))
}

/// Removes the intrinsics' distortion from a pixel (a few fixed-point iterations), giving the
/// pixel of an ideal pinhole with the same K.
fn undistort(k: &Intrinsics, p: &Vector2<f64>) -> Vector2<f64> {
    if k.dist == [0.0; 5] {
        return *p;
    }
    let (xd, yd) = ((p.x - k.cx) / k.fx, (p.y - k.cy) / k.fy);
    let (mut x, mut y) = (xd, yd);
    for _ in 0..20 {
        let (dx, dy) = k.distort(x, y);
        x -= dx - xd;
        y -= dy - yd;
    }
    Vector2::new(k.fx * x + k.cx, k.fy * y + k.cy)
}

/// Passes 3-5 at the intrinsics `k`, the focal held fixed or refined in the final adjustment.
/// `spacing`: cameras that no point ties to the rig may be placed by the rig's regular spacing
/// (see [`incremental`]). `trusted`: the focal length is known (given, measured by points, or
/// from a ring's closure): cameras are resected by the minimal solver ([`resection::ransac`])
/// and a camera's pair competes with its resection. Otherwise (the focal length sweep's
/// guesses) only the DLT resects ([`resection::ransac_dlt`]): at a wrong focal length it
/// fails where those succeed (nearly affine views leave the focal length weakly determined),
/// and the sweep's score reads the cameras left out (with the P3P in the sweep, a 15-degree
/// lens came out 52 % off; with the pair's pose as a fallback there, a 10-degree lens
/// registered 24/24 at 26 % off, 56 degrees wrong).
#[allow(clippy::too_many_arguments)]
fn reconstruct(
    n: usize,
    pairs: &[PairData],
    views: &Views,
    k: &Intrinsics,
    focal: FocalMode,
    spacing: bool,
    trusted: bool,
) -> Recon {
    let px_thresh = PX_THRESH;
    let starts = two_view::rig_hypotheses();
    // Pairs with few inliers (wide spacing) look again for matches along their epipolar
    // lines, and are fitted again with them.
    let fitted: Vec<(Option<PairData>, Option<PairFit>)> = pairs
        .par_iter()
        .map(|p| fit_guided(n, p, views, k, &starts))
        .collect();
    let owned: Vec<PairData>;
    let pairs: &[PairData] = if fitted.iter().any(|g| g.0.is_some()) {
        owned = pairs
            .iter()
            .zip(&fitted)
            .map(|(p, g)| g.0.clone().unwrap_or_else(|| p.clone()))
            .collect();
        &owned
    } else {
        pairs
    };
    let mut fits: Vec<Option<PairFit>> = fitted.into_iter().map(|f| f.1).collect();
    let turned: Vec<(bool, bool)> = pairs
        .iter()
        .map(|p| (views.turned[p.i], views.turned[p.j]))
        .collect();
    drop_off_axis(&turned, &mut fits);
    let mut reasons: Vec<Option<String>> = vec![None; n];
    let mut has_pair = vec![false; n];
    for (p, f) in pairs.iter().zip(&fits) {
        if f.is_some() {
            has_pair[p.i] = true;
            has_pair[p.j] = true;
        }
    }
    for c in 0..n {
        if !has_pair[c] {
            // Name the best attempt.
            let best = pairs
                .iter()
                .filter(|p| p.i == c || p.j == c)
                .max_by_key(|p| p.a.len());
            reasons[c] = Some(match best {
                Some(p) if p.identical => format!(
                    "its image is the same as camera #{}'s (no parallax)",
                    if p.i == c { p.j + 1 } else { p.i + 1 }
                ),
                Some(p) => format!(
                    "no neighbour pair fits a two-view geometry (best: {} consistent matches with camera #{}); unrelated, occluded or texture-less view",
                    p.a.len(),
                    if p.i == c { p.j + 1 } else { p.i + 1 }
                ),
                None => "it has no neighbour to match".into(),
            });
        }
    }
    // Tracks: union of the pairs' inlier matches, keyed by (camera, keypoint).
    let (imgs, feats) = (views.imgs, views.feats);
    let offs: Vec<usize> = feats
        .iter()
        .scan(0, |acc, f| {
            let o = *acc;
            *acc += f.points.len();
            Some(o)
        })
        .collect();
    let total_kps = feats.iter().map(|f| f.points.len()).sum::<usize>();
    let mut parent: Vec<usize> = (0..total_kps).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    // Matches whose far end is not a keypoint (dense flow): attached to the near end's track.
    let mut free: Vec<(usize, usize, Vector2<f64>)> = Vec::new();
    for (p, f) in pairs.iter().zip(&fits) {
        let Some(f) = f else { continue };
        for m in 0..p.a.len() {
            if !f.inliers[m] {
                continue;
            }
            let a = offs[p.i] + p.kp[m];
            match p.kp_b[m] {
                Some(l) => {
                    let (ra, rb) = (root(&mut parent, a), root(&mut parent, offs[p.j] + l));
                    if ra != rb {
                        parent[ra.max(rb)] = ra.min(rb);
                    }
                }
                None => free.push((a, p.j, p.b[m])),
            }
        }
    }
    let cam_of = |node: usize| offs.partition_point(|&o| o <= node) - 1;
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for node in 0..total_kps {
        let r = root(&mut parent, node);
        groups.entry(r).or_default().push(node);
    }
    let mut free_of: HashMap<usize, Vec<(usize, Vector2<f64>)>> = HashMap::new();
    for (a, j, b) in &free {
        let r = root(&mut parent, *a);
        free_of.entry(r).or_default().push((*j, *b));
    }
    groups.retain(|r, g| g.len() >= 2 || free_of.contains_key(r));
    let mut roots: Vec<usize> = groups.keys().copied().collect();
    roots.sort_unstable();
    let pos = |node: usize| {
        let c = cam_of(node);
        let p = feats[c].points[node - offs[c]];
        (c, p)
    };
    // Each track's observations, localised at full resolution so that all are of one physical
    // point: the first camera's keypoint is the reference, each other camera is aligned to it,
    // or, where that fails, to the nearest camera (in rig order) already localised: a patch
    // seen 30-40 degrees apart often fails the homography fit's round trip. (Chaining every
    // camera to its nearest instead lets errors add up along long tracks: 0.049 degrees
    // median on a 48-camera arc, against 0.011 with the reference first.)
    let nearness = |a: usize, b: usize| rig_distance(n, a, b);
    // Camera pairs (both ways round, row-major n x n) whose matches include guided ones.
    let mut guided = vec![false; n * n];
    for p in pairs.iter().filter(|p| p.guided) {
        guided[p.i * n + p.j] = true;
        guided[p.j * n + p.i] = true;
    }
    let tracks: Vec<Vec<(usize, Vector2<f64>)>> = roots
        .par_iter()
        .filter_map(|r| {
            let nodes = &groups[r];
            let mut members: Vec<(usize, [f32; 2])> = nodes.iter().map(|&nd| pos(nd)).collect();
            members.sort_by_key(|m| m.0);
            if members.windows(2).any(|w| w[0].0 == w[1].0) {
                return None; // two keypoints of one camera: a wrong match somewhere
            }
            let (rc, rp) = members[0];
            let mut obs = vec![(rc, Vector2::new(rp[0] as f64, rp[1] as f64))];
            let shift = 1.5 * imgs[rc].scale + 1.0;
            // The other cameras' guesses (keypoint matches, then dense matches), nearest first.
            let mut guesses: Vec<(usize, [f32; 2])> = members[1..].to_vec();
            if let Some(fr) = free_of.get(r) {
                guesses.extend(fr.iter().map(|(c, b)| (*c, [b.x as f32, b.y as f32])));
            }
            guesses.sort_by_key(|g| nearness(g.0, rc));
            for (c, guess) in guesses {
                if obs.iter().any(|o| o.0 == c) {
                    continue;
                }
                let at = |o: &(usize, Vector2<f64>), round_trip: f64| {
                    let p = [o.1.x as f32, o.1.y as f32];
                    let (a, b) = (&imgs[o.0].full, &imgs[c].full);
                    let (frame, accept) = (views.frame(o.0, c), views.accept(round_trip));
                    lucas_kanade::refine_in_frame(a, b, p, guess, frame, shift, accept)
                };
                let strict = lucas_kanade::ROUND_TRIP_PX;
                let nearest = obs
                    .iter()
                    .min_by_key(|o| nearness(o.0, c))
                    .expect("the reference");
                // Looser, as guided matches are, between a guided pair.
                let q = at(&obs[0], strict)
                    .or_else(|| (nearest.0 != rc).then(|| at(nearest, strict)).flatten())
                    .or_else(|| {
                        guided[nearest.0 * n + c].then(|| at(nearest, GUIDED_ROUND_TRIP_PX))?
                    });
                if let Some(q) = q {
                    obs.push((c, Vector2::new(q[0] as f64, q[1] as f64)));
                }
            }
            (obs.len() >= 2).then_some(obs)
        })
        .collect();
    let tracks: Vec<Vec<(usize, Vector2<f64>)>> = tracks
        .into_iter()
        .map(|t| t.into_iter().map(|(c, p)| (c, undistort(k, &p))).collect())
        .collect();
    let (mut cams, mut points, mut obs, anchor, by_spacing) = incremental(
        n,
        pairs,
        &fits,
        &tracks,
        k,
        px_thresh,
        spacing,
        trusted,
        views.turned,
        &mut reasons,
    );
    let edges = spacing_edges(n, pairs, &fits, &cams, &by_spacing);
    // Bundle adjustment: dense cameras vector with placeholders for unregistered ones.
    let mut ba_cams: Vec<BaCamera> = cams
        .iter()
        .map(|c| c.unwrap_or(BaCamera::at_origin(k)))
        .collect();
    let rounds = 3;
    for round in 0..rounds {
        if obs.is_empty() {
            break;
        }
        let o = BaOptions {
            max_iterations: if round + 1 == rounds { 150 } else { 40 },
            // Wide Cauchy first (the initial poses may be several pixels off), then Huber.
            loss: if round == 0 {
                Loss::Cauchy(4.0)
            } else {
                Loss::Huber(1.0)
            },
            focal,
            fixed_camera: anchor,
            tolerance: if round + 1 == rounds { 1e-10 } else { 1e-6 },
        };
        bundle_adjustment::bundle_adjust_spaced(&mut ba_cams, &mut points, &obs, &o, &edges);
        if round + 1 == rounds {
            break;
        }
        // Outlier rejection: drop observations far beyond the robust spread, then points left
        // with fewer than two observations.
        let errs: Vec<f64> = obs
            .iter()
            .map(|o| {
                ba_cams[o.camera]
                    .project(&points[o.point])
                    .map(|p| (p - o.pixel).norm())
                    .unwrap_or(f64::INFINITY)
            })
            .collect();
        let mut sorted = errs.clone();
        sorted.sort_by(f64::total_cmp);
        let med = sorted[sorted.len() / 2];
        // The floor is a tenth of a pixel: the homography fits localise matches to a few
        // hundredths, and a floor of 1 px kept the few matches that slid a few tenths along
        // streaky ground texture, all in the same sense, which bent a 24-camera arc by
        // 0.08 degrees.
        let limit = (4.0 * 1.4826 * med).max(0.1);
        let mut count = vec![0usize; points.len()];
        for (o, e) in obs.iter().zip(&errs) {
            if *e <= limit {
                count[o.point] += 1;
            }
        }
        let mut remap = vec![usize::MAX; points.len()];
        let mut kept = Vec::new();
        for (p, c) in count.iter().enumerate() {
            if *c >= 2 {
                remap[p] = kept.len();
                kept.push(points[p]);
            }
        }
        obs = obs
            .iter()
            .zip(&errs)
            .filter(|(o, e)| **e <= limit && remap[o.point] != usize::MAX)
            .map(|(o, _)| Observation {
                point: remap[o.point],
                ..*o
            })
            .collect();
        points = kept;
    }
    for (c, cam) in cams.iter_mut().enumerate() {
        if cam.is_some() {
            *cam = Some(ba_cams[c]);
        }
    }
    // Score: truncated squared error over every match considered, lost matches at the cap.
    let cap = (3.0 * px_thresh) * (3.0 * px_thresh);
    let mut s = 0.0;
    for o in &obs {
        let e = ba_cams[o.camera]
            .project(&points[o.point])
            .map(|p| (p - o.pixel).norm_squared())
            .unwrap_or(cap);
        s += e.min(cap);
    }
    // Unregistered cameras cost the cap each, as if all their points were lost, and so do
    // cameras placed by the rig's spacing: no point checks their place (otherwise a wrong
    // focal length that leaves cameras without shared points would not pay for them).
    let registered = cams
        .iter()
        .zip(&by_spacing)
        .filter(|(c, s)| c.is_some() && !**s)
        .count();
    let score = s / obs.len().max(1) as f64 + cap * (n - registered) as f64;
    Recon {
        cams,
        points,
        obs,
        score,
        reasons,
        spaced: by_spacing,
    }
}

/// Pair `p`'s relative pose seen from its camera `r`: `x_c = R x_r + t` for the other one.
fn relative_from(p: &PairData, f: &PairFit, r: usize) -> (Matrix3<f64>, Vector3<f64>) {
    if r == p.i {
        (f.rotation, f.translation)
    } else {
        (
            f.rotation.transpose(),
            -(f.rotation.transpose() * f.translation),
        )
    }
}

/// Registers the cameras one by one, starting from the pair with the most inliers among those
/// whose rays converge (median parallax at least [`MIN_PARALLAX_DEG`]): each next
/// camera is the one that sees the most triangulated points, placed by resection (RANSAC P3P
/// and Gauss-Newton) or by its strongest pair, whichever agrees better, after which the tracks it completes are triangulated and the bundle is
/// adjusted. Growing along the tracks follows the rig order and, unlike averaging two-view
/// rotations, does not inherit the bas-relief ambiguity of narrow-field pairs (Szeliski and
/// Kang 1997; the reason incremental SfM is the default in COLMAP, Schoenberger and Frahm 2016).
/// With `spacing`, a camera that no point ties to the placed ones is placed from its pair's
/// pose at the rig's mean spacing (flagged in the last return value).
/// Returns cameras, points, observations, the seed camera (the gauge) and those flags.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn incremental(
    n: usize,
    pairs: &[PairData],
    fits: &[Option<PairFit>],
    tracks: &[Vec<(usize, Vector2<f64>)>],
    k: &Intrinsics,
    px_thresh: f64,
    spacing: bool,
    trusted: bool,
    turned: &[bool],
    reasons: &mut [Option<String>],
) -> (
    Vec<Option<BaCamera>>,
    Vec<Point3<f64>>,
    Vec<Observation>,
    usize,
    Vec<bool>,
) {
    let base = BaCamera::at_origin(k);
    let mut cams: Vec<Option<BaCamera>> = vec![None; n];
    // The seed lies in the largest group of cameras linked by fitted pairs: where some pairs
    // do not fit (a sparse ring), the rig can only grow within the seed's group.
    let group = linked_groups(n, pairs, fits);
    let size = |c: usize| group.iter().filter(|g| **g == group[c]).count();
    let Some((seed, fit)) = pairs
        .iter()
        .zip(fits)
        .filter_map(|(p, f)| f.as_ref().map(|f| (p, f)))
        .max_by_key(|(p, f)| {
            let converging = f.parallax >= MIN_PARALLAX_DEG.to_radians();
            (size(p.i), converging, f.count, std::cmp::Reverse(p.i))
        })
    else {
        return (cams, Vec::new(), Vec::new(), 0, vec![false; n]);
    };
    cams[seed.i] = Some(base);
    cams[seed.j] = Some(BaCamera {
        rotation: fit.rotation,
        translation: fit.translation,
        ..base
    });
    let anchor = seed.i;
    let norm = |p: &Vector2<f64>| Vector2::new((p.x - k.cx) / k.fx, (p.y - k.cy) / k.fy);
    let mut point: Vec<Option<Point3<f64>>> = vec![None; tracks.len()];
    let triangulate_new = |cams: &[Option<BaCamera>], point: &mut [Option<Point3<f64>>]| {
        let new: Vec<(usize, Point3<f64>)> = tracks
            .par_iter()
            .enumerate()
            .filter(|(ti, _)| point[*ti].is_none())
            .filter_map(|(ti, t)| {
                let seen: Vec<&(usize, Vector2<f64>)> =
                    t.iter().filter(|(c, _)| cams[*c].is_some()).collect();
                if seen.len() < 2 {
                    return None;
                }
                let poses: Vec<(Matrix3<f64>, Vector3<f64>)> = seen
                    .iter()
                    .map(|(c, _)| {
                        let b = cams[*c].expect("seen");
                        (b.rotation, b.translation)
                    })
                    .collect();
                let o: Vec<Vector2<f64>> = seen.iter().map(|(_, p)| norm(p)).collect();
                let x = two_view::triangulate(&poses, &o)?;
                // Enough parallax between the most separated rays (0.5 degrees).
                let mut best_angle = 0f64;
                for a in 0..seen.len() {
                    for b in a + 1..seen.len() {
                        let ca = cams[seen[a].0].expect("seen");
                        let cb = cams[seen[b].0].expect("seen");
                        let (ra, rb) = (x.coords - ca.centre(), x.coords - cb.centre());
                        best_angle = best_angle.max(ra.angle(&rb));
                    }
                }
                if best_angle < 0.5f64.to_radians() {
                    return None;
                }
                for (c, p) in &seen {
                    let q = cams[*c].expect("seen").project(&x)?;
                    if (q - p).norm() > 4.0 * px_thresh {
                        return None;
                    }
                }
                Some((ti, x))
            })
            .collect();
        for (ti, x) in new {
            point[ti] = Some(x);
        }
    };
    let gather = |cams: &[Option<BaCamera>], point: &[Option<Point3<f64>>]| {
        let mut pts = Vec::new();
        let mut idx = Vec::new();
        let mut obs = Vec::new();
        for (ti, t) in tracks.iter().enumerate() {
            let Some(x) = point[ti] else { continue };
            let mut any = 0;
            for (c, p) in t {
                if cams[*c].is_some() {
                    obs.push(Observation {
                        camera: *c,
                        point: pts.len(),
                        pixel: *p,
                    });
                    any += 1;
                }
            }
            if any == 0 {
                continue;
            }
            pts.push(x);
            idx.push(ti);
        }
        (pts, idx, obs)
    };
    let adjust = |cams: &mut [Option<BaCamera>],
                  point: &mut [Option<Point3<f64>>],
                  iters: usize,
                  edges: &[(usize, usize)]| {
        let (mut pts, idx, obs) = gather(cams, point);
        if obs.is_empty() {
            return;
        }
        let mut ba: Vec<BaCamera> = cams.iter().map(|c| c.unwrap_or(base)).collect();
        let o = BaOptions {
            max_iterations: iters,
            loss: Loss::Cauchy(2.0),
            focal: FocalMode::Fixed,
            fixed_camera: anchor,
            tolerance: 1e-5,
        };
        bundle_adjustment::bundle_adjust_spaced(&mut ba, &mut pts, &obs, &o, edges);
        for (c, cam) in cams.iter_mut().enumerate() {
            if cam.is_some() {
                *cam = Some(ba[c]);
            }
        }
        // Points that still reproject badly are dropped (they may come back later).
        let mut err = vec![0f64; pts.len()];
        for o in &obs {
            if let Some(q) = ba[o.camera].project(&pts[o.point]) {
                err[o.point] = err[o.point].max((q - o.pixel).norm());
            } else {
                err[o.point] = f64::INFINITY;
            }
        }
        for ((x, ti), e) in pts.iter().zip(&idx).zip(&err) {
            point[*ti] = (*e < 6.0 * px_thresh).then_some(*x);
        }
    };
    triangulate_new(&cams, &mut point);
    adjust(&mut cams, &mut point, 15, &[]);
    let mut failed = vec![false; n];
    // Why a camera's resection failed, kept only if it never gets placed (a retry may).
    let mut rejected: Vec<Option<String>> = vec![None; n];
    let mut two_view_tried = vec![false; n];
    // Camera c's pose from its fitted pair p with the registered camera r, the baseline
    // `scale` times the pair's unit one.
    let pair_pose = |cr: &BaCamera, p: &PairData, f: &PairFit, r: usize, scale: f64| {
        let (rr, tr) = relative_from(p, f, r);
        BaCamera {
            rotation: rr * cr.rotation,
            translation: rr * cr.translation + tr * scale,
            ..base
        }
    };
    // [`pair_pose`] with the scale from the points both cameras see: depths in r of
    // triangulated points against their depths in the unit-baseline pair frame; also those
    // points and their pixels in c. Without five such points there is no place: a wrong
    // scale or a two-view rotation off by the bas-relief ambiguity would bend the rig.
    let pair_placed = |cams: &[Option<BaCamera>],
                       point: &[Option<Point3<f64>>],
                       p: &PairData,
                       f: &PairFit,
                       r: usize|
     -> Option<(BaCamera, Vec<Point3<f64>>, Vec<Vector2<f64>>)> {
        let c = if r == p.i { p.j } else { p.i };
        let (rr, tr) = relative_from(p, f, r);
        let cr = cams[r].expect("registered");
        let mut ratios = Vec::new();
        let mut wi = Vec::new();
        let mut pi = Vec::new();
        for (ti, t) in tracks.iter().enumerate() {
            let Some(x) = point[ti] else { continue };
            let (Some(a), Some(b)) = (t.iter().find(|o| o.0 == r), t.iter().find(|o| o.0 == c))
            else {
                continue;
            };
            let pair_poses = [(Matrix3::identity(), Vector3::zeros()), (rr, tr)];
            let Some(y) = two_view::triangulate(&pair_poses, &[norm(&a.1), norm(&b.1)]) else {
                continue;
            };
            let dr = (cr.rotation * x.coords + cr.translation).z;
            if y.z > 0.0 && dr > 0.0 {
                ratios.push(dr / y.z);
                wi.push(x);
                pi.push(b.1);
            }
        }
        if ratios.len() < 5 {
            return None;
        }
        ratios.sort_by(f64::total_cmp);
        Some((pair_pose(&cr, p, f, r, ratios[ratios.len() / 2]), wi, pi))
    };
    // How well a pose of camera c agrees with the points it sees (`world`, `pix`) and with
    // the matches of its fitted pairs to registered cameras (Sampson distance): squared
    // pixels, each capped.
    let disagreement = |cam: &BaCamera,
                        c: usize,
                        cams: &[Option<BaCamera>],
                        world: &[Point3<f64>],
                        pix: &[Vector2<f64>]| {
        let cap = (3.0 * px_thresh).powi(2);
        let mut cost = 0.0;
        for (x, q) in world.iter().zip(pix) {
            cost += cam
                .project(x)
                .map_or(cap, |p| (p - q).norm_squared().min(cap));
        }
        for (p, f) in pairs.iter().zip(fits) {
            let Some(f) = f else { continue };
            let (a, b, other) = if p.i == c {
                (&p.b, &p.a, p.j)
            } else if p.j == c {
                (&p.a, &p.b, p.i)
            } else {
                continue;
            };
            let Some(co) = cams[other] else { continue };
            // From the other camera (a) to c (b).
            let rel = cam.rotation * co.rotation.transpose();
            let e = translation::skew(&(cam.translation - rel * co.translation)) * rel;
            for m in (0..p.a.len()).filter(|&m| f.inliers[m]) {
                let (xa, xb) = (norm(&undistort(k, &a[m])), norm(&undistort(k, &b[m])));
                let d = two_view::sampson(&e, &xa, &xb) * k.fx;
                cost += (d * d).min(cap);
            }
        }
        cost
    };
    let place_by_pair = |cams: &[Option<BaCamera>],
                         point: &[Option<Point3<f64>>],
                         failed: &[bool],
                         tried: &mut [bool],
                         spacing: Option<f64>|
     -> Option<(usize, BaCamera)> {
        // Fitted pairs between a registered and an unregistered camera, strongest first.
        let mut cands: Vec<(&PairData, &PairFit)> = pairs
            .iter()
            .zip(fits)
            .filter_map(|(p, f)| f.as_ref().map(|f| (p, f)))
            .filter(|(p, _)| {
                let (a, b) = (cams[p.i].is_some(), cams[p.j].is_some());
                let c = if a { p.j } else { p.i };
                a != b && !failed[c] && !tried[c]
            })
            .collect();
        cands.sort_by_key(|(p, f)| (std::cmp::Reverse(f.count), p.i));
        for (p, f) in cands {
            let (r, c) = if cams[p.i].is_some() {
                (p.i, p.j)
            } else {
                (p.j, p.i)
            };
            if tried[c] || (spacing.is_some() && rig_distance(n, r, c) != 1) {
                continue;
            }
            tried[c] = true;
            // At the rig's spacing: no point to check the place against.
            if let Some(s) = spacing {
                return Some((c, pair_pose(&cams[r].expect("registered"), p, f, r, s)));
            }
            let Some((mut cam, wi, pi)) = pair_placed(cams, point, p, f, r) else {
                continue;
            };
            let rms = bundle_adjustment::refine_pose(&mut cam, &wi, &pi, px_thresh);
            if rms < 4.0 * px_thresh {
                return Some((c, cam));
            }
        }
        None
    };
    let mut retried = false;
    let mut added = 0usize;
    let mut by_spacing = vec![false; n];
    loop {
        // The unregistered camera seeing the most triangulated points.
        let mut counts = vec![0usize; n];
        for (ti, t) in tracks.iter().enumerate() {
            if point[ti].is_some() {
                for (c, _) in t {
                    if cams[*c].is_none() {
                        counts[*c] += 1;
                    }
                }
            }
        }
        let Some(c) = (0..n)
            .filter(|&c| cams[c].is_none() && !failed[c] && counts[c] >= 12)
            .max_by_key(|&c| (counts[c], std::cmp::Reverse(c)))
        else {
            // Too few shared points for resection (wide spacing: few tracks through three
            // cameras): place a camera from its pair's relative pose to a registered
            // neighbour, with the baseline's scale from the points both already see.
            let mut placed = place_by_pair(&cams, &point, &failed, &mut two_view_tried, None);
            if placed.is_none() && spacing {
                // No camera shares points with the registered ones (no point is tracked
                // through three cameras, as on a ring of 12): the baselines' lengths are not
                // in the matches. Assume the rig's spacing is regular: place a neighbour of a
                // registered camera at the mean distance between registered neighbours.
                let spacing = mean_spacing(n, pairs, &cams);
                let mut tried = vec![false; n];
                placed = spacing
                    .and_then(|s| place_by_pair(&cams, &point, &failed, &mut tried, Some(s)));
                if let Some((c, _)) = placed {
                    by_spacing[c] = true;
                }
            }
            if let Some(cam_c) = placed {
                let (c, cam) = cam_c;
                cams[c] = Some(cam);
                added += 1;
                triangulate_new(&cams, &mut point);
                let edges = spacing_edges(n, pairs, fits, &cams, &by_spacing);
                adjust(&mut cams, &mut point, 6, &edges);
                continue;
            }
            // Once: adjust everything and give the rejected cameras another chance.
            if !retried && failed.iter().any(|f| *f) {
                retried = true;
                let edges = spacing_edges(n, pairs, fits, &cams, &by_spacing);
                adjust(&mut cams, &mut point, 20, &edges);
                triangulate_new(&cams, &mut point);
                failed.iter_mut().for_each(|f| *f = false);
                continue;
            }
            break;
        };
        let mut world = Vec::new();
        let mut img = Vec::new();
        let mut pix = Vec::new();
        for (ti, t) in tracks.iter().enumerate() {
            if let Some(x) = point[ti] {
                if let Some((_, p)) = t.iter().find(|(cc, _)| *cc == c) {
                    world.push(x);
                    img.push(norm(p));
                    pix.push(*p);
                }
            }
        }
        let placed = if trusted {
            resection::ransac(&world, &img, 6.0 * px_thresh / k.fx, 400)
        } else {
            resection::ransac_dlt(&world, &img, 6.0 * px_thresh / k.fx, 400)
        }
        .and_then(|(r, t, inl)| {
            let m = inl.iter().filter(|b| **b).count();
            if m < 12 || (m as f64) < 0.25 * world.len() as f64 {
                return None;
            }
            let (wi, pi): (Vec<Point3<f64>>, Vec<Vector2<f64>>) = world
                .iter()
                .zip(&pix)
                .zip(&inl)
                .filter(|x| *x.1)
                .map(|((w, p), _)| (*w, *p))
                .unzip();
            let mut cam = BaCamera {
                rotation: r,
                translation: t,
                ..base
            };
            let rms = bundle_adjustment::refine_pose(&mut cam, &wi, &pi, px_thresh);
            (rms < 4.0 * px_thresh).then_some(cam)
        });
        // The linear resection is poorly conditioned for a long lens (nearly affine views):
        // start instead from the pose of the nearest registered camera in rig order, a few
        // degrees away, and let a robust Gauss-Newton find the pose, then its inliers.
        let placed = placed.or_else(|| {
            let r = (0..n)
                .filter(|&r| cams[r].is_some())
                .min_by_key(|&r| rig_distance(n, r, c))?;
            let mut cam = cams[r]?;
            if turned[r] != turned[c] {
                cam.rotation = two_view::HALF_TURN * cam.rotation;
                cam.translation = two_view::HALF_TURN * cam.translation;
            }
            let mut inl = vec![true; world.len()];
            for loss in [8.0 * px_thresh, 2.0 * px_thresh, px_thresh] {
                let wi: Vec<Point3<f64>> = (0..world.len())
                    .filter(|&i| inl[i])
                    .map(|i| world[i])
                    .collect();
                let pi: Vec<Vector2<f64>> = (0..world.len())
                    .filter(|&i| inl[i])
                    .map(|i| pix[i])
                    .collect();
                if wi.len() < 12 {
                    return None;
                }
                bundle_adjustment::refine_pose(&mut cam, &wi, &pi, loss);
                for i in 0..world.len() {
                    inl[i] = cam
                        .project(&world[i])
                        .is_some_and(|q| (q - pix[i]).norm() < 2.0 * px_thresh);
                }
            }
            let m = inl.iter().filter(|b| **b).count();
            (m >= 12 && m as f64 >= 0.5 * world.len() as f64).then_some(cam)
        });
        // A resection from points of a narrow spread is weakly determined (nearly affine
        // views: a rotation of several degrees and a shift change the points' images by
        // less than a pixel), while the fitted pairs to registered neighbours pin the
        // rotation with all their matches. So the pose from the strongest such pair, its
        // scale from the shared points and refined on them, competes with the resection:
        // the one that agrees better with the points and the pairs' matches wins, by a
        // margin: the pair's pose must halve the resection's disagreement (on an arc of 8,
        // 283 against 719; an even choice bent a ring of 24 from 0.0067 to 17.8 degrees).
        let strongest = pairs
            .iter()
            .zip(fits)
            .filter_map(|(p, f)| f.as_ref().map(|f| (p, f)))
            .filter(|(p, _)| (p.i == c && cams[p.j].is_some()) || (p.j == c && cams[p.i].is_some()))
            .max_by_key(|(p, f)| (f.count, std::cmp::Reverse(p.i)));
        let by_pair = strongest.filter(|_| trusted).and_then(|(p, f)| {
            let r = if p.i == c { p.j } else { p.i };
            let (mut cam, _, _) = pair_placed(&cams, &point, p, f, r)?;
            // Refined on the points it already agrees with, twice narrowing: one
            // badly triangulated point would twist it (the weak geometry above).
            let mut m = 0;
            for within in [4.0 * px_thresh, 2.0 * px_thresh] {
                let inl: Vec<usize> = (0..world.len())
                    .filter(|&i| {
                        cam.project(&world[i])
                            .is_some_and(|q| (q - pix[i]).norm() < within)
                    })
                    .collect();
                if inl.len() < 12 {
                    return None;
                }
                let wi: Vec<Point3<f64>> = inl.iter().map(|&i| world[i]).collect();
                let pi: Vec<Vector2<f64>> = inl.iter().map(|&i| pix[i]).collect();
                bundle_adjustment::refine_pose(&mut cam, &wi, &pi, px_thresh);
                m = inl.len();
            }
            (m as f64 >= 0.5 * world.len() as f64).then_some(cam)
        });
        let placed = match (placed, by_pair) {
            (Some(a), Some(b)) => {
                let (da, db) = (
                    disagreement(&a, c, &cams, &world, &pix),
                    disagreement(&b, c, &cams, &world, &pix),
                );
                Some(if db < 0.5 * da { b } else { a })
            }
            (a, b) => a.or(b),
        };
        match placed {
            Some(cam) => {
                cams[c] = Some(cam);
                added += 1;
                triangulate_new(&cams, &mut point);
                // Adjust after every camera while the rig is small, then every few cameras.
                let registered = cams.iter().filter(|c| c.is_some()).count();
                let edges = spacing_edges(n, pairs, fits, &cams, &by_spacing);
                if registered <= 12 || added.is_multiple_of(3) {
                    adjust(&mut cams, &mut point, 6, &edges);
                }
            }
            None => {
                failed[c] = true;
                rejected[c].get_or_insert_with(|| {
                    format!(
                        "its view does not agree with the {} points it shares with registered cameras",
                        world.len()
                    )
                });
            }
        }
    }
    for c in 0..n {
        if cams[c].is_none() {
            reasons[c].get_or_insert_with(|| {
                rejected[c].take().unwrap_or_else(|| {
                    if spacing {
                        "it shares too few points with the registered cameras".into()
                    } else {
                        "it shares too few points with the registered cameras (no point is \
                         seen by it and two others); with the focal length given (--focal or \
                         --intrinsics) it would be placed by the rig's regular spacing"
                            .into()
                    }
                })
            });
        }
    }
    let (pts, _, obs) = gather(&cams, &point);
    (cams, pts, obs, anchor, by_spacing)
}

/// The baselines the equal-spacing prior holds: once any camera was placed by the rig's
/// spacing, every fitted pair of registered neighbours (their lengths tie the placed cameras'
/// baselines to those the points measure); none otherwise.
fn spacing_edges(
    n: usize,
    pairs: &[PairData],
    fits: &[Option<PairFit>],
    cams: &[Option<BaCamera>],
    by_spacing: &[bool],
) -> Vec<(usize, usize)> {
    if !by_spacing.iter().any(|b| *b) {
        return Vec::new();
    }
    pairs
        .iter()
        .zip(fits)
        .filter(|(p, f)| {
            f.is_some()
                && rig_distance(n, p.i, p.j) == 1
                && cams[p.i].is_some()
                && cams[p.j].is_some()
        })
        .map(|(p, _)| (p.i, p.j))
        .collect()
}

/// The round trip a guided match's localisation must pass, pixels: patches seen 30 degrees
/// apart rarely come back within the usual 0.2 px (see `lucas_kanade`), but these pairs have
/// too few matches to be choosy.
const GUIDED_ROUND_TRIP_PX: f64 = 0.5;

/// [`fit_pair`], then, for neighbours with fewer inliers than [`GUIDED_BELOW`] (wide
/// spacing), again with the guided matches along the fit's epipolar lines: the pair with
/// those matches (`None` if none were looked for) and its fit. Only
/// neighbours: pairs further apart are not needed to link the rig, and the looser
/// localisation of guided matches would cost them accuracy (arc of 12: the focal length 8 %
/// off).
fn fit_guided(
    n: usize,
    p: &PairData,
    views: &Views,
    k: &Intrinsics,
    starts: &[two_view::RelativePose],
) -> (Option<PairData>, Option<PairFit>) {
    let mut f = match fit_pair(p, k, starts) {
        Some(f) if f.count < GUIDED_BELOW && rig_distance(n, p.i, p.j) == 1 => f,
        fit => return (None, fit),
    };
    let g = with_guided_matches(p, &f, views, k, PX_THRESH);
    let refit = fit_pair(&g, k, starts).or_else(|| {
        f.inliers.resize(g.a.len(), false);
        Some(f)
    });
    (Some(g), refit)
}

/// Lowe's ratio among a keypoint's candidates along its epipolar line: looser than the free
/// matching's 0.8, as the line leaves few lookalikes.
const GUIDED_RATIO: f32 = 0.9;

/// Pairs with fewer two-view inliers than this get guided matches.
const GUIDED_BELOW: usize = 150;

/// `p` with the matches found along the epipolar lines of its fitted pose `f` added (see
/// [`guided_matches`]), each localised at full resolution and kept if it stays within
/// `px_thresh` of its epipolar line.
fn with_guided_matches(
    p: &PairData,
    f: &PairFit,
    views: &Views,
    k: &Intrinsics,
    px_thresh: f64,
) -> PairData {
    let norm = |q: &[f32; 2]| {
        let u = undistort(k, &Vector2::new(q[0] as f64, q[1] as f64));
        Vector2::new((u.x - k.cx) / k.fx, (u.y - k.cy) / k.fy)
    };
    let (imgs, feats) = (views.imgs, views.feats);
    let (ki, kj) = (&feats[p.i].points, &feats[p.j].points);
    let a: Vec<Vector2<f64>> = ki.iter().map(norm).collect();
    let b: Vec<Vector2<f64>> = kj.iter().map(norm).collect();
    let mut skip = vec![false; ki.len()];
    for (&m, _) in p.kp.iter().zip(&f.inliers).filter(|x| *x.1) {
        skip[m] = true;
    }
    let e = translation::skew(&f.translation) * f.rotation;
    // Keypoints sit on the working copy's grid: a corner may be found a working pixel or two
    // away from its match's, before the localisation.
    let gate = (2.0 * imgs[p.i].scale as f64 + 1.0) / k.fx;
    let side = |points, c: usize| guided_matches::Keypoints {
        points,
        descriptors: views.descriptors(c, p.i),
    };
    let found = guided_matches::match_along_epipolar_lines(
        side(&a, p.i),
        side(&b, p.j),
        &e,
        gate,
        GUIDED_RATIO,
        &skip,
    );
    let max_shift = 1.5 * imgs[p.i].scale + 1.0;
    let refined: Vec<(usize, usize, [f32; 2])> = found
        .par_iter()
        .filter_map(|&(m, l)| {
            let q = lucas_kanade::refine_in_frame(
                &imgs[p.i].full,
                &imgs[p.j].full,
                ki[m],
                kj[l],
                views.frame(p.i, p.j),
                max_shift,
                views.accept(GUIDED_ROUND_TRIP_PX),
            )?;
            let d =
                guided_matches::line_distance(&guided_matches::epipolar_line(&e, &a[m]), &norm(&q));
            (d * k.fx < px_thresh).then_some((m, l, q))
        })
        .collect();
    let mut out = p.clone();
    out.guided = true;
    for (m, l, q) in refined {
        out.kp.push(m);
        out.kp_b.push(Some(l));
        out.a.push(Vector2::new(ki[m][0] as f64, ki[m][1] as f64));
        out.b.push(Vector2::new(q[0] as f64, q[1] as f64));
    }
    out
}

/// The largest angle, degrees, between a pair's rotation axis and the rig's (the median of
/// all pairs') for the pair's fit to stand.
const OFF_AXIS_DEG: f64 = 10.0;

/// Drops the fits of pairs that do not turn about the rig's axis. The cameras of a ring or
/// arc turn about one vertical axis, so every pair's rotation axis, seen from its first
/// camera, is nearly the same; a two-view fit 30 degrees off (ring of 12 at 640x360: two of
/// the twelve neighbour pairs) turns about some other axis. Pairs turned by less than a
/// degree have no reliable axis and are kept.
fn drop_off_axis(turned: &[(bool, bool)], fits: &mut [Option<PairFit>]) {
    // A pair's unit rotation axis, if it turns by more than a degree, between its cameras
    // turned upright (`turned`: whether the first and the second are mounted the other way
    // up), in the first's frame.
    let axis_of = |f: &PairFit, (ti, tj): (bool, bool)| {
        let upright = |t: bool| {
            if t {
                two_view::HALF_TURN
            } else {
                Matrix3::identity()
            }
        };
        let r = upright(tj) * f.rotation * upright(ti);
        let a = Rotation3::from_matrix_unchecked(r).scaled_axis();
        (a.norm() > 1f64.to_radians()).then(|| a / a.norm())
    };
    let axes: Vec<Vector3<f64>> = fits
        .iter()
        .zip(turned)
        .filter_map(|(f, t)| axis_of(f.as_ref()?, *t))
        .collect();
    if axes.len() < 3 {
        return;
    }
    // The median axis: the one with the smallest median angle to the others.
    let median_angle = |a: &Vector3<f64>| {
        let mut d: Vec<f64> = axes.iter().map(|b| a.angle(b)).collect();
        d.sort_by(f64::total_cmp);
        d[d.len() / 2]
    };
    let axis = *axes
        .iter()
        .min_by(|a, b| median_angle(a).total_cmp(&median_angle(b)))
        .expect("axes");
    for (f, t) in fits.iter_mut().zip(turned) {
        let off = f
            .as_ref()
            .and_then(|f| axis_of(f, *t))
            .is_some_and(|a| a.angle(&axis) > OFF_AXIS_DEG.to_radians());
        if off {
            *f = None;
        }
    }
}

/// Per camera, a label shared by the cameras linked through fitted pairs (connected
/// components of the pair graph).
fn linked_groups(n: usize, pairs: &[PairData], fits: &[Option<PairFit>]) -> Vec<usize> {
    let mut label: Vec<usize> = (0..n).collect();
    // Relabel until stable: n is at most a few hundred.
    loop {
        let mut changed = false;
        for (p, _) in pairs.iter().zip(fits).filter(|(_, f)| f.is_some()) {
            let l = label[p.i].min(label[p.j]);
            for c in [p.i, p.j] {
                if label[c] != l {
                    label[c] = l;
                    changed = true;
                }
            }
        }
        if !changed {
            return label;
        }
    }
}

/// Mean distance between the centres of registered cameras that neighbour in rig order (and
/// were matched as a pair: an arc's ends are not neighbours).
fn mean_spacing(n: usize, pairs: &[PairData], cams: &[Option<BaCamera>]) -> Option<f64> {
    let d: Vec<f64> = pairs
        .iter()
        .filter(|p| rig_distance(n, p.i, p.j) == 1)
        .filter_map(|p| Some((cams[p.i]?.centre() - cams[p.j]?.centre()).norm()))
        .collect();
    (!d.is_empty()).then(|| d.iter().sum::<f64>() / d.len() as f64)
}

/// The gauge, focus, up vector and per-camera statistics.
fn finish(
    views: &[RigView],
    recon: Recon,
    size: (u32, u32),
    dist: Option<[f64; 5]>,
) -> Result<RigCalibration> {
    let n = views.len();
    let mut per_cam = vec![(0usize, 0.0f64); n];
    for o in &recon.obs {
        let c = recon.cams[o.camera].expect("observed cameras are registered");
        if let Some(p) = c.project(&recon.points[o.point]) {
            per_cam[o.camera].0 += 1;
            per_cam[o.camera].1 += (p - o.pixel).norm_squared();
        }
    }
    let mut reasons = recon.reasons.clone();
    for c in 0..n {
        if recon.cams[c].is_some() && per_cam[c].0 < 8 {
            reasons[c].get_or_insert_with(|| {
                format!(
                    "only {} points survived the bundle adjustment",
                    per_cam[c].0
                )
            });
        }
    }
    let reg: Vec<usize> = (0..n)
        .filter(|&c| reasons[c].is_none() && recon.cams[c].is_some())
        .collect();
    if reg.len() < 2 {
        let why: Vec<String> = (0..n)
            .filter_map(|c| {
                reasons[c]
                    .as_ref()
                    .map(|r| format!("{}: {r}", views[c].name))
            })
            .take(3)
            .collect();
        return Err(Error::Rig(format!(
            "could not register the rig: only {} of {n} cameras could be placed ({})",
            reg.len(),
            why.join("; ")
        )));
    }
    let to_camera = |c: usize, b: &BaCamera| Camera {
        name: views[c].name.clone(),
        width: size.0,
        height: size.1,
        intrinsics: Intrinsics {
            fx: b.fx,
            fy: b.fy,
            cx: b.cx,
            cy: b.cy,
            dist: dist.unwrap_or([0.0; 5]),
        },
        pose: Pose {
            rotation: UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(
                b.rotation,
            )),
            translation: b.translation,
        },
    };
    let cams: Vec<Camera> = reg
        .iter()
        .map(|&c| to_camera(c, &recon.cams[c].expect("registered")))
        .collect();
    let focus = calibration_json::focus_point(&cams).unwrap_or_else(|| {
        let s: Vector3<f64> = recon.points.iter().map(|p| p.coords).sum();
        Point3::from(s / recon.points.len().max(1) as f64)
    });
    let up = calibration_json::rig_up(&cams);
    let radius = cams
        .iter()
        .map(|c| (c.pose.centre() - focus).norm())
        .sum::<f64>()
        / cams.len() as f64;
    let first = cams[0].pose.centre() - focus;
    let mut x = first - up * first.dot(&up);
    if x.norm() < 1e-9 * radius {
        x = up.cross(&Vector3::x());
        if x.norm() < 1e-9 {
            x = up.cross(&Vector3::y());
        }
    }
    let x = x.normalize();
    let y = up.cross(&x);
    let q = Matrix3::from_rows(&[x.transpose(), y.transpose(), up.transpose()]);
    let s = 1.0 / radius.max(1e-300);
    let mut out = Vec::new();
    for (&c, cam) in reg.iter().zip(&cams) {
        let r = cam.pose.rotation_matrix();
        let r_new = r * q.transpose();
        let t_new = s * (r * focus.coords + cam.pose.translation);
        let mut cam = cam.clone();
        cam.pose = Pose {
            rotation: UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(
                r_new,
            )),
            translation: t_new,
        };
        let (cnt, sq) = per_cam[c];
        out.push(CalibratedCamera {
            camera: cam,
            rms: (sq / cnt.max(1) as f64).sqrt(),
            inliers: cnt,
            spacing_assumed: recon.spaced[c],
        });
    }
    let (tot_n, tot_sq) = reg.iter().fold((0usize, 0.0), |(a, b), &c| {
        (a + per_cam[c].0, b + per_cam[c].1)
    });
    let points = recon
        .points
        .iter()
        .map(|p| Point3::from(s * (q * (p - focus))))
        .collect();
    Ok(RigCalibration {
        cameras: out,
        unregistered: (0..n)
            .filter(|c| !reg.contains(c))
            .map(|c| Unregistered {
                name: views[c].name.clone(),
                reason: reasons[c]
                    .clone()
                    .unwrap_or_else(|| "not registered".into()),
            })
            .collect(),
        focus: Point3::origin(),
        up: Vector3::z(),
        rms: (tot_sq / tot_n.max(1) as f64).sqrt(),
        points,
        order: views.iter().map(|v| v.name.clone()).collect(),
    })
}

/// Writes the registered cameras as a COLMAP text model in `dir` (cameras.txt, images.txt,
/// points3D.txt with the triangulated points, without tracks). `image_name` maps a camera name
/// to its image's file name.
pub fn write_colmap(
    dir: &std::path::Path,
    rig: &RigCalibration,
    image_name: impl Fn(&str) -> String,
) -> Result<()> {
    let cams: Vec<Camera> = rig.cameras.iter().map(|c| c.camera.clone()).collect();
    let names: Vec<String> = cams.iter().map(|c| image_name(&c.name)).collect();
    crate::calib::colmap::write_text_model(dir, &cams, &names)?;
    use std::fmt::Write as _;
    let mut text = String::from(
        "# 3D point list with one line of data per point:\n\
         #   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n",
    );
    let _ = writeln!(
        text,
        "# Number of points: {}, mean track length: 0",
        rig.points.len()
    );
    for (i, p) in rig.points.iter().enumerate() {
        let _ = writeln!(text, "{} {} {} {} 128 128 128 0", i + 1, p.x, p.y, p.z);
    }
    let path = dir.join("points3D.txt");
    let out = crate::output::AtomicOutput::file(&path)?;
    std::fs::write(out.path(), text).map_err(|e| Error::io(&path, "cannot write", e))?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_turning_about_another_axis_is_dropped() {
        let fit = |axis: Vector3<f64>, deg: f64| {
            Some(PairFit {
                rotation: Rotation3::new(axis.normalize() * deg.to_radians()).into_inner(),
                translation: Vector3::x(),
                inliers: Vec::new(),
                count: 100,
                parallax: 0.1,
            })
        };
        let up = Vector3::y();
        let mut fits = vec![
            fit(up, 30.0),
            fit(Vector3::new(0.05, 1.0, 0.02), 29.0),
            fit(Vector3::new(-0.03, 1.0, 0.0), 31.0),
            // 30 degrees off the rig's axis, and a turn too small to have one.
            fit(Vector3::new(0.58, 1.0, 0.0), 30.0),
            fit(Vector3::x(), 0.5),
            None,
        ];
        drop_off_axis(&[(false, false); 6], &mut fits);
        let kept: Vec<bool> = fits.iter().map(|f| f.is_some()).collect();
        assert_eq!(kept, vec![true, true, true, false, true, false]);
    }

    #[test]
    fn cameras_group_by_fitted_pairs() {
        // A ring of 6 whose pairs 1-2 and 4-5 do not fit: groups {2, 3, 4} and {5, 0, 1}.
        let pair = |i, j| PairData {
            i,
            j,
            kp: Vec::new(),
            kp_b: Vec::new(),
            a: Vec::new(),
            b: Vec::new(),
            identical: false,
            guided: false,
            turned: false,
        };
        let fit = PairFit {
            rotation: Matrix3::identity(),
            translation: Vector3::x(),
            inliers: Vec::new(),
            count: 20,
            parallax: 0.1,
        };
        let pairs: Vec<PairData> = (0..6).map(|i| pair(i, (i + 1) % 6)).collect();
        let fits: Vec<Option<PairFit>> = (0..6)
            .map(|i| (i != 1 && i != 4).then(|| fit.clone()))
            .collect();
        assert_eq!(linked_groups(6, &pairs, &fits), vec![0, 0, 2, 2, 2, 0]);
    }

    #[test]
    fn colmap_model_round_trip() {
        let focus = Point3::origin();
        let cams: Vec<CalibratedCamera> = (0..5)
            .map(|i| {
                let a = 0.4 * i as f64;
                CalibratedCamera {
                    camera: Camera {
                        name: format!("cam{i:02}"),
                        width: 640,
                        height: 360,
                        intrinsics: Intrinsics::centred(640, 360, 700.0),
                        pose: Pose::look_at(
                            Point3::new(a.cos(), a.sin(), 0.1),
                            focus,
                            Vector3::z(),
                        ),
                    },
                    rms: 0.2,
                    inliers: 50,
                    spacing_assumed: false,
                }
            })
            .collect();
        let rig = RigCalibration {
            cameras: cams.clone(),
            unregistered: Vec::new(),
            focus,
            up: Vector3::z(),
            rms: 0.2,
            points: vec![Point3::new(0.1, 0.2, 0.3), Point3::new(-0.1, 0.0, 0.05)],
            order: cams.iter().map(|c| c.camera.name.clone()).collect(),
        };
        let dir = tempfile::tempdir().unwrap();
        write_colmap(dir.path(), &rig, |n| format!("{n}.png")).unwrap();
        let back = crate::calib::colmap::read_text_model(dir.path()).unwrap();
        assert_eq!(back.len(), 5);
        for (a, b) in back.iter().zip(&cams) {
            assert_eq!(a.name, b.camera.name);
            assert!((a.intrinsics.fx - 700.0).abs() < 1e-9);
            assert!((a.intrinsics.cx - b.camera.intrinsics.cx).abs() < 1e-9);
            assert!(a.pose.rotation.angle_to(&b.camera.pose.rotation) < 1e-12);
            assert!((a.pose.translation - b.camera.pose.translation).norm() < 1e-12);
        }
        let pts = std::fs::read_to_string(dir.path().join("points3D.txt")).unwrap();
        assert_eq!(pts.lines().filter(|l| !l.starts_with('#')).count(), 2);
    }

    #[test]
    fn rig_pairs_wrap_on_a_ring_only() {
        assert_eq!(
            rig_pairs(4, Layout::Ring, 2),
            vec![(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (3, 0)]
        );
        assert_eq!(rig_pairs(4, Layout::Arc, 1), vec![(0, 1), (1, 2), (2, 3)]);
    }
}
