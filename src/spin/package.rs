//! The spin package: what a product page serves, in one folder.
//!
//! ```text
//! PKG/spin.json                  frames in order (file, angle, shot), sizes, settings
//! PKG/frames/W/frame_000.jpg ... every frame at each width W (the full size first)
//! PKG/poster.jpg                 the first frame, full size
//! PKG/spin.mp4                   a seamless loop (H.264), at most 1280 wide
//! PKG/spin.webp, PKG/spin.gif    the loop animated, at the smallest width
//! PKG/sprite.jpg, sprite.json    every frame at the smallest width in one grid
//! PKG/index.html, PKG/viewer.js  a self-contained viewer (no network)
//! ```
//!
//! The package is written into a temporary folder beside PKG and renamed into place at the
//! end, so a partial package never sits under its final name.

use crate::error::{Error, Result};
use crate::frame::RgbImage;
use crate::media::encode::{ClipWriter, Codec, EncodeSettings};
use crate::output::AtomicOutput;
use crate::progress::Progress;
use crate::time::Rational;
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;

/// The viewer, embedded so the binary writes it with no file beside it.
pub const VIEWER_JS: &str = include_str!("viewer.js");

/// The frames' image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameFormat {
    Jpeg,
    Png,
}

impl FrameFormat {
    pub fn extension(self) -> &'static str {
        match self {
            FrameFormat::Jpeg => "jpg",
            FrameFormat::Png => "png",
        }
    }
}

/// How to write a package.
#[derive(Clone, Debug)]
pub struct PackageOptions {
    /// Frame widths besides the full size (wider ones than the frames are dropped).
    pub widths: Vec<u32>,
    pub format: FrameFormat,
    /// JPEG quality, 1-100.
    pub quality: u8,
    /// The loop video's and animations' frame rate.
    pub fps: Rational,
    /// Whether to write spin.mp4, spin.webp and spin.gif.
    pub animations: bool,
}

impl Default for PackageOptions {
    fn default() -> Self {
        PackageOptions {
            widths: vec![1000, 500],
            format: FrameFormat::Jpeg,
            quality: 90,
            fps: Rational::new(24, 1),
            animations: true,
        }
    }
}

/// One output frame as spin.json lists it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FrameEntry {
    /// The full-size frame, relative to the package.
    pub file: String,
    /// Degrees from the first shot.
    pub angle: f64,
    /// The source shot's file name when the frame is that shot unchanged, else null.
    pub shot: Option<String>,
}

#[derive(Serialize)]
struct Sprite {
    file: String,
    columns: u32,
    rows: u32,
    frame_width: u32,
    frame_height: u32,
}

#[derive(Serialize)]
struct SpinJson<'a> {
    version: u32,
    frames: &'a [FrameEntry],
    width: u32,
    height: u32,
    /// Every width written, largest first; `pattern` names a frame of any of them.
    sizes: Vec<u32>,
    pattern: String,
    format: FrameFormat,
    full_turn: bool,
    arc_degrees: f64,
    poster: &'static str,
    video: Option<&'static str>,
    animations: Vec<&'static str>,
    sprite: Sprite,
    settings: &'a serde_json::Value,
}

/// What the package holds, besides the frames, for spin.json.
pub struct SpinInfo<'a> {
    pub angles: &'a [f64],
    /// Per frame, the shot's file name when it is that shot unchanged.
    pub shots: &'a [Option<String>],
    pub full_turn: bool,
    pub arc_degrees: f64,
    /// The options the spin was made with, recorded as given.
    pub settings: serde_json::Value,
}

/// The frames' file name in a size folder.
fn frame_name(k: usize, ext: &str) -> String {
    format!("frame_{k:03}.{ext}")
}

