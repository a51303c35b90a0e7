//! Plans a clip ([`plan`]) and runs its schedule ([`render`]): decodes the frames it needs,
//! synthesizes the views between cameras, and feeds the encoder in order.
//!
//! The schedule is cut into jobs: a real camera's frame, or a camera pair with the fractions
//! to synthesize between them (its flows computed once and reused for every view). Jobs run a
//! few at a time in parallel with rayon, one batch per core, and everything a job made is
//! dropped once encoded, so a 100-camera 4K rig never holds more than a handful of frames.
//! The output is written atomically.

use crate::align::{Alignment, PlanarAlignment};
use crate::calib;
use crate::error::{Error, Result};
use crate::flow::FlowParams;
use crate::frame::Plane;
use crate::frame::RgbImage;
use crate::interp::PairFlow;
use crate::media::encode::{ClipWriter, Codec};
use crate::media::preset::{self, OutputOverrides, OutputPreset, SourceFormat};
use crate::media::{self, SourceInfo, SourceKind};
use crate::progress::Progress;
use crate::project::{Layout, Project};
use crate::time::{Rational, TimeSpec};
use crate::timeline::{CameraPath, Ease, Mode, Pace, Plan, RigGeometry, Schedule, Shot};
use nalgebra::Point3;
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Default clip length when neither --duration nor a schedule says otherwise.
pub const DEFAULT_DURATION: f64 = 3.0;

/// How time runs in the clip, with the user's times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeMode {
    /// Every view at `at`.
    Freeze { at: TimeSpec },
    /// The orbit starts at `at` and time runs at `rate` times real speed.
    Slice { at: TimeSpec, rate: f64 },
    /// Live from `from` up to `orbit_at` on the first camera, the frozen orbit at `orbit_at`,
    /// then live on the last camera to `to`.
    Replay {
        from: TimeSpec,
        to: TimeSpec,
        orbit_at: TimeSpec,
    },
}

impl TimeMode {
    /// The frozen moment: the anchor every shot's time is counted from.
    pub fn moment(&self) -> TimeSpec {
        match *self {
            TimeMode::Freeze { at } | TimeMode::Slice { at, .. } => at,
            TimeMode::Replay { orbit_at, .. } => orbit_at,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            TimeMode::Freeze { .. } => "freeze",
            TimeMode::Slice { .. } => "slice",
            TimeMode::Replay { .. } => "replay",
        }
    }
}

/// Where the virtual cameras look.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Focus {
    /// The point nearest every camera's optical axis.
    #[default]
    Auto,
    /// A point in the calibration's world coordinates.
    Point([f64; 3]),
    /// Picked in pixels: (camera name or 1-based number, x, y) in one or more cameras.
    Pixels(Vec<(String, f64, f64)>),
}

/// What fills the output where an aligned view has no image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fill {
    /// Zoom every virtual camera alike to the largest rectangle all views fill.
    #[default]
    Crop,
    /// Keep the framing; black where a camera saw nothing.
    Black,
    /// Keep the framing; a blurred copy of the view where a camera saw nothing.
    Blur,
}

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// A rig calibration (COLMAP text model folder); the project's when `None`. With one,
    /// every view is aligned to a virtual camera locked on the focus.
    pub calibration: Option<PathBuf>,
    pub focus: Focus,
    pub fill: Fill,
    pub mode: TimeMode,
    pub fps: Option<Rational>,
    /// The orbit's length in seconds (the whole clip in freeze and slice modes).
    pub duration: Option<f64>,
    /// The orbit's pace in degrees per second (instead of `duration`).
    pub speed: Option<f64>,
    /// An output preset (broadcast, web, social); the explicit settings below override it.
    pub preset: Option<OutputPreset>,
    pub codec: Option<Codec>,
    pub crf: Option<u32>,
    /// Target bitrate in bits per second (H.264/HEVC), instead of a CRF.
    pub bitrate: Option<u64>,
    /// Quality 1-100 for JPEG and WebP.
    pub quality: Option<u32>,
    /// Start timecode of the output (MOV/MP4).
    pub timecode: Option<String>,
    pub size: Option<(u32, u32)>,
    /// x264/x265 speed preset.
    pub encoder_speed: Option<String>,
    /// Synthesized views between neighbouring cameras: `Some(0)` shows the cameras only,
    /// `None` makes every output frame its own view.
    pub interp: Option<u32>,
    /// Flow parameters for view synthesis.
    pub flow: FlowParams,
    /// With a calibration, each synthesized view also gets the plane sweep from its virtual
    /// camera through the two real ones, averaged with the flow's (about 2.5 times the time;
    /// the quality preset).
    pub sweep: bool,
    /// The cameras to orbit over, `(A, B)` by name or 1-based number (reversed when A comes
    /// after B); all of them when `None`.
    pub cameras: Option<(String, String)>,
    /// Cameras (names or 1-based numbers) to leave out: the orbit synthesizes across them.
    pub skip: Vec<String>,
    pub bounce: bool,
    pub looped: bool,
    pub ease: Ease,
}

