//! The project file, `timeslice.toml`: the cameras in rig order, each with its source and a
//! frame offset (added to the frame index computed from a time, to line the cameras up), and
//! optionally the rig layout and a calibration to use.
//!
//! Every command also accepts a footage folder or a list of files directly; [`Project::from_inputs`]
//! turns those into the same structure. File names sort naturally (cam2 before cam10).

use crate::error::{Error, Result};
use crate::media::{self, has_extension, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS};
use crate::natsort::natural_cmp;
use crate::output::AtomicOutput;
use crate::time::Rational;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const PROJECT_FILE: &str = "timeslice.toml";

/// Ring (closed, 360 degrees) or arc (open).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Ring,
    Arc,
}

/// One camera of the rig.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraSource {
    pub name: String,
    /// Video file, still image, or folder of numbered images; relative to the project file.
    pub source: PathBuf,
    /// Frames added to this camera's index for a given time (positive: this camera started
    /// recording earlier than the others).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset: i64,
    /// Frame rate for image folders, which carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<Rational>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// A rig: cameras in order, and where paths are relative to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Folder that relative sources are resolved against (the project file's folder).
    #[serde(skip)]
    pub root: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// How far round the subject an arc reaches, in degrees (cameras evenly spaced over it),
    /// so that an orbit's pace can be given in degrees per second without a calibration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arc_degrees: Option<f64>,
    /// A calibration to use (calibration.json, its folder, or a COLMAP text model folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<PathBuf>,
    #[serde(rename = "camera", default)]
    pub cameras: Vec<CameraSource>,
}

impl Project {
    /// Absolute (or root-relative) path of a camera's source.
    pub fn source_path(&self, cam: &CameraSource) -> PathBuf {
        if cam.source.is_absolute() {
            cam.source.clone()
        } else {
            self.root.join(&cam.source)
        }
    }

    pub fn load(path: &Path) -> Result<Project> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(path, "cannot read project file", e))?;
        let mut p: Project = toml::from_str(&text).map_err(|e| {
            Error::input(
                path,
                format!(
                    "invalid project file: {}",
                    e.to_string().lines().next().unwrap_or("")
                ),
            )
        })?;
        p.root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if p.root.as_os_str().is_empty() {
            p.root = PathBuf::from(".");
        }
        Ok(p)
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("project serialises");
        format!("# timeslice project: cameras in rig order (see README, 'Project file').\n{body}")
    }

    /// Writes the project file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let out = AtomicOutput::file(path)?;
        std::fs::write(out.path(), self.to_toml())
            .map_err(|e| Error::io(path, "cannot write", e))?;
        out.commit()
    }

    /// A project from what the user typed: a project file, a folder (holding a project file,
    /// or footage), or several camera sources in rig order.
    pub fn from_inputs(inputs: &[PathBuf]) -> Result<Project> {
        let project = match inputs {
            [] => {
                return Err(Error::usage(
                    "no cameras given: pass a project file, a footage folder, or camera files",
                ))
            }
            [one] => {
                if !one.exists() {
                    return Err(Error::NotFound(one.clone()));
                }
                if one.is_file() && has_extension(one, &["toml"]) {
                    Project::load(one)?
                } else if one.is_dir() && one.join(PROJECT_FILE).is_file() {
                    Project::load(&one.join(PROJECT_FILE))?
                } else if one.is_dir() {
                    Project::scan(one)?
                } else {
                    Project::from_files(inputs)?
                }
            }
            many => Project::from_files(many)?,
        };
        project.check()?;
        Ok(project)
    }

    fn from_files(files: &[PathBuf]) -> Result<Project> {
        let mut cameras = Vec::new();
        for f in files {
            if !f.exists() {
                return Err(Error::NotFound(f.clone()));
            }
            cameras.push(CameraSource {
                name: camera_name(f),
                source: f.clone(),
                offset: 0,
                fps: None,
            });
        }
        dedup_names(&mut cameras);
        Ok(Project {
            root: PathBuf::from("."),
            layout: None,
            arc_degrees: None,
            calibration: None,
            cameras,
        })
    }

    /// Finds the cameras in a footage folder: video files, still images, and sub-folders of
    /// images, in natural order of their names. Hidden entries are skipped.
    pub fn scan(dir: &Path) -> Result<Project> {
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "cannot read folder", e))?;
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
        let mut cameras = Vec::new();
        for p in entries {
            let hidden = p
                .file_name()
                .map(|n| n.to_string_lossy().starts_with('.'))
                .unwrap_or(true);
            if hidden {
                continue;
            }
            let is_camera = if p.is_dir() {
                !media::stills::list_images(&p)?.is_empty()
            } else {
                has_extension(&p, VIDEO_EXTENSIONS) || has_extension(&p, IMAGE_EXTENSIONS)
            };
            if is_camera {
                cameras.push(CameraSource {
                    name: camera_name(&p),
                    source: PathBuf::from(p.file_name().expect("entry has a name")),
                    offset: 0,
                    fps: None,
                });
            }
        }
        dedup_names(&mut cameras);
        Ok(Project {
            root: dir.to_path_buf(),
            layout: None,
            arc_degrees: None,
            calibration: None,
            cameras,
        })
    }

    /// At least two cameras, distinct names.
    pub fn check(&self) -> Result<()> {
        match self.cameras.len() {
            0 => Err(Error::usage(format!(
                "{}: no cameras found; put video files or images there, or list camera files",
                self.root.display()
            ))),
            1 => Err(Error::usage(format!(
                "only one camera ({}); a bullet-time clip needs at least two: add cameras",
                self.cameras[0].name
            ))),
            _ => Ok(()),
        }
    }
}

