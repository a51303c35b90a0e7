//! Exact optical flow between two cameras of a sample rig, from the rendered depth and the
//! poses, with an occlusion mask.
//!
//! For each pixel centre of camera A we take the scene point it sees (depth along A's axis),
//! project it into camera B, and the flow is the difference of pixel positions. The sky is at
//! infinity, so its flow comes from the rotation alone. A pixel is marked occluded when its
//! point falls outside B's image, or B sees something nearer at that position: we compare the
//! point's depth in B with the largest of B's four depths around the projection, so that at a
//! depth edge a point is called visible unless every neighbour is in front of it.

use super::SampleRig;
use crate::camera::Camera;
use crate::flow::FlowField;
use nalgebra::{Point3, Vector3};
use rayon::prelude::*;

/// Ground-truth flow from camera A to camera B, and which pixels of A are not visible in B.
pub struct TruthFlow {
    pub flow: FlowField,
    /// Row-major, true where the pixel of A is occluded in B or leaves B's image.
    pub occluded: Vec<bool>,
}

impl TruthFlow {
    /// The mask as an 8-bit image: 255 occluded, 0 visible.
    pub fn mask_image(&self) -> image::GrayImage {
        let (w, h) = (self.flow.width as u32, self.flow.height as u32);
        image::GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if self.occluded[(y * w + x) as usize] {
                255
            } else {
                0
            }])
        })
    }
}

/// Relative depth tolerance of the occlusion test.
const DEPTH_TOLERANCE: f32 = 0.005;

/// Flow from `a` to `b` at `frame` (both cameras see the same instant).
pub fn truth_flow(sample: &SampleRig, a: &Camera, b: &Camera, frame: u32) -> TruthFlow {
    let depth_a = sample.render_depth(a, frame);
    let depth_b = sample.render_depth(b, frame);
    let (w, h) = (a.width as usize, a.height as usize);
    let (wb, hb) = (b.width as usize, b.height as usize);
    let ra_t = a.pose.rotation_matrix().transpose();
    let rb = b.pose.rotation_matrix();
    let centre_a = a.pose.centre();
    let ka = a.intrinsics;

    let mut u = vec![0f32; w * h];
    let mut v = vec![0f32; w * h];
    let mut occluded = vec![false; w * h];
    u.par_chunks_mut(w)
        .zip(v.par_chunks_mut(w))
        .zip(occluded.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, ((ur, vr), or))| {
            for x in 0..w {
                let d = depth_a[y * w + x];
                let ray = ka.ray(x as f64, y as f64); // camera A frame, z = 1
                let (p_b, z_b) = if d.is_finite() {
                    let world: Point3<f64> = centre_a + ra_t * (ray * d as f64);
                    let pc = b.pose.to_camera(&world);
                    (b.intrinsics.project(&pc), pc.z as f32)
                } else {
                    let dir: Vector3<f64> = rb * (ra_t * ray);
                    (b.intrinsics.project(&Point3::from(dir)), f32::INFINITY)
                };
                let Some(p) = p_b else {
                    ur[x] = f32::NAN;
                    vr[x] = f32::NAN;
                    or[x] = true;
                    continue;
                };
                ur[x] = (p.x - x as f64) as f32;
                vr[x] = (p.y - y as f64) as f32;
                let inside =
                    p.x > -0.5 && p.y > -0.5 && p.x < wb as f64 - 0.5 && p.y < hb as f64 - 0.5;
                or[x] = !inside || hidden(&depth_b, wb, hb, p.x, p.y, z_b);
            }
        });
    TruthFlow {
        flow: FlowField {
            width: w,
            height: h,
            u,
            v,
        },
        occluded,
    }
}