impl RenderOptions {
    /// A frozen moment at `at` with the defaults.
    pub fn at(at: TimeSpec) -> Self {
        RenderOptions {
            calibration: None,
            focus: Focus::Auto,
            fill: Fill::Crop,
            mode: TimeMode::Freeze { at },
            fps: None,
            duration: None,
            speed: None,
            preset: None,
            codec: None,
            crf: None,
            bitrate: None,
            quality: None,
            timecode: None,
            size: None,
            encoder_speed: None,
            interp: None,
            flow: FlowParams::preset(crate::flow::Preset::Balanced),
            sweep: false,
            cameras: None,
            skip: Vec::new(),
            bounce: false,
            looped: false,
            ease: Ease::Linear,
        }
    }
}

/// One camera's part of the clip.
#[derive(Clone, Debug, Serialize)]
pub struct CameraShot {
    pub name: String,
    pub source: PathBuf,
    /// The source frame index shown.
    pub frame: i64,
    /// Output frames it is held for.
    pub held: u32,
}

/// How far to trust one synthesized view: its pair's forward-backward consistency
/// ([`PairFlow::confidence`]).
#[derive(Clone, Debug, Serialize)]
pub struct ViewConfidence {
    pub from: String,
    pub to: String,
    pub t: f32,
    pub confidence: f32,
}

/// Above this many degrees between neighbouring cameras (seen from the subject) synthesized
/// views break up: the flow loses what one camera sees and the other does not (the subject
/// benchmarks of benches/README: 15 degrees keep the subject and most of the backdrop, 30
/// degrees the subject only).
pub const WIDE_SPACING_DEGREES: f64 = 16.0;
/// Below this share of consistent pixels a pair's synthesized views are mostly guesswork.
/// Generated rings at 480x270 (`samples --frames 3`, `render --at frame:1`): 24 cameras
/// (15 degrees) 0.53-0.59 per view, 12 cameras (30 degrees) 0.36-0.39.
pub const LOW_CONFIDENCE: f32 = 0.45;

/// Warnings, said as they come (through [`Progress::warn`]) and kept for the report.
struct Warnings<'a> {
    progress: &'a dyn Progress,
    said: Vec<String>,
}

impl Warnings<'_> {
    fn say(&mut self, message: String) {
        if !self.said.contains(&message) {
            self.progress.warn(&message);
            self.said.push(message);
        }
    }
}

/// A synthesized view, the output frames it is held for, its `t` and its pair's confidence.
type MadeView = (RgbImage, u32, f32, f32);

/// What was written.
#[derive(Clone, Debug, Serialize)]
pub struct RenderReport {
    pub output: PathBuf,
    /// freeze, slice or replay.
    pub mode: &'static str,
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    pub fps: Rational,
    pub frames: u64,
    pub duration: f64,
    /// Views synthesized between cameras (distinct views, not frames).
    pub synthesized: usize,
    /// The real cameras' frames used, in order.
    pub cameras: Vec<CameraShot>,
    /// Each synthesized view's confidence, in clip order.
    pub synthesized_views: Vec<ViewConfidence>,
    /// What the user was warned of (also said on stderr as it came).
    pub warnings: Vec<String>,
    /// The virtual cameras, when the clip was aligned with a calibration.
    #[serde(skip)]
    pub alignment: Option<Alignment>,
    /// The distinct views of the clip: (from, to, t), camera indices in rig order.
    #[serde(skip)]
    pub views: Vec<(usize, usize, f32)>,
}

/// A unit of work: one camera's frame, or views between a pair of cameras at one moment
/// (the pair's flows computed once for all of them).
enum Job {
    Camera {
        camera: usize,
        frame: i64,
        held: u32,
    },
    Pair {
        from: (usize, i64),
        to: (usize, i64),
        views: Vec<(f32, u32)>,
    },
}

/// Cuts the schedule into jobs, in output order; `frame(camera, time)` is the source frame.
fn jobs(schedule: &Schedule, frame: &dyn Fn(usize, f64) -> Result<i64>) -> Result<Vec<Job>> {
    let mut jobs: Vec<Job> = Vec::new();
    for (shot, held) in schedule.runs() {
        let Shot {
            from, to, t, time, ..
        } = shot;
        if shot.is_camera() {
            jobs.push(Job::Camera {
                camera: from,
                frame: frame(from, time)?,
                held,
            });
            continue;
        }
        let (a, b) = ((from, frame(from, time)?), (to, frame(to, time)?));
        match jobs.last_mut() {
            Some(Job::Pair { from, to, views }) if *from == a && *to == b => views.push((t, held)),
            _ => jobs.push(Job::Pair {
                from: a,
                to: b,
                views: vec![(t, held)],
            }),
        }
    }
    Ok(jobs)
}

/// Decoders kept open between batches, so that a camera playing live decodes forward
/// instead of seeking for every frame; at most [`Sources::KEEP`] stay open, so a
/// 100-camera rig never holds 100 decoders.
struct Sources<'a> {
    cams: &'a [Resolved],
    open: Vec<std::sync::Mutex<Option<Box<dyn media::FrameSource>>>>,
    last_used: Vec<usize>,
}

impl<'a> Sources<'a> {
    const KEEP: usize = 4;

    fn new(cams: &'a [Resolved]) -> Self {
        Sources {
            cams,
            open: cams.iter().map(|_| std::sync::Mutex::new(None)).collect(),
            last_used: vec![0; cams.len()],
        }
    }

