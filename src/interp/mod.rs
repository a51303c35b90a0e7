//! View synthesis between two neighbouring cameras: the view a fraction `t` of the way from
//! camera A to camera B.
//!
//! The method is forward splatting with an importance metric, after Niklaus and Liu,
//! "Softmax Splatting for Video Frame Interpolation" (CVPR 2020): both images are splatted
//! towards `t` along their flow (A by `t * F_ab`, B by `(1 - t) * F_ba`), and where several
//! source pixels land on one target pixel, a softmax over an importance metric decides who
//! wins. Our metric needs no learning: brightness constancy (a pixel of A whose flow lands on
//! a different colour in B is probably occluded there) and the forward-backward consistency
//! map of the flow engine. The two splats are then blended by `t` and by how much reliable
//! evidence each brought to the pixel, so a region seen by only one camera comes from that
//! camera; what neither camera covers is filled from its surroundings (push-pull).
//!
//! Flows are computed once per camera pair ([`PairFlow`]) and reused for every `t`. The flow
//! runs on luminance; colour goes in and comes out. `nearest` and `crossfade` are the
//! baselines to beat.
//!
//! Moving a fraction `t` along the flow is exact only for cameras that slide sideways; on a
//! ring it squeezes the view across the ring's axis. Given the pair's cameras
//! ([`PairFlow::with_cameras`]), each match is triangulated instead and splatted where the
//! camera on the arc between them sees it ([`geometry`]). A calibrated pair also gets a
//! second, independent estimate of the same view: a plane sweep from the in-between camera
//! itself, which searches each pixel's depth along the epipolar lines only ([`sweep`], with
//! [`sgm`] smoothing). The view is the mean of the two: the flow errs at occlusions and on
//! repeated texture, the sweep where the depth is ambiguous, and in leave-one-out their mean
//! beat the better of the two alone by 0.1 to 0.8 dB per view. The subject keeps the flow's
//! view: the sweep's half is left out where the front is at the turning axis's depth or
//! nearer, and the pixels placed at the axis's depth give their colour to no swept point at
//! another depth.
//!
//! With an alignment (virtual cameras that look at the subject, [`crate::align`]) the pair is
//! matched in the aligned output frame instead ([`PairFlow::aligned`]): both cameras are
//! first warped to their virtual cameras, where the subject sits still at the centre and the
//! rig's rotation is gone, so the flow is only the parallax about the subject. This is the
//! prewarp of Seitz and Dyer's "View Morphing" (SIGGRAPH 1996), which makes linear motion
//! of image points a physically valid in-between view; the subject at the focus cannot
//! smear, however small it is. The colours still come from the cameras' own pixels: each is
//! splatted from its place in the output along the flow found there, so a synthesized view
//! is resampled once, like the cameras' own frames. With the virtual cameras given
//! ([`PairFlow::with_cameras`], [`PairFlow::synthesize_seen_by`]) the matches are placed
//! where the in-between virtual camera sees them. Given the cameras that took the images as
//! well ([`PairFlow::with_sources`], the quality preset of `render`), the plane sweep looks
//! from the virtual camera through them and its view is averaged in, as for a calibrated
//! pair. Two guards keep the subject, which the sweep's coarse volume can miss, where the
//! flow put it: the flow's view alone where it found the subject at the focus plane, and
//! the cameras' pixels at the focus depth near the focus give their colour to no point at
//! another depth (a small subject would otherwise be painted again beside itself).

mod baselines;
mod blend;
mod depth_order;
pub mod geometry;
mod sgm;
pub(crate) mod splat;
mod sweep;

pub use baselines::{crossfade, nearest};
pub use geometry::PairGeometry;

use crate::camera::Camera;
use crate::error::{Error, Result};
use crate::flow::consistency::{consistency, ConsistencyParams};
use crate::flow::global_search::{compute_flow_searched, GlobalSearch};
use crate::flow::refill::refill;
use crate::flow::warp::{sample_clamped, sample_raw};
use crate::flow::{FlowField, FlowParams};
use crate::frame::{Plane, RgbImage};
use multiversion::multiversion;
use nalgebra::Point3;
use rayon::prelude::*;

/// How to make an in-between view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Bidirectional flow and softmax splatting.
    Flow,
    /// Blend of the two images by `t` (baseline).
    Crossfade,
    /// The nearer camera's image (baseline).
    Nearest,
}

/// How strongly the importance metric punishes a brightness-constancy error (in luma units
/// of 0..1) and an inconsistent flow; weights are exp(-BRIGHTNESS * err - CONSISTENCY * (1 - c)).
const BRIGHTNESS: f32 = 25.0;
/// The plane sweep's share of a calibrated pair's view ([`sweep`]); the flow's is the rest.
const SWEEP_SHARE: f32 = 0.5;
const CONSISTENCY: f32 = 4.0;
/// The forward-backward check of view synthesis: Sundaram's relative tolerance, and an
/// absolute one of 2.8 px (8 px^2, against the flow engine's 0.7 px). A smooth subject (a
/// ball, a plain shirt) has no texture to pin its flow to a pixel, and its two flows
/// disagree by 2-3 px where nothing is occluded; with 0.7 px its pixels weighed 0.02 and the
/// backdrop's, behind it, took their place (holes through the marker). An occlusion's round
/// trip misses by the parallax between the surfaces, tens of pixels. Ring of 24 at 960x540,
/// 15 views, subject box: interp 27.82 -> 29.02 dB, --rig 28.23 -> 29.48, whole frames
/// within 0.03 dB.
const VIEW_CONSISTENCY: ConsistencyParams = ConsistencyParams { a1: 0.01, a2: 8.0 };
/// The still candidate's bar in an aligned pair ([`PairFlow::aligned`]): the share of the
/// initial guess's error below which a patch starts from no motion. Ring of 24 at 960x540,
/// `render --calibration` (15 views, balanced; whole frame / subject box / marker area):
/// before 20.52 / 22.70 / 0.48-1.16; 1.0: 19.86 / 24.98 / 0.87-1.06; 0.7: 20.21 / 25.21 /
/// 0.86-1.07; 0.5: 20.38 / 24.55 / 0.66-1.07.
const STILL_ALIGNED: f32 = 0.7;
/// How far (relative, either way) from the turning axis's depth a calibrated pair's pixel
/// counts as the subject, whose colour the plane sweep gives to no point at another depth
/// ([`sweep::Subject`]). Without it the sweep painted faint copies of the marker beside it
/// (`interp --rig`, 960x540, 15 views, marker area max: ring of 48 1.266 -> 1.097, arc of
/// 12 1.173 -> 1.047, ring of 24 quality 1.156 -> 1.031); 0.15 cost the ring of 48 0.05 dB
/// of whole frame, 0.05 nothing.
const SUBJECT_BAND: f32 = 0.05;
/// How much deeper than the rig's turning axis (relative) a pixel's front may be and still
/// count as the subject or before it, which the plane sweep leaves to the flow.
const SUBJECT_DEPTH: f32 = 0.15;

