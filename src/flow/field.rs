//! A dense flow field: (u, v) in pixels from the first image to the second, planar (one
//! `Vec<f32>` per component, rows top to bottom), so that the passes stream through one
//! component at a time and vectorise.
//!
//! Pixel (0, 0) is the centre of the top-left pixel; the flow at pixel (x, y) says that the
//! point seen there in the first image is seen at (x + u, y + v) in the second.

use multiversion::multiversion;
use rayon::prelude::*;

/// Flow values above this magnitude (or NaN) mean "unknown", as in the Middlebury format.
pub const UNKNOWN_FLOW_THRESH: f32 = 1e9;

#[derive(Clone, Debug, PartialEq)]
pub struct FlowField {
    pub width: usize,
    pub height: usize,
    pub u: Vec<f32>,
    pub v: Vec<f32>,
}

impl FlowField {
    /// A zero flow of the given size.
    pub fn new(width: usize, height: usize) -> Self {
        FlowField {
            width,
            height,
            u: vec![0.0; width * height],
            v: vec![0.0; width * height],
        }
    }

    /// A flow from a function of the pixel position returning (u, v).
    pub fn from_fn(width: usize, height: usize, f: impl Fn(usize, usize) -> (f32, f32)) -> Self {
        let mut flow = FlowField::new(width, height);
        for y in 0..height {
            for x in 0..width {
                let (u, v) = f(x, y);
                flow.u[y * width + x] = u;
                flow.v[y * width + x] = v;
            }
        }
        flow
    }

    /// The flow vector at a pixel.
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> (f32, f32) {
        let i = y * self.width + x;
        (self.u[i], self.v[i])
    }

    /// True where the vector is a known flow (finite and below the Middlebury "unknown"
    /// threshold).
    #[inline]
    pub fn is_known(u: f32, v: f32) -> bool {
        u.abs() <= UNKNOWN_FLOW_THRESH && v.abs() <= UNKNOWN_FLOW_THRESH
    }

    /// The largest vector length among known vectors (0 for an empty or all-unknown field).
    pub fn max_magnitude(&self) -> f32 {
        self.u
            .iter()
            .zip(&self.v)
            .filter(|(u, v)| Self::is_known(**u, **v))
            .map(|(u, v)| (u * u + v * v).sqrt())
            .fold(0.0, f32::max)
    }

    /// Mean endpoint error against `truth` over the pixels where `truth` is known.
    ///
    /// Panics if the sizes differ: comparing fields of different sizes is a programming error.
    pub fn epe(&self, truth: &FlowField) -> f32 {
        self.epe_masked(truth, None)
    }

    /// Mean endpoint error over the pixels where `mask` is true (and `truth` is known).
    /// Returns NaN if no pixel counts.
    pub fn epe_masked(&self, truth: &FlowField, mask: Option<&[bool]>) -> f32 {
        assert_eq!(
            (self.width, self.height),
            (truth.width, truth.height),
            "flow sizes differ"
        );
        if let Some(m) = mask {
            assert_eq!(m.len(), self.u.len(), "mask size differs from the flow");
        }
        let (sum, n) = (0..self.u.len())
            .filter(|&i| mask.is_none_or(|m| m[i]) && Self::is_known(truth.u[i], truth.v[i]))
            .fold((0f64, 0usize), |(s, n), i| {
                let du = (self.u[i] - truth.u[i]) as f64;
                let dv = (self.v[i] - truth.v[i]) as f64;
                (s + (du * du + dv * dv).sqrt(), n + 1)
            });
        (sum / n as f64) as f32
    }

    /// Resamples the field to another size with bilinear interpolation (pixel centres
    /// aligned), scaling the vectors by the size ratio so that they stay in pixels of the new
    /// size. This is how a coarse level's flow becomes the next finer level's initial guess.
    pub fn resize(&self, width: usize, height: usize) -> FlowField {
        let mut out = FlowField::new(width, height);
        if self.width == 0 || self.height == 0 || width == 0 || height == 0 {
            return out;
        }
        let sx = self.width as f32 / width as f32;
        let sy = self.height as f32 / height as f32;
        let (su, sv) = (1.0 / sx, 1.0 / sy);
        // Source column and weight for each destination column, computed once per call.
        let cols: Vec<(usize, usize, f32)> = (0..width)
            .map(|x| {
                let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (self.width - 1) as f32);
                let x0 = fx as usize;
                (x0, (x0 + 1).min(self.width - 1), fx - x0 as f32)
            })
            .collect();
        // An exact upsampling by k repeats k column phases: destination column k i + r
        // interpolates source columns i + d_r and i + d_r + 1 (d_r is -1 or 0) with a fixed
        // weight: the same arithmetic as `cols`, without the gathers.
        let phases: Vec<(usize, f32)> = (0..width / self.width)
            .map(|r| {
                let f = (r as f32 + 0.5) * sx - 0.5;
                let d = f.floor();
                ((d + 1.0) as usize, f - d)
            })
            .collect();
        // Per destination row: the vertical interpolation of the two source rows (scaled to
        // the new size) into a row of source width, then the horizontal one.
        let sw = self.width;
        out.u
            .par_chunks_mut(width)
            .zip(out.v.par_chunks_mut(width))
            .enumerate()
            .with_min_len(super::min_rows(width))
            .for_each_init(
                || (vec![0f32; sw], vec![0f32; sw]),
                |(tu, tv), (y, (ur, vr))| {
                    resize_row(self, y, sy, su, sv, &cols, &phases, tu, tv, ur, vr)
                },
            );
        out
    }
}

