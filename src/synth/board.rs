//! Chessboard images with exact ground truth, for testing calibration: a flat board seen by a
//! camera with known intrinsics and distortion at a known pose, anti-aliased by supersampling,
//! with optional Gaussian blur, noise and a brightness gradient.
//!
//! The board: inner corner (c, r) of the pattern is at (c * square, r * square, 0) in board
//! coordinates (x right, y down, z into the board, as [`crate::calib::chessboard`] orders
//! corners); the squares extend one square beyond the inner corners, with a white margin of
//! one more square around them. Outside the board is a mid-grey textured background.

use crate::calib::chessboard::Pattern;
use crate::camera::{Intrinsics, Pose};
use crate::frame::{Plane, RgbImage};
use nalgebra::{Point2, Point3, UnitQuaternion, Vector3};
use rayon::prelude::*;

/// Printed black and white, as luma in 0..1.
const BLACK: f32 = 0.08;
const WHITE: f32 = 0.92;

/// How the image is degraded after rendering.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    /// Samples per pixel (anti-aliasing), on an n-rooks pattern: every sample has its own
    /// row and column offset, so an axis-aligned edge is placed to 1/n px, not 1/sqrt(n).
    pub samples: u32,
    /// Gaussian blur sigma in pixels (0: none).
    pub blur: f32,
    /// Uniform noise amplitude in luma (0: none).
    pub noise: f32,
    /// Light falls off linearly from the left edge to `1 - light_falloff` at the right edge.
    pub light_falloff: f32,
    pub seed: u64,
}

impl Default for Look {
    fn default() -> Self {
        Look {
            samples: 16,
            blur: 0.0,
            noise: 0.0,
            light_falloff: 0.0,
            seed: 1,
        }
    }
}

