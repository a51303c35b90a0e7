//! Where the rig looks and which way is up: the focus point (the least-squares point nearest
//! every optical axis, or a point picked in pixels and triangulated) and the rig's up vector
//! (the normal of the best-fit plane through the camera centres).

use crate::camera::Camera;
use crate::error::{Error, Result};
use nalgebra::{Matrix3, Point3, SymmetricEigen, Vector3};

/// The point nearest (in the least-squares sense) to the lines through `origins` along
/// `dirs`: solves sum (I - d d^T) (x - o) = 0.
fn nearest_to_lines(lines: &[(Point3<f64>, Vector3<f64>)]) -> Option<Point3<f64>> {
    let mut a = Matrix3::zeros();
    let mut b = Vector3::zeros();
    for (o, d) in lines {
        let d = d.normalize();
        let m = Matrix3::identity() - d * d.transpose();
        a += m;
        b += m * o.coords;
    }
    // Parallel lines have no nearest point: a is singular then.
    let eig = SymmetricEigen::new(a);
    if eig.eigenvalues.min() < 1e-6 * eig.eigenvalues.max().max(1e-300) {
        return None;
    }
    a.try_inverse().map(|inv| Point3::from(inv * b))
}

/// The point nearest all optical axes: where the cameras of a bullet-time rig look.
pub fn nearest_to_axes(cameras: &[Camera]) -> Result<Point3<f64>> {
    let lines: Vec<_> = cameras
        .iter()
        .map(|c| (c.pose.centre(), c.pose.axis()))
        .collect();
    nearest_to_lines(&lines).ok_or_else(|| {
        Error::usage(
            "the cameras' optical axes are parallel, so they have no common focus; give --focus X,Y,Z",
        )
    })
}

/// The rig's up vector: the normal of the plane that best fits the camera centres, oriented
/// to agree with the cameras' own image-up direction. With fewer than three cameras, or
/// centres on a line, the cameras' mean image-up.
pub fn rig_up(cameras: &[Camera]) -> Vector3<f64> {
    // Image up is -y in camera coordinates.
    let image_up: Vector3<f64> = cameras
        .iter()
        .map(|c| c.pose.dir_to_world(&Vector3::new(0.0, -1.0, 0.0)))
        .sum();
    let n = cameras.len() as f64;
    let mean: Vector3<f64> = cameras
        .iter()
        .map(|c| c.pose.centre().coords)
        .sum::<Vector3<f64>>()
        / n;
    let mut cov = Matrix3::zeros();
    for c in cameras {
        let d = c.pose.centre().coords - mean;
        cov += d * d.transpose();
    }
    let eig = SymmetricEigen::new(cov);
    let mut order = [0usize, 1, 2];
    order.sort_by(|&i, &j| eig.eigenvalues[i].total_cmp(&eig.eigenvalues[j]));
    let (smallest, middle) = (eig.eigenvalues[order[0]], eig.eigenvalues[order[1]]);
    if cameras.len() < 3 || middle < 1e-9 || smallest > 0.5 * middle {
        // No clear plane: trust the cameras' own up.
        return image_up.normalize();
    }
    let normal = eig.eigenvectors.column(order[0]).into_owned();
    if normal.dot(&image_up) < 0.0 {
        -normal
    } else {
        normal
    }
}

/// A focus point picked in pixels: with one view, the point on that camera's ray nearest the
/// other cameras' optical axes; with two or more, the point nearest all the rays.
pub fn focus_from_pixels(cameras: &[Camera], picks: &[(usize, f64, f64)]) -> Result<Point3<f64>> {
    let ray = |&(c, u, v): &(usize, f64, f64)| {
        let cam = &cameras[c];
        let (x, y) = super::undistort(&cam.intrinsics, u, v);
        (
            cam.pose.centre(),
            cam.pose.dir_to_world(&Vector3::new(x, y, 1.0)),
        )
    };
    match picks {
        [] => Err(Error::usage("--focus-px needs at least one CAMERA:x,y")),
        [one] => {
            let (o, d) = ray(one);
            let d = d.normalize();
            let near = nearest_to_axes(cameras)?;
            let s = (near - o).dot(&d).max(0.0);
            Ok(o + d * s)
        }
        many => {
            let lines: Vec<_> = many.iter().map(ray).collect();
            nearest_to_lines(&lines).ok_or_else(|| {
                Error::usage("the picked rays are parallel; pick the point in two cameras that see it from different sides")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::rig::{place_cameras, Placement};
    use crate::synth::Layout;

    fn rig(aim: f64) -> Vec<Camera> {
        place_cameras(&Placement {
            layout: Layout::Arc,
            cameras: 9,
            arc_degrees: 120.0,
            focus: Point3::new(1.0, 2.0, 1.0),
            up: Vector3::z(),
            radius: 6.0,
            height: 1.6,
            width: 640,
            height_px: 360,
            hfov_degrees: 40.0,
            aim_jitter_degrees: aim,
            roll_jitter_degrees: 2.0,
            seed: 5,
        })
        .cameras
    }

    #[test]
    fn axes_of_an_aimed_rig_meet_at_the_focus() {
        let f = nearest_to_axes(&rig(0.0)).unwrap();
        assert!((f - Point3::new(1.0, 2.0, 1.0)).norm() < 1e-9, "{f}");
    }

    #[test]
    fn up_is_the_normal_of_the_camera_plane() {
        let up = rig_up(&rig(5.0));
        assert!((up - Vector3::z()).norm() < 1e-9, "{up}");
    }

    #[test]
    fn picked_pixels_triangulate_the_point() {
        let cams = rig(5.0);
        let target = Point3::new(1.2, 1.9, 1.3);
        let picks: Vec<(usize, f64, f64)> = [1, 6]
            .iter()
            .map(|&c| {
                let p = cams[c].project(&target).unwrap();
                (c, p.x, p.y)
            })
            .collect();
        let got = focus_from_pixels(&cams, &picks).unwrap();
        assert!((got - target).norm() < 1e-6, "{got}");
        // One pick: on that ray, near the rig's focus.
        let got = focus_from_pixels(&cams, &picks[..1]).unwrap();
        let p = cams[1].project(&got).unwrap();
        assert!((p.x - picks[0].1).abs() < 1e-6 && (p.y - picks[0].2).abs() < 1e-6);
    }
}
