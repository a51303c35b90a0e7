//! Cameras that are still images: one image per camera (a DSLR array), or a folder of
//! numbered images per camera (frame N is the N-th file in natural order).

use super::{FrameSource, SourceInfo, SourceKind, IMAGE_EXTENSIONS};
use crate::error::{Error, Result};
use crate::frame::RgbImage;
use crate::natsort::natural_cmp;
use std::path::{Path, PathBuf};

/// Reads an image file as RGB8.
pub fn read_image(path: &Path) -> Result<RgbImage> {
    if !path.exists() {
        return Err(Error::NotFound(path.to_path_buf()));
    }
    let img = image::open(path).map_err(|e| {
        Error::input(
            path,
            format!("cannot read image ({e}); the file is corrupt or not a PNG/JPEG"),
        )
    })?;
    Ok(RgbImage::from_image(img.to_rgb8()))
}

fn dimensions(path: &Path) -> Result<(u32, u32)> {
    image::image_dimensions(path).map_err(|e| {
        Error::input(
            path,
            format!("cannot read image ({e}); the file is corrupt or not a PNG/JPEG"),
        )
    })
}

fn still_info(path: &Path, kind: SourceKind, w: u32, h: u32, count: u64) -> SourceInfo {
    let codec = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| match e.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => "jpeg".to_string(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    SourceInfo {
        path: path.to_path_buf(),
        kind,
        width: w,
        height: h,
        fps: None,
        frame_count: count,
        duration: 0.0,
        codec,
        pixel_format: "rgb24".into(),
        timecode: None,
        audio: false,
    }
}

/// One still image: every frame index returns it (a still camera is frozen at every time).
pub struct StillSource {
    info: SourceInfo,
    image: Option<RgbImage>,
}

impl StillSource {
    pub fn open(path: &Path) -> Result<Self> {
        let (w, h) = dimensions(path)?;
        Ok(StillSource {
            info: still_info(path, SourceKind::Still, w, h, 1),
            image: None,
        })
    }
}

impl FrameSource for StillSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn frame(&mut self, _index: i64) -> Result<RgbImage> {
        if self.image.is_none() {
            self.image = Some(read_image(&self.info.path)?);
        }
        Ok(self.image.clone().expect("loaded"))
    }
}

/// Lists the image files of a folder in natural order.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "cannot read folder", e))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && super::has_extension(p, IMAGE_EXTENSIONS))
        .collect();
    files.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    Ok(files)
}

/// A folder of numbered images, one per frame.
pub struct SequenceSource {
    info: SourceInfo,
    files: Vec<PathBuf>,
}

impl SequenceSource {
    pub fn open(dir: &Path) -> Result<Self> {
        let files = list_images(dir)?;
        let first = files.first().ok_or_else(|| {
            Error::input(
                dir,
                "folder holds no PNG or JPEG images; give a folder of numbered images",
            )
        })?;
        let (w, h) = dimensions(first)?;
        let mut info = still_info(first, SourceKind::Sequence, w, h, files.len() as u64);
        info.path = dir.to_path_buf();
        Ok(SequenceSource { info, files })
    }
}

impl FrameSource for SequenceSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn frame(&mut self, index: i64) -> Result<RgbImage> {
        let file = usize::try_from(index)
            .ok()
            .and_then(|i| self.files.get(i))
            .ok_or_else(|| {
                Error::usage(format!(
                    "{}: frame {index} is outside the sequence (frames 0..{}); pick a frame inside it",
                    self.info.path.display(),
                    self.files.len() - 1
                ))
            })?;
        let img = read_image(file)?;
        if (img.width, img.height) != (self.info.width, self.info.height) {
            return Err(Error::input(
                file,
                format!(
                    "image is {}x{} but the sequence is {}x{}; every image of a camera must have the same size",
                    img.width, img.height, self.info.width, self.info.height
                ),
            ));
        }
        Ok(img)
    }
}
