//! Camera calibration: chessboard detection, Zhang's initialisation and board calibration,
//! rig self-calibration from footage, camera model I/O (COLMAP text models, OpenCV YAML,
//! calibration.json).

pub mod board;
pub mod chessboard;
pub mod colmap;
pub mod middlebury;
pub mod opencv_yaml;
pub mod rig;
pub mod zhang;

use crate::camera::Camera;
use crate::error::{Error, Result};
use std::path::Path;

/// Loads a calibration of a whole rig: a calibration.json (from `timeslice calibrate rig`),
/// the folder holding one, a COLMAP text model folder (cameras.txt, images.txt), or a folder
/// with colmap/ in it. COLMAP cameras are named after their images (extension removed).
pub fn load_rig(path: &Path) -> Result<Vec<Camera>> {
    if !path.exists() {
        return Err(Error::NotFound(path.to_path_buf()));
    }
    if let Some(json) = calibration_json(path) {
        let rig = rig::calibration_json::read(&json)?;
        return Ok(rig.cameras.into_iter().map(|c| c.camera).collect());
    }
    if middlebury::is_par(path) {
        return middlebury::read_par(path);
    }
    let candidates = [path.to_path_buf(), path.join("colmap")];
    for dir in &candidates {
        if dir.join("cameras.txt").is_file() && dir.join("images.txt").is_file() {
            return colmap::read_text_model(dir);
        }
    }
    Err(Error::input(
        path,
        "not a calibration: expected calibration.json (timeslice calibrate rig), a folder with it, a COLMAP text model folder (cameras.txt and images.txt), or a Middlebury *_par.txt",
    ))
}

/// The rig order a calibration.json (or the folder holding one) records: every camera's name,
/// as given to `calibrate rig` or as found by `--order auto`. `None` for other formats, and
/// for files that do not record it.
pub fn rig_order(path: &Path) -> Result<Option<Vec<String>>> {
    let Some(json) = calibration_json(path) else {
        return Ok(None);
    };
    let order = rig::calibration_json::read(&json)?.order;
    Ok((!order.is_empty()).then_some(order))
}

/// `path` itself if it is a .json file, else the calibration.json in the folder `path`.
fn calibration_json(path: &Path) -> Option<std::path::PathBuf> {
    [path.to_path_buf(), path.join("calibration.json")]
        .into_iter()
        .find(|json| json.is_file() && json.extension().is_some_and(|e| e == "json"))
}

/// The calibration cameras in the order of `names` (a project's cameras): matched by name,
/// or by position when the names differ but the counts agree; scaled to `size` when the
/// calibration was made at another resolution of the same aspect.
pub fn match_cameras(
    calibration: &[Camera],
    names: &[String],
    size: (u32, u32),
    path: &Path,
) -> Result<Vec<Camera>> {
    let by_name: Option<Vec<Camera>> = names
        .iter()
        .map(|n| calibration.iter().find(|c| &c.name == n).cloned())
        .collect();
    let matched = match by_name {
        Some(v) => v,
        None if calibration.len() == names.len() => calibration.to_vec(),
        None => {
            let missing: Vec<&str> = names
                .iter()
                .filter(|n| !calibration.iter().any(|c| &c.name == *n))
                .map(|n| n.as_str())
                .collect();
            return Err(Error::input(
                path,
                format!(
                    "the calibration has no camera named {} (it has {} cameras); calibrate this rig or rename its cameras",
                    missing.join(", "),
                    calibration.len()
                ),
            ));
        }
    };
    matched
        .into_iter()
        .map(|c| {
            c.fitted(size).ok_or_else(|| {
                Error::input(
                    path,
                    format!(
                        "camera {} was calibrated at {}x{}, but the footage is {}x{}, another shape",
                        c.name, c.width, c.height, size.0, size.1
                    ),
                )
            })
        })
        .collect()
}
