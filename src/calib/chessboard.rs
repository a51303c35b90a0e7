//! Chessboard corner detection with sub-pixel refinement.
//!
//! We write this ourselves because no Rust crate detects chessboards robustly (blur, uneven
//! light, strong barrel distortion) and calibrates from them; binding OpenCV would drag a C++
//! toolchain into every build.
//!
//! The passes, per scale (Gaussian sigma 1, 2, 4 px, first success wins):
//! 1. Saddle response: `sqrt(max(0, -det H))` of the smoothed luma. An X-junction of a
//!    chessboard is a saddle of the intensity surface (one positive and one negative principal
//!    curvature), while edges (`det H ~ 0`) and blobs (`det H > 0`) are not; the square root
//!    makes the response linear in contrast, so corners in dim light survive one threshold.
//!    This is the Hessian form of the symmetric corner filters of Geiger et al., "Automatic
//!    camera and range sensor calibration using a single shot", ICRA 2012, and of ChESS
//!    (Bennett and Lasenby, "ChESS - Quick and robust detection of chess-board features", 2014).
//! 2. Candidates: local maxima above a fraction of the strongest response that pass a ChESS-
//!    style ring test (the intensity on a circle around the point crosses its mean four times:
//!    bright, dark, bright, dark), which removes the weak maxima that noise and JPEG blocks
//!    leave along straight edges.
//! 3. Grid growing: a seed candidate whose four nearest linked candidates form a cross, then
//!    growth one cell at a time by local extrapolation from already placed neighbours (never a
//!    global homography, so strong distortion is fine), cells with two placed neighbours
//!    first so the grid fills the board before it extrapolates past its edge. A link between
//!    two corners is accepted only if it runs along a black/white edge: the two sides of the
//!    segment differ, with a contrast comparable to the neighbour's (light may vary over the
//!    board), and with the dark side on the hand the chessboard's parity demands (it flips at
//!    every step along a row or column), which rejects links to clutter.
//! 4. The grown grid must contain exactly one fully filled `cols x rows` window. Holes in a
//!    nearly full window (a corner next to a finger, a tear from a rolling shutter) are filled
//!    by a sub-pixel search from the neighbours' prediction, kept only if it passes the ring and
//!    link tests. The window is ordered by a fixed rule (below) so corner numbering is
//!    consistent between images.
//! 5. Sub-pixel refinement on the unsmoothed luma with the gradient-orthogonality method of
//!    OpenCV's `cornerSubPix` (Foerstner and Guelch, "A fast operator for detection and precise
//!    location of distinct points, corners and centres of circular features", 1987): every
//!    gradient near a corner is orthogonal to the vector from the corner to where it is
//!    measured.
//!
//! Boards whose far squares are under about 8 px across (steep tilt at low resolution) are not
//! found: their corners fail the ring test at the finest scale.
//!
//! Ordering rule: corners are returned row by row, `cols` per row. The grid is right-handed in
//! the image (the first row's direction turned by +90 degrees in image coordinates, y down,
//! points along the columns), so the board is always seen from its front (z into the board);
//! of the remaining orientations (two for a non-square pattern, four for a square one) we take
//! the one whose first row points most nearly along +x in the image.

use crate::error::{Error, Result};
use crate::frame::Plane;
use nalgebra::Point2;
use rayon::prelude::*;
use std::collections::HashMap;
use std::str::FromStr;

/// A chessboard pattern, counted in INNER corners (a board of 10 x 7 squares is 9 x 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub cols: usize,
    pub rows: usize,
}

impl Pattern {
    pub fn new(cols: usize, rows: usize) -> Result<Self> {
        if cols < 3 || rows < 3 {
            return Err(Error::usage(format!(
                "pattern {cols}x{rows}: need at least 3x3 inner corners (a 9x6 pattern is a board of 10x7 squares)"
            )));
        }
        Ok(Pattern { cols, rows })
    }

    pub fn count(&self) -> usize {
        self.cols * self.rows
    }

    /// Board coordinates of the corners, row by row, in units of `square`: corner (c, r) is
    /// at (c * square, r * square, 0).
    pub fn object_points(&self, square: f64) -> Vec<[f64; 2]> {
        (0..self.rows)
            .flat_map(|r| (0..self.cols).map(move |c| [c as f64 * square, r as f64 * square]))
            .collect()
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.cols, self.rows)
    }
}

