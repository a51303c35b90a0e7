//! The sample scene as data (primitives with procedural materials) and ray casting against it.
//!
//! The core operation is [`Scene::cast`]: a ray (origin, unit direction) at a time in seconds
//! gives a [`Hit`] with the distance along the ray, what was hit and its shaded colour. Nothing
//! here knows about cameras or pixels, so the same scene serves the rig's cameras, virtual
//! cameras between them and ground-truth depth.
//!
//! World frame: Z up, metres, ground plane z = 0. Colours are display RGB in [0, 1] (no gamma
//! handling: the scene is authored in display space). Lighting is Lambert with a white sun and
//! white ambient light, so shading scales a surface colour without changing its hue or HSV
//! saturation; only static objects cast shadows, so the moving ball changes nothing but the
//! pixels it covers.

use super::bvh::{Aabb, Bvh};
use super::noise::{fbm2, fbm3, floor_i, fract, hash_unit, Prng};
use nalgebra::{Point3, Vector3};
use std::f64::consts::{PI, TAU};

/// Display RGB in [0, 1].
pub type Colour = Vector3<f64>;

/// A colour from 8-bit components.
pub fn rgb(r: u8, g: u8, b: u8) -> Colour {
    Vector3::new(r as f64, g as f64, b as f64) / 255.0
}

/// Rays start this far along their direction, so a ray leaving a surface does not hit it again.
const EPS: f64 = 1e-7;

/// A ray with a unit direction; hit distances are in metres along it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ray {
    pub origin: Point3<f64>,
    pub dir: Vector3<f64>,
}

impl Ray {
    /// A ray from `origin` along `dir` (normalised here).
    pub fn new(origin: Point3<f64>, dir: Vector3<f64>) -> Self {
        Ray {
            origin,
            dir: dir.normalize(),
        }
    }

    pub fn at(&self, t: f64) -> Point3<f64> {
        self.origin + self.dir * t
    }
}

/// A geometric primitive. Every shape is seen from outside (the backdrop from inside).
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// The horizontal plane at height `z`, visible from above.
    Ground {
        z: f64,
    },
    Sphere {
        centre: Point3<f64>,
        radius: f64,
    },
    /// A vertical cylinder with flat caps, axis through (x, y), from z0 up to z1.
    Cylinder {
        x: f64,
        y: f64,
        radius: f64,
        z0: f64,
        z1: f64,
    },
    /// The points within `radius` of the segment from `a` to `b`: a limb of the figure.
    Capsule {
        a: Point3<f64>,
        b: Point3<f64>,
        radius: f64,
    },
    /// A box with half extents `half`, turned about the vertical axis (see [`Shape::block`]).
    Block {
        centre: Point3<f64>,
        half: Vector3<f64>,
        cos_yaw: f64,
        sin_yaw: f64,
    },
    /// An inward-facing vertical wall on the circle of `radius` around the origin, from the
    /// ground up to a skyline: segment `i` of `heights.len()` equal azimuth segments
    /// (counter-clockwise from +x) is `heights[i]` tall. Build it with [`Shape::backdrop`].
    Backdrop {
        radius: f64,
        heights: Vec<f64>,
        /// The lowest and highest of `heights`, to settle most rays without an azimuth.
        min_height: f64,
        max_height: f64,
    },
}

impl Shape {
    /// A box standing at `centre`, rotated by `yaw` radians (counter-clockwise from above).
    pub fn block(centre: Point3<f64>, half: Vector3<f64>, yaw: f64) -> Self {
        Shape::Block {
            centre,
            half,
            cos_yaw: yaw.cos(),
            sin_yaw: yaw.sin(),
        }
    }

    /// A skyline backdrop (see [`Shape::Backdrop`]); `heights` must not be empty.
    pub fn backdrop(radius: f64, heights: Vec<f64>) -> Self {
        assert!(!heights.is_empty(), "a backdrop needs at least one segment");
        let min_height = heights.iter().copied().fold(f64::INFINITY, f64::min);
        let max_height = heights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Shape::Backdrop {
            radius,
            heights,
            min_height,
            max_height,
        }
    }

    /// An axis-aligned box around the shape; `None` when unbounded.
    pub fn aabb(&self) -> Option<Aabb> {
        let (min, max) = match self {
            Shape::Ground { .. } | Shape::Backdrop { .. } => return None,
            Shape::Sphere { centre, radius } => (
                centre - Vector3::repeat(*radius),
                centre + Vector3::repeat(*radius),
            ),
            Shape::Cylinder {
                x,
                y,
                radius,
                z0,
                z1,
            } => (
                Point3::new(x - radius, y - radius, *z0),
                Point3::new(x + radius, y + radius, *z1),
            ),
            Shape::Capsule { a, b, radius } => (
                a.inf(b) - Vector3::repeat(*radius),
                a.sup(b) + Vector3::repeat(*radius),
            ),
            Shape::Block {
                centre,
                half,
                cos_yaw: c,
                sin_yaw: s,
            } => {
                let e = Vector3::new(
                    c.abs() * half.x + s.abs() * half.y,
                    s.abs() * half.x + c.abs() * half.y,
                    half.z,
                );
                (centre - e, centre + e)
            }
        };
        // A hair larger, so rounding in the box test never drops a grazing hit.
        let pad = Vector3::repeat(1e-9);
        Some(Aabb {
            min: min - pad,
            max: max + pad,
        })
    }

