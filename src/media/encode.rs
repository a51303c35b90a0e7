//! Encoding clips: H.264, HEVC and ProRes through FFmpeg (libx264, libx265, prores_ks),
//! animated GIF (our palette, FFmpeg's gif encoder) and WebP (libwebp_anim), or a numbered PNG
//! or JPEG (mjpeg) sequence. Presets that fill [`EncodeSettings`] live in [`super::preset`].
//!
//! Encoder threads are set explicitly (libx264 on FFmpeg 5.1 is single-threaded otherwise),
//! every packet carries its duration, MP4/MOV get `+faststart` and an optional start timecode
//! (tmcd track). Colour: video is converted and tagged BT.709 limited range, JPEG as JFIF
//! (BT.601 full range), GIF/WebP/PNG stay full-range RGB (libwebp does its own BT.601
//! conversion, which every WebP decoder assumes).
//! Output goes to a temporary file that is renamed into place by [`ClipWriter::finish`].

use super::colour::{self, Converter};
use crate::error::{Error, Result};
use crate::frame::RgbImage;
use crate::output::AtomicOutput;
use crate::time::Rational;
use ff::format::Pixel;
use ff::util::color;
use ff::util::frame::Video as AvFrame;
use ffmpeg_next as ff;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Output codecs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// H.264 (libx264), yuv420p, MP4/MOV/MKV.
    H264,
    /// HEVC (libx265), yuv420p, MP4/MOV/MKV.
    Hevc,
    /// Apple ProRes 422 HQ (prores_ks), yuv422p10, MOV.
    Prores,
    /// A numbered PNG sequence in a folder.
    Png,
    /// An animated GIF (one global palette, Floyd-Steinberg dithering).
    Gif,
    /// An animated WebP (libwebp_anim).
    Webp,
    /// A numbered JPEG sequence in a folder.
    Jpeg,
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Codec {
    /// Chooses a codec from the output name when none is given: a folder or no extension
    /// means PNG, `.gif` and `.webp` their formats, anything else (`.mov` too) H.264.
    pub fn from_path(path: &Path) -> Codec {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            None => Codec::Png,
            Some("gif") => Codec::Gif,
            Some("webp") => Codec::Webp,
            Some(_) => Codec::H264,
        }
    }

    /// The name used on the command line (`--codec`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::Hevc => "hevc",
            Codec::Prores => "prores",
            Codec::Png => "png",
            Codec::Gif => "gif",
            Codec::Webp => "webp",
            Codec::Jpeg => "jpeg",
        }
    }

    /// A folder of numbered images rather than one file.
    pub fn is_sequence(self) -> bool {
        matches!(self, Codec::Png | Codec::Jpeg)
    }

    /// A YUV video codec tagged BT.709 limited range.
    fn is_video(self) -> bool {
        matches!(self, Codec::H264 | Codec::Hevc | Codec::Prores)
    }

    fn encoder_name(self) -> &'static str {
        match self {
            Codec::H264 => "libx264",
            Codec::Hevc => "libx265",
            Codec::Prores => "prores_ks",
            Codec::Png => "png",
            Codec::Gif => "gif",
            Codec::Webp => "libwebp_anim",
            Codec::Jpeg => "mjpeg",
        }
    }

    /// The pixel format written unless [`EncodeSettings::pixel_format`] says otherwise.
    pub fn default_pixel(self) -> Pixel {
        match self {
            Codec::H264 | Codec::Hevc => Pixel::YUV420P,
            Codec::Prores => Pixel::YUV422P10LE,
            Codec::Png => Pixel::RGB24,
            Codec::Gif => Pixel::PAL8,
            // libwebp converts RGB to its own YUV (BT.601 limited, as WebP decoders expect).
            Codec::Webp => Pixel::BGRA,
            // JFIF: full-range BT.601 YCbCr.
            Codec::Jpeg => Pixel::YUVJ420P,
        }
    }

    /// The pixel formats each codec can write.
    pub fn pixels(self) -> &'static [Pixel] {
        match self {
            Codec::H264 => &[Pixel::YUV420P, Pixel::YUV422P, Pixel::YUV444P],
            Codec::Hevc => &[Pixel::YUV420P, Pixel::YUV420P10LE, Pixel::YUV422P10LE],
            Codec::Prores => &[Pixel::YUV422P10LE, Pixel::YUV444P10LE],
            Codec::Png => &[Pixel::RGB24],
            Codec::Gif => &[Pixel::PAL8],
            Codec::Webp => &[Pixel::BGRA],
            Codec::Jpeg => &[Pixel::YUVJ420P, Pixel::YUVJ444P],
        }
    }
}