impl FromStr for Pattern {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::usage(format!(
                "bad pattern '{s}': give the INNER corners as COLSxROWS, e.g. 9x6 for a board of 10x7 squares"
            ))
        };
        let (c, r) = s.split_once(['x', 'X']).ok_or_else(bad)?;
        let cols: usize = c.trim().parse().map_err(|_| bad())?;
        let rows: usize = r.trim().parse().map_err(|_| bad())?;
        Pattern::new(cols, rows)
    }
}

/// Gaussian sigmas (pixels) of the detection scales, tried in order.
const SCALES: [f32; 3] = [1.0, 2.0, 4.0];
/// Candidates are local maxima above this fraction of the strongest saddle response.
const CANDIDATE_FRACTION: f32 = 0.01;
/// Smallest edge contrast (luma 0..1) a seed's links must have.
const MIN_CONTRAST: f32 = 0.04;
/// A new link's contrast must be at least this fraction of its neighbour's.
const CONTRAST_RATIO: f32 = 0.35;

/// Finds the chessboard's inner corners, row by row (see the module docs for the order), with
/// sub-pixel accuracy; `None` if the whole pattern is not visible.
pub fn detect(img: &Plane, pattern: Pattern) -> Option<Vec<Point2<f64>>> {
    for sigma in SCALES {
        let smooth = gaussian_blur(img, sigma);
        let cands = candidates(&smooth, sigma);
        let ring = ring_radius(sigma);
        if let Some((grid, spacing)) = find_grid(&smooth, &cands, pattern, ring) {
            return Some(refine(img, &grid, &spacing));
        }
    }
    None
}

/// Radius of the X-junction test at a detection scale.
fn ring_radius(sigma: f32) -> f64 {
    (2.5 * sigma as f64).max(4.0)
}

/// Separable Gaussian blur, clamped at the borders; rows in parallel.
pub fn gaussian_blur(img: &Plane, sigma: f32) -> Plane {
    if sigma <= 0.0 {
        return img.clone();
    }
    let r = (3.0 * sigma).ceil() as usize;
    let mut k: Vec<f32> = (0..=2 * r)
        .map(|i| {
            let x = i as f32 - r as f32;
            (-x * x / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    let (w, h) = (img.width, img.height);
    let mut tmp = Plane::new(w, h);
    tmp.data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let src = img.row(y);
        for (x, out) in row.iter_mut().enumerate() {
            let mut acc = 0.0;
            for (i, kv) in k.iter().enumerate() {
                let xx = (x + i).saturating_sub(r).min(w - 1);
                acc += kv * src[xx];
            }
            *out = acc;
        }
    });
    let mut out = Plane::new(w, h);
    out.data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (i, kv) in k.iter().enumerate() {
            let yy = (y + i).saturating_sub(r).min(h - 1);
            for (o, s) in row.iter_mut().zip(tmp.row(yy)) {
                *o += kv * s;
            }
        }
    });
    out
}

/// Bilinear sample; `None` outside the image.
#[inline]
fn sample(img: &Plane, x: f64, y: f64) -> Option<f32> {
    if !(x >= 0.0 && y >= 0.0 && x <= (img.width - 1) as f64 && y <= (img.height - 1) as f64) {
        return None;
    }
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(img.width - 1), (y0 + 1).min(img.height - 1));
    let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    let top = img.at(x0, y0) * (1.0 - fx) + img.at(x1, y0) * fx;
    let bot = img.at(x0, y1) * (1.0 - fx) + img.at(x1, y1) * fx;
    Some(top * (1.0 - fy) + bot * fy)
}

#[derive(Clone, Copy, Debug)]
struct Candidate {
    p: Point2<f64>,
    response: f32,
}