    /// The nearest hit with distance in (EPS, t_max): distance and unit normal facing outward.
    pub fn intersect(&self, ray: &Ray, t_max: f64) -> Option<(f64, Vector3<f64>)> {
        let (o, d) = (&ray.origin, &ray.dir);
        match self {
            Shape::Ground { z } => {
                if d.z >= 0.0 || o.z <= *z {
                    return None;
                }
                let t = (z - o.z) / d.z;
                (t > EPS && t < t_max).then(|| (t, Vector3::z()))
            }
            Shape::Sphere { centre, radius } => {
                let oc = o - centre;
                let b = oc.dot(d);
                let c = oc.norm_squared() - radius * radius;
                let disc = b * b - c;
                if disc < 0.0 {
                    return None;
                }
                let s = disc.sqrt();
                let mut t = -b - s;
                if t <= EPS {
                    t = -b + s;
                }
                if t <= EPS || t >= t_max {
                    return None;
                }
                Some((t, (o + d * t - centre) / *radius))
            }
            Shape::Cylinder {
                x,
                y,
                radius,
                z0,
                z1,
            } => {
                let (ox, oy) = (o.x - x, o.y - y);
                let mut best: Option<(f64, Vector3<f64>)> = None;
                let mut limit = t_max;
                let a = d.x * d.x + d.y * d.y;
                if a > 1e-18 {
                    let b = ox * d.x + oy * d.y;
                    let c = ox * ox + oy * oy - radius * radius;
                    let disc = b * b - a * c;
                    if disc >= 0.0 {
                        let s = disc.sqrt();
                        for t in [(-b - s) / a, (-b + s) / a] {
                            let z = o.z + t * d.z;
                            if t > EPS && t < limit && z >= *z0 && z <= *z1 {
                                let n = Vector3::new(ox + t * d.x, oy + t * d.y, 0.0) / *radius;
                                best = Some((t, n));
                                limit = t;
                                break;
                            }
                        }
                    }
                }
                if d.z.abs() > 1e-18 {
                    for (zc, nz) in [(*z1, 1.0), (*z0, -1.0)] {
                        let t = (zc - o.z) / d.z;
                        if t > EPS && t < limit {
                            let (px, py) = (ox + t * d.x, oy + t * d.y);
                            if px * px + py * py <= radius * radius {
                                best = Some((t, Vector3::new(0.0, 0.0, nz)));
                                limit = t;
                            }
                        }
                    }
                }
                best
            }
            Shape::Capsule { a, b, radius } => {
                // The union of a finite cylinder and two end spheres: the first entry into any
                // of the three is the first hit (a ray starting on the surface and leaving it
                // enters none of them again, the capsule being convex).
                let r2 = radius * radius;
                let ba = b - a;
                let baba = ba.norm_squared();
                let oa = o - a;
                let (bard, baoa) = (ba.dot(d), ba.dot(&oa));
                let mut best: Option<(f64, Vector3<f64>)> = None;
                let qa = baba - bard * bard;
                if qa > 1e-18 * baba {
                    let qb = baba * oa.dot(d) - baoa * bard;
                    let qc = baba * oa.norm_squared() - baoa * baoa - r2 * baba;
                    let h = qb * qb - qa * qc;
                    if h >= 0.0 {
                        let t = (-qb - h.sqrt()) / qa;
                        let y = baoa + t * bard;
                        if t > EPS && t < t_max && y > 0.0 && y < baba {
                            let p = o + d * t;
                            best = Some((t, (p - (a + ba * (y / baba))) / *radius));
                        }
                    }
                }
                for c in [a, b] {
                    let oc = o - c;
                    let (hb, hc) = (oc.dot(d), oc.norm_squared() - r2);
                    let h = hb * hb - hc;
                    if h < 0.0 {
                        continue;
                    }
                    let t = -hb - h.sqrt();
                    if t > EPS && t < best.map_or(t_max, |b| b.0) {
                        best = Some((t, (o + d * t - c) / *radius));
                    }
                }
                best
            }
            Shape::Block {
                centre,
                half,
                cos_yaw: c,
                sin_yaw: s,
            } => {
                // Slab test in the box's own frame (rotate the ray by -yaw about the centre).
                let rel = o - centre;
                let lo = [c * rel.x + s * rel.y, -s * rel.x + c * rel.y, rel.z];
                let ld = [c * d.x + s * d.y, -s * d.x + c * d.y, d.z];
                let (mut t_near, mut t_far) = (f64::NEG_INFINITY, f64::INFINITY);
                let mut axis = 0;
                let mut sign = 1.0;
                for i in 0..3 {
                    if ld[i].abs() < 1e-18 {
                        if lo[i].abs() > half[i] {
                            return None;
                        }
                        continue;
                    }
                    let inv = 1.0 / ld[i];
                    let (mut t1, mut t2) = ((-half[i] - lo[i]) * inv, (half[i] - lo[i]) * inv);
                    // Entering through the -half face when moving in +direction, and vice versa.
                    let mut face = -1.0;
                    if t1 > t2 {
                        std::mem::swap(&mut t1, &mut t2);
                        face = 1.0;
                    }
                    if t1 > t_near {
                        t_near = t1;
                        axis = i;
                        sign = face;
                    }
                    t_far = t_far.min(t2);
                }
                if t_near > t_far || t_near <= EPS || t_near >= t_max {
                    return None;
                }
                let mut n = [0.0; 3];
                n[axis] = sign;
                Some((
                    t_near,
                    Vector3::new(c * n[0] - s * n[1], s * n[0] + c * n[1], n[2]),
                ))
            }
            Shape::Backdrop {
                radius,
                heights,
                min_height,
                max_height,
            } => {
                let a = d.x * d.x + d.y * d.y;
                let c = o.x * o.x + o.y * o.y - radius * radius;
                // One-sided: only rays starting inside the circle see the wall.
                if a < 1e-18 || c >= 0.0 {
                    return None;
                }
                let b = o.x * d.x + o.y * d.y;
                let t = (-b + (b * b - a * c).sqrt()) / a;
                if t <= EPS || t >= t_max {
                    return None;
                }
                let p = o + d * t;
                if p.z < 0.0 || p.z > *max_height {
                    return None;
                }
                if p.z > *min_height && p.z > heights[backdrop_segment(p.x, p.y, heights.len())] {
                    return None;
                }
                Some((t, Vector3::new(-p.x, -p.y, 0.0) / *radius))
            }
        }
    }
}

/// Azimuth of (x, y) in [0, 2 pi).
#[inline]
fn azimuth(x: f64, y: f64) -> f64 {
    let a = y.atan2(x);
    if a < 0.0 {
        a + TAU
    } else {
        a
    }
}

#[inline]
fn backdrop_segment(x: f64, y: f64, n: usize) -> usize {
    ((azimuth(x, y) / TAU * n as f64) as usize).min(n - 1)
}

/// A procedural colour pattern, evaluated in the object's own coordinates (see
/// [`Object::local`]), so the pattern sticks to the surface from every viewpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum Texture {
    Solid(Colour),
    /// Soft-edged bands of `a` and `b` across `axis` (unit), `period` metres per pair.
    Stripes {
        a: Colour,
        b: Colour,
        axis: Vector3<f64>,
        period: f64,
    },
    /// A 3D checkerboard of cubes of `size` metres.
    Checks {
        a: Colour,
        b: Colour,
        size: f64,
    },
    /// Cloudy blotches: fBm noise with features of about `scale` metres mixing `a` and `b`.
    Blotches {
        a: Colour,
        b: Colour,
        scale: f64,
    },
    /// The ground: paving tiles of `tile` metres inside `paved_radius` with painted rings and
    /// lines, over gravel-like fBm with detail from metres down to millimetres.
    Ground {
        paved_radius: f64,
        tile: f64,
        dirt: [Colour; 2],
        stone: [Colour; 2],
        grout: Colour,
        paint: Colour,
    },
    /// Building fronts on the backdrop: local coordinates are (arc length, height). Each
    /// `segment` metres of arc is one building with a colour from `palette` and a grid of
    /// windows.
    Facade {
        segment: f64,
        palette: Vec<Colour>,
        window: Colour,
    },
}

#[inline]
fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[inline]
fn mix(a: &Colour, b: &Colour, t: f64) -> Colour {
    a + (b - a) * t
}

impl Texture {
    /// The base colour at local point `p`; `seed` varies the noise between objects.
    pub fn albedo(&self, p: &Vector3<f64>, seed: u32) -> Colour {
        match self {
            Texture::Solid(c) => *c,
            Texture::Stripes { a, b, axis, period } => {
                let s = fract(p.dot(axis) / period);
                // A triangle wave through a steep smoothstep: bands with slightly soft edges.
                let tri = (2.0 * s - 1.0).abs();
                mix(a, b, smoothstep(0.45, 0.55, tri))
            }
            Texture::Checks { a, b, size } => {
                let q = p / *size;
                if (floor_i(q.x) + floor_i(q.y) + floor_i(q.z)) & 1 == 0 {
                    *a
                } else {
                    *b
                }
            }
            Texture::Blotches { a, b, scale } => {
                let n = fbm3(p.x, p.y, p.z, 1.0 / scale, 4, 0.5, seed);
                mix(a, b, smoothstep(0.35, 0.65, n))
            }
            Texture::Ground {
                paved_radius,
                tile,
                dirt,
                stone,
                grout,
                paint,
            } => ground_albedo(p, seed, *paved_radius, *tile, dirt, stone, grout, paint),
            Texture::Facade {
                segment,
                palette,
                window,
            } => facade_albedo(p.x, p.y, seed, *segment, palette, window),
        }
    }

