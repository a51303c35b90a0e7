//! COLMAP text models (`cameras.txt`, `images.txt`, `points3D.txt`): writing our cameras for
//! COLMAP and other tools, and reading a COLMAP reconstruction back as cameras.
//!
//! The format, one record per line, `#` comments:
//! - `cameras.txt`: `CAMERA_ID MODEL WIDTH HEIGHT PARAMS...`. Models read here:
//!   `SIMPLE_PINHOLE f cx cy`, `PINHOLE fx fy cx cy`, `SIMPLE_RADIAL f cx cy k`,
//!   `RADIAL f cx cy k1 k2`, `OPENCV fx fy cx cy k1 k2 p1 p2` and
//!   `FULL_OPENCV fx fy cx cy k1 k2 p1 p2 k3 k4 k5 k6` (k4..k6 must be zero: our model has no
//!   rational denominator). We write PINHOLE when there is no distortion, OPENCV when k3 is
//!   zero and FULL_OPENCV otherwise, one camera per image.
//! - `images.txt`: two lines per image, `IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`, then
//!   the 2D points `X Y POINT3D_ID ...` (we write it empty and ignore it when reading). The
//!   quaternion (Hamilton, w first) and translation are world-to-camera, exactly our [`Pose`].
//! - `points3D.txt`: the sparse points; we write only the header.
//!
//! Pixel centres: COLMAP puts the centre of the top-left pixel at (0.5, 0.5), we put it at
//! (0, 0) (see `camera.rs`), so `cx_colmap = cx + 0.5` and `cy_colmap = cy + 0.5`; both
//! directions convert. Focal lengths and distortion are unaffected.
//!
//! Camera names are the image NAME without its extension (`cam01.png` -> `cam01`), and cameras
//! are returned in IMAGE_ID order.

use crate::camera::{Camera, Intrinsics, Pose};
use crate::error::{Error, Result};
use nalgebra::{Quaternion, UnitQuaternion, Vector3};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// COLMAP's pixel-centre offset relative to ours.
const PIXEL_SHIFT: f64 = 0.5;

/// Writes `cameras.txt`, `images.txt` and `points3D.txt` into `dir` (created if missing): one
/// COLMAP camera and one image per entry of `cameras`, named by `image_names`.
pub fn write_text_model(dir: &Path, cameras: &[Camera], image_names: &[String]) -> Result<()> {
    if cameras.len() != image_names.len() {
        return Err(Error::output(
            dir,
            format!(
                "cannot write a COLMAP model: {} cameras but {} image names",
                cameras.len(),
                image_names.len()
            ),
        ));
    }
    if let Some(bad) = image_names
        .iter()
        .find(|n| n.is_empty() || n.contains(char::is_whitespace))
    {
        return Err(Error::output(
            dir,
            format!(
                "cannot write a COLMAP model: image name '{bad}' is empty or contains whitespace"
            ),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "cannot create directory", e))?;

    let mut cams = String::from(
        "# Camera list with one line of data per camera:\n\
         #   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n",
    );
    let _ = writeln!(cams, "# Number of cameras: {}", cameras.len());
    let mut images = String::from(
        "# Image list with two lines of data per image:\n\
         #   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n\
         #   POINTS2D[] as (X, Y, POINT3D_ID)\n",
    );
    let _ = writeln!(
        images,
        "# Number of images: {}, mean observations per image: 0",
        cameras.len()
    );
    for (i, (cam, name)) in cameras.iter().zip(image_names).enumerate() {
        let id = i + 1;
        let k = &cam.intrinsics;
        let (cx, cy) = (k.cx + PIXEL_SHIFT, k.cy + PIXEL_SHIFT);
        let [k1, k2, p1, p2, k3] = k.dist;
        let (model, params): (&str, Vec<f64>) = if k.dist == [0.0; 5] {
            ("PINHOLE", vec![k.fx, k.fy, cx, cy])
        } else if k3 == 0.0 {
            ("OPENCV", vec![k.fx, k.fy, cx, cy, k1, k2, p1, p2])
        } else {
            (
                "FULL_OPENCV",
                vec![k.fx, k.fy, cx, cy, k1, k2, p1, p2, k3, 0.0, 0.0, 0.0],
            )
        };
        let _ = write!(cams, "{id} {model} {} {}", cam.width, cam.height);
        for p in params {
            let _ = write!(cams, " {p}");
        }
        cams.push('\n');
        let q = cam.pose.rotation.quaternion();
        let t = &cam.pose.translation;
        // `{}` prints the shortest decimal that parses back to the same f64: exact round trips.
        let _ = writeln!(
            images,
            "{id} {} {} {} {} {} {} {} {id} {name}\n",
            q.w, q.i, q.j, q.k, t.x, t.y, t.z
        );
    }
    let points = "# 3D point list with one line of data per point:\n\
                  #   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n\
                  # Number of points: 0, mean track length: 0\n";

    write_atomic(&dir.join("cameras.txt"), &cams)?;
    write_atomic(&dir.join("images.txt"), &images)?;
    write_atomic(&dir.join("points3D.txt"), points)
}

/// Writes through a temporary file beside the target and renames it into place, so a failed
/// write never leaves a truncated file under the real name.
fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, contents).map_err(|e| Error::io(&tmp, "cannot write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(
            path,
            "cannot write (rename of the temporary file failed)",
            e,
        )
    })
}

