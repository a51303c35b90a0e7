//! Colour conversion between decoded/encoded YUV and our RGB buffers, through swscale.
//!
//! swscale assumes BT.601 unless told otherwise; HD and UHD video is BT.709. We set the matrix
//! and range explicitly on every path so that a colour survives decode -> RGB -> encode.

use crate::frame::RgbImage;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;
use ffmpeg_next::util::color;
use ffmpeg_next::util::frame::Video as AvFrame;

/// The YUV matrix to use for a stream: its tag when present, else BT.709 for HD sizes and
/// BT.601 for SD (what players assume).
pub fn matrix_for(space: color::Space, height: u32) -> color::Space {
    match space {
        color::Space::Unspecified | color::Space::Reserved => {
            if height >= 720 {
                color::Space::BT709
            } else {
                color::Space::BT470BG
            }
        }
        s => s,
    }
}

fn sws_cs(space: color::Space) -> i32 {
    use ffmpeg_next::ffi::*;
    match space {
        color::Space::BT709 => SWS_CS_ITU709,
        color::Space::FCC => SWS_CS_FCC,
        color::Space::SMPTE240M => SWS_CS_SMPTE240M,
        color::Space::BT2020NCL | color::Space::BT2020CL => SWS_CS_BT2020,
        _ => SWS_CS_ITU601,
    }
}

fn is_full_range(range: color::Range, fmt: Pixel) -> bool {
    match range {
        color::Range::JPEG => true,
        color::Range::MPEG => false,
        _ => {
            matches!(
                fmt,
                Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P | Pixel::YUVJ440P
            ) || is_rgb(fmt)
        }
    }
}

fn is_rgb(fmt: Pixel) -> bool {
    matches!(
        fmt,
        Pixel::RGB24
            | Pixel::BGR24
            | Pixel::RGBA
            | Pixel::BGRA
            | Pixel::ARGB
            | Pixel::ABGR
            | Pixel::RGB48LE
            | Pixel::RGB48BE
            | Pixel::GBRP
            | Pixel::GBRP10LE
            | Pixel::GBRP12LE
            | Pixel::GBRAP
            | Pixel::PAL8
            | Pixel::GRAY8
    )
}

/// A cached swscale context with the colour details set for one conversion.
pub struct Converter {
    ctx: scaling::Context,
    key: (Pixel, u32, u32, Pixel, u32, u32, i32, bool, bool),
}

// SAFETY: a swscale context is plain data used by one thread at a time; we never share it.
unsafe impl Send for Converter {}

impl Converter {
    /// Creates or reuses `slot` for a conversion, with `matrix` and the YUV side's range.
    #[allow(clippy::too_many_arguments)]
    pub fn get(
        slot: &mut Option<Converter>,
        src: (Pixel, u32, u32),
        dst: (Pixel, u32, u32),
        matrix: color::Space,
        src_range: color::Range,
        dst_range: color::Range,
    ) -> Result<&mut Converter, ffmpeg_next::Error> {
        let src_full = is_full_range(src_range, src.0);
        let dst_full = is_full_range(dst_range, dst.0);
        let key = (
            src.0,
            src.1,
            src.2,
            dst.0,
            dst.1,
            dst.2,
            sws_cs(matrix),
            src_full,
            dst_full,
        );
        if slot.as_ref().map(|c| c.key != key).unwrap_or(true) {
            let flags = scaling::Flags::BICUBIC
                | scaling::Flags::ACCURATE_RND
                | scaling::Flags::FULL_CHR_H_INT
                | scaling::Flags::FULL_CHR_H_INP;
            let mut ctx = scaling::Context::get(src.0, src.1, src.2, dst.0, dst.1, dst.2, flags)?;
            unsafe {
                use ffmpeg_next::ffi::*;
                let coeffs = sws_getCoefficients(key.6);
                sws_setColorspaceDetails(
                    ctx.as_mut_ptr(),
                    coeffs,
                    src_full as i32,
                    coeffs,
                    dst_full as i32,
                    0,
                    1 << 16,
                    1 << 16,
                );
            }
            *slot = Some(Converter { ctx, key });
        }
        Ok(slot.as_mut().expect("just set"))
    }

    pub fn run(&mut self, src: &AvFrame, dst: &mut AvFrame) -> Result<(), ffmpeg_next::Error> {
        self.ctx.run(src, dst)
    }
}

/// Copies a packed RGB24 AVFrame (with stride) into an [`RgbImage`].
pub fn rgb_frame_to_image(frame: &AvFrame) -> RgbImage {
    let (w, h) = (frame.width(), frame.height());
    let stride = frame.stride(0);
    let src = frame.data(0);
    let row = w as usize * 3;
    let mut data = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        data.extend_from_slice(&src[y * stride..y * stride + row]);
    }
    RgbImage::from_raw(w, h, data)
}

/// Copies an [`RgbImage`] into a packed RGB24 AVFrame of the same size (with stride).
pub fn image_to_rgb_frame(img: &RgbImage, frame: &mut AvFrame) {
    let row = img.width as usize * 3;
    let stride = frame.stride(0);
    let dst = frame.data_mut(0);
    for (y, src) in img.data.chunks_exact(row).enumerate() {
        dst[y * stride..y * stride + row].copy_from_slice(src);
    }
}