/// Everything about a camera pair that does not depend on `t`: colour planes, both flows and
/// the splatting weights.
pub struct PairFlow {
    a: [Plane; 3],
    b: [Plane; 3],
    pub fwd: FlowField,
    pub bwd: FlowField,
    /// exp(importance) per pixel of A and of B.
    weight_a: Plane,
    weight_b: Plane,
    /// The share of both images' pixels whose flows pass the forward-backward check.
    consistent: f32,
    /// For a pair matched in an aligned output: where the cameras' pixels go.
    placed: Option<Placed>,
    /// For a calibrated pair: the cameras, whose in-between camera sees the matches, and the
    /// matches of A's and of B's pixels triangulated.
    geometry: Option<(PairGeometry, [geometry::Triangulated; 2])>,
    /// For an aligned pair: the cameras that took `a` and `b`, so that the plane sweep can
    /// look through them ([`PairFlow::with_sources`]).
    sources: Option<Sources>,
    /// The depth order from the flows ([`depth_order`]): each pixel's nearness, of A and
    /// of B; `None` where the pair shows none. A calibrated pair's depths replace it.
    nearness: Option<[Vec<f32>; 2]>,
}

/// The cameras that took an aligned pair's images, the point the orbit is locked on, and
/// each camera's pixels that show the subject: at the focus depth, near the focus. The
/// plane sweep takes their colours only for points at about that depth.
struct Sources {
    cameras: [Camera; 2],
    focus: Point3<f64>,
    subject: [Vec<bool>; 2],
}

/// Where each pixel of A and of B sits in the aligned output (`base`), the flow found there
/// (`motion`), the output's size and the splat kernel's radius.
struct Placed {
    out: (usize, usize),
    radius: f32,
    base_a: [Vec<f32>; 2],
    motion_a: [Vec<f32>; 2],
    base_b: [Vec<f32>; 2],
    motion_b: [Vec<f32>; 2],
    /// Output pixels that either flow gave to the focus plane ([`focus_plane`]): the
    /// subject, which the plane sweep's coarse volume may blur away.
    still: Vec<bool>,
    /// Output pixels at about the focus plane's depth in A's frame and in B's: the two
    /// images agree there without moving, or the flow there is small.
    at_focus: [Vec<bool>; 2],
}

/// Largest mean absolute luma difference (0..1) over a 5x5 window between the two aligned
/// images at one place for it to count as being at the focus plane.
const FOCUS_AGREEMENT: f32 = 0.02;
/// Largest flow (either component, output pixels) of a pixel at about the focus plane.
const FOCUS_MOTION: f32 = 1.5;

/// The output pixels where the two aligned images agree without moving: at (or about) the
/// focus plane's depth. A uniform patch agrees too; that only withholds its colours from
/// points at other depths, which a uniform patch cannot tell apart anyway.
fn at_focus(la: &Plane, lb: &Plane) -> Vec<bool> {
    let (w, h) = (la.width, la.height);
    let diff: Vec<f32> = la
        .data
        .iter()
        .zip(&lb.data)
        .map(|(a, b)| (a - b).abs())
        .collect();
    let mut out = vec![false; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let (y0, y1) = (
            y.saturating_sub(WINDOW as usize),
            (y + WINDOW as usize).min(h - 1),
        );
        for (x, o) in row.iter_mut().enumerate() {
            let (x0, x1) = (
                x.saturating_sub(WINDOW as usize),
                (x + WINDOW as usize).min(w - 1),
            );
            let mut sum = 0.0;
            for yy in y0..=y1 {
                sum += diff[yy * w + x0..=yy * w + x1].iter().sum::<f32>();
            }
            *o = sum < FOCUS_AGREEMENT * ((y1 - y0 + 1) * (x1 - x0 + 1)) as f32;
        }
    });
    out
}

/// Fraction of the shorter image side, about the focus, where a camera's pixels at the
/// focus depth count as the subject.
const SUBJECT_RADIUS: f64 = 0.15;

/// Keeps the marks of `mask` (pixels of camera `cam`) near where the camera sees `focus`:
/// the subject is there; elsewhere, things at about its depth are scenery like any other.
fn near_focus(mask: &mut [bool], cam: &Camera, focus: &Point3<f64>) {
    let w = cam.width as usize;
    let near = focus_disc(cam, focus);
    mask.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, m) in row.iter_mut().enumerate() {
            *m &= near(x, y);
        }
    });
}

/// Whether pixel (x, y) of camera `cam` is within `SUBJECT_RADIUS` of where it sees `focus`
/// (never, for a focus behind it).
fn focus_disc(cam: &Camera, focus: &Point3<f64>) -> impl Fn(usize, usize) -> bool + Sync {
    let r = SUBJECT_RADIUS * cam.width.min(cam.height) as f64;
    let c = cam.project(focus);
    move |x, y| c.is_some_and(|c| (x as f64 - c.x).hypot(y as f64 - c.y) <= r)
}

/// How far (output pixels) a pixel at the focus depth reaches: the subject's edges, where
/// the two images disagree at any depth, are the subject's too.
const SUBJECT_MARGIN: usize = 4;

/// Which camera pixels land (at `base`, in a `w`-wide output) within `SUBJECT_MARGIN` of
/// an `at_focus` pixel.
fn subject_pixels(base: &[Vec<f32>; 2], at_focus: &[bool], w: usize) -> Vec<bool> {
    let grown = dilate(at_focus, w, SUBJECT_MARGIN);
    let h = grown.len() / w.max(1);
    base[0]
        .par_iter()
        .zip(&base[1])
        .map(|(&x, &y)| {
            let (x, y) = (x.round(), y.round());
            // NaN (no place) fails these too.
            x >= 0.0
                && y >= 0.0
                && (x as usize) < w
                && (y as usize) < h
                && grown[y as usize * w + x as usize]
        })
        .collect()
}

/// `mask` (`w` wide) grown by `r` pixels each way (a square), rows then columns.
fn dilate(mask: &[bool], w: usize, r: usize) -> Vec<bool> {
    let h = mask.len() / w.max(1);
    let mut rows = vec![false; mask.len()];
    rows.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let row = &mask[y * w..(y + 1) * w];
        for (x, o) in out.iter_mut().enumerate() {
            *o = row[x.saturating_sub(r)..=(x + r).min(w - 1)].contains(&true);
        }
    });
    let mut out = vec![false; mask.len()];
    out.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
        for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
            for (o, &m) in o.iter_mut().zip(&rows[yy * w..(yy + 1) * w]) {
                *o |= m;
            }
        }
    });
    out
}

