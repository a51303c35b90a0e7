//! Dense optical flow: Kroeger, Timofte, Dai and Van Gool, "Fast Optical Flow using Dense
//! Inverse Search", ECCV 2016 (DIS), with the variational refinement of Brox, Bruhn,
//! Papenberg and Weickert, "High Accuracy Optical Flow Estimation Based on a Theory for
//! Warping", ECCV 2004.
//!
//! Flow between neighbouring cameras of the ring drives view synthesis and calibration. We
//! write DIS ourselves because no Rust crate does this well: the available crates are
//! Lucas-Kanade trackers for sparse points or slow textbook Horn-Schunck, none handles the
//! large displacements of cameras 15-30 degrees apart, none normalises exposure between
//! cameras, and binding OpenCV would pull a C++ toolchain into every build. DIS is also the
//! algorithm our GPU backend will run, pass for pass.
//!
//! The passes, one file each, in the order they run at every pyramid level from coarse to
//! fine:
//!
//! 1. [`pyramid`]: Gaussian pyramid of both images, gradients of the first.
//! 2. [`inverse_search`]: per patch on a grid, inverse compositional Gauss-Newton for the
//!    patch's translation, starting from the coarser level's flow (and its neighbours').
//! 3. [`densify`]: per pixel, the patches' flows weighted by how well each explains the pixel.
//! 4. [`variational`]: robust variational refinement of the dense flow.
//!
//! The coarsest level is chosen from the image size (about 30-60 px wide), so that a
//! displacement of a sizeable fraction of the image is a few pixels there. The flow at
//! `finest_scale` is upsampled to the input size. Around the passes: [`warp`] (bilinear
//! backward warp), [`consistency`] (forward-backward check, occlusion map), [`flo`]
//! (Middlebury .flo files), [`viz`] (Middlebury colour coding), [`refill`] (inconsistent
//! pixels take the best of their consistent neighbours' flows).
//!
//! Before the passes, [`global_search`] can seed the pyramid for large displacements
//! (neighbouring cameras of a ring): `global_search::compute_flow_large` is what the CLI and
//! view synthesis use. Measurements against OpenCV's DIS, run side by side by
//! `make bench-peer`, are in benches/README.md.
//!
//! The hot row and patch kernels are compiled twice with the `multiversion` crate, for
//! AVX2+FMA and for the baseline, and the CPU picks at run time: the release binary stays
//! portable and still gets 8-wide vectors (cachegrind: 2.63 G -> 2.05 G instructions for three
//! 1080p flows, PNG decoding included). No explicit FMA is used, so both versions do the same
//! arithmetic (the peer benchmark's EPEs were unchanged to three decimals).
//!
//! Conventions: (u, v) in pixels from the first image to the second; pixel (0, 0) is the centre
//! of the top-left pixel. Parallel work is split into pieces of fixed size, so results are the
//! same on any thread count.

pub mod consistency;
pub mod densify;
pub mod field;
pub mod flo;
pub mod global_search;
pub mod inverse_search;
pub mod params;
pub mod pyramid;
pub mod refill;
#[cfg(test)]
mod testutil;
pub mod variational;
pub mod viz;
pub mod warp;

pub use consistency::{bidirectional, consistency, Consistency, ConsistencyParams};
pub use field::FlowField;
pub use flo::{read_flo, write_flo};
pub use params::{FlowParams, Preset};
pub use viz::flow_to_rgb;
pub use warp::warp;

use crate::error::{Error, Result};
use crate::frame::{Plane, RgbImage};
use inverse_search::LevelImages;
use pyramid::{auto_coarsest_scale, Pyramid};