    /// Every colour the texture mixes between (for checking the palette).
    pub fn colours(&self) -> Vec<Colour> {
        match self {
            Texture::Solid(c) => vec![*c],
            Texture::Stripes { a, b, .. }
            | Texture::Checks { a, b, .. }
            | Texture::Blotches { a, b, .. } => vec![*a, *b],
            Texture::Ground {
                dirt,
                stone,
                grout,
                paint,
                ..
            } => vec![dirt[0], dirt[1], stone[0], stone[1], *grout, *paint],
            Texture::Facade {
                palette, window, ..
            } => palette.iter().copied().chain([*window]).collect(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn ground_albedo(
    p: &Vector3<f64>,
    seed: u32,
    paved_radius: f64,
    tile: f64,
    dirt: &[Colour; 2],
    stone: &[Colour; 2],
    grout: &Colour,
    paint: &Colour,
) -> Colour {
    let (x, y) = (p.x, p.y);
    // Gravel: 11 octaves from ~4 m features down to ~3 mm, stretched for contrast; a slow
    // amplitude decay (0.7 per octave) keeps visible detail at every scale.
    let n = fbm2(x, y, 0.25, 11, 0.7, seed);
    let mut c = mix(&dirt[0], &dirt[1], ((n - 0.5) * 3.0 + 0.5).clamp(0.0, 1.0));
    let r = (x * x + y * y).sqrt();
    if r < paved_radius {
        let (u, v) = (x / tile, y / tile);
        let (iu, iv) = (floor_i(u), floor_i(v));
        let stone_c = mix(&stone[0], &stone[1], hash_unit(iu, iv, 1, seed));
        let tint = 0.88 + 0.24 * hash_unit(iu, iv, 2, seed);
        // Speckled stone: centimetre-scale grain on top of the gravel's larger variation.
        let speck = 0.75 + 0.5 * fbm2(x, y, 15.0, 5, 0.7, seed ^ 0x33);
        let mut paving = mix(&(stone_c * (tint * speck)), &c, 0.35);
        // Grout lines with soft edges (they are thin, so let supersampling average them).
        let (fu, fv) = (fract(u), fract(v));
        let edge = fu.min(1.0 - fu).min(fv).min(1.0 - fv) * tile;
        paving = mix(grout, &paving, smoothstep(0.008, 0.016, edge));
        // The paving fades into gravel over the last 30-60 cm, with a ragged noisy border.
        if r > paved_radius - 0.6 {
            let border = paved_radius - 0.3 * fbm2(x, y, 3.0, 3, 0.5, seed ^ 0x55);
            c = mix(&paving, &c, smoothstep(border - 0.3, border, r));
        } else {
            c = paving;
        }
    }
    // Painted markings: two rings and a cross, worn by noise.
    let ring =
        |radius: f64, width: f64| 1.0 - smoothstep(width * 0.35, width * 0.5, (r - radius).abs());
    let line = |d: f64, width: f64| 1.0 - smoothstep(width * 0.35, width * 0.5, d.abs());
    let mut cover = ring(3.0, 0.08).max(ring(paved_radius - 0.6, 0.1));
    if r > 0.4 && r < paved_radius - 0.6 {
        cover = cover.max(line(x, 0.06)).max(line(y, 0.06));
    }
    if cover > 0.0 {
        let wear = smoothstep(0.3, 0.6, fbm2(x, y, 4.0, 4, 0.5, seed ^ 0xa1));
        c = mix(&c, paint, cover * wear);
    }
    c
}

fn facade_albedo(
    u: f64,
    z: f64,
    seed: u32,
    segment: f64,
    palette: &[Colour],
    window: &Colour,
) -> Colour {
    let seg = floor_i(u / segment);
    let pick = (hash_unit(seg, 0, 3, seed) * palette.len() as f64) as usize;
    let wall = palette[pick.min(palette.len() - 1)] * (0.85 + 0.3 * hash_unit(seg, 0, 4, seed));
    // Weathering: large stains, and a fine grain like rough render.
    let stain = fbm2(u, z, 0.5, 7, 0.6, seed ^ 0x77);
    let grain = fbm2(u, z, 8.0, 4, 0.6, seed ^ 0x78);
    let mut c = wall * ((0.7 + 0.6 * stain) * (0.8 + 0.4 * grain));
    let floor_h = 1.1 + 0.5 * hash_unit(seg, 0, 5, seed);
    let col_w = 1.2 + 0.8 * hash_unit(seg, 0, 6, seed);
    let lu = u - seg as f64 * segment; // metres from the building's left edge
                                       // Cladding panels, half a window bay wide and half a storey tall, with darker seams.
    let (pw, ph) = (col_w * 0.5, floor_h * 0.5);
    let (du, dz) = (fract(lu / pw) * pw, fract(z / ph) * ph);
    let seam = du.min(pw - du).min(dz).min(ph - dz);
    c *= 0.65 + 0.35 * smoothstep(0.01, 0.025, seam);
    // Windows on a per-building grid; none on the ground floor.
    if z > 1.2 {
        let fz = fract((z - 1.2) / floor_h);
        let fu = fract(lu / col_w);
        if (0.3..0.85).contains(&fz) && (0.2..0.8).contains(&fu) {
            let row = ((z - 1.2) / floor_h) as i32;
            let col = (lu / col_w) as i32;
            let lit = 0.6 + 0.8 * hash_unit(seg * 97 + col, row, 7, seed);
            c = window * lit * (0.85 + 0.3 * stain);
        }
    }
    c
}

/// A texture plus fine multiplicative "grain" noise, so that even flat-coloured regions carry
/// texture at every scale (optical flow needs it, and real surfaces have it).
#[derive(Clone, Debug, PartialEq)]
pub struct Material {
    pub texture: Texture,
    /// Relative amplitude of the grain (0 = none, 0.2 = +-20 % brightness).
    pub grain: f64,
    /// Cycles per metre of the grain's coarsest octave.
    pub grain_freq: f64,
    /// Seed of this material's noise.
    pub seed: u32,
}

impl Material {
    pub fn plain(texture: Texture, seed: u32) -> Self {
        Material {
            texture,
            grain: 0.0,
            grain_freq: 1.0,
            seed,
        }
    }

    pub fn grainy(texture: Texture, grain: f64, grain_freq: f64, seed: u32) -> Self {
        Material {
            texture,
            grain,
            grain_freq,
            seed,
        }
    }

    pub fn albedo(&self, local: &Vector3<f64>) -> Colour {
        let c = self.texture.albedo(local, self.seed);
        if self.grain == 0.0 {
            return c;
        }
        let g = fbm3(
            local.x,
            local.y,
            local.z,
            self.grain_freq,
            5,
            0.6,
            self.seed ^ 0x9e37,
        );
        c * (1.0 + self.grain * (2.0 * g - 1.0) * 2.0).max(0.0)
    }
}

/// A static object of the scene.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub name: String,
    pub shape: Shape,
    pub material: Material,
    pub casts_shadow: bool,
}

impl Object {
    pub fn new(name: impl Into<String>, shape: Shape, material: Material) -> Self {
        let casts_shadow = !matches!(shape, Shape::Ground { .. });
        Object {
            name: name.into(),
            shape,
            material,
            casts_shadow,
        }
    }

    /// Texture coordinates of a surface point: relative to the object's centre (turned with
    /// a block), world coordinates for the ground, (arc length, height) for the backdrop.
    pub fn local(&self, p: &Point3<f64>) -> Vector3<f64> {
        match &self.shape {
            Shape::Ground { .. } => p.coords,
            Shape::Sphere { centre, .. } => p - centre,
            Shape::Cylinder { x, y, z0, .. } => Vector3::new(p.x - x, p.y - y, p.z - z0),
            Shape::Capsule { a, .. } => p - a,
            Shape::Block {
                centre,
                cos_yaw: c,
                sin_yaw: s,
                ..
            } => {
                let r = p - centre;
                Vector3::new(c * r.x + s * r.y, -s * r.x + c * r.y, r.z)
            }
            Shape::Backdrop { radius, .. } => Vector3::new(azimuth(p.x, p.y) * radius, p.z, 0.0),
        }
    }
}

/// The moving ball: a parabola with its apex at `apex_time`, resting on the ground (rolling
/// on) once its flight would take it below the surface.
#[derive(Clone, Debug, PartialEq)]
pub struct Projectile {
    pub radius: f64,
    pub material: Material,
    pub apex: Point3<f64>,
    pub apex_time: f64,
    /// Horizontal velocity, metres per second.
    pub velocity: Vector3<f64>,
    /// Downward acceleration, metres per second squared.
    pub gravity: f64,
}

impl Projectile {
    pub fn centre_at(&self, time: f64) -> Point3<f64> {
        let dt = time - self.apex_time;
        let mut p = self.apex + self.velocity * dt;
        p.z = (p.z - 0.5 * self.gravity * dt * dt).max(self.radius);
        p
    }
}

/// The sky: a gradient from the horizon to the zenith with soft clouds, a function of the
/// direction only (it is infinitely far away).
#[derive(Clone, Debug, PartialEq)]
pub struct Sky {
    pub horizon: Colour,
    pub zenith: Colour,
    pub cloud: Colour,
    pub seed: u32,
}

impl Sky {
    pub fn colour(&self, dir: &Vector3<f64>) -> Colour {
        let e = dir.z.max(0.0);
        let mut c = mix(&self.horizon, &self.zenith, e.powf(0.6));
        if dir.z > 0.02 {
            // Clouds on a plane overhead: project the direction onto it.
            let (u, v) = (dir.x / dir.z, dir.y / dir.z);
            let n = fbm2(u, v, 0.6, 6, 0.55, self.seed);
            c = mix(&c, &self.cloud, 0.85 * smoothstep(0.5, 0.7, n));
        }
        c
    }
}

/// Sun and ambient light, both white.
#[derive(Clone, Debug, PartialEq)]
pub struct Light {
    /// Unit vector towards the sun.
    pub sun: Vector3<f64>,
    pub sun_strength: f64,
    pub ambient: f64,
}

/// What a ray hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    Sky,
    /// Index into [`Scene::objects`].
    Object(usize),
    Ball,
}

/// The result of casting a ray.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Distance along the ray in metres; infinite for the sky.
    pub t: f64,
    pub surface: Surface,
    /// Shaded colour, display RGB, not clamped.
    pub colour: Colour,
}

/// A complete scene: static objects, the moving ball, light and sky.
///
/// The objects are fixed at construction (the scene indexes them for fast ray casting);
/// the ball, light and sky can be changed freely.
#[derive(Clone, Debug)]
pub struct Scene {
    objects: Vec<Object>,
    /// Objects without bounds (ground, backdrop), tested for every ray.
    unbounded: Vec<usize>,
    /// Everything else.
    bvh: Bvh,
    pub ball: Option<Projectile>,
    pub light: Light,
    pub sky: Sky,
}

impl PartialEq for Scene {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived from the objects.
        self.objects == other.objects
            && self.ball == other.ball
            && self.light == other.light
            && self.sky == other.sky
    }
}