/// True when B sees something clearly nearer than `z` at every pixel around (x, y).
fn hidden(depth: &[f32], w: usize, h: usize, x: f64, y: f64, z: f32) -> bool {
    let (x0, y0) = (x.floor().max(0.0) as usize, y.floor().max(0.0) as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let far = [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]
        .iter()
        .map(|&(i, j)| depth[j * w + i])
        .fold(0f32, f32::max);
    if z.is_infinite() {
        return far.is_finite();
    }
    z > far * (1.0 + DEPTH_TOLERANCE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::SampleSpec;

    fn small() -> SampleRig {
        SampleRig::new(&SampleSpec {
            cameras: 24,
            width: 192,
            height: 108,
            frames: 3,
            ..SampleSpec::default()
        })
        .unwrap()
    }

    #[test]
    fn focus_point_flows_to_the_image_centre_and_flow_is_consistent_with_poses() {
        let s = small();
        let (a, b) = (&s.rig().cameras[0], &s.rig().cameras[1]);
        let t = truth_flow(&s, a, b, 1);
        // The focus projects to the centre of both cameras: zero flow at the centre pixel
        // (the centre is between pixels for even sizes, so look at the 4 around it).
        let (cx, cy) = (a.intrinsics.cx, a.intrinsics.cy);
        for (x, y) in [(cx.floor(), cy.floor()), (cx.ceil(), cy.ceil())] {
            let i = y as usize * 192 + x as usize;
            assert!(
                t.flow.u[i].abs() < 1.0 && t.flow.v[i].abs() < 1.0,
                "{} {}",
                t.flow.u[i],
                t.flow.v[i]
            );
            assert!(!t.occluded[i]);
        }
        // Neighbours 15 degrees apart: points behind the focus move one way, points in front
        // the other, so the flow field spans both signs of u.
        let (min, max) = t
            .flow
            .u
            .iter()
            .filter(|u| u.is_finite())
            .fold((f32::MAX, f32::MIN), |(lo, hi), &u| (lo.min(u), hi.max(u)));
        assert!(min < -5.0 && max > 5.0, "u range {min}..{max}");
        // Some pixels leave the view or are hidden, most stay visible.
        let occ = t.occluded.iter().filter(|&&o| o).count() as f64 / t.occluded.len() as f64;
        assert!(occ > 0.01 && occ < 0.5, "occluded fraction {occ}");
    }

    #[test]
    fn warping_b_by_the_truth_flow_reproduces_a_where_visible() {
        let s = small();
        let (a, b) = (&s.rig().cameras[0], &s.rig().cameras[1]);
        let t = truth_flow(&s, a, b, 1);
        let ia = s.render_view(a, 1);
        let ib = s.render_view(b, 1);
        let (mut err_vis, mut n_vis) = (0f64, 0usize);
        for y in 0..108usize {
            for x in 0..192usize {
                let i = y * 192 + x;
                if t.occluded[i] {
                    continue;
                }
                let (xb, yb) = (x as f32 + t.flow.u[i], y as f32 + t.flow.v[i]);
                let (xi, yi) = (xb.round() as u32, yb.round() as u32);
                if xi >= 192 || yi >= 108 {
                    continue;
                }
                let pa = ia.pixel(x as u32, y as u32);
                let pb = ib.pixel(xi, yi);
                err_vis += (0..3)
                    .map(|c| (pa[c] as f64 - pb[c] as f64).abs())
                    .sum::<f64>()
                    / 3.0;
                n_vis += 1;
            }
        }
        let mae = err_vis / n_vis as f64;
        // Nearest-pixel lookup and view-dependent shading leave a small error; a wrong flow
        // (e.g. zero) gives several times more.
        assert!(mae < 12.0, "mean abs error where visible: {mae}");
        let zero_mae = {
            let mut e = 0f64;
            for (pa, pb) in ia.data.iter().zip(&ib.data) {
                e += (*pa as f64 - *pb as f64).abs();
            }
            e / ia.data.len() as f64
        };
        assert!(zero_mae > 2.0 * mae, "zero flow {zero_mae} vs truth {mae}");
    }
}
