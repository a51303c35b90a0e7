//! Virtual camera alignment: the step that keeps the subject still and the horizon level
//! while the view orbits, on a rig whose cameras are never perfectly aimed.
//!
//! For every output view (a real camera, or a view synthesized between two) we make a
//! virtual camera with the same centre (the interpolated centre for a synthesized view, moving
//! on the arc about the focus axis, see [`crate::camera::interpolate`]) that
//! - looks straight at the focus point (the point nearest all optical axes, or one the user
//!   gives or picks in pixels: [`focus`]),
//! - is upright with respect to the rig's up vector (the normal of the best-fit plane of the
//!   camera centres, [`rig_up`]), so the horizon does not wobble,
//! - has a focal length proportional to its distance from the focus, so the subject keeps its
//!   size.
//!
//! Since the virtual camera shares the source camera's centre, the change of view is a pure
//! rotation (plus the change of focal length and the removal of lens distortion): a
//! [`ViewMap`] maps source pixels to output pixels exactly, whatever the depth, and
//! [`ViewMap::warp`] resamples a view through it once (bilinear), lens undistortion included.
//! Synthesized views are made in the output frame directly: the pair is matched between the
//! two cameras' aligned frames, and each camera pixel is splatted from its place there along
//! the flow, with a kernel as wide as the local magnification so that a zoomed-in output has
//! no gaps: one resampling, like the cameras' own frames (see
//! [`crate::interp::PairFlow::aligned`]). [`Alignment::auto_crop`] zooms all virtual cameras
//! alike to the largest output-aspect rectangle that every view fills (or the caller keeps
//! the full frame and fills the rest with black).
//!
//! This is the geometry of Zhang et al. style "frozen moment" stabilisation used by replay
//! systems; see Hartley and Zisserman, "Multiple View Geometry" (2nd ed.), section 8.4 for the
//! rotation-induced homography K' R K^-1.

pub mod focus;
pub mod planar;

pub use focus::{focus_from_pixels, nearest_to_axes, rig_up};
pub use planar::PlanarAlignment;

use crate::camera::{interpolate, Camera, Intrinsics, Pose};
use crate::error::{Error, Result};
use crate::frame::RgbImage;
use multiversion::multiversion;
use nalgebra::{Matrix3, Point3, Vector3};
use rayon::prelude::*;

/// The virtual cameras of a rig.
#[derive(Clone, Debug)]
pub struct Alignment {
    /// Calibrated cameras, in rig order.
    pub cameras: Vec<Camera>,
    pub focus: Point3<f64>,
    pub up: Vector3<f64>,
    pub out_width: u32,
    pub out_height: u32,
    /// Output focal length (pixels) per metre of distance to the focus, before zooming.
    focal_per_metre: f64,
    /// Common zoom of every virtual camera (1 = the subject as large as in the average
    /// camera, scaled to the output width).
    pub zoom: f64,
}

/// How one source view (a real camera, or an interpolated one) maps into the output.
#[derive(Clone, Debug)]
pub struct ViewMap {
    /// The source camera (its intrinsics, including distortion).
    pub source: Intrinsics,
    pub source_size: (u32, u32),
    /// Normalised undistorted source ray -> homogeneous output pixel: K_v R_v R_s^T.
    pub h: Matrix3<f64>,
    /// Its inverse.
    pub h_inv: Matrix3<f64>,
    pub out_size: (u32, u32),
}

impl Alignment {
    /// Virtual cameras for `cameras` (rig order), looking at `focus` (default: the point
    /// nearest all optical axes), rendering `out_width` x `out_height`.
    pub fn new(
        cameras: Vec<Camera>,
        focus: Option<Point3<f64>>,
        out_width: u32,
        out_height: u32,
    ) -> Result<Alignment> {
        if cameras.len() < 2 {
            return Err(Error::usage(
                "alignment needs a calibration of at least two cameras",
            ));
        }
        let focus = match focus {
            Some(f) => f,
            None => nearest_to_axes(&cameras)?,
        };
        let up = rig_up(&cameras);
        // Keep the subject the size it has in the average camera, at the output width.
        let n = cameras.len() as f64;
        let mean_fx = cameras
            .iter()
            .map(|c| c.intrinsics.fx * out_width as f64 / c.width as f64)
            .sum::<f64>()
            / n;
        let mean_d = cameras
            .iter()
            .map(|c| (c.pose.centre() - focus).norm())
            .sum::<f64>()
            / n;
        if mean_d.is_nan() || mean_d <= 1e-9 {
            return Err(Error::usage(
                "the focus point coincides with the cameras; give --focus elsewhere",
            ));
        }
        Ok(Alignment {
            cameras,
            focus,
            up,
            out_width,
            out_height,
            focal_per_metre: mean_fx / mean_d,
            zoom: 1.0,
        })
    }

