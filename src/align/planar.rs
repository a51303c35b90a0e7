//! Alignment without a calibration: the 2D fallback. The user picks the subject in one camera;
//! a similarity transform (scale, roll, shift) between each pair of neighbouring cameras,
//! fitted by RANSAC to feature matches around the subject, carries that point round the rig
//! (chained from the picked camera both ways). Every view is then moved, turned and scaled so
//! that the subject sits at the frame centre, keeps the picked camera's roll and size.
//!
//! It cannot undo perspective (that needs the calibration), but it removes the jumps and the
//! horizon wobble of a mis-aimed rig. Synthesized views interpolate their two cameras'
//! transforms.

use crate::calib::rig::features;
use crate::error::{Error, Result};
use crate::frame::{Plane, RgbImage};
use rayon::prelude::*;

/// Where the subject is in each camera, and how large and turned it appears there relative
/// to the picked camera.
#[derive(Clone, Debug)]
pub struct PlanarAlignment {
    /// Per camera: subject position (pixels), scale and roll (radians) relative to the
    /// picked camera.
    pub cameras: Vec<((f64, f64), f64, f64)>,
    pub source_size: (u32, u32),
    pub out_size: (u32, u32),
    /// Common zoom (see [`PlanarAlignment::auto_crop`]).
    pub zoom: f64,
}

/// A point match between two images: (in the first, in the second).
type Match = ((f64, f64), (f64, f64));

/// Keypoints of one image and their descriptors.
type Features = (Vec<[f32; 2]>, Vec<Option<[f32; features::DESC_LEN]>>);

/// x -> s R(a) x + t.
#[derive(Clone, Copy, Debug)]
struct Similarity {
    s: f64,
    a: f64,
    t: (f64, f64),
}

impl Similarity {
    fn apply(&self, p: (f64, f64)) -> (f64, f64) {
        let (c, n) = (self.a.cos(), self.a.sin());
        (
            self.s * (c * p.0 - n * p.1) + self.t.0,
            self.s * (n * p.0 + c * p.1) + self.t.1,
        )
    }

    /// The similarity through two point pairs.
    fn from_two(p: [(f64, f64); 2], q: [(f64, f64); 2]) -> Option<Similarity> {
        let (dp, dq) = (
            (p[1].0 - p[0].0, p[1].1 - p[0].1),
            (q[1].0 - q[0].0, q[1].1 - q[0].1),
        );
        let lp = (dp.0 * dp.0 + dp.1 * dp.1).sqrt();
        if lp < 1e-6 {
            return None;
        }
        let s = (dq.0 * dq.0 + dq.1 * dq.1).sqrt() / lp;
        let a = dq.1.atan2(dq.0) - dp.1.atan2(dp.0);
        let mut sim = Similarity {
            s,
            a,
            t: (0.0, 0.0),
        };
        let m = sim.apply(p[0]);
        sim.t = (q[0].0 - m.0, q[0].1 - m.1);
        Some(sim)
    }
}

/// RANSAC over pairs of matches, then the median of the inliers' two-point fits around the
/// best one (cheap and robust; the matches are few).
fn fit(pairs: &[Match], tol: f64) -> Option<Similarity> {
    let n = pairs.len();
    if n < 3 {
        return None;
    }
    let mut best: Option<(usize, Similarity)> = None;
    // Deterministic sampling: every pair of a stride through the matches.
    let step = (n / 40).max(1);
    for i in (0..n).step_by(step) {
        for j in (i + 1..n).step_by(step) {
            let Some(s) = Similarity::from_two([pairs[i].0, pairs[j].0], [pairs[i].1, pairs[j].1])
            else {
                continue;
            };
            if !(0.5..2.0).contains(&s.s) {
                continue;
            }
            let inliers = pairs
                .iter()
                .filter(|(p, q)| {
                    let m = s.apply(*p);
                    (m.0 - q.0).powi(2) + (m.1 - q.1).powi(2) < tol * tol
                })
                .count();
            if best.is_none_or(|(b, _)| inliers > b) {
                best = Some((inliers, s));
            }
        }
    }
    let (count, s) = best?;
    (count >= 3).then_some(s)
}

