//! Keypoints and their sub-pixel localisation.
//!
//! Keypoints are Shi-Tomasi corners (Shi and Tomasi, "Good Features to Track", CVPR 1994):
//! the smaller eigenvalue of the 5x5 structure tensor, the best one per grid cell, so that
//! they cover the image evenly. Their matches come from the dense flow between the cameras
//! (see `dense_matches`), which handles the large displacements between neighbouring cameras
//! but is smoothed and computed on a reduced pyramid level; [`refine`] then localises each
//! match to sub-pixel accuracy at full resolution by Lucas-Kanade alignment of the patch
//! around the keypoint (translation, gain and bias; Lucas and Kanade, IJCAI 1981; Baker and
//! Matthews, "Lucas-Kanade 20 Years On", IJCV 2004).
//!
//! Descriptors are upright SIFT-style histograms of gradient orientation (Lowe, "Distinctive
//! Image Features from Scale-Invariant Keypoints", IJCV 2004: 4x4 cells of 8 orientation
//! bins, trilinear voting, normalise-clip-normalise), without the orientation and scale
//! search: the cameras of a rig are upright and see the subject at similar scale, so the
//! invariances would only cost distinctiveness and time. Matching is mutual nearest
//! neighbour with Lowe's ratio test.

use crate::frame::Plane;

/// Shi-Tomasi corners: per cell of `cell` pixels, the pixel with the largest minimum
/// eigenvalue of the structure tensor, if that is above `min_score` (luma in 0..1).
/// Coordinates in pixels of `img`.
pub fn keypoints(img: &Plane, cell: usize, min_score: f32) -> Vec<[f32; 2]> {
    let (w, h) = (img.width, img.height);
    if w < 16 || h < 16 {
        return Vec::new();
    }
    // Gradients by central differences.
    let mut gx = vec![0f32; w * h];
    let mut gy = vec![0f32; w * h];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            gx[i] = 0.5 * (img.data[i + 1] - img.data[i - 1]);
            gy[i] = 0.5 * (img.data[i + w] - img.data[i - w]);
        }
    }
    let border = 8usize;
    let cell = cell.max(4);
    let mut out = Vec::new();
    let mut cy = border;
    while cy + cell <= h - border {
        let mut cx = border;
        while cx + cell <= w - border {
            let mut best = (min_score, None);
            for y in (cy..cy + cell).step_by(2) {
                for x in (cx..cx + cell).step_by(2) {
                    let (mut a, mut b, mut c) = (0f32, 0f32, 0f32);
                    for yy in y - 2..=y + 2 {
                        for xx in x - 2..=x + 2 {
                            let i = yy * w + xx;
                            a += gx[i] * gx[i];
                            b += gx[i] * gy[i];
                            c += gy[i] * gy[i];
                        }
                    }
                    let tr = 0.5 * (a + c);
                    let det = ((0.5 * (a - c)).powi(2) + b * b).sqrt();
                    let score = tr - det;
                    if score > best.0 {
                        best = (score, Some([x as f32, y as f32]));
                    }
                }
            }
            if let Some(p) = best.1 {
                out.push(p);
            }
            cx += cell;
        }
        cy += cell;
    }
    out
}

#[inline]
pub(crate) fn bilinear(img: &Plane, x: f32, y: f32) -> f32 {
    let (w, h) = (img.width, img.height);
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    // Clamped to be non-negative, so truncation is the floor (and no libm call).
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let a = img.data[y0 * w + x0] + (img.data[y0 * w + x1] - img.data[y0 * w + x0]) * fx;
    let b = img.data[y1 * w + x0] + (img.data[y1 * w + x1] - img.data[y1 * w + x0]) * fx;
    a + (b - a) * fy
}

/// Length of a descriptor.
pub const DESC_LEN: usize = 128;

/// Upright SIFT-style descriptors of `points` (pixels of `img`) over a window of `window`
/// pixels (4x4 cells). `None` where the window leaves the image or has no gradient.
pub fn describe(img: &Plane, points: &[[f32; 2]], window: f32) -> Vec<Option<[f32; DESC_LEN]>> {
    let (w, h) = (img.width, img.height);
    let half = window / 2.0;
    let cell = window / 4.0;
    points
        .iter()
        .map(|p| {
            let (x0, y0) = (p[0] - half, p[1] - half);
            if x0 < 1.0
                || y0 < 1.0
                || p[0] + half >= (w - 2) as f32
                || p[1] + half >= (h - 2) as f32
            {
                return None;
            }
            let mut d = [0f32; DESC_LEN];
            let n = window.round() as usize;
            let step = window / n as f32;
            for j in 0..n {
                for i in 0..n {
                    let (sx, sy) = (x0 + (i as f32 + 0.5) * step, y0 + (j as f32 + 0.5) * step);
                    let gx = bilinear(img, sx + 1.0, sy) - bilinear(img, sx - 1.0, sy);
                    let gy = bilinear(img, sx, sy + 1.0) - bilinear(img, sx, sy - 1.0);
                    let mag = gx.hypot(gy);
                    if mag == 0.0 {
                        continue;
                    }
                    // Gaussian weight over the window (sigma = half the window).
                    let (dx, dy) = (sx - p[0], sy - p[1]);
                    let wgt = mag * (-(dx * dx + dy * dy) / (2.0 * half * half)).exp();
                    let o = (gy.atan2(gx) + std::f32::consts::PI) / std::f32::consts::TAU * 8.0;
                    let (cx, cy) = ((sx - x0) / cell - 0.5, (sy - y0) / cell - 0.5);
                    let (ix, iy, io) = (cx.floor(), cy.floor(), o.floor());
                    let (fx, fy, fo) = (cx - ix, cy - iy, o - io);
                    for (yy, wy) in [(iy as i32, 1.0 - fy), (iy as i32 + 1, fy)] {
                        if !(0..4).contains(&yy) {
                            continue;
                        }
                        for (xx, wx) in [(ix as i32, 1.0 - fx), (ix as i32 + 1, fx)] {
                            if !(0..4).contains(&xx) {
                                continue;
                            }
                            for (oo, wo) in [(io as i32, 1.0 - fo), (io as i32 + 1, fo)] {
                                let ob = oo.rem_euclid(8) as usize;
                                d[(yy as usize * 4 + xx as usize) * 8 + ob] += wgt * wx * wy * wo;
                            }
                        }
                    }
                }
            }
            let norm = d.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm <= 1e-12 {
                return None;
            }
            for v in d.iter_mut() {
                *v = (*v / norm).min(0.2);
            }
            let norm = d.iter().map(|v| v * v).sum::<f32>().sqrt();
            for v in d.iter_mut() {
                *v /= norm;
            }
            Some(d)
        })
        .collect()
}