    /// Decodes `frames` (ascending) of `camera`.
    fn decode(&self, camera: usize, frames: &[i64]) -> Result<Vec<RgbImage>> {
        let c = &self.cams[camera];
        let mut slot = self.open[camera].lock().expect("decoder lock");
        if slot.is_none() {
            *slot = Some(media::open(&c.path).map_err(|e| with_camera(&c.name, e))?);
        }
        let src = slot.as_mut().expect("opened");
        frames
            .iter()
            .map(|&f| src.frame(f).map_err(|e| with_camera(&c.name, e)))
            .collect()
    }

    /// Marks `used` cameras as used in batch `batch` and closes all but the most recently
    /// used decoders.
    fn end_batch(&mut self, batch: usize, used: &[usize]) {
        for &c in used {
            self.last_used[c] = batch + 1;
        }
        let mut open: Vec<usize> = (0..self.open.len())
            .filter(|&c| self.open[c].get_mut().is_ok_and(|s| s.is_some()))
            .collect();
        open.sort_by_key(|&c| std::cmp::Reverse(self.last_used[c]));
        for &c in open.iter().skip(Self::KEEP) {
            if let Ok(s) = self.open[c].get_mut() {
                *s = None;
            }
        }
    }
}

/// A camera of the project, opened and checked.
struct Resolved {
    name: String,
    path: PathBuf,
    info: SourceInfo,
}

/// Opens every camera (a few at a time) and checks they fit together.
fn resolve(project: &Project, progress: &dyn Progress) -> Result<Vec<Resolved>> {
    project.check()?;
    progress.begin("probing cameras", project.cameras.len() as u64);
    let infos: Vec<Result<Resolved>> = project
        .cameras
        .par_iter()
        .map(|cam| {
            let path = project.source_path(cam);
            let info = media::probe(&path).map_err(|e| with_camera(&cam.name, e))?;
            progress.advance(1);
            Ok(Resolved {
                name: cam.name.clone(),
                path,
                info,
            })
        })
        .collect();
    progress.end();
    let cams = infos.into_iter().collect::<Result<Vec<_>>>()?;
    for (i, c) in cams.iter().enumerate() {
        if let Some(d) = cams[..i]
            .iter()
            .find(|d| crate::output::same_file(&d.path, &c.path))
        {
            return Err(Error::Rig(format!(
                "cameras {} and {} are the same file ({}); each camera needs its own footage: remove one",
                d.name,
                c.name,
                c.path.display()
            )));
        }
    }
    let first = &cams[0];
    for c in &cams[1..] {
        if (c.info.width, c.info.height) != (first.info.width, first.info.height) {
            return Err(Error::Rig(format!(
                "camera {} ({}) is {}x{} but camera {} is {}x{}; all cameras must have the same resolution: re-export them at one size",
                c.name,
                c.path.display(),
                c.info.width,
                c.info.height,
                first.name,
                first.info.width,
                first.info.height
            )));
        }
    }
    Ok(cams)
}

/// Prefixes an error about a file with the camera's name when it does not already say it.
fn with_camera(name: &str, e: Error) -> Error {
    match e {
        Error::Input { path, msg } => Error::Input {
            path,
            msg: format!("(camera {name}) {msg}"),
        },
        other => other,
    }
}

/// The source frame index of `at` for one camera, checked against its footage.
fn frame_index(project: &Project, cam_idx: usize, cam: &Resolved, at: TimeSpec) -> Result<i64> {
    let entry = &project.cameras[cam_idx];
    if cam.info.kind == SourceKind::Still {
        return Ok(0);
    }
    let fps = entry.fps.or(cam.info.fps);
    let base = match (at, fps) {
        (TimeSpec::Frame(n), _) => n,
        (_, Some(fps)) => at.to_frame(fps, cam.info.timecode_frames())?,
        (_, None) => {
            return Err(Error::usage(format!(
                "camera {} ({}) is a folder of images with no frame rate: give --at frame:N, or set fps for it in timeslice.toml",
                cam.name,
                cam.path.display()
            )))
        }
    };
    let index = base + entry.offset;
    let count = cam.info.frame_count as i64;
    if index < 0 || index >= count {
        let span = match fps {
            Some(f) => format!(
                "{:.3} s, frames 0..{}",
                f.frames_to_seconds(count),
                count - 1
            ),
            None => format!("frames 0..{}", count - 1),
        };
        return Err(Error::usage(format!(
            "--at {at} is frame {index} of camera {} ({}), outside its footage ({span}); pick a time inside every camera",
            cam.name,
            cam.path.display()
        )));
    }
    Ok(index)
}