/// Where the patch of `a` around `p` (half-size `r`) is in `b`, searched within `range`
/// pixels, by normalised cross-correlation with a parabolic sub-pixel peak.
fn track(
    a: &Plane,
    b: &Plane,
    p: (f64, f64),
    q0: (f64, f64),
    r: usize,
    range: usize,
) -> ((f64, f64), f64) {
    let (w, h) = (a.width as i64, a.height as i64);
    let (r, range) = (r as i64, range as i64);
    let (px, py) = (p.0.round() as i64, p.1.round() as i64);
    if px - r < 0 || py - r < 0 || px + r >= w || py + r >= h {
        return (q0, -1.0);
    }
    // The search is centred on `q0`, the guess in `b`.
    let (gx, gy) = (q0.0.round() as i64, q0.1.round() as i64);
    let n = ((2 * r + 1) * (2 * r + 1)) as f64;
    let patch: Vec<f64> = (-r..=r)
        .flat_map(|dy| (-r..=r).map(move |dx| (dx, dy)))
        .map(|(dx, dy)| a.at((px + dx) as usize, (py + dy) as usize) as f64)
        .collect();
    let mean = patch.iter().sum::<f64>() / n;
    let var: f64 = patch.iter().map(|v| (v - mean) * (v - mean)).sum();
    let score = |cx: i64, cy: i64| -> f64 {
        if cx - r < 0 || cy - r < 0 || cx + r >= w || cy + r >= h || var <= 0.0 {
            return -1.0;
        }
        let (mut sb, mut sbb, mut sab) = (0.0, 0.0, 0.0);
        let mut k = 0;
        for dy in -r..=r {
            for dx in -r..=r {
                let v = b.at((cx + dx) as usize, (cy + dy) as usize) as f64;
                sb += v;
                sbb += v * v;
                sab += (patch[k] - mean) * v;
                k += 1;
            }
        }
        let vb = sbb - sb * sb / n;
        if vb <= 0.0 {
            -1.0
        } else {
            sab / (var * vb).sqrt()
        }
    };
    let rows: Vec<(f64, i64, i64)> = (-range..=range)
        .into_par_iter()
        .map(|dy| {
            (-range..=range)
                // A mild preference for small moves: the subject barely moves between
                // neighbours, and repeated texture (stripes) matches almost as well further
                // away.
                .map(|dx| {
                    let d = ((dx * dx + dy * dy) as f64).sqrt() / range.max(1) as f64;
                    (score(gx + dx, gy + dy) - 0.2 * d, gx + dx, gy + dy)
                })
                .fold((-2.0, gx, gy), |m, c| if c.0 > m.0 { c } else { m })
        })
        .collect();
    let (best, bx, by) = rows
        .into_iter()
        .fold((-2.0, gx, gy), |m, c| if c.0 > m.0 { c } else { m });
    // The raw correlation at the chosen peak, for the threshold and the sub-pixel fit.
    let best = if best > -2.0 { score(bx, by) } else { best };
    if best < 0.5 {
        return (q0, best);
    }
    let sub = |m: f64, z: f64, q: f64| {
        let d = m - 2.0 * z + q;
        if d.abs() < 1e-12 {
            0.0
        } else {
            (0.5 * (m - q) / d).clamp(-0.5, 0.5)
        }
    };
    let fx = sub(score(bx - 1, by), best, score(bx + 1, by));
    let fy = sub(score(bx, by - 1), best, score(bx, by + 1));
    ((bx as f64 + fx, by as f64 + fy), best)
}

