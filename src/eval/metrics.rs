//! PSNR and SSIM between two RGB images.
//!
//! SSIM follows Wang, Bovik, Sheikh and Simoncelli, "Image Quality Assessment: From Error
//! Visibility to Structural Similarity", IEEE TIP 2004: an 11x11 Gaussian window with sigma
//! 1.5, K1 = 0.01, K2 = 0.03, dynamic range 255, computed per RGB channel and averaged. The
//! mean is taken over the pixels whose window lies inside the image, which is what
//! scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
//! use_sample_covariance=False, data_range=255, channel_axis=2)` reports (it crops the same
//! border); benches/peer/metrics_check.py compares the two.

use crate::frame::RgbImage;
use rayon::prelude::*;

/// Peak signal-to-noise ratio in dB over all channels (8-bit peak 255); infinite when equal.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(
        (a.width, a.height),
        (b.width, b.height),
        "PSNR needs images of one size"
    );
    let sse: f64 = a
        .data
        .par_chunks(3 * 4096)
        .zip(b.data.par_chunks(3 * 4096))
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(&p, &q)| {
                    let d = p as f64 - q as f64;
                    d * d
                })
                .sum::<f64>()
        })
        .sum();
    db(sse / a.data.len() as f64)
}

/// PSNR in dB over the rectangle (left, top, width, height) only, clamped to the images.
pub fn psnr_region(a: &RgbImage, b: &RgbImage, (x0, y0, w, h): (u32, u32, u32, u32)) -> f64 {
    assert_eq!(
        (a.width, a.height),
        (b.width, b.height),
        "PSNR needs images of one size"
    );
    let (x1, y1) = ((x0 + w).min(a.width), (y0 + h).min(a.height));
    let (mut sse, mut n) = (0.0, 0usize);
    for y in y0..y1 {
        let s = (y * a.width) as usize * 3;
        let cols = s + 3 * x0 as usize..s + 3 * x1 as usize;
        for (p, q) in a.data[cols.clone()].iter().zip(&b.data[cols]) {
            let d = *p as f64 - *q as f64;
            sse += d * d;
            n += 1;
        }
    }
    db(sse / n.max(1) as f64)
}