/// Saddle response and its local maxima.
fn candidates(smooth: &Plane, sigma: f32) -> Vec<Candidate> {
    let (w, h) = (smooth.width, smooth.height);
    let mut resp = Plane::new(w, h);
    // Central differences of the smoothed image; the one-pixel border stays zero.
    resp.data
        .par_chunks_mut(w)
        .enumerate()
        .for_each(|(y, row)| {
            if y == 0 || y + 1 >= h {
                return;
            }
            let (up, mid, down) = (smooth.row(y - 1), smooth.row(y), smooth.row(y + 1));
            for x in 1..w - 1 {
                let ixx = mid[x + 1] - 2.0 * mid[x] + mid[x - 1];
                let iyy = down[x] - 2.0 * mid[x] + up[x];
                let ixy = 0.25 * (down[x + 1] - down[x - 1] - up[x + 1] + up[x - 1]);
                let det = ixx * iyy - ixy * ixy;
                row[x] = if det < 0.0 { (-det).sqrt() } else { 0.0 };
            }
        });
    let max = resp.data.iter().fold(0f32, |a, &b| a.max(b));
    if max <= 0.0 {
        return Vec::new();
    }
    let thr = max * CANDIDATE_FRACTION;
    let nms = (sigma.round() as usize).max(2);
    let ring = ring_radius(sigma);
    let mut out: Vec<Candidate> = (nms..h.saturating_sub(nms))
        .into_par_iter()
        .flat_map_iter(|y| {
            let resp = &resp;
            (nms..w - nms).filter_map(move |x| {
                let v = resp.at(x, y);
                if v < thr {
                    return None;
                }
                // Strict maximum over the window (ties broken towards the first pixel).
                for yy in y - nms..=y + nms {
                    for xx in x - nms..=x + nms {
                        let o = resp.at(xx, yy);
                        if o > v || (o == v && (yy, xx) < (y, x)) {
                            return None;
                        }
                    }
                }
                if !ring_is_x_junction(smooth, x as f64, y as f64, ring) {
                    return None;
                }
                // Quadratic peak interpolation gives a better start for the grid growing.
                let (l, r) = (resp.at(x - 1, y), resp.at(x + 1, y));
                let (u, d) = (resp.at(x, y - 1), resp.at(x, y + 1));
                let dx = peak_offset(l, v, r);
                let dy = peak_offset(u, v, d);
                Some(Candidate {
                    p: Point2::new(x as f64 + dx, y as f64 + dy),
                    response: v,
                })
            })
        })
        .collect();
    // Strongest first; position breaks ties so the order never depends on threads.
    out.sort_by(|a, b| {
        b.response
            .total_cmp(&a.response)
            .then(a.p.y.total_cmp(&b.p.y))
            .then(a.p.x.total_cmp(&b.p.x))
    });
    out
}

/// The ChESS idea as a yes/no test: on a circle around an X-junction the intensity crosses its
/// mean four times (bright, dark, bright, dark arcs), on an edge only twice. Removes the weak
/// saddle maxima that JPEG blocks and noise leave along edges.
fn ring_is_x_junction(img: &Plane, x: f64, y: f64, r: f64) -> bool {
    const N: usize = 16;
    let mut v = [0f32; N];
    for (k, s) in v.iter_mut().enumerate() {
        let a = k as f64 * std::f64::consts::TAU / N as f64;
        match sample(img, x + r * a.cos(), y + r * a.sin()) {
            Some(val) => *s = val,
            None => return false,
        }
    }
    let mean = v.iter().sum::<f32>() / N as f32;
    let (mut hi, mut nhi, mut lo, mut nlo) = (0.0, 0, 0.0, 0);
    for &s in &v {
        if s > mean {
            hi += s;
            nhi += 1;
        } else {
            lo += s;
            nlo += 1;
        }
    }
    if nhi < 4 || nlo < 4 || hi / (nhi as f32) - lo / (nlo as f32) < MIN_CONTRAST {
        return false;
    }
    // Runs of samples on one side of the mean, around the circle; each at least 2 long.
    let above = |k: usize| v[k % N] > mean;
    let Some(start) = (0..N).find(|&k| above(k) != above(k + N - 1)) else {
        return false;
    };
    let (mut runs, mut len) = (0, 0);
    for k in start..start + N {
        len += 1;
        if above(k) != above(k + 1) {
            if len < 2 {
                return false;
            }
            runs += 1;
            len = 0;
        }
    }
    runs == 4
}

fn peak_offset(a: f32, b: f32, c: f32) -> f64 {
    let den = a - 2.0 * b + c;
    if den < 0.0 {
        ((0.5 * (a - c) / den) as f64).clamp(-0.5, 0.5)
    } else {
        0.0
    }
}

/// Buckets of candidate indices for radius queries.
struct Index {
    cell: f64,
    cols: usize,
    rows: usize,
    buckets: Vec<Vec<usize>>,
}

impl Index {
    fn new(cands: &[Candidate], w: usize, h: usize) -> Self {
        let cell = 16.0;
        let cols = (w as f64 / cell).ceil() as usize + 1;
        let rows = (h as f64 / cell).ceil() as usize + 1;
        let mut buckets = vec![Vec::new(); cols * rows];
        for (i, c) in cands.iter().enumerate() {
            let (bx, by) = ((c.p.x / cell) as usize, (c.p.y / cell) as usize);
            buckets[by.min(rows - 1) * cols + bx.min(cols - 1)].push(i);
        }
        Index {
            cell,
            cols,
            rows,
            buckets,
        }
    }

