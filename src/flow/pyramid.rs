//! Gaussian image pyramid and image gradients: the first pass of DIS (Kroeger et al., ECCV
//! 2016, section 2), which searches from the coarsest level down so that large displacements
//! become small ones.
//!
//! Each level is the previous one blurred with the binomial kernel [1 3 3 1]/8 and subsampled
//! by 2. The even-length kernel centres coarse pixel `i` at fine position `2i + 0.5`, the same
//! pixel-centre convention [`FlowField::resize`](super::FlowField::resize) uses, so flow moved
//! between levels stays aligned to a fraction of a pixel. Borders are replicated.

use crate::frame::Plane;
use multiversion::multiversion;
use rayon::prelude::*;

/// Halves a plane (rounding the size up): separable [1 3 3 1]/8 blur and 2x subsampling.
pub fn downsample(src: &Plane) -> Plane {
    let (w, h) = (src.width, src.height);
    let (dw, dh) = (w.div_ceil(2), h.div_ceil(2));
    if w == 0 || h == 0 {
        return Plane::new(dw, dh);
    }
    let clampx = |x: isize| x.clamp(0, w as isize - 1) as usize;
    // Horizontal pass into a half-width buffer, full height.
    let mut tmp = vec![0f32; dw * h];
    tmp.par_chunks_mut(dw)
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each(|(y, out)| {
            let row = src.row(y);
            // Interior columns without clamping, so that this loop vectorises.
            let interior = if w >= 4 { (w - 2) / 2 } else { 0 };
            for (i, o) in out.iter_mut().enumerate() {
                let x = 2 * i;
                *o = if i >= 1 && i < interior {
                    (row[x - 1] + 3.0 * (row[x] + row[x + 1]) + row[x + 2]) * 0.125
                } else {
                    let xi = x as isize;
                    (row[clampx(xi - 1)]
                        + 3.0 * (row[clampx(xi)] + row[clampx(xi + 1)])
                        + row[clampx(xi + 2)])
                        * 0.125
                };
            }
        });
    // Vertical pass.
    let mut out = Plane::new(dw, dh);
    out.data
        .par_chunks_mut(dw)
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each(|(j, o)| {
            let y = 2 * j as isize;
            let r = |d: isize| {
                let yy = (y + d).clamp(0, h as isize - 1) as usize;
                &tmp[yy * dw..(yy + 1) * dw]
            };
            let (a, b, c, d) = (r(-1), r(0), r(1), r(2));
            for i in 0..dw {
                o[i] = (a[i] + 3.0 * (b[i] + c[i]) + d[i]) * 0.125;
            }
        });
    out
}

/// The taps of two [`downsample`] steps along one axis of length `n`, as one filter: for
/// each output index (of `ceil(ceil(n / 2) / 2)`), the source indices and weights, with the
/// same border clamping as two separate steps. Inside the image this is the 10-tap kernel
/// [1 3 6 10 12 12 10 6 3 1] / 64 at stride 4.
fn quarter_taps(n: usize) -> Vec<[(usize, f32); 10]> {
    let n1 = n.div_ceil(2);
    let n2 = n1.div_ceil(2);
    let k = [1.0f32, 3.0, 3.0, 1.0];
    let clamp = |i: isize, len: usize| i.clamp(0, len as isize - 1) as usize;
    (0..n2)
        .map(|j| {
            let mut taps = [(0usize, 0f32); 10];
            let mut used = 0;
            for (a, ka) in k.iter().enumerate() {
                let i = clamp(2 * j as isize + a as isize - 1, n1);
                for (b, kb) in k.iter().enumerate() {
                    let x = clamp(2 * i as isize + b as isize - 1, n);
                    let wt = ka * kb / 64.0;
                    match taps[..used].iter_mut().find(|t| t.0 == x) {
                        Some(t) => t.1 += wt,
                        None => {
                            taps[used] = (x, wt);
                            used += 1;
                        }
                    }
                }
            }
            taps
        })
        .collect()
}