/// Row `y` of [`FlowField::resize`]; `tu` and `tv` are scratch of the source width.
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn resize_row(
    f: &FlowField,
    y: usize,
    sy: f32,
    su: f32,
    sv: f32,
    cols: &[(usize, usize, f32)],
    phases: &[(usize, f32)],
    tu: &mut [f32],
    tv: &mut [f32],
    ur: &mut [f32],
    vr: &mut [f32],
) {
    let (width, sw) = (ur.len(), f.width);
    let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (f.height - 1) as f32);
    let y0 = fy as usize;
    let y1 = (y0 + 1).min(f.height - 1);
    let wy = fy - y0 as f32;
    let (u0, u1) = (&f.u[y0 * sw..][..sw], &f.u[y1 * sw..][..sw]);
    let (v0, v1) = (&f.v[y0 * sw..][..sw], &f.v[y1 * sw..][..sw]);
    let (tu, tv) = (&mut tu[..sw], &mut tv[..sw]);
    for i in 0..sw {
        tu[i] = (u0[i] + wy * (u1[i] - u0[i])) * su;
        tv[i] = (v0[i] + wy * (v1[i] - v0[i])) * sv;
    }
    match width / sw {
        2 if width == 2 * sw => {
            upsample_row::<2>(tu, ur, phases);
            upsample_row::<2>(tv, vr, phases);
        }
        4 if width == 4 * sw => {
            upsample_row::<4>(tu, ur, phases);
            upsample_row::<4>(tv, vr, phases);
        }
        _ => {
            for ((&(x0, x1, wx), o), p) in cols.iter().zip(ur.iter_mut()).zip(vr.iter_mut()) {
                *o = tu[x0] + wx * (tu[x1] - tu[x0]);
                *p = tv[x0] + wx * (tv[x1] - tv[x0]);
            }
        }
    }
}

/// `out[K i + r] = t[i + d_r] + w_r (t[i + d_r + 1] - t[i + d_r])` (border replicated), with
/// `phases[r] = (d_r + 1, w_r)`.
#[inline(always)]
fn upsample_row<const K: usize>(t: &[f32], out: &mut [f32], phases: &[(usize, f32)]) {
    let n = t.len();
    let ph: [(usize, f32); K] = std::array::from_fn(|r| phases[r]);
    let at = |i: isize| t[i.clamp(0, n as isize - 1) as usize];
    for (i, o) in out.chunks_exact_mut(K).enumerate() {
        if i == 0 || i + 1 >= n {
            // Border blocks, whose taps leave the source row: replicate.
            for (r, o) in o.iter_mut().enumerate() {
                let (d, wt) = ph[r];
                let j = i as isize + d as isize - 1;
                let (a, b) = (at(j), at(j + 1));
                *o = a + wt * (b - a);
            }
            continue;
        }
        let (a, b, c) = (t[i - 1], t[i], t[i + 1]);
        for r in 0..K {
            let (d, wt) = ph[r];
            let (p, q) = if d == 0 { (a, b) } else { (b, c) };
            o[r] = p + wt * (q - p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epe_of_a_constant_offset() {
        let a = FlowField::from_fn(8, 6, |x, y| (x as f32, y as f32));
        let mut b = a.clone();
        b.u.iter_mut().for_each(|u| *u += 3.0);
        b.v.iter_mut().for_each(|v| *v += 4.0);
        assert!((a.epe(&b) - 5.0).abs() < 1e-6);
        let mask: Vec<bool> = (0..48).map(|i| i % 2 == 0).collect();
        assert!((a.epe_masked(&b, Some(&mask)) - 5.0).abs() < 1e-6);
        // Unknown truth pixels do not count.
        b.u[0] = f32::NAN;
        assert!((a.epe(&b) - 5.0).abs() < 1e-6);
    }

    #[test]
    fn resize_scales_vectors_and_keeps_linear_fields() {
        // A flow linear in x stays linear (interior), and vectors double with the size.
        let f = FlowField::from_fn(10, 8, |x, _| (x as f32 * 0.5, 1.0));
        let g = f.resize(20, 16);
        assert_eq!((g.width, g.height), (20, 16));
        assert!((g.at(5, 5).1 - 2.0).abs() < 1e-6);
        // Destination x=9 is source x=4.25: u = 2 * 0.5 * 4.25.
        assert!((g.at(9, 3).0 - 4.25).abs() < 1e-5, "{:?}", g.at(9, 3));
        // The exact 2x and 4x paths compute what the definition says.
        let q = FlowField::from_fn(7, 5, |x, y| {
            ((x * x) as f32 * 0.3 - y as f32, (x + 3 * y) as f32)
        });
        for k in [2, 4] {
            let up = q.resize(7 * k, 5 * k);
            for y in 0..5 * k {
                for x in 0..7 * k {
                    let fx = ((x as f32 + 0.5) / k as f32 - 0.5).clamp(0.0, 6.0);
                    let fy = ((y as f32 + 0.5) / k as f32 - 0.5).clamp(0.0, 4.0);
                    let (x0, y0) = (fx as usize, fy as usize);
                    let (x1, y1) = ((x0 + 1).min(6), (y0 + 1).min(4));
                    let (wx, wy) = (fx - x0 as f32, fy - y0 as f32);
                    let lerp = |c: &[f32]| {
                        let r = |yy: usize| c[yy * 7 + x0] + wx * (c[yy * 7 + x1] - c[yy * 7 + x0]);
                        (r(y0) + wy * (r(y1) - r(y0))) * k as f32
                    };
                    let (u, v) = up.at(x, y);
                    assert!((u - lerp(&q.u)).abs() < 1e-4, "{k}x at {x},{y}: {u}");
                    assert!((v - lerp(&q.v)).abs() < 1e-4, "{k}x at {x},{y}: {v}");
                }
            }
        }
        let h = g.resize(10, 8);
        assert!((h.at(3, 3).0 - f.at(3, 3).0).abs() < 1e-5);
    }
}
