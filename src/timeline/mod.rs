//! The timeline: which view each output frame shows, and at what moment. A [`Schedule`] is
//! plain data, one [`Shot`] per output frame: a moment (seconds from the frozen moment) and a
//! position on the rig between camera `from` and camera `to`.
//!
//! A [`Plan`] makes the schedule from what the user asked for:
//! - the mode: `freeze` (every view at one instant), `slice` (time runs at `rate` times real
//!   speed while the camera orbits) or `replay` (the first camera plays live up to the moment,
//!   the orbit runs frozen there, then the last camera plays on);
//! - the [`CameraPath`] (a range of cameras, reversed or bounced, skipping dead cameras; on a
//!   ring the full orbit wraps round 360 degrees);
//! - the pace (`--duration` or `--speed` in degrees per second) and the [`Ease`] curve;
//! - synthesized views: `interp = Some(k)` puts exactly `k` views between neighbouring
//!   cameras (0 = the real cameras only, each held for its share of the frames); `None` makes
//!   every output frame its own view, as smooth as the frame rate allows.

pub mod ease;
pub mod path;

pub use ease::Ease;
pub use path::{CameraPath, CameraRange, RigGeometry};

use crate::error::{Error, Result};
use crate::time::Rational;
use serde::Serialize;

/// One output frame: the view a fraction `t` of the way from camera `from` to camera `to`
/// (`t = 0` is camera `from` itself; no synthesis needed), at `time` seconds from the frozen
/// moment (negative before it), `angle` degrees along the orbit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Shot {
    pub time: f64,
    pub from: usize,
    pub to: usize,
    pub t: f32,
    pub angle: f64,
}

impl Shot {
    pub fn camera(camera: usize) -> Shot {
        Shot {
            time: 0.0,
            from: camera,
            to: camera,
            t: 0.0,
            angle: 0.0,
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

/// How time runs in the clip.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Every view at the frozen moment.
    Freeze,
    /// Time runs at `rate` times real speed while the camera orbits (from the moment on).
    Slice { rate: f64 },
    /// The first camera plays live for `before` seconds up to the moment, the orbit runs
    /// frozen there, then the last camera plays on for `after` seconds.
    Replay { before: f64, after: f64 },
}

/// How long the orbit takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Seconds.
    Duration(f64),
    /// Degrees per second.
    Speed(f64),
    /// Exactly this many output frames.
    Frames(usize),
}

/// Everything that decides a schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub mode: Mode,
    pub path: CameraPath,
    /// Whether the path's angles are real degrees (false: an arc of unknown extent, where
    /// only the camera order is known and `Pace::Speed` is refused).
    pub degrees_known: bool,
    pub fps: Rational,
    pub pace: Pace,
    pub ease: Ease,
    pub interp: Option<u32>,
    /// Make the clip loop seamlessly (the path must return to its start).
    pub looped: bool,
}

impl Plan {
    /// Frames of the orbit part.
    fn orbit_frames(&self) -> Result<usize> {
        let fps = self.fps.as_f64();
        let n = match self.pace {
            Pace::Frames(n) => n,
            Pace::Duration(d) => {
                if !(d > 0.0 && d.is_finite()) {
                    return Err(Error::usage(format!(
                        "--duration {d} must be a positive number of seconds"
                    )));
                }
                (d * fps).round() as usize
            }
            Pace::Speed(s) => {
                if !(s > 0.0 && s.is_finite()) {
                    return Err(Error::usage(format!(
                        "--speed {s} must be a positive number of degrees per second"
                    )));
                }
                if !self.degrees_known {
                    return Err(Error::usage(
                        "--speed needs the angle between cameras, and this arc's extent is unknown: set arc_degrees in timeslice.toml, give a calibration, or use --duration",
                    ));
                }
                (self.path.degrees() / s * fps).round() as usize
            }
        };
        Ok(n.max(1))
    }

    /// The schedule, one shot per output frame.
    pub fn schedule(&self) -> Result<Schedule> {
        if self.looped && !self.path.closed {
            return Err(Error::usage(
                "--loop needs an orbit that returns to its start: a full ring, or --bounce",
            ));
        }
        if self.looped && matches!(self.mode, Mode::Replay { .. }) {
            return Err(Error::usage(
                "--loop makes no sense for a replay, which starts and ends live",
            ));
        }
        let n = self.orbit_frames()?;
        let fps = self.fps.as_f64();
        let mut orbit = self.orbit_positions(n)?;
        let mut frames = Vec::new();
        match self.mode {
            Mode::Freeze => {}
            Mode::Slice { rate } => {
                if !(rate.is_finite() && rate >= 0.0) {
                    return Err(Error::usage(format!(
                        "--rate {rate} must be zero or a positive speed factor (0.25 = quarter speed)"
                    )));
                }
                for (i, s) in orbit.iter_mut().enumerate() {
                    s.time = rate * i as f64 / fps;
                }
            }
            Mode::Replay { before, after } => {
                if !(before >= 0.0 && after >= 0.0) {
                    return Err(Error::usage("a replay needs --from <= --orbit-at <= --to"));
                }
                let first = self.path.cameras[0];
                let live = (before * fps).round() as usize;
                frames.extend((0..live).map(|i| Shot {
                    time: -before + i as f64 / fps,
                    ..Shot::camera(first)
                }));
            }
        }
        let end = orbit.last().copied();
        frames.extend(orbit);
        if let (Mode::Replay { after, .. }, Some(end)) = (self.mode, end) {
            // The orbit's last position, live: the last camera of the path.
            let last = if end.is_camera() { end.from } else { end.to };
            let live = (after * fps).round() as usize;
            frames.extend((1..=live).map(|k| Shot {
                time: k as f64 / fps,
                angle: self.path.degrees(),
                ..Shot::camera(last)
            }));
        }
        Ok(Schedule {
            fps: self.fps,
            frames,
        })
    }

