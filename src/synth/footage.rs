//! Writes a generated rig to disk as camera footage: one H.264 MP4 per camera (or one PNG
//! still per camera), a project file in rig order, and the ground truth.

use super::{SampleRig, SampleSpec};
use crate::error::{Error, Result};
use crate::media::encode::{ClipWriter, Codec, EncodeSettings};
use crate::output::{save_image, AtomicOutput};
use crate::progress::Progress;
use crate::project::{CameraSource, Project, PROJECT_FILE};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Where `generate` put things.
#[derive(Clone, Debug)]
pub struct SampleOutput {
    /// Camera files in rig order.
    pub cameras: Vec<PathBuf>,
    pub project: PathBuf,
    /// truth.json
    pub truth: PathBuf,
    /// The COLMAP text model folder.
    pub colmap: PathBuf,
    pub event_frame: u32,
    pub event_time: f64,
}

/// What to write besides the cameras' footage.
#[derive(Clone, Copy, Debug, Default)]
pub struct SampleOptions {
    /// One PNG still per camera (at the event frame) instead of videos.
    pub stills: bool,
    /// Exact flow between neighbouring cameras at the event frame, with occlusion masks.
    pub truth_flow: bool,
    /// Ground-truth views rendered between each pair of neighbouring cameras (at the event
    /// frame, fractions k/(M+1)).
    pub truth_views: u32,
}

/// One ground-truth view between two cameras, as listed in truth/views/views.json.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TruthView {
    /// Camera names of the pair.
    pub a: String,
    pub b: String,
    /// 0 at `a`, 1 at `b`.
    pub fraction: f64,
    /// Image path relative to truth/views/.
    pub file: String,
    pub camera: super::TruthCamera,
}

/// Renders `spec` into `dir`: videos (or stills at the event frame), timeslice.toml, and
/// truth/ (truth.json, colmap/, and flow/ when asked).
pub fn generate(
    dir: &Path,
    spec: &SampleSpec,
    opts: SampleOptions,
    progress: &dyn Progress,
) -> Result<SampleOutput> {
    let stills = opts.stills;
    let sample = SampleRig::new(spec)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(dir, "cannot create the output folder", e))?;
    let names: Vec<String> = sample
        .rig()
        .cameras
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let files: Vec<PathBuf> = names
        .iter()
        .map(|n| {
            dir.join(if stills {
                format!("{n}.png")
            } else {
                format!("{n}.mp4")
            })
        })
        .collect();
    let frames = if stills { 1 } else { spec.frames };
    progress.begin("rendering cameras", (names.len() as u64) * frames as u64);
    // Cameras in parallel, each encoder on one thread: rendering a frame after the first is
    // cheap (only the flying ball is redrawn), so encoding dominates and spreads across cores.
    files
        .par_iter()
        .enumerate()
        .try_for_each(|(cam, path)| -> Result<()> {
            let renderer = sample.camera_renderer(cam);
            if stills {
                save_image(path, renderer.frame(sample.event_frame()).to_image())?;
                progress.advance(1);
                return Ok(());
            }
            let mut settings = EncodeSettings::new(Codec::H264, spec.width, spec.height, spec.fps);
            settings.threads = 1;
            settings.crf = Some(16);
            settings.speed = Some("fast".into());
            let mut writer = ClipWriter::create(path, settings)?;
            for f in 0..spec.frames {
                writer.push(&renderer.frame(f), 1)?;
                progress.advance(1);
            }
            writer.finish()?;
            Ok(())
        })?;
    progress.end();

    let truth_dir = dir.join("truth");
    sample.write_truth(&truth_dir)?;
    if opts.truth_flow {
        write_truth_flow(&sample, &truth_dir.join("flow"), progress)?;
    }
    if opts.truth_views > 0 {
        write_truth_views(
            &sample,
            &truth_dir.join("views"),
            opts.truth_views,
            progress,
        )?;
    }
    let project = Project {
        root: dir.to_path_buf(),
        layout: Some(spec.layout),
        arc_degrees: (spec.layout == crate::project::Layout::Arc).then_some(spec.arc_degrees),
        calibration: None,
        cameras: names
            .iter()
            .zip(&files)
            .map(|(n, f)| CameraSource {
                name: n.clone(),
                source: PathBuf::from(f.file_name().expect("named")),
                offset: 0,
                fps: None,
            })
            .collect(),
    };
    let project_path = dir.join(PROJECT_FILE);
    project.save(&project_path)?;
    Ok(SampleOutput {
        cameras: files,
        project: project_path,
        truth: truth_dir.join("truth.json"),
        colmap: truth_dir.join("colmap"),
        event_frame: if stills { 0 } else { sample.event_frame() },
        event_time: if stills { 0.0 } else { sample.event_time() },
    })
}