impl Scene {
    pub fn new(objects: Vec<Object>, ball: Option<Projectile>, light: Light, sky: Sky) -> Self {
        let mut unbounded = Vec::new();
        let mut boxes = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            match o.shape.aabb() {
                Some(b) => boxes.push((i, b)),
                None => unbounded.push(i),
            }
        }
        Scene {
            bvh: Bvh::build(&boxes),
            unbounded,
            objects,
            ball,
            light,
            sky,
        }
    }

    pub fn objects(&self) -> &[Object] {
        &self.objects
    }

    /// The ball's centre at `time` seconds, if the scene has a ball.
    pub fn ball_centre(&self, time: f64) -> Option<Point3<f64>> {
        self.ball.as_ref().map(|b| b.centre_at(time))
    }

    /// Casts a ray into the full scene at `time` seconds.
    pub fn cast(&self, ray: &Ray, time: f64) -> Hit {
        self.cast_with_ball(ray, self.ball_centre(time))
    }

    /// Casts a ray into the static scene only (no ball).
    pub fn cast_static(&self, ray: &Ray) -> Hit {
        self.cast_with_ball(ray, None)
    }

    /// Casts a ray with the ball (if any) at `ball`; `None` leaves the ball out. Renderers
    /// compute the ball's position once per frame and call this per sample.
    pub fn cast_with_ball(&self, ray: &Ray, ball: Option<Point3<f64>>) -> Hit {
        let mut t_best = f64::INFINITY;
        let mut surface = Surface::Sky;
        let mut normal = Vector3::z();
        for &i in &self.unbounded {
            if let Some((t, n)) = self.objects[i].shape.intersect(ray, t_best) {
                t_best = t;
                surface = Surface::Object(i);
                normal = n;
            }
        }
        t_best = self.bvh.nearest(&ray.origin, &ray.dir, t_best, |i, t_max| {
            match self.objects[i].shape.intersect(ray, t_max) {
                Some((t, n)) => {
                    surface = Surface::Object(i);
                    normal = n;
                    t
                }
                None => t_max,
            }
        });
        let mut ball_local = Vector3::zeros();
        if let (Some(centre), Some(proj)) = (ball, &self.ball) {
            let sphere = Shape::Sphere {
                centre,
                radius: proj.radius,
            };
            if let Some((t, n)) = sphere.intersect(ray, t_best) {
                t_best = t;
                surface = Surface::Ball;
                normal = n;
                ball_local = ray.at(t) - centre;
            }
        }
        let colour = match surface {
            Surface::Sky => self.sky.colour(&ray.dir),
            Surface::Object(i) => {
                let obj = &self.objects[i];
                let p = ray.at(t_best);
                obj.material.albedo(&obj.local(&p)) * self.irradiance(&p, &normal)
            }
            Surface::Ball => {
                let p = ray.at(t_best);
                let proj = self.ball.as_ref().expect("ball hit implies a ball");
                proj.material.albedo(&ball_local) * self.irradiance(&p, &normal)
            }
        };
        Hit {
            t: t_best,
            surface,
            colour,
        }
    }

    /// Light arriving at a surface point with unit normal `n`: ambient plus the sun unless a
    /// static object is in the way.
    fn irradiance(&self, p: &Point3<f64>, n: &Vector3<f64>) -> f64 {
        let l = &self.light;
        let cos = n.dot(&l.sun);
        if cos <= 0.0 {
            return l.ambient;
        }
        let ray = Ray {
            origin: p + n * 1e-5,
            dir: l.sun,
        };
        let casts = |i: usize| {
            let o = &self.objects[i];
            o.casts_shadow && o.shape.intersect(&ray, f64::INFINITY).is_some()
        };
        let blocked = self.unbounded.iter().any(|&i| casts(i))
            || self.bvh.any(&ray.origin, &ray.dir, f64::INFINITY, casts);
        if blocked {
            l.ambient
        } else {
            l.ambient + l.sun_strength * cos
        }
    }
}

/// Where the scene's fixed features are; see [`sample_scene`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SceneLayout {
    /// Centre of the red marker ball (the rig's focus point).
    pub focus: Point3<f64>,
    pub marker_radius: f64,
    /// Height of the pedestal under the marker.
    pub pedestal_height: f64,
    /// Objects are placed with their centres between these distances from the focus axis.
    pub objects_min_r: f64,
    pub objects_max_r: f64,
    /// Tallest object top (below every camera's line of sight to the focus).
    pub objects_max_top: f64,
    pub backdrop_radius: f64,
    pub ball_radius: f64,
    /// The ball's highest point and when it gets there.
    pub ball_apex: Point3<f64>,
    pub ball_apex_time: f64,
    /// Seconds from the apex to the farther end of the clip.
    pub ball_half_flight: f64,
    /// A goalkeeper in mid-dive beside the pedestal ([`figure`]).
    pub figure: bool,
}

/// The saturated red of the marker, before shading. Nothing else in the scene is saturated red.
pub fn marker_red() -> Colour {
    rgb(230, 15, 15)
}

/// Muted and clearly non-red colours for objects; each entry has HSV saturation below 0.45 or
/// a hue at least 50 degrees away from red, and so does every mix of two of them.
fn palette() -> Vec<Colour> {
    [
        (70, 100, 165),  // blue
        (60, 135, 140),  // teal
        (85, 140, 90),   // green
        (140, 150, 70),  // olive
        (215, 195, 70),  // mustard
        (120, 100, 150), // violet
        (200, 200, 190), // light grey
        (95, 95, 100),   // dark grey
        (225, 215, 190), // cream
        (150, 132, 118), // taupe
        (45, 50, 60),    // charcoal
        (235, 235, 228), // off-white
    ]
    .iter()
    .map(|&(r, g, b)| rgb(r, g, b))
    .collect()
}

/// Relative luminance-ish brightness for picking contrasting colour pairs.
fn luma(c: &Colour) -> f64 {
    0.3 * c.x + 0.59 * c.y + 0.11 * c.z
}

/// Picks two palette colours whose brightness differs enough to show texture.
fn contrasting_pair(rng: &mut Prng, pal: &[Colour]) -> (Colour, Colour) {
    loop {
        let a = pal[rng.index(pal.len())];
        let b = pal[rng.index(pal.len())];
        if (luma(&a) - luma(&b)).abs() > 0.2 {
            return (a, b);
        }
    }
}

fn random_texture(rng: &mut Prng, pal: &[Colour], size: f64) -> Texture {
    let (a, b) = contrasting_pair(rng, pal);
    match rng.index(3) {
        0 => {
            // Stripes across a random direction, mostly horizontal or vertical bands.
            let axis = match rng.index(3) {
                0 => Vector3::z(),
                1 => Vector3::new(1.0, 0.0, 0.0),
                _ => Vector3::new(
                    rng.range(-1.0, 1.0),
                    rng.range(-1.0, 1.0),
                    rng.range(-1.0, 1.0),
                )
                .try_normalize(1e-6)
                .unwrap_or_else(Vector3::z),
            };
            Texture::Stripes {
                a,
                b,
                axis,
                period: size * rng.range(0.15, 0.6),
            }
        }
        1 => Texture::Checks {
            a,
            b,
            size: size * rng.range(0.1, 0.35),
        },
        _ => Texture::Blotches {
            a,
            b,
            scale: size * rng.range(0.2, 0.8),
        },
    }
}

