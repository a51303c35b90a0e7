//! The focal length of a closed ring from its loop closure: going once round the ring, the
//! rotations between neighbouring cameras add up to one full turn.
//!
//! A two-view fit at a focal length `f` measures a rotation angle that grows with `f` (the
//! same image motion is a larger turn through a narrower lens), so the sum of the neighbours'
//! angles is an increasing function of `f`, and the focal length is where it crosses 360
//! degrees. On a ring of 12 cameras 30 degrees apart (1280x720, 40-degree lens) the sum goes
//! from 349.4 degrees at 1700 px through 360.4 at the true 1758 px to 372.1 at 1820 px.
//!
//! This is the estimate for sparse rings: with cameras 30 degrees apart almost no point is seen
//! by three cameras, the reprojection error of a reconstruction does not depend on the focal
//! length (every pair fits its own points at any focal length), and the sweep over focal
//! lengths has nothing to go on. Closure is the constraint the ring adds; Sturm's "critical
//! motion sequences" (CVPR 1997) explain why a single turn about one axis leaves the focal
//! length otherwise unobservable from two-view geometry.

/// The focal length at which `turn(f)` (the sum of the neighbours' rotation angles, radians;
/// `None` where a pair does not fit) crosses one full turn. `candidates` are tried in
/// increasing order to bracket the crossing, which is then found by the Illinois variant of
/// regula falsi on log f (Dowell and Jarratt, BIT 1971) to a relative precision of 1e-5.
/// `None` without a bracket.
pub fn focal_from_closure(candidates: &[f64], turn: impl Fn(f64) -> Option<f64>) -> Option<f64> {
    let full = std::f64::consts::TAU;
    let g = |f: f64| turn(f).map(|t| t - full);
    let mut sorted: Vec<f64> = candidates.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut below: Option<(f64, f64)> = None;
    let mut bracket = None;
    for &f in &sorted {
        let Some(v) = g(f) else { continue };
        if v < 0.0 {
            below = Some((f.ln(), v));
        } else if let Some(b) = below {
            bracket = Some((b, (f.ln(), v)));
            break;
        }
    }
    let ((mut a, mut ga), (mut b, mut gb)) = bracket?;
    // Which end was kept last time (Illinois: halve its value when kept twice).
    let mut side = 0i32;
    for _ in 0..60 {
        let x = (a * gb - b * ga) / (gb - ga);
        // A pair that does not fit inside the bracket: fall back to bisection there.
        let (x, gx) = match g(x.exp()) {
            Some(v) => (x, v),
            None => {
                let m = 0.5 * (a + b);
                (m, g(m.exp())?)
            }
        };
        if gx < 0.0 {
            (a, ga) = (x, gx);
            if side == -1 {
                gb *= 0.5;
            }
            side = -1;
        } else {
            (b, gb) = (x, gx);
            if side == 1 {
                ga *= 0.5;
            }
            side = 1;
        }
        if (b - a).abs() < 1e-5 || gx.abs() < 1e-9 {
            break;
        }
    }
    Some(if ga.abs() < gb.abs() { a } else { b }.exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring of 12 cameras 30 degrees apart, focal 1758.4 px: a model of each pair's angle
    /// as read at focal f, growing with f and right (30 degrees) at the true focal.
    #[test]
    fn the_turn_finds_the_focal_length() {
        let truth = 1758.4;
        let half = 15f64.to_radians();
        let grow = |f: f64| Some(12.0 * 2.0 * (f * half.tan() / truth).atan());
        let cands: Vec<f64> = (0..14).map(|k| 450.0 * 1.2f64.powi(k)).collect();
        let f = focal_from_closure(&cands, grow).expect("bracketed");
        assert!((f / truth - 1.0).abs() < 1e-4, "{f}");
        // Unfitted candidates are skipped; no crossing gives None.
        let gaps = |f: f64| if f < 1500.0 { None } else { grow(f) };
        let f = focal_from_closure(&cands, gaps).expect("bracketed");
        assert!((f / truth - 1.0).abs() < 1e-4, "{f}");
        assert_eq!(focal_from_closure(&cands[..3], grow), None);
    }
}