/// A camera by name or 1-based number.
fn camera_index(cams: &[Resolved], what: &str, flag: &str) -> Result<usize> {
    if let Some(i) = cams.iter().position(|c| c.name == what) {
        return Ok(i);
    }
    match what.parse::<usize>() {
        Ok(n) if n >= 1 && n <= cams.len() => Ok(n - 1),
        _ => Err(Error::usage(format!(
            "{flag} {what}: no camera of that name, and not a number in 1..{}; cameras are {}",
            cams.len(),
            cams.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A schedule ready to render: the plan, the cameras, and each camera's frame at the moment.
pub struct Planned {
    pub schedule: Schedule,
    /// Camera names in rig order (the schedule's indices).
    pub names: Vec<String>,
    cams: Vec<Resolved>,
    /// Frame index of each camera at the frozen moment.
    anchors: Vec<i64>,
}

impl Planned {
    /// The distinct views of the schedule: (from, to, t) runs.
    fn views(&self) -> Vec<(usize, usize, f32)> {
        let mut views: Vec<(usize, usize, f32)> = self
            .schedule
            .frames
            .iter()
            .map(|s| (s.from, s.to, s.t))
            .collect();
        views.dedup();
        views
    }

    /// The source frame of `camera` at `time` seconds from the moment, checked against its
    /// footage.
    fn frame(&self, project: &Project, camera: usize, time: f64) -> Result<i64> {
        let c = &self.cams[camera];
        if time == 0.0 {
            return Ok(self.anchors[camera]);
        }
        if c.info.kind == SourceKind::Still {
            return Err(Error::usage(format!(
                "camera {} ({}) is a still image: slice and replay clips need video from every camera they play",
                c.name,
                c.path.display()
            )));
        }
        let fps = project.cameras[camera]
            .fps
            .or(c.info.fps)
            .unwrap_or(Rational::new(30, 1));
        let index = self.anchors[camera] + (time * fps.as_f64()).round() as i64;
        let count = c.info.frame_count as i64;
        if index < 0 || index >= count {
            return Err(Error::usage(format!(
                "the clip needs frame {index} of camera {} ({}), {time:+.3} s from the moment, outside its footage (frames 0..{}); pick times inside every camera",
                c.name,
                c.path.display(),
                count - 1
            )));
        }
        Ok(index)
    }
}

/// Plans a clip: probes the cameras, resolves the times and the camera path, and makes the
/// schedule, without decoding anything (`render --plan-only`).
pub fn plan(project: &Project, opts: &RenderOptions, progress: &dyn Progress) -> Result<Planned> {
    let cams = resolve(project, progress)?;
    let fps = opts
        .fps
        .or(cams[0].info.fps)
        .unwrap_or(Rational::new(30, 1));
    plan_resolved(project, opts, cams, fps)
}

/// [`plan`] for cameras already probed, at the output rate `fps`.
fn plan_resolved(
    project: &Project,
    opts: &RenderOptions,
    cams: Vec<Resolved>,
    fps: Rational,
) -> Result<Planned> {
    let moment = opts.mode.moment();
    let anchors = cams
        .iter()
        .enumerate()
        .map(|(i, c)| frame_index(project, i, c, moment))
        .collect::<Result<Vec<_>>>()?;
    // Seconds of the user's times from the moment, on the first camera's clock.
    let seconds_from_moment = |t: TimeSpec| -> Result<f64> {
        let c = &cams[0];
        if c.info.kind == SourceKind::Still {
            return Err(Error::usage(format!(
                "camera {} ({}) is a still image: a replay needs video",
                c.name,
                c.path.display()
            )));
        }
        let f = project.cameras[0]
            .fps
            .or(c.info.fps)
            .unwrap_or(Rational::new(30, 1));
        Ok((frame_index(project, 0, c, t)? - anchors[0]) as f64 / f.as_f64())
    };
    let mode = match opts.mode {
        TimeMode::Freeze { .. } => Mode::Freeze,
        TimeMode::Slice { rate, .. } => Mode::Slice { rate },
        TimeMode::Replay { from, to, .. } => {
            let (before, after) = (-seconds_from_moment(from)?, seconds_from_moment(to)?);
            if before < 0.0 || after < 0.0 {
                return Err(Error::usage(format!(
                    "a replay needs --from <= --orbit-at <= --to; got --from {from}, --orbit-at {moment}, --to {to}"
                )));
            }
            Mode::Replay { before, after }
        }
    };
    let ring = project.layout == Some(Layout::Ring);
    let rig = RigGeometry::even(cams.len(), ring, project.arc_degrees);
    let range = match &opts.cameras {
        Some((a, b)) => Some((
            camera_index(&cams, a, "--cameras")?,
            camera_index(&cams, b, "--cameras")?,
        )),
        None => None,
    };
    let skip = opts
        .skip
        .iter()
        .map(|s| camera_index(&cams, s, "--skip-camera"))
        .collect::<Result<Vec<_>>>()?;
    let path = if cams.len() == 1 {
        CameraPath {
            cameras: vec![0],
            angles: vec![0.0],
            closed: false,
            bounce: false,
        }
    } else {
        CameraPath::new(&rig, range, &skip, opts.bounce)?
    };
    if opts.duration.is_some() && opts.speed.is_some() {
        return Err(Error::usage(
            "give the orbit's --duration or its --speed, not both",
        ));
    }
    let pace = match (opts.speed, opts.duration) {
        (Some(s), _) => Pace::Speed(s),
        (None, d) => Pace::Duration(d.unwrap_or(DEFAULT_DURATION)),
    };
    let schedule = Plan {
        mode,
        path,
        degrees_known: rig.ring || project.arc_degrees.is_some(),
        fps,
        pace,
        ease: opts.ease,
        interp: opts.interp,
        looped: opts.looped,
    }
    .schedule()?;
    let planned = Planned {
        schedule,
        names: cams.iter().map(|c| c.name.clone()).collect(),
        cams,
        anchors,
    };
    // Every frame the clip needs must exist; say so now rather than halfway through.
    for shot in &planned.schedule.frames {
        planned.frame(project, shot.from, shot.time)?;
        planned.frame(project, shot.to, shot.time)?;
    }
    Ok(planned)
}

/// A view resampled into its virtual camera, its unseen parts filled as `fill` asks.
fn aligned(al: &Aligner, fill: Fill, from: usize, to: usize, t: f32, img: &RgbImage) -> RgbImage {
    let mut out = match al {
        Aligner::Calibrated(al) => al.view_map(from, to, t).warp(img),
        Aligner::Planar(al) => al.warp(from, to, t, img),
    };
    if fill == Fill::Blur {
        crate::align::fill_blur(&mut out, &al.seen(from, to, t));
    }
    out
}

/// The pair of cameras `from` and `to` (images `a` and `b`) of a calibrated alignment, as
/// `render` makes it: matched in the output frame, where the subject stands still
/// ([`PairFlow::aligned`]); each match placed where the in-between virtual camera sees it;
/// with `sweep`, the plane sweep through the two cameras averaged in (the quality preset).
/// [`calibrated_view`] makes its views.
pub fn calibrated_pair(
    al: &Alignment,
    (from, a): (usize, &RgbImage),
    (to, b): (usize, &RgbImage),
    params: &crate::flow::FlowParams,
    sweep: bool,
) -> Result<PairFlow> {
    let (ma, mb) = (al.view_map(from, from, 0.0), al.view_map(to, to, 0.0));
    let (wa, wb) = rayon::join(|| ma.warp(a), || mb.warp(b));
    let ta = |u: f64, v: f64| ma.to_output(u, v);
    let tb = |u: f64, v: f64| mb.to_output(u, v);
    let pair = PairFlow::aligned((a, &wa, &ta), (b, &wb, &tb), params)?;
    let at = |c: usize| al.virtual_camera(&al.source_camera(c, c, 0.0));
    let pair = pair.with_cameras(&at(from), &at(to));
    Ok(if sweep {
        let src = |c: usize| al.source_camera(c, c, 0.0);
        pair.with_sources(&src(from), &src(to), &al.focus)
    } else {
        pair
    })
}

/// The output frame at `t` between cameras `from` and `to` of a calibrated alignment, from
/// their [`calibrated_pair`]: what the virtual camera there sees.
pub fn calibrated_view(
    al: &Alignment,
    pair: &PairFlow,
    from: usize,
    to: usize,
    t: f32,
) -> RgbImage {
    pair.synthesize_seen_by(t, &al.virtual_camera(&al.source_camera(from, to, t)))
}

/// A camera's pixels -> output pixels (see [`Aligner::to_output`]).
type OutputMap<'a> = Box<dyn Fn(f64, f64) -> Option<(f64, f64)> + Sync + 'a>;

impl Aligner {
    /// Which output pixels the view between `from` and `to` at `t` sees.
    fn seen(&self, from: usize, to: usize, t: f32) -> Vec<bool> {
        match self {
            Aligner::Calibrated(al) => al.view_map(from, to, t).seen(),
            Aligner::Planar(al) => al.seen(from, to, t),
        }
    }

    /// The map from camera `camera`'s pixels into the output.
    fn to_output(&self, camera: usize) -> OutputMap<'_> {
        match self {
            Aligner::Calibrated(al) => {
                let m = al.view_map(camera, camera, 0.0);
                Box::new(move |u, v| m.to_output(u, v))
            }
            Aligner::Planar(al) => Box::new(move |u, v| Some(al.to_output(camera, u, v))),
        }
    }

    /// The pair of cameras `from` and `to` (images `a` and `b`), matched in the output frame
    /// (see [`PairFlow::aligned`]).
    fn pair(
        &self,
        (from, a): (usize, &RgbImage),
        (to, b): (usize, &RgbImage),
        params: &crate::flow::FlowParams,
        sweep: bool,
    ) -> Result<PairFlow> {
        match self {
            Aligner::Calibrated(al) => calibrated_pair(al, (from, a), (to, b), params, sweep),
            Aligner::Planar(_) => {
                let (wa, wb) = rayon::join(
                    || aligned(self, Fill::Black, from, from, 0.0, a),
                    || aligned(self, Fill::Black, to, to, 0.0, b),
                );
                let (ta, tb) = (self.to_output(from), self.to_output(to));
                PairFlow::aligned((a, &wa, &*ta), (b, &wb, &*tb), params)
            }
        }
    }

    /// The view at `t` between cameras `from` and `to`, from their pair.
    fn synthesize(&self, pair: &PairFlow, from: usize, to: usize, t: f32) -> RgbImage {
        match self {
            Aligner::Calibrated(al) => calibrated_view(al, pair, from, to, t),
            Aligner::Planar(_) => pair.synthesize(t),
        }
    }

    /// Fills what the view between `from` and `to` at `t` does not see, as `fill` asks (a
    /// synthesized view's hole filling covers it otherwise).
    fn fill(&self, fill: Fill, from: usize, to: usize, t: f32, img: &mut RgbImage) {
        match fill {
            Fill::Crop => {}
            Fill::Black => {
                for (px, seen) in img.data.chunks_exact_mut(3).zip(self.seen(from, to, t)) {
                    if !seen {
                        px.fill(0);
                    }
                }
            }
            Fill::Blur => crate::align::fill_blur(img, &self.seen(from, to, t)),
        }
    }
}

/// The virtual cameras, when a calibration is given (or named by the project); `None`
/// renders the cameras' own views.
/// The 2D fallback without a calibration: the subject picked in pixels in one camera and
/// chained round the rig by feature matches (the first pick is used).
fn planar(
    opts: &RenderOptions,
    planned: &Planned,
    picks: &[(String, f64, f64)],
    out: (u32, u32),
) -> Result<Aligner> {
    let (cam, x, y) = &picks[0];
    let c = camera_index(&planned.cams, cam, "--focus-px")?;
    // Features on copies at most ~1000 px wide: enough to chain the subject, and 100
    // cameras' lumas stay small.
    let lumas: Vec<Plane> = (0..planned.cams.len())
        .into_par_iter()
        .map(|i| {
            let r = &planned.cams[i];
            let mut src = media::open(&r.path).map_err(|e| with_camera(&r.name, e))?;
            let img = src
                .frame(planned.anchors[i])
                .map_err(|e| with_camera(&r.name, e))?;
            let mut l = Plane::luma(&img);
            while l.width > 1000 {
                l = crate::flow::pyramid::downsample(&l);
            }
            Ok(l)
        })
        .collect::<Result<_>>()?;
    let f = planned.cams[0].info.width as f64 / lumas[0].width as f64;
    let mut al = PlanarAlignment::new(&lumas, (c, x / f, y / f), out)?;
    for cam in &mut al.cameras {
        cam.0 = (cam.0 .0 * f, cam.0 .1 * f);
    }
    al.source_size = (planned.cams[0].info.width, planned.cams[0].info.height);
    if opts.fill == Fill::Crop {
        let views = planned.views();
        al.auto_crop(&views);
    }
    Ok(Aligner::Planar(al))
}

/// How views are aligned: with a calibration (virtual cameras), or the 2D fallback.
enum Aligner {
    Calibrated(Alignment),
    Planar(PlanarAlignment),
}

fn alignment(
    project: &Project,
    opts: &RenderOptions,
    planned: &Planned,
    out: (u32, u32),
    warnings: &mut Warnings,
) -> Result<Option<Aligner>> {
    let Some(path) = calibration_path(project, opts) else {
        return match &opts.focus {
            Focus::Auto => Ok(None),
            Focus::Point(_) => Err(Error::usage(
                "--focus X,Y,Z needs a calibration: give --calibration, run timeslice calibrate rig, or pick the subject with --focus-px",
            )),
            Focus::Pixels(picks) => planar(opts, planned, picks, out).map(Some),
        };
    };
    let c0 = &planned.cams[0].info;
    let rig = calib::load_rig(&path)?;
    if !planned
        .names
        .iter()
        .any(|n| rig.iter().any(|c| &c.name == n))
    {
        warnings.say(format!(
            "{}: no camera of the calibration has a name of this rig's; its cameras are taken in their order. If it is another rig's, calibrate this one (timeslice calibrate rig)",
            path.display()
        ));
    }
    if let Some(c) = rig
        .iter()
        .find(|c| (c.width, c.height) != (c0.width, c0.height))
    {
        warnings.say(format!(
            "{}: calibrated at {}x{} (camera {}), the footage is {}x{}; the calibration is scaled to it. If it is another rig's, calibrate this one (timeslice calibrate rig)",
            path.display(),
            c.width,
            c.height,
            c.name,
            c0.width,
            c0.height
        ));
    }
    let cams = calib::match_cameras(&rig, &planned.names, (c0.width, c0.height), &path)?;
    let focus = match &opts.focus {
        Focus::Auto => None,
        Focus::Point(p) => Some(Point3::new(p[0], p[1], p[2])),
        Focus::Pixels(picks) => {
            let picks = picks
                .iter()
                .map(|(c, x, y)| Ok((camera_index(&planned.cams, c, "--focus-px")?, *x, *y)))
                .collect::<Result<Vec<_>>>()?;
            Some(crate::align::focus_from_pixels(&cams, &picks)?)
        }
    };
    let mut al = Alignment::new(cams, focus, out.0, out.1)?;
    if opts.fill == Fill::Crop {
        let views = planned.views();
        al.auto_crop(&views)?;
    }
    Ok(Some(Aligner::Calibrated(al)))
}

/// Warns once when the widest pair the clip synthesizes across is more than
/// [`WIDE_SPACING_DEGREES`] apart: from the calibration (the angle between the two cameras'
/// centres seen from the focus), or from the layout (a ring of N: 360 / N per step; an arc
/// with its span given).
fn warn_spacing(
    project: &Project,
    planned: &Planned,
    aligner: Option<&Aligner>,
    warnings: &mut Warnings,
) {
    let n = project.cameras.len();
    let index = |name: &str| project.cameras.iter().position(|c| c.name == name);
    let degrees = |from: usize, to: usize| -> Option<f64> {
        if let Some(Aligner::Calibrated(al)) = aligner {
            let a = al.cameras[from].pose.centre() - al.focus;
            let b = al.cameras[to].pose.centre() - al.focus;
            return Some(a.angle(&b).to_degrees());
        }
        let (i, j) = (index(&planned.names[from])?, index(&planned.names[to])?);
        let steps = i.abs_diff(j);
        match (project.layout, project.arc_degrees) {
            (Some(Layout::Ring), _) => Some(360.0 / n as f64 * steps.min(n - steps) as f64),
            (Some(Layout::Arc), Some(span)) if n > 1 => Some(span / (n - 1) as f64 * steps as f64),
            _ => None,
        }
    };
    let widest = planned
        .views()
        .into_iter()
        .filter(|&(from, to, t)| from != to && t > 0.0 && t < 1.0)
        .filter_map(|(from, to, _)| Some((degrees(from, to)?, from, to)))
        .reduce(|w, v| if v.0 > w.0 { v } else { w });
    if let Some((deg, from, to)) = widest.filter(|w| w.0 > WIDE_SPACING_DEGREES) {
        warnings.say(format!(
            "cameras {} and {} are {deg:.0} degrees apart: views synthesized across more than {WIDE_SPACING_DEGREES:.0} degrees break up (the subject holds, what surrounds it smears); add cameras between them, or render with --interp 0 to cut between the real cameras",
            planned.names[from], planned.names[to]
        ));
    }
}

/// The calibration to use: the option's, else the project's.
fn calibration_path(project: &Project, opts: &RenderOptions) -> Option<std::path::PathBuf> {
    opts.calibration
        .clone()
        .or_else(|| project.calibration.as_ref().map(|p| project.root.join(p)))
}

/// The project with its cameras in the rig order its calibration records, where that lists
/// exactly the project's cameras in another order (views calibrated with `calibrate rig
/// --order auto`: the orbit follows the ring, not the file names). `None` otherwise.
fn in_calibrated_order(project: &Project, opts: &RenderOptions) -> Result<Option<Project>> {
    let Some(path) = calibration_path(project, opts) else {
        return Ok(None);
    };
    // (A missing calibration has no order here; loading it reports it.)
    let Some(order) = calib::rig_order(&path)? else {
        return Ok(None);
    };
    let names: Vec<&str> = project.cameras.iter().map(|c| c.name.as_str()).collect();
    Ok(permutation(&names, &order).map(|idx| {
        let mut p = project.clone();
        p.cameras = idx.iter().map(|&i| project.cameras[i].clone()).collect();
        p
    }))
}

/// Where each name of `order` sits in `names`, if `order` holds every name once and differs
/// from `names`.
fn permutation(names: &[&str], order: &[String]) -> Option<Vec<usize>> {
    if order.len() != names.len() || order.iter().zip(names).all(|(o, n)| o == n) {
        return None;
    }
    let idx: Vec<usize> = order
        .iter()
        .map(|o| names.iter().position(|n| n == o))
        .collect::<Option<_>>()?;
    let mut seen = vec![false; names.len()];
    for &i in &idx {
        if std::mem::replace(&mut seen[i], true) {
            return None;
        }
    }
    Some(idx)
}

/// Renders a clip as `opts` asks: plans it, decodes the frames it needs, synthesizes the
/// views between cameras and encodes them in order.
pub fn render(
    project: &Project,
    opts: &RenderOptions,
    out: &Path,
    progress: &dyn Progress,
) -> Result<RenderReport> {
    let reordered = in_calibrated_order(project, opts)?;
    let project = reordered.as_ref().unwrap_or(project);
    let cams = resolve(project, progress)?;
    let mut warnings = Warnings {
        progress,
        said: Vec::new(),
    };
    let rates: Vec<(&str, Rational)> = cams
        .iter()
        .filter_map(|c| Some((c.name.as_str(), c.info.fps?)))
        .collect();
    if let Some((name, rate)) = rates.iter().find(|(_, r)| *r != rates[0].1) {
        warnings.say(format!(
            "cameras run at different frame rates ({} at {} fps, {name} at {rate} fps): a moment is each camera's nearest frame, up to half a frame apart; convert the footage to one rate for a sharp freeze",
            rates[0].0, rates[0].1
        ));
    }
    for c in &cams {
        if crate::output::same_file(&c.path, out) {
            return Err(Error::usage(format!(
                "{}: the output would overwrite camera {}'s footage; choose another output path",
                out.display(),
                c.name
            )));
        }
    }
    // The encoder settings first: a preset may decide the frame rate (broadcast rates).
    let source = SourceFormat {
        width: cams[0].info.width,
        height: cams[0].info.height,
        fps: cams[0].info.fps.unwrap_or(Rational::new(30, 1)),
    };
    let overrides = OutputOverrides {
        codec: opts.codec,
        crf: opts.crf,
        bitrate: opts.bitrate,
        quality: opts.quality,
        size: opts.size,
        fps: opts.fps,
        speed: opts.encoder_speed.clone(),
        timecode: opts.timecode.clone(),
    };
    let settings = preset::resolve(opts.preset, &overrides, source, out)?;
    let (codec, w, h) = (settings.codec, settings.width, settings.height);
    let planned = plan_resolved(project, opts, cams, settings.fps)?;
    let alignment = alignment(project, opts, &planned, (w, h), &mut warnings)?;
    warn_spacing(project, &planned, alignment.as_ref(), &mut warnings);
    let cams = &planned.cams;
    let schedule = &planned.schedule;
    let fps = schedule.fps;
    let mut writer = ClipWriter::create(out, settings)?;

    let jobs = jobs(schedule, &|c, t| planned.frame(project, c, t))?;
    let mut sources = Sources::new(cams);
    progress.begin("rendering", jobs.len() as u64);
    let threads = rayon::current_num_threads().max(2);
    let mut shots = Vec::new();
    let mut confidences: Vec<ViewConfidence> = Vec::new();
    let mut synthesized = 0;
    let mut start = 0;
    let mut batch_no = 0;
    while start < jobs.len() {
        // A batch: up to one pair per core (the expensive jobs), and at most 16 jobs, so
        // that a live stretch of camera frames decodes a run at a time.
        let (mut end, mut pairs) = (start, 0);
        while end < jobs.len() && end - start < 16 && pairs < threads {
            pairs += usize::from(matches!(jobs[end], Job::Pair { .. }));
            end += 1;
        }
        let batch = &jobs[start..end];
        // Each frame the batch needs is decoded once, each camera's in ascending order.
        let mut needed: Vec<(usize, i64)> = batch
            .iter()
            .flat_map(|job| match job {
                Job::Camera { camera, frame, .. } => vec![(*camera, *frame)],
                Job::Pair { from, to, .. } => vec![*from, *to],
            })
            .collect();
        needed.sort_unstable();
        needed.dedup();
        let mut used: Vec<usize> = needed.iter().map(|n| n.0).collect();
        used.dedup();
        let decoded: Vec<RgbImage> = used
            .par_iter()
            .map(|&c| {
                let frames: Vec<i64> = needed.iter().filter(|n| n.0 == c).map(|n| n.1).collect();
                sources.decode(c, &frames)
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        let image = |key: (usize, i64)| &decoded[needed.binary_search(&key).expect("decoded")];
        let made: Vec<Result<Vec<MadeView>>> = batch
            .par_iter()
            .map(|job| match job {
                // Pushed straight from `decoded` below.
                Job::Camera { .. } => Ok(Vec::new()),
                Job::Pair { from, to, views } => {
                    let (a, b) = (image(*from), image(*to));
                    let pair = match &alignment {
                        None => PairFlow::compute(a, b, &opts.flow)?,
                        Some(al) => al.pair((from.0, a), (to.0, b), &opts.flow, opts.sweep)?,
                    };
                    let confidence = pair.confidence();
                    Ok(views
                        .iter()
                        .map(|&(t, held)| {
                            let mut view = match &alignment {
                                None => pair.synthesize(t),
                                Some(al) => al.synthesize(&pair, from.0, to.0, t),
                            };
                            if let Some(al) = &alignment {
                                al.fill(opts.fill, from.0, to.0, t, &mut view);
                            }
                            (view, held, t, confidence)
                        })
                        .collect())
                }
            })
            .collect();
        for (job, images) in batch.iter().zip(made) {
            for (img, held, t, confidence) in images? {
                writer.push(&img, held)?;
                if let Job::Pair { from, to, .. } = job {
                    confidences.push(ViewConfidence {
                        from: cams[from.0].name.clone(),
                        to: cams[to.0].name.clone(),
                        t,
                        confidence,
                    });
                }
            }
            match job {
                Job::Camera {
                    camera,
                    frame,
                    held,
                } => {
                    let img = image((*camera, *frame));
                    match &alignment {
                        None => writer.push(img, *held)?,
                        Some(al) => writer
                            .push(&aligned(al, opts.fill, *camera, *camera, 0.0, img), *held)?,
                    }
                    let c = &cams[*camera];
                    shots.push(CameraShot {
                        name: c.name.clone(),
                        source: c.path.clone(),
                        frame: *frame,
                        held: *held,
                    });
                }
                Job::Pair { views, .. } => synthesized += views.len(),
            }
            progress.advance(1);
        }
        sources.end_batch(batch_no, &used);
        batch_no += 1;
        start = end;
    }
    progress.end();
    if let Some(worst) = confidences
        .iter()
        .filter(|v| v.confidence < LOW_CONFIDENCE)
        .min_by(|a, b| a.confidence.total_cmp(&b.confidence))
    {
        warnings.say(format!(
            "views between {} and {} rest on weak matches (only {:.0}% of pixels match both ways): expect smears there; add cameras between them, or render with --interp 0",
            worst.from,
            worst.to,
            100.0 * worst.confidence
        ));
    }
    let frames = writer.frames();
    let output = writer.finish()?;
    Ok(RenderReport {
        output,
        mode: opts.mode.name(),
        codec,
        width: w,
        height: h,
        fps,
        frames,
        duration: fps.frames_to_seconds(frames as i64),
        synthesized,
        cameras: shots,
        synthesized_views: confidences,
        warnings: warnings.said,
        alignment: match alignment {
            Some(Aligner::Calibrated(al)) => Some(al),
            _ => None,
        },
        views: planned.views(),
    })
}

#[cfg(test)]
mod tests {
    use super::permutation;

    #[test]
    fn a_calibrated_rig_order_reorders_the_cameras_it_lists_exactly() {
        let names = ["a", "b", "c", "d"];
        let order = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            permutation(&names, &order(&["c", "a", "d", "b"])),
            Some(vec![2, 0, 3, 1])
        );
        // The same order, another set of cameras, a camera twice: the project's order stays.
        assert_eq!(permutation(&names, &order(&["a", "b", "c", "d"])), None);
        assert_eq!(permutation(&names, &order(&["c", "a", "d"])), None);
        assert_eq!(permutation(&names, &order(&["c", "a", "d", "e"])), None);
        assert_eq!(permutation(&names, &order(&["c", "a", "c", "b"])), None);
    }
}