/// What to encode.
#[derive(Clone, Debug)]
pub struct EncodeSettings {
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    pub fps: Rational,
    /// Constant rate factor for H.264/HEVC (default 18 / 22). H.264/HEVC only.
    pub crf: Option<u32>,
    /// Target bitrate in bits/s for H.264/HEVC instead of CRF (maxrate 1.5x, buffer 2x).
    pub bitrate: Option<u64>,
    /// Quality 1-100 for JPEG (default 92) and WebP (default 90).
    pub quality: Option<u32>,
    /// Encoder profile: H.264 "high" (the default for yuv420p), "main", "baseline"; HEVC
    /// "main"/"main10"; ProRes "proxy", "lt", "standard", "hq" (default), "4444".
    pub profile: Option<String>,
    /// Output pixel format; [`Codec::default_pixel`] when `None`, one of [`Codec::pixels`].
    pub pixel_format: Option<Pixel>,
    /// Start timecode "HH:MM:SS:FF" (drop-frame "HH:MM:SS;FF" at 29.97/59.94), written as a
    /// tmcd track in MOV/MP4.
    pub timecode: Option<String>,
    /// MP4/MOV: move the index to the front so playback starts before the download ends.
    pub faststart: bool,
    /// x264/x265 speed preset (default "medium").
    pub speed: Option<String>,
    /// Encoder threads; 0 means one per core.
    pub threads: usize,
    /// Keyframe interval in frames (encoder default when `None`).
    pub gop: Option<u32>,
    /// Extra encoder AVOptions, e.g. ("x264-params", "open-gop=1").
    pub options: Vec<(String, String)>,
}

impl EncodeSettings {
    pub fn new(codec: Codec, width: u32, height: u32, fps: Rational) -> Self {
        EncodeSettings {
            codec,
            width,
            height,
            fps,
            crf: None,
            bitrate: None,
            quality: None,
            profile: None,
            pixel_format: None,
            timecode: None,
            faststart: true,
            speed: None,
            threads: 0,
            gop: None,
            options: Vec::new(),
        }
    }

    /// The pixel format that will be written.
    pub fn pixel(&self) -> Pixel {
        self.pixel_format.unwrap_or(self.codec.default_pixel())
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default()
}

fn container_for(path: &Path, codec: Codec) -> Result<&'static str> {
    let ext = extension(path);
    match codec {
        Codec::Gif | Codec::Webp => {
            if ext != codec.name() {
                return Err(Error::usage(format!(
                    "{}: --codec {codec} writes a .{codec} file; name the output .{codec}",
                    path.display()
                )));
            }
            return Ok(codec.name());
        }
        Codec::Png | Codec::Jpeg => {
            return Err(Error::usage(format!(
                "{}: --codec {codec} writes a folder of images, not a file",
                path.display()
            )))
        }
        _ => {}
    }
    let fmt = match ext.as_str() {
        "mp4" | "m4v" => "mp4",
        "mov" => "mov",
        "mkv" => "matroska",
        _ => {
            return Err(Error::usage(format!(
                "{}: unknown output type '.{ext}'; use .mp4, .mov or .mkv, .gif, .webp, or a folder for --codec png/jpeg",
                path.display()
            )))
        }
    };
    if codec == Codec::Prores && fmt == "mp4" {
        return Err(Error::usage(format!(
            "{}: ProRes goes in a QuickTime file; name the output .mov",
            path.display()
        )));
    }
    Ok(fmt)
}

/// A start timecode: hours, minutes, seconds, frames, drop-frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timecode {
    pub h: u32,
    pub m: u32,
    pub s: u32,
    pub f: u32,
    pub drop: bool,
}

impl std::fmt::Display for Timecode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.drop { ';' } else { ':' };
        write!(
            f,
            "{:02}:{:02}:{:02}{sep}{:02}",
            self.h, self.m, self.s, self.f
        )
    }
}