/// One parsed `cameras.txt` record.
struct ColmapCamera {
    width: u32,
    height: u32,
    intrinsics: Intrinsics,
}

/// Reads `cameras.txt` and `images.txt` from `dir` into cameras (IMAGE_ID order).
pub fn read_text_model(dir: &Path) -> Result<Vec<Camera>> {
    let cam_path = dir.join("cameras.txt");
    let img_path = dir.join("images.txt");
    let cam_text =
        std::fs::read_to_string(&cam_path).map_err(|e| Error::io(&cam_path, "cannot read", e))?;
    let img_text =
        std::fs::read_to_string(&img_path).map_err(|e| Error::io(&img_path, "cannot read", e))?;

    let mut models = HashMap::new();
    for (n, line) in cam_text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |msg: String| Error::input(&cam_path, format!("line {}: {msg}", n + 1));
        let (id, cam) = parse_camera_line(line).map_err(bad)?;
        if models.insert(id, cam).is_some() {
            return Err(bad(format!("camera {id} is defined twice")));
        }
    }

    let mut cameras: Vec<(u64, Camera)> = Vec::new();
    let mut lines = img_text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |msg: String| Error::input(&img_path, format!("line {}: {msg}", n + 1));
        let (id, pose, camera_id, name) = parse_image_line(line).map_err(bad)?;
        let model = models.get(&camera_id).ok_or_else(|| {
            bad(format!(
                "image {id} uses camera {camera_id}, which cameras.txt does not define"
            ))
        })?;
        if cameras.iter().any(|(other, _)| *other == id) {
            return Err(bad(format!("image {id} is defined twice")));
        }
        cameras.push((
            id,
            Camera {
                name: strip_extension(&name).to_string(),
                width: model.width,
                height: model.height,
                intrinsics: model.intrinsics,
                pose,
            },
        ));
        // The POINTS2D line always follows its image line, even when empty (COLMAP reads it
        // unconditionally), so consume it here rather than skipping blank lines into the
        // next image.
        lines.next();
    }
    if cameras.is_empty() {
        return Err(Error::input(
            &img_path,
            "no images in the model; is this a COLMAP text model?",
        ));
    }
    cameras.sort_by_key(|(id, _)| *id);
    Ok(cameras.into_iter().map(|(_, c)| c).collect())
}

fn parse_numbers(fields: &[&str]) -> std::result::Result<Vec<f64>, String> {
    fields
        .iter()
        .map(|f| {
            f.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("'{f}' is not a number"))
        })
        .collect()
}