    /// The source camera of a view `t` of the way from camera `from` to camera `to`.
    pub fn source_camera(&self, from: usize, to: usize, t: f32) -> Camera {
        if t == 0.0 || from == to {
            self.cameras[from].clone()
        } else {
            interpolate(
                &self.cameras[from],
                &self.cameras[to],
                t as f64,
                &self.focus,
                &self.up,
            )
        }
    }

    /// The virtual camera at the same centre as `source`: looking at the focus, upright, with
    /// the focal length that keeps the subject's size.
    pub fn virtual_camera(&self, source: &Camera) -> Camera {
        let centre = source.pose.centre();
        let d = (self.focus - centre).norm();
        let f = self.focal_per_metre * d * self.zoom;
        Camera {
            name: format!("virtual {}", source.name),
            width: self.out_width,
            height: self.out_height,
            intrinsics: Intrinsics::centred(self.out_width, self.out_height, f),
            pose: Pose::look_at(centre, self.focus, self.up),
        }
    }

    /// The map from the view between `from` and `to` at `t` into the output.
    pub fn view_map(&self, from: usize, to: usize, t: f32) -> ViewMap {
        let src = self.source_camera(from, to, t);
        let virt = self.virtual_camera(&src);
        let h = virt.intrinsics.matrix()
            * virt.pose.rotation_matrix()
            * src.pose.rotation_matrix().transpose();
        ViewMap {
            source: src.intrinsics,
            source_size: (src.width, src.height),
            h_inv: h
                .try_inverse()
                .expect("a rotation and a focal length invert"),
            h,
            out_size: (self.out_width, self.out_height),
        }
    }

    /// Zooms every virtual camera alike so that the output is covered by every view in
    /// `views` ((from, to, t) triples): the largest centred rectangle of the output aspect
    /// inside all of them becomes the frame. Returns the zoom (at least 1 is not required:
    /// views wider than the output zoom out).
    pub fn auto_crop(&mut self, views: &[(usize, usize, f32)]) -> Result<f64> {
        self.zoom = 1.0;
        let (w, h) = (self.out_width as f64, self.out_height as f64);
        let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
        let maps: Vec<ViewMap> = views
            .iter()
            .map(|&(a, b, t)| self.view_map(a, b, t))
            .collect();
        // Largest s in (0, 1] such that the rectangle scaled by s about the centre maps into
        // every source image: bisection on the scale, checking points along its border.
        let fits = |s: f64| {
            let (hw, hh) = (s * w / 2.0, s * h / 2.0);
            let border = (0..64).flat_map(|i| {
                let u = i as f64 / 63.0;
                let x = cx - hw + 2.0 * hw * u;
                let y = cy - hh + 2.0 * hh * u;
                [(x, cy - hh), (x, cy + hh), (cx - hw, y), (cx + hw, y)]
            });
            let pts: Vec<(f64, f64)> = border.collect();
            maps.iter().all(|m| {
                pts.iter().all(|&(x, y)| {
                    m.to_source(x, y)
                        .is_some_and(|(u, v)| covers(m.source_size, u, v))
                })
            })
        };
        // Views are rarely wider than 4x the output frame; start there.
        let (mut lo, mut hi) = (0.0, 4.0);
        if !fits(1e-3) {
            return Err(Error::usage(
                "the focus point is outside some camera's view, so no crop keeps it in every frame; check --focus and the calibration",
            ));
        }
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        self.zoom = 1.0 / lo;
        Ok(self.zoom)
    }
}

