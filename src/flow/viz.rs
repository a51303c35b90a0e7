//! The standard flow colour coding of the Middlebury benchmark (Baker et al., "A Database and
//! Evaluation Methodology for Optical Flow", IJCV 2011; `flowToColor` / `computeColor` in
//! their code): direction is hue on a 55-colour wheel (red, yellow, green, cyan, blue, magenta
//! in steps of 15, 6, 4, 11, 13, 6), magnitude is saturation (white at zero, full colour at
//! the normalising maximum, darkened beyond it). Unknown flow is black.

use super::FlowField;
use crate::frame::RgbImage;

/// The 55 colours of the Middlebury wheel, 0..255.
fn colour_wheel() -> Vec<[f32; 3]> {
    const RY: usize = 15;
    const YG: usize = 6;
    const GC: usize = 4;
    const CB: usize = 11;
    const BM: usize = 13;
    const MR: usize = 6;
    let mut wheel = Vec::with_capacity(RY + YG + GC + CB + BM + MR);
    let ramp = |i: usize, n: usize| (255 * i / n) as f32;
    for i in 0..RY {
        wheel.push([255.0, ramp(i, RY), 0.0]);
    }
    for i in 0..YG {
        wheel.push([255.0 - ramp(i, YG), 255.0, 0.0]);
    }
    for i in 0..GC {
        wheel.push([0.0, 255.0, ramp(i, GC)]);
    }
    for i in 0..CB {
        wheel.push([0.0, 255.0 - ramp(i, CB), 255.0]);
    }
    for i in 0..BM {
        wheel.push([ramp(i, BM), 0.0, 255.0]);
    }
    for i in 0..MR {
        wheel.push([255.0, 0.0, 255.0 - ramp(i, MR)]);
    }
    wheel
}

/// Colours a flow field. Vectors are divided by `max_flow` (or, if `None`, by the largest
/// known vector length in the field), so a vector of that length is fully saturated.
pub fn flow_to_rgb(flow: &FlowField, max_flow: Option<f32>) -> RgbImage {
    let wheel = colour_wheel();
    let n = wheel.len();
    let max = max_flow.unwrap_or_else(|| flow.max_magnitude());
    let scale = if max > 0.0 { 1.0 / max } else { 0.0 };
    let mut img = RgbImage::new(flow.width as u32, flow.height as u32);
    for (i, px) in img.data.chunks_exact_mut(3).enumerate() {
        let (u, v) = (flow.u[i], flow.v[i]);
        if !FlowField::is_known(u, v) {
            px.copy_from_slice(&[0, 0, 0]);
            continue;
        }
        let (fu, fv) = (u * scale, v * scale);
        let rad = (fu * fu + fv * fv).sqrt();
        let a = (-fv).atan2(-fu) / std::f32::consts::PI;
        let fk = (a + 1.0) / 2.0 * (n - 1) as f32;
        let k0 = (fk as usize).min(n - 1);
        let k1 = if k0 + 1 == n { 0 } else { k0 + 1 };
        let f = fk - k0 as f32;
        for c in 0..3 {
            let col = ((1.0 - f) * wheel[k0][c] + f * wheel[k1][c]) / 255.0;
            let col = if rad <= 1.0 {
                1.0 - rad * (1.0 - col)
            } else {
                col * 0.75
            };
            px[c] = (255.0 * col).round().clamp(0.0, 255.0) as u8;
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_white_plus_x_is_red_unknown_is_black() {
        let mut f = FlowField::new(4, 1);
        f.u[1] = 2.0; // +x at full scale
        f.u[2] = f32::NAN;
        f.v[3] = 2e9;
        let img = flow_to_rgb(&f, Some(2.0));
        assert_eq!(img.pixel(0, 0), [255, 255, 255]);
        let [r, g, b] = img.pixel(1, 0);
        assert!(r == 255 && g < 40 && b < 40, "{:?}", [r, g, b]);
        assert_eq!(img.pixel(2, 0), [0, 0, 0]);
        assert_eq!(img.pixel(3, 0), [0, 0, 0]);
    }

    #[test]
    fn wheel_has_55_colours_and_normalises_by_the_largest_vector() {
        assert_eq!(colour_wheel().len(), 55);
        let f = FlowField::from_fn(2, 1, |x, _| (0.0, x as f32 + 1.0));
        let img = flow_to_rgb(&f, None);
        // The longer vector is saturated, the shorter one half way to white.
        let (a, b) = (img.pixel(0, 0), img.pixel(1, 0));
        assert!(a.iter().map(|&c| c as u32).sum::<u32>() > b.iter().map(|&c| c as u32).sum());
    }
}
