//! OpenCV FileStorage YAML for one camera: what `calibrateCamera` samples write and
//! `cv2.FileStorage(path, cv2.FILE_STORAGE_READ)` reads.
//!
//! ```text
//! %YAML:1.0
//! ---
//! image_width: 1280
//! image_height: 960
//! camera_matrix: !!opencv-matrix
//!    rows: 3
//!    cols: 3
//!    dt: d
//!    data: [ 715.4, 0., 650.9, 0., 716.1, 449.6, 0., 0., 1. ]
//! distortion_coefficients: !!opencv-matrix
//!    rows: 5
//!    cols: 1
//!    dt: d
//!    data: [ -0.41, 0.23, 0.0002, 0.00001, -0.09 ]
//! avg_reprojection_error: 0.12
//! ```
//!
//! The reader understands the subset OpenCV writes for this: top-level scalars and
//! `!!opencv-matrix` maps whose `data` list may span lines; other keys are kept as text.
//! Numbers are written in Rust's shortest round-trip form, so write then read is exact.

use crate::camera::Intrinsics;
use crate::error::{Error, Result};
use crate::output::AtomicOutput;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// A camera as stored in an OpenCV calibration file.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraYaml {
    pub width: u32,
    pub height: u32,
    pub intrinsics: Intrinsics,
    /// RMS reprojection error in pixels (`avg_reprojection_error`, also written as `rms`).
    pub rms: Option<f64>,
    /// Inner corners (cols, rows) and square size of the board used, if known.
    pub board: Option<(u32, u32, f64)>,
    /// Number of views used, if known (`nr_of_frames`).
    pub views: Option<u32>,
}

/// A number in a form OpenCV's parser reads back exactly.
fn num(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains(['.', 'e', 'E']) || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.")
    }
}

fn matrix(out: &mut String, key: &str, rows: usize, cols: usize, data: &[f64]) {
    let _ = writeln!(out, "{key}: !!opencv-matrix");
    let _ = writeln!(out, "   rows: {rows}\n   cols: {cols}\n   dt: d");
    let vals: Vec<String> = data.iter().map(|&v| num(v)).collect();
    let _ = writeln!(out, "   data: [ {} ]", vals.join(", "));
}

impl CameraYaml {
    pub fn to_yaml(&self) -> String {
        let mut out = String::from("%YAML:1.0\n---\n");
        let _ = writeln!(out, "image_width: {}", self.width);
        let _ = writeln!(out, "image_height: {}", self.height);
        if let Some((c, r, s)) = self.board {
            let _ = writeln!(out, "board_width: {c}\nboard_height: {r}");
            let _ = writeln!(out, "square_size: {}", num(s));
        }
        if let Some(n) = self.views {
            let _ = writeln!(out, "nr_of_frames: {n}");
        }
        let k = &self.intrinsics;
        matrix(
            &mut out,
            "camera_matrix",
            3,
            3,
            &[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0],
        );
        matrix(&mut out, "distortion_coefficients", 5, 1, &k.dist);
        if let Some(rms) = self.rms {
            let _ = writeln!(out, "avg_reprojection_error: {}", num(rms));
            let _ = writeln!(out, "rms: {}", num(rms));
        }
        out
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let out = AtomicOutput::file(path)?;
        std::fs::write(out.path(), self.to_yaml())
            .map_err(|e| Error::output(path, format!("cannot write ({e})")))?;
        out.commit()
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(path, "cannot read the calibration file", e))?;
        Self::parse(&text).map_err(|msg| Error::input(path, msg))
    }

    /// Parses OpenCV FileStorage YAML; the error says what is missing or malformed.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let values = parse_top_level(text)?;
        let scalar = |key: &str| -> std::result::Result<Option<f64>, String> {
            match values.get(key) {
                None => Ok(None),
                Some(Value::Scalar(s)) => s
                    .trim_matches(['"', '\''])
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| format!("{key}: '{s}' is not a number")),
                Some(Value::Matrix { .. }) => Err(format!("{key}: expected a number")),
            }
        };
        let mat = |key: &str| -> std::result::Result<(usize, usize, Vec<f64>), String> {
            match values.get(key) {
                Some(Value::Matrix { rows, cols, data }) => Ok((*rows, *cols, data.clone())),
                _ => Err(format!(
                    "no {key} (an !!opencv-matrix); is this an OpenCV calibration file?"
                )),
            }
        };
        let size = |key: &str| -> std::result::Result<u32, String> {
            let v = scalar(key)?.ok_or_else(|| format!("no {key}"))?;
            if v >= 1.0 && v.fract() == 0.0 && v <= u32::MAX as f64 {
                Ok(v as u32)
            } else {
                Err(format!("{key}: {v} is not a positive whole number"))
            }
        };
        let (r, c, k) = mat("camera_matrix")?;
        if (r, c) != (3, 3) {
            return Err(format!("camera_matrix is {r}x{c}, expected 3x3"));
        }
        if k[1].abs() > 1e-9 * k[0].abs() {
            return Err("camera_matrix has skew; timeslice assumes none".into());
        }
        let (_, _, d) = mat("distortion_coefficients")?;
        if !matches!(d.len(), 4 | 5 | 8 | 12 | 14) {
            return Err(format!(
                "distortion_coefficients has {} values, expected 4, 5, 8, 12 or 14",
                d.len()
            ));
        }
        if d.iter().skip(5).any(|&v| v != 0.0) {
            return Err(
                "distortion_coefficients use OpenCV's rational or thin-prism terms; timeslice models k1, k2, p1, p2, k3 only"
                    .into(),
            );
        }
        let mut dist = [0.0; 5];
        for (o, v) in dist.iter_mut().zip(&d) {
            *o = *v;
        }
        let board = match (scalar("board_width")?, scalar("board_height")?) {
            (Some(c), Some(r)) => Some((c as u32, r as u32, scalar("square_size")?.unwrap_or(1.0))),
            _ => None,
        };
        Ok(CameraYaml {
            width: size("image_width")?,
            height: size("image_height")?,
            intrinsics: Intrinsics {
                fx: k[0],
                fy: k[4],
                cx: k[2],
                cy: k[5],
                dist,
            },
            rms: match scalar("avg_reprojection_error")? {
                Some(v) => Some(v),
                None => scalar("rms")?,
            },
            board,
            views: scalar("nr_of_frames")?.map(|v| v as u32),
        })
    }
}