    /// The `n` positions of the orbit, all at the moment (time 0).
    fn orbit_positions(&self, n: usize) -> Result<Vec<Shot>> {
        let path = &self.path;
        // A seamless loop never shows the end, which is the start again.
        // A full ring loops by default (the orbit stops one step short of the first camera);
        // a bounce ends on its first camera unless --loop.
        let open_end = !(path.closed && (self.looped || !path.bounce));
        let total = path.degrees();
        let shot = |angle: f64| {
            let (from, to, t) = path.at(angle);
            Shot {
                time: 0.0,
                from,
                to,
                t: t as f32,
                angle,
            }
        };
        match self.interp {
            None => Ok((0..n)
                .map(|i| {
                    let u = if open_end {
                        if n > 1 {
                            i as f64 / (n - 1) as f64
                        } else {
                            0.0
                        }
                    } else {
                        i as f64 / n as f64
                    };
                    shot(self.ease.apply(u) * total)
                })
                .collect()),
            Some(k) => {
                // The views: each camera of the path and k between it and the next, each
                // held for an equal share of the frames.
                let mut views: Vec<Shot> = Vec::new();
                let segs = path.cameras.len().saturating_sub(1);
                for j in 0..segs {
                    let (a0, a1) = (path.angles[j], path.angles[j + 1]);
                    for i in 0..=k {
                        let t = i as f64 / (k + 1) as f64;
                        views.push(Shot {
                            time: 0.0,
                            from: path.cameras[j],
                            to: if i == 0 {
                                path.cameras[j]
                            } else {
                                path.cameras[j + 1]
                            },
                            t: t as f32,
                            angle: a0 + t * (a1 - a0),
                        });
                    }
                }
                if open_end {
                    views.push(Shot {
                        angle: total,
                        ..Shot::camera(path.cameras[segs])
                    });
                }
                if n < views.len() {
                    return Err(Error::usage(format!(
                        "the orbit has {n} frames but needs {} views ({} cameras, {k} between each pair); raise --duration or --fps, or lower --interp",
                        views.len(),
                        path.cameras.len()
                    )));
                }
                let len = views.len();
                Ok((0..n)
                    .map(|i| {
                        let u = self.ease.apply(i as f64 / n as f64);
                        views[((u * len as f64) as usize).min(len - 1)]
                    })
                    .collect())
            }
        }
    }
}

impl Schedule {
    /// A frozen moment with real cameras only: `cameras` cameras spread evenly over `total`
    /// output frames (each gets floor or ceil of total/cameras frames).
    pub fn freeze(cameras: usize, total: usize, fps: Rational) -> Result<Schedule> {
        Self::orbit(cameras, false, Some(0), total, fps)
    }

    /// A frozen-moment orbit over all `cameras` in rig order in `total` output frames, evenly
    /// spaced (see [`Plan`] for everything else).
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
        let rig = RigGeometry::even(cameras, ring, None);
        let path = if cameras == 1 {
            CameraPath {
                cameras: vec![0],
                angles: vec![0.0],
                closed: false,
                bounce: false,
            }
        } else {
            CameraPath::new(&rig, None, &[], false)?
        };
        Plan {
            mode: Mode::Freeze,
            path,
            degrees_known: true,
            fps,
            pace: Pace::Frames(total),
            ease: Ease::Linear,
            interp,
            looped: false,
        }
        .schedule()
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

    fn plan(path: CameraPath, mode: Mode, pace: Pace) -> Plan {
        Plan {
            mode,
            path,
            degrees_known: true,
            fps: fps(),
            pace,
            ease: Ease::Linear,
            interp: None,
            looped: false,
        }
    }

    fn ring_path(n: usize) -> CameraPath {
        CameraPath::new(&RigGeometry::even(n, true, None), None, &[], false).unwrap()
    }

    #[test]
    fn slice_advances_time_at_the_rate_while_orbiting() {
        let s = plan(ring_path(6), Mode::Slice { rate: 0.5 }, Pace::Duration(2.0))
            .schedule()
            .unwrap();
        assert_eq!(s.frames.len(), 60);
        for (i, f) in s.frames.iter().enumerate() {
            assert!((f.time - 0.5 * i as f64 / 30.0).abs() < 1e-12, "frame {i}");
            assert!(
                (f.angle - 6.0 * i as f64).abs() < 1e-9,
                "frame {i}: {}",
                f.angle
            );
        }
    }