    /// Calls `f` with every candidate index in the square around `p` of half-size `r`.
    fn around(&self, p: Point2<f64>, r: f64, mut f: impl FnMut(usize)) {
        let lo = |v: f64| ((v - r) / self.cell).floor().max(0.0) as usize;
        let hi = |v: f64, n: usize| (((v + r) / self.cell).floor().max(0.0) as usize).min(n - 1);
        for by in lo(p.y)..=hi(p.y, self.rows) {
            for bx in lo(p.x)..=hi(p.x, self.cols) {
                for &i in &self.buckets[by * self.cols + bx] {
                    f(i);
                }
            }
        }
    }
}

/// The signed contrast across the segment a-b if it runs along a black/white edge: samples on
/// both sides (left minus right, looking from a to b) at three points along it must differ
/// with the same sign; returns the difference of smallest magnitude.
fn link_contrast(img: &Plane, a: Point2<f64>, b: Point2<f64>) -> Option<f32> {
    let d = b - a;
    let len = d.norm();
    if len < 3.0 {
        return None;
    }
    let n = nalgebra::Vector2::new(-d.y, d.x) / len * (0.25 * len).max(1.5);
    let mut best = 0f32;
    for t in [0.3, 0.5, 0.7] {
        let m = a + d * t;
        let s1 = sample(img, m.x + n.x, m.y + n.y)?;
        let s2 = sample(img, m.x - n.x, m.y - n.y)?;
        let diff = s1 - s2;
        if best == 0.0 || diff.abs() < best.abs() {
            if best != 0.0 && diff.signum() != best.signum() {
                return None;
            }
            best = diff;
        } else if diff.signum() != best.signum() {
            return None;
        }
    }
    (best != 0.0).then_some(best)
}

type Cell = (i32, i32);

const STEPS: [Cell; 4] = [(1, 0), (-1, 0), (0, 1), (0, -1)];

struct Grower<'a> {
    img: &'a Plane,
    cands: &'a [Candidate],
    index: &'a Index,
    used: Vec<bool>,
    cells: HashMap<Cell, Point2<f64>>,
    /// Contrast magnitude of the links that placed each cell.
    contrast: HashMap<Cell, f32>,
    /// Sign of the contrast of the links (0,0)->(1,0) and (0,0)->(0,1); on a chessboard the
    /// sign flips with every step along either axis.
    parity: [f32; 2],
}