/// Builds the sample scene: ground, pedestal and marker at the focus, seeded objects around
/// it, pillars and a skyline backdrop outside the rig, the sky and the moving ball.
pub fn sample_scene(seed: u64, layout: &SceneLayout) -> Scene {
    let mut rng = Prng::new(seed);
    let pal = palette();
    let mut objects = Vec::new();

    objects.push(Object::new(
        "ground",
        Shape::Ground { z: 0.0 },
        Material::plain(
            Texture::Ground {
                paved_radius: 7.0,
                tile: 0.75,
                dirt: [rgb(92, 90, 80), rgb(168, 158, 134)],
                stone: [rgb(150, 146, 136), rgb(128, 132, 136)],
                grout: rgb(72, 72, 70),
                paint: rgb(232, 232, 222),
            },
            rng.next_u32(),
        ),
    ));

    let f = layout.focus;
    objects.push(Object::new(
        "pedestal",
        Shape::Cylinder {
            x: f.x,
            y: f.y,
            radius: 0.14,
            z0: 0.0,
            z1: layout.pedestal_height,
        },
        Material::grainy(
            Texture::Stripes {
                a: rgb(205, 205, 198),
                b: rgb(70, 75, 85),
                axis: Vector3::z(),
                period: 0.15,
            },
            0.12,
            6.0,
            rng.next_u32(),
        ),
    ));
    objects.push(Object::new(
        "marker",
        Shape::Sphere {
            centre: f,
            radius: layout.marker_radius,
        },
        Material::plain(Texture::Solid(marker_red()), 0),
    ));

    // Seeded props around the focus, kept apart so they read as separate objects.
    let n_props = 10 + rng.index(4);
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    let figure = if layout.figure { figure(f) } else { Vec::new() };
    // The figure's footprint. Props drawn onto it are left out after every draw, so that the
    // other props, the pillars and the backdrop stand where they stood before the figure.
    let keep_clear: Vec<(f64, f64, f64)> = (0..4)
        .filter(|_| layout.figure)
        .map(|k| {
            let along = FIGURE_FEET + (FIGURE_HANDS - FIGURE_FEET) * k as f64 / 3.0;
            (f.x + FIGURE_PELVIS[0] + along, f.y + FIGURE_PELVIS[1], 0.4)
        })
        .collect();
    let mut attempts = 0;
    while placed.len() < n_props && attempts < 10_000 {
        attempts += 1;
        let r = rng.range(layout.objects_min_r, layout.objects_max_r);
        let az = rng.range(0.0, TAU);
        let foot = rng.range(0.15, 0.45);
        let (x, y) = (f.x + r * az.cos(), f.y + r * az.sin());
        if placed
            .iter()
            .any(|&(px, py, pf)| ((px - x).powi(2) + (py - y).powi(2)).sqrt() < pf + foot + 0.25)
        {
            continue;
        }
        placed.push((x, y, foot));
        let top = layout.objects_max_top;
        let kind = rng.index(3);
        let texture = random_texture(&mut rng, &pal, foot * 2.0);
        let grain = rng.range(0.05, 0.15);
        let grain_freq = rng.range(3.0, 12.0);
        let mseed = rng.next_u32();
        let material = Material::grainy(texture, grain, grain_freq, mseed);
        let (name, shape) = match kind {
            0 => {
                let h = rng.range(0.25, top);
                let half = Vector3::new(
                    foot * rng.range(0.6, 1.0),
                    foot * rng.range(0.4, 1.0),
                    h / 2.0,
                );
                let yaw = rng.range(0.0, PI);
                ("box", Shape::block(Point3::new(x, y, h / 2.0), half, yaw))
            }
            1 => {
                let h = rng.range(0.3, top);
                let radius = foot * rng.range(0.5, 1.0);
                (
                    "cylinder",
                    Shape::Cylinder {
                        x,
                        y,
                        radius,
                        z0: 0.0,
                        z1: h,
                    },
                )
            }
            _ => {
                // Resting on the ground: its top (2 r) stays below the limit.
                let radius = (foot * rng.range(0.6, 1.0)).min(top / 2.0);
                (
                    "sphere",
                    Shape::Sphere {
                        centre: Point3::new(x, y, radius),
                        radius,
                    },
                )
            }
        };
        let on_figure = keep_clear
            .iter()
            .any(|&(px, py, pf)| ((px - x).powi(2) + (py - y).powi(2)).sqrt() < pf + foot + 0.1);
        if !on_figure {
            objects.push(Object::new(
                format!("{name}{}", placed.len()),
                shape,
                material,
            ));
        }
    }

    objects.extend(figure);

    // Pillars outside the rig: parallax layers between the rig and the backdrop.
    let n_pillars = 10;
    for k in 0..n_pillars {
        let az = TAU * (k as f64 + rng.range(0.2, 0.8)) / n_pillars as f64;
        let r = rng.range(13.0, 15.0);
        let (a, b) = contrasting_pair(&mut rng, &pal);
        let texture = if rng.index(2) == 0 {
            Texture::Stripes {
                a,
                b,
                axis: Vector3::z(),
                period: rng.range(0.4, 1.2),
            }
        } else {
            Texture::Blotches {
                a,
                b,
                scale: rng.range(0.3, 1.0),
            }
        };
        let mseed = rng.next_u32();
        objects.push(Object::new(
            format!("pillar{}", k + 1),
            Shape::Cylinder {
                x: r * az.cos(),
                y: r * az.sin(),
                radius: rng.range(0.3, 0.5),
                z0: 0.0,
                z1: rng.range(4.5, 8.0),
            },
            Material::grainy(texture, 0.12, 2.0, mseed),
        ));
    }

    let n_segments = 48;
    let heights: Vec<f64> = (0..n_segments).map(|_| rng.range(3.0, 6.5)).collect();
    let mseed = rng.next_u32();
    objects.push(Object::new(
        "backdrop",
        Shape::backdrop(layout.backdrop_radius, heights),
        Material::plain(
            Texture::Facade {
                segment: TAU * layout.backdrop_radius / n_segments as f64,
                palette: [
                    (172, 162, 146),
                    (140, 150, 162),
                    (186, 181, 166),
                    (118, 124, 120),
                    (160, 146, 132),
                    (108, 124, 142),
                    (196, 190, 176),
                ]
                .iter()
                .map(|&(r, g, b)| rgb(r, g, b))
                .collect(),
                window: rgb(62, 80, 100),
            },
            mseed,
        ),
    ));

    // The event ball: yellow with a darker seam band, so its own motion is visible too.
    let ball_seed = rng.next_u32();
    let ball = Projectile {
        radius: layout.ball_radius,
        material: Material::grainy(
            Texture::Stripes {
                a: rgb(240, 212, 40),
                b: rgb(150, 140, 30),
                axis: Vector3::new(0.3, 0.5, 0.81).normalize(),
                period: 0.16,
            },
            0.05,
            20.0,
            ball_seed,
        ),
        apex: layout.ball_apex,
        apex_time: layout.ball_apex_time,
        velocity: Vector3::new(ball_speed(layout.ball_half_flight), 0.0, 0.0),
        gravity: ball_gravity(
            layout.ball_apex.z - layout.ball_radius,
            layout.ball_half_flight,
        ),
    };

    Scene::new(
        objects,
        Some(ball),
        Light {
            sun: Vector3::new(0.45, -0.35, 0.82).normalize(),
            sun_strength: 0.62,
            ambient: 0.45,
        },
        Sky {
            horizon: rgb(206, 216, 226),
            zenith: rgb(92, 138, 204),
            cloud: rgb(240, 242, 245),
            seed: rng.next_u32(),
        },
    )
}

/// Where the figure's pelvis is, relative to the focus point's foot (metres; its height is
/// above the ground): beside the pedestal, on the side away from the ball's flight.
const FIGURE_PELVIS: [f64; 3] = [-0.35, -1.15, 0.52];
/// How far the figure reaches along its dive (+x) from the pelvis: its feet and gloves.
const FIGURE_FEET: f64 = -1.05;
const FIGURE_HANDS: f64 = 1.05;