/// A map from a camera's pixels (distorted) to the aligned output's, `None` where it has none.
pub type ToOutput<'a> = &'a (dyn Fn(f64, f64) -> Option<(f64, f64)> + Sync);

impl PairFlow {
    /// Computes both flows (in parallel, each seeded by the large-displacement search) and the
    /// importance weights.
    pub fn compute(a: &RgbImage, b: &RgbImage, params: &FlowParams) -> Result<PairFlow> {
        if (a.width, a.height) != (b.width, b.height) {
            return Err(Error::usage(format!(
                "the two views are {}x{} and {}x{}; view synthesis needs images of one size",
                a.width, a.height, b.width, b.height
            )));
        }
        let (la, lb) = (Plane::luma(a), Plane::luma(b));
        // Each patch also tries its solved neighbours' flow (the DIS paper's spatial
        // propagation, off in the flow engine's presets): on real wide-baseline views a
        // patch's own start is often wrong where a neighbour's is right. Temple leave-one-out
        // (23 degrees): 19.32 -> 19.82 dB (0003-0005), 17.39 -> 18.67 dB (0007-0009);
        // generated rings at 1280x720: ring of 24 16.49 -> 16.29 dB, ring of 48 20.03 ->
        // 20.09 dB (SSIM 0.695 -> 0.711). Not in an aligned pair ([`PairFlow::aligned`]),
        // where it spread the background's motion over the marker of tests/align.rs's ring
        // (one synthesized frame kept 16 % of the disc).
        let params = &FlowParams {
            spatial_propagation: true,
            ..subject_flow(params, 1.0)
        };
        let (fwd, bwd) = flows(&la, &lb, params, &GlobalSearch::default(), true)?;
        Self::from_flows(a, b, fwd, bwd)
    }

    /// Uses given flows (for instance ground truth) instead of computing them.
    pub fn from_flows(
        a: &RgbImage,
        b: &RgbImage,
        fwd: FlowField,
        bwd: FlowField,
    ) -> Result<PairFlow> {
        let (a, b) = (Plane::channels(a), Plane::channels(b));
        let (weight_a, weight_b, consistent) = importances(&a, &b, &fwd, &bwd)?;
        let nearness = depth_order::flow_order(&fwd).map(|d| {
            let (na, nb) = rayon::join(
                || depth_order::nearness(&fwd, d),
                || depth_order::nearness(&bwd, (-d.0, -d.1)),
            );
            [na, nb]
        });
        Ok(PairFlow {
            a,
            b,
            fwd,
            bwd,
            weight_a,
            weight_b,
            consistent,
            placed: None,
            geometry: None,
            sources: None,
            nearness,
        })
    }

    /// Makes the views of a calibrated pair from its cameras (`a` at 0, `b` at 1): each
    /// pixel goes where the in-between camera sees its triangulated match (see
    /// [`geometry`]), not a fraction of the way along its flow.
    pub fn with_cameras(mut self, a: &Camera, b: &Camera) -> Self {
        let g = PairGeometry::new(a, b);
        let [ma, mb] = self.motions();
        let tri = rayon::join(|| g.triangulate(&ma, true), || g.triangulate(&mb, false));
        self.geometry = Some((g, [tri.0, tri.1]));
        self
    }

    /// Each pixel of A and of B: its place (in an aligned pair's output, or the pixel
    /// itself) and the displacement to its match.
    fn motions(&self) -> [splat::Motion<'_>; 2] {
        match &self.placed {
            Some(p) => {
                [(&p.base_a, &p.motion_a), (&p.base_b, &p.motion_b)].map(|(b, m)| splat::Motion {
                    width: self.weight_a.width,
                    height: self.weight_a.height,
                    base: Some((&b[0], &b[1])),
                    u: &m[0],
                    v: &m[1],
                })
            }
            None => [&self.fwd, &self.bwd].map(splat::Motion::of),
        }
    }

    /// A pair matched in an aligned output: `a` and `b` are the cameras' images, `warped_a`
    /// and `warped_b` the same resampled into their virtual cameras (black where a camera
    /// has no image), `to_a` and `to_b` the maps from the cameras' pixels into the output.
    /// The views it synthesizes are output frames.
    pub fn aligned(
        (a, warped_a, to_a): (&RgbImage, &RgbImage, ToOutput),
        (b, warped_b, to_b): (&RgbImage, &RgbImage, ToOutput),
        params: &FlowParams,
    ) -> Result<PairFlow> {
        if (a.width, a.height) != (b.width, b.height)
            || (warped_a.width, warped_a.height) != (warped_b.width, warped_b.height)
        {
            return Err(Error::usage(
                "the two views differ in size; view synthesis needs images of one size",
            ));
        }
        let (la, lb) = (Plane::luma(warped_a), Plane::luma(warped_b));
        let (ca, cb) = (Plane::channels(warped_a), Plane::channels(warped_b));
        // The rig's rotation is gone in the aligned frame: what is left is parallax about
        // the subject, and the narrower search of earlier versions makes fewer false matches
        // there (with the default's wider one the 30-degree ring of tests/align.rs put the
        // marker 1.4% off in one synthesized frame).
        let search = GlobalSearch {
            range_x: 0.45,
            ..GlobalSearch::default()
        };
        // The still start must beat the initial guess clearly here (0.7 of its error): the
        // focus-plane candidate below already gives the subject no motion, and a weakly
        // textured backdrop patch matches no motion too in this frame.
        let params = &subject_flow(params, STILL_ALIGNED);
        let (mut fwd, mut bwd) = flows(&la, &lb, params, &search, false)?;
        let (still_a, still_b) = rayon::join(
            || focus_plane(&ca, &cb, &mut fwd),
            || focus_plane(&cb, &ca, &mut bwd),
        );
        let still: Vec<bool> = still_a.iter().zip(&still_b).map(|(a, b)| a | b).collect();
        let (imp_a, imp_b, consistent) = importances(&ca, &cb, &fwd, &bwd)?;
        let (w, h) = (a.width as usize, a.height as usize);
        let (base_a, motion_a, weight_a) = place(w, h, to_a, &fwd, &imp_a);
        let (base_b, motion_b, weight_b) = place(w, h, to_b, &bwd, &imp_b);
        let agree = at_focus(&la, &lb);
        let at_focus = [&fwd, &bwd].map(|flow| {
            (0..agree.len())
                .map(|i| {
                    agree[i] || (flow.u[i].abs() < FOCUS_MOTION && flow.v[i].abs() < FOCUS_MOTION)
                })
                .collect()
        });
        let radius = magnification(w, h, to_a).max(magnification(w, h, to_b));
        // The calibration's depth order applies ([`PairFlow::with_cameras`]); no order from
        // the flow and no refill yet (benches/README, 2026-12-07: the refill moved a
        // synthesized frame's marker 7-9 px off centre on tests/align.rs's mis-aimed arc).
        let nearness = None;
        Ok(PairFlow {
            a: Plane::channels(a),
            b: Plane::channels(b),
            fwd,
            bwd,
            weight_a,
            weight_b,
            consistent,
            placed: Some(Placed {
                out: (warped_a.width as usize, warped_a.height as usize),
                radius: radius.max(1.0) as f32,
                base_a,
                motion_a,
                base_b,
                motion_b,
                still,
                at_focus,
            }),
            geometry: None,
            sources: None,
            nearness,
        })
    }