/// Two [`downsample`] steps in one pass (a quarter of the size, rounding up twice): the
/// intermediate half-size level is never written, which halves the memory traffic of the
/// most expensive step of the pyramid. Equal to two steps up to float rounding.
pub fn downsample4(src: &Plane) -> Plane {
    let (w, h) = (src.width, src.height);
    let (dw, dh) = (w.div_ceil(2).div_ceil(2), h.div_ceil(2).div_ceil(2));
    if w == 0 || h == 0 {
        return Plane::new(dw, dh);
    }
    let (tx, ty) = (quarter_taps(w), quarter_taps(h));
    // Vertical pass first (whole rows at a time, so it vectorises) into a full-width,
    // quarter-height buffer; then the horizontal pass on that small buffer.
    let mut tmp = vec![0f32; w * dh];
    tmp.par_chunks_mut(w)
        .zip(&ty)
        .with_min_len(super::min_rows(w))
        .for_each(|(o, taps)| weighted_rows(src, taps, o));
    let mut out = Plane::new(dw, dh);
    out.data
        .par_chunks_mut(dw)
        .zip(tmp.par_chunks(w))
        .with_min_len(super::min_rows(w))
        .for_each(|(o, row)| {
            for (o, taps) in o.iter_mut().zip(&tx) {
                let mut acc = 0.0;
                for &(x, k) in taps {
                    acc += k * row[x];
                }
                *o = acc;
            }
        });
    out
}

/// `o = sum of k * src.row(y)` over the taps (y, k): one output row of the vertical pass of
/// [`downsample4`], compiled for the best SIMD level of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn weighted_rows(src: &Plane, taps: &[(usize, f32)], o: &mut [f32]) {
    o.fill(0.0);
    for &(y, k) in taps {
        if k != 0.0 {
            for (o, &v) in o.iter_mut().zip(src.row(y)) {
                *o += k * v;
            }
        }
    }
}

/// Number of levels below `(width, height)` to reach a coarsest level whose larger side is
/// about `target` pixels (between `target` and `2 * target`), while the smaller side stays at
/// least `min_side` pixels wide (the patch size) where the input allows it.
pub fn auto_coarsest_scale(width: usize, height: usize, target: usize, min_side: usize) -> usize {
    let mut s = 0;
    let (mut w, mut h) = (width, height);
    while w.max(h) >= 2 * target.max(1) {
        let (nw, nh) = (w.div_ceil(2), h.div_ceil(2));
        if nw.min(nh) < min_side {
            break;
        }
        (w, h) = (nw, nh);
        s += 1;
    }
    s
}

/// Size of pyramid level `s` of an image of size (w, h).
pub fn level_size(mut w: usize, mut h: usize, s: usize) -> (usize, usize) {
    for _ in 0..s {
        (w, h) = (w.div_ceil(2), h.div_ceil(2));
    }
    (w, h)
}

/// An image pyramid: level 0 is the input (borrowed, not copied: at 4K that is 33 MB), each
/// next level half the size.
pub struct Pyramid<'a> {
    base: &'a Plane,
    coarser: Vec<Plane>,
}

