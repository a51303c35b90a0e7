//! The camera path of an orbit: which rig cameras it passes, in which order, and how far
//! round the rig (in degrees) each one sits along the way.
//!
//! Built from the rig (ring or arc, and the angle between neighbouring cameras), a range of
//! cameras (`--cameras A..B`, reversed when A > B), cameras to skip (a dead or out-of-sync
//! camera is crossed by synthesizing between its neighbours) and `--bounce` (there and back).
//! On a ring, the full orbit runs 360 degrees, from the first camera round to it again.

use crate::error::{Error, Result};

/// The cameras an orbit passes, with the angle travelled when it reaches each.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraPath {
    /// Rig camera indices, in the order the orbit visits them (a closed 360-degree orbit ends
    /// on its first camera again).
    pub cameras: Vec<usize>,
    /// Degrees travelled at each camera (0 at the first, increasing).
    pub angles: Vec<f64>,
    /// Whether the path ends where it starts (a full ring, or a bounce): then a looping clip
    /// must not show the end position, which is the first frame again.
    pub closed: bool,
    /// Whether it is a there-and-back.
    pub bounce: bool,
}

/// The rig the path runs on.
#[derive(Clone, Debug, PartialEq)]
pub struct RigGeometry {
    pub cameras: usize,
    pub ring: bool,
    /// Degrees from camera i to camera i + 1 (on a ring also from the last to the first):
    /// `cameras` entries on a ring, `cameras - 1` on an arc.
    pub steps: Vec<f64>,
}

impl RigGeometry {
    /// Evenly spaced cameras: 360 / n apart on a ring, `arc_degrees / (n - 1)` on an arc
    /// (unit steps when the arc's extent is unknown: then only --duration, not --speed, can
    /// set the orbit's pace).
    pub fn even(cameras: usize, ring: bool, arc_degrees: Option<f64>) -> RigGeometry {
        let ring = ring && cameras > 2;
        let n = if ring {
            cameras
        } else {
            cameras.saturating_sub(1)
        };
        let step = if ring {
            360.0 / cameras as f64
        } else {
            arc_degrees.map_or(1.0, |a| a / n.max(1) as f64)
        };
        RigGeometry {
            cameras,
            ring,
            steps: vec![step; n],
        }
    }

    /// Degrees from camera `a` to its neighbour `b` (b = a + 1, or a - 1, wrapping on a ring).
    fn step(&self, a: usize, b: usize) -> f64 {
        let n = self.cameras;
        if (a + 1) % n == b {
            self.steps[a]
        } else {
            self.steps[b]
        }
    }
}

/// A camera range `A..B` (0-based rig indices; reversed when A > B; on a ring, A..A is the
/// full 360 degrees starting at A).
pub type CameraRange = (usize, usize);

impl CameraPath {
    /// The path over `range` (default: the whole rig; on a ring all the way round), without
    /// the cameras in `skip`, there and back when `bounce`.
    pub fn new(
        rig: &RigGeometry,
        range: Option<CameraRange>,
        skip: &[usize],
        bounce: bool,
    ) -> Result<CameraPath> {
        let n = rig.cameras;
        if n == 0 {
            return Err(Error::usage("no cameras to orbit"));
        }
        for &c in skip.iter().chain(range.iter().flat_map(|r| [&r.0, &r.1])) {
            if c >= n {
                return Err(Error::usage(format!(
                    "camera {} does not exist: the rig has {n} cameras (1..{n})",
                    c + 1
                )));
            }
        }
        // Every camera the orbit passes, skipped ones included, as (camera, next step).
        let walk: Vec<usize> = match range {
            None if rig.ring => (0..=n).map(|i| i % n).collect(),
            None => (0..n).collect(),
            Some((a, b)) if a == b && rig.ring => (0..=n).map(|i| (a + i) % n).collect(),
            Some((a, b)) if a <= b => (a..=b).collect(),
            Some((a, b)) => (b..=a).rev().collect(),
        };
        if walk.len() < 2 {
            return Err(Error::usage(
                "the orbit needs at least two cameras; widen --cameras",
            ));
        }
        let (first, last) = (walk[0], walk[walk.len() - 1]);
        for &s in skip {
            if s == first || s == last {
                return Err(Error::usage(format!(
                    "--skip-camera {}: camera {} is an end of the orbit, which has no neighbour beyond it to synthesize from; narrow --cameras instead",
                    s + 1,
                    s + 1
                )));
            }
        }
        let mut cameras = vec![first];
        let mut angles = vec![0.0];
        let mut travelled = 0.0;
        for (k, pair) in walk.windows(2).enumerate() {
            travelled += rig.step(pair[0], pair[1]);
            let c = pair[1];
            let is_end = k + 2 == walk.len();
            if skip.contains(&c) && !is_end {
                continue;
            }
            cameras.push(c);
            angles.push(travelled);
        }
        if cameras.len() < 2 {
            return Err(Error::usage("every camera of the orbit is skipped"));
        }
        let mut closed = range.map_or(rig.ring, |(a, b)| a == b && rig.ring);
        if bounce {
            let total = *angles.last().expect("two cameras");
            for i in (0..cameras.len() - 1).rev() {
                cameras.push(cameras[i]);
                angles.push(2.0 * total - angles[i]);
            }
            closed = true;
        }
        Ok(CameraPath {
            cameras,
            angles,
            closed,
            bounce,
        })
    }