/// Dense flow from `a` to `b` (same size), optionally starting from `init` (a flow of the
/// same size, e.g. the previous frame's, or a smaller one with the same aspect, in pixels of
/// its own size), which then replaces the zero guess at the coarsest level.
pub fn compute_flow(
    a: &Plane,
    b: &Plane,
    params: &FlowParams,
    init: Option<&FlowField>,
) -> Result<FlowField> {
    params.validate()?;
    let (w, h) = (a.width, a.height);
    if (w, h) != (b.width, b.height) {
        return Err(Error::usage(format!(
            "cannot compute flow between images of different sizes: the first is {w}x{h}, the \
             second {}x{}; scale or crop the cameras to one size",
            b.width, b.height
        )));
    }
    if w == 0 || h == 0 {
        return Err(Error::usage(format!(
            "cannot compute flow on an empty {w}x{h} image"
        )));
    }
    if let Some(f) = init {
        if f.width == 0 || f.height == 0 || f.width > w || f.height > h {
            return Err(Error::usage(format!(
                "the initial flow is {}x{} but the images are {w}x{h}; pass a flow of the image size or smaller",
                f.width, f.height
            )));
        }
    }
    let coarsest = params
        .coarsest_scale
        .unwrap_or_else(|| auto_coarsest_scale(w, h, params.coarsest_width, params.patch_size));
    let finest = params.finest_scale.min(coarsest);
    let (pa, pb) = rayon::join(
        || Pyramid::build_from(a, finest, coarsest + 1),
        || Pyramid::build_from(b, finest, coarsest + 1),
    );
    let mut flow: Option<FlowField> = None;
    for s in (finest..=coarsest).rev() {
        let (i0, i1) = (pa.level(s), pb.level(s));
        let (lw, lh) = (i0.width, i0.height);
        let guess = match (flow.take(), init) {
            (Some(f), _) => f.resize(lw, lh),
            (None, Some(f)) if (f.width, f.height) == (lw, lh) => f.clone(),
            (None, Some(f)) => f.resize(lw, lh),
            (None, None) => FlowField::new(lw, lh),
        };
        // Images smaller than a patch still work: the patch shrinks to fit.
        let ps = params.patch_size.min(lw).min(lh);
        let stride = params.patch_stride.clamp(1, ps);
        let (gx, gy) = pyramid::gradients(i0);
        let level = LevelImages {
            i0,
            i1,
            gx: &gx,
            gy: &gy,
        };
        let patches = inverse_search::search(&level, &guess, params, ps, stride);
        drop(guess);
        let mut dense = densify::densify(&patches, i0, i1);
        variational::refine(i0, i1, &mut dense, params);
        flow = Some(dense);
    }
    let flow = flow.expect("at least one level runs");
    Ok(if (flow.width, flow.height) == (w, h) {
        flow
    } else {
        flow.resize(w, h)
    })
}

/// Rows per rayon task for row-parallel passes over rows of `width` pixels: enough work per
/// task (about 16k pixels) that scheduling does not dominate at the small pyramid levels.
pub(crate) fn min_rows(width: usize) -> usize {
    (16_384 / width.max(1)).max(1)
}

/// [`compute_flow`] on the BT.709 luma of two RGB images.
pub fn compute_flow_rgb(
    a: &RgbImage,
    b: &RgbImage,
    params: &FlowParams,
    init: Option<&FlowField>,
) -> Result<FlowField> {
    let (la, lb) = rayon::join(|| Plane::luma(a), || Plane::luma(b));
    compute_flow(&la, &lb, params, init)
}

#[cfg(test)]
mod tests {
    use super::testutil::render;
    use super::*;

    /// A pair where B(T(x)) = A(x) for the point map T, and the exact flow T(x) - x. `inv`
    /// maps a pixel of B back to texture coordinates (T^-1).
    fn pair(
        w: usize,
        h: usize,
        fwd: impl Fn(f32, f32) -> (f32, f32),
        inv: impl Fn(f32, f32) -> (f32, f32),
    ) -> (Plane, Plane, FlowField) {
        let a = render(w, h, 7, |x, y| (x, y));
        let b = render(w, h, 7, inv);
        let truth = FlowField::from_fn(w, h, |x, y| {
            let (x, y) = (x as f32, y as f32);
            let (tx, ty) = fwd(x, y);
            (tx - x, ty - y)
        });
        (a, b, truth)
    }