fn parse_camera_line(line: &str) -> std::result::Result<(u64, ColmapCamera), String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 4 {
        return Err("expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...".into());
    }
    let id: u64 = f[0]
        .parse()
        .map_err(|_| format!("bad CAMERA_ID '{}'", f[0]))?;
    let width: u32 = f[2]
        .parse()
        .ok()
        .filter(|&w| w > 0)
        .ok_or_else(|| format!("bad WIDTH '{}'", f[2]))?;
    let height: u32 = f[3]
        .parse()
        .ok()
        .filter(|&h| h > 0)
        .ok_or_else(|| format!("bad HEIGHT '{}'", f[3]))?;
    let model = f[1];
    let p = parse_numbers(&f[4..])?;
    let expected = match model {
        "SIMPLE_PINHOLE" => 3,
        "PINHOLE" => 4,
        "SIMPLE_RADIAL" => 4,
        "RADIAL" => 5,
        "OPENCV" => 8,
        "FULL_OPENCV" => 12,
        other => {
            return Err(format!(
            "camera model {other} is not supported; use SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, \
                 RADIAL, OPENCV or FULL_OPENCV (re-run COLMAP's image_undistorter for others)"
        ))
        }
    };
    if p.len() != expected {
        return Err(format!(
            "{model} takes {expected} parameters, found {}",
            p.len()
        ));
    }
    // (fx, fy, cx, cy, dist) in COLMAP's pixel convention.
    let (fx, fy, cx, cy, dist) = match model {
        "SIMPLE_PINHOLE" => (p[0], p[0], p[1], p[2], [0.0; 5]),
        "PINHOLE" => (p[0], p[1], p[2], p[3], [0.0; 5]),
        "SIMPLE_RADIAL" => (p[0], p[0], p[1], p[2], [p[3], 0.0, 0.0, 0.0, 0.0]),
        "RADIAL" => (p[0], p[0], p[1], p[2], [p[3], p[4], 0.0, 0.0, 0.0]),
        "OPENCV" => (p[0], p[1], p[2], p[3], [p[4], p[5], p[6], p[7], 0.0]),
        _ => {
            if p[9..12].iter().any(|&k| k != 0.0) {
                return Err(
                    "FULL_OPENCV with k4, k5 or k6 non-zero (rational distortion) is not supported"
                        .into(),
                );
            }
            (p[0], p[1], p[2], p[3], [p[4], p[5], p[6], p[7], p[8]])
        }
    };
    if fx <= 0.0 || fy <= 0.0 {
        return Err(format!("focal length must be positive, found {fx} {fy}"));
    }
    Ok((
        id,
        ColmapCamera {
            width,
            height,
            intrinsics: Intrinsics {
                fx,
                fy,
                cx: cx - PIXEL_SHIFT,
                cy: cy - PIXEL_SHIFT,
                dist,
            },
        },
    ))
}

fn parse_image_line(line: &str) -> std::result::Result<(u64, Pose, u64, String), String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return Err("expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME".into());
    }
    if f.len() > 10 {
        return Err(format!(
            "image name with spaces is not supported: '{}'",
            f[9..].join(" ")
        ));
    }
    let id: u64 = f[0]
        .parse()
        .map_err(|_| format!("bad IMAGE_ID '{}'", f[0]))?;
    let v = parse_numbers(&f[1..8])?;
    let camera_id: u64 = f[8]
        .parse()
        .map_err(|_| format!("bad CAMERA_ID '{}'", f[8]))?;
    let q = Quaternion::new(v[0], v[1], v[2], v[3]);
    if (q.norm() - 1.0).abs() > 1e-3 {
        return Err(format!(
            "quaternion ({} {} {} {}) is not unit length",
            v[0], v[1], v[2], v[3]
        ));
    }
    let pose = Pose {
        rotation: UnitQuaternion::from_quaternion(q),
        translation: Vector3::new(v[4], v[5], v[6]),
    };
    Ok((id, pose, camera_id, f[9].to_string()))
}