impl Grower<'_> {
    fn pos(&self, c: Cell) -> Option<Point2<f64>> {
        self.cells.get(&c).copied()
    }

    fn place(&mut self, c: Cell, p: Point2<f64>, cand: Option<usize>, contrast: f32) {
        self.cells.insert(c, p);
        self.contrast.insert(c, contrast);
        if let Some(i) = cand {
            self.used[i] = true;
        }
    }

    /// Signed contrast of the link between neighbouring cells `a` and `b` at positions `pa`,
    /// `pb`, if its sign is the one the chessboard's parity demands.
    fn link(&self, a: Cell, pa: Point2<f64>, b: Cell, pb: Point2<f64>) -> Option<f32> {
        // Orient from the lower cell to the higher one.
        let (lo, plo, phi) = if (a.0 + a.1) < (b.0 + b.1) {
            (a, pa, pb)
        } else {
            (b, pb, pa)
        };
        let axis = usize::from(a.0 == b.0);
        let want = self.parity[axis]
            * if (lo.0 + lo.1).rem_euclid(2) == 0 {
                1.0
            } else {
                -1.0
            };
        let c = link_contrast(self.img, plo, phi)?;
        (c.signum() == want).then_some(c.abs())
    }

    fn support(&self, (i, j): Cell) -> usize {
        STEPS
            .iter()
            .filter(|(di, dj)| self.cells.contains_key(&(i + di, j + dj)))
            .count()
    }

    /// Where an empty cell should be, from its placed neighbours, and the local spacing along
    /// grid i and grid j (perspective makes them differ a lot).
    fn predict(&self, (i, j): Cell) -> Option<(Point2<f64>, [f64; 2])> {
        let mut sum = nalgebra::Vector2::zeros();
        let mut n = 0.0;
        let mut spacing = [f64::MAX; 2];
        // Straight extrapolation along rows and columns.
        for (di, dj) in STEPS {
            if let (Some(p1), Some(p2)) = (
                self.pos((i - di, j - dj)),
                self.pos((i - 2 * di, j - 2 * dj)),
            ) {
                sum += (p1 + (p1 - p2)).coords;
                n += 1.0;
                let axis = usize::from(di == 0);
                spacing[axis] = spacing[axis].min((p1 - p2).norm());
            }
        }
        // Parallelograms with diagonal neighbours.
        for (di, dj) in [(1, 1), (1, -1), (-1, 1), (-1, -1)] {
            if let (Some(a), Some(b), Some(c)) = (
                self.pos((i - di, j)),
                self.pos((i, j - dj)),
                self.pos((i - di, j - dj)),
            ) {
                sum += (a + (b - c)).coords;
                n += 1.0;
                spacing[1] = spacing[1].min((a - c).norm());
                spacing[0] = spacing[0].min((b - c).norm());
            }
        }
        if n == 0.0 {
            return None;
        }
        // One axis unknown (a lone extrapolation): assume it is like the other.
        for a in 0..2 {
            if spacing[a] == f64::MAX {
                spacing[a] = spacing[1 - a];
            }
        }
        Some((Point2::from(sum / n), spacing))
    }

    /// The smallest link contrast if `p` links correctly to every placed neighbour of `cell`.
    fn accept(&self, (i, j): Cell, p: Point2<f64>, spacing: [f64; 2]) -> Option<f32> {
        let mut min_contrast = f32::MAX;
        for (di, dj) in STEPS {
            let nb = (i + di, j + dj);
            if let Some(q) = self.pos(nb) {
                let len = (q - p).norm();
                let want = spacing[usize::from(di == 0)];
                if len < 0.6 * want || len > 1.6 * want {
                    return None;
                }
                match self.link(nb, q, (i, j), p) {
                    Some(c) if c >= CONTRAST_RATIO * self.contrast[&nb] => {
                        min_contrast = min_contrast.min(c)
                    }
                    _ => return None,
                }
            }
        }
        Some(min_contrast)
    }

    /// Tries to fill an empty cell with the strongest unused candidate near its prediction.
    fn fill(&mut self, cell: Cell) -> bool {
        let Some((pred, spacing)) = self.predict(cell) else {
            return false;
        };
        let radius = (0.3 * spacing[0].min(spacing[1])).max(2.0);
        let mut best: Option<usize> = None;
        self.index.around(pred, radius, |k| {
            if self.used[k] || (self.cands[k].p - pred).norm() > radius {
                return;
            }
            if best.is_none_or(|b| self.cands[k].response > self.cands[b].response) {
                best = Some(k);
            }
        });
        let Some(k) = best else { return false };
        let p = self.cands[k].p;
        match self.accept(cell, p, spacing) {
            Some(c) => {
                self.place(cell, p, Some(k), c);
                true
            }
            None => false,
        }
    }

    /// Fills a hole no candidate filled (a corner under a shadow edge or next to clutter):
    /// sub-pixel search from the prediction, then the X-junction and link tests.
    fn fill_hole(&mut self, cell: Cell, ring: f64) -> bool {
        let Some((pred, spacing)) = self.predict(cell) else {
            return false;
        };
        let near = spacing[0].min(spacing[1]);
        let half = ((near / 4.0) as usize).clamp(2, 8);
        let p = corner_subpix(self.img, pred, half);
        if (p - pred).norm() > 0.3 * near || !ring_is_x_junction(self.img, p.x, p.y, ring) {
            return false;
        }
        match self.accept(cell, p, spacing) {
            Some(c) => {
                self.place(cell, p, None, c);
                true
            }
            None => false,
        }
    }

    /// Grows the grid, always filling the best supported cells first: cells with two or more
    /// placed neighbours (inside the board's outline) before extrapolating outwards, one cell
    /// at a time, so a spurious candidate beyond the board edge is reached last, if ever.
    fn grow(&mut self, limit: usize) {
        loop {
            let mut frontier: Vec<Cell> = self
                .cells
                .keys()
                .flat_map(|&(i, j)| STEPS.map(|(di, dj)| (i + di, j + dj)))
                .filter(|c| !self.cells.contains_key(c))
                .collect();
            frontier.sort_unstable();
            frontier.dedup();
            let mut added = false;
            for &c in &frontier {
                if self.support(c) >= 2 {
                    added |= self.fill(c);
                }
            }
            if !added {
                for &c in &frontier {
                    if self.fill(c) {
                        added = true;
                        break;
                    }
                }
            }
            if !added || self.cells.len() > limit {
                return;
            }
        }
    }
}

