//! The depth order of a pair without a calibration, from its flows alone.
//!
//! Between two cameras, a point's motion along the epipolar direction is the motion of a
//! point at infinity (the rotation's) plus a parallax proportional to its inverse depth
//! (Hartley and Zisserman, section 9.2, "plane + parallax"). So along the flow's principal
//! direction `d`, nearness is `s * (flow . d)` up to a constant, for one sign `s`. Which sign
//! depends on the rig: cameras that slide sideways see near things move most, and the rule
//! "larger motion is nearer" holds; cameras on a ring turn towards the subject, the far
//! backdrop moves most and the subject hardly at all, and that rule puts the backdrop on top
//! of the subject. The flows alone cannot tell the two apart (a still subject before a
//! moving backdrop, or a still sky behind moving scenery).
//!
//! The sign is taken from the ground instead: a rig films people and things standing on a
//! floor, a court or a turntable, so the bottom of the picture (the floor before the subject)
//! is nearer than its top (the backdrop, the stands, the sky). That holds for rings, arcs and
//! sliding rigs alike. We tried to read the sign from the occlusions (the order in which A
//! splatted onto B reproduces B best): with exact flows it is decisive, but an estimated
//! flow carries the near layer's motion a few pixels into the far one around every edge,
//! and those pixels made the wrong order win on every pair of a generated ring.
//! Where top and bottom move alike there is no order to keep, and the splat blends by
//! importance alone.

use crate::flow::FlowField;
use rayon::prelude::*;

/// Least difference (pixels, along the flow's principal direction) between the motions of
/// the picture's top and bottom for a depth order: below it, all is at about one depth.
const MIN_SPREAD: f32 = 2.0;
/// The share of the rows at the top and at the bottom of the picture that are compared.
const BAND: f32 = 0.25;

/// The principal direction of the flow vectors (every 4th pixel each way), unit length;
/// `None` with too few known vectors.
fn principal_direction(flow: &FlowField) -> Option<(f32, f32)> {
    let (mut n, mut su, mut sv, mut suu, mut suv, mut svv) = (0.0f64, 0.0, 0.0, 0.0, 0.0, 0.0);
    for y in (0..flow.height).step_by(4) {
        for x in (0..flow.width).step_by(4) {
            let i = y * flow.width + x;
            let (u, v) = (flow.u[i], flow.v[i]);
            if FlowField::is_known(u, v) {
                let (u, v) = (u as f64, v as f64);
                n += 1.0;
                su += u;
                sv += v;
                suu += u * u;
                suv += u * v;
                svv += v * v;
            }
        }
    }
    if n < 16.0 {
        return None;
    }
    let (mu, mv) = (su / n, sv / n);
    let (cuu, cuv, cvv) = (suu / n - mu * mu, suv / n - mu * mv, svv / n - mv * mv);
    // The larger eigenvalue of the 2x2 covariance and its eigenvector.
    let tr = cuu + cvv;
    let det = cuu * cvv - cuv * cuv;
    let l = tr / 2.0 + (tr * tr / 4.0 - det).max(0.0).sqrt();
    let (dx, dy) = if cuv.abs() > 1e-12 {
        (l - cvv, cuv)
    } else if cuu >= cvv {
        (1.0, 0.0)
    } else {
        (0.0, 1.0)
    };
    let norm = (dx * dx + dy * dy).sqrt();
    Some(((dx / norm) as f32, (dy / norm) as f32))
}

/// The median of `dir . flow` over the known flows of rows `rows` (every 2nd pixel).
fn median_motion(flow: &FlowField, rows: std::ops::Range<usize>, dir: (f32, f32)) -> Option<f32> {
    let mut m: Vec<f32> = rows
        .flat_map(|y| (0..flow.width).step_by(2).map(move |x| y * flow.width + x))
        .filter(|&i| FlowField::is_known(flow.u[i], flow.v[i]))
        .map(|i| dir.0 * flow.u[i] + dir.1 * flow.v[i])
        .collect();
    if m.is_empty() {
        return None;
    }
    let k = m.len() / 2;
    Some(*m.select_nth_unstable_by(k, f32::total_cmp).1)
}

/// Nearness of each pixel of `flow`'s first image: `dir . flow` (NaN where unknown).
pub(crate) fn nearness(flow: &FlowField, dir: (f32, f32)) -> Vec<f32> {
    flow.u
        .par_iter()
        .zip(&flow.v)
        .map(|(&u, &v)| {
            if FlowField::is_known(u, v) {
                dir.0 * u + dir.1 * v
            } else {
                f32::NAN
            }
        })
        .collect()
}

/// The direction along which the flow from A to B (`fwd`) grows with nearness: a pixel of A
/// is nearer than another where `dir . fwd` is larger (and a pixel of B where `-dir . bwd`
/// is); `None` where the pair shows no depth order.
pub(crate) fn flow_order(fwd: &FlowField) -> Option<(f32, f32)> {
    let d = principal_direction(fwd)?;
    let h = fwd.height;
    let band = ((h as f32 * BAND) as usize).max(1);
    let top = median_motion(fwd, 0..band, d)?;
    let bottom = median_motion(fwd, h - band..h, d)?;
    if (bottom - top).abs() < MIN_SPREAD {
        None
    } else if bottom > top {
        Some(d)
    } else {
        Some((-d.0, -d.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flow whose top rows move `top` px right, whose bottom rows move `bottom` px, and a
    /// square in the middle moving `middle` px.
    fn layered(top: f32, middle: f32, bottom: f32) -> FlowField {
        FlowField::from_fn(96, 64, |x, y| {
            let u = if (36..60).contains(&x) && (24..40).contains(&y) {
                middle
            } else if y < 32 {
                top
            } else {
                bottom
            };
            (u, 0.3 * u)
        })
    }

    #[test]
    fn a_ring_puts_the_still_subject_before_the_moving_backdrop() {
        // Cameras on a ring: the backdrop moves right, the subject stays, the floor before
        // it moves left. Nearness grows against the backdrop's motion.
        let d = flow_order(&layered(40.0, 0.0, -30.0)).expect("an order");
        assert!(d.0 < -0.9 && d.1 < 0.0, "{d:?}");
        let n = |u: f32| d.0 * u + d.1 * 0.3 * u;
        assert!(n(-30.0) > n(0.0) && n(0.0) > n(40.0));
    }

    #[test]
    fn sliding_cameras_put_the_faster_things_before() {
        // Cameras sliding left: everything moves right, the near floor the most.
        let d = flow_order(&layered(2.0, 10.0, 25.0)).expect("an order");
        assert!(d.0 > 0.9, "{d:?}");
        // The same rig going right.
        let d = flow_order(&layered(-2.0, -10.0, -25.0)).expect("an order");
        assert!(d.0 < -0.9, "{d:?}");
    }

    #[test]
    fn one_depth_has_no_order() {
        assert_eq!(flow_order(&layered(6.0, 6.0, 6.0)), None);
        assert_eq!(flow_order(&layered(6.0, -20.0, 7.0)), None);
    }
}