impl PlanarAlignment {
    /// Chains the subject at `pick` (camera index, x, y) round the cameras `lumas` (rig order;
    /// on a ring the chain does not wrap: each camera is reached the short way from the pick).
    pub fn new(lumas: &[Plane], pick: (usize, f64, f64), out_size: (u32, u32)) -> Result<Self> {
        let n = lumas.len();
        let (w, h) = (lumas[0].width, lumas[0].height);
        let cell = (w / 80).max(8);
        let feats: Vec<Features> = lumas
            .par_iter()
            .map(|l| {
                let k = features::keypoints(l, cell, 2e-4);
                let d = features::describe(l, &k, 16.0);
                (k, d)
            })
            .collect();
        // The similarity from camera i to camera j over all matches: the cameras' relative
        // roll (a property of the whole image; the background dominates the matches, and its
        // motion between neighbours is mostly a shift).
        let global = |i: usize, j: usize| -> Result<Similarity> {
            let m = features::match_descriptors(&feats[i].1, &feats[j].1, 0.8);
            let all: Vec<Match> = m
                .iter()
                .enumerate()
                .filter_map(|(a, b)| {
                    let b = (*b)?;
                    let (pa, pb) = (feats[i].0[a], feats[j].0[b]);
                    Some(((pa[0] as f64, pa[1] as f64), (pb[0] as f64, pb[1] as f64)))
                })
                .collect();
            fit(&all, 0.01 * w.max(h) as f64).ok_or_else(|| {
                Error::Rig(format!(
                    "cameras {} and {} share too few features to align them without a calibration; give --calibration",
                    i + 1,
                    j + 1
                ))
            })
        };
        // The subject itself is followed by template matching: it sits near the rotation
        // centre of a bullet-time rig and barely moves, while everything around it does.
        let (c0, x0, y0) = pick;
        let follow = |i: usize, j: usize, p: (f64, f64)| -> (f64, f64) {
            // Templates of three sizes, each checked by tracking back: a template larger
            // than the subject also holds background, which moves, while a smaller one may
            // match repeated texture; the smallest that tracks back to where it started wins.
            let mut consistent = None;
            for r in [(w / 60).max(5), (w / 40).max(6), (w / 27).max(8)] {
                let (q, score) = track(&lumas[i], &lumas[j], p, p, r, w / 4);
                if score < 0.8 {
                    continue;
                }
                let (back, _) = track(&lumas[j], &lumas[i], q, p, r, w / 8);
                if (back.0 - p.0).hypot(back.1 - p.1) <= 1.5 {
                    consistent = Some(q);
                    break;
                }
            }
            if let Some(q) = consistent {
                return q;
            }
            let r = (w / 40).max(6);
            let (q, score) = track(&lumas[i], &lumas[j], p, p, r, w / 4);
            if score >= 0.8 {
                return q;
            }
            // A weak match (the neighbour's patch changed too much): also try the picked
            // camera's own patch, around the chained guess, and keep the better one.
            let (q2, s2) = track(&lumas[c0], &lumas[j], (x0, y0), q, r, w / 8);
            if s2 > score {
                q2
            } else {
                q
            }
        };
        let step = |i: usize, j: usize, p: (f64, f64)| -> Result<Similarity> {
            let g = global(i, j)?;
            let q = follow(i, j, p);
            Ok(Similarity {
                s: 1.0,
                a: g.a,
                t: (q.0 - p.0, q.1 - p.1),
            })
        };
        let mut cams = vec![((0.0, 0.0), 1.0, 0.0); n];
        cams[c0] = ((x0, y0), 1.0, 0.0);
        for i in c0..n - 1 {
            let (p, s, a) = cams[i];
            let st = step(i, i + 1, p)?;
            cams[i + 1] = ((p.0 + st.t.0, p.1 + st.t.1), s * st.s, a + st.a);
        }
        for i in (1..=c0).rev() {
            let (p, s, a) = cams[i];
            let st = step(i, i - 1, p)?;
            cams[i - 1] = ((p.0 + st.t.0, p.1 + st.t.1), s * st.s, a + st.a);
        }
        Ok(PlanarAlignment {
            cameras: cams,
            source_size: (w as u32, h as u32),
            out_size,
            zoom: 1.0,
        })
    }

    /// The view between `from` and `to` at `t`: its subject position, scale and roll.
    fn view(&self, from: usize, to: usize, t: f32) -> ((f64, f64), f64, f64) {
        let (a, b, t) = (self.cameras[from], self.cameras[to], t as f64);
        let l = |x: f64, y: f64| x + (y - x) * t;
        (
            (l(a.0 .0, b.0 .0), l(a.0 .1, b.0 .1)),
            l(a.1, b.1),
            l(a.2, b.2),
        )
    }

    /// Pixel of camera `camera` -> output pixel (the inverse of the camera's view map).
    pub fn to_output(&self, camera: usize, u: f64, v: f64) -> (f64, f64) {
        let ((px, py), s, a) = self.cameras[camera];
        let (ow, oh) = (self.out_size.0 as f64, self.out_size.1 as f64);
        let k = ow / self.source_size.0 as f64 * self.zoom / s;
        let (du, dv) = (u - px, v - py);
        let (c, n) = (a.cos(), a.sin());
        // The transpose of the rotation in `to_source`.
        let (dx, dy) = (c * du + n * dv, -n * du + c * dv);
        (dx * k + (ow - 1.0) / 2.0, dy * k + (oh - 1.0) / 2.0)
    }

    /// Output pixel -> source pixel of the view.
    fn to_source(&self, v: ((f64, f64), f64, f64), x: f64, y: f64) -> (f64, f64) {
        let ((px, py), s, a) = v;
        let (ow, oh) = (self.out_size.0 as f64, self.out_size.1 as f64);
        // Output pixels per source pixel at zoom 1: the widths' ratio.
        let k = ow / self.source_size.0 as f64 * self.zoom / s;
        let (dx, dy) = ((x - (ow - 1.0) / 2.0) / k, (y - (oh - 1.0) / 2.0) / k);
        let (c, n) = (a.cos(), a.sin());
        (px + c * dx - n * dy, py + n * dx + c * dy)
    }

