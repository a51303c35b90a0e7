//! Product spins: the 360-degree views of a product page, from a turntable's shots or a
//! camera array's stills.
//!
//! A fixed camera and a product turning in front of it are a ring of cameras round a still
//! product, once what does not turn (a plain backdrop) is ignored; so a spin is an orbit like
//! any other, and the frames between shots come from the same view synthesis
//! ([`crate::interp::PairFlow`], forward-backward consistent softmax splatting of the two
//! shots' flows: Niklaus and Liu, "Softmax Splatting for Video Frame Interpolation", CVPR
//! 2020). What a spin adds is its schedule ([`schedule`]: M output angles evenly spaced,
//! whatever the capture spacing, each either a shot unchanged or a fraction between two), the
//! turn's detection ([`detect_full_turn`]: does the last shot lead back to the first?) and a
//! framing that keeps the product still ([`Framing`]). [`package`] writes what a product page
//! serves: frames at several widths, a loop video, a sprite sheet, a poster, `spin.json` and a
//! self-contained viewer.

pub mod background;
pub mod colour;
pub mod package;

use crate::error::{Error, Result};
use crate::flow::consistency::{bidirectional, consistency, ConsistencyParams};
use crate::flow::FlowParams;
use crate::frame::{Plane, RgbImage};
use crate::interp::PairFlow;
use crate::progress::Progress;
use rayon::prelude::*;

/// Where one output frame of a spin lies among the shots: shot `a` unchanged when `t` is 0,
/// else the view a fraction `t` of the way from shot `a` to shot `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Between {
    pub a: usize,
    pub b: usize,
    pub t: f64,
}

/// One frame of the schedule: its angle (degrees from the first shot) and where it lies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpinAngle {
    pub angle: f64,
    pub at: Between,
}

/// How far the shots go round the product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Turn {
    /// A full turn: the shots are 360 / N degrees apart and the last leads back to the first.
    Full,
    /// An arc of this many degrees, from the first shot to the last.
    Arc(f64),
}

/// `frames` output angles over `shots` shots, evenly spaced. A full turn's frame k is at
/// 360 k / M degrees, so with M a multiple of N frame i M / N is shot i exactly and the
/// last frames lie between the last shot and the first; an arc's frames include both ends.
/// The fraction is computed in integers, so a frame that is a shot is exactly that shot.
pub fn schedule(shots: usize, frames: usize, turn: Turn) -> Result<Vec<SpinAngle>> {
    if shots < 2 {
        return Err(Error::usage(format!(
            "a spin needs at least 2 shots, got {shots}"
        )));
    }
    let min_frames = if turn == Turn::Full { 1 } else { 2 };
    if frames < min_frames {
        return Err(Error::usage(format!(
            "--frames {frames} is not usable: give at least {min_frames}"
        )));
    }
    Ok((0..frames)
        .map(|k| {
            // Position in shots = k * steps / (frames or frames - 1), as a fraction.
            let (num, den, span, wrap) = match turn {
                Turn::Full => (k * shots, frames, 360.0, true),
                Turn::Arc(deg) => (k * (shots - 1), frames - 1, deg, false),
            };
            let a = num / den;
            let rem = num % den;
            let t = rem as f64 / den as f64;
            let b = if wrap {
                (a + 1) % shots
            } else {
                (a + 1).min(shots - 1)
            };
            SpinAngle {
                angle: span * k as f64 / den as f64,
                at: Between { a, b, t },
            }
        })
        .collect())
}

/// Whether the last shot leads back to the first: the product's pixels (those unlike the
/// backdrop) match from the last shot to the first about as well as between the shots'
/// neighbours at either end (at least 0.6 times the weaker of the two). The backdrop is left
/// out because it matches whatever the angle: a studio shot is mostly backdrop. Measured on
/// copies at most 640 pixels wide, for speed.
///
/// A weak test where the product has little texture: on the turntable sample at 480x360 (24
/// shots, seeds 1, 2, 5) the first 15 shots' closing pair agreed at 0.15-0.17 against
/// neighbours' 0.35-0.65 (an arc, clearly), and the full turn's at 0.51-0.59 against
/// 0.45-0.65; at 320x240 a half turn's closing pair agreed at 0.34-0.45 against 0.38-0.62,
/// taken for a full turn. Give `--arc` when the shots do not go all the way round.
pub fn detect_full_turn(shots: &[RgbImage], params: &FlowParams) -> Result<bool> {
    let n = shots.len();
    if n < 3 {
        return Ok(false);
    }
    let bg = backdrop_colour(shots);
    let small: Vec<RgbImage> = [0, 1, n - 2, n - 1]
        .iter()
        .map(|&i| downscale(&shots[i], 640))
        .collect();
    let first = product_agreement(&small[0], &small[1], bg, params)?;
    let last = product_agreement(&small[2], &small[3], bg, params)?;
    let closing = product_agreement(&small[3], &small[0], bg, params)?;
    Ok(closing >= 0.6 * first.min(last))
}