    /// How well the pair's two flows agree: the share of both images' pixels whose match
    /// leads back to them (forward-backward check). Near 1 where the cameras see one scene
    /// from nearby; low where they are too far apart for the flow (or see different things).
    pub fn confidence(&self) -> f32 {
        self.consistent
    }

    /// The view at `t` (0 = A, 1 = B). For a pair given its cameras
    /// ([`PairFlow::with_cameras`]) it is what the camera on the arc between them sees.
    pub fn synthesize(&self, t: f32) -> RgbImage {
        let t = t.clamp(0.0, 1.0);
        let mid = match &self.geometry {
            Some((g, _)) if t > 0.0 && t < 1.0 => Some(g.camera(t as f64)),
            _ => None,
        };
        self.render(t, mid.as_ref())
    }

    /// The view at `t` as camera `mid` sees it, for a pair given its cameras (the virtual
    /// cameras, for an aligned pair). Without cameras, the same as [`PairFlow::synthesize`].
    pub fn synthesize_seen_by(&self, t: f32, mid: &Camera) -> RgbImage {
        let t = t.clamp(0.0, 1.0);
        let mid = (t > 0.0 && t < 1.0).then_some(mid);
        self.render(t, mid)
    }

    /// An aligned pair's views also get the plane sweep ([`sweep`]), looking through the
    /// cameras that took the images (`a` and `b`, as calibrated) from the virtual camera of
    /// each view; `focus` is the point the orbit is locked on. Needs
    /// [`PairFlow::with_cameras`] too.
    pub fn with_sources(mut self, a: &Camera, b: &Camera, focus: &Point3<f64>) -> Self {
        let Some(p) = &self.placed else {
            return self;
        };
        let subject = [
            (&p.base_a, &p.at_focus[0], a),
            (&p.base_b, &p.at_focus[1], b),
        ]
        .map(|(base, at_focus, cam)| {
            let mut mask = subject_pixels(base, at_focus, p.out.0);
            near_focus(&mut mask, cam, focus);
            mask
        });
        self.sources = Some(Sources {
            cameras: [a.clone(), b.clone()],
            focus: *focus,
            subject,
        });
        self
    }

    /// The plane-sweep view of a calibrated pair (of an aligned one only when given its
    /// source cameras), its depths searched over the range of the triangulated matches;
    /// `near` is each pixel's nearness in `mid`, for an unaligned calibrated pair.
    fn sweep(&self, t: f32, mid: Option<&Camera>, near: Option<[&[f32]; 2]>) -> Option<[Plane; 3]> {
        let (Some((g, [tri_a, tri_b])), Some(mid)) = (&self.geometry, mid) else {
            return None;
        };
        // A calibrated pair's pixels at the turning axis's depth (the subject, as the
        // calibration placed them) give their colour to no point at another depth.
        let masks: Option<[Vec<bool>; 2]> = match (near, g.axis_nearness(mid)) {
            (Some(near), Some(axis)) => {
                let (lo, hi) = (axis / (1.0 + SUBJECT_BAND), axis * (1.0 + SUBJECT_BAND));
                Some(near.map(|n| n.iter().map(|&v| v >= lo && v <= hi).collect()))
            }
            _ => None,
        };
        let (ca, cb, subject) = match (&self.placed, &self.sources) {
            (None, _) => {
                let (ca, cb) = g.cameras();
                let z = mid.pose.to_camera(&g.focus()).z;
                let subject = masks
                    .as_ref()
                    .filter(|_| z > 0.0)
                    .map(|[ma, mb]| sweep::Subject {
                        pixels: [&ma[..], &mb[..]],
                        inv_depth: 1.0 / z,
                    });
                (ca, cb, subject)
            }
            (Some(p), Some(_)) if (mid.width as usize, mid.height as usize) != p.out => {
                return None;
            }
            (Some(_), Some(src)) => {
                let z = mid.pose.to_camera(&src.focus).z;
                let subject = sweep::Subject {
                    pixels: [&src.subject[0], &src.subject[1]],
                    inv_depth: 1.0 / z,
                };
                let [ca, cb] = &src.cameras;
                (ca, cb, (z > 0.0).then_some(subject))
            }
            (Some(_), None) => return None,
        };
        let fits = |c: &Camera, p: &[Plane; 3]| {
            (c.width, c.height) == (p[0].width as u32, p[0].height as u32)
        };
        if !fits(ca, &self.a) || !fits(cb, &self.b) {
            return None;
        }
        let [ma, mb] = self.motions();
        let mut inv = g.inverse_depths(&ma, tri_a, true, mid);
        inv.extend(g.inverse_depths(&mb, tri_b, false, mid));
        if inv.len() < 100 {
            return None;
        }
        inv.sort_by(f64::total_cmp);
        // 1% to 99%, and a tenth more each way: past a few wild matches, yet with room.
        let q = |f: f64| inv[((inv.len() - 1) as f64 * f) as usize];
        let (far, near) = (q(0.01), q(0.99));
        let margin = (near - far) * 0.1;
        let range = (near + margin, (far - margin).max(0.0));
        // An aligned pair makes every view of an orbit; a lone pair one or a few.
        let effort = match self.placed {
            Some(_) => sweep::Effort::ORBIT,
            None => sweep::Effort::VIEW,
        };
        Some(sweep::render(
            (&self.a, ca),
            (&self.b, cb),
            mid,
            t,
            range,
            subject,
            effort,
        ))
    }

