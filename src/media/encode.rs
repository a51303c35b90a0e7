//! Encoding clips: H.264, HEVC and ProRes through FFmpeg (libx264, libx265, prores_ks), or a
//! numbered PNG sequence.
//!
//! Encoder threads are set explicitly (libx264 on FFmpeg 5.1 is single-threaded otherwise),
//! every packet carries its duration, MP4/MOV get `+faststart`, and the stream is tagged
//! BT.709 limited range, the matrix swscale is told to use when it converts our RGB.
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
}

impl Codec {
    /// Chooses a codec from the output name when none is given: a folder or no extension
    /// means PNG, `.mov` stays H.264 unless asked.
    pub fn from_path(path: &Path) -> Codec {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
        {
            None => Codec::Png,
            Some(_) => Codec::H264,
        }
    }

    fn encoder_name(self) -> &'static str {
        match self {
            Codec::H264 => "libx264",
            Codec::Hevc => "libx265",
            Codec::Prores => "prores_ks",
            Codec::Png => "png",
        }
    }

    fn pixel(self) -> Pixel {
        match self {
            Codec::Prores => Pixel::YUV422P10LE,
            _ => Pixel::YUV420P,
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
    /// Constant rate factor for H.264/HEVC (default 18 / 22).
    pub crf: Option<u32>,
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
            speed: None,
            threads: 0,
            gop: None,
            options: Vec::new(),
        }
    }
}

