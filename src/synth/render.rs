//! Rendering a [`Scene`] through a [`Camera`]: pixel rays, adaptive supersampling, and the
//! per-camera renderer that draws the static background once and then only the moving ball's
//! region per frame.
//!
//! Anti-aliasing: every pixel corner carries one jittered sample, shared by the four pixels
//! around it; a pixel whose four corners agree (same surface, colours within a few grey
//! levels) is their mean, and one whose corners disagree (edges, high-contrast texture) also
//! gets a jittered 3x3 grid of its own. Most pixels thus cost about one ray, edges thirteen.
//! Every sample position is a hash of its corner or pixel, so each pixel is a pure function
//! of (scene, camera, pixel, time): images are byte-identical on any thread count, and a pixel
//! re-rendered for a frame equals the same pixel of a full render.

use super::noise::hash_unit;
use super::scene::{Ray, Scene, Surface};
use crate::camera::{Camera, Intrinsics};
use crate::frame::RgbImage;
use crate::time::Rational;
use nalgebra::{Matrix3, Point3, Vector3};
use rayon::prelude::*;

/// Pixel corners carry one sample each, jittered by up to this many pixels.
const CORNER_JITTER: f64 = 0.2;
/// Where a pixel's corners disagree, it gets a FINE x FINE jittered grid as well.
const FINE: u32 = 3;
/// Rows per parallel work item.
const BAND: usize = 8;
/// Largest colour spread (per channel, 0..1) among a pixel's corner samples that is left
/// without the fine grid: about 13 grey levels.
const REFINE_CONTRAST: f64 = 0.05;
const JITTER_SEED: u32 = 0x51ce_0b5e;

/// A camera prepared for casting pixel rays.
#[derive(Clone, Debug)]
pub(crate) struct View {
    centre: Point3<f64>,
    cam_to_world: Matrix3<f64>,
    world_to_cam: Matrix3<f64>,
    translation: Vector3<f64>,
    intrinsics: Intrinsics,
    distorted: bool,
    width: u32,
    height: u32,
}

impl View {
    pub fn new(camera: &Camera) -> Self {
        let r = camera.pose.rotation_matrix();
        View {
            centre: camera.pose.centre(),
            cam_to_world: r.transpose(),
            world_to_cam: r,
            translation: camera.pose.translation,
            intrinsics: camera.intrinsics,
            distorted: camera.intrinsics.dist.iter().any(|&k| k != 0.0),
            width: camera.width,
            height: camera.height,
        }
    }

    /// The normalised (z = 1) camera-frame direction through pixel position (u, v).
    #[inline]
    fn normalised(&self, u: f64, v: f64) -> Vector3<f64> {
        let k = &self.intrinsics;
        let (xd, yd) = ((u - k.cx) / k.fx, (v - k.cy) / k.fy);
        let (x, y) = if self.distorted {
            undistort(k, xd, yd)
        } else {
            (xd, yd)
        };
        Vector3::new(x, y, 1.0)
    }

    /// The world ray through pixel position (u, v) (pixel centres at integers).
    #[inline]
    pub fn ray(&self, u: f64, v: f64) -> Ray {
        Ray::new(self.centre, self.cam_to_world * self.normalised(u, v))
    }

    /// Pixel rectangle that can see a sphere, or `Whole` when it cannot be bounded simply.
    fn sphere_region(&self, centre: &Point3<f64>, radius: f64) -> Region {
        let c = self.world_to_cam * centre.coords + self.translation;
        // Slightly inflated, so rounding can never put a hit outside the rectangle.
        let r = radius * 1.001 + 1e-6;
        if c.z < -r {
            return Region::Empty; // entirely behind the camera: no pixel ray reaches it
        }
        if c.z <= r * 1.01 || self.distorted {
            // Touching the camera plane (the image of the sphere is unbounded), or a distorted
            // camera, whose pixels are not a linear image of the normalised plane: redraw
            // everything, to stay exact.
            return Region::Whole;
        }
        let k = &self.intrinsics;
        let (u0, u1) = tangent_extent(c.x, c.z, r);
        let (v0, v1) = tangent_extent(c.y, c.z, r);
        let (umin, umax) = (k.fx * u0 + k.cx, k.fx * u1 + k.cx);
        let (vmin, vmax) = (k.fy * v0 + k.cy, k.fy * v1 + k.cy);
        // Samples of pixel x lie in [x - 0.5, x + 0.5]; one more pixel of margin for rounding.
        let lo = |m: f64| (m - 1.5).floor().max(0.0);
        let (x0, y0) = (lo(umin), lo(vmin));
        let x1 = (umax + 1.5).ceil() + 1.0;
        let y1 = (vmax + 1.5).ceil() + 1.0;
        let (w, h) = (self.width as f64, self.height as f64);
        if x0 >= w || y0 >= h || x1 <= 0.0 || y1 <= 0.0 {
            return Region::Empty;
        }
        Region::Rect {
            x0: x0 as u32,
            y0: y0 as u32,
            x1: x1.min(w) as u32,
            y1: y1.min(h) as u32,
        }
    }
}

