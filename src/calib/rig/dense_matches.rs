//! Correspondences between two cameras from the dense flow engine.
//!
//! Neighbouring cameras of a rig are 5-30 degrees apart: the background moves by a large
//! fraction of the image and the foreground the other way, which is what
//! `flow::global_search::compute_flow_large` (exhaustive coarse search seeding DIS) is built
//! for. Flow also matches in weakly textured areas where descriptors find nothing. We compute
//! the flow both ways on a reduced working copy, keep the keypoints of the first camera whose
//! forward-backward round trip closes (Sundaram et al., ECCV 2010; `flow::consistency`), scale
//! the match to full resolution and localise it there to sub-pixel accuracy
//! (`lucas_kanade::refine`).

use super::lucas_kanade::{self, Acceptance, IDENTITY};
use crate::error::Result;
use crate::flow::global_search::{compute_flow_searched, GlobalSearch};
use crate::flow::{consistency, ConsistencyParams, FlowParams};
use crate::frame::Plane;

/// One camera's images: full resolution for localisation, the working copy for flow.
#[derive(Clone, Debug)]
pub struct ViewImages {
    pub full: Plane,
    pub work: Plane,
    /// Full-resolution pixels per working pixel.
    pub scale: f32,
}

/// Box-filtered copy of `p` reduced by the integer factor `f` (pixel centres stay aligned:
/// working pixel (x, y) covers full pixels f x .. f x + f - 1).
pub fn reduce(p: &Plane, f: usize) -> Plane {
    if f <= 1 {
        return p.clone();
    }
    let (w, h) = (p.width / f, p.height / f);
    let norm = 1.0 / (f * f) as f32;
    Plane::from_fn(w, h, |x, y| {
        let mut s = 0.0;
        for yy in y * f..y * f + f {
            for v in &p.data[yy * p.width + x * f..yy * p.width + x * f + f] {
                s += v;
            }
        }
        s * norm
    })
}

impl ViewImages {
    /// Working copy no wider than `max_width`.
    pub fn new(full: Plane, max_width: usize) -> Self {
        let f = full.width.div_ceil(max_width.max(16)).max(1);
        let work = reduce(&full, f);
        ViewImages {
            full,
            work,
            scale: f as f32,
        }
    }

    pub fn to_work(&self, p: [f32; 2]) -> [f32; 2] {
        // full pixel x maps to working (x - (f-1)/2) / f
        let o = (self.scale - 1.0) / 2.0;
        [(p[0] - o) / self.scale, (p[1] - o) / self.scale]
    }

    pub fn to_full(&self, p: [f32; 2]) -> [f32; 2] {
        let o = (self.scale - 1.0) / 2.0;
        [p[0] * self.scale + o, p[1] * self.scale + o]
    }
}

/// Matches of one ordered pair: for each keypoint of `a`, its position in `b` (full-resolution
/// pixels), or `None`; plus the median flow length in working pixels (near zero when the two
/// images are the same).
#[derive(Clone, Debug)]
pub struct PairMatches {
    pub matches: Vec<Option<[f32; 2]>>,
    pub median_motion: f32,
}

/// Flow both ways between `a` and `b`, then consistent, refined matches of `keypoints` (in
/// `a`'s full-resolution pixels).
pub fn match_pair(
    a: &ViewImages,
    b: &ViewImages,
    keypoints: &[[f32; 2]],
    params: &FlowParams,
    accept: Acceptance,
) -> Result<PairMatches> {
    // The search range calibration was tuned with. The wider default (0.6) gave the
    // 12-camera arc 0.018 degrees instead of 0.11, but lost a camera of the 24-ring
    // (2026-11-29, with the translation-only localisation of the time).
    let search = GlobalSearch {
        range_x: 0.45,
        ..GlobalSearch::default()
    };
    let (fwd, bwd) = rayon::join(
        || compute_flow_searched(&a.work, &b.work, params, &search),
        || compute_flow_searched(&b.work, &a.work, params, &search),
    );
    let (fwd, bwd) = (fwd?, bwd?);
    // Stricter than the default (0.5 px^2): calibration wants few, sure matches.
    let cons = consistency(&fwd, &bwd, ConsistencyParams { a1: 0.01, a2: 0.3 })?;
    let (w, h) = (fwd.width, fwd.height);
    let mut motion = Vec::with_capacity(keypoints.len());
    let matches: Vec<Option<[f32; 2]>> = keypoints
        .iter()
        .map(|&p| {
            let q = a.to_work(p);
            let (x, y) = (q[0].round(), q[1].round());
            if x < 0.0 || y < 0.0 || x >= w as f32 || y >= h as f32 {
                return None;
            }
            let i = y as usize * w + x as usize;
            if !cons.reliable[i] {
                return None;
            }
            let (u, v) = (fwd.u[i], fwd.v[i]);
            motion.push(u.hypot(v));
            let guess = b.to_full([q[0] + u, q[1] + v]);
            // The flow's local affine map (its Jacobian over +-2 working pixels): a wide
            // baseline shears the ground and squeezes walls, which the patch fit starts from.
            let (xi, yi) = (x as usize, y as usize);
            let d = 2usize;
            let frame = if xi >= d && yi >= d && xi + d < w && yi + d < h {
                let (l, r, t, bo) = (i - d, i + d, i - d * w, i + d * w);
                let s = 0.5 / d as f32;
                [
                    1.0 + (fwd.u[r] - fwd.u[l]) * s,
                    (fwd.u[bo] - fwd.u[t]) * s,
                    (fwd.v[r] - fwd.v[l]) * s,
                    1.0 + (fwd.v[bo] - fwd.v[t]) * s,
                ]
            } else {
                IDENTITY
            };
            let max_shift = 1.5 * a.scale + 1.0;
            let refine = |frame| {
                lucas_kanade::refine_in_frame(&a.full, &b.full, p, guess, frame, max_shift, accept)
            };
            // Without the flow's frame, unless that was the identity already.
            refine(frame).or_else(|| (frame != IDENTITY).then(|| refine(IDENTITY)).flatten())
        })
        .collect();
    motion.sort_by(f32::total_cmp);
    Ok(PairMatches {
        matches,
        median_motion: motion.get(motion.len() / 2).copied().unwrap_or(0.0),
    })
}