/// The share of `a`'s product pixels (unlike the backdrop `bg`) whose match in `b` passes
/// the forward-backward check and has their colour (within 24, summed over the channels):
/// consistency alone is fooled by fine grain and repeated patterns, which two flows can agree
/// on however far apart the views; 1 when `a` shows no product.
fn product_agreement(a: &RgbImage, b: &RgbImage, bg: [u8; 3], params: &FlowParams) -> Result<f32> {
    let (mut product, mut agree) = (0usize, 0usize);
    product_matches(a, b, bg, params, |px, q| {
        product += 1;
        agree += usize::from(q.is_some_and(|q| distance(px, q) <= 24));
    })?;
    Ok(if product == 0 {
        1.0
    } else {
        agree as f32 / product as f32
    })
}

/// A pixel whose colour is further than this from the backdrop's (summed over the
/// channels) is the product's.
const PRODUCT_DISTANCE: i32 = 40;

/// The colour difference of two pixels, summed over the channels.
fn distance(p: [u8; 3], q: [u8; 3]) -> i32 {
    (0..3).map(|c| (p[c] as i32 - q[c] as i32).abs()).sum()
}

/// Visits each product pixel of `a` (unlike the backdrop `bg`) with its match in `b`: the
/// pixel of `b` its forward flow leads to (nearest), or `None` where the match fails the
/// forward-backward check or leaves `b`.
pub(crate) fn product_matches(
    a: &RgbImage,
    b: &RgbImage,
    bg: [u8; 3],
    params: &FlowParams,
    mut visit: impl FnMut([u8; 3], Option<[u8; 3]>),
) -> Result<()> {
    let (fwd, bwd) = bidirectional(&Plane::luma(a), &Plane::luma(b), params)?;
    let check = consistency(&fwd, &bwd, ConsistencyParams::default())?;
    let (w, h) = (a.width as usize, a.height as usize);
    for (i, px) in a.data.chunks_exact(3).enumerate() {
        let px = [px[0], px[1], px[2]];
        if distance(px, bg) <= PRODUCT_DISTANCE {
            continue;
        }
        let (u, v) = fwd.at(i % w, i / w);
        let (x, y) = (((i % w) as f32 + u).round(), ((i / w) as f32 + v).round());
        let inside = x >= 0.0 && y >= 0.0 && x < w as f32 && y < h as f32;
        visit(
            px,
            (check.reliable[i] && inside).then(|| b.pixel(x as u32, y as u32)),
        );
    }
    Ok(())
}

/// A copy at most `max_width` wide (box filter), or a clone when already that small.
pub fn downscale(img: &RgbImage, max_width: u32) -> RgbImage {
    if img.width <= max_width {
        return img.clone();
    }
    let h = ((img.height as u64 * max_width as u64) / img.width as u64).max(1) as u32;
    resize(img, max_width, h)
}

/// `img` resized to `w` x `h` (Triangle filter when shrinking, as the image crate does).
pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if (img.width, img.height) == (w, h) {
        return img.clone();
    }
    RgbImage::from_image(image::imageops::resize(
        &img.to_image(),
        w,
        h,
        image::imageops::FilterType::Triangle,
    ))
}

/// The crop every frame of a spin shares: a window of the shots round the product, so that
/// the product stays put and keeps its size from frame to frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    pub x: i64,
    pub y: i64,
    pub width: u32,
    pub height: u32,
}

impl Framing {
    /// The shots' own framing: the whole image.
    pub fn whole(img: &RgbImage) -> Self {
        Framing {
            x: 0,
            y: 0,
            width: img.width,
            height: img.height,
        }
    }