/// The range of x/z over a sphere with centre (a, ., z) and radius r (z > r) in camera
/// coordinates: the slopes k of the two planes x = k z tangent to it, which satisfy
/// (a - k z)^2 = r^2 (1 + k^2). The same with y gives the vertical range.
fn tangent_extent(a: f64, z: f64, r: f64) -> (f64, f64) {
    let den = z * z - r * r;
    let s = r * (a * a + den).sqrt();
    ((a * z - s) / den, (a * z + s) / den)
}

/// Inverts the OpenCV distortion model on normalised coordinates by fixed-point iteration
/// (as cv::undistortPoints does); exact for zero distortion.
fn undistort(k: &Intrinsics, xd: f64, yd: f64) -> (f64, f64) {
    let [k1, k2, p1, p2, k3] = k.dist;
    let (mut x, mut y) = (xd, yd);
    for _ in 0..20 {
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        let dx = 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x);
        let dy = p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y;
        x = (xd - dx) / radial;
        y = (yd - dy) / radial;
    }
    (x, y)
}

/// The pixels a frame must redraw over the background.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Empty,
    Whole,
    /// Half-open pixel rectangle.
    Rect {
        x0: u32,
        y0: u32,
        x1: u32,
        y1: u32,
    },
}

/// A ray sample: clamped colour and what it hit.
#[derive(Clone, Copy)]
struct Sample {
    colour: Vector3<f64>,
    surface: Surface,
}

#[inline]
fn sample(scene: &Scene, view: &View, u: f64, v: f64, ball: Option<Point3<f64>>) -> Sample {
    let hit = scene.cast_with_ball(&view.ray(u, v), ball);
    Sample {
        colour: hit.colour.map(|c| c.clamp(0.0, 1.0)),
        surface: hit.surface,
    }
}

/// The sample at pixel corner (cx, cy), the top-left corner of pixel (cx, cy), jittered by up
/// to CORNER_JITTER pixels. It depends on the corner alone, so the four pixels around it
/// share it and get the same value whichever of them is rendered first, or alone.
#[inline]
fn corner_sample(
    scene: &Scene,
    view: &View,
    cx: u32,
    cy: u32,
    ball: Option<Point3<f64>>,
) -> Sample {
    let jx = hash_unit(cx as i32, cy as i32, 0, JITTER_SEED) * 2.0 - 1.0;
    let jy = hash_unit(cx as i32, cy as i32, 1, JITTER_SEED) * 2.0 - 1.0;
    let u = cx as f64 - 0.5 + jx * CORNER_JITTER;
    let v = cy as f64 - 0.5 + jy * CORNER_JITTER;
    sample(scene, view, u, v, ball)
}

/// One pixel from its four corner samples (top-left, top-right, bottom-left, bottom-right):
/// their mean where they agree; where they hit different surfaces or differ in colour, a
/// jittered FINE x FINE grid inside the pixel is added and the pixel is the mean of all.
#[inline]
fn resolve_pixel(
    scene: &Scene,
    view: &View,
    x: u32,
    y: u32,
    ball: Option<Point3<f64>>,
    corners: [&Sample; 4],
) -> [u8; 3] {
    let mut acc = Vector3::zeros();
    let mut lo = Vector3::repeat(f64::INFINITY);
    let mut hi = Vector3::repeat(f64::NEG_INFINITY);
    for c in corners {
        acc += c.colour;
        lo = lo.inf(&c.colour);
        hi = hi.sup(&c.colour);
    }
    let same_surface = corners.iter().all(|c| c.surface == corners[0].surface);
    let mut n = 4;
    if !same_surface || (hi - lo).max() > REFINE_CONTRAST {
        let inv = 1.0 / FINE as f64;
        for s in 0..FINE * FINE {
            let (i, j) = (s % FINE, s / FINE);
            let k = 2 + 2 * s as i32;
            let jx = hash_unit(x as i32, y as i32, k, JITTER_SEED ^ 0xf1e);
            let jy = hash_unit(x as i32, y as i32, k + 1, JITTER_SEED ^ 0xf1e);
            let u = x as f64 + (i as f64 + jx) * inv - 0.5;
            let v = y as f64 + (j as f64 + jy) * inv - 0.5;
            acc += sample(scene, view, u, v, ball).colour;
        }
        n += FINE * FINE;
    }
    let n = n as f64;
    // Round half up; `f64::round` would be a libm call per pixel.
    [0, 1, 2].map(|c| (acc[c] / n * 255.0 + 0.5).clamp(0.0, 255.0) as u8)
}

