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
