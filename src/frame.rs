//! Image buffers: interleaved RGB8 for I/O.
//!
//! Maths on images (flow, synthesis) will use planar f32 buffers; I/O stays in RGB8 so that
//! decoders, encoders and image files can share one type without conversions.

/// An interleaved 8-bit RGB image, rows top to bottom, no padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl RgbImage {
    pub fn new(width: u32, height: u32) -> Self {
        RgbImage {
            width,
            height,
            data: vec![0; width as usize * height as usize * 3],
        }
    }

    pub fn from_raw(width: u32, height: u32, data: Vec<u8>) -> Self {
        assert_eq!(data.len(), width as usize * height as usize * 3);
        RgbImage {
            width,
            height,
            data,
        }
    }

    #[inline]
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    #[inline]
    pub fn put(&mut self, x: u32, y: u32, rgb: [u8; 3]) {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        self.data[i..i + 3].copy_from_slice(&rgb);
    }

    /// Mean RGB over a rectangle (clamped to the image), as f64.
    pub fn mean_rgb(&self, x0: u32, y0: u32, w: u32, h: u32) -> [f64; 3] {
        let (x1, y1) = ((x0 + w).min(self.width), (y0 + h).min(self.height));
        let mut sum = [0f64; 3];
        let mut n = 0f64;
        for y in y0..y1 {
            for x in x0..x1 {
                let p = self.pixel(x, y);
                for c in 0..3 {
                    sum[c] += p[c] as f64;
                }
                n += 1.0;
            }
        }
        sum.map(|s| s / n.max(1.0))
    }

    pub fn to_image(&self) -> image::RgbImage {
        image::RgbImage::from_raw(self.width, self.height, self.data.clone())
            .expect("buffer size matches dimensions")
    }

    pub fn from_image(img: image::RgbImage) -> Self {
        let (width, height) = img.dimensions();
        RgbImage {
            width,
            height,
            data: img.into_raw(),
        }
    }
}

/// A planar single-channel f32 image (luminance, or one colour channel), rows top to bottom,
/// no padding. The maths (flow, synthesis, metrics) works on these; values are in 0..1 for
/// images converted from 8-bit.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Plane {
    pub fn new(width: usize, height: usize) -> Self {
        Plane {
            width,
            height,
            data: vec![0.0; width * height],
        }
    }

    pub fn from_fn(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Self {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                data.push(f(x, y));
            }
        }
        Plane {
            width,
            height,
            data,
        }
    }

    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    #[inline]
    pub fn row(&self, y: usize) -> &[f32] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    /// BT.709 luma of an RGB image, in 0..1.
    pub fn luma(img: &RgbImage) -> Plane {
        let data = img
            .data
            .chunks_exact(3)
            .map(|p| (0.2126 * p[0] as f32 + 0.7152 * p[1] as f32 + 0.0722 * p[2] as f32) / 255.0)
            .collect();
        Plane {
            width: img.width as usize,
            height: img.height as usize,
            data,
        }
    }

    /// The three colour channels of an RGB image as planes, in 0..1.
    pub fn channels(img: &RgbImage) -> [Plane; 3] {
        let (w, h) = (img.width as usize, img.height as usize);
        let mut out = [Plane::new(w, h), Plane::new(w, h), Plane::new(w, h)];
        for (i, p) in img.data.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c].data[i] = p[c] as f32 / 255.0;
            }
        }
        out
    }

    /// Rebuilds an RGB image from three planes in 0..1 (rounded, clamped).
    pub fn to_rgb(planes: &[Plane; 3]) -> RgbImage {
        let (w, h) = (planes[0].width, planes[0].height);
        let mut img = RgbImage::new(w as u32, h as u32);
        for (i, px) in img.data.chunks_exact_mut(3).enumerate() {
            for (v, p) in px.iter_mut().zip(planes) {
                *v = (p.data[i] * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
        img
    }
}