    /// A window round the product in every shot, with `margin` (a fraction of the product's
    /// extent) on each side, at the `aspect` (width / height) asked for. The product is what
    /// differs from the backdrop, whose colour is the median of the shots' borders; the
    /// window is centred on the union of the product's extents over all shots, which for a
    /// turn is centred on the turning axis. Outside the image, the window is backdrop.
    pub fn around_product(shots: &[RgbImage], margin: f64, aspect: f64) -> Self {
        let (w, h) = (shots[0].width as i64, shots[0].height as i64);
        let bg = backdrop_colour(shots);
        let extents: Vec<_> = shots.par_iter().map(|s| product_extent(s, bg)).collect();
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0i64, 0i64);
        for (a, b, c, d) in extents.into_iter().flatten() {
            x0 = x0.min(a);
            y0 = y0.min(b);
            x1 = x1.max(c);
            y1 = y1.max(d);
        }
        if x1 <= x0 || y1 <= y0 {
            return Framing::whole(&shots[0]);
        }
        let (cx, cy) = ((x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0);
        let mut fw = (x1 - x0) as f64 * (1.0 + 2.0 * margin);
        let mut fh = (y1 - y0) as f64 * (1.0 + 2.0 * margin);
        if fw / fh < aspect {
            fw = fh * aspect;
        } else {
            fh = fw / aspect;
        }
        let (fw, fh) = (fw.round().max(2.0) as u32, fh.round().max(2.0) as u32);
        Framing {
            x: (cx - fw as f64 / 2.0).round() as i64,
            y: (cy - fh as f64 / 2.0).round() as i64,
            width: fw,
            height: fh,
        }
    }

    /// The window of `img`, backdrop colour `fill` where it leaves the image.
    pub fn apply(&self, img: &RgbImage, fill: [u8; 3]) -> RgbImage {
        if *self == Framing::whole(img) {
            return img.clone();
        }
        let mut out = RgbImage::new(self.width, self.height);
        for y in 0..self.height {
            let sy = y as i64 + self.y;
            for x in 0..self.width {
                let sx = x as i64 + self.x;
                let p = if sx >= 0 && sy >= 0 && sx < img.width as i64 && sy < img.height as i64 {
                    img.pixel(sx as u32, sy as u32)
                } else {
                    fill
                };
                out.put(x, y, p);
            }
        }
        out
    }
}

/// The backdrop's colour: the per-channel median of every shot's border pixels.
pub fn backdrop_colour(shots: &[RgbImage]) -> [u8; 3] {
    let mut ch: [Vec<u8>; 3] = Default::default();
    for s in shots {
        let (w, h) = (s.width, s.height);
        let border = (0..w)
            .flat_map(|x| [(x, 0), (x, h - 1)])
            .chain((0..h).flat_map(|y| [(0, y), (w - 1, y)]));
        for (x, y) in border.step_by(3) {
            for (v, c) in ch.iter_mut().zip(s.pixel(x, y)) {
                v.push(c);
            }
        }
    }
    ch.map(|mut v| {
        v.sort_unstable();
        v[v.len() / 2]
    })
}

/// The product's extent in `img` (x0, y0, x1, y1, exclusive ends): the rows and columns
/// where at least 0.5% of the pixels differ from the backdrop `bg` by over 40 (summed over
/// the channels), so that specks and noise do not widen it.
fn product_extent(img: &RgbImage, bg: [u8; 3]) -> Option<(i64, i64, i64, i64)> {
    let (w, h) = (img.width as usize, img.height as usize);
    let mut cols = vec![0u32; w];
    let mut rows = vec![0u32; h];
    for (y, row) in rows.iter_mut().enumerate() {
        for (x, col) in cols.iter_mut().enumerate() {
            if distance(img.pixel(x as u32, y as u32), bg) > PRODUCT_DISTANCE {
                *col += 1;
                *row += 1;
            }
        }
    }
    let span = |v: &[u32], n: usize| {
        let min = (n as f64 * 0.005).ceil().max(1.0) as u32;
        let first = v.iter().position(|&c| c >= min)?;
        let last = v.iter().rposition(|&c| c >= min)?;
        Some((first as i64, last as i64 + 1))
    };
    let (x0, x1) = span(&cols, h)?;
    let (y0, y1) = span(&rows, w)?;
    Some((x0, y0, x1, y1))
}