/// Writes the package of `frames` (all one size) into `out`, atomically.
pub fn write(
    out: &Path,
    frames: &[RgbImage],
    info: &SpinInfo,
    opts: &PackageOptions,
    progress: &dyn Progress,
) -> Result<Vec<FrameEntry>> {
    let (w, h) = (frames[0].width, frames[0].height);
    if frames.iter().any(|f| (f.width, f.height) != (w, h)) {
        return Err(Error::usage("the spin's frames differ in size"));
    }
    let mut sizes = vec![w];
    let mut smaller: Vec<u32> = opts
        .widths
        .iter()
        .copied()
        .filter(|&s| s < w && s >= 16)
        .collect();
    smaller.sort_unstable_by(|a, b| b.cmp(a));
    smaller.dedup();
    sizes.extend(smaller);
    let ext = opts.format.extension();
    let pkg = AtomicOutput::dir(out)?;
    let dir = pkg.path();
    progress.begin("writing the package", (frames.len() * sizes.len()) as u64);
    for &size in &sizes {
        let sub = dir.join("frames").join(size.to_string());
        std::fs::create_dir_all(&sub).map_err(|e| Error::io(&sub, "cannot create", e))?;
        let sh = scaled_height(w, h, size);
        frames.par_iter().enumerate().try_for_each(|(k, f)| {
            let img = super::resize(f, size, sh);
            save(&sub.join(frame_name(k, ext)), &img, opts)?;
            progress.advance(1);
            Ok::<(), Error>(())
        })?;
    }
    progress.end();
    save_jpeg(&dir.join("poster.jpg"), &frames[0], opts.quality)?;

    // The sprite sheet: every frame at the smallest width, in rows.
    let small = *sizes.last().expect("one size at least");
    let (sw, sh) = (small, scaled_height(w, h, small));
    let columns = (frames.len() as f64).sqrt().ceil() as u32;
    let rows = (frames.len() as u32).div_ceil(columns);
    let mut sheet = image::RgbImage::new(columns * sw, rows * sh);
    for (k, f) in frames.iter().enumerate() {
        let tile = super::resize(f, sw, sh).to_image();
        let (c, r) = (k as u32 % columns, k as u32 / columns);
        image::imageops::replace(&mut sheet, &tile, (c * sw) as i64, (r * sh) as i64);
    }
    save_jpeg(
        &dir.join("sprite.jpg"),
        &RgbImage::from_image(sheet),
        opts.quality,
    )?;
    let sprite = Sprite {
        file: "sprite.jpg".into(),
        columns,
        rows,
        frame_width: sw,
        frame_height: sh,
    };
    std::fs::write(
        dir.join("sprite.json"),
        serde_json::to_string_pretty(&sprite).expect("serialises"),
    )
    .map_err(|e| Error::io(dir.join("sprite.json"), "cannot write", e))?;

    let mut animations = Vec::new();
    let mut video = None;
    if opts.animations {
        // The loop video at most 1280 wide; even sizes for yuv420p.
        let vw = sizes.iter().copied().find(|&s| s <= 1280).unwrap_or(small) & !1;
        let vh = scaled_height(w, h, vw) & !1;
        let mut mp4 = EncodeSettings::new(Codec::H264, vw.max(16), vh.max(16), opts.fps);
        mp4.crf = Some(20);
        mp4.faststart = true;
        let (aw, ah) = (sw & !1, sh & !1);
        let jobs = [
            ("spin.mp4", mp4),
            (
                "spin.webp",
                EncodeSettings::new(Codec::Webp, aw.max(16), ah.max(16), opts.fps),
            ),
            (
                "spin.gif",
                EncodeSettings::new(Codec::Gif, aw.max(16), ah.max(16), opts.fps),
            ),
        ];
        // The three encoders side by side: each is mostly one thread.
        jobs.into_par_iter()
            .map(|(name, s)| encode(&dir.join(name), s, frames))
            .collect::<Result<Vec<()>>>()?;
        video = Some("spin.mp4");
        animations.extend(["spin.webp", "spin.gif"]);
    }

    let entries: Vec<FrameEntry> = (0..frames.len())
        .map(|k| FrameEntry {
            file: format!("frames/{w}/{}", frame_name(k, ext)),
            angle: (info.angles[k] * 1e6).round() / 1e6,
            shot: info.shots[k].clone(),
        })
        .collect();
    let json = SpinJson {
        version: 1,
        frames: &entries,
        width: w,
        height: h,
        sizes: sizes.clone(),
        pattern: format!("frames/{{w}}/frame_{{i}}.{ext}"),
        format: opts.format,
        full_turn: info.full_turn,
        arc_degrees: info.arc_degrees,
        poster: "poster.jpg",
        video,
        animations,
        sprite,
        settings: &info.settings,
    };
    std::fs::write(
        dir.join("spin.json"),
        serde_json::to_string_pretty(&json).expect("serialises"),
    )
    .map_err(|e| Error::io(dir.join("spin.json"), "cannot write", e))?;
    std::fs::write(dir.join("viewer.js"), VIEWER_JS)
        .map_err(|e| Error::io(dir.join("viewer.js"), "cannot write", e))?;
    std::fs::write(
        dir.join("index.html"),
        index_html(frames.len(), &sizes, w, h, ext, info.full_turn),
    )
    .map_err(|e| Error::io(dir.join("index.html"), "cannot write", e))?;
    pkg.commit()?;
    Ok(entries)
}

