//! The timeline: which camera (and later, which synthesized position between cameras) each
//! output frame shows. A [`Schedule`] is plain data, one entry per output frame.
//!
//! Only the frozen moment exists so far: every camera at one instant, in rig order, each held
//! for an equal share of the clip's frames.

use crate::error::{Error, Result};
use crate::time::Rational;
use serde::Serialize;

/// One output frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Shot {
    /// Index of the camera in rig order.
    pub camera: usize,
}

/// The ordered output frames of a clip.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schedule {
    pub fps: Rational,
    pub frames: Vec<Shot>,
}

impl Schedule {
    /// A frozen moment: `cameras` cameras spread evenly over `total` output frames (each
    /// camera gets floor or ceil of total/cameras frames, the extra ones spread out).
    pub fn freeze(cameras: usize, total: usize, fps: Rational) -> Result<Schedule> {
        if cameras == 0 {
            return Err(Error::usage("no cameras to schedule"));
        }
        if total < cameras {
            return Err(Error::usage(format!(
                "the clip has {total} frames but there are {cameras} cameras; raise --duration or --fps so every camera gets a frame"
            )));
        }
        let frames = (0..total)
            .map(|i| Shot {
                camera: i * cameras / total,
            })
            .collect();
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

    #[test]
    fn freeze_spreads_frames_evenly_in_rig_order() {
        let s = Schedule::freeze(4, 10, Rational::new(30, 1)).unwrap();
        let cams: Vec<usize> = s.frames.iter().map(|f| f.camera).collect();
        assert_eq!(cams, [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]);
        let runs: Vec<u32> = s.runs().iter().map(|r| r.1).collect();
        assert_eq!(runs, [3, 2, 3, 2]);
    }

    #[test]
    fn exact_division_holds_each_camera_equally() {
        let s = Schedule::freeze(12, 36, Rational::new(30, 1)).unwrap();
        assert!(s.runs().iter().all(|r| r.1 == 3));
        assert_eq!(s.runs().len(), 12);
    }

    #[test]
    fn too_short_is_a_usage_error() {
        let e = Schedule::freeze(12, 5, Rational::new(30, 1)).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("--duration"));
    }
}
