//! Media I/O: probing and decoding camera sources, and encoding clips.
//!
//! Every input kind is an adapter behind one trait, [`FrameSource`] (as in gifski): a video
//! file decoded by FFmpeg with frame-accurate seeking ([`decode::VideoSource`]), a single still
//! image, or a folder of numbered images ([`stills`]). Encoding lives in [`encode`], delivery
//! presets (broadcast, web, social) in [`preset`].

pub mod colour;
pub mod decode;
pub mod encode;
mod palette;
pub mod preset;
pub mod stills;

pub use encode::{ClipWriter, Codec, EncodeSettings};
pub use preset::{crop_rect, OutputOverrides, OutputPreset, SourceFormat};

use crate::error::{Error, Result};
use crate::frame::RgbImage;
use crate::time::Rational;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// File extensions read as still images.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];
/// File extensions read as video when scanning a folder (any file can be given explicitly).
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "mov", "mkv", "m4v", "avi", "webm", "mxf", "ts", "mts", "m2ts", "y4m",
];

pub fn has_extension(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
        .unwrap_or(false)
}

/// Initialises FFmpeg once per process and keeps its own logging quiet: errors reach the user
/// through our messages, which name the camera.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        ffmpeg_next::init().expect("FFmpeg initialises");
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    });
}

/// What kind of source a camera is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Video,
    Still,
    Sequence,
}

/// What `probe` reports about one source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceInfo {
    pub path: PathBuf,
    pub kind: SourceKind,
    pub width: u32,
    pub height: u32,
    /// Frame rate; `None` for a still or an image folder without a rate.
    pub fps: Option<Rational>,
    pub frame_count: u64,
    /// Seconds; 0 for a still.
    pub duration: f64,
    pub codec: String,
    pub pixel_format: String,
    /// Start timecode (HH:MM:SS:FF) when the container carries one.
    pub timecode: Option<String>,
    pub audio: bool,
}

impl SourceInfo {
    /// Start timecode in frames since midnight, when present.
    pub fn timecode_frames(&self) -> Option<i64> {
        crate::time::parse_timecode(self.timecode.as_deref()?, self.fps?)
    }
}

/// A camera's frames, addressed by index. Stills have one frame that every index returns.
pub trait FrameSource: Send {
    fn info(&self) -> &SourceInfo;
    /// Decodes frame `index` (0-based, in presentation order) as RGB.
    fn frame(&mut self, index: i64) -> Result<RgbImage>;
}

/// Opens a camera source: a folder of images, a still image, or a video file.
pub fn open(path: &Path) -> Result<Box<dyn FrameSource>> {
    if !path.exists() {
        return Err(Error::NotFound(path.to_path_buf()));
    }
    if path.is_dir() {
        return Ok(Box::new(stills::SequenceSource::open(path)?));
    }
    if has_extension(path, IMAGE_EXTENSIONS) {
        return Ok(Box::new(stills::StillSource::open(path)?));
    }
    Ok(Box::new(decode::VideoSource::open(path)?))
}

/// How many of a video's frames have their data in the file: the video stream's packets
/// read through to the end, without decoding (a few milliseconds per second of footage). A
/// file cut short in a copy keeps its header, which still promises every frame; this finds
/// what is really there. Stills and image folders: their frame count.
pub fn frames_present(path: &Path) -> Result<u64> {
    if path.is_dir() || has_extension(path, IMAGE_EXTENSIONS) {
        return Ok(probe(path)?.frame_count);
    }
    decode::packets_present(path)
}

/// Probes a source without decoding more than needed.
pub fn probe(path: &Path) -> Result<SourceInfo> {
    Ok(open(path)?.info().clone())
}
