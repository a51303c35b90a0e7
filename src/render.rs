//! Runs a schedule: decodes the frames it needs, synthesizes the views between cameras, and
//! feeds the encoder in order.
//!
//! The schedule is cut into jobs: a real camera's frame, or a camera pair with the fractions
//! to synthesize between them (its flows computed once and reused for every view). Jobs run a
//! few at a time in parallel with rayon, one batch per core, and everything a job made is
//! dropped once encoded, so a 100-camera 4K rig never holds more than a handful of frames.
//! The output is written atomically.

use crate::error::{Error, Result};
use crate::flow::FlowParams;
use crate::frame::RgbImage;
use crate::interp::PairFlow;
use crate::media::encode::{ClipWriter, Codec, EncodeSettings};
use crate::media::{self, SourceInfo, SourceKind};
use crate::progress::Progress;
use crate::project::{Layout, Project};
use crate::time::{Rational, TimeSpec};
use crate::timeline::{Schedule, Shot};
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Default clip length when neither --duration nor a schedule says otherwise.
pub const DEFAULT_DURATION: f64 = 3.0;

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    pub at: TimeSpec,
    pub fps: Option<Rational>,
    pub duration: Option<f64>,
    pub codec: Option<Codec>,
    pub crf: Option<u32>,
    pub size: Option<(u32, u32)>,
    /// x264/x265 speed preset.
    pub speed: Option<String>,
    /// Synthesized views between neighbouring cameras: `Some(0)` shows the cameras only,
    /// `None` makes every output frame its own view.
    pub interp: Option<u32>,
    /// Flow parameters for view synthesis.
    pub flow: FlowParams,
}

impl RenderOptions {
    pub fn at(at: TimeSpec) -> Self {
        RenderOptions {
            at,
            fps: None,
            duration: None,
            codec: None,
            crf: None,
            size: None,
            speed: None,
            interp: None,
            flow: FlowParams::preset(crate::flow::Preset::Balanced),
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

/// What was written.
#[derive(Clone, Debug, Serialize)]
pub struct RenderReport {
    pub output: PathBuf,
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
}

/// A unit of work: one camera's frame, or views between a pair of cameras.
enum Job {
    Camera {
        camera: usize,
        held: u32,
    },
    Pair {
        from: usize,
        to: usize,
        views: Vec<(f32, u32)>,
    },
}

/// Cuts the schedule into jobs, in output order.
fn jobs(schedule: &Schedule) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    for (shot, held) in schedule.runs() {
        let Shot { from, to, t } = shot;
        if shot.is_camera() {
            jobs.push(Job::Camera { camera: from, held });
            continue;
        }
        match jobs.last_mut() {
            Some(Job::Pair {
                from: f,
                to: tt,
                views,
            }) if *f == from && *tt == to => views.push((t, held)),
            _ => jobs.push(Job::Pair {
                from,
                to,
                views: vec![(t, held)],
            }),
        }
    }
    jobs
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

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Renders a frozen moment: the frame at `opts.at` from every camera, in rig order, with
/// synthesized views between neighbouring cameras as `opts.interp` asks.
pub fn render_freeze(
    project: &Project,
    opts: &RenderOptions,
    out: &Path,
    progress: &dyn Progress,
) -> Result<RenderReport> {
    let cams = resolve(project, progress)?;
    for c in &cams {
        if same_file(&c.path, out) {
            return Err(Error::usage(format!(
                "{}: the output would overwrite camera {}'s footage; choose another output path",
                out.display(),
                c.name
            )));
        }
    }
    let indices = cams
        .iter()
        .enumerate()
        .map(|(i, c)| frame_index(project, i, c, opts.at))
        .collect::<Result<Vec<_>>>()?;

    let fps = opts
        .fps
        .or(cams[0].info.fps)
        .unwrap_or(Rational::new(30, 1));
    let duration = opts.duration.unwrap_or(DEFAULT_DURATION);
    if !(duration > 0.0 && duration.is_finite()) {
        return Err(Error::usage(format!(
            "--duration {duration} must be a positive number of seconds"
        )));
    }
    let ring = project.layout == Some(Layout::Ring);
    let schedule = Schedule::orbit(
        cams.len(),
        ring,
        opts.interp,
        Schedule::frames_for(duration, fps),
        fps,
    )?;
    let codec = opts.codec.unwrap_or_else(|| Codec::from_path(out));
    let (w, h) = opts.size.unwrap_or_else(|| {
        let (w, h) = (cams[0].info.width, cams[0].info.height);
        if codec == Codec::Png {
            (w, h)
        } else {
            (w & !1, h & !1)
        }
    });
    let mut settings = EncodeSettings::new(codec, w, h, fps);
    settings.crf = opts.crf;
    settings.speed = opts.speed.clone();
    let mut writer = ClipWriter::create(out, settings)?;

    let decode = |camera: usize| -> Result<RgbImage> {
        let c = &cams[camera];
        let mut src = media::open(&c.path).map_err(|e| with_camera(&c.name, e))?;
        src.frame(indices[camera])
            .map_err(|e| with_camera(&c.name, e))
    };
    let jobs = jobs(&schedule);
    progress.begin("rendering", jobs.len() as u64);
    let chunk = rayon::current_num_threads().max(2);
    let mut shots = Vec::new();
    let mut synthesized = 0;
    for batch in jobs.chunks(chunk) {
        // Each camera the batch needs is decoded once, even when a camera frame and the pairs
        // on either side of it all use it.
        let mut needed: Vec<usize> = batch
            .iter()
            .flat_map(|job| match job {
                Job::Camera { camera, .. } => vec![*camera],
                Job::Pair { from, to, .. } => vec![*from, *to],
            })
            .collect();
        needed.sort_unstable();
        needed.dedup();
        let decoded = needed
            .par_iter()
            .map(|&c| decode(c))
            .collect::<Result<Vec<RgbImage>>>()?;
        let frame = |camera: usize| &decoded[needed.binary_search(&camera).expect("decoded")];
        let made: Vec<Result<Vec<(RgbImage, u32)>>> = batch
            .par_iter()
            .map(|job| match job {
                // Pushed straight from `decoded` below.
                Job::Camera { .. } => Ok(Vec::new()),
                Job::Pair { from, to, views } => {
                    let pair = PairFlow::compute(frame(*from), frame(*to), &opts.flow)?;
                    Ok(views
                        .iter()
                        .map(|&(t, held)| (pair.synthesize(t), held))
                        .collect())
                }
            })
            .collect();
        for (job, images) in batch.iter().zip(made) {
            for (img, held) in images? {
                writer.push(&img, held)?;
            }
            match job {
                Job::Camera { camera, held } => {
                    writer.push(frame(*camera), *held)?;
                    let c = &cams[*camera];
                    shots.push(CameraShot {
                        name: c.name.clone(),
                        source: c.path.clone(),
                        frame: indices[*camera],
                        held: *held,
                    });
                }
                Job::Pair { views, .. } => synthesized += views.len(),
            }
            progress.advance(1);
        }
    }
    progress.end();
    let frames = writer.frames();
    let output = writer.finish()?;
    Ok(RenderReport {
        output,
        codec,
        width: w,
        height: h,
        fps,
        frames,
        duration: fps.frames_to_seconds(frames as i64),
        synthesized,
        cameras: shots,
    })
}