/// The height of a frame `w` x `h` scaled to `width` (at least 1).
fn scaled_height(w: u32, h: u32, width: u32) -> u32 {
    ((h as u64 * width as u64 + w as u64 / 2) / w as u64).max(1) as u32
}

fn encode(path: &Path, settings: EncodeSettings, frames: &[RgbImage]) -> Result<()> {
    let mut writer = ClipWriter::create(path, settings)?;
    for f in frames {
        writer.push(f, 1)?;
    }
    writer.finish()?;
    Ok(())
}

fn save(path: &Path, img: &RgbImage, opts: &PackageOptions) -> Result<()> {
    match opts.format {
        FrameFormat::Jpeg => save_jpeg(path, img, opts.quality),
        FrameFormat::Png => img
            .to_image()
            .save_with_format(path, image::ImageFormat::Png)
            .map_err(|e| Error::output(path, format!("cannot write PNG ({e})"))),
    }
}

fn save_jpeg(path: &Path, img: &RgbImage, quality: u8) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, "cannot create", e))?;
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(
        std::io::BufWriter::new(file),
        quality.clamp(1, 100),
    );
    enc.encode(
        &img.data,
        img.width,
        img.height,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| Error::output(path, format!("cannot write JPEG ({e})")))
}

/// The viewer page: one element whose data-attributes describe the spin, and viewer.js.
/// Everything is relative to the package, so the page works from disk (file://) too, where
/// a browser would refuse to fetch spin.json.
pub fn index_html(count: usize, sizes: &[u32], w: u32, h: u32, ext: &str, full: bool) -> String {
    let sizes: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>360-degree view</title>
<style>
  html, body {{ margin: 0; background: #fff; font-family: system-ui, sans-serif; }}
  main {{ max-width: 1000px; margin: 0 auto; padding: 16px; }}
</style>
</head>
<body>
<main>
  <div class="timeslice-spin" data-pattern="frames/{{w}}/frame_{{i}}.{ext}" data-count="{count}"
       data-sizes="{sizes}" data-width="{w}" data-height="{h}" data-loop="{full}"
       data-autospin="ccw" data-speed="12" aria-label="360-degree view of the product"></div>
</main>
<script src="viewer.js"></script>
</body>
</html>
"#,
        sizes = sizes.join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_heights_round() {
        assert_eq!(scaled_height(2000, 1500, 500), 375);
        assert_eq!(scaled_height(640, 481, 320), 241);
        assert_eq!(scaled_height(100, 1, 10), 1);
    }

    #[test]
    fn the_page_describes_the_spin() {
        let html = index_html(72, &[2000, 1000, 500], 2000, 1500, "jpg", true);
        assert!(html.contains(r#"data-pattern="frames/{w}/frame_{i}.jpg""#));
        assert!(html.contains(r#"data-count="72""#));
        assert!(html.contains(r#"data-sizes="2000,1000,500""#));
        assert!(html.contains(r#"data-loop="true""#));
        assert!(
            !html.contains("http"),
            "the page loads nothing from the network"
        );
    }
}