/// Parses and checks a start timecode for a frame rate: "HH:MM:SS:FF", or drop-frame
/// "HH:MM:SS;FF" (only at 30000/1001 and 60000/1001).
pub fn parse_start_timecode(tc: &str, fps: Rational) -> Result<Timecode> {
    let bad = |why: &str| {
        Error::usage(format!(
            "--timecode {tc}: {why}; give HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame at 29.97/59.94 fps"
        ))
    };
    let drop = tc.contains(';');
    let parts: Vec<&str> = tc.split([':', ';']).collect();
    if parts.len() != 4
        || tc.matches(';').count() > 1
        || (drop && tc.rfind(';') != tc.rfind([':', ';']))
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("not a timecode"));
    }
    let n: Vec<u32> = parts.iter().map(|p| p.parse().expect("digits")).collect();
    let base = fps.timecode_base() as u32;
    if n[0] > 23 || n[1] > 59 || n[2] > 59 {
        return Err(bad("hours, minutes or seconds out of range"));
    }
    if n[3] >= base {
        return Err(bad(&format!("frame {} does not exist at {fps} fps", n[3])));
    }
    if drop && !fps.is_drop_frame_rate() {
        return Err(bad(&format!(
            "drop-frame timecode needs 29.97 or 59.94 fps, not {fps}"
        )));
    }
    if drop && n[2] == 0 && !n[1].is_multiple_of(10) && n[3] < base / 15 {
        return Err(bad("this frame number is skipped in drop-frame timecode"));
    }
    Ok(Timecode {
        h: n[0],
        m: n[1],
        s: n[2],
        f: n[3],
        drop,
    })
}

/// Validates an output path and settings before any work is done.
pub fn check_output(path: &Path, settings: &EncodeSettings) -> Result<()> {
    let codec = settings.codec;
    if !codec.is_sequence() {
        container_for(path, codec)?;
    } else if !extension(path).is_empty() && !path.is_dir() {
        return Err(Error::usage(format!(
            "{}: --codec {codec} writes a folder of numbered images; give a folder name without an extension",
            path.display()
        )));
    }
    if codec.is_video() && (!settings.width.is_multiple_of(2) || !settings.height.is_multiple_of(2))
    {
        return Err(Error::usage(format!(
            "output size {}x{} must be even for {codec}; pass --size with even numbers",
            settings.width, settings.height
        )));
    }
    if settings.width < 16 || settings.height < 16 {
        return Err(Error::usage(format!(
            "output size {}x{} is too small; use at least 16x16",
            settings.width, settings.height
        )));
    }
    let x26x = matches!(codec, Codec::H264 | Codec::Hevc);
    if let Some(crf) = settings.crf {
        if !x26x {
            return Err(Error::usage(format!(
                "--crf applies to h264 and hevc, not {codec}{}",
                if matches!(codec, Codec::Jpeg | Codec::Webp) {
                    "; use --quality"
                } else {
                    ""
                }
            )));
        }
        if crf > 51 {
            return Err(Error::usage(format!(
                "--crf {crf} is out of range; use 0 (lossless) to 51 (worst), 18-23 is typical"
            )));
        }
    }
    if let Some(b) = settings.bitrate {
        if !x26x {
            return Err(Error::usage(format!(
                "--bitrate applies to h264 and hevc, not {codec}"
            )));
        }
        if settings.crf.is_some() {
            return Err(Error::usage(
                "give either --crf (constant quality) or --bitrate (target rate), not both",
            ));
        }
        if b < 10_000 {
            return Err(Error::usage(format!(
                "--bitrate {b} is in bits per second and too low; e.g. 8000000 for 8 Mbit/s"
            )));
        }
    }
    if let Some(q) = settings.quality {
        if !matches!(codec, Codec::Jpeg | Codec::Webp) {
            return Err(Error::usage(format!(
                "--quality applies to jpeg and webp, not {codec}{}",
                if x26x { "; use --crf or --bitrate" } else { "" }
            )));
        }
        if !(1..=100).contains(&q) {
            return Err(Error::usage(format!(
                "--quality {q} is out of range; use 1 to 100"
            )));
        }
    }
    if settings.profile.is_some() && !codec.is_video() {
        return Err(Error::usage(format!(
            "an encoder profile applies to h264, hevc and prores, not {codec}"
        )));
    }
    let pix = settings.pixel();
    if !codec.pixels().contains(&pix) {
        let names: Vec<String> = codec
            .pixels()
            .iter()
            .map(|p| super::decode::pixel_name(*p))
            .collect();
        return Err(Error::usage(format!(
            "pixel format {} is not available for {codec}; use one of {}",
            super::decode::pixel_name(pix),
            names.join(", ")
        )));
    }
    if let Some(tc) = &settings.timecode {
        let fmt = if codec.is_video() {
            container_for(path, codec)?
        } else {
            ""
        };
        if fmt != "mov" && fmt != "mp4" {
            return Err(Error::usage(format!(
                "{}: a timecode is written only into .mov or .mp4 files",
                path.display()
            )));
        }
        parse_start_timecode(tc, settings.fps)?;
    }
    Ok(())
}