    #[test]
    fn replay_plays_live_then_orbits_frozen_then_plays_on() {
        let arc = RigGeometry::even(5, false, Some(120.0));
        let path = CameraPath::new(&arc, None, &[], false).unwrap();
        let s = plan(
            path,
            Mode::Replay {
                before: 1.0,
                after: 0.5,
            },
            Pace::Speed(60.0),
        )
        .schedule()
        .unwrap();
        // 30 live frames, 120 degrees at 60 deg/s = 60 orbit frames, 15 live frames.
        assert_eq!(s.frames.len(), 30 + 60 + 15);
        let (live, rest) = s.frames.split_at(30);
        let (orbit, after) = rest.split_at(60);
        assert!(live.iter().all(|f| f.is_camera() && f.from == 0));
        assert!((live[0].time + 1.0).abs() < 1e-12 && live[29].time < 0.0);
        assert!(orbit.iter().all(|f| f.time == 0.0));
        assert_eq!((orbit[0].from, orbit[59].from, orbit[59].t), (0, 4, 0.0));
        assert!(after.iter().all(|f| f.is_camera() && f.from == 4));
        assert!((after[14].time - 0.5).abs() < 1e-12);
    }

    #[test]
    fn linear_orbit_has_constant_angular_speed_and_easing_slows_the_ends() {
        // Uneven camera spacing (a calibrated rig): the angle still advances evenly.
        let rig = RigGeometry {
            cameras: 5,
            ring: false,
            steps: vec![10.0, 25.0, 15.0, 30.0],
        };
        let path = CameraPath::new(&rig, None, &[], false).unwrap();
        let mut p = plan(path, Mode::Freeze, Pace::Frames(41));
        let s = p.schedule().unwrap();
        let steps: Vec<f64> = s
            .frames
            .windows(2)
            .map(|w| w[1].angle - w[0].angle)
            .collect();
        let (lo, hi) = steps
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &d| (l.min(d), h.max(d)));
        assert!((hi - lo) / hi < 1e-9, "angular steps vary: {lo}..{hi}");
        assert!((s.frames[40].angle - 80.0).abs() < 1e-9);
        // The positions agree with the angles: 10 deg is camera 1 exactly.
        assert_eq!((s.frames[5].from, s.frames[5].t), (1, 0.0));
        p.ease = Ease::InOut;
        let s = p.schedule().unwrap();
        let first = s.frames[1].angle - s.frames[0].angle;
        let middle = s.frames[21].angle - s.frames[20].angle;
        assert!(first < 0.1 * middle, "{first} vs {middle}");
    }

    #[test]
    fn bounce_and_loop() {
        let arc = RigGeometry::even(3, false, Some(60.0));
        let path = CameraPath::new(&arc, None, &[], true).unwrap();
        // Without --loop the bounce ends on its first camera...
        let mut p = plan(path.clone(), Mode::Freeze, Pace::Frames(5));
        p.interp = Some(0);
        let cams: Vec<usize> = p
            .schedule()
            .unwrap()
            .frames
            .iter()
            .map(|f| f.from)
            .collect();
        assert_eq!(cams, [0, 1, 2, 1, 0]);
        // ...with it, it stops one step short so that the clip repeats seamlessly.
        p.looped = true;
        p.pace = Pace::Frames(4);
        let cams: Vec<usize> = p
            .schedule()
            .unwrap()
            .frames
            .iter()
            .map(|f| f.from)
            .collect();
        assert_eq!(cams, [0, 1, 2, 1]);
        // An arc's ends do not meet.
        let open = CameraPath::new(&arc, None, &[], false).unwrap();
        let mut p = plan(open, Mode::Freeze, Pace::Frames(5));
        p.looped = true;
        assert!(p.schedule().unwrap_err().to_string().contains("--bounce"));
    }

    #[test]
    fn reversed_range_and_skipped_camera() {
        let rig = RigGeometry::even(8, true, None);
        let path = CameraPath::new(&rig, Some((5, 1)), &[3], false).unwrap();
        let mut p = plan(path, Mode::Freeze, Pace::Frames(16));
        p.interp = Some(1);
        let s = p.schedule().unwrap();
        let got: Vec<(usize, usize, f32)> =
            s.runs().iter().map(|(f, _)| (f.from, f.to, f.t)).collect();
        assert_eq!(
            got,
            [
                (5, 5, 0.0),
                (5, 4, 0.5),
                (4, 4, 0.0),
                (4, 2, 0.5),
                (2, 2, 0.0),
                (2, 1, 0.5),
                (1, 1, 0.0)
            ]
        );
    }

    #[test]
    fn speed_needs_known_angles() {
        let arc = RigGeometry::even(4, false, None);
        let path = CameraPath::new(&arc, None, &[], false).unwrap();
        let mut p = plan(path, Mode::Freeze, Pace::Speed(30.0));
        p.degrees_known = false;
        let e = p.schedule().unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("arc_degrees"), "{e}");
    }
}
