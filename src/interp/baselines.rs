//! The baselines every synthesis method must beat.

use crate::frame::RgbImage;

/// The camera nearer to `t` (A for t < 0.5).
pub fn nearest(a: &RgbImage, b: &RgbImage, t: f32) -> RgbImage {
    if t < 0.5 {
        a.clone()
    } else {
        b.clone()
    }
}

/// `(1 - t) A + t B`, rounded.
pub fn crossfade(a: &RgbImage, b: &RgbImage, t: f32) -> RgbImage {
    let data = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&p, &q)| ((1.0 - t) * p as f32 + t * q as f32 + 0.5).clamp(0.0, 255.0) as u8)
        .collect();
    RgbImage::from_raw(a.width, a.height, data)
}