    /// EPE over the pixels whose match stays inside B with a margin (pixels leaving the
    /// image have no correct answer to measure).
    fn epe_inside(flow: &FlowField, truth: &FlowField, margin: f32) -> f32 {
        let (w, h) = (truth.width as f32, truth.height as f32);
        let mask: Vec<bool> = (0..truth.u.len())
            .map(|i| {
                let (x, y) = ((i % truth.width) as f32, (i / truth.width) as f32);
                let (bx, by) = (x + truth.u[i], y + truth.v[i]);
                [x, bx].iter().all(|&c| c >= margin && c < w - margin)
                    && [y, by].iter().all(|&c| c >= margin && c < h - margin)
            })
            .collect();
        flow.epe_masked(truth, Some(&mask))
    }

    fn check(name: &str, a: &Plane, b: &Plane, truth: &FlowField, bounds: [f32; 3]) {
        for (p, bound) in Preset::ALL.into_iter().zip(bounds) {
            let flow = compute_flow(a, b, &FlowParams::preset(p), None).unwrap();
            let e = epe_inside(&flow, truth, 8.0);
            eprintln!("{name} {p}: EPE {e:.4}");
            assert!(e < bound, "{name} {p}: EPE {e} >= {bound}");
        }
    }

    #[test]
    fn subpixel_translation() {
        let (u, v) = (3.5, -2.25);
        let (a, b, t) = pair(256, 192, |x, y| (x + u, y + v), |x, y| (x - u, y - v));
        // Measured EPE: fast 0.056, balanced 0.047, quality 0.023.
        check("translation", &a, &b, &t, [0.1, 0.08, 0.05]);
    }

    #[test]
    fn large_translation() {
        let (u, v) = (25.0, 10.0);
        let (a, b, t) = pair(320, 240, |x, y| (x + u, y + v), |x, y| (x - u, y - v));
        // Measured EPE: 0.070, 0.073, 0.082.
        check("large translation", &a, &b, &t, [0.12, 0.12, 0.12]);
    }

    #[test]
    fn rotation() {
        let (c, s) = (3f32.to_radians().cos(), 3f32.to_radians().sin());
        let (cx, cy) = (160.0, 120.0);
        let rot = move |x: f32, y: f32, s: f32| {
            let (dx, dy) = (x - cx, y - cy);
            (cx + c * dx - s * dy, cy + s * dx + c * dy)
        };
        let (a, b, t) = pair(
            320,
            240,
            move |x, y| rot(x, y, s),
            move |x, y| rot(x, y, -s),
        );
        // Measured EPE: 0.177, 0.158, 0.145.
        check("rotation 3 deg", &a, &b, &t, [0.25, 0.25, 0.22]);
    }

    #[test]
    fn zoom() {
        let (cx, cy, z) = (160.0, 120.0, 1.05);
        let (a, b, t) = pair(
            320,
            240,
            move |x, y| (cx + z * (x - cx), cy + z * (y - cy)),
            move |x, y| (cx + (x - cx) / z, cy + (y - cy) / z),
        );
        // Measured EPE: 0.156, 0.142, 0.115.
        check("zoom 5%", &a, &b, &t, [0.23, 0.21, 0.18]);
    }

