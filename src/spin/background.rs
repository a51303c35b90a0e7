//! A near-white studio backdrop made pure white (255, 255, 255), as marketplaces ask of a
//! product's main image, without touching the product.
//!
//! The backdrop is the region of pixels near the backdrop's colour that is connected to the
//! image's border (a flood fill from the border), so white parts of the product that the
//! product encloses stay as they are. Inside that region a pixel turns white by its distance
//! from the rest of the image: fully from [`EDGE`] pixels away, partly nearer, which keeps the
//! product's anti-aliased edge soft instead of cutting it out.

use crate::frame::RgbImage;
use std::collections::VecDeque;

/// Largest colour difference from the backdrop (summed over the channels) of a backdrop pixel.
const TOLERANCE: i32 = 45;
/// Distance in pixels from the product over which the backdrop fades to pure white.
pub const EDGE: f32 = 2.0;
/// The darkest channel a backdrop may have to be called near-white.
const NEAR_WHITE: u8 = 200;

/// Whitens the backdrop of `img` (colour `bg`); false, changing nothing, when `bg` is not
/// near white.
pub fn whiten(img: &mut RgbImage, bg: [u8; 3]) -> bool {
    if bg.iter().any(|&c| c < NEAR_WHITE) {
        return false;
    }
    let (w, h) = (img.width as usize, img.height as usize);
    let near = |i: usize| {
        let p = &img.data[3 * i..3 * i + 3];
        (0..3)
            .map(|c| (p[c] as i32 - bg[c] as i32).abs())
            .sum::<i32>()
            <= TOLERANCE
    };
    // Flood fill from the border through near-backdrop pixels (4-connected).
    let mut backdrop = vec![false; w * h];
    let mut queue = VecDeque::new();
    for x in 0..w {
        queue.extend([x, (h - 1) * w + x]);
    }
    for y in 0..h {
        queue.extend([y * w, y * w + w - 1]);
    }
    while let Some(i) = queue.pop_front() {
        if backdrop[i] || !near(i) {
            continue;
        }
        backdrop[i] = true;
        let (x, y) = (i % w, i / w);
        if x > 0 {
            queue.push_back(i - 1);
        }
        if x + 1 < w {
            queue.push_back(i + 1);
        }
        if y > 0 {
            queue.push_back(i - w);
        }
        if y + 1 < h {
            queue.push_back(i + w);
        }
    }
    // Distance of each backdrop pixel from the nearest other pixel (chamfer 1 / 1.4, two
    // passes), capped at the edge width.
    let mut dist: Vec<f32> = backdrop
        .iter()
        .map(|&b| if b { EDGE } else { 0.0 })
        .collect();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let mut d = dist[i];
            if x > 0 {
                d = d.min(dist[i - 1] + 1.0);
            }
            if y > 0 {
                d = d.min(dist[i - w] + 1.0);
                if x > 0 {
                    d = d.min(dist[i - w - 1] + 1.4);
                }
                if x + 1 < w {
                    d = d.min(dist[i - w + 1] + 1.4);
                }
            }
            dist[i] = d;
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            let i = y * w + x;
            let mut d = dist[i];
            if x + 1 < w {
                d = d.min(dist[i + 1] + 1.0);
            }
            if y + 1 < h {
                d = d.min(dist[i + w] + 1.0);
                if x + 1 < w {
                    d = d.min(dist[i + w + 1] + 1.4);
                }
                if x > 0 {
                    d = d.min(dist[i + w - 1] + 1.4);
                }
            }
            dist[i] = d;
        }
    }
    for (i, px) in img.data.chunks_exact_mut(3).enumerate() {
        if !backdrop[i] {
            continue;
        }
        let a = (dist[i] / EDGE).min(1.0);
        for c in px.iter_mut() {
            *c = (*c as f32 + (255.0 - *c as f32) * a).round() as u8;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backdrop_turns_white_and_the_product_stays() {
        // A grey-white backdrop, a dark product (x 10-29, y 10-29) holding a white window
        // (x 15-24, y 15-24) of the backdrop's own colour.
        let bg = [236, 236, 230];
        let mut img = RgbImage::new(40, 40);
        for y in 0..40 {
            for x in 0..40 {
                let product = (10..30).contains(&x) && (10..30).contains(&y);
                let window = (15..25).contains(&x) && (15..25).contains(&y);
                img.put(x, y, if product && !window { [60, 40, 30] } else { bg });
            }
        }
        let before = img.clone();
        assert!(whiten(&mut img, bg));
        assert_eq!(img.pixel(0, 0), [255, 255, 255]);
        assert_eq!(img.pixel(39, 20), [255, 255, 255]);
        assert_eq!(img.pixel(7, 20), [255, 255, 255]);
        for y in 10..30 {
            for x in 10..30 {
                assert_eq!(img.pixel(x, y), before.pixel(x, y), "({x}, {y})");
            }
        }
        // Beside the product: half way to white.
        assert_eq!(img.pixel(9, 20), [246, 246, 243]);
        // A backdrop that is not near white is left alone.
        let mut grey = before.clone();
        assert!(!whiten(&mut grey, [150, 150, 150]));
        assert!(grey == before);
    }
}