impl<'a> Pyramid<'a> {
    /// Builds `count` levels (at least 1, the input itself).
    pub fn build(img: &'a Plane, count: usize) -> Pyramid<'a> {
        Self::build_from(img, 0, count)
    }

    /// Builds `count` levels of which only those from `first` on are kept: the finer ones
    /// are skipped (two at a time with [`downsample4`]) and must not be asked for.
    pub fn build_from(img: &'a Plane, first: usize, count: usize) -> Pyramid<'a> {
        let mut coarser: Vec<Plane> = Vec::with_capacity(count.saturating_sub(1));
        let mut s = 0;
        while s + 1 < count {
            let prev = coarser.last().unwrap_or(img);
            if s + 2 <= first && s + 2 < count {
                let next = downsample4(prev);
                coarser.push(Plane::new(0, 0));
                coarser.push(next);
                s += 2;
            } else {
                let next = downsample(prev);
                coarser.push(next);
                s += 1;
            }
        }
        Pyramid { base: img, coarser }
    }

    /// Number of levels.
    pub fn len(&self) -> usize {
        self.coarser.len() + 1
    }

    /// Always false: level 0 exists.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Level `s` (0 = the input).
    pub fn level(&self, s: usize) -> &Plane {
        if s == 0 {
            self.base
        } else {
            &self.coarser[s - 1]
        }
    }
}

/// Image gradients (d/dx, d/dy) by the 3x3 Sobel operator divided by 8, so that they are
/// derivatives in intensity per pixel (the Gauss-Newton step of the inverse search needs the
/// true scale) with a little smoothing across the derivative direction. Borders are
/// replicated.
pub fn gradients(img: &Plane) -> (Plane, Plane) {
    let (w, h) = (img.width, img.height);
    let mut gx = Plane::new(w, h);
    let mut gy = Plane::new(w, h);
    if w == 0 || h == 0 {
        return (gx, gy);
    }
    gx.data
        .par_chunks_mut(w)
        .zip(gy.data.par_chunks_mut(w))
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each(|(y, (ox, oy))| {
            let up = img.row(y.saturating_sub(1));
            let mid = img.row(y);
            let dn = img.row((y + 1).min(h - 1));
            let at = |x: usize| {
                let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
                (l, r)
            };
            let mut kernel = |x: usize, l: usize, r: usize| {
                let dx = (up[r] - up[l]) + 2.0 * (mid[r] - mid[l]) + (dn[r] - dn[l]);
                let dy = (dn[l] - up[l]) + 2.0 * (dn[x] - up[x]) + (dn[r] - up[r]);
                ox[x] = dx * 0.125;
                oy[x] = dy * 0.125;
            };
            if w < 3 {
                for x in 0..w {
                    let (l, r) = at(x);
                    kernel(x, l, r);
                }
                return;
            }
            kernel(0, 0, 1);
            for x in 1..w - 1 {
                kernel(x, x - 1, x + 1);
            }
            kernel(w - 1, w - 2, w - 1);
        });
    (gx, gy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_keeps_constants_and_linear_ramps() {
        let p = Plane::from_fn(9, 7, |x, _| 0.1 * x as f32);
        let d = downsample(&p);
        assert_eq!((d.width, d.height), (5, 4));
        // Coarse pixel i sits at fine position 2i + 0.5 (interior, away from the clamp).
        for i in 1..3 {
            assert!((d.at(i, 1) - 0.1 * (2.0 * i as f32 + 0.5)).abs() < 1e-6);
        }
        let c = downsample(&Plane::from_fn(5, 5, |_, _| 0.7));
        assert!(c.data.iter().all(|&v| (v - 0.7).abs() < 1e-6));
        // Degenerate sizes do not panic.
        assert_eq!(downsample(&Plane::new(1, 1)).data.len(), 1);
    }

    #[test]
    fn downsample4_is_two_downsamples() {
        for (w, h) in [(37, 22), (16, 9), (5, 3), (1, 1), (2, 7)] {
            let p = Plane::from_fn(w, h, |x, y| ((x * 7 + y * 13) % 17) as f32 / 17.0);
            let (a, b) = (downsample4(&p), downsample(&downsample(&p)));
            assert_eq!((a.width, a.height), (b.width, b.height));
            for (x, y) in a.data.iter().zip(&b.data) {
                assert!((x - y).abs() < 1e-5, "{w}x{h}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn sobel_gives_per_pixel_derivatives() {
        let p = Plane::from_fn(8, 8, |x, y| 0.5 * x as f32 - 0.25 * y as f32);
        let (gx, gy) = gradients(&p);
        assert!((gx.at(4, 4) - 0.5).abs() < 1e-6);
        assert!((gy.at(4, 4) + 0.25).abs() < 1e-6);
    }

    #[test]
    fn coarsest_scale_follows_the_image_size() {
        // 1080p: 30 px wide at level 6; 4K one level more; tiny images stay at level 0.
        assert_eq!(auto_coarsest_scale(1920, 1080, 30, 8), 6);
        assert_eq!(auto_coarsest_scale(3840, 2160, 30, 8), 7);
        assert_eq!(auto_coarsest_scale(20, 10, 30, 8), 0);
        // The smaller side must stay at least a patch wide.
        assert_eq!(auto_coarsest_scale(4000, 40, 30, 8), 2);
        assert_eq!(level_size(1920, 1080, 6), (30, 17));
    }
}