/// Neighbouring pairs in rig order; on a ring the last camera pairs with the first.
fn neighbour_pairs(sample: &SampleRig) -> Vec<(usize, usize)> {
    let n = sample.rig().cameras.len();
    let mut pairs: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
    if sample.spec().layout == crate::project::Layout::Ring && n > 2 {
        pairs.push((n - 1, 0));
    }
    pairs
}

/// Renders `m` views between each pair of neighbouring cameras at the event frame into
/// `dir/A-B/F.png` (F the fraction, e.g. 0.500) and lists them with their cameras in
/// `dir/views.json`.
fn write_truth_views(
    sample: &SampleRig,
    dir: &Path,
    m: u32,
    progress: &dyn Progress,
) -> Result<()> {
    let rig = sample.rig();
    let pairs = neighbour_pairs(sample);
    progress.begin("ground-truth views", pairs.len() as u64 * m as u64);
    let mut listed = Vec::new();
    for (a, b) in pairs {
        let (ca, cb) = (&rig.cameras[a], &rig.cameras[b]);
        let sub = format!("{}-{}", ca.name, cb.name);
        std::fs::create_dir_all(dir.join(&sub))
            .map_err(|e| Error::io(dir, "cannot create folder", e))?;
        for k in 1..=m {
            let t = k as f64 / (m + 1) as f64;
            let cam = crate::camera::interpolate(ca, cb, t, &rig.focus, &rig.up);
            let file = format!("{sub}/{t:.3}.png");
            let path = dir.join(&file);
            save_image(
                &path,
                sample.render_view(&cam, sample.event_frame()).to_image(),
            )?;
            listed.push(TruthView {
                a: ca.name.clone(),
                b: cb.name.clone(),
                fraction: t,
                file,
                camera: super::TruthCamera::from_camera(&cam),
            });
            progress.advance(1);
        }
    }
    progress.end();
    let json = dir.join("views.json");
    let out = AtomicOutput::file(&json)?;
    let text = serde_json::to_string_pretty(&listed).expect("views serialise");
    std::fs::write(out.path(), text).map_err(|e| Error::io(&json, "cannot write", e))?;
    out.commit()
}

/// Writes `A-B.flo` and `A-B-occlusion.png` (255 = not visible in B) for each pair of
/// neighbouring cameras at the event frame; on a ring the last camera pairs with the first.
fn write_truth_flow(sample: &SampleRig, dir: &Path, progress: &dyn Progress) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create folder", e))?;
    let cams = &sample.rig().cameras;
    let pairs = neighbour_pairs(sample);
    progress.begin("ground-truth flow", pairs.len() as u64);
    for (a, b) in pairs {
        let t = super::truth_flow::truth_flow(sample, &cams[a], &cams[b], sample.event_frame());
        let name = format!("{}-{}", cams[a].name, cams[b].name);
        let flo = dir.join(format!("{name}.flo"));
        crate::flow::write_flo(&flo, &t.flow)?;
        save_image(&dir.join(format!("{name}-occlusion.png")), t.mask_image())?;
        progress.advance(1);
    }
    progress.end();
    Ok(())
}