    fn render(&self, t: f32, mid: Option<&Camera>) -> RgbImage {
        let (size, radius) = match &self.placed {
            Some(p) => (p.out, p.radius),
            None => {
                // The ends are the cameras themselves, exactly.
                if t == 0.0 {
                    return Plane::to_rgb(&self.a);
                }
                if t == 1.0 {
                    return Plane::to_rgb(&self.b);
                }
                ((self.fwd.width, self.fwd.height), 1.0)
            }
        };
        let [ma, mb] = self.motions();
        // Both cameras' pixels splatted in one depth order: behind the front of either, a
        // pixel gives way (the subject over the backdrop it hides in this view).
        let splats = |ma: &splat::Motion,
                      mb: &splat::Motion,
                      ta: f32,
                      tb: f32,
                      near: Option<[&[f32]; 2]>| {
            let front = near.map(|[na, nb]| {
                let (fa, fb) = rayon::join(
                    || splat::front(ma, ta, &self.weight_a, na, size, radius),
                    || splat::front(mb, tb, &self.weight_b, nb, size, radius),
                );
                let front: Vec<f32> = fa.iter().zip(&fb).map(|(a, b)| a.max(*b)).collect();
                splat::closed(&front, size.0)
            });
            let depth = |n: usize| {
                near.zip(front.as_deref())
                    .map(|(near, front)| splat::Depth {
                        nearness: near[n],
                        front,
                    })
            };
            let (sa, sb) = rayon::join(
                || splat::splat(&self.a, ma, ta, &self.weight_a, size, radius, depth(0)),
                || splat::splat(&self.b, mb, tb, &self.weight_b, size, radius, depth(1)),
            );
            (sa, sb, front)
        };
        let (sa, sb, front, placed_near) = match (&self.geometry, mid) {
            (Some((g, [tri_a, tri_b])), Some(mid)) => {
                // Each pixel goes where `mid` sees its match: a fixed place, no motion.
                let (ta, tb) = rayon::join(
                    || g.targets(&ma, tri_a, true, t, mid),
                    || g.targets(&mb, tri_b, false, t, mid),
                );
                // Splatted at t = 0, so the motion is never read (any finite array does).
                let [ma, mb] = [&ta, &tb].map(|p| splat::Motion {
                    base: Some((&p[0], &p[1])),
                    u: &p[0],
                    v: &p[1],
                    ..ma
                });
                // The calibration's depth order.
                let (sa, sb, front) = splats(&ma, &mb, 0.0, 0.0, Some([&ta[2][..], &tb[2][..]]));
                let [_, _, na] = ta;
                let [_, _, nb] = tb;
                (sa, sb, front, Some([na, nb]))
            }
            _ => {
                let near = self.nearness.as_ref().map(|[a, b]| [&a[..], &b[..]]);
                let (sa, sb, front) = splats(&ma, &mb, t, 1.0 - t, near);
                (sa, sb, front, None)
            }
        };
        let mut out = blend::blend(&sa, &sb, t);
        let near = placed_near.as_ref().map(|[a, b]| [&a[..], &b[..]]);
        if let Some(mut swept) = self.sweep(t, mid, near) {
            if let (Some(p), Some(src), Some(mid)) = (&self.placed, &self.sources, mid) {
                // The subject the orbit is locked on, where the flow found it at the focus
                // plane: the flow's view alone (the sweep's coarse volume can smooth a small
                // subject's depth into its surroundings', and move it).
                let near = focus_disc(mid, &src.focus);
                let w = p.out.0;
                for (i, _) in p
                    .still
                    .iter()
                    .enumerate()
                    .filter(|&(i, &s)| s && near(i % w, i / w))
                {
                    for s in &mut swept {
                        s.data[i] = f32::NAN;
                    }
                }
            }
            // The subject and everything before it, as the flow placed them: the flow's view
            // alone. The sweep's coarse volume smooths a small near object's depth into the
            // backdrop's, and its half of the mean showed the subject as a ghost (ring of
            // 24 at 960x540 with the true cameras: the marker's area 0.55 of the truth).
            let axis = match (&self.geometry, mid, &self.placed) {
                (Some((g, _)), Some(mid), None) => g.axis_nearness(mid),
                _ => None,
            };
            if let (Some(axis), Some(front)) = (axis, &front) {
                let near = axis / (1.0 + SUBJECT_DEPTH);
                for (i, _) in front.iter().enumerate().filter(|&(_, &f)| f >= near) {
                    for s in &mut swept {
                        s.data[i] = f32::NAN;
                    }
                }
            }
            // Two estimates of one view, with errors of different kinds (the flow's at
            // occlusions and repeated texture off the epipolar line, the sweep's where the
            // depth is ambiguous): their mean. Leave-one-out (the temple, rings at 640x360)
            // put it 0.1 to 0.8 dB above the better alone per view; see benches/README.
            for (o, s) in out.iter_mut().zip(&swept) {
                for (o, s) in o.data.iter_mut().zip(&s.data) {
                    if s.is_finite() {
                        *o = (1.0 - SWEEP_SHARE) * *o + SWEEP_SHARE * s;
                    }
                }
            }
        }
        Plane::to_rgb(&out)
    }
}

/// Half the side of the window that compares the flow with the focus plane.
const WINDOW: i64 = 2;
/// How much better (in summed absolute colour difference) the focus plane must explain a
/// pixel's window than the flow does to replace it. On colour a flow that slid the subject
/// onto the backdrop is told apart from no motion, so a small margin is safe (with luma it
/// was 0.6; the marker's rim kept the backdrop's motion). `render --calibration`, ring of 24
/// at 960x540, 15 views (whole / subject box / marker area), colour importance and
/// consistency included: 0.7 20.23 / 26.25 / 0.98-1.05, 0.8 20.20 / 26.14 / 0.99-1.05, 0.9
/// 20.18 / 25.98 / 0.99-1.06, 1.0 20.15 / 25.76 / 1.00-1.05; the jittered orbit of
/// benches/README moved the marker up to 3.6 px between frames at 0.7, 3.2 px at 0.8, 0.8 px
/// at 0.9 and 0.7 px at 1.0.
const FOCUS_PLANE_MARGIN: f32 = 0.9;

/// The focus-plane candidate of an aligned pair. In the aligned output both cameras see the
/// focus point at the centre and everything at its depth nearly in place, so "no motion" is a
/// second hypothesis for every pixel besides the flow: where it explains the pixel's
/// neighbourhood (5x5, colour) better, it wins. This is a two-label plane sweep; it
/// saves small things at the subject (the marker, a ball, a hand) that the coarse levels of
/// the flow give the background's motion.
fn focus_plane(src: &[Plane; 3], dst: &[Plane; 3], flow: &mut FlowField) -> Vec<bool> {
    let w = src[0].width;
    let mut still = vec![false; flow.u.len()];
    let (fu, fv) = (&mut flow.u, &mut flow.v);
    fu.par_chunks_mut(w)
        .zip(fv.par_chunks_mut(w))
        .zip(still.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, ((u, v), s))| focus_plane_row(src, dst, y, u, v, s));
    still
}