/// Normalised undistorted coordinates of a distorted normalised point, by Newton's method,
/// with the Jacobian of the inverse (for linearising nearby samples).
fn undistort(k: &Intrinsics, xd: f64, yd: f64) -> ([f64; 2], [[f64; 2]; 2]) {
    let [k1, k2, p1, p2, k3] = k.dist;
    let (mut x, mut y) = (xd, yd);
    let mut inv = [[1.0, 0.0], [0.0, 1.0]];
    for _ in 0..30 {
        let r2 = x * x + y * y;
        let rad = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        let dr = 2.0 * (k1 + 2.0 * k2 * r2 + 3.0 * k3 * r2 * r2);
        let a11 = rad + x * x * dr + 2.0 * p1 * y + 6.0 * p2 * x;
        let a12 = x * y * dr + 2.0 * p1 * x + 2.0 * p2 * y;
        let a22 = rad + y * y * dr + 6.0 * p1 * y + 2.0 * p2 * x;
        let (fx, fy) = k.distort(x, y);
        let (ex, ey) = (fx - xd, fy - yd);
        let det = a11 * a22 - a12 * a12;
        inv = [[a22 / det, -a12 / det], [-a12 / det, a11 / det]];
        let (dx, dy) = (
            inv[0][0] * ex + inv[0][1] * ey,
            inv[1][0] * ex + inv[1][1] * ey,
        );
        x -= dx;
        y -= dy;
        if dx.abs() + dy.abs() < 1e-14 {
            break;
        }
    }
    ([x, y], inv)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Board luma at board coordinates (x, y), before lighting.
fn board_luma(pattern: Pattern, square: f64, x: f64, y: f64) -> f32 {
    let (a, b) = ((x / square).floor(), (y / square).floor());
    let (c, r) = (pattern.cols as f64, pattern.rows as f64);
    if a >= -1.0 && a < c && b >= -1.0 && b < r {
        // Square (-1, -1) (the top-left one) is black.
        if (a as i64 + b as i64).rem_euclid(2) == 0 {
            BLACK
        } else {
            WHITE
        }
    } else if a >= -2.0 && a < c + 1.0 && b >= -2.0 && b < r + 1.0 {
        WHITE
    } else {
        // Background: grey with a soft texture, so the board is not alone in the image.
        let t = (x * 0.7 / square).sin() * (y * 0.5 / square).cos();
        0.45 + 0.1 * t as f32
    }
}

/// Renders the board as seen by camera `k` at `pose` (board to camera) into a luma plane.
pub fn render(
    width: usize,
    height: usize,
    k: &Intrinsics,
    pose: &Pose,
    pattern: Pattern,
    square: f64,
    look: &Look,
) -> Plane {
    let rinv = pose.rotation.inverse();
    let centre = pose.centre();
    let n = look.samples.max(1) as usize;
    // A stride coprime with n spreads the rows; 5 suits 16.
    let stride = (1..n)
        .rev()
        .find(|s| gcd(*s, n) == 1 && *s * *s <= 2 * n)
        .unwrap_or(1);
    let mut img = Plane::new(width, height);
    img.data
        .par_chunks_mut(width)
        .enumerate()
        .for_each(|(py, row)| {
            for (px, out) in row.iter_mut().enumerate() {
                let xd = (px as f64 - k.cx) / k.fx;
                let yd = (py as f64 - k.cy) / k.fy;
                let ([x0, y0], j) = undistort(k, xd, yd);
                let mut acc = 0.0;
                for sx in 0..n {
                    // Sample offsets in pixels, linearised through the inverse distortion.
                    let sy = sx * stride % n;
                    let du = ((sx as f64 + 0.5) / n as f64 - 0.5) / k.fx;
                    let dv = ((sy as f64 + 0.5) / n as f64 - 0.5) / k.fy;
                    let x = x0 + j[0][0] * du + j[0][1] * dv;
                    let y = y0 + j[1][0] * du + j[1][1] * dv;
                    let dir = rinv * Vector3::new(x, y, 1.0);
                    acc += if dir.z.abs() > 1e-12 && -centre.z / dir.z > 0.0 {
                        let t = -centre.z / dir.z;
                        board_luma(pattern, square, centre.x + t * dir.x, centre.y + t * dir.y)
                    } else {
                        0.45
                    };
                }
                let light = 1.0 - look.light_falloff * px as f32 / width as f32;
                *out = acc / n as f32 * light;
            }
        });
    let mut img = crate::calib::chessboard::gaussian_blur(&img, look.blur);
    if look.noise > 0.0 {
        for (i, v) in img.data.iter_mut().enumerate() {
            // A fixed hash of (seed, pixel): deterministic on any thread count.
            let mut h = (i as u64 ^ look.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_mul(0xBF58_476D_1CE4_E5B9);
            h ^= h >> 31;
            h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
            h ^= h >> 29;
            let u = (h >> 11) as f32 / (1u64 << 53) as f32;
            *v += look.noise * (2.0 * u - 1.0);
        }
    }
    img.data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    img
}

/// The true pixel positions of the inner corners, row by row.
pub fn corners(k: &Intrinsics, pose: &Pose, pattern: Pattern, square: f64) -> Vec<Point2<f64>> {
    pattern
        .object_points(square)
        .iter()
        .map(|b| {
            k.project(&pose.to_camera(&Point3::new(b[0], b[1], 0.0)))
                .expect("board in front of the camera")
        })
        .collect()
}

/// `n` (at most 12) board poses for a calibration set: tilted up to 35 degrees in different
/// directions, rolled, and shifted so that the corners reach every part of the image, with
/// the board (squares and margin) about `fill` of the image width across.
pub fn calibration_poses(
    k: &Intrinsics,
    width: usize,
    pattern: Pattern,
    square: f64,
    fill: f64,
    n: usize,
) -> Vec<Pose> {
    // (tilt about x, tilt about y, roll) in degrees, board centre offset in image fractions.
    const VIEWS: [(f64, f64, f64, f64, f64); 12] = [
        (0.0, 0.0, 0.0, 0.0, 0.0),
        (30.0, 0.0, 5.0, 0.0, -0.08),
        (-30.0, 0.0, -5.0, 0.0, 0.08),
        (0.0, 35.0, 10.0, -0.1, 0.0),
        (0.0, -35.0, -10.0, 0.1, 0.0),
        (20.0, 25.0, 20.0, -0.12, -0.08),
        (-20.0, -25.0, -15.0, 0.1, 0.06),
        (25.0, -20.0, 30.0, 0.1, -0.04),
        (-25.0, 20.0, -30.0, -0.1, 0.06),
        (10.0, 10.0, 90.0, 0.0, 0.0),
        (-15.0, 30.0, 45.0, -0.08, 0.04),
        (15.0, -30.0, -45.0, 0.06, -0.02),
    ];
    let board_w = (pattern.cols + 1) as f64 * square;
    let dist = k.fx * board_w / (fill * width as f64);
    let centre = Vector3::new(
        (pattern.cols - 1) as f64 * square / 2.0,
        (pattern.rows - 1) as f64 * square / 2.0,
        0.0,
    );
    VIEWS
        .iter()
        .take(n)
        .map(|&(ax, ay, roll, ox, oy)| {
            let rotation = UnitQuaternion::from_euler_angles(0.0, 0.0, roll.to_radians())
                * UnitQuaternion::from_euler_angles(ax.to_radians(), ay.to_radians(), 0.0);
            // Centre offset as a fraction of the image width, at the board's distance.
            let aim = Vector3::new(
                ox * width as f64 / k.fx * dist,
                oy * width as f64 / k.fx * dist,
                dist,
            );
            Pose {
                rotation,
                translation: aim - rotation * centre,
            }
        })
        .collect()
}

/// A luma plane as a grey RGB image (for writing test files).
pub fn to_rgb(img: &Plane) -> RgbImage {
    let mut out = RgbImage::new(img.width as u32, img.height as u32);
    for (px, v) in out.data.chunks_exact_mut(3).zip(&img.data) {
        let g = (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
        px.copy_from_slice(&[g, g, g]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undistort_inverts_distort() {
        let k = Intrinsics {
            dist: [-0.4, 0.15, 0.001, -0.0005, 0.0],
            ..Intrinsics::centred(640, 480, 400.0)
        };
        for (x, y) in [(0.0, 0.0), (0.5, -0.3), (-1.0, 0.8), (1.2, 0.7)] {
            let (xd, yd) = k.distort(x, y);
            let ([ux, uy], _) = undistort(&k, xd, yd);
            assert!((ux - x).abs() < 1e-12 && (uy - y).abs() < 1e-12, "{x} {y}");
        }
    }

    #[test]
    fn corners_sit_on_colour_changes() {
        let k = Intrinsics::centred(320, 240, 300.0);
        let pattern = Pattern::new(5, 4).unwrap();
        let pose = calibration_poses(&k, 320, pattern, 1.0, 0.7, 1)[0];
        let img = render(320, 240, &k, &pose, pattern, 1.0, &Look::default());
        for c in corners(&k, &pose, pattern, 1.0) {
            let (x, y) = (c.x.round() as usize, c.y.round() as usize);
            // Diagonal neighbours: same colour across one diagonal, opposite across the other.
            let (a, b) = (img.at(x - 4, y - 4), img.at(x + 4, y + 4));
            let (e, f) = (img.at(x + 4, y - 4), img.at(x - 4, y + 4));
            assert!((a - b).abs() < 0.1 && (e - f).abs() < 0.1, "{c}");
            assert!((a - e).abs() > 0.6, "{c}");
        }
    }
}