/// Renders the pixels of `region` into `img`, in parallel bands of rows. Each band casts its
/// corner samples once (a band of BAND rows needs BAND + 1 rows of corners), then resolves
/// its pixels.
fn render_region(
    scene: &Scene,
    view: &View,
    ball: Option<Point3<f64>>,
    img: &mut RgbImage,
    region: Region,
) {
    let (w, h) = (img.width, img.height);
    let (x0, y0, x1, y1) = match region {
        Region::Empty => return,
        Region::Whole => (0, 0, w, h),
        Region::Rect { x0, y0, x1, y1 } => (x0, y0, x1, y1),
    };
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let stride = w as usize * 3;
    let cols = (x1 - x0 + 1) as usize; // corners per row
    img.data[y0 as usize * stride..y1 as usize * stride]
        .par_chunks_mut(stride * BAND)
        .enumerate()
        .for_each(|(b, band)| {
            let by = y0 + (b * BAND) as u32;
            let rows = band.len() / stride;
            let mut corners = Vec::with_capacity(cols * (rows + 1));
            for cy in by..=by + rows as u32 {
                for cx in x0..=x1 {
                    corners.push(corner_sample(scene, view, cx, cy, ball));
                }
            }
            for r in 0..rows {
                let row = &mut band[r * stride..(r + 1) * stride];
                let (top, bottom) = (&corners[r * cols..], &corners[(r + 1) * cols..]);
                for x in x0..x1 {
                    let i = (x - x0) as usize;
                    let quad = [&top[i], &top[i + 1], &bottom[i], &bottom[i + 1]];
                    let px = resolve_pixel(scene, view, x, by + r as u32, ball, quad);
                    row[x as usize * 3..x as usize * 3 + 3].copy_from_slice(&px);
                }
            }
        });
}

/// Renders a whole image of `camera` with the ball at `ball` (or none).
pub(crate) fn render_image(scene: &Scene, camera: &Camera, ball: Option<Point3<f64>>) -> RgbImage {
    let view = View::new(camera);
    let mut img = RgbImage::new(camera.width, camera.height);
    render_region(scene, &view, ball, &mut img, Region::Whole);
    img
}

/// Depth along the optical axis (camera z, metres) through each pixel centre, row-major;
/// infinite where the ray sees the sky.
pub(crate) fn render_depth(scene: &Scene, camera: &Camera, ball: Option<Point3<f64>>) -> Vec<f32> {
    let view = View::new(camera);
    let w = camera.width as usize;
    let mut depth = vec![0f32; w * camera.height as usize];
    depth.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, d) in row.iter_mut().enumerate() {
            let n = view.normalised(x as f64, y as f64);
            let hit = scene.cast_with_ball(&Ray::new(view.centre, view.cam_to_world * n), ball);
            // t is along the unit ray; camera z is t / |n| since n has z = 1.
            *d = (hit.t / n.norm()) as f32;
        }
    });
    depth
}

/// Renders the frames of one camera: the static scene once, then per frame only the pixels
/// that can see the moving ball. `frame(i)` equals a full render of frame i exactly.
pub struct CameraRenderer<'a> {
    scene: &'a Scene,
    fps: Rational,
    camera: Camera,
    view: View,
    background: RgbImage,
}

impl<'a> CameraRenderer<'a> {
    /// Prepares `camera` (renders its static background; the slow part).
    pub(crate) fn new(scene: &'a Scene, fps: Rational, camera: &Camera) -> Self {
        CameraRenderer {
            scene,
            fps,
            view: View::new(camera),
            background: render_image(scene, camera, None),
            camera: camera.clone(),
        }
    }