/// PSNR of a mean squared error (8-bit peak 255); infinite for none.
fn db(mse: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

const RADIUS: usize = 5;
const SIGMA: f64 = 1.5;

fn gaussian() -> [f64; 2 * RADIUS + 1] {
    let mut k = [0.0; 2 * RADIUS + 1];
    for (i, v) in k.iter_mut().enumerate() {
        let x = i as f64 - RADIUS as f64;
        *v = (-x * x / (2.0 * SIGMA * SIGMA)).exp();
    }
    let s: f64 = k.iter().sum();
    k.map(|v| v / s)
}

/// Mean SSIM over the three channels.
pub fn ssim(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(
        (a.width, a.height),
        (b.width, b.height),
        "SSIM needs images of one size"
    );
    (0..3).map(|c| ssim_channel(a, b, c)).sum::<f64>() / 3.0
}

/// SSIM of one channel: Gaussian-weighted local means, variances and covariance, computed
/// separably (rows, then columns) over the "valid" region where the window fits.
fn ssim_channel(a: &RgbImage, b: &RgbImage, c: usize) -> f64 {
    let (w, h) = (a.width as usize, a.height as usize);
    if w <= 2 * RADIUS || h <= 2 * RADIUS {
        // Too small for one window: fall back to global statistics.
        return global_ssim(a, b, c);
    }
    let k = gaussian();
    let (ow, oh) = (w - 2 * RADIUS, h - 2 * RADIUS);
    // Horizontal pass: for each row, the five filtered products over the valid columns.
    let mut horiz = vec![[0f64; 5]; ow * h];
    horiz.par_chunks_mut(ow).enumerate().for_each(|(y, row)| {
        let base = y * w;
        for (x, out) in row.iter_mut().enumerate() {
            let mut acc = [0f64; 5];
            for (i, &kv) in k.iter().enumerate() {
                let idx = (base + x + i) * 3 + c;
                let p = a.data[idx] as f64;
                let q = b.data[idx] as f64;
                acc[0] += kv * p;
                acc[1] += kv * q;
                acc[2] += kv * p * p;
                acc[3] += kv * q * q;
                acc[4] += kv * p * q;
            }
            *out = acc;
        }
    });
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let total: f64 = (0..oh)
        .into_par_iter()
        .map(|y| {
            let mut sum = 0.0;
            for x in 0..ow {
                let mut m = [0f64; 5];
                for (i, &kv) in k.iter().enumerate() {
                    let h5 = &horiz[(y + i) * ow + x];
                    for j in 0..5 {
                        m[j] += kv * h5[j];
                    }
                }
                let (mx, my) = (m[0], m[1]);
                let vx = m[2] - mx * mx;
                let vy = m[3] - my * my;
                let cxy = m[4] - mx * my;
                sum += ((2.0 * mx * my + c1) * (2.0 * cxy + c2))
                    / ((mx * mx + my * my + c1) * (vx + vy + c2));
            }
            sum
        })
        .sum();
    total / (ow * oh) as f64
}

fn global_ssim(a: &RgbImage, b: &RgbImage, c: usize) -> f64 {
    let channel = |img: &RgbImage| -> Vec<f64> {
        img.data
            .iter()
            .skip(c)
            .step_by(3)
            .map(|&v| v as f64)
            .collect()
    };
    let (xs, ys) = (channel(a), channel(b));
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let vx = xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>() / n;
    let vy = ys.iter().map(|y| (y - my).powi(2)).sum::<f64>() / n;
    let cxy = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum::<f64>()
        / n;
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    ((2.0 * mx * my + c1) * (2.0 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(w: u32, h: u32, seed: u32) -> RgbImage {
        let mut img = RgbImage::new(w, h);
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        for v in img.data.iter_mut() {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            *v = (s % 200) as u8 + 20;
        }
        img
    }

    #[test]
    fn identical_images() {
        let a = textured(40, 30, 1);
        assert_eq!(psnr(&a, &a), f64::INFINITY);
        assert!((ssim(&a, &a) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn psnr_of_a_known_error() {
        let a = textured(40, 30, 2);
        let mut b = a.clone();
        // Every value off by exactly 5: MSE 25, PSNR = 10 log10(65025 / 25) = 34.1514 dB.
        for v in b.data.iter_mut() {
            *v += 5;
        }
        assert!((psnr(&a, &b) - 34.151_403_521_958_8).abs() < 1e-9);
    }

    #[test]
    fn ssim_of_a_constant_offset_matches_the_formula() {
        // A constant offset d leaves variances and covariance unchanged, so SSIM per window is
        // the luminance term (2 mx my + C1) / (mx^2 + my^2 + C1) with my = mx + d. On a
        // constant image that is exact everywhere.
        let mut a = RgbImage::new(32, 32);
        a.data.iter_mut().for_each(|v| *v = 100);
        let mut b = a.clone();
        b.data.iter_mut().for_each(|v| *v = 110);
        let c1 = (0.01f64 * 255.0).powi(2);
        let want = (2.0 * 100.0 * 110.0 + c1) / (100.0f64.powi(2) + 110.0f64.powi(2) + c1);
        assert!(
            (ssim(&a, &b) - want).abs() < 1e-9,
            "{} vs {want}",
            ssim(&a, &b)
        );
    }

    #[test]
    fn ssim_falls_with_noise_and_is_symmetric() {
        let a = textured(64, 48, 3);
        let noise = textured(64, 48, 4);
        let mut b = a.clone();
        for (v, n) in b.data.iter_mut().zip(&noise.data) {
            *v = (*v as i32 + (*n as i32 - 120) / 2).clamp(0, 255) as u8;
        }
        let s = ssim(&a, &b);
        assert!(s < 0.99 && s > 0.3, "{s}");
        assert!((s - ssim(&b, &a)).abs() < 1e-12);
        assert!(ssim(&a, &noise) < s);
    }
}
