//! Patch-based inverse search: the core pass of DIS (Kroeger et al., ECCV 2016, section 2.1).
//!
//! The first image is cut into square patches on a regular grid (stride = patch size minus
//! overlap). For each patch we look for the translation (u, v) that best matches it in the
//! second image, minimising the sum of squared differences
//!
//! ```text
//!     E(u, v) = sum_x [ I1(x + (u, v)) - T(x) - mean ]^2
//! ```
//!
//! with Gauss-Newton in the *inverse compositional* form (Baker and Matthews, 2004): the
//! linearisation is done on the template T (the patch of the first image), so the Hessian
//! depends only on T's gradients and is computed once per patch, and each iteration costs one
//! bilinear sampling of the second image plus a few multiply-adds per pixel. The update is
//! composed inversely, (u, v) <- (u, v) - dp.
//!
//! With mean normalisation, `mean` is the patch's mean difference, so a patch that is brighter
//! or darker in the second image (different cameras, different exposure) still matches; the
//! Hessian uses mean-free gradients accordingly.
//!
//! The initial guess comes from the coarser level's dense flow at the patch centre. With
//! spatial propagation (the DIS paper's two sweeps, as in OpenCV), a patch also tries the flow of
//! its already solved left/upper neighbours (forward sweep) and right/lower neighbours (backward
//! sweep) and starts from the best; each sweep does half the iterations. An update that
//! increases the error, or that runs more than a patch size away from where the sweep started,
//! is rejected: the best flow seen is kept.
//!
//! Patch rows are processed in stripes of a fixed number of rows (not one per thread), in
//! parallel with rayon: propagation stays inside a stripe, so the result does not depend on the
//! thread count.

use super::params::{FlowParams, MAX_PATCH_SIZE};
use super::FlowField;
use crate::frame::Plane;
use multiversion::multiversion;
use rayon::prelude::*;

/// Patch rows per stripe: the unit of parallel work and the reach of vertical propagation.
const STRIPE_ROWS: usize = 8;

/// Top-left corners of the patches: every `stride` pixels, plus one flush with the far border
/// so that every pixel is covered.
#[derive(Clone, Debug)]
pub(crate) struct PatchGrid {
    pub size: usize,
    pub xs: Vec<usize>,
    pub ys: Vec<usize>,
}

impl PatchGrid {
    pub fn new(width: usize, height: usize, size: usize, stride: usize) -> Self {
        let axis = |len: usize| {
            let last = len - size;
            let mut v: Vec<usize> = (0..=last).step_by(stride).collect();
            if *v.last().expect("0 is always there") != last {
                v.push(last);
            }
            v
        };
        PatchGrid {
            size,
            xs: axis(width),
            ys: axis(height),
        }
    }

    pub fn count(&self) -> usize {
        self.xs.len() * self.ys.len()
    }
}

/// One flow vector per patch (row-major over the grid), plus each patch's mean photometric
/// offset (second minus first image) at its flow, which densification subtracts.
pub(crate) struct PatchFlow {
    pub grid: PatchGrid,
    pub u: Vec<f32>,
    pub v: Vec<f32>,
    pub offset: Vec<f32>,
}

/// The images of one pyramid level and the first image's gradients.
pub(crate) struct LevelImages<'a> {
    pub i0: &'a Plane,
    pub i1: &'a Plane,
    pub gx: &'a Plane,
    pub gy: &'a Plane,
}

/// Per-patch constants: position, gradient sums and the (mean-normalised) Hessian's inverse.
#[derive(Clone, Copy)]
struct Patch {
    x0: usize,
    y0: usize,
    sgx: f32,
    sgy: f32,
    /// Inverse Hessian entries; all zero for a textureless patch (no update is made).
    i11: f32,
    i12: f32,
    i22: f32,
}

/// What one evaluation of a patch at a flow gives: error, steepest-descent vector, mean offset.
#[derive(Clone, Copy)]
struct Eval {
    ssd: f32,
    bx: f32,
    by: f32,
    mean: f32,
}

/// Runs the inverse search on one level. `init` is the dense initial flow at this level.
pub(crate) fn search(
    img: &LevelImages,
    init: &FlowField,
    params: &FlowParams,
    patch_size: usize,
    stride: usize,
) -> PatchFlow {
    let (w, h) = (img.i0.width, img.i0.height);
    let grid = PatchGrid::new(w, h, patch_size, stride);
    let n = grid.count();
    let nx = grid.xs.len();
    let mut u = vec![0f32; n];
    let mut v = vec![0f32; n];
    let mut offset = vec![0f32; n];
    let chunk = STRIPE_ROWS * nx;
    u.par_chunks_mut(chunk)
        .zip(v.par_chunks_mut(chunk))
        .zip(offset.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(s, ((us, vs), os))| {
            let stripe = Stripe {
                img,
                init,
                params,
                grid: &grid,
                row0: s * STRIPE_ROWS,
            };
            // Monomorphise the common patch sizes so that the per-pixel loops have constant
            // trip counts and vectorise; 0 means "any size".
            match patch_size {
                8 => run_stripe::<8>(&stripe, us, vs, os),
                12 => run_stripe::<12>(&stripe, us, vs, os),
                16 => run_stripe::<16>(&stripe, us, vs, os),
                _ => run_stripe::<0>(&stripe, us, vs, os),
            }
        });
    PatchFlow { grid, u, v, offset }
}