    pub fn camera(&self) -> &Camera {
        &self.camera
    }

    /// The static scene without the ball.
    pub fn background(&self) -> &RgbImage {
        &self.background
    }

    /// Frame `index` (time index / fps): the background with the ball's region redrawn.
    pub fn frame(&self, index: u32) -> RgbImage {
        let mut img = self.background.clone();
        let time = self.fps.frames_to_seconds(index as i64);
        if let (Some(proj), Some(centre)) = (&self.scene.ball, self.scene.ball_centre(time)) {
            let region = self.view.sphere_region(&centre, proj.radius);
            render_region(self.scene, &self.view, Some(centre), &mut img, region);
        }
        img
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Pose;

    fn camera(dist: [f64; 5]) -> Camera {
        let mut intrinsics = Intrinsics::centred(64, 48, 50.0);
        intrinsics.dist = dist;
        Camera {
            name: "t".into(),
            width: 64,
            height: 48,
            intrinsics,
            pose: Pose::look_at(
                Point3::new(4.0, 1.0, 2.0),
                Point3::new(0.0, 0.0, 1.0),
                Vector3::z(),
            ),
        }
    }

    #[test]
    fn pixel_rays_reproject_to_their_pixel() {
        for dist in [[0.0; 5], [-0.2, 0.05, 0.001, -0.002, 0.01]] {
            let cam = camera(dist);
            let view = View::new(&cam);
            for (u, v) in [(0.0, 0.0), (31.5, 23.5), (63.0, 10.0), (5.25, 47.0)] {
                let ray = view.ray(u, v);
                let p = ray.at(3.0);
                let px = cam.project(&p).unwrap();
                assert!(
                    (px.x - u).abs() < 1e-6 && (px.y - v).abs() < 1e-6,
                    "{dist:?} {u},{v} -> {px}"
                );
            }
        }
    }

    #[test]
    fn tangent_extent_matches_brute_force() {
        let (a, z, r) = (0.7, 3.0, 0.5);
        let (lo, hi) = tangent_extent(a, z, r);
        let (mut blo, mut bhi) = (f64::MAX, f64::MIN);
        for i in 0..100_000 {
            let t = i as f64 / 100_000.0 * std::f64::consts::TAU;
            let k = (a + r * t.cos()) / (z + r * t.sin());
            blo = blo.min(k);
            bhi = bhi.max(k);
        }
        assert!(
            (lo - blo).abs() < 1e-8 && (hi - bhi).abs() < 1e-8,
            "{lo} {hi} vs {blo} {bhi}"
        );
    }

    #[test]
    fn sphere_region_contains_the_projected_sphere() {
        let cam = camera([0.0; 5]);
        let view = View::new(&cam);
        let centre = Point3::new(1.0, 0.5, 1.3);
        let radius = 0.3;
        let Region::Rect { x0, y0, x1, y1 } = view.sphere_region(&centre, radius) else {
            panic!("expected a rectangle");
        };
        // Points on the sphere project inside the rectangle, with room for the sample spread.
        for i in 0..200 {
            let a = i as f64 * 0.7;
            let b = i as f64 * 1.3;
            let p = centre + Vector3::new(a.cos() * b.sin(), a.sin() * b.sin(), b.cos()) * radius;
            let px = cam.project(&p).unwrap();
            assert!(
                px.x - 0.5 >= x0 as f64 && px.x + 0.5 < x1 as f64,
                "{px} vs {x0}..{x1}"
            );
            assert!(
                px.y - 0.5 >= y0 as f64 && px.y + 0.5 < y1 as f64,
                "{px} vs {y0}..{y1}"
            );
        }
        // Tight: the projected sphere spans about 2 * f * r / z pixels, plus the margins.
        let z = (view.world_to_cam * centre.coords + view.translation).z;
        let span = 2.0 * 50.0 * radius / z;
        assert!(
            ((x1 - x0) as f64) < span * 1.2 + 6.0,
            "{x0}..{x1} for a span of {span}"
        );
        // Behind the camera: nothing to draw.
        let behind = Point3::new(8.0, 2.0, 3.0);
        assert_eq!(view.sphere_region(&behind, 0.1), Region::Empty);
        // Distorted cameras are redrawn whole.
        let view = View::new(&camera([0.1, 0.0, 0.0, 0.0, 0.0]));
        assert_eq!(view.sphere_region(&centre, radius), Region::Whole);
    }
}