impl Grower<'_> {
    /// Fills the holes of every nearly full (90 %) pattern-sized window of the grid.
    fn fill_holes(&mut self, pattern: Pattern, ring: f64) {
        let (pc, pr) = (pattern.cols as i32, pattern.rows as i32);
        let need = pattern.count() * 9 / 10;
        loop {
            let (imin, imax, jmin, jmax) = self.extent();
            let mut holes = Vec::new();
            for (w, h) in [(pc, pr), (pr, pc)] {
                for j0 in jmin..=jmax - h + 1 {
                    for i0 in imin..=imax - w + 1 {
                        let missing: Vec<Cell> = (j0..j0 + h)
                            .flat_map(|j| (i0..i0 + w).map(move |i| (i, j)))
                            .filter(|c| !self.cells.contains_key(c))
                            .collect();
                        if !missing.is_empty() && pattern.count() - missing.len() >= need {
                            holes.extend(missing);
                        }
                    }
                }
            }
            holes.sort_unstable();
            holes.dedup();
            let mut added = false;
            for c in holes {
                added |= self.fill_hole(c, ring);
            }
            if !added {
                return;
            }
        }
    }

    fn extent(&self) -> (i32, i32, i32, i32) {
        self.cells.keys().fold(
            (i32::MAX, i32::MIN, i32::MAX, i32::MIN),
            |(a, b, c, d), &(i, j)| (a.min(i), b.max(i), c.min(j), d.max(j)),
        )
    }
}

/// A seed: a candidate with four linked neighbours forming a cross, returned as the cells
/// (1,0), (-1,0), (0,1), (0,-1) with the parity signs of the two axes.
fn seed_cross(
    img: &Plane,
    cands: &[Candidate],
    index: &Index,
    s: usize,
) -> Option<([usize; 4], [f32; 2], f32)> {
    let c = cands[s].p;
    // Neighbours within a generous radius (a fifth of the image), nearest first.
    let reach = 0.2 * img.width.max(img.height) as f64;
    let mut near: Vec<(f64, usize)> = Vec::new();
    index.around(c, reach, |k| {
        let d = (cands[k].p - c).norm();
        if k != s && d > 4.0 && d <= reach {
            near.push((d, k));
        }
    });
    near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    near.truncate(12);
    let linked: Vec<(usize, f32)> = near
        .iter()
        .filter_map(|&(_, k)| {
            link_contrast(img, c, cands[k].p)
                .filter(|v| v.abs() >= MIN_CONTRAST)
                .map(|v| (k, v))
        })
        .collect();
    // Opposite pairs: a line through the seed. Looking from the seed, the two links of a line
    // see the dark side on opposite hands (the parity flips across the seed).
    let mut lines: Vec<(usize, usize, f64, f32)> = Vec::new();
    for (x, &(a, ca)) in linked.iter().enumerate() {
        for &(b, cb) in &linked[x + 1..] {
            let (u, v) = (cands[a].p - c, cands[b].p - c);
            let (lu, lv) = (u.norm(), v.norm());
            let ratio = lu / lv;
            if !(0.6..=1.0 / 0.6).contains(&ratio) || u.dot(&v) / (lu * lv) > -0.94 {
                continue;
            }
            // From b through c to a, the link b->c has the opposite sign of c->b.
            if ca.signum() != cb.signum() {
                continue;
            }
            let min = ca.abs().min(cb.abs());
            let max = ca.abs().max(cb.abs());
            if min >= 0.4 * max {
                lines.push((a, b, lu + lv, min));
            }
        }
    }
    lines.sort_by(|a, b| a.2.total_cmp(&b.2));
    for (x, &(a, b, _, ca)) in lines.iter().enumerate() {
        for &(e, f, _, ce) in &lines[x + 1..] {
            if [a, b].contains(&e) || [a, b].contains(&f) {
                continue;
            }
            let (u, v) = (cands[a].p - c, cands[e].p - c);
            let cos = (u.dot(&v) / (u.norm() * v.norm())).abs();
            if cos > 0.8 || ca.min(ce) < 0.4 * ca.max(ce) {
                continue;
            }
            let sign = |k: usize| linked.iter().find(|l| l.0 == k).unwrap().1.signum();
            return Some(([a, b, e, f], [sign(a), sign(e)], ca.min(ce)));
        }
    }
    None
}