    /// Degrees from start to end.
    pub fn degrees(&self) -> f64 {
        *self.angles.last().expect("a path has cameras")
    }

    /// The position at `angle` degrees along the path: (from, to, fraction), with the
    /// fraction in [0, 1) (0 = camera `from` itself).
    pub fn at(&self, angle: f64) -> (usize, usize, f64) {
        let a = angle.clamp(0.0, self.degrees());
        // The last camera at or before `angle`.
        let j = self.angles.partition_point(|&x| x <= a).max(1) - 1;
        if j + 1 >= self.cameras.len() {
            let c = self.cameras[j];
            return (c, c, 0.0);
        }
        let (a0, a1) = (self.angles[j], self.angles[j + 1]);
        let t = if a1 > a0 { (a - a0) / (a1 - a0) } else { 0.0 };
        (self.cameras[j], self.cameras[j + 1], t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(n: usize) -> RigGeometry {
        RigGeometry::even(n, true, None)
    }

    #[test]
    fn a_full_ring_goes_round_to_the_first_camera() {
        let p = CameraPath::new(&ring(4), None, &[], false).unwrap();
        assert_eq!(p.cameras, [0, 1, 2, 3, 0]);
        assert_eq!(p.angles, [0.0, 90.0, 180.0, 270.0, 360.0]);
        assert!(p.closed);
        // A..A on a ring: the full turn from A.
        let p = CameraPath::new(&ring(4), Some((2, 2)), &[], false).unwrap();
        assert_eq!(p.cameras, [2, 3, 0, 1, 2]);
    }

    #[test]
    fn ranges_run_forward_or_reversed() {
        let arc = RigGeometry::even(6, false, Some(100.0));
        let p = CameraPath::new(&arc, Some((1, 4)), &[], false).unwrap();
        assert_eq!(p.cameras, [1, 2, 3, 4]);
        assert_eq!(p.angles, [0.0, 20.0, 40.0, 60.0]);
        assert!(!p.closed);
        let p = CameraPath::new(&arc, Some((4, 1)), &[], false).unwrap();
        assert_eq!(p.cameras, [4, 3, 2, 1]);
        assert_eq!(p.angles, [0.0, 20.0, 40.0, 60.0]);
    }

    #[test]
    fn a_skipped_camera_is_crossed_in_one_wider_step() {
        let p = CameraPath::new(&ring(8), None, &[2], false).unwrap();
        assert_eq!(p.cameras, [0, 1, 3, 4, 5, 6, 7, 0]);
        assert_eq!(p.angles[1..3], [45.0, 135.0]);
        assert_eq!(p.at(90.0), (1, 3, 0.5));
        let e = CameraPath::new(&ring(8), Some((0, 4)), &[4], false).unwrap_err();
        assert!(
            e.is_usage() && e.to_string().contains("end of the orbit"),
            "{e}"
        );
        let e = CameraPath::new(&ring(8), None, &[9], false).unwrap_err();
        assert!(e.to_string().contains("camera 10 does not exist"), "{e}");
    }

    #[test]
    fn bounce_returns_without_repeating_the_turn() {
        let arc = RigGeometry::even(3, false, Some(60.0));
        let p = CameraPath::new(&arc, None, &[], true).unwrap();
        assert_eq!(p.cameras, [0, 1, 2, 1, 0]);
        assert_eq!(p.angles, [0.0, 30.0, 60.0, 90.0, 120.0]);
        assert!(p.closed);
        assert_eq!(p.at(75.0), (2, 1, 0.5));
    }

    #[test]
    fn positions_along_the_path() {
        let p = CameraPath::new(&ring(4), None, &[], false).unwrap();
        assert_eq!(p.at(0.0), (0, 1, 0.0));
        assert_eq!(p.at(45.0), (0, 1, 0.5));
        assert_eq!(p.at(315.0), (3, 0, 0.5));
        assert_eq!(p.at(360.0), (0, 0, 0.0));
    }
}
