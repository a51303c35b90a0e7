//! The timeline: which view each output frame shows. A [`Schedule`] is plain data, one
//! [`Shot`] per output frame: a position on the rig between camera `from` and camera `to`.
//!
//! Only the frozen moment exists so far (every view at one instant): the orbit runs once over
//! the cameras in rig order, from the first to the last on an arc, and round to the first
//! again on a ring.

use crate::error::{Error, Result};
use crate::time::Rational;
use serde::Serialize;

/// One output frame: the view a fraction `t` of the way from camera `from` to camera `to`
/// (`t = 0` is camera `from` itself; no synthesis needed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Shot {
    pub from: usize,
    pub to: usize,
    pub t: f32,
}

impl Shot {
    pub fn camera(camera: usize) -> Shot {
        Shot {
            from: camera,
            to: camera,
            t: 0.0,
        }
    }

    /// Whether this is a real camera's frame rather than a synthesized view.
    pub fn is_camera(&self) -> bool {
        self.t == 0.0
    }
}

/// The ordered output frames of a clip.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schedule {
    pub fps: Rational,
    pub frames: Vec<Shot>,
}

impl Schedule {
    /// A frozen moment with real cameras only: `cameras` cameras spread evenly over `total`
    /// output frames (each gets floor or ceil of total/cameras frames).
    pub fn freeze(cameras: usize, total: usize, fps: Rational) -> Result<Schedule> {
        Self::orbit(cameras, false, Some(0), total, fps)
    }

    /// A frozen-moment orbit over `cameras` cameras in `total` output frames.
    ///
    /// With `interp = Some(k)`, each pair of neighbouring cameras gets `k` synthesized views
    /// between them, evenly spaced, and the views share the frames evenly. With `None`, `k` is
    /// chosen so that every output frame is its own view (as smooth as the frame rate allows)
    /// and the frame count is rounded to a whole number of views per pair. On a ring the orbit
    /// runs on from the last camera towards the first; on an arc it ends on the last camera.
    pub fn orbit(
        cameras: usize,
        ring: bool,
        interp: Option<u32>,
        total: usize,
        fps: Rational,
    ) -> Result<Schedule> {
        if cameras == 0 {
            return Err(Error::usage("no cameras to schedule"));
        }
        let ring = ring && cameras > 2;
        let segments = if ring { cameras } else { cameras - 1 };
        let frames = match interp {
            Some(k) => {
                let mut positions: Vec<Shot> = Vec::new();
                for s in 0..segments {
                    let to = (s + 1) % cameras;
                    positions.push(Shot::camera(s));
                    for j in 1..=k {
                        positions.push(Shot {
                            from: s,
                            to,
                            t: j as f32 / (k + 1) as f32,
                        });
                    }
                }
                if !ring {
                    positions.push(Shot::camera(cameras - 1));
                }
                if total < positions.len() {
                    return Err(Error::usage(format!(
                        "the clip has {total} frames but needs {} views ({cameras} cameras, {k} between each pair); raise --duration or --fps, or lower --interp",
                        positions.len()
                    )));
                }
                (0..total)
                    .map(|i| positions[i * positions.len() / total])
                    .collect()
            }
            None => {
                // As many views between each pair as makes every output frame its own view,
                // with the real cameras at regular intervals; the clip's length is rounded
                // to fit (an arc also shows its last camera).
                let frames_per_segment = if ring {
                    total as f64 / segments as f64
                } else {
                    total.saturating_sub(1) as f64 / segments as f64
                };
                let k = (frames_per_segment.round() as u32).max(1) - 1;
                let views = segments * (k as usize + 1) + usize::from(!ring);
                return Self::orbit(cameras, ring, Some(k), views, fps);
            }
        };
        Ok(Schedule { fps, frames })
    }

    /// Output frames needed for `seconds` at `fps` (rounded to the nearest frame).
    pub fn frames_for(seconds: f64, fps: Rational) -> usize {
        (seconds * fps.as_f64()).round().max(0.0) as usize
    }

    /// Runs of consecutive identical shots: (shot, how many frames).
    pub fn runs(&self) -> Vec<(Shot, u32)> {
        let mut runs: Vec<(Shot, u32)> = Vec::new();
        for s in &self.frames {
            match runs.last_mut() {
                Some((last, n)) if last == s => *n += 1,
                _ => runs.push((*s, 1)),
            }
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fps() -> Rational {
        Rational::new(30, 1)
    }

    #[test]
    fn freeze_spreads_frames_evenly_in_rig_order() {
        let s = Schedule::freeze(4, 10, fps()).unwrap();
        let cams: Vec<usize> = s.frames.iter().map(|f| f.from).collect();
        assert_eq!(cams, [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]);
        assert!(s.frames.iter().all(Shot::is_camera));
        let runs: Vec<u32> = s.runs().iter().map(|r| r.1).collect();
        assert_eq!(runs, [3, 2, 3, 2]);
    }

    #[test]
    fn exact_division_holds_each_camera_equally() {
        let s = Schedule::freeze(12, 36, fps()).unwrap();
        assert!(s.runs().iter().all(|r| r.1 == 3));
        assert_eq!(s.runs().len(), 12);
    }

    #[test]
    fn too_short_is_a_usage_error() {
        let e = Schedule::freeze(12, 5, fps()).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("--duration"));
    }

    #[test]
    fn ring_with_k_views_wraps_to_the_first_camera() {
        // 3 cameras, 1 view between each: 0, 0-1@.5, 1, 1-2@.5, 2, 2-0@.5.
        let s = Schedule::orbit(3, true, Some(1), 6, fps()).unwrap();
        let got: Vec<(usize, usize, f32)> = s.frames.iter().map(|f| (f.from, f.to, f.t)).collect();
        assert_eq!(
            got,
            [
                (0, 0, 0.0),
                (0, 1, 0.5),
                (1, 1, 0.0),
                (1, 2, 0.5),
                (2, 2, 0.0),
                (2, 0, 0.5)
            ]
        );
    }

    #[test]
    fn arc_with_k_views_ends_on_the_last_camera() {
        let s = Schedule::orbit(3, false, Some(2), 7, fps()).unwrap();
        let got: Vec<(usize, f32)> = s.frames.iter().map(|f| (f.from, f.t)).collect();
        let third = 1.0 / 3.0;
        let want = [
            (0, 0.0),
            (0, third),
            (0, 2.0 * third),
            (1, 0.0),
            (1, third),
            (1, 2.0 * third),
            (2, 0.0),
        ];
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.0, w.0);
            assert!((g.1 - w.1).abs() < 1e-6, "{got:?}");
        }
    }

    #[test]
    fn continuous_orbit_moves_uniformly() {
        // Ring of 4 in 16 frames: a quarter camera spacing per frame.
        let s = Schedule::orbit(4, true, None, 16, fps()).unwrap();
        for (i, f) in s.frames.iter().enumerate() {
            let p = f.from as f32 + f.t;
            assert!((p - i as f32 * 0.25).abs() < 1e-5, "frame {i}: {f:?}");
        }
        assert_eq!(
            s.frames[15].to, 0,
            "the last quarter runs from camera 3 to camera 0"
        );
        // Arc of 3 in 5 frames: 0, 0.5, 1, 1.5, 2.
        let s = Schedule::orbit(3, false, None, 5, fps()).unwrap();
        let p: Vec<f32> = s.frames.iter().map(|f| f.from as f32 + f.t).collect();
        assert_eq!(p, [0.0, 0.5, 1.0, 1.5, 2.0]);
    }
}