fn container_for(path: &Path, codec: Codec) -> Result<&'static str> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let fmt = match ext.as_str() {
        "mp4" | "m4v" => "mp4",
        "mov" => "mov",
        "mkv" => "matroska",
        _ => {
            return Err(Error::usage(format!(
                "{}: unknown output type '.{ext}'; use .mp4, .mov or .mkv, or --codec png with a folder",
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

/// Validates an output path and settings before any work is done.
pub fn check_output(path: &Path, settings: &EncodeSettings) -> Result<()> {
    if settings.codec != Codec::Png {
        container_for(path, settings.codec)?;
        if !settings.width.is_multiple_of(2) || !settings.height.is_multiple_of(2) {
            return Err(Error::usage(format!(
                "output size {}x{} must be even for {:?}; pass --size with even numbers",
                settings.width, settings.height, settings.codec
            )));
        }
    }
    if settings.width < 16 || settings.height < 16 {
        return Err(Error::usage(format!(
            "output size {}x{} is too small; use at least 16x16",
            settings.width, settings.height
        )));
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
    Png { out: AtomicOutput },
}

impl ClipWriter {
    pub fn create(path: &Path, settings: EncodeSettings) -> Result<Self> {
        check_output(path, &settings)?;
        let inner = match settings.codec {
            Codec::Png => Inner::Png {
                out: AtomicOutput::dir(path)?,
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
        let (w, h) = (self.settings.width, self.settings.height);
        match &mut self.inner {
            Inner::Video(enc) => enc.push(image, repeat)?,
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

struct VideoEncoder {
    out: AtomicOutput,
    octx: ff::format::context::Output,
    encoder: ff::encoder::Video,
    enc_tb: ff::Rational,
    next_pts: i64,
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
        let codec = ff::encoder::find_by_name(s.codec.encoder_name()).ok_or_else(|| {
            Error::output(
                path,
                format!(
                    "the system FFmpeg has no {} encoder; install the full FFmpeg (scripts/install-deps.sh)",
                    s.codec.encoder_name()
                ),
            )
        })?;
        let global_header = octx
            .format()
            .flags()
            .contains(ff::format::Flags::GLOBAL_HEADER);
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
        threading.kind = ff::threading::Type::Frame;
        threading.count = threads;
        ctx.set_threading(threading);
        let mut enc = ctx
            .encoder()
            .video()
            .map_err(|e| fail("cannot set up the encoder", e))?;
        enc.set_width(s.width);
        enc.set_height(s.height);
        enc.set_format(s.codec.pixel());
        enc.set_time_base(enc_tb);
        enc.set_frame_rate(Some(rate));
        enc.set_colorspace(color::Space::BT709);
        enc.set_color_range(color::Range::MPEG);
        unsafe {
            let p = enc.as_mut_ptr();
            (*p).color_primaries = ff::ffi::AVColorPrimaries::AVCOL_PRI_BT709;
            (*p).color_trc = ff::ffi::AVColorTransferCharacteristic::AVCOL_TRC_BT709;
            (*p).thread_count = threads as i32;
        }
        if global_header {
            enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
        }
        let mut opts = ff::Dictionary::new();
        match s.codec {
            Codec::H264 | Codec::Hevc => {
                let crf = s
                    .crf
                    .unwrap_or(if s.codec == Codec::H264 { 18 } else { 22 });
                opts.set("crf", &crf.to_string());
                opts.set("preset", s.speed.as_deref().unwrap_or("medium"));
                if s.codec == Codec::Hevc {
                    opts.set("x265-params", "log-level=error");
                    opts.set("tag", "hvc1");
                }
            }
            Codec::Prores => {
                opts.set("profile", "3"); // 422 HQ
                opts.set("vendor", "apl0");
            }
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
        let mut header_opts = ff::Dictionary::new();
        if fmt == "mp4" || fmt == "mov" {
            header_opts.set("movflags", "+faststart");
        }
        octx.write_header_with(header_opts)
            .map_err(|e| fail("cannot write the file header", e))?;
        Ok(VideoEncoder {
            out,
            octx,
            encoder,
            enc_tb,
            next_pts: 0,
            converter: None,
            rgb: AvFrame::empty(),
            yuv: AvFrame::new(s.codec.pixel(), s.width, s.height),
        })
    }

    fn push(&mut self, image: &RgbImage, repeat: u32) -> Result<()> {
        let (w, h) = (self.yuv.width(), self.yuv.height());
        // Crop to the output aspect here; swscale does the scaling in the colour pass.
        let (cw, ch) = cover_crop(image.width, image.height, w, h);
        let cropped = crop(
            image,
            (image.width - cw) / 2,
            (image.height - ch) / 2,
            cw,
            ch,
        );
        if self.rgb.width() != cw || self.rgb.height() != ch {
            self.rgb = AvFrame::new(Pixel::RGB24, cw, ch);
        }
        colour::image_to_rgb_frame(&cropped, &mut self.rgb);
        let path = self.out.target().to_path_buf();
        let conv = Converter::get(
            &mut self.converter,
            (Pixel::RGB24, cw, ch),
            (self.yuv.format(), w, h),
            color::Space::BT709,
            color::Range::JPEG,
            color::Range::MPEG,
        )
        .map_err(|e| Error::output(&path, format!("cannot convert frame colours ({e})")))?;
        // A frame-threaded encoder may still hold a reference to the previous picture's
        // buffers: get buffers of our own before writing into them.
        if unsafe { ff::ffi::av_frame_make_writable(self.yuv.as_mut_ptr()) } < 0 {
            return Err(Error::output(&path, "out of memory for a frame"));
        }
        conv.run(&self.rgb, &mut self.yuv)
            .map_err(|e| Error::output(&path, format!("cannot convert frame colours ({e})")))?;
        self.yuv.set_color_space(color::Space::BT709);
        self.yuv.set_color_range(color::Range::MPEG);
        for _ in 0..repeat {
            self.yuv.set_pts(Some(self.next_pts));
            self.next_pts += 1;
            self.encoder
                .send_frame(&self.yuv)
                .map_err(|e| Error::output(&path, format!("encoding failed ({e})")))?;
            self.drain()?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<()> {
        let mut packet = ff::Packet::empty();
        let ost_tb = self.octx.stream(0).expect("one stream").time_base();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            packet.set_duration(1);
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
