//! Bilinear backward warping of a plane by a flow field: `out(x) = img(x + flow(x))`.
//!
//! With the flow from A to B, warping B gives B as seen from A's pixel grid, which should match
//! A wherever the flow is right and nothing is occluded. The variational refinement linearises
//! the energy around this warped image (Brox et al., ECCV 2004), the tests and the consistency
//! check use it, and view synthesis will too. Samples outside the image replicate the border;
//! [`warp_with_mask`] also says which samples fell inside.

use super::FlowField;
use crate::error::{Error, Result};
use crate::frame::Plane;
use multiversion::multiversion;
use rayon::prelude::*;

/// Bilinear sample at (x, y) with replicated borders.
#[inline(always)]
pub fn sample_clamped(img: &Plane, x: f32, y: f32) -> f32 {
    sample_raw(&img.data, img.width, img.height, x, y)
}

/// [`sample_clamped`] on a raw row-major `w` x `h` buffer (a flow component, for instance).
#[inline(always)]
pub(crate) fn sample_raw(data: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let xc = x.clamp(0.0, (w - 1) as f32);
    let yc = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (xc as usize, yc as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (xc - x0 as f32, yc - y0 as f32);
    let r0 = &data[y0 * w..];
    let r1 = &data[y1 * w..];
    let a = r0[x0] + fx * (r0[x1] - r0[x0]);
    let b = r1[x0] + fx * (r1[x1] - r1[x0]);
    a + fy * (b - a)
}

/// Whether a sample position lies inside the image (within half a pixel of the border
/// pixel centres).
#[inline(always)]
pub fn inside(w: usize, h: usize, x: f32, y: f32) -> bool {
    x > -0.5 && y > -0.5 && x < w as f32 - 0.5 && y < h as f32 - 0.5
}

fn check(img: &Plane, flow: &FlowField) -> Result<()> {
    if (img.width, img.height) != (flow.width, flow.height) {
        return Err(Error::usage(format!(
            "cannot warp a {}x{} image by a {}x{} flow; compute the flow on images of the same size",
            img.width, img.height, flow.width, flow.height
        )));
    }
    Ok(())
}

/// Backward warp: `out(x, y) = img(x + u, y + v)`, bilinear, border replicated.
pub fn warp(img: &Plane, flow: &FlowField) -> Result<Plane> {
    check(img, flow)?;
    let mut out = Plane::new(img.width, img.height);
    warp_into(img, &flow.u, &flow.v, &mut out.data, None);
    Ok(out)
}

/// Backward warp plus a mask (1.0 inside, 0.0 where the sample fell outside `img`).
pub fn warp_with_mask(img: &Plane, flow: &FlowField) -> Result<(Plane, Plane)> {
    check(img, flow)?;
    let mut out = Plane::new(img.width, img.height);
    let mut mask = Plane::new(img.width, img.height);
    warp_into(img, &flow.u, &flow.v, &mut out.data, Some(&mut mask.data));
    Ok((out, mask))
}

/// The kernel behind [`warp`]: planar flow components and preallocated outputs, parallel
/// over rows. Sizes must match `img`.
pub(crate) fn warp_into(
    img: &Plane,
    u: &[f32],
    v: &[f32],
    out: &mut [f32],
    mask: Option<&mut [f32]>,
) {
    let w = img.width;
    if w == 0 {
        return;
    }
    let rows = out
        .par_chunks_mut(w)
        .enumerate()
        .with_min_len(super::min_rows(w));
    let body = |y: usize, o: &mut [f32], m: Option<&mut [f32]>| {
        let (ur, vr) = (&u[y * w..(y + 1) * w], &v[y * w..(y + 1) * w]);
        warp_row(img, y, ur, vr, o, m);
    };
    match mask {
        Some(mask) => rows
            .zip(mask.par_chunks_mut(w))
            .for_each(|((y, o), m)| body(y, o, Some(m))),
        None => rows.for_each(|(y, o)| body(y, o, None)),
    }
}

/// Row `y` of [`warp_into`], compiled for the best SIMD level of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn warp_row(img: &Plane, y: usize, ur: &[f32], vr: &[f32], o: &mut [f32], m: Option<&mut [f32]>) {
    let (w, h) = (img.width, img.height);
    for x in 0..w {
        let (sx, sy) = (x as f32 + ur[x], y as f32 + vr[x]);
        o[x] = sample_clamped(img, sx, sy);
    }
    if let Some(m) = m {
        for x in 0..w {
            let (sx, sy) = (x as f32 + ur[x], y as f32 + vr[x]);
            m[x] = if inside(w, h, sx, sy) { 1.0 } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_shift_is_exact_and_subpixel_is_bilinear() {
        let img = Plane::from_fn(10, 6, |x, y| (x * 10 + y) as f32);
        let flow = FlowField::from_fn(10, 6, |_, _| (2.0, 1.0));
        let out = warp(&img, &flow).unwrap();
        assert_eq!(out.at(3, 2), img.at(5, 3));
        let half = FlowField::from_fn(10, 6, |_, _| (0.5, 0.0));
        assert!((warp(&img, &half).unwrap().at(3, 2) - 37.0).abs() < 1e-5);
        // Outside samples replicate the border and are masked out.
        let (o, m) = warp_with_mask(&img, &flow).unwrap();
        assert_eq!(o.at(9, 5), img.at(9, 5));
        assert_eq!((m.at(9, 5), m.at(0, 0)), (0.0, 1.0));
    }

    #[test]
    fn size_mismatch_is_an_error() {
        let e = warp(&Plane::new(4, 4), &FlowField::new(5, 4)).unwrap_err();
        assert!(e.to_string().contains("4x4") && e.to_string().contains("5x4"));
    }
}