fn camera_name(p: &Path) -> String {
    p.file_stem()
        .or_else(|| p.file_name())
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "camera".into())
}

/// Makes camera names unique (cam.mp4 and cam.mov both named "cam").
fn dedup_names(cams: &mut [CameraSource]) {
    for i in 1..cams.len() {
        let mut n = 2;
        let base = cams[i].name.clone();
        while cams[..i].iter().any(|c| c.name == cams[i].name) {
            cams[i].name = format!("{base}-{n}");
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip() {
        let p = Project {
            root: PathBuf::from("."),
            layout: Some(Layout::Arc),
            arc_degrees: None,
            calibration: Some(PathBuf::from("calib/calibration.json")),
            cameras: vec![
                CameraSource {
                    name: "cam1".into(),
                    source: "cam1.mp4".into(),
                    offset: 0,
                    fps: None,
                },
                CameraSource {
                    name: "cam2".into(),
                    source: "stills/cam2".into(),
                    offset: -3,
                    fps: Some(Rational::new(30000, 1001)),
                },
            ],
        };
        let text = p.to_toml();
        assert!(text.contains("fps = \"30000/1001\""), "{text}");
        let back: Project = toml::from_str(&text).unwrap();
        assert_eq!(back.cameras, p.cameras);
        assert_eq!(back.layout, p.layout);
        assert_eq!(back.calibration, p.calibration);
    }

    #[test]
    fn scan_sorts_naturally_and_skips_non_cameras() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "cam10.mp4",
            "cam2.mp4",
            "cam1.mp4",
            "notes.txt",
            ".hidden.mp4",
        ] {
            std::fs::write(d.path().join(n), b"").unwrap();
        }
        std::fs::create_dir(d.path().join("colmap")).unwrap();
        std::fs::write(d.path().join("colmap/cameras.txt"), b"").unwrap();
        std::fs::create_dir(d.path().join("cam3")).unwrap();
        image::RgbImage::new(4, 4)
            .save(d.path().join("cam3/0001.png"))
            .unwrap();
        let p = Project::scan(d.path()).unwrap();
        let names: Vec<_> = p.cameras.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["cam1", "cam2", "cam3", "cam10"]);
    }

    #[test]
    fn one_camera_is_a_usage_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.mp4"), b"").unwrap();
        let e = Project::from_inputs(&[d.path().to_path_buf()]).unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains("at least two"), "{e}");
    }
}