/// A goalkeeper in mid-dive beside the pedestal, airborne and stretched out along +x towards
/// the ball's line: the subject a viewer recognises in a frozen moment. Built of capsules and
/// spheres, all below 0.85 m, so it never hides the marker from a camera of the ring (every
/// line of sight to the marker passes above 1.0 m); the figure is still, like the props, so
/// the ball stays the only thing that moves.
fn figure(focus: Point3<f64>) -> Vec<Object> {
    let origin = Point3::new(
        focus.x + FIGURE_PELVIS[0],
        focus.y + FIGURE_PELVIS[1],
        FIGURE_PELVIS[2],
    );
    // Body frame: x along the dive (head first), y to the figure's left, z up.
    let at = |x: f64, y: f64, z: f64| origin + Vector3::new(x, y, z);
    let skin = Material::grainy(Texture::Solid(rgb(196, 160, 130)), 0.05, 25.0, 0xf1);
    let jersey = Material::grainy(
        Texture::Stripes {
            a: rgb(215, 195, 70),
            b: rgb(45, 50, 60),
            axis: Vector3::x(),
            period: 0.2,
        },
        0.06,
        12.0,
        0xf2,
    );
    let shorts = Material::grainy(Texture::Solid(rgb(70, 100, 165)), 0.08, 15.0, 0xf3);
    let socks = Material::grainy(Texture::Solid(rgb(235, 235, 228)), 0.08, 20.0, 0xf4);
    let dark = Material::grainy(Texture::Solid(rgb(40, 38, 42)), 0.15, 20.0, 0xf5);
    let gloves = Material::grainy(Texture::Solid(rgb(150, 200, 80)), 0.1, 18.0, 0xf6);
    let capsule = |name: &str, a: Point3<f64>, b: Point3<f64>, radius: f64, m: &Material| {
        Object::new(
            format!("figure-{name}"),
            Shape::Capsule { a, b, radius },
            m.clone(),
        )
    };
    let sphere = |name: &str, centre: Point3<f64>, radius: f64, m: &Material| {
        Object::new(
            format!("figure-{name}"),
            Shape::Sphere { centre, radius },
            m.clone(),
        )
    };
    let mut parts = vec![
        capsule(
            "torso",
            at(0.0, 0.0, 0.0),
            at(0.44, 0.0, 0.06),
            0.15,
            &jersey,
        ),
        capsule("neck", at(0.5, 0.0, 0.07), at(0.6, 0.0, 0.1), 0.05, &skin),
        sphere("head", at(0.71, 0.0, 0.12), 0.11, &skin),
        sphere("hair", at(0.69, 0.0, 0.15), 0.105, &dark),
    ];
    for (side, s) in [("left", 1.0), ("right", -1.0)] {
        let (shoulder, elbow, wrist) = (
            at(0.42, 0.19 * s, 0.08),
            at(0.7, 0.24 * s, 0.17),
            at(0.95, 0.17 * s, 0.22),
        );
        let hip = at(-0.02, 0.1 * s, -0.02);
        // The right leg trails straight; the left is bent at the knee, its foot raised.
        let (knee, ankle, toe) = if s < 0.0 {
            (
                at(-0.47, 0.13 * s, -0.03),
                at(-0.9, 0.14 * s, 0.01),
                at(-0.98, 0.14 * s, -0.06),
            )
        } else {
            (
                at(-0.4, 0.15 * s, -0.12),
                at(-0.72, 0.17 * s, 0.1),
                at(-0.8, 0.17 * s, 0.04),
            )
        };
        parts.extend([
            capsule(&format!("{side}-arm"), shoulder, elbow, 0.055, &jersey),
            capsule(&format!("{side}-forearm"), elbow, wrist, 0.045, &skin),
            sphere(
                &format!("{side}-glove"),
                at(0.99, 0.17 * s, 0.23),
                0.065,
                &gloves,
            ),
            capsule(&format!("{side}-thigh"), hip, knee, 0.075, &shorts),
            capsule(&format!("{side}-shin"), knee, ankle, 0.055, &socks),
            capsule(&format!("{side}-shoe"), ankle, toe, 0.045, &dark),
        ]);
    }
    parts
}

/// A product on a turntable (the `--turntable` sample): a seeded object of textured parts,
/// at most 0.4 m from the axis and 0.9 m tall, on a grey disc, in a seamless white studio lit
/// from straight above. The light and everything but the disc and product are unchanged by
/// a turn about the vertical axis, so cameras on a ring round a still product see exactly
/// what one fixed camera sees of a turning one.
pub fn turntable_scene(seed: u64) -> Scene {
    let mut rng = Prng::new(seed ^ 0x7475_726e_7461_626c);
    let pal = palette();
    let white = rgb(242, 242, 238);
    let mut objects = vec![
        Object::new(
            "floor",
            Shape::Ground { z: 0.0 },
            Material::plain(Texture::Solid(white), 0),
        ),
        // The backdrop is lit on its own, as in a studio: the overhead light grazes it, so
        // its albedo above 1 stands for its lamps. 1.75 x 0.95 x 0.6 ambient = 1.0, the
        // floor's 0.95 x (0.6 ambient + 0.45 sun): the sweep is seamless.
        Object::new(
            "sweep",
            Shape::backdrop(8.0, vec![30.0]),
            Material::plain(Texture::Solid(white * 1.75), 0),
        ),
        Object::new(
            "disc",
            Shape::Cylinder {
                x: 0.0,
                y: 0.0,
                radius: 0.55,
                z0: 0.0,
                z1: 0.04,
            },
            Material::grainy(
                Texture::Solid(rgb(200, 200, 196)),
                0.1,
                25.0,
                rng.next_u32(),
            ),
        ),
    ];
    let base = 0.04;
    let mut part = |name: &str, shape: Shape, size: f64, rng: &mut Prng| {
        let texture = random_texture(rng, &pal, size);
        let material = Material::grainy(
            texture,
            rng.range(0.05, 0.12),
            rng.range(6.0, 20.0),
            rng.next_u32(),
        );
        objects.push(Object::new(format!("product-{name}"), shape, material));
    };
    match rng.index(3) {
        0 => {
            // A stack: a body, a shoulder and a knob, each off the axis a little.
            let (r0, h0) = (rng.range(0.2, 0.3), rng.range(0.3, 0.45));
            part(
                "body",
                Shape::block(
                    Point3::new(0.0, 0.0, base + h0 / 2.0),
                    Vector3::new(r0, r0 * rng.range(0.5, 0.9), h0 / 2.0),
                    rng.range(0.0, PI),
                ),
                2.0 * r0,
                &mut rng,
            );
            let r1 = rng.range(0.12, 0.18);
            let c1 = Point3::new(
                rng.range(-0.08, 0.08),
                rng.range(-0.08, 0.08),
                base + h0 + r1,
            );
            part(
                "shoulder",
                Shape::Sphere {
                    centre: c1,
                    radius: r1,
                },
                2.0 * r1,
                &mut rng,
            );
            part(
                "knob",
                Shape::Cylinder {
                    x: c1.x + 0.05,
                    y: c1.y,
                    radius: 0.05,
                    z0: c1.z,
                    z1: c1.z + r1 + rng.range(0.08, 0.2),
                },
                0.2,
                &mut rng,
            );
        }
        1 => {
            // A bag: a box body and a handle arching over it.
            let (w, d, h) = (
                rng.range(0.25, 0.35),
                rng.range(0.08, 0.15),
                rng.range(0.25, 0.4),
            );
            let yaw = rng.range(0.0, PI);
            let (c, s) = (yaw.cos(), yaw.sin());
            part(
                "body",
                Shape::block(Point3::new(0.0, 0.0, base + h), Vector3::new(w, d, h), yaw),
                2.0 * w,
                &mut rng,
            );
            let top = base + 2.0 * h;
            let lift = rng.range(0.15, 0.25);
            let at = |u: f64, z: f64| Point3::new(c * u, s * u, z);
            let (a, m, b) = (at(-0.6 * w, top), at(0.0, top + lift), at(0.6 * w, top));
            part(
                "handle-a",
                Shape::Capsule {
                    a,
                    b: m,
                    radius: 0.025,
                },
                0.3,
                &mut rng,
            );
            part(
                "handle-b",
                Shape::Capsule {
                    a: m,
                    b,
                    radius: 0.025,
                },
                0.3,
                &mut rng,
            );
        }
        _ => {
            // A shoe-like form: a long low body, a raised heel end and a rounded toe.
            let len = rng.range(0.3, 0.38);
            let yaw = rng.range(0.0, PI);
            let (c, s) = (yaw.cos(), yaw.sin());
            let at = |u: f64, v: f64, z: f64| Point3::new(c * u - s * v, s * u + c * v, z);
            part(
                "sole",
                Shape::block(
                    at(0.0, 0.0, base + 0.03),
                    Vector3::new(len, 0.12, 0.03),
                    yaw,
                ),
                2.0 * len,
                &mut rng,
            );
            part(
                "upper",
                Shape::Capsule {
                    a: at(-0.6 * len, 0.0, base + 0.16),
                    b: at(0.55 * len, 0.0, base + 0.11),
                    radius: 0.1,
                },
                len,
                &mut rng,
            );
            part(
                "heel",
                Shape::Cylinder {
                    x: at(-0.7 * len, 0.0, 0.0).x,
                    y: at(-0.7 * len, 0.0, 0.0).y,
                    radius: 0.1,
                    z0: base,
                    z1: base + rng.range(0.3, 0.42),
                },
                0.3,
                &mut rng,
            );
        }
    }
    Scene::new(
        objects,
        None,
        Light {
            sun: Vector3::z(),
            sun_strength: 0.45,
            ambient: 0.6,
        },
        Sky {
            horizon: white,
            zenith: white,
            cloud: white,
            seed: 0,
        },
    )
}