/// [`Stripe::run`], compiled for the best SIMD level of the CPU (chosen at run time).
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn run_stripe<const PS: usize>(stripe: &Stripe, us: &mut [f32], vs: &mut [f32], os: &mut [f32]) {
    stripe.run::<PS>(us, vs, os)
}

struct Stripe<'a> {
    img: &'a LevelImages<'a>,
    init: &'a FlowField,
    params: &'a FlowParams,
    grid: &'a PatchGrid,
    row0: usize,
}

impl Stripe<'_> {
    #[inline(always)]
    fn run<const PS: usize>(&self, us: &mut [f32], vs: &mut [f32], os: &mut [f32]) {
        let nx = self.grid.xs.len();
        let rows = us.len() / nx;
        let prop = self.params.spatial_propagation;
        let iters = self.params.grad_descent_iterations;
        let (fwd_iters, bwd_iters) = if prop {
            (iters.div_ceil(2), iters / 2)
        } else {
            (iters, 0)
        };
        // The forward sweep's errors, so the backward sweep knows what to beat. Allocated
        // once per stripe, not per patch.
        let mut ssd = vec![0f32; us.len()];
        for r in 0..rows {
            for c in 0..nx {
                let p = self.patch::<PS>(r, c);
                let i = r * nx + c;
                let mut start = self.initial_guess(&p);
                let mut best = self.eval::<PS>(&p, start.0, start.1);
                let still = self.params.still_candidate;
                if still > 0.0 && (start.0 != 0.0 || start.1 != 0.0) {
                    let e = self.eval::<PS>(&p, 0.0, 0.0);
                    if e.ssd < still * best.ssd {
                        (start, best) = ((0.0, 0.0), e);
                    }
                }
                if prop {
                    let mut cands = [None, None];
                    if c > 0 {
                        cands[0] = Some((us[i - 1], vs[i - 1]));
                    }
                    if r > 0 {
                        cands[1] = Some((us[i - nx], vs[i - nx]));
                    }
                    for cand in cands.into_iter().flatten() {
                        let e = self.eval::<PS>(&p, cand.0, cand.1);
                        if e.ssd < best.ssd {
                            (start, best) = (cand, e);
                        }
                    }
                }
                let (f, e) = self.descend::<PS>(&p, start, best, fwd_iters);
                (us[i], vs[i], os[i], ssd[i]) = (f.0, f.1, e.mean, e.ssd);
            }
        }
        if !prop {
            return;
        }
        for r in (0..rows).rev() {
            for c in (0..nx).rev() {
                let p = self.patch::<PS>(r, c);
                let i = r * nx + c;
                let mut start = (us[i], vs[i]);
                let mut best = Eval {
                    ssd: ssd[i],
                    bx: 0.0,
                    by: 0.0,
                    mean: os[i],
                };
                let mut need_eval = true;
                let mut cands = [None, None];
                if c + 1 < nx {
                    cands[0] = Some((us[i + 1], vs[i + 1]));
                }
                if r + 1 < rows {
                    cands[1] = Some((us[i + nx], vs[i + nx]));
                }
                for cand in cands.into_iter().flatten() {
                    let e = self.eval::<PS>(&p, cand.0, cand.1);
                    if e.ssd < best.ssd {
                        (start, best, need_eval) = (cand, e, false);
                    }
                }
                if bwd_iters > 0 && need_eval {
                    // The descent needs the gradient at its starting point.
                    best = self.eval::<PS>(&p, start.0, start.1);
                }
                let (f, e) = self.descend::<PS>(&p, start, best, bwd_iters);
                (us[i], vs[i], os[i]) = (f.0, f.1, e.mean);
            }
        }
    }

    /// Gauss-Newton from `start` (whose evaluation is `e0`), keeping the best flow seen.
    #[inline(always)]
    fn descend<const PS: usize>(
        &self,
        p: &Patch,
        start: (f32, f32),
        e0: Eval,
        iters: usize,
    ) -> ((f32, f32), Eval) {
        let ps = if PS == 0 { self.grid.size } else { PS };
        let max_run = (ps * ps) as f32;
        let min_update = self.params.min_update * self.params.min_update;
        let (mut cur, mut e) = (start, e0);
        let mut best = (start, e0);
        if p.i11 == 0.0 && p.i22 == 0.0 {
            return best;
        }
        for _ in 0..iters {
            let dx = p.i11 * e.bx + p.i12 * e.by;
            let dy = p.i12 * e.bx + p.i22 * e.by;
            let next = (cur.0 - dx, cur.1 - dy);
            let (rx, ry) = (next.0 - start.0, next.1 - start.1);
            let run = rx * rx + ry * ry;
            if run.is_nan() || run > max_run {
                break; // ran away (or NaN): keep the best so far
            }
            cur = next;
            e = self.eval::<PS>(p, cur.0, cur.1);
            if e.ssd >= best.1.ssd {
                break; // the step made things worse: reject it
            }
            best = (cur, e);
            if dx * dx + dy * dy < min_update {
                break;
            }
        }
        best
    }

    #[inline(always)]
    fn initial_guess(&self, p: &Patch) -> (f32, f32) {
        let half = (self.grid.size as f32 - 1.0) * 0.5;
        let f = self.init;
        let (x, y) = (p.x0 as f32 + half, p.y0 as f32 + half);
        let (xi, yi) = (x as usize, y as usize);
        let (x1, y1) = ((xi + 1).min(f.width - 1), (yi + 1).min(f.height - 1));
        let (fx, fy) = (x - xi as f32, y - yi as f32);
        let lerp = |c: &[f32]| {
            let a = c[yi * f.width + xi] * (1.0 - fx) + c[yi * f.width + x1] * fx;
            let b = c[y1 * f.width + xi] * (1.0 - fx) + c[y1 * f.width + x1] * fx;
            a * (1.0 - fy) + b * fy
        };
        (lerp(&f.u), lerp(&f.v))
    }

    /// The patch at stripe row `r`, column `c`, with its Hessian inverted.
    #[inline(always)]
    fn patch<const PS: usize>(&self, r: usize, c: usize) -> Patch {
        let ps = if PS == 0 { self.grid.size } else { PS };
        let (x0, y0) = (self.grid.xs[c], self.grid.ys[self.row0 + r]);
        let w = self.img.i0.width;
        let mut a = [[0f32; MAX_PATCH_SIZE]; 5];
        for py in 0..ps {
            let gx = &self.img.gx.data[(y0 + py) * w + x0..][..ps];
            let gy = &self.img.gy.data[(y0 + py) * w + x0..][..ps];
            for px in 0..ps {
                a[0][px] += gx[px];
                a[1][px] += gy[px];
                a[2][px] += gx[px] * gx[px];
                a[3][px] += gx[px] * gy[px];
                a[4][px] += gy[px] * gy[px];
            }
        }
        let s = a.map(|col| col[..ps].iter().sum::<f32>());
        let n = (ps * ps) as f32;
        let (sgx, sgy) = if self.params.mean_normalization {
            (s[0], s[1])
        } else {
            (0.0, 0.0)
        };
        let h11 = s[2] - sgx * sgx / n;
        let h12 = s[3] - sgx * sgy / n;
        let h22 = s[4] - sgy * sgy / n;
        // A flat patch (8-bit quantisation noise only, gradients ~ 1/255) says nothing about
        // its motion: leave it at its initial guess. The small ridge keeps nearly 1-D patches
        // (edges) from sliding along the edge.
        let texture = (2.0f32 / 255.0).powi(2) * n;
        let reg = 1e-3 * (h11 + h22) + 1e-7 * n;
        let (h11, h22) = (h11 + reg, h22 + reg);
        let det = h11 * h22 - h12 * h12;
        let (i11, i12, i22) = if h11 + h22 < texture || det <= 0.0 {
            (0.0, 0.0, 0.0)
        } else {
            (h22 / det, -h12 / det, h11 / det)
        };
        Patch {
            x0,
            y0,
            sgx,
            sgy,
            i11,
            i12,
            i22,
        }
    }

    /// Samples the second image under the patch displaced by (u, v) and accumulates the
    /// error and the steepest-descent vector. One pass over the patch, no allocation: the
    /// per-column accumulators live on the stack and the column loop vectorises.
    #[inline(always)]
    fn eval<const PS: usize>(&self, p: &Patch, u: f32, v: f32) -> Eval {
        let ps = if PS == 0 { self.grid.size } else { PS };
        let (i0, i1) = (self.img.i0, self.img.i1);
        let (w, h) = (i1.width, i1.height);
        let (sx, sy) = (p.x0 as f32 + u, p.y0 as f32 + v);
        let (fx0, fy0) = (sx.floor(), sy.floor());
        let fast = fx0 >= 0.0
            && fy0 >= 0.0
            && fx0 + (ps as f32) < w as f32
            && fy0 + (ps as f32) < h as f32;
        let (fx, fy) = (sx - fx0, sy - fy0);
        let (w00, w01, w10, w11) = (
            (1.0 - fx) * (1.0 - fy),
            fx * (1.0 - fy),
            (1.0 - fx) * fy,
            fx * fy,
        );
        let mut acc_d = [0f32; MAX_PATCH_SIZE];
        let mut acc_dd = [0f32; MAX_PATCH_SIZE];
        let mut acc_bx = [0f32; MAX_PATCH_SIZE];
        let mut acc_by = [0f32; MAX_PATCH_SIZE];
        let mut warped = [0f32; MAX_PATCH_SIZE];
        for py in 0..ps {
            let t = &i0.data[(p.y0 + py) * w + p.x0..][..ps];
            let gx = &self.img.gx.data[(p.y0 + py) * w + p.x0..][..ps];
            let gy = &self.img.gy.data[(p.y0 + py) * w + p.x0..][..ps];
            let wr = &mut warped[..ps];
            if fast {
                let (ix, iy) = (fx0 as usize, fy0 as usize + py);
                let r0 = &i1.data[iy * w + ix..][..ps + 1];
                let r1 = &i1.data[(iy + 1) * w + ix..][..ps + 1];
                for px in 0..ps {
                    wr[px] = w00 * r0[px] + w01 * r0[px + 1] + w10 * r1[px] + w11 * r1[px + 1];
                }
            } else {
                for (px, o) in wr.iter_mut().enumerate() {
                    *o = super::warp::sample_clamped(i1, sx + px as f32, sy + py as f32);
                }
            }
            for px in 0..ps {
                let d = wr[px] - t[px];
                acc_d[px] += d;
                acc_dd[px] += d * d;
                acc_bx[px] += gx[px] * d;
                acc_by[px] += gy[px] * d;
            }
        }
        let sum = |a: &[f32; MAX_PATCH_SIZE]| a[..ps].iter().sum::<f32>();
        let (sd, sdd, bx, by) = (sum(&acc_d), sum(&acc_dd), sum(&acc_bx), sum(&acc_by));
        let n = (ps * ps) as f32;
        if self.params.mean_normalization {
            let mean = sd / n;
            Eval {
                ssd: (sdd - sd * mean).max(0.0),
                bx: bx - p.sgx * mean,
                by: by - p.sgy * mean,
                mean,
            }
        } else {
            Eval {
                ssd: sdd,
                bx,
                by,
                mean: 0.0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::pyramid::gradients;
    use crate::flow::testutil::render;

    #[test]
    fn grid_covers_every_pixel() {
        let g = PatchGrid::new(21, 10, 8, 4);
        assert_eq!(g.xs, vec![0, 4, 8, 12, 13]);
        assert_eq!(g.ys, vec![0, 2]);
        let g = PatchGrid::new(8, 8, 8, 4);
        assert_eq!((g.xs.len(), g.ys.len()), (1, 1));
    }

    #[test]
    fn patches_find_a_subpixel_shift_despite_an_exposure_change() {
        let (w, h) = (64, 48);
        let a = render(w, h, 7, |x, y| (x, y));
        // The second camera is brighter: mean normalisation must absorb the offset.
        let mut b = render(w, h, 7, |x, y| (x - 1.3, y + 0.7));
        b.data.iter_mut().for_each(|p| *p += 0.08);
        let (gx, gy) = gradients(&a);
        let img = LevelImages {
            i0: &a,
            i1: &b,
            gx: &gx,
            gy: &gy,
        };
        let params = FlowParams {
            grad_descent_iterations: 20,
            spatial_propagation: true,
            ..FlowParams::default()
        };
        let pf = search(&img, &FlowField::new(w, h), &params, 8, 4);
        let (mut worst, mut sum, mut n) = (0f32, 0f32, 0);
        for (j, &y0) in pf.grid.ys.iter().enumerate() {
            for (i, &x0) in pf.grid.xs.iter().enumerate() {
                if x0 < 4 || y0 < 4 || x0 + 12 > w || y0 + 12 > h {
                    continue; // patches whose match leaves the image
                }
                let k = j * pf.grid.xs.len() + i;
                let e = ((pf.u[k] - 1.3).powi(2) + (pf.v[k] + 0.7).powi(2)).sqrt();
                (worst, sum, n) = (worst.max(e), sum + e, n + 1);
                assert!((pf.offset[k] - 0.08).abs() < 0.01, "{}", pf.offset[k]);
            }
        }
        let mean = sum / n as f32;
        assert!(
            mean < 0.03 && worst < 0.1,
            "endpoint error mean {mean}, worst {worst}"
        );
    }
}
