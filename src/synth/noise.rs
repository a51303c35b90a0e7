//! Deterministic randomness for the sample scene: a splitmix64 generator for placing objects,
//! integer hashes for per-sample jitter, and value noise / fBm for procedural textures.
//!
//! Everything here is a pure function of its arguments (no global state, no thread-local
//! generators), so a render is byte-identical on any thread count and any machine.

/// One step of splitmix64 (Steele et al.): advances `state` and returns a well-mixed value.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A tiny seeded generator for scene layout (never used per sample).
#[derive(Clone, Debug)]
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        // Decorrelate small consecutive seeds (1, 2, 3...) before use.
        let mut s = seed ^ 0x5851_f42d_4c95_7f2d;
        splitmix64(&mut s);
        Prng(s)
    }

    pub fn next_u64(&mut self) -> u64 {
        splitmix64(&mut self.0)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform index in 0..n.
    pub fn index(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n - 1)
    }
}

/// A 32-bit hash of three lattice coordinates and a seed (cheap enough for the inner loop).
#[inline]
pub fn hash3(x: i32, y: i32, z: i32, seed: u32) -> u32 {
    let mut h = seed
        ^ (x as u32).wrapping_mul(0x8da6_b343)
        ^ (y as u32).wrapping_mul(0xd816_3841)
        ^ (z as u32).wrapping_mul(0xcb1a_b31f);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^= h >> 15;
    h
}

/// A hash mapped to [0, 1].
#[inline]
pub fn hash_unit(x: i32, y: i32, z: i32, seed: u32) -> f64 {
    hash3(x, y, z, seed) as f64 * (1.0 / u32::MAX as f64)
}

/// `x.floor() as i32` without a libm call (baseline x86-64 has no SSE4.1 `roundsd`, so
/// `f64::floor` is a function call, and it is in every noise lookup). Saturates far outside
/// the i32 range, which no scene coordinate reaches.
#[inline]
pub fn floor_i(x: f64) -> i32 {
    let i = x as i32;
    i - (x < i as f64) as i32
}

/// `x - floor(x)`, in [0, 1).
#[inline]
pub fn fract(x: f64) -> f64 {
    x - floor_i(x) as f64
}

/// Quintic fade: C2-continuous, so the noise has no visible lattice creases.
#[inline]
fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

#[inline]
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

/// 2D value noise in [0, 1] with unit lattice spacing.
#[inline]
pub fn value2(x: f64, y: f64, seed: u32) -> f64 {
    let (ix, iy) = (floor_i(x), floor_i(y));
    let (fx, fy) = (ix as f64, iy as f64);
    let (tx, ty) = (fade(x - fx), fade(y - fy));
    let a = hash_unit(ix, iy, 0, seed);
    let b = hash_unit(ix + 1, iy, 0, seed);
    let c = hash_unit(ix, iy + 1, 0, seed);
    let d = hash_unit(ix + 1, iy + 1, 0, seed);
    lerp(lerp(a, b, tx), lerp(c, d, tx), ty)
}

/// 3D value noise in [0, 1] with unit lattice spacing.
#[inline]
pub fn value3(x: f64, y: f64, z: f64, seed: u32) -> f64 {
    let (ix, iy, iz) = (floor_i(x), floor_i(y), floor_i(z));
    let (fx, fy, fz) = (ix as f64, iy as f64, iz as f64);
    let (tx, ty, tz) = (fade(x - fx), fade(y - fy), fade(z - fz));
    let h = |dx: i32, dy: i32, dz: i32| hash_unit(ix + dx, iy + dy, iz + dz, seed);
    let z0 = lerp(
        lerp(h(0, 0, 0), h(1, 0, 0), tx),
        lerp(h(0, 1, 0), h(1, 1, 0), tx),
        ty,
    );
    let z1 = lerp(
        lerp(h(0, 0, 1), h(1, 0, 1), tx),
        lerp(h(0, 1, 1), h(1, 1, 1), tx),
        ty,
    );
    lerp(z0, z1, tz)
}

