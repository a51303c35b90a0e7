//! Densification: from one flow vector per patch to one per pixel (Kroeger et al., ECCV 2016,
//! section 2.2, eq. 3).
//!
//! Every pixel is covered by several overlapping patches. Each patch votes with its flow,
//! weighted by how well that flow explains *this pixel*:
//!
//! ```text
//!     u(x) = sum_i w_i(x) u_i / sum_i w_i(x),   w_i(x) = 1 / max(|I1(x + u_i) - I0(x) - m_i|, eps)
//! ```
//!
//! so that at a motion boundary the patch on the pixel's own side wins. `m_i` is the patch's
//! mean photometric offset when mean normalisation is on (it is 0 otherwise), so that an
//! exposure difference between cameras does not flatten the weights. `eps` is one 8-bit grey
//! level, as in OpenCV.
//!
//! Parallel over image rows; each row gathers the patches of the patch rows that cover it,
//! and the bilinear weights are constant across a patch, so the inner loop is a contiguous,
//! vectorisable row operation.

use super::inverse_search::PatchFlow;
use super::FlowField;
use crate::frame::Plane;
use multiversion::multiversion;
use rayon::prelude::*;

const EPS: f32 = 1.0 / 255.0;

/// Dense flow at the level of `i0`/`i1` from the patch flows.
pub(crate) fn densify(pf: &PatchFlow, i0: &Plane, i1: &Plane) -> FlowField {
    let (w, h) = (i0.width, i0.height);
    let ps = pf.grid.size;
    let mut out = FlowField::new(w, h);
    out.u
        .par_chunks_mut(w)
        .zip(out.v.par_chunks_mut(w))
        .enumerate()
        .with_min_len(super::min_rows(w))
        .for_each_init(
            // Per-thread scratch, reused across rows.
            || (vec![0f32; w], vec![0f32; ps + 1]),
            |(wsum, warped), (y, (ur, vr))| densify_row(pf, i0, i1, y, wsum, warped, ur, vr),
        );
    out
}

/// Row `y` of [`densify`]; `wsum` and `warped` are scratch.
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn densify_row(
    pf: &PatchFlow,
    i0: &Plane,
    i1: &Plane,
    y: usize,
    wsum: &mut [f32],
    warped: &mut [f32],
    ur: &mut [f32],
    vr: &mut [f32],
) {
    let (w, ps, nx) = (i0.width, pf.grid.size, pf.grid.xs.len());
    // Written before the `+=` below: the rows come from calloc, whose untouched pages would
    // each take a copy-on-write fault (with a TLB shootdown) on the first read-then-write.
    wsum.fill(0.0);
    ur.fill(0.0);
    vr.fill(0.0);
    let i0r = i0.row(y);
    for (j, &y0) in pf.grid.ys.iter().enumerate() {
        if y < y0 || y >= y0 + ps {
            continue;
        }
        for (i, &x0) in pf.grid.xs.iter().enumerate() {
            let k = j * nx + i;
            let (pu, pv, off) = (pf.u[k], pf.v[k], pf.offset[k]);
            sample_row(i1, x0, y, pu, pv, &mut warped[..ps]);
            let t = &i0r[x0..x0 + ps];
            let (ws, us, vs) = (
                &mut wsum[x0..x0 + ps],
                &mut ur[x0..x0 + ps],
                &mut vr[x0..x0 + ps],
            );
            for px in 0..ps {
                let d = (warped[px] - t[px] - off).abs();
                let wt = 1.0 / d.max(EPS);
                ws[px] += wt;
                us[px] += wt * pu;
                vs[px] += wt * pv;
            }
        }
    }
    for x in 0..w {
        // Every pixel is covered by at least one patch, so wsum > 0.
        let inv = 1.0 / wsum[x];
        ur[x] *= inv;
        vr[x] *= inv;
    }
}

/// `out[px] = I1(x0 + px + u, y + v)` for px in 0..out.len(), bilinear; the weights are shared
/// by the whole run, and the border is replicated only when the run leaves the image.
#[inline(always)]
fn sample_row(i1: &Plane, x0: usize, y: usize, u: f32, v: f32, out: &mut [f32]) {
    let (w, h) = (i1.width, i1.height);
    let n = out.len();
    let (sx, sy) = (x0 as f32 + u, y as f32 + v);
    let (fx0, fy0) = (sx.floor(), sy.floor());
    if fx0 >= 0.0 && fy0 >= 0.0 && fx0 + (n as f32) < w as f32 && fy0 + 1.0 < h as f32 {
        let (ix, iy) = (fx0 as usize, fy0 as usize);
        let (fx, fy) = (sx - fx0, sy - fy0);
        let r0 = &i1.data[iy * w + ix..][..n + 1];
        let r1 = &i1.data[(iy + 1) * w + ix..][..n + 1];
        let (w00, w01, w10, w11) = (
            (1.0 - fx) * (1.0 - fy),
            fx * (1.0 - fy),
            (1.0 - fx) * fy,
            fx * fy,
        );
        for px in 0..n {
            out[px] = w00 * r0[px] + w01 * r0[px + 1] + w10 * r1[px] + w11 * r1[px + 1];
        }
    } else {
        for (px, o) in out.iter_mut().enumerate() {
            *o = super::warp::sample_clamped(i1, sx + px as f32, sy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::inverse_search::PatchGrid;

    #[test]
    fn uniform_patch_flow_gives_uniform_dense_flow() {
        let (w, h) = (20, 12);
        let i0 = Plane::from_fn(w, h, |x, y| ((x * 7 + y * 3) % 11) as f32 / 11.0);
        let grid = PatchGrid::new(w, h, 8, 4);
        let n = grid.count();
        let pf = PatchFlow {
            grid,
            u: vec![1.5; n],
            v: vec![-0.5; n],
            offset: vec![0.0; n],
        };
        let d = densify(&pf, &i0, &i0);
        assert!(d.u.iter().all(|&u| (u - 1.5).abs() < 1e-5));
        assert!(d.v.iter().all(|&v| (v + 0.5).abs() < 1e-5));
    }

    #[test]
    fn the_patch_that_explains_a_pixel_wins() {
        // Two patch columns disagree; in their overlap, pixels that the right patch's flow
        // explains (zero flow, identical images) take its vote.
        let (w, h) = (12, 8);
        let i0 = Plane::from_fn(w, h, |x, y| ((x * 5 + y * 3) % 7) as f32 / 7.0);
        let grid = PatchGrid::new(w, h, 8, 4);
        assert_eq!(grid.xs, vec![0, 4]);
        let pf = PatchFlow {
            grid,
            u: vec![3.0, 0.0],
            v: vec![0.0, 0.0],
            offset: vec![0.0; 2],
        };
        let d = densify(&pf, &i0, &i0);
        assert!(d.u[6] < 0.5, "{}", d.u[6]);
        assert_eq!(d.u[1], 3.0);
    }
}