/// Receives the clip's frames in order and writes them atomically.
pub struct ClipWriter {
    inner: Inner,
    settings: EncodeSettings,
    frames: u64,
}

enum Inner {
    Video(Box<VideoEncoder>),
    Png {
        out: AtomicOutput,
    },
    Jpeg(Box<JpegSequence>),
    /// GIF frames wait (fitted, 8-bit RGB) until `finish`, which builds one palette for all.
    Gif {
        enc: Box<VideoEncoder>,
        frames: Vec<(RgbImage, u32)>,
    },
}

impl ClipWriter {
    pub fn create(path: &Path, settings: EncodeSettings) -> Result<Self> {
        check_output(path, &settings)?;
        let inner = match settings.codec {
            Codec::Png => Inner::Png {
                out: AtomicOutput::dir(path)?,
            },
            Codec::Jpeg => Inner::Jpeg(Box::new(JpegSequence::create(path, &settings)?)),
            Codec::Gif => Inner::Gif {
                enc: Box::new(VideoEncoder::create(path, &settings)?),
                frames: Vec::new(),
            },
            _ => Inner::Video(Box::new(VideoEncoder::create(path, &settings)?)),
        };
        Ok(ClipWriter {
            inner,
            settings,
            frames: 0,
        })
    }

    pub fn settings(&self) -> &EncodeSettings {
        &self.settings
    }