impl ViewMap {
    /// Source pixel (distorted) -> output pixel, or `None` behind the virtual camera.
    #[inline(always)]
    pub fn to_output(&self, u: f64, v: f64) -> Option<(f64, f64)> {
        let (x, y) = undistort(&self.source, u, v);
        let p = self.h * Vector3::new(x, y, 1.0);
        (p.z > 1e-12).then(|| (p.x / p.z, p.y / p.z))
    }

    /// Output pixel -> source pixel (distorted), or `None` behind the source camera.
    #[inline(always)]
    pub fn to_source(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let r = self.h_inv * Vector3::new(x, y, 1.0);
        if r.z <= 1e-12 {
            return None;
        }
        let k = &self.source;
        let (xd, yd) = k.distort(r.x / r.z, r.y / r.z);
        Some((k.fx * xd + k.cx, k.fy * yd + k.cy))
    }

    /// Which output pixels fall inside the source image.
    pub fn seen(&self) -> Vec<bool> {
        let (w, h) = self.out_size;
        (0..w as usize * h as usize)
            .into_par_iter()
            .map(|i| {
                let (x, y) = ((i % w as usize) as f64, (i / w as usize) as f64);
                self.to_source(x, y)
                    .is_some_and(|(u, v)| covers(self.source_size, u, v))
            })
            .collect()
    }

    /// Resamples a source image into the output (bilinear; black outside the source).
    pub fn warp(&self, img: &RgbImage) -> RgbImage {
        let (w, h) = self.out_size;
        let mut out = RgbImage::new(w, h);
        out.data
            .par_chunks_mut(w as usize * 3)
            .enumerate()
            .for_each(|(y, row)| warp_row(self, img, y, row));
        out
    }
}