/// Horizontal speed: about 10 m of travel over the clip, at most 6 m/s.
fn ball_speed(half_flight: f64) -> f64 {
    (5.0 / half_flight.max(1e-3)).min(6.0)
}

/// Gravity such that the ball falls `drop` metres from the apex a little after the end of
/// the clip, so it is airborne throughout; at most real gravity for short clips.
fn ball_gravity(drop: f64, half_flight: f64) -> f64 {
    let t = 1.05 * half_flight.max(1e-3);
    (2.0 * drop / (t * t)).clamp(0.5, 9.81)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> SceneLayout {
        SceneLayout {
            focus: Point3::new(0.0, 0.0, 1.0),
            marker_radius: 0.08,
            pedestal_height: 0.9,
            objects_min_r: 1.5,
            objects_max_r: 6.0,
            objects_max_top: 0.9,
            backdrop_radius: 18.0,
            ball_radius: 0.12,
            ball_apex: Point3::new(0.0, 0.8, 2.3),
            ball_apex_time: 1.0,
            ball_half_flight: 1.0,
            figure: true,
        }
    }

    /// HSV hue (degrees, in (-180, 180], 0 = red) and saturation.
    fn hue_sat(c: &Colour) -> (f64, f64) {
        let (max, min) = (c.max(), c.min());
        if max <= 0.0 || max == min {
            return (0.0, 0.0);
        }
        let d = max - min;
        let h = if max == c.x {
            60.0 * (c.y - c.z) / d
        } else if max == c.y {
            60.0 * (c.z - c.x) / d + 120.0
        } else {
            60.0 * (c.x - c.y) / d + 240.0
        };
        (if h > 180.0 { h - 360.0 } else { h }, d / max)
    }

    /// The scene's rule for everything but the marker.
    fn not_saturated_red(c: &Colour) -> bool {
        let (h, s) = hue_sat(c);
        s < 0.45 || h.abs() > 40.0
    }

    #[test]
    fn the_marker_is_the_only_saturated_red() {
        let (h, s) = hue_sat(&marker_red());
        assert!(h.abs() < 1.0 && s > 0.9);
        for seed in 1..30 {
            let scene = sample_scene(seed, &layout());
            let mut materials: Vec<&Material> = scene
                .objects()
                .iter()
                .filter(|o| o.name != "marker")
                .map(|o| &o.material)
                .collect();
            materials.extend(scene.ball.as_ref().map(|b| &b.material));
            for m in materials {
                // Every colour a texture mixes between, and every blend of two of them (what
                // texture edges and anti-aliasing produce) stays clear of saturated red.
                let cs = m.texture.colours();
                for a in &cs {
                    for b in &cs {
                        for k in 0..=10 {
                            let c = mix(a, b, k as f64 / 10.0);
                            assert!(
                                not_saturated_red(&c),
                                "seed {seed}: {c:?} in {:?}",
                                m.texture
                            );
                        }
                    }
                }
            }
            for c in [&scene.sky.horizon, &scene.sky.zenith, &scene.sky.cloud] {
                assert!(not_saturated_red(c));
            }
            assert_eq!(
                scene
                    .objects()
                    .iter()
                    .filter(|o| o.name == "marker")
                    .count(),
                1
            );
        }
    }

    #[test]
    fn props_stay_in_their_ring_and_below_every_line_of_sight() {
        for seed in 1..30 {
            let scene = sample_scene(seed, &layout());
            let props: Vec<&Object> = scene
                .objects()
                .iter()
                .filter(|o| {
                    ["box", "cylinder", "sphere"]
                        .iter()
                        .any(|k| o.name.starts_with(k))
                })
                .collect();
            // 10 to 13 drawn, one or two of them left out where they would stand on the figure.
            assert!((8..=13).contains(&props.len()), "{}", props.len());
            for o in props {
                let b = o.shape.aabb().unwrap();
                let c = nalgebra::center(&b.min, &b.max);
                let r = c.x.hypot(c.y);
                assert!((1.5..=6.0).contains(&r), "seed {seed}: {} at {r}", o.name);
                assert!(
                    b.max.z < 0.95 && b.min.z > -1e-6,
                    "seed {seed}: {} spans {b:?}",
                    o.name
                );
            }
            // Different seeds move the props.
            let other = sample_scene(seed + 100, &layout());
            assert_ne!(scene.objects()[3].shape, other.objects()[3].shape);
        }
    }

    #[test]
    fn shapes_intersect_where_expected() {
        let ray = |o: [f64; 3], d: [f64; 3]| Ray::new(Point3::from(o), Vector3::from(d));
        let inf = f64::INFINITY;
        let sphere = Shape::Sphere {
            centre: Point3::new(0.0, 0.0, 1.0),
            radius: 0.5,
        };
        let (t, n) = sphere
            .intersect(&ray([5.0, 0.0, 1.0], [-1.0, 0.0, 0.0]), inf)
            .unwrap();
        assert!((t - 4.5).abs() < 1e-12 && (n - Vector3::x()).norm() < 1e-12);
        assert!(sphere
            .intersect(&ray([5.0, 0.0, 1.0], [-1.0, 0.0, 0.0]), 4.0)
            .is_none());
        assert!(sphere
            .intersect(&ray([5.0, 0.0, 1.6], [-1.0, 0.0, 0.0]), inf)
            .is_none());

        let cyl = Shape::Cylinder {
            x: 1.0,
            y: 1.0,
            radius: 0.5,
            z0: 0.0,
            z1: 2.0,
        };
        let (t, n) = cyl
            .intersect(&ray([1.0, 5.0, 1.0], [0.0, -1.0, 0.0]), inf)
            .unwrap();
        assert!((t - 3.5).abs() < 1e-12 && (n - Vector3::y()).norm() < 1e-12);
        let (t, n) = cyl
            .intersect(&ray([1.2, 1.0, 5.0], [0.0, 0.0, -1.0]), inf)
            .unwrap();
        assert!((t - 3.0).abs() < 1e-12 && (n - Vector3::z()).norm() < 1e-12);
        assert!(cyl
            .intersect(&ray([1.0, 5.0, 2.5], [0.0, -1.0, 0.0]), inf)
            .is_none());

        // A box turned 45 degrees: its corner points along +x.
        let block = Shape::block(
            Point3::new(0.0, 0.0, 0.5),
            Vector3::new(0.5, 0.5, 0.5),
            PI / 4.0,
        );
        let (t, _) = block
            .intersect(&ray([3.0, 0.0, 0.5], [-1.0, 0.0, 0.0]), inf)
            .unwrap();
        assert!((t - (3.0 - 0.5 * 2f64.sqrt())).abs() < 1e-9, "{t}");
        let (t, n) = block
            .intersect(&ray([0.0, 0.0, 3.0], [0.0, 0.0, -1.0]), inf)
            .unwrap();
        assert!((t - 2.0).abs() < 1e-12 && (n - Vector3::z()).norm() < 1e-12);
        let aabb = block.aabb().unwrap();
        assert!((aabb.max.x - 0.5 * 2f64.sqrt()).abs() < 1e-6);

        let ground = Shape::Ground { z: 0.0 };
        let (t, n) = ground
            .intersect(&ray([0.0, 0.0, 2.0], [0.0, 0.6, -0.8]), inf)
            .unwrap();
        assert!((t - 2.5).abs() < 1e-12 && n == Vector3::z());
        assert!(ground
            .intersect(&ray([0.0, 0.0, 2.0], [0.0, 0.6, 0.8]), inf)
            .is_none());

        // Backdrop: segment 0 (azimuths 0..90) is 3 m tall, segment 1 (90..180) 6 m.
        let wall = Shape::backdrop(10.0, vec![3.0, 6.0, 3.0, 3.0]);
        let (t, n) = wall
            .intersect(&ray([0.0, 0.0, 1.0], [1.0, 0.0, 0.0]), inf)
            .unwrap();
        assert!((t - 10.0).abs() < 1e-12 && (n + Vector3::x()).norm() < 1e-12);
        let up = |az: f64| [az.cos(), az.sin(), 0.4];
        assert!(wall
            .intersect(&ray([0.0, 0.0, 1.0], up(0.5)), inf)
            .is_none()); // z 5 > 3
        assert!(wall
            .intersect(&ray([0.0, 0.0, 1.0], up(2.0)), inf)
            .is_some()); // z 5 < 6
                         // One-sided: invisible from outside.
        assert!(wall
            .intersect(&ray([20.0, 0.0, 1.0], [-1.0, 0.0, 0.0]), inf)
            .is_none());
    }

    #[test]
    fn the_figure_is_seen_whole_and_never_hides_the_marker() {
        let l = layout();
        let scene = sample_scene(1, &l);
        let parts: Vec<usize> = (0..scene.objects().len())
            .filter(|&i| scene.objects()[i].name.starts_with("figure-"))
            .collect();
        assert_eq!(parts.len(), 16);
        let without = sample_scene(1, &SceneLayout { figure: false, ..l });
        assert!(!without
            .objects()
            .iter()
            .any(|o| o.name.starts_with("figure-")));
        let marker = scene
            .objects()
            .iter()
            .position(|o| o.name == "marker")
            .unwrap();
        for i in &parts {
            let b = scene.objects()[*i].shape.aabb().unwrap();
            assert!(b.max.z < 0.85 && b.min.z > 0.25, "{b:?}");
        }
        // From every camera position of a ring (radius 8 m, height 1.6 m), the ray to the
        // marker's centre meets the marker first.
        for k in 0..720 {
            let az = TAU * k as f64 / 720.0;
            let eye = Point3::new(8.0 * az.cos(), 8.0 * az.sin(), 1.6);
            let hit = scene.cast_static(&Ray::new(eye, l.focus - eye));
            assert_eq!(
                hit.surface,
                Surface::Object(marker),
                "azimuth {k}/2 degrees"
            );
        }
        // Seen from its side (the camera on -y), the torso, the head and both gloves are hit
        // where they are, each by a ray aimed at it.
        let eye = Point3::new(0.0, -8.0, 1.6);
        for name in [
            "figure-torso",
            "figure-head",
            "figure-left-glove",
            "figure-right-glove",
        ] {
            let i = scene.objects().iter().position(|o| o.name == name).unwrap();
            let b = scene.objects()[i].shape.aabb().unwrap();
            let c = nalgebra::center(&b.min, &b.max);
            let hit = scene.cast_static(&Ray::new(eye, c - eye));
            assert!(
                matches!(hit.surface, Surface::Object(j) if parts.contains(&j)),
                "{name}: {:?}",
                hit.surface
            );
        }
    }

    #[test]
    fn a_capsule_is_hit_on_its_side_and_on_its_ends() {
        let cap = Shape::Capsule {
            a: Point3::new(0.0, 0.0, 1.0),
            b: Point3::new(1.0, 0.0, 1.0),
            radius: 0.25,
        };
        let ray = |o: [f64; 3], d: [f64; 3]| Ray::new(Point3::from(o), Vector3::from(d));
        let inf = f64::INFINITY;
        // Side: from above the middle.
        let (t, n) = cap
            .intersect(&ray([0.5, 0.0, 3.0], [0.0, 0.0, -1.0]), inf)
            .unwrap();
        assert!((t - 1.75).abs() < 1e-12 && (n - Vector3::z()).norm() < 1e-12);
        // End caps: along the axis from either side.
        let (t, n) = cap
            .intersect(&ray([3.0, 0.0, 1.0], [-1.0, 0.0, 0.0]), inf)
            .unwrap();
        assert!((t - 1.75).abs() < 1e-12 && (n - Vector3::x()).norm() < 1e-12);
        let (t, n) = cap
            .intersect(&ray([-2.0, 0.0, 1.0], [1.0, 0.0, 0.0]), inf)
            .unwrap();
        assert!((t - 1.75).abs() < 1e-12 && (n + Vector3::x()).norm() < 1e-12);
        // A cap's rounded edge, beyond the cylinder's end: a sphere hit, not a flat one.
        let (t, _) = cap
            .intersect(&ray([1.2, 0.0, 3.0], [0.0, 0.0, -1.0]), inf)
            .unwrap();
        let expect = 2.0 - (0.25f64 * 0.25 - 0.2 * 0.2).sqrt();
        assert!((t - expect).abs() < 1e-12, "{t} {expect}");
        // Misses: beside it, beyond the end cap, and nearer than the hit's distance.
        assert!(cap
            .intersect(&ray([0.5, 0.3, 3.0], [0.0, 0.0, -1.0]), inf)
            .is_none());
        assert!(cap
            .intersect(&ray([1.3, 0.0, 3.0], [0.0, 0.0, -1.0]), inf)
            .is_none());
        assert!(cap
            .intersect(&ray([0.5, 0.0, 3.0], [0.0, 0.0, -1.0]), 1.7)
            .is_none());
        // A ray leaving the surface outward does not hit it again (shadow rays).
        assert!(cap
            .intersect(&ray([0.5, 0.0, 1.25], [0.3, 0.2, 1.0]), inf)
            .is_none());
        let b = cap.aabb().unwrap();
        assert!((b.min - Point3::new(-0.25, -0.25, 0.75)).norm() < 1e-6);
        assert!((b.max - Point3::new(1.25, 0.25, 1.25)).norm() < 1e-6);
    }

    #[test]
    fn the_ball_casts_no_shadow_and_flies_over_the_sight_lines() {
        let scene = sample_scene(1, &layout());
        // A ground point in sunlight, and the ball placed right on its line to the sun.
        let target = Point3::new(3.0, -3.0, 0.0);
        let probe = Ray::new(Point3::new(3.0, -3.0, 5.0), Vector3::new(0.0, 0.0, -1.0));
        let lit = scene.cast_static(&probe);
        assert_eq!(lit.surface, Surface::Object(0));
        let mut overcast = scene.clone();
        overcast.light.sun_strength = 0.0;
        assert_ne!(
            overcast.cast_static(&probe).colour,
            lit.colour,
            "the probe point must be sunlit"
        );
        let blocker = target + scene.light.sun * 1.0;
        let with_ball = scene.cast_with_ball(&probe, Some(blocker));
        // The probe ray passes the ball? Then it hits it; otherwise the ground is unchanged.
        if with_ball.surface == Surface::Object(0) {
            assert_eq!(with_ball.colour, lit.colour);
        } else {
            assert_eq!(with_ball.surface, Surface::Ball);
        }
        let side = Ray::new(Point3::new(3.3, -3.0, 5.0), Vector3::new(0.0, 0.0, -1.0));
        assert_eq!(
            scene.cast_with_ball(&side, Some(blocker)),
            scene.cast_static(&side)
        );

        let ball = scene.ball.as_ref().unwrap();
        let apex = ball.centre_at(1.0);
        assert_eq!(apex, Point3::new(0.0, 0.8, 2.3));
        // At the apex the ball is above every camera (so above every line to the marker).
        assert!(apex.z - ball.radius > 1.6);
        for t in [0.0, 0.5, 1.5, 2.0] {
            let p = ball.centre_at(t);
            assert!(p.z < apex.z && p.z >= ball.radius);
        }
        // Airborne over the whole clip (one second either side of the apex).
        assert!(ball.centre_at(0.0).z > ball.radius && ball.centre_at(2.0).z > ball.radius);
        assert!(ball.centre_at(100.0).z == ball.radius);
        assert!(ball.centre_at(2.0).x - ball.centre_at(0.0).x > 8.0);
    }

    #[test]
    fn shading_keeps_hue() {
        let scene = sample_scene(1, &layout());
        // Cast at the marker from several sides: lit and unlit sides are the same red.
        for az in [0.0f64, 1.0, 2.5, 4.0, 5.5] {
            let eye = Point3::new(8.0 * az.cos(), 8.0 * az.sin(), 1.6);
            let hit = scene.cast_static(&Ray::new(eye, Point3::new(0.0, 0.0, 1.0) - eye));
            let (h, s) = hue_sat(&hit.colour.map(|c| c.min(1.0)));
            assert!(h.abs() < 2.0 && s > 0.9, "{az}: {h} {s}");
        }
    }
}