    /// Zooms all views alike so that every view of `views` covers the whole frame.
    pub fn auto_crop(&mut self, views: &[(usize, usize, f32)]) {
        let (ow, oh) = (self.out_size.0 as f64, self.out_size.1 as f64);
        let fits = |me: &PlanarAlignment| {
            views.iter().all(|&(a, b, t)| {
                let v = me.view(a, b, t);
                [
                    (0.0, 0.0),
                    (ow - 1.0, 0.0),
                    (0.0, oh - 1.0),
                    (ow - 1.0, oh - 1.0),
                ]
                .iter()
                .all(|&(x, y)| {
                    let (u, w) = me.to_source(v, x, y);
                    super::covers(me.source_size, u, w)
                })
            })
        };
        let (mut lo, mut hi) = (0.25f64, 16.0f64);
        for _ in 0..40 {
            self.zoom = (lo * hi).sqrt();
            if fits(self) {
                hi = self.zoom;
            } else {
                lo = self.zoom;
            }
        }
        self.zoom = hi;
    }

    /// Which output pixels the view between `from` and `to` at `t` covers.
    pub fn seen(&self, from: usize, to: usize, t: f32) -> Vec<bool> {
        let v = self.view(from, to, t);
        let (w, h) = (self.out_size.0 as usize, self.out_size.1 as usize);
        (0..w * h)
            .into_par_iter()
            .map(|i| {
                let (u, vv) = self.to_source(v, (i % w) as f64, (i / w) as f64);
                super::covers(self.source_size, u, vv)
            })
            .collect()
    }

    /// Resamples the view between `from` and `to` at `t` (an image of the source size) into
    /// the output: bilinear, black where the view has no image.
    pub fn warp(&self, from: usize, to: usize, t: f32, img: &RgbImage) -> RgbImage {
        let v = self.view(from, to, t);
        let (w, h) = self.out_size;
        let mut out = RgbImage::new(w, h);
        out.data
            .par_chunks_mut(w as usize * 3)
            .enumerate()
            .for_each(|(y, row)| {
                for (x, px) in row.chunks_exact_mut(3).enumerate() {
                    let (u, vv) = self.to_source(v, x as f64, y as f64);
                    if !super::covers((img.width, img.height), u, vv) {
                        continue;
                    }
                    px.copy_from_slice(&super::bilinear(img, u, vv));
                }
            });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_point_similarity_is_exact() {
        let truth = Similarity {
            s: 1.1,
            a: 0.05,
            t: (3.0, -2.0),
        };
        let p = [(10.0, 20.0), (50.0, -5.0)];
        let q = [truth.apply(p[0]), truth.apply(p[1])];
        let s = Similarity::from_two(p, q).unwrap();
        assert!((s.s - 1.1).abs() < 1e-12 && (s.a - 0.05).abs() < 1e-12);
        let r = s.apply((7.0, 7.0));
        let e = truth.apply((7.0, 7.0));
        assert!((r.0 - e.0).abs() < 1e-9 && (r.1 - e.1).abs() < 1e-9);
        // RANSAC ignores a wrong match.
        let mut pairs: Vec<_> = (0..10)
            .map(|i| {
                let p = (i as f64 * 7.0, (i * i) as f64 * 0.5);
                (p, truth.apply(p))
            })
            .collect();
        pairs.push(((1.0, 1.0), (90.0, 90.0)));
        let s = fit(&pairs, 0.5).unwrap();
        assert!((s.s - 1.1).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn to_output_inverts_the_view_map() {
        let al = PlanarAlignment {
            cameras: vec![((300.0, 200.0), 1.2, 0.1), ((320.0, 190.0), 0.9, -0.2)],
            source_size: (640, 360),
            out_size: (480, 270),
            zoom: 1.3,
        };
        for c in 0..2 {
            let v = al.view(c, c, 0.0);
            for (x, y) in [(0.0, 0.0), (239.5, 134.5), (400.0, 17.0)] {
                let (u, w) = al.to_source(v, x, y);
                let (bx, by) = al.to_output(c, u, w);
                assert!((bx - x).abs() < 1e-9 && (by - y).abs() < 1e-9, "{bx} {by}");
            }
        }
    }
}