    /// Appends `image`, shown for `repeat` output frames. Images of another size are scaled
    /// to cover the output and centre-cropped (never stretched).
    pub fn push(&mut self, image: &RgbImage, repeat: u32) -> Result<()> {
        if repeat == 0 {
            return Ok(());
        }
        let (w, h) = (self.settings.width, self.settings.height);
        match &mut self.inner {
            Inner::Video(enc) => enc.push(image, repeat)?,
            Inner::Jpeg(seq) => seq.push(image, repeat, self.frames)?,
            Inner::Gif { frames, .. } => {
                let fitted = fit_cover(image, w, h);
                match frames.last_mut() {
                    // A held frame pushed again only lengthens the previous one.
                    Some((last, n)) if *last == fitted => *n += repeat,
                    _ => frames.push((fitted, repeat)),
                }
            }
            Inner::Png { out } => {
                let fitted = fit_cover(image, w, h);
                let dir = out.path().to_path_buf();
                let start = self.frames;
                (0..repeat as u64).into_par_iter().try_for_each(|i| {
                    let p = dir.join(format!("frame_{:06}.png", start + i));
                    fitted
                        .to_image()
                        .save(&p)
                        .map_err(|e| Error::output(&p, format!("cannot write PNG ({e})")))
                })?;
            }
        }
        self.frames += repeat as u64;
        Ok(())
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes the encoder and moves the output into place.
    pub fn finish(self) -> Result<PathBuf> {
        match self.inner {
            Inner::Video(enc) => enc.finish(),
            Inner::Jpeg(seq) => seq.finish(),
            Inner::Gif { mut enc, frames } => {
                let images: Vec<&RgbImage> = frames.iter().map(|(f, _)| f).collect();
                let palette = super::palette::build(&images);
                let mapper = super::palette::Mapper::new(&palette);
                let indexed: Vec<Vec<u8>> = images.par_iter().map(|f| mapper.dither(f)).collect();
                for (idx, (_, repeat)) in indexed.iter().zip(&frames) {
                    enc.push_indexed(idx, &palette, *repeat)?;
                }
                enc.finish()
            }
            Inner::Png { out } => {
                let target = out.target().to_path_buf();
                out.commit()?;
                Ok(target)
            }
        }
    }
}

/// Scales `img` to cover `w`x`h` and crops the centre (same aspect ratio: a plain resize).
pub fn fit_cover(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.width == w && img.height == h {
        return img.clone();
    }
    let (cw, ch) = cover_crop(img.width, img.height, w, h);
    let cropped = crop(img, (img.width - cw) / 2, (img.height - ch) / 2, cw, ch);
    let resized = image::imageops::resize(
        &cropped.to_image(),
        w,
        h,
        image::imageops::FilterType::CatmullRom,
    );
    RgbImage::from_image(resized)
}

/// The largest centred crop of a `sw`x`sh` image with the aspect ratio of `w`x`h`.
fn cover_crop(sw: u32, sh: u32, w: u32, h: u32) -> (u32, u32) {
    // Compare sw/sh with w/h in integers.
    if sw as u64 * h as u64 > sh as u64 * w as u64 {
        (((sh as u64 * w as u64) / h as u64).max(1) as u32, sh)
    } else {
        (sw, ((sw as u64 * h as u64) / w as u64).max(1) as u32)
    }
}

fn crop(img: &RgbImage, x0: u32, y0: u32, w: u32, h: u32) -> RgbImage {
    if (x0, y0, w, h) == (0, 0, img.width, img.height) {
        return img.clone();
    }
    let mut data = Vec::with_capacity(w as usize * h as usize * 3);
    let row = img.width as usize * 3;
    for y in y0..y0 + h {
        let start = y as usize * row + x0 as usize * 3;
        data.extend_from_slice(&img.data[start..start + w as usize * 3]);
    }
    RgbImage::from_raw(w, h, data)
}

/// The matrix and range a codec's pictures are converted with and tagged as: BT.709 limited
/// for video, JFIF (BT.601 full range) for JPEG, full-range RGB for the rest.
fn colour_of(codec: Codec) -> (color::Space, color::Range) {
    match codec {
        Codec::H264 | Codec::Hevc | Codec::Prores => (color::Space::BT709, color::Range::MPEG),
        Codec::Jpeg => (color::Space::BT470BG, color::Range::JPEG),
        Codec::Png | Codec::Gif | Codec::Webp => (color::Space::RGB, color::Range::JPEG),
    }
}

/// Opens the FFmpeg encoder for `s`, with threads, colour tags and codec options set.
fn open_encoder(
    path: &Path,
    s: &EncodeSettings,
    global_header: bool,
) -> Result<(ff::Codec, ff::encoder::Video)> {
    let fail = |what: &str, e: ff::Error| Error::output(path, format!("{what} ({e})"));
    let codec = ff::encoder::find_by_name(s.codec.encoder_name()).ok_or_else(|| {
        Error::output(
            path,
            format!(
                "the system FFmpeg has no {} encoder; install the full FFmpeg (scripts/install-deps.sh)",
                s.codec.encoder_name()
            ),
        )
    })?;
    let enc_tb = ff::Rational::new(s.fps.den as i32, s.fps.num as i32);
    let rate = ff::Rational::new(s.fps.num as i32, s.fps.den as i32);
    let mut ctx = ff::codec::context::Context::new_with_codec(codec);
    let threads = if s.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        s.threads
    };
    let mut threading = ctx.threading();
    // MJPEG only threads over slices.
    threading.kind = if s.codec == Codec::Jpeg {
        ff::threading::Type::Slice
    } else {
        ff::threading::Type::Frame
    };
    threading.count = threads;
    ctx.set_threading(threading);
    let mut enc = ctx
        .encoder()
        .video()
        .map_err(|e| fail("cannot set up the encoder", e))?;
    enc.set_width(s.width);
    enc.set_height(s.height);
    enc.set_format(s.pixel());
    enc.set_time_base(enc_tb);
    enc.set_frame_rate(Some(rate));
    let (space, range) = colour_of(s.codec);
    enc.set_colorspace(space);
    enc.set_color_range(range);
    unsafe {
        let p = enc.as_mut_ptr();
        // sRGB and BT.709 share primaries; the transfer is tagged BT.709 for video, sRGB for
        // image formats.
        (*p).color_primaries = ff::ffi::AVColorPrimaries::AVCOL_PRI_BT709;
        (*p).color_trc = if s.codec.is_video() {
            ff::ffi::AVColorTransferCharacteristic::AVCOL_TRC_BT709
        } else {
            ff::ffi::AVColorTransferCharacteristic::AVCOL_TRC_IEC61966_2_1
        };
        (*p).thread_count = threads as i32;
    }
    if global_header {
        enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    }
    let mut opts = ff::Dictionary::new();
    match s.codec {
        Codec::H264 | Codec::Hevc => {
            if let Some(b) = s.bitrate {
                // Average bitrate with a VBV that lets hard scenes peak at 1.5x over two
                // seconds' buffer: what streaming platforms recommend.
                enc.set_bit_rate(b as usize);
                enc.set_max_bit_rate((b + b / 2) as usize);
                unsafe {
                    (*enc.as_mut_ptr()).rc_buffer_size = (2 * b).min(i32::MAX as u64) as i32;
                }
            } else {
                let crf = s
                    .crf
                    .unwrap_or(if s.codec == Codec::H264 { 18 } else { 22 });
                opts.set("crf", &crf.to_string());
            }
            opts.set("preset", s.speed.as_deref().unwrap_or("medium"));
            if let Some(p) = &s.profile {
                opts.set("profile", p);
            } else if s.codec == Codec::H264 && s.pixel() == Pixel::YUV420P && s.crf != Some(0) {
                // High is what every web player decodes; lossless (CRF 0) needs High 4:4:4.
                opts.set("profile", "high");
            }
            if s.codec == Codec::Hevc {
                opts.set("x265-params", "log-level=error");
                opts.set("tag", "hvc1");
            }
        }
        Codec::Prores => {
            let profile = match s.profile.as_deref() {
                None => "hq",
                Some(p) => p,
            };
            opts.set("profile", profile);
            opts.set("vendor", "apl0");
        }
        Codec::Webp => {
            opts.set("quality", &s.quality.unwrap_or(90).to_string());
            opts.set("lossless", "0");
        }
        Codec::Jpeg => {
            // Quality 1-100 onto MJPEG's fixed quantiser scale 31..2 (lower is better).
            let q = jpeg_qscale(s.quality.unwrap_or(92));
            enc.set_flags(ff::codec::Flags::QSCALE);
            enc.set_global_quality(q * ff::ffi::FF_QP2LAMBDA);
            opts.set("huffman", "optimal");
        }
        Codec::Gif => {}
        Codec::Png => unreachable!("PNG sequences do not use FFmpeg"),
    }
    if let Some(g) = s.gop {
        enc.set_gop(g);
    }
    for (k, v) in &s.options {
        opts.set(k, v);
    }
    let encoder = enc
        .open_as_with(codec, opts)
        .map_err(|e| fail("cannot open the encoder with these settings", e))?;
    Ok((codec, encoder))
}