/// Row `y` of [`focus_plane`], compiled for the best SIMD level of the CPU; `still` marks
/// the pixels given to the focus plane.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn focus_plane_row(
    src: &[Plane; 3],
    dst: &[Plane; 3],
    y: usize,
    us: &mut [f32],
    vs: &mut [f32],
    still_px: &mut [bool],
) {
    let (w, h) = (src[0].width as i64, src[0].height as i64);
    let at =
        |p: &Plane, x: i64, y: i64| p.data[(y.clamp(0, h - 1) * w + x.clamp(0, w - 1)) as usize];
    for x in 0..w as usize {
        let (u, v) = (us[x], vs[x]);
        if !FlowField::is_known(u, v) {
            continue;
        }
        if u.abs() < 0.5 && v.abs() < 0.5 {
            // At the focus plane already.
            still_px[x] = true;
            continue;
        }
        let (mut still, mut moved) = (0.0f32, 0.0f32);
        for dy in -WINDOW..=WINDOW {
            for dx in -WINDOW..=WINDOW {
                let (sx, sy) = (x as i64 + dx, y as i64 + dy);
                for (src, dst) in src.iter().zip(dst) {
                    let a = at(src, sx, sy);
                    still += (a - at(dst, sx, sy)).abs();
                    moved += (a - sample_clamped(dst, sx as f32 + u, sy as f32 + v)).abs();
                }
            }
        }
        if still < FOCUS_PLANE_MARGIN * moved {
            us[x] = 0.0;
            vs[x] = 0.0;
            still_px[x] = true;
        }
    }
}

/// For each pixel of a `w` x `h` camera: its place in the output (NaN where it has none), the
/// output flow there (NaN where unknown) and its importance there.
fn place(
    w: usize,
    h: usize,
    to_out: ToOutput,
    flow: &FlowField,
    importance: &Plane,
) -> ([Vec<f32>; 2], [Vec<f32>; 2], Plane) {
    let n = w * h;
    let (mut bx, mut by) = (vec![f32::NAN; n], vec![f32::NAN; n]);
    let (mut mu, mut mv) = (vec![f32::NAN; n], vec![f32::NAN; n]);
    let mut weight = Plane::new(w, h);
    let (fw, fh) = (flow.width, flow.height);
    bx.par_chunks_mut(w)
        .zip(by.par_chunks_mut(w))
        .zip(mu.par_chunks_mut(w))
        .zip(mv.par_chunks_mut(w))
        .zip(weight.data.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, ((((bx, by), mu), mv), wt))| {
            for x in 0..w {
                let Some((ox, oy)) = to_out(x as f64, y as f64) else {
                    continue;
                };
                let (ox, oy) = (ox as f32, oy as f32);
                // The flow at that place, unless a neighbour of it is unknown.
                let (cx, cy) = (
                    ox.clamp(0.0, (fw - 1) as f32),
                    oy.clamp(0.0, (fh - 1) as f32),
                );
                let (x0, y0) = (cx as usize, cy as usize);
                let known = [(x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)]
                    .iter()
                    .all(|&(i, j)| {
                        let k = j.min(fh - 1) * fw + i.min(fw - 1);
                        FlowField::is_known(flow.u[k], flow.v[k])
                    });
                if !known {
                    continue;
                }
                bx[x] = ox;
                by[x] = oy;
                mu[x] = sample_raw(&flow.u, fw, fh, ox, oy);
                mv[x] = sample_raw(&flow.v, fw, fh, ox, oy);
                wt[x] = sample_clamped(importance, ox, oy);
            }
        });
    ([bx, by], [mu, mv], weight)
}

/// How many output pixels one camera pixel spans at the image centre (the larger of the two
/// directions): the splat kernel's radius that leaves no gaps.
fn magnification(w: usize, h: usize, to_out: ToOutput) -> f64 {
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let step = |dx: f64, dy: f64| match (to_out(cx, cy), to_out(cx + dx, cy + dy)) {
        (Some(p), Some(q)) => ((q.0 - p.0).powi(2) + (q.1 - p.1).powi(2)).sqrt(),
        _ => 1.0,
    };
    step(1.0, 0.0).max(step(0.0, 1.0))
}

/// The flow parameters of view synthesis: the preset's, with the subject kept. Cameras that
/// converge on a subject see it hardly move while the scene behind moves far: each patch
/// also tries no motion where it explains the patch with less than `still` of the initial
/// guess's error ([`FlowParams::still_candidate`]), and the flow is computed down to half
/// resolution at least, since a quarter-resolution flow smears a small subject's edges by
/// the backdrop's motion (ring of 24 at 960x540, balanced: subject pixels within 3 px of the
/// true flow 18% -> 67%).
fn subject_flow(params: &FlowParams, still: f32) -> FlowParams {
    FlowParams {
        still_candidate: still,
        finest_scale: params.finest_scale.min(1),
        ..params.clone()
    }
}

/// Both flows between two lumas, in parallel, each seeded by the large-displacement search;
/// with `refilled`, their inconsistent pixels refilled ([`refill`]).
fn flows(
    la: &Plane,
    lb: &Plane,
    params: &FlowParams,
    search: &GlobalSearch,
    refilled: bool,
) -> Result<(FlowField, FlowField)> {
    let (fwd, bwd) = rayon::join(
        || compute_flow_searched(la, lb, params, search),
        || compute_flow_searched(lb, la, params, search),
    );
    let (mut fwd, mut bwd) = (fwd?, bwd?);
    if !refilled {
        return Ok((fwd, bwd));
    }
    // The bands of blended motion along the edges (the top of a small subject before a far
    // backdrop) take their side's motion ([`refill`]).
    let ca = consistency(&fwd, &bwd, ConsistencyParams::default())?;
    let cb = consistency(&bwd, &fwd, ConsistencyParams::default())?;
    rayon::join(
        || refill(la, lb, &mut fwd, &ca),
        || refill(lb, la, &mut bwd, &cb),
    );
    Ok((fwd, bwd))
}

/// The splatting weights of both images (colour planes; see [`importance`]), with the
/// forward-backward consistency of the two flows, and the share of pixels that pass it.
fn importances(
    a: &[Plane; 3],
    b: &[Plane; 3],
    fwd: &FlowField,
    bwd: &FlowField,
) -> Result<(Plane, Plane, f32)> {
    let ca = consistency(fwd, bwd, VIEW_CONSISTENCY)?;
    let cb = consistency(bwd, fwd, VIEW_CONSISTENCY)?;
    let passed = ca
        .reliable
        .iter()
        .chain(&cb.reliable)
        .filter(|&&r| r)
        .count();
    let share = passed as f32 / (ca.reliable.len() + cb.reliable.len()).max(1) as f32;
    Ok((
        importance(a, b, fwd, &ca.confidence),
        importance(b, a, bwd, &cb.confidence),
        share,
    ))
}

/// exp(importance) of each pixel of `src`, whose flow to `dst` is `flow`. Brightness
/// constancy is checked on colour, not on the luma the flow ran on: a red subject and the
/// dark wall beside it can have one luma, and a flow that slid the subject's rim onto the
/// wall then passed as reliable (ring of 48: red ghosts of the marker beside it, its area
/// 1.27 of the truth).
fn importance(src: &[Plane; 3], dst: &[Plane; 3], flow: &FlowField, confidence: &Plane) -> Plane {
    let w = src[0].width;
    let mut out = Plane::new(w, src[0].height);
    out.data
        .par_chunks_mut(w)
        .enumerate()
        .for_each(|(y, row)| importance_row(src, dst, flow, confidence, y, row));
    out
}

