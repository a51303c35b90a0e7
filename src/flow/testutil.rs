//! Test images with exactly known motion: a continuous multi-octave value-noise texture that
//! can be sampled anywhere, so the second image of a pair is rendered from the transformed
//! coordinates without any interpolation error.

use crate::frame::Plane;

fn hash(ix: i32, iy: i32, seed: u32) -> f32 {
    let mut h = (ix as u32).wrapping_mul(0x8da6_b343)
        ^ (iy as u32).wrapping_mul(0xd816_3841)
        ^ seed.wrapping_mul(0xcb1a_b31f);
    h ^= h >> 13;
    h = h.wrapping_mul(0x5bd1_e995);
    h ^= h >> 15;
    (h & 0xffff) as f32 / 65535.0
}

fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (fx, fy) = (x.floor(), y.floor());
    let (ix, iy) = (fx as i32, fy as i32);
    let s = |t: f32| t * t * (3.0 - 2.0 * t);
    let (tx, ty) = (s(x - fx), s(y - fy));
    let a = hash(ix, iy, seed) + tx * (hash(ix + 1, iy, seed) - hash(ix, iy, seed));
    let b = hash(ix, iy + 1, seed) + tx * (hash(ix + 1, iy + 1, seed) - hash(ix, iy + 1, seed));
    a + ty * (b - a)
}

/// A smooth natural-looking texture in 0..1 at continuous coordinates (features 3 to 40 px).
pub fn texture(x: f32, y: f32, seed: u32) -> f32 {
    let mut v = 0.0;
    let mut amp = 0.5;
    let mut scale = 1.0 / 40.0;
    for o in 0..5 {
        v += amp * value_noise(x * scale, y * scale, seed + o);
        amp *= 0.6;
        scale *= 2.0;
    }
    (v / 1.2).clamp(0.0, 1.0)
}

/// A plane of the texture seen through a map from pixel position to texture coordinates.
pub fn render(w: usize, h: usize, seed: u32, map: impl Fn(f32, f32) -> (f32, f32)) -> Plane {
    Plane::from_fn(w, h, |x, y| {
        let (tx, ty) = map(x as f32, y as f32);
        texture(tx, ty, seed)
    })
}