/// Grows grids from seeds until one holds the pattern; returns its corners (row by row) and
/// each corner's distance to its nearest grid neighbour.
fn find_grid(
    img: &Plane,
    cands: &[Candidate],
    pattern: Pattern,
    ring: f64,
) -> Option<(Vec<Point2<f64>>, Vec<f64>)> {
    let index = Index::new(cands, img.width, img.height);
    let mut tried = vec![false; cands.len()];
    for s in 0..cands.len().min(400) {
        if tried[s] {
            continue;
        }
        tried[s] = true;
        let Some(([a, b, e, f], parity, c0)) = seed_cross(img, cands, &index, s) else {
            continue;
        };
        let mut g = Grower {
            img,
            cands,
            index: &index,
            used: vec![false; cands.len()],
            cells: HashMap::new(),
            contrast: HashMap::new(),
            parity,
        };
        for (cell, k) in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
            .into_iter()
            .zip([s, a, b, e, f])
        {
            g.place(cell, cands[k].p, Some(k), c0);
        }
        g.grow(4 * pattern.count() + 16);
        for (k, t) in tried.iter_mut().enumerate() {
            *t |= g.used[k];
        }
        if g.cells.len() * 10 >= pattern.count() * 8 {
            g.fill_holes(pattern, ring);
        }
        if g.cells.len() < pattern.count() {
            continue;
        }
        if let Some(found) = extract(&g, pattern) {
            return Some(found);
        }
    }
    None
}

/// Finds a fully filled pattern-sized window in the grown grid and orders it.
fn extract(g: &Grower, pattern: Pattern) -> Option<(Vec<Point2<f64>>, Vec<f64>)> {
    let (imin, imax, jmin, jmax) = g.extent();
    let full = |i0: i32, j0: i32, w: i32, h: i32| {
        (j0..j0 + h).all(|j| (i0..i0 + w).all(|i| g.cells.contains_key(&(i, j))))
    };
    let (pc, pr) = (pattern.cols as i32, pattern.rows as i32);
    // Windows with the pattern's columns along grid i, or along grid j.
    let mut windows = Vec::new();
    for (w, h, transposed) in [(pc, pr, false), (pr, pc, true)] {
        for j0 in jmin..=jmax - h + 1 {
            for i0 in imin..=imax - w + 1 {
                if full(i0, j0, w, h) {
                    windows.push((i0, j0, transposed));
                }
            }
        }
        if pc == pr {
            break;
        }
    }
    // Several windows: the grid ran past the board into clutter, or the pattern is smaller
    // than the board. Only an unambiguous window is accepted.
    if windows.len() != 1 {
        return None;
    }
    let (i0, j0, transposed) = windows[0];
    let at = |c: i32, r: i32| -> Point2<f64> {
        let cell = if transposed {
            (i0 + r, j0 + c)
        } else {
            (i0 + c, j0 + r)
        };
        g.pos(cell).unwrap()
    };
    let (cols, rows) = (pattern.cols, pattern.rows);
    let mut corners: Vec<Point2<f64>> = (0..pr)
        .flat_map(|r| (0..pc).map(move |c| (c, r)))
        .map(|(c, r)| at(c, r))
        .collect();
    // Right-handed in the image: the column direction is the row direction turned +90 deg.
    let row_dir = corners[1] - corners[0];
    let col_dir = corners[cols] - corners[0];
    if row_dir.x * col_dir.y - row_dir.y * col_dir.x < 0.0 {
        // Mirror: reverse every row.
        for r in 0..rows {
            corners[r * cols..(r + 1) * cols].reverse();
        }
    }
    // Rotations that keep the pattern's shape: 180 degrees always, 90 when square.
    let rot180 = |v: &[Point2<f64>]| v.iter().rev().copied().collect::<Vec<_>>();
    let rot90 = |v: &[Point2<f64>]| {
        // New (c, r) = old (r, n-1-c): turns the grid a quarter, keeping handedness.
        let n = cols;
        (0..n)
            .flat_map(|r| (0..n).map(move |c| (c, r)))
            .map(|(c, r)| v[(n - 1 - c) * n + r])
            .collect::<Vec<_>>()
    };
    let mut options = vec![corners.clone(), rot180(&corners)];
    if cols == rows {
        let q = rot90(&corners);
        options.push(rot180(&q));
        options.push(q);
    }
    let score = |v: &[Point2<f64>]| {
        let d = v[cols - 1] - v[0];
        d.x / d.norm()
    };
    let best = options
        .into_iter()
        .max_by(|a, b| score(a).total_cmp(&score(b)))
        .unwrap();
    let spacing = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (c, r)))
        .map(|(c, r)| {
            let p = best[r * cols + c];
            let mut m = f64::MAX;
            if c > 0 {
                m = m.min((best[r * cols + c - 1] - p).norm());
            }
            if c + 1 < cols {
                m = m.min((best[r * cols + c + 1] - p).norm());
            }
            if r > 0 {
                m = m.min((best[(r - 1) * cols + c] - p).norm());
            }
            if r + 1 < rows {
                m = m.min((best[(r + 1) * cols + c] - p).norm());
            }
            m
        })
        .collect();
    Some((best, spacing))
}