/// Fills the pixels no camera saw (`seen` false) with a heavily blurred copy of the rest
/// (normalised box blur over the seen pixels, radius a sixteenth of the width, run twice,
/// and wider where that does not reach):
/// the broadcast "blurred surround" instead of black bars or a crop.
pub fn fill_blur(img: &mut RgbImage, seen: &[bool]) {
    let (w, h) = (img.width as usize, img.height as usize);
    if w == 0 || h == 0 || seen.iter().all(|&s| s) || !seen.iter().any(|&s| s) {
        return;
    }
    let r = (w / 16).max(2);
    // Premultiplied colour and weight planes.
    let mut planes: Vec<Vec<f32>> = (0..3)
        .map(|c| {
            (0..w * h)
                .map(|i| {
                    if seen[i] {
                        img.data[3 * i + c] as f32
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    planes.push(seen.iter().map(|&s| if s { 1.0 } else { 0.0 }).collect());
    // Two passes at the radius; wider ones until every unseen pixel has some weight (a
    // wide black border far from any seen pixel).
    let mut radius = r;
    for pass in 0.. {
        planes
            .par_iter_mut()
            .for_each(|p| box_blur(p, w, h, radius));
        let reached = (0..w * h).all(|i| seen[i] || planes[3][i] > 1e-6);
        if pass >= 1 && (reached || radius > w.max(h)) {
            break;
        }
        if pass >= 1 {
            radius *= 2;
        }
    }
    img.data
        .par_chunks_mut(3 * w)
        .enumerate()
        .for_each(|(y, row)| {
            for x in 0..w {
                let i = y * w + x;
                let wt = planes[3][i];
                if seen[i] || wt <= 1e-6 {
                    continue;
                }
                for c in 0..3 {
                    row[3 * x + c] = (planes[c][i] / wt).round().clamp(0.0, 255.0) as u8;
                }
            }
        });
}

/// Separable box blur of radius `r` (sums over the window, borders clamped), in place.
fn box_blur(p: &mut [f32], w: usize, h: usize, r: usize) {
    let mut tmp = vec![0f32; w.max(h)];
    for y in 0..h {
        let row = &mut p[y * w..(y + 1) * w];
        let mut acc: f32 = row[..r.min(w)].iter().sum();
        for x in 0..w {
            if x + r < w {
                acc += row[x + r];
            }
            if x > r {
                acc -= row[x - r - 1];
            }
            tmp[x] = acc;
        }
        row.copy_from_slice(&tmp[..w]);
    }
    for x in 0..w {
        let mut acc: f32 = (0..r.min(h)).map(|y| p[y * w + x]).sum();
        for y in 0..h {
            if y + r < h {
                acc += p[(y + r) * w + x];
            }
            if y > r {
                acc -= p[(y - r - 1) * w + x];
            }
            tmp[y] = acc;
        }
        for y in 0..h {
            p[y * w + x] = tmp[y];
        }
    }
}

/// Row `y` of [`ViewMap::warp`], compiled for the best SIMD level of the CPU.
#[multiversion(targets("x86_64+avx+avx2+fma"))]
fn warp_row(m: &ViewMap, img: &RgbImage, y: usize, row: &mut [u8]) {
    for (x, px) in row.chunks_exact_mut(3).enumerate() {
        let Some((u, v)) = m.to_source(x as f64, y as f64) else {
            px.fill(0);
            continue;
        };
        if !covers((img.width, img.height), u, v) {
            px.fill(0);
            continue;
        }
        px.copy_from_slice(&bilinear(img, u, v));
    }
}

/// Bilinear sample of an 8-bit image at (u, v) (clamped to the image).
#[inline(always)]
pub(crate) fn bilinear(img: &RgbImage, u: f64, v: f64) -> [u8; 3] {
    let (sw, sh) = (img.width as f64, img.height as f64);
    let (u, v) = (u.clamp(0.0, sw - 1.0), v.clamp(0.0, sh - 1.0));
    let (x0, y0) = (u as u32, v as u32);
    let (x1, y1) = ((x0 + 1).min(img.width - 1), (y0 + 1).min(img.height - 1));
    let (fx, fy) = ((u - x0 as f64) as f32, (v - y0 as f64) as f32);
    let (a, b, c, d) = (
        img.pixel(x0, y0),
        img.pixel(x1, y0),
        img.pixel(x0, y1),
        img.pixel(x1, y1),
    );
    let mut px = [0u8; 3];
    for k in 0..3 {
        let top = a[k] as f32 + fx * (b[k] as f32 - a[k] as f32);
        let bot = c[k] as f32 + fx * (d[k] as f32 - c[k] as f32);
        px[k] = (top + fy * (bot - top)).round().clamp(0.0, 255.0) as u8;
    }
    px
}

/// Whether (u, v) lies on an image of `size`: pixel centres run from 0 to size - 1, and a
/// pixel covers half a pixel either side.
#[inline(always)]
pub(crate) fn covers(size: (u32, u32), u: f64, v: f64) -> bool {
    u >= -0.5 && v >= -0.5 && u <= size.0 as f64 - 0.5 && v <= size.1 as f64 - 0.5
}

/// Normalised undistorted coordinates of a (distorted) pixel: a few fixed-point iterations
/// of the Brown-Conrady model's inverse, exact for no distortion.
#[inline(always)]
pub fn undistort(k: &Intrinsics, u: f64, v: f64) -> (f64, f64) {
    let (xd, yd) = ((u - k.cx) / k.fx, (v - k.cy) / k.fy);
    if k.dist.iter().all(|&d| d == 0.0) {
        return (xd, yd);
    }
    let (mut x, mut y) = (xd, yd);
    for _ in 0..8 {
        let (dx, dy) = k.distort(x, y);
        x += xd - dx;
        y += yd - dy;
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::rig::{place_cameras, Placement};
    use crate::synth::Layout;

    fn rig(aim: f64, roll: f64) -> Vec<Camera> {
        place_cameras(&Placement {
            layout: Layout::Ring,
            cameras: 12,
            arc_degrees: 360.0,
            focus: Point3::new(0.0, 0.0, 1.0),
            up: Vector3::z(),
            radius: 8.0,
            height: 1.6,
            width: 640,
            height_px: 360,
            hfov_degrees: 40.0,
            aim_jitter_degrees: aim,
            roll_jitter_degrees: roll,
            seed: 3,
        })
        .cameras
    }

    #[test]
    fn the_focus_lands_at_the_centre_upright_and_the_same_size() {
        let focus = Point3::new(0.0, 0.0, 1.0);
        let al = Alignment::new(rig(6.0, 4.0), Some(focus), 640, 360).unwrap();
        let top = focus + Vector3::new(0.0, 0.0, 0.5);
        let mut sizes = Vec::new();
        for (a, b, t) in [(0, 0, 0.0), (3, 4, 0.25), (11, 0, 0.5), (7, 7, 0.0)] {
            let src = al.source_camera(a, b, t);
            let m = al.view_map(a, b, t);
            // Where the source camera sees the focus, mapped into the output.
            let p = src.project(&focus).unwrap();
            let (x, y) = m.to_output(p.x, p.y).unwrap();
            assert!(
                (x - 319.5).abs() < 1e-6 && (y - 179.5).abs() < 1e-6,
                "{x} {y}"
            );
            // A point straight above the focus stays straight above it: no roll.
            let q = src.project(&top).unwrap();
            let (qx, qy) = m.to_output(q.x, q.y).unwrap();
            assert!((qx - 319.5).abs() < 1e-6 && qy < y, "{qx} {qy}");
            sizes.push(y - qy);
            // And back.
            let (u, v) = m.to_source(x, y).unwrap();
            assert!((u - p.x).abs() < 1e-6 && (v - p.y).abs() < 1e-6);
        }
        let (lo, hi) = sizes
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &s| (l.min(s), h.max(s)));
        assert!(hi / lo < 1.0001, "subject size varies: {sizes:?}");
    }

    #[test]
    fn auto_crop_keeps_every_view_filled() {
        let mut al =
            Alignment::new(rig(6.0, 4.0), Some(Point3::new(0.0, 0.0, 1.0)), 640, 360).unwrap();
        let views: Vec<(usize, usize, f32)> = (0..12).map(|c| (c, c, 0.0)).collect();
        let zoom = al.auto_crop(&views).unwrap();
        // 6 degrees of pitch error out of a 23 degree vertical field of view: about 2x.
        assert!(zoom > 1.5 && zoom < 3.0, "zoom {zoom}");
        for &(a, b, t) in &views {
            let m = al.view_map(a, b, t);
            for (x, y) in [(0.0, 0.0), (639.0, 0.0), (0.0, 359.0), (639.0, 359.0)] {
                let (u, v) = m.to_source(x, y).unwrap();
                assert!(
                    (-0.51..=639.51).contains(&u) && (-0.51..=359.51).contains(&v),
                    "camera {a}: corner ({x}, {y}) -> ({u}, {v})"
                );
            }
        }
        // Perfectly aimed cameras need no crop at all.
        let mut al = Alignment::new(rig(0.0, 0.0), None, 640, 360).unwrap();
        let zoom = al.auto_crop(&views).unwrap();
        assert!((zoom - 1.0).abs() < 0.01, "zoom {zoom}");
    }

    #[test]
    fn blur_fill_covers_what_no_camera_saw_with_its_surroundings() {
        let mut img = RgbImage::new(64, 32);
        let mut seen = vec![false; 64 * 32];
        for y in 0..32 {
            for x in 16..48 {
                img.put(x, y, [200, 100, 50]);
                seen[y as usize * 64 + x as usize] = true;
            }
        }
        fill_blur(&mut img, &seen);
        // The seen part is untouched; the sides take its colour instead of staying black.
        assert_eq!(img.pixel(20, 10), [200, 100, 50]);
        assert_eq!(img.pixel(14, 10), [200, 100, 50]);
        assert_eq!(img.pixel(2, 30), [200, 100, 50]);
    }

    #[test]
    fn undistortion_inverts_distortion() {
        let k = Intrinsics {
            dist: [-0.3, 0.1, 0.001, -0.002, 0.0],
            ..Intrinsics::centred(640, 480, 500.0)
        };
        let (x, y) = (0.4, -0.3);
        let (xd, yd) = k.distort(x, y);
        let (u, v) = (k.fx * xd + k.cx, k.fy * yd + k.cy);
        let (ux, uy) = undistort(&k, u, v);
        assert!((ux - x).abs() < 1e-6 && (uy - y).abs() < 1e-6, "{ux} {uy}");
    }
}