/// The spin's frames in order: each a shot unchanged or synthesized between two, per the
/// schedule. Each pair's flow is computed once for all the frames between its shots.
pub fn synthesize(
    shots: &[RgbImage],
    angles: &[SpinAngle],
    params: &FlowParams,
    progress: &dyn Progress,
) -> Result<Vec<RgbImage>> {
    let mut frames: Vec<Option<RgbImage>> = vec![None; angles.len()];
    let synthesized = angles.iter().filter(|a| a.at.t > 0.0).count();
    progress.begin("synthesizing views", synthesized as u64);
    let mut k = 0;
    while k < angles.len() {
        let at = angles[k].at;
        if at.t == 0.0 {
            frames[k] = Some(shots[at.a].clone());
            k += 1;
            continue;
        }
        // Every later frame between the same two shots shares this pair's flow.
        let pair = PairFlow::compute(&shots[at.a], &shots[at.b], params)?;
        while k < angles.len()
            && angles[k].at.t > 0.0
            && (angles[k].at.a, angles[k].at.b) == (at.a, at.b)
        {
            frames[k] = Some(pair.synthesize(angles[k].at.t as f32));
            progress.advance(1);
            k += 1;
        }
    }
    progress.end();
    Ok(frames
        .into_iter()
        .map(|f| f.expect("every frame is made"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_turn_keeps_every_shot_at_multiples_and_wraps() {
        let s = schedule(4, 8, Turn::Full).unwrap();
        let got: Vec<(f64, usize, usize, f64)> = s
            .iter()
            .map(|a| (a.angle, a.at.a, a.at.b, a.at.t))
            .collect();
        assert_eq!(
            got,
            [
                (0.0, 0, 1, 0.0),
                (45.0, 0, 1, 0.5),
                (90.0, 1, 2, 0.0),
                (135.0, 1, 2, 0.5),
                (180.0, 2, 3, 0.0),
                (225.0, 2, 3, 0.5),
                (270.0, 3, 0, 0.0),
                (315.0, 3, 0, 0.5),
            ]
        );
        // 34 shots, 102 frames: frame 3i is shot i, the others thirds of the way.
        let s = schedule(34, 102, Turn::Full).unwrap();
        for (k, a) in s.iter().enumerate() {
            assert_eq!(a.at.a, k / 3);
            assert_eq!(a.at.t, (k % 3) as f64 / 3.0);
        }
        assert_eq!(s[101].at.b, 0);
        // Fewer frames than shots: every other shot.
        let s = schedule(8, 4, Turn::Full).unwrap();
        assert!(s.iter().all(|a| a.at.t == 0.0));
        assert_eq!(s.iter().map(|a| a.at.a).collect::<Vec<_>>(), [0, 2, 4, 6]);
    }

    #[test]
    fn an_arc_includes_both_ends() {
        let s = schedule(3, 5, Turn::Arc(90.0)).unwrap();
        let got: Vec<(f64, usize, usize, f64)> = s
            .iter()
            .map(|a| (a.angle, a.at.a, a.at.b, a.at.t))
            .collect();
        assert_eq!(
            got,
            [
                (0.0, 0, 1, 0.0),
                (22.5, 0, 1, 0.5),
                (45.0, 1, 2, 0.0),
                (67.5, 1, 2, 0.5),
                (90.0, 2, 2, 0.0),
            ]
        );
        assert!(schedule(1, 5, Turn::Full).unwrap_err().is_usage());
        assert!(schedule(3, 1, Turn::Arc(90.0)).unwrap_err().is_usage());
    }

    fn studio(w: u32, h: u32, product: (u32, u32, u32, u32)) -> RgbImage {
        let mut img = RgbImage::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let inside = x >= product.0 && x < product.2 && y >= product.1 && y < product.3;
                img.put(
                    x,
                    y,
                    if inside {
                        [40, 90, 160]
                    } else {
                        [240, 240, 236]
                    },
                );
            }
        }
        img
    }

    #[test]
    fn the_framing_centres_the_union_of_the_product_with_a_margin() {
        // The product swings from x 40-80 to x 60-120 over two shots: the union is 40-120,
        // y 30-70, centred at (80, 50).
        let shots = [
            studio(200, 100, (40, 30, 80, 70)),
            studio(200, 100, (60, 30, 120, 70)),
        ];
        assert_eq!(backdrop_colour(&shots), [240, 240, 236]);
        let f = Framing::around_product(&shots, 0.25, 1.0);
        // 80 x 40 plus a quarter each side is 120 x 60; square: 120 x 120.
        assert_eq!(
            f,
            Framing {
                x: 20,
                y: -10,
                width: 120,
                height: 120
            }
        );
        let out = f.apply(&shots[0], [240, 240, 236]);
        assert_eq!((out.width, out.height), (120, 120));
        // Above the image: backdrop; the product's corner lands where it should.
        assert_eq!(out.pixel(60, 0), [240, 240, 236]);
        assert_eq!(out.pixel(20, 40), [40, 90, 160]);
        assert_eq!(out.pixel(19, 40), [240, 240, 236]);
        // A blank studio keeps the whole frame.
        let blank = [studio(50, 40, (0, 0, 0, 0))];
        assert_eq!(
            Framing::around_product(&blank, 0.1, 1.0),
            Framing::whole(&blank[0])
        );
    }
}