/// Sub-pixel refinement of every corner (see [`corner_subpix`]). The window half-size is
/// 0.4 times the distance to the nearest neighbouring corner (2 to 12 px): as large as
/// possible without reaching the next corner's edges, since more edge pixels average out
/// noise, blur and JPEG artefacts (0.4 beat 1/3 and 1/4 on the wide-angle set and on the
/// rendered boards).
fn refine(img: &Plane, corners: &[Point2<f64>], spacing: &[f64]) -> Vec<Point2<f64>> {
    corners
        .par_iter()
        .zip(spacing)
        .map(|(&p, &s)| {
            let half = ((s / 2.5).floor() as usize).clamp(2, 12);
            corner_subpix(img, p, half)
        })
        .collect()
}

/// OpenCV's `cornerSubPix`: minimises sum over the window of w_q (g_q . (q - p))^2, where g_q
/// is the image gradient at q and the weights are Gaussian. The window moves with the estimate
/// (bilinear samples at p + integer offsets), so it stays symmetric about p and a symmetric
/// corner is found without bias. Iterates until the move is below 0.001 px; a corner that
/// wanders more than half a window from its start is kept where it was.
pub fn corner_subpix(img: &Plane, start: Point2<f64>, half: usize) -> Point2<f64> {
    let hw = half as i64;
    let inv = 1.0 / (half as f64 * half as f64);
    let at = |x: f64, y: f64| sample(img, x, y).map(f64::from);
    let mut p = start;
    for _ in 0..40 {
        let (mut a11, mut a12, mut a22, mut b1, mut b2) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for dy in -hw..=hw {
            for dx in -hw..=hw {
                let (qx, qy) = (p.x + dx as f64, p.y + dy as f64);
                let (Some(l), Some(r), Some(u), Some(d)) = (
                    at(qx - 1.0, qy),
                    at(qx + 1.0, qy),
                    at(qx, qy - 1.0),
                    at(qx, qy + 1.0),
                ) else {
                    return start;
                };
                let (gx, gy) = (0.5 * (r - l), 0.5 * (d - u));
                let wq = (-((dx * dx + dy * dy) as f64) * inv).exp();
                let (gxx, gxy, gyy) = (wq * gx * gx, wq * gx * gy, wq * gy * gy);
                a11 += gxx;
                a12 += gxy;
                a22 += gyy;
                // Relative to p, for precision.
                b1 += gxx * dx as f64 + gxy * dy as f64;
                b2 += gxy * dx as f64 + gyy * dy as f64;
            }
        }
        let det = a11 * a22 - a12 * a12;
        if det.abs() < 1e-12 {
            return start;
        }
        let sx = (a22 * b1 - a12 * b2) / det;
        let sy = (a11 * b2 - a12 * b1) / det;
        p = Point2::new(p.x + sx, p.y + sy);
        if (p - start).norm() > 0.5 * half as f64 + 1.0 {
            return start;
        }
        if sx.hypot(sy) < 1e-3 {
            break;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_parses_and_rejects() {
        assert_eq!(
            "9x6".parse::<Pattern>().unwrap(),
            Pattern { cols: 9, rows: 6 }
        );
        assert_eq!("11X8".parse::<Pattern>().unwrap().count(), 88);
        for bad in ["9", "9x", "x6", "2x6", "9x2", "-1x5", "nine by six"] {
            let e = bad.parse::<Pattern>().unwrap_err();
            assert!(e.is_usage(), "{bad}: {e}");
        }
    }

    /// An ideal axis-aligned X-junction blurred a little: sub-pixel refinement lands on it.
    #[test]
    fn subpix_finds_a_blurred_x_junction() {
        let (x0, y0) = (20.37, 18.81);
        // Exact area coverage of each pixel (a supersampled image would quantise the edges).
        let img = Plane::from_fn(41, 41, |x, y| {
            let fx = (x as f64 + 0.5 - x0).clamp(0.0, 1.0);
            let fy = (y as f64 + 0.5 - y0).clamp(0.0, 1.0);
            (0.1 + 0.8 * (fx * fy + (1.0 - fx) * (1.0 - fy))) as f32
        });
        let img = gaussian_blur(&img, 1.5);
        let p = corner_subpix(&img, Point2::new(21.0, 18.0), 6);
        assert!((p.x - x0).abs() < 0.02 && (p.y - y0).abs() < 0.02, "{p}");
    }
}