#[derive(Debug, Clone)]
enum Value {
    Scalar(String),
    Matrix {
        rows: usize,
        cols: usize,
        data: Vec<f64>,
    },
}

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, ch) in line.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn parse_top_level(text: &str) -> std::result::Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines().map(strip_comment).enumerate().peekable();
    match lines.peek() {
        Some((_, l)) if l.trim_start().starts_with("%YAML") => {}
        _ => return Err("not OpenCV YAML (it must start with %YAML:1.0)".into()),
    }
    while let Some((n, line)) = lines.next() {
        let t = line.trim_end();
        if t.trim().is_empty() || t.starts_with('%') || t.trim() == "---" || t.trim() == "..." {
            continue;
        }
        if t.starts_with([' ', '\t']) {
            // Inside a map we do not model (anything but a matrix): skip.
            continue;
        }
        let (key, val) = t
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected 'key: value'", n + 1))?;
        let key = key.trim().to_string();
        let val = val.trim();
        if val.starts_with("!!opencv-matrix") {
            let (mut rows, mut cols, mut data) = (None, None, None);
            while let Some((n2, l)) = lines.peek().copied() {
                if !l.starts_with([' ', '\t']) && !l.trim().is_empty() {
                    break;
                }
                lines.next();
                let Some((k, v)) = l.trim().split_once(':') else {
                    continue;
                };
                let v = v.trim();
                match k.trim() {
                    "rows" => rows = v.parse::<usize>().ok(),
                    "cols" => cols = v.parse::<usize>().ok(),
                    "dt" => {}
                    "data" => {
                        let mut s = v.to_string();
                        while !s.contains(']') {
                            let Some((_, more)) = lines.next() else {
                                return Err(format!("{key}: data list is not closed with ]"));
                            };
                            s.push(' ');
                            s.push_str(more.trim());
                        }
                        let inner = s
                            .trim()
                            .strip_prefix('[')
                            .and_then(|s| s.split(']').next())
                            .ok_or_else(|| {
                                format!("line {}: {key}: data must be a [ list ]", n2 + 1)
                            })?;
                        let vals: std::result::Result<Vec<f64>, String> = inner
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| {
                                s.parse::<f64>()
                                    .map_err(|_| format!("{key}: '{s}' is not a number"))
                            })
                            .collect();
                        data = Some(vals?);
                    }
                    _ => {}
                }
            }
            let (Some(rows), Some(cols), Some(data)) = (rows, cols, data) else {
                return Err(format!(
                    "{key}: an !!opencv-matrix needs rows, cols and data"
                ));
            };
            if rows * cols != data.len() {
                return Err(format!(
                    "{key}: {rows}x{cols} matrix with {} values",
                    data.len()
                ));
            }
            out.insert(key, Value::Matrix { rows, cols, data });
        } else {
            out.insert(key, Value::Scalar(val.to_string()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back_exactly() {
        for v in [0.0, 1.0, -0.41174, 1e-7, 715.4081234567891, 2.5e20] {
            assert_eq!(num(v).parse::<f64>().unwrap(), v);
            assert!(num(v).contains(['.', 'e']));
        }
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        assert!(CameraYaml::parse("camera_matrix: 1")
            .unwrap_err()
            .contains("%YAML"));
        let e = CameraYaml::parse("%YAML:1.0\n---\nimage_width: 10\n").unwrap_err();
        assert!(e.contains("camera_matrix"), "{e}");
        let e = CameraYaml::parse(
            "%YAML:1.0\ncamera_matrix: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 0., 2. ]\n",
        )
        .unwrap_err();
        assert!(e.contains("3x3 matrix with 3 values"), "{e}");
    }
}