/// Row `y` of [`importance`], compiled for the best SIMD level of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn importance_row(
    src: &[Plane; 3],
    dst: &[Plane; 3],
    flow: &FlowField,
    confidence: &Plane,
    y: usize,
    row: &mut [f32],
) {
    let w = src[0].width;
    for (x, o) in row.iter_mut().enumerate() {
        let i = y * w + x;
        let (u, v) = (flow.u[i], flow.v[i]);
        if !FlowField::is_known(u, v) {
            *o = 0.0;
            continue;
        }
        let (px, py) = (x as f32 + u, y as f32 + v);
        // The mean over the channels: the luma difference's scale for a grey pixel.
        let err = src
            .iter()
            .zip(dst)
            .map(|(s, d)| (s.data[i] - sample_clamped(d, px, py)).abs())
            .sum::<f32>()
            / 3.0;
        let z = -BRIGHTNESS * err - CONSISTENCY * (1.0 - confidence.data[i]);
        *o = z.max(-30.0).exp();
    }
}

/// One in-between view with any method (flows computed here; use [`PairFlow`] to reuse them
/// for several `t`).
pub fn interpolate(
    a: &RgbImage,
    b: &RgbImage,
    t: f32,
    method: Method,
    params: &FlowParams,
) -> Result<RgbImage> {
    if (a.width, a.height) != (b.width, b.height) {
        return Err(Error::usage(format!(
            "the two views are {}x{} and {}x{}; view synthesis needs images of one size",
            a.width, a.height, b.width, b.height
        )));
    }
    Ok(match method {
        Method::Flow => PairFlow::compute(a, b, params)?.synthesize(t),
        Method::Crossfade => crossfade(a, b, t),
        Method::Nearest => nearest(a, b, t),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::psnr;
    use crate::synth::truth_flow::truth_flow;
    use crate::synth::{SampleRig, SampleSpec};

    fn rig(cameras: usize) -> SampleRig {
        SampleRig::new(&SampleSpec {
            cameras,
            width: 320,
            height: 180,
            frames: 3,
            ..SampleSpec::default()
        })
        .unwrap()
    }

    /// A pair of neighbouring sample cameras with exact flows, and the true middle view.
    fn exact_pair(s: &SampleRig) -> (RgbImage, RgbImage, PairFlow, RgbImage) {
        let (ca, cb) = (&s.rig().cameras[0], &s.rig().cameras[1]);
        let (a, b) = (s.render_view(ca, 1), s.render_view(cb, 1));
        let fwd = truth_flow(s, ca, cb, 1).flow;
        let bwd = truth_flow(s, cb, ca, 1).flow;
        let mid_cam = crate::camera::interpolate(ca, cb, 0.5, &s.rig().focus, &s.rig().up);
        let truth = s.render_view(&mid_cam, 1);
        let pair = PairFlow::from_flows(&a, &b, fwd, bwd).unwrap();
        (a, b, pair, truth)
    }

    #[test]
    fn ends_reproduce_the_cameras() {
        let s = rig(24);
        let (a, b, pair, _) = exact_pair(&s);
        assert_eq!(pair.synthesize(0.0), a);
        assert_eq!(pair.synthesize(1.0), b);
    }

    #[test]
    fn exact_flows_synthesize_the_true_middle_view() {
        let s = rig(24);
        let (a, b, pair, truth) = exact_pair(&s);
        let ours = psnr(&pair.synthesize(0.5), &truth);
        let fade = psnr(&crossfade(&a, &b, 0.5), &truth);
        let near = psnr(&nearest(&a, &b, 0.5), &truth);
        // Measured 2026-11-29: see the assertion message when it fails.
        assert!(
            ours > fade + 4.0 && ours > near + 4.0,
            "splat {ours:.2} dB, crossfade {fade:.2}, nearest {near:.2}"
        );
        assert!(ours > 22.0, "splat {ours:.2} dB");
    }

    #[test]
    fn calibrated_pair_places_matches_where_the_middle_camera_sees_them() {
        // Cameras 30 degrees apart on a ring of 12, exact flows: each pixel of A goes where
        // the true middle camera sees it (the sample generator's flow from A to it).
        let s = rig(12);
        let (ca, cb) = (&s.rig().cameras[0], &s.rig().cameras[1]);
        let (a, b) = (s.render_view(ca, 1), s.render_view(cb, 1));
        let fwd = truth_flow(&s, ca, cb, 1).flow;
        let bwd = truth_flow(&s, cb, ca, 1).flow;
        let mid = crate::camera::interpolate(ca, cb, 0.5, &s.rig().focus, &s.rig().up);
        let to_mid = truth_flow(&s, ca, &mid, 1).flow;
        let geometry = PairGeometry::new(ca, cb);
        // The screw motion of the pair alone is the ring's arc.
        let found = geometry.camera(0.5);
        assert!((found.pose.centre() - mid.pose.centre()).norm() < 1e-9);
        assert!(found.pose.rotation.angle_to(&mid.pose.rotation) < 1e-9);
        let motion = splat::Motion::of(&fwd);
        let tri = geometry.triangulate(&motion, true);
        let [tx, ty, _] = geometry.targets(&motion, &tri, true, 0.5, &found);
        let (mut worst, mut linear_worst, mut n) = (0f32, 0f32, 0);
        for i in 0..tx.len() {
            let (x, y) = ((i % fwd.width) as f32, (i / fwd.width) as f32);
            if !(to_mid.u[i].is_finite() && tx[i].is_finite()) {
                continue;
            }
            let (wx, wy) = (x + to_mid.u[i], y + to_mid.v[i]);
            let e = (tx[i] - wx).hypot(ty[i] - wy);
            worst = worst.max(e);
            let (lx, ly) = (x + 0.5 * fwd.u[i], y + 0.5 * fwd.v[i]);
            linear_worst = linear_worst.max((lx - wx).hypot(ly - wy));
            n += 1;
        }
        assert!(n > tx.len() / 2, "{n} pixels compared");
        // Measured: 0.00003 px, where halfway along the flow is up to 27 px off.
        assert!(worst < 0.01, "{worst} px off, linear {linear_worst}");
        assert!(linear_worst > 5.0, "linear {linear_worst}");

        let truth = s.render_view(&mid, 1);
        let pair = PairFlow::from_flows(&a, &b, fwd, bwd).unwrap();
        let linear = psnr(&pair.synthesize(0.5), &truth);
        let pair = pair.with_cameras(ca, cb);
        let placed = psnr(&pair.synthesize(0.5), &truth);
        assert_eq!(pair.synthesize(0.0), a);
        assert_eq!(pair.synthesize(1.0), b);
        assert_eq!(pair.synthesize_seen_by(0.5, &mid), pair.synthesize(0.5));
        // Measured: linear 17.95 dB, placed 19.40 (18.73 before the plane sweep's half; the
        // sky, unknown in the exact flows, is filled alike in both).
        eprintln!("worst {worst} linear {linear_worst}; linear {linear:.2} dB, placed {placed:.2}");
        assert!(
            placed > linear + 0.5,
            "linear {linear:.2} dB, placed {placed:.2}"
        );
    }

    #[test]
    fn a_calibrated_pair_with_lens_distortion_is_swept_too() {
        // Cameras 0 and 2 of a ring of 24 (30 degrees apart) at 320x180, the middle one
        // held out, all three with and without barrel distortion: the view of the
        // distorted pair (its in-between camera distorted alike) is as near its truth as
        // the pinhole pair's.
        let s = SampleRig::new(&SampleSpec {
            cameras: 24,
            width: 320,
            height: 180,
            frames: 1,
            ..SampleSpec::default()
        })
        .unwrap();
        let score = |dist: [f64; 5]| {
            let [ca, mid, cb] = [0, 1, 2].map(|c| {
                let mut cam = s.rig().cameras[c].clone();
                cam.intrinsics.dist = dist;
                cam
            });
            let [a, b, truth] = [&ca, &cb, &mid].map(|c| s.render_view(c, 0));
            let pair = PairFlow::compute(&a, &b, &FlowParams::default())
                .unwrap()
                .with_cameras(&ca, &cb);
            psnr(&pair.synthesize(0.5), &truth)
        };
        let (pinhole, barrel) = (score([0.0; 5]), score([-0.25, 0.05, 0.0, 0.0, 0.0]));
        eprintln!("pinhole {pinhole:.2} dB, barrel {barrel:.2}");
        assert!(
            barrel > pinhole - 0.5,
            "pinhole {pinhole:.2} dB, barrel {barrel:.2}"
        );
    }

    #[test]
    fn cameras_thirty_degrees_apart_beat_crossfade_clearly() {
        // Leave-one-out on a 24-ring at 640x360: cameras 2 and 4 made from their neighbours,
        // 30 degrees apart, where the background moves by more than half the width.
        // Measured 2026-11-29: flow 16.6 dB, crossfade 14.7; with the global search's
        // half-range at 0.45 of the width instead of 0.6, flow made 15.3. 2026-12-07: 16.55
        // before the subject's changes (depth order, still candidate, refill), 16.00 after
        // them and 15.97 with the front's closing: whole frames 30 degrees apart gave up
        // 0.6 dB for a subject that survives (issue 27); the margin went from 1.3 to 1.2.
        let s = SampleRig::new(&SampleSpec {
            cameras: 24,
            width: 640,
            height: 360,
            frames: 1,
            ..SampleSpec::default()
        })
        .unwrap();
        let views: Vec<RgbImage> = (0..5)
            .map(|c| s.render_view(&s.rig().cameras[c], 0))
            .collect();
        let params = FlowParams::default();
        let (mut ours, mut fade) = (0.0, 0.0);
        for held in [1, 3] {
            let (a, b, truth) = (&views[held - 1], &views[held + 1], &views[held]);
            ours += psnr(
                &interpolate(a, b, 0.5, Method::Flow, &params).unwrap(),
                truth,
            ) / 2.0;
            fade += psnr(&crossfade(a, b, 0.5), truth) / 2.0;
        }
        eprintln!("flow {ours:.2} dB, crossfade {fade:.2} dB");
        assert!(
            ours > fade + 1.2,
            "flow {ours:.2} dB, crossfade {fade:.2} dB"
        );
    }

    #[test]
    fn the_subject_survives_the_synthesis() {
        // A ring of 24 (15 degrees apart) at 480x270: views halfway between two pairs, with
        // and without the cameras, keep the red marker on the pillar whole (its area at
        // least 0.8 of the true view's) and the subject box near the truth. Measured
        // 2026-12-07 (colour importance, 2.8 px consistency): areas 0.95-1.08 of the truth,
        // boxes 19.1-31.9 dB (cameras 0-1 have a chequered pillar beside the subject).
        let s = SampleRig::new(&SampleSpec {
            cameras: 24,
            width: 480,
            height: 270,
            frames: 1,
            seed: 3,
            ..SampleSpec::default()
        })
        .unwrap();
        let rig = s.rig();
        for from in [0, 12] {
            let (ca, cb) = (&rig.cameras[from], &rig.cameras[from + 1]);
            let (a, b) = (s.render_view(ca, 0), s.render_view(cb, 0));
            let mid = crate::camera::interpolate(ca, cb, 0.5, &rig.focus, &rig.up);
            let truth = s.render_view(&mid, 0);
            let pair = PairFlow::compute(&a, &b, &FlowParams::default()).unwrap();
            let flow_only = pair.synthesize(0.5);
            let placed = pair.with_cameras(ca, cb).synthesize(0.5);
            for (name, view) in [("flow", flow_only), ("calibrated", placed)] {
                let score = crate::eval::subject_score(&view, &truth).unwrap();
                eprintln!("cam {from} {name}: {score:?}");
                assert!(
                    (0.8..1.25).contains(&score.marker_ratio) && score.box_psnr > 18.0,
                    "cameras {from}-{} {name}: marker area {:.3} of the truth, box {:.2} dB",
                    from + 1,
                    score.marker_ratio,
                    score.box_psnr
                );
            }
        }
    }

    #[test]
    fn a_translation_moves_halfway_without_border_seams() {
        // A smooth texture shifted 8 px right: the middle view is the texture shifted 4 px.
        let tex = |x: f32, y: f32| {
            let v = 0.5
                + 0.2 * (x * 0.21).sin() * (y * 0.17).cos()
                + 0.15 * ((x + 2.0 * y) * 0.05).sin();
            (v * 255.0) as u8
        };
        let img = |dx: f32| {
            let mut im = RgbImage::new(96, 64);
            for y in 0..64 {
                for x in 0..96 {
                    let v = tex(x as f32 - dx, y as f32);
                    im.put(x, y, [v, v / 2 + 60, 255 - v]);
                }
            }
            im
        };
        let (a, b, want) = (img(0.0), img(8.0), img(4.0));
        let fwd = FlowField::from_fn(96, 64, |_, _| (8.0, 0.0));
        let bwd = FlowField::from_fn(96, 64, |_, _| (-8.0, 0.0));
        let got = PairFlow::from_flows(&a, &b, fwd, bwd)
            .unwrap()
            .synthesize(0.5);
        // Everywhere, borders included (each border is covered by one of the two cameras).
        let mut worst = 0i32;
        for (p, q) in got.data.iter().zip(&want.data) {
            worst = worst.max((*p as i32 - *q as i32).abs());
        }
        assert!(worst <= 2, "largest error {worst}");
    }
}