    #[test]
    fn moving_square_over_static_background() {
        let (w, h) = (256, 192);
        let (x0, y0, side, (du, dv)) = (80.0, 60.0, 64.0, (6.0f32, 3.0f32));
        let inside =
            |x: f32, y: f32, ox: f32, oy: f32| x >= ox && x < ox + side && y >= oy && y < oy + side;
        let scene = |x: f32, y: f32, ox: f32, oy: f32| {
            if inside(x, y, ox, oy) {
                super::testutil::texture(x - ox, y - oy, 99)
            } else {
                super::testutil::texture(x, y, 3)
            }
        };
        let a = Plane::from_fn(w, h, |x, y| scene(x as f32, y as f32, x0, y0));
        let b = Plane::from_fn(w, h, |x, y| scene(x as f32, y as f32, x0 + du, y0 + dv));
        let truth = FlowField::from_fn(w, h, |x, y| {
            if inside(x as f32, y as f32, x0, y0) {
                (du, dv)
            } else {
                (0.0, 0.0)
            }
        });
        // Score away from the square's border, where the flow is discontinuous and the
        // uncovered background has no match.
        let mask: Vec<bool> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let near = x >= x0 - 8.0
                    && x < x0 + side + du + 8.0
                    && y >= y0 - 8.0
                    && y < y0 + side + dv + 8.0;
                let deep =
                    x >= x0 + 8.0 && x < x0 + side - 8.0 && y >= y0 + 8.0 && y < y0 + side - 8.0;
                !near || deep
            })
            .collect();
        // Measured EPE away from the boundary: 0.074, 0.063, 0.059; all pixels 0.21-0.24.
        for (p, bound) in Preset::ALL.into_iter().zip([0.12, 0.1, 0.1]) {
            let flow = compute_flow(&a, &b, &FlowParams::preset(p), None).unwrap();
            let e = flow.epe_masked(&truth, Some(&mask));
            let all = flow.epe(&truth);
            eprintln!("square {p}: EPE {e:.4} (all pixels {all:.4})");
            assert!(e < bound, "square {p}: EPE {e}");
            assert!(all < 0.35, "square {p}: EPE all pixels {all}");
        }
    }

    #[test]
    fn size_mismatch_is_a_usage_error() {
        let e = compute_flow(
            &Plane::new(64, 48),
            &Plane::new(64, 40),
            &FlowParams::default(),
            None,
        )
        .unwrap_err();
        assert!(e.is_usage());
        let msg = e.to_string();
        assert!(msg.contains("64x48") && msg.contains("64x40"), "{msg}");
        let e = compute_flow(
            &Plane::new(8, 8),
            &Plane::new(8, 8),
            &FlowParams::default(),
            Some(&FlowField::new(16, 16)),
        )
        .unwrap_err();
        assert!(e.to_string().contains("16x16"));
        // A smaller seed (a coarse level's size) is accepted and resampled.
        assert!(compute_flow(
            &Plane::new(8, 8),
            &Plane::new(8, 8),
            &FlowParams::default(),
            Some(&FlowField::new(4, 4)),
        )
        .is_ok());
    }

    #[test]
    fn tiny_images_work() {
        for (w, h) in [(1, 1), (3, 2), (7, 5), (12, 9), (40, 6)] {
            let a = render(w, h, 1, |x, y| (x, y));
            let b = render(w, h, 1, |x, y| (x - 0.5, y));
            for p in Preset::ALL {
                let f = compute_flow(&a, &b, &FlowParams::preset(p), None).unwrap();
                assert_eq!((f.width, f.height), (w, h));
                assert!(f.u.iter().chain(&f.v).all(|x| x.is_finite()), "{w}x{h} {p}");
            }
        }
    }

    #[test]
    fn exposure_difference_between_cameras() {
        let (u, v) = (5.25, 1.5);
        let (a, b, t) = pair(256, 192, |x, y| (x + u, y + v), |x, y| (x - u, y - v));
        let b = Plane {
            data: b.data.iter().map(|p| p + 0.06).collect(),
            ..b
        };
        let f = compute_flow(&a, &b, &FlowParams::preset(Preset::Balanced), None).unwrap();
        let e = epe_inside(&f, &t, 8.0);
        assert!(e < 0.2, "EPE with +0.06 brightness: {e}");
    }

    #[test]
    fn same_result_on_any_thread_count() {
        let (a, b, _) = pair(200, 150, |x, y| (x + 4.0, y), |x, y| (x - 4.0, y));
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| compute_flow(&a, &b, &FlowParams::preset(Preset::Quality), None))
                .unwrap()
        };
        let (one, three) = (run(1), run(3));
        assert!(one.u == three.u && one.v == three.v);
    }

    #[test]
    fn rgb_convenience_uses_luma() {
        let a = RgbImage::new(16, 16);
        let f = compute_flow_rgb(&a, &a, &FlowParams::default(), None).unwrap();
        assert!(f.u.iter().all(|&u| u == 0.0));
    }
}