fn jpeg_qscale(quality: u32) -> i32 {
    let q = quality.clamp(1, 100) as i32;
    2 + ((100 - q) * 29 + 49) / 99
}

/// Crops `image` to the aspect of `dst` and converts it into `dst` (scaling in swscale) with
/// the codec's matrix and range.
fn convert_into(
    image: &RgbImage,
    rgb: &mut AvFrame,
    dst: &mut AvFrame,
    converter: &mut Option<Converter>,
    codec: Codec,
    path: &Path,
) -> Result<()> {
    let (w, h) = (dst.width(), dst.height());
    let (cw, ch) = cover_crop(image.width, image.height, w, h);
    let cropped = crop(
        image,
        (image.width - cw) / 2,
        (image.height - ch) / 2,
        cw,
        ch,
    );
    if rgb.width() != cw || rgb.height() != ch {
        *rgb = AvFrame::new(Pixel::RGB24, cw, ch);
    }
    colour::image_to_rgb_frame(&cropped, rgb);
    let (space, range) = colour_of(codec);
    let conv = Converter::get(
        converter,
        (Pixel::RGB24, cw, ch),
        (dst.format(), w, h),
        space,
        color::Range::JPEG,
        range,
    )
    .map_err(|e| Error::output(path, format!("cannot convert frame colours ({e})")))?;
    // A frame-threaded encoder may still hold a reference to the previous picture's
    // buffers: get buffers of our own before writing into them.
    if unsafe { ff::ffi::av_frame_make_writable(dst.as_mut_ptr()) } < 0 {
        return Err(Error::output(path, "out of memory for a frame"));
    }
    conv.run(rgb, dst)
        .map_err(|e| Error::output(path, format!("cannot convert frame colours ({e})")))?;
    dst.set_color_space(space);
    dst.set_color_range(range);
    Ok(())
}

struct VideoEncoder {
    out: AtomicOutput,
    octx: ff::format::context::Output,
    encoder: ff::encoder::Video,
    codec: Codec,
    enc_tb: ff::Rational,
    next_pts: i64,
    /// Output frames each packet in flight stands for (GIF frames are sent once per hold).
    durations: std::collections::VecDeque<i64>,
    last_duration: i64,
    converter: Option<Converter>,
    rgb: AvFrame,
    yuv: AvFrame,
}

// SAFETY: the FFmpeg contexts are owned by this value and only used through &mut self.
unsafe impl Send for VideoEncoder {}