// Each octave is rotated (by about 37 degrees) and scaled by a non-integer lacunarity, so
// the lattices of different octaves never line up into a visible grid.
const LACUNARITY: f64 = 2.07;
const ROT_C: f64 = 0.798_635_510_047_292_9; // cos 37 deg
const ROT_S: f64 = 0.601_815_023_152_048_3; // sin 37 deg

/// 2D fractal value noise (fBm) in [0, 1]: `octaves` octaves starting at `freq` cycles per
/// unit, each with `gain` times the amplitude of the previous one.
#[inline]
pub fn fbm2(x: f64, y: f64, freq: f64, octaves: u32, gain: f64, seed: u32) -> f64 {
    let (mut x, mut y) = (x * freq, y * freq);
    let (mut sum, mut amp, mut norm) = (0.0, 1.0, 0.0);
    for o in 0..octaves {
        sum += amp * value2(x, y, seed.wrapping_add(o.wrapping_mul(0x9e37_79b9)));
        norm += amp;
        amp *= gain;
        let (rx, ry) = (ROT_C * x - ROT_S * y, ROT_S * x + ROT_C * y);
        x = rx * LACUNARITY + 17.3;
        y = ry * LACUNARITY - 5.1;
    }
    sum / norm
}

/// 3D fractal value noise in [0, 1]; see [`fbm2`].
#[inline]
pub fn fbm3(x: f64, y: f64, z: f64, freq: f64, octaves: u32, gain: f64, seed: u32) -> f64 {
    let (mut x, mut y, mut z) = (x * freq, y * freq, z * freq);
    let (mut sum, mut amp, mut norm) = (0.0, 1.0, 0.0);
    for o in 0..octaves {
        sum += amp * value3(x, y, z, seed.wrapping_add(o.wrapping_mul(0x9e37_79b9)));
        norm += amp;
        amp *= gain;
        let (rx, ry) = (ROT_C * x - ROT_S * y, ROT_S * x + ROT_C * y);
        let (ry2, rz) = (ROT_C * ry - ROT_S * z, ROT_S * ry + ROT_C * z);
        x = rx * LACUNARITY + 17.3;
        y = ry2 * LACUNARITY - 5.1;
        z = rz * LACUNARITY + 3.7;
    }
    sum / norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prng_is_deterministic_and_uniformish() {
        let mut a = Prng::new(7);
        let mut b = Prng::new(7);
        let xs: Vec<f64> = (0..1000).map(|_| a.uniform()).collect();
        let ys: Vec<f64> = (0..1000).map(|_| b.uniform()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
        assert_ne!(Prng::new(1).next_u64(), Prng::new(2).next_u64());
    }

    #[test]
    fn fast_floor_matches_floor() {
        for x in [
            -2.5, -2.0, -1e-9, -0.0, 0.0, 1e-9, 0.999, 1.0, 7.25, -1234.5, 1234.0,
        ] {
            assert_eq!(floor_i(x), x.floor() as i32, "{x}");
            assert!((fract(x) - (x - x.floor())).abs() < 1e-12);
        }
    }

    #[test]
    fn noise_is_bounded_continuous_and_varied() {
        let mut lo = f64::MAX;
        let mut hi = f64::MIN;
        for i in 0..2000 {
            let x = i as f64 * 0.0137 - 7.0;
            let y = i as f64 * 0.0071 + 3.0;
            let v = fbm2(x, y, 1.0, 8, 0.5, 3);
            let w = fbm3(x, y, 0.3 * x, 1.0, 5, 0.5, 3);
            assert!((0.0..=1.0).contains(&v) && (0.0..=1.0).contains(&w));
            lo = lo.min(v);
            hi = hi.max(v);
            // Continuity of the base octave: tiny steps give tiny changes.
            assert!((value2(x, y, 9) - value2(x + 1e-6, y, 9)).abs() < 1e-4);
        }
        assert!(hi - lo > 0.3, "fbm range {lo}..{hi}");
    }
}
