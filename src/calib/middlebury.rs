//! The Middlebury multi-view camera file (`*_par.txt`, Seitz et al., "A Comparison and
//! Evaluation of Multi-View Stereo Reconstruction Algorithms", CVPR 2006): a count, then one
//! line per image, `name k11..k33 r11..r33 t1 t2 t3`, with x = K (R X + t). The images sit
//! beside it (their sizes are read from them).

use crate::camera::{Camera, Intrinsics, Pose};
use crate::error::{Error, Result};
use nalgebra::{Matrix3, Rotation3, UnitQuaternion, Vector3};
use std::path::Path;

/// Whether `path` looks like a Middlebury camera file.
pub fn is_par(path: &Path) -> bool {
    path.is_file()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("_par.txt"))
}

/// Reads the cameras of a `*_par.txt` file, named by their images' file stems.
pub fn read_par(path: &Path) -> Result<Vec<Camera>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "reading", e))?;
    let bad = |what: &str| Error::input(path, format!("not a Middlebury camera file: {what}"));
    let mut cams = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() != 22 {
            return Err(bad("a line without name, K (9), R (9) and t (3)"));
        }
        let v: Vec<f64> = f[1..]
            .iter()
            .map(|s| s.parse().map_err(|_| bad("a number that does not parse")))
            .collect::<Result<_>>()?;
        let r = Matrix3::from_row_slice(&v[9..18]);
        let image = path.with_file_name(f[0]);
        let (width, height) = image::image_dimensions(&image)
            .map_err(|e| Error::input(&image, format!("cannot read the image's size: {e}")))?;
        let rotation = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(r));
        cams.push(Camera {
            name: Path::new(f[0])
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(f[0])
                .to_string(),
            width,
            height,
            intrinsics: Intrinsics {
                fx: v[0],
                fy: v[4],
                cx: v[2],
                cy: v[5],
                dist: [0.0; 5],
            },
            pose: Pose {
                rotation,
                translation: Vector3::new(v[18], v[19], v[20]),
            },
        });
    }
    if cams.is_empty() {
        return Err(bad("no cameras"));
    }
    Ok(cams)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cameras_with_their_images_sizes() {
        let d = tempfile::tempdir().unwrap();
        image::RgbImage::new(64, 48)
            .save(d.path().join("view0001.png"))
            .unwrap();
        // A camera turned 90 degrees about y, 2 units back.
        let par = d.path().join("scene_par.txt");
        std::fs::write(
            &par,
            "1\nview0001.png 100 0 31.5 0 101 23.5 0 0 1 0 0 -1 0 1 0 1 0 0 0.5 -0.25 2\n",
        )
        .unwrap();
        assert!(is_par(&par));
        let cams = crate::calib::load_rig(&par).unwrap();
        assert_eq!(cams.len(), 1);
        let c = &cams[0];
        assert_eq!((c.name.as_str(), c.width, c.height), ("view0001", 64, 48));
        assert_eq!((c.intrinsics.fx, c.intrinsics.fy), (100.0, 101.0));
        assert_eq!((c.intrinsics.cx, c.intrinsics.cy), (31.5, 23.5));
        let r = c.pose.rotation_matrix();
        assert!((r[(0, 2)] + 1.0).abs() < 1e-12 && (r[(2, 0)] - 1.0).abs() < 1e-12);
        assert_eq!(c.pose.translation, Vector3::new(0.5, -0.25, 2.0));
        // A point in front of it lands where K (R X + t) says.
        let p = c.project(&nalgebra::Point3::new(1.0, 0.0, 0.0)).unwrap();
        assert!((p.x - (100.0 * 0.5 / 3.0 + 31.5)).abs() < 1e-9, "{p:?}");
        assert!((p.y - (101.0 * -0.25 / 3.0 + 23.5)).abs() < 1e-9, "{p:?}");
        // A line that is not a camera is refused, naming the file.
        std::fs::write(&par, "1\nview0001.png 1 2 3\n").unwrap();
        let e = read_par(&par).unwrap_err().to_string();
        assert!(e.contains("scene_par.txt"), "{e}");
    }
}