impl VideoEncoder {
    fn create(path: &Path, s: &EncodeSettings) -> Result<Self> {
        super::init();
        let fmt = container_for(path, s.codec)?;
        let out = AtomicOutput::file(path)?;
        let fail = |what: &str, e: ff::Error| Error::output(path, format!("{what} ({e})"));
        let mut octx = ff::format::output_as(&out.path(), fmt)
            .map_err(|e| fail("cannot create the output file", e))?;
        let global_header = octx
            .format()
            .flags()
            .contains(ff::format::Flags::GLOBAL_HEADER);
        let enc_tb = ff::Rational::new(s.fps.den as i32, s.fps.num as i32);
        let rate = ff::Rational::new(s.fps.num as i32, s.fps.den as i32);
        let (codec, encoder) = open_encoder(path, s, global_header)?;
        {
            let mut ost = octx
                .add_stream(codec)
                .map_err(|e| fail("cannot add the video stream", e))?;
            ost.set_parameters(&encoder);
            ost.set_time_base(enc_tb);
            ost.set_avg_frame_rate(rate);
            ost.set_rate(rate);
            if s.codec == Codec::Hevc {
                unsafe {
                    // Apple players want hvc1, not the default hev1.
                    (*(*ost.as_mut_ptr()).codecpar).codec_tag = u32::from_le_bytes(*b"hvc1");
                }
            }
        }
        if let Some(tc) = &s.timecode {
            // As `ffmpeg -timecode`: the muxer turns this into a tmcd track (MOV and MP4).
            let tc = parse_start_timecode(tc, s.fps)?;
            let mut meta = ff::Dictionary::new();
            meta.set("timecode", &tc.to_string());
            octx.set_metadata(meta);
        }
        let mut header_opts = ff::Dictionary::new();
        if (fmt == "mp4" || fmt == "mov") && s.faststart {
            header_opts.set("movflags", "+faststart");
        }
        if fmt == "webp" || fmt == "gif" {
            // Loop forever, as product spins and web clips should.
            header_opts.set("loop", "0");
        }
        octx.write_header_with(header_opts)
            .map_err(|e| fail("cannot write the file header", e))?;
        Ok(VideoEncoder {
            out,
            octx,
            encoder,
            codec: s.codec,
            enc_tb,
            next_pts: 0,
            durations: Default::default(),
            last_duration: 1,
            converter: None,
            rgb: AvFrame::empty(),
            yuv: AvFrame::new(s.pixel(), s.width, s.height),
        })
    }

    fn push(&mut self, image: &RgbImage, repeat: u32) -> Result<()> {
        let path = self.out.target().to_path_buf();
        convert_into(
            image,
            &mut self.rgb,
            &mut self.yuv,
            &mut self.converter,
            self.codec,
            &path,
        )?;
        for _ in 0..repeat {
            self.send(1)?;
        }
        Ok(())
    }