#[inline]
/// Cosine similarity of two (unit) descriptors.
pub(crate) fn similarity(a: &[f32; DESC_LEN], b: &[f32; DESC_LEN]) -> f32 {
    let mut s = [0f32; 8];
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            s[k] += ca[k] * cb[k];
        }
    }
    s.iter().sum()
}

/// Best and second-best similarity (dot product) of `d` among `others`, and the best's index.
fn nearest(d: &[f32; DESC_LEN], others: &[Option<[f32; DESC_LEN]>]) -> (usize, f32, f32) {
    let (mut bi, mut b1, mut b2) = (usize::MAX, -1f32, -1f32);
    for (k, o) in others.iter().enumerate() {
        if let Some(o) = o {
            let s = similarity(d, o);
            if s > b1 {
                b2 = b1;
                b1 = s;
                bi = k;
            } else if s > b2 {
                b2 = s;
            }
        }
    }
    (bi, b1, b2)
}

/// Mutual nearest-neighbour matches passing Lowe's ratio test (on descriptor distances):
/// for each descriptor of `a`, the index of its match in `b`.
pub fn match_descriptors(
    a: &[Option<[f32; DESC_LEN]>],
    b: &[Option<[f32; DESC_LEN]>],
    ratio: f32,
) -> Vec<Option<usize>> {
    use rayon::prelude::*;
    let back: Vec<usize> = b
        .par_iter()
        .with_min_len(64)
        .map(|d| d.as_ref().map(|d| nearest(d, a).0).unwrap_or(usize::MAX))
        .collect();
    a.par_iter()
        .with_min_len(64)
        .enumerate()
        .map(|(i, d)| {
            let d = d.as_ref()?;
            let (j, s1, s2) = nearest(d, b);
            if j == usize::MAX || back[j] != i {
                return None;
            }
            // Unit vectors: squared distance = 2 - 2 dot.
            let (d1, d2) = (
                (2.0 - 2.0 * s1).max(0.0).sqrt(),
                (2.0 - 2.0 * s2).max(0.0).sqrt(),
            );
            (d1 < ratio * d2).then_some(j)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texture(x: f32, y: f32) -> f32 {
        0.5 + 0.2 * (x * 0.31).sin() * (y * 0.17).cos() + 0.15 * (x * 0.07 + y * 0.11).sin()
    }

    #[test]
    fn descriptors_match_a_shifted_image() {
        let tex = |x: f32, y: f32| {
            let h = |i: f32, j: f32| ((i * 12.9898 + j * 78.233).sin() * 43758.547).fract().abs();
            let (i, j) = ((x / 6.0).floor(), (y / 6.0).floor());
            0.3 * texture(x, y) + 0.7 * h(i, j)
        };
        let a = Plane::from_fn(160, 120, |x, y| tex(x as f32, y as f32));
        let b = Plane::from_fn(160, 120, |x, y| tex(x as f32 + 20.0, y as f32 - 7.0));
        let ka = keypoints(&a, 16, 1e-4);
        let kb = keypoints(&b, 16, 1e-4);
        let m = match_descriptors(&describe(&a, &ka, 16.0), &describe(&b, &kb, 16.0), 0.8);
        let (mut good, mut bad) = (0, 0);
        for (i, j) in m.iter().enumerate() {
            if let Some(j) = j {
                let d = (kb[*j][0] - (ka[i][0] - 20.0)).hypot(kb[*j][1] - (ka[i][1] + 7.0));
                if d < 1.5 {
                    good += 1;
                } else {
                    bad += 1;
                }
            }
        }
        assert!(good >= 10 && bad * 5 <= good, "good {good} bad {bad}");
    }

    #[test]
    fn flat_images_have_no_keypoints() {
        let flat = Plane::from_fn(64, 64, |_, _| 0.0);
        assert!(keypoints(&flat, 16, 1e-4).is_empty());
        let tex = Plane::from_fn(64, 64, |x, y| texture(x as f32, y as f32));
        assert!(keypoints(&tex, 16, 1e-4).len() >= 4);
    }
}