/// `cam01.png` -> `cam01`; a dot inside a folder name is not an extension.
fn strip_extension(name: &str) -> &str {
    let file_start = name.rfind('/').map_or(0, |i| i + 1);
    match name[file_start..].rfind('.') {
        Some(dot) if dot > 0 => &name[..file_start + dot],
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;
    use std::path::PathBuf;

    /// A fresh empty directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "timeslice-colmap-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn camera(name: &str, eye: [f64; 3], dist: [f64; 5]) -> Camera {
        let mut intrinsics = Intrinsics::centred(1920, 1080, 1500.0);
        intrinsics.fy = 1502.25;
        intrinsics.cx += 3.3;
        intrinsics.dist = dist;
        Camera {
            name: name.into(),
            width: 1920,
            height: 1080,
            intrinsics,
            pose: Pose::look_at(
                Point3::new(eye[0], eye[1], eye[2]),
                Point3::new(0.1, -0.2, 1.0),
                Vector3::z(),
            ),
        }
    }

    fn assert_close(a: &Camera, b: &Camera) {
        assert_eq!(a.name, b.name);
        assert_eq!((a.width, a.height), (b.width, b.height));
        let (ka, kb) = (&a.intrinsics, &b.intrinsics);
        for (x, y) in [
            (ka.fx, kb.fx),
            (ka.fy, kb.fy),
            (ka.cx, kb.cx),
            (ka.cy, kb.cy),
        ] {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
        for (x, y) in ka.dist.iter().zip(&kb.dist) {
            assert!((x - y).abs() < 1e-9);
        }
        assert!(a.pose.rotation.angle_to(&b.pose.rotation) < 1e-9);
        assert!((a.pose.translation - b.pose.translation).norm() < 1e-9);
    }

    #[test]
    fn round_trip_pinhole_opencv_and_full_opencv() {
        let dir = TempDir::new("rt");
        let cams = vec![
            camera("cam01", [8.0, 0.0, 1.6], [0.0; 5]),
            camera("cam02", [0.0, 8.0, 1.6], [-0.12, 0.03, 0.001, -0.0005, 0.0]),
            camera("cam03", [-5.0, -6.0, 2.0], [-0.1, 0.02, 0.0, 0.0, -0.004]),
        ];
        let names: Vec<String> = cams.iter().map(|c| format!("{}.png", c.name)).collect();
        write_text_model(&dir.0, &cams, &names).unwrap();
        let text = std::fs::read_to_string(dir.0.join("cameras.txt")).unwrap();
        assert!(text.contains("1 PINHOLE 1920 1080 "));
        assert!(text.contains("2 OPENCV 1920 1080 "));
        assert!(text.contains("3 FULL_OPENCV 1920 1080 "));
        let points = std::fs::read_to_string(dir.0.join("points3D.txt")).unwrap();
        assert!(
            points.starts_with("# 3D point list") && points.lines().all(|l| l.starts_with('#'))
        );
        let images = std::fs::read_to_string(dir.0.join("images.txt")).unwrap();
        assert!(images.contains(" 1 cam01.png\n\n"));
        let back = read_text_model(&dir.0).unwrap();
        assert_eq!(back.len(), 3);
        for (a, b) in cams.iter().zip(&back) {
            assert_close(a, b);
        }
        // No temporary files left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn principal_point_is_shifted_by_half_a_pixel() {
        // Writing: our centred principal point (959.5, 539.5) is COLMAP's (960, 540).
        let dir = TempDir::new("shift-w");
        let mut cam = camera("a", [8.0, 0.0, 1.6], [0.0; 5]);
        cam.intrinsics = Intrinsics::centred(1920, 1080, 1500.0);
        write_text_model(&dir.0, &[cam], &["a.jpg".to_string()]).unwrap();
        let text = std::fs::read_to_string(dir.0.join("cameras.txt")).unwrap();
        assert!(
            text.contains("\n1 PINHOLE 1920 1080 1500 1500 960 540\n"),
            "{text}"
        );

        // Reading a hand-written model: COLMAP's (320, 240) is our (319.5, 239.5).
        let dir = TempDir::new("shift-r");
        std::fs::write(
            dir.0.join("cameras.txt"),
            "# hand written\n7 SIMPLE_RADIAL 640 480 500 320 240 -0.05\n",
        )
        .unwrap();
        std::fs::write(
            dir.0.join("images.txt"),
            "# header\n\n3 1 0 0 0 0.5 -1 2 7 shots/left.cam.jpg\n100 200 -1 300 400 5\n",
        )
        .unwrap();
        let cams = read_text_model(&dir.0).unwrap();
        assert_eq!(cams.len(), 1);
        let c = &cams[0];
        assert_eq!(c.name, "shots/left.cam");
        assert_eq!((c.width, c.height), (640, 480));
        assert_eq!((c.intrinsics.fx, c.intrinsics.fy), (500.0, 500.0));
        assert_eq!((c.intrinsics.cx, c.intrinsics.cy), (319.5, 239.5));
        assert_eq!(c.intrinsics.dist, [-0.05, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(c.pose.translation, Vector3::new(0.5, -1.0, 2.0));
        assert!(c.pose.rotation.angle() < 1e-12);
    }

    #[test]
    fn other_models_are_read() {
        let dir = TempDir::new("models");
        std::fs::write(
            dir.0.join("cameras.txt"),
            "1 SIMPLE_PINHOLE 100 80 90 50 40\n2 RADIAL 100 80 90 50 40 0.1 0.01\n",
        )
        .unwrap();
        // Images out of order and with blank POINTS2D lines: returned in IMAGE_ID order.
        std::fs::write(
            dir.0.join("images.txt"),
            "2 1 0 0 0 0 0 0 2 b.png\n\n1 1 0 0 0 0 0 0 1 a.png\n\n",
        )
        .unwrap();
        let cams = read_text_model(&dir.0).unwrap();
        assert_eq!(cams[0].name, "a");
        assert_eq!(cams[0].intrinsics.cx, 49.5);
        assert_eq!(cams[1].name, "b");
        assert_eq!(cams[1].intrinsics.dist, [0.1, 0.01, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn malformed_lines_name_the_file_and_line() {
        let dir = TempDir::new("bad");
        let images = "# c\n1 1 0 0 0 0 0 0 1 a.png\n\n";
        for (cams, needle) in [
            (
                "# c\n1 PINHOLE 100 80 90 90\n",
                "cameras.txt: line 2: PINHOLE takes 4",
            ),
            (
                "1 FISHEYE 100 80 1 2 3 4\n",
                "line 1: camera model FISHEYE is not supported",
            ),
            ("1 PINHOLE 100 x 90 90 50 40\n", "line 1: bad HEIGHT 'x'"),
            ("1 PINHOLE 100 80 90 nan 50 40\n", "'nan' is not a number"),
            (
                "1 FULL_OPENCV 100 80 90 90 50 40 0 0 0 0 0 0.1 0 0\n",
                "k4, k5 or k6",
            ),
        ] {
            std::fs::write(dir.0.join("cameras.txt"), cams).unwrap();
            std::fs::write(dir.0.join("images.txt"), images).unwrap();
            let e = read_text_model(&dir.0).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
            assert!(matches!(read_text_model(&dir.0), Err(Error::Input { .. })));
        }
        std::fs::write(dir.0.join("cameras.txt"), "1 PINHOLE 100 80 90 90 50 40\n").unwrap();
        for (images, needle) in [
            (
                "\n1 1 0 0 0 0 0 0 1\n\n",
                "images.txt: line 2: expected IMAGE_ID",
            ),
            (
                "1 1 0 0 0 0 0 0 9 a.png\n\n",
                "line 1: image 1 uses camera 9",
            ),
            ("1 2 0 0 0 0 0 0 1 a.png\n\n", "not unit length"),
            ("# nothing\n", "no images"),
        ] {
            std::fs::write(dir.0.join("images.txt"), images).unwrap();
            let e = read_text_model(&dir.0).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        let missing = read_text_model(&dir.0.join("nope")).unwrap_err();
        assert!(matches!(missing, Error::NotFound(_)), "{missing}");
    }

    #[test]
    fn writer_rejects_mismatched_names() {
        let dir = TempDir::new("names");
        let cams = vec![camera("a", [8.0, 0.0, 1.6], [0.0; 5])];
        assert!(write_text_model(&dir.0, &cams, &[]).is_err());
        assert!(write_text_model(&dir.0, &cams, &["a b.png".to_string()]).is_err());
    }
}