    /// Sends a palettised picture (GIF) shown for `repeat` frames.
    fn push_indexed(&mut self, indices: &[u8], palette: &[[u8; 3]], repeat: u32) -> Result<()> {
        if unsafe { ff::ffi::av_frame_make_writable(self.yuv.as_mut_ptr()) } < 0 {
            return Err(Error::output(
                self.out.target(),
                "out of memory for a frame",
            ));
        }
        let w = self.yuv.width() as usize;
        let stride = self.yuv.stride(0);
        let data = self.yuv.data_mut(0);
        for (y, row) in indices.chunks_exact(w).enumerate() {
            data[y * stride..y * stride + w].copy_from_slice(row);
        }
        // ffmpeg-next does not expose a PAL8 frame's palette plane; av_frame_get_buffer
        // allocated it (AVPALETTE_SIZE bytes) with the picture.
        let pal = unsafe {
            let p = (*self.yuv.as_mut_ptr()).data[1];
            assert!(!p.is_null(), "PAL8 frames carry a palette plane");
            std::slice::from_raw_parts_mut(p, 1024)
        };
        pal.fill(0);
        for (i, c) in palette.iter().take(256).enumerate() {
            // AVPALETTE entries are native-endian 0xAARRGGBB, opaque.
            let v = 0xff00_0000u32 | (c[0] as u32) << 16 | (c[1] as u32) << 8 | c[2] as u32;
            pal[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        self.yuv.set_color_range(color::Range::JPEG);
        self.send(repeat as i64)
    }

    fn send(&mut self, duration: i64) -> Result<()> {
        let path = self.out.target().to_path_buf();
        self.yuv.set_pts(Some(self.next_pts));
        self.next_pts += duration;
        self.last_duration = duration;
        self.durations.push_back(duration);
        self.encoder
            .send_frame(&self.yuv)
            .map_err(|e| Error::output(&path, format!("encoding failed ({e})")))?;
        self.drain()
    }

    fn drain(&mut self) -> Result<()> {
        let mut packet = ff::Packet::empty();
        let ost_tb = self.octx.stream(0).expect("one stream").time_base();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            // Packets leave in frame order except with B-frames, where every frame lasts 1.
            let d = if self.codec == Codec::Gif {
                self.durations.pop_front().unwrap_or(1)
            } else {
                1
            };
            packet.set_duration(d);
            packet.rescale_ts(self.enc_tb, ost_tb);
            packet.write_interleaved(&mut self.octx).map_err(|e| {
                Error::output(
                    self.out.target(),
                    format!("cannot write ({e}); is the disk full?"),
                )
            })?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<PathBuf> {
        let target = self.out.target().to_path_buf();
        self.encoder
            .send_eof()
            .map_err(|e| Error::output(&target, format!("encoding failed ({e})")))?;
        self.drain()?;
        if self.codec == Codec::Gif {
            // The muxer gives the last picture the previous delay unless told its own.
            let last = self.last_duration * 100 * self.enc_tb.numerator() as i64;
            let cs =
                (last + self.enc_tb.denominator() as i64 / 2) / self.enc_tb.denominator() as i64;
            unsafe {
                ff::ffi::av_opt_set_int(
                    (*self.octx.as_mut_ptr()).priv_data,
                    c"final_delay".as_ptr(),
                    cs.clamp(0, 65535),
                    0,
                );
            }
        }
        self.octx.write_trailer().map_err(|e| {
            Error::output(
                &target,
                format!("cannot finish the file ({e}); is the disk full?"),
            )
        })?;
        let VideoEncoder {
            out, octx, encoder, ..
        } = *self;
        // Close the file before renaming it.
        drop(encoder);
        drop(octx);
        out.commit()?;
        Ok(target)
    }
}

/// A numbered JPEG sequence (frame_000000.jpg, ...) written by FFmpeg's MJPEG encoder: each
/// packet is a complete JFIF file. A held frame is encoded once and written `repeat` times.
struct JpegSequence {
    out: AtomicOutput,
    encoder: ff::encoder::Video,
    quality: i32,
    converter: Option<Converter>,
    rgb: AvFrame,
    yuv: AvFrame,
}

// SAFETY: the FFmpeg contexts are owned by this value and only used through &mut self.
unsafe impl Send for JpegSequence {}

impl JpegSequence {
    fn create(path: &Path, s: &EncodeSettings) -> Result<Self> {
        super::init();
        let out = AtomicOutput::dir(path)?;
        let (_, encoder) = open_encoder(path, s, false)?;
        Ok(JpegSequence {
            out,
            encoder,
            quality: jpeg_qscale(s.quality.unwrap_or(92)) * ff::ffi::FF_QP2LAMBDA,
            converter: None,
            rgb: AvFrame::empty(),
            yuv: AvFrame::new(s.pixel(), s.width, s.height),
        })
    }

    fn push(&mut self, image: &RgbImage, repeat: u32, first: u64) -> Result<()> {
        let path = self.out.target().to_path_buf();
        convert_into(
            image,
            &mut self.rgb,
            &mut self.yuv,
            &mut self.converter,
            Codec::Jpeg,
            &path,
        )?;
        unsafe {
            // With a fixed quantiser MJPEG takes each picture's quality, not the context's.
            (*self.yuv.as_mut_ptr()).quality = self.quality;
        }
        self.yuv.set_pts(Some(first as i64));
        let fail = |e: ff::Error| Error::output(&path, format!("encoding failed ({e})"));
        self.encoder.send_frame(&self.yuv).map_err(fail)?;
        let mut packet = ff::Packet::empty();
        self.encoder.receive_packet(&mut packet).map_err(fail)?;
        let bytes = packet.data().unwrap_or_default();
        let dir = self.out.path().to_path_buf();
        (0..repeat as u64).into_par_iter().try_for_each(|i| {
            let p = dir.join(format!("frame_{:06}.jpg", first + i));
            std::fs::write(&p, bytes).map_err(|e| Error::io(&p, "cannot write JPEG", e))
        })
    }

    fn finish(self) -> Result<PathBuf> {
        let target = self.out.target().to_path_buf();
        let JpegSequence { out, encoder, .. } = self;
        drop(encoder);
        out.commit()?;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_crop_keeps_aspect() {
        assert_eq!(cover_crop(1920, 1080, 1280, 720), (1920, 1080));
        assert_eq!(cover_crop(1920, 1080, 1080, 1920), (607, 1080));
        assert_eq!(cover_crop(1000, 1000, 200, 100), (1000, 500));
    }
}
