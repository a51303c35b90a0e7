//! Guided matching: once a pair's relative pose is known, each keypoint's match is looked
//! for only among the other camera's keypoints near its epipolar line (Hartley and Zisserman,
//! "Multiple View Geometry", 2nd ed. 2004, section 11.9, "guided matching").
//!
//! Cameras 30 degrees apart on a ring see little of the same backdrop and the subject's
//! texture changes a lot between them: the free ratio test, which compares a keypoint's best
//! match with its second best over the whole image, keeps only 45-93 matches a pair (ring of
//! 12 cameras at 1280x720), all on the backdrop, and no point is tracked through three
//! cameras. Among the few keypoints within a few pixels of the epipolar line, a much looser
//! ratio still picks the right one, so the pair gains the matches its geometry predicts.
//!
//! The matches are mutual (each is the other's best along its line) and are localised at full
//! resolution afterwards like every other match (see `lucas_kanade`).

use super::features::{similarity, DESC_LEN};
use nalgebra::{Matrix3, Vector2, Vector3};
use rayon::prelude::*;

/// The epipolar line `e p` of the point `p` in the other camera (normalised coordinates), as
/// (a, b, c) with (a, b) a unit normal, so that [`line_distance`] is direct.
pub fn epipolar_line(e: &Matrix3<f64>, p: &Vector2<f64>) -> Vector3<f64> {
    let m = e * Vector3::new(p.x, p.y, 1.0);
    m / m.xy().norm().max(1e-300)
}

/// Distance of the point `p` from the line `l` of [`epipolar_line`].
pub fn line_distance(l: &Vector3<f64>, p: &Vector2<f64>) -> f64 {
    (l.x * p.x + l.y * p.y + l.z).abs()
}

/// One camera's keypoints: normalised image coordinates (undistorted) and descriptors.
#[derive(Clone, Copy)]
pub struct Keypoints<'a> {
    pub points: &'a [Vector2<f64>],
    pub descriptors: &'a [Option<[f32; DESC_LEN]>],
}

/// Mutual best descriptor matches between the keypoints of camera i and camera j whose
/// distance from each other's epipolar line under the essential matrix `e`
/// (`x_j^T E x_i = 0`) is under `gate` (normalised units), passing the ratio test `ratio`
/// among those candidates only. Keypoints of i flagged in `skip` (already matched) are left
/// out. Returns (index in i, index in j).
pub fn match_along_epipolar_lines(
    ki: Keypoints,
    kj: Keypoints,
    e: &Matrix3<f64>,
    gate: f64,
    ratio: f32,
    skip: &[bool],
) -> Vec<(usize, usize)> {
    let (a, da) = (ki.points, ki.descriptors);
    let (b, db) = (kj.points, kj.descriptors);
    let lines_b: Vec<Vector3<f64>> = a.iter().map(|p| epipolar_line(e, p)).collect();
    let et = e.transpose();
    let lines_a: Vec<Vector3<f64>> = b.iter().map(|q| epipolar_line(&et, q)).collect();
    // Best candidate of one keypoint along its line, if it passes the ratio test.
    let best = |d: &[f32; DESC_LEN],
                l: &Vector3<f64>,
                pts: &[Vector2<f64>],
                descs: &[Option<[f32; DESC_LEN]>]|
     -> Option<usize> {
        let (mut bi, mut s1, mut s2) = (usize::MAX, -1f32, -1f32);
        for (k, (p, o)) in pts.iter().zip(descs).enumerate() {
            let Some(o) = o else { continue };
            if line_distance(l, p) > gate {
                continue;
            }
            let s = similarity(d, o);
            if s > s1 {
                (s2, s1, bi) = (s1, s, k);
            } else if s > s2 {
                s2 = s;
            }
        }
        // Unit vectors: distance = sqrt(2 - 2 similarity).
        let d1 = (2.0 - 2.0 * s1).max(0.0).sqrt();
        let d2 = (2.0 - 2.0 * s2).max(0.0).sqrt();
        (bi != usize::MAX && d1 < ratio * d2).then_some(bi)
    };
    let back: Vec<Option<usize>> = b
        .par_iter()
        .with_min_len(64)
        .enumerate()
        .map(|(l, _)| best(db[l].as_ref()?, &lines_a[l], a, da))
        .collect();
    (0..a.len())
        .into_par_iter()
        .with_min_len(64)
        .filter_map(|k| {
            if skip[k] {
                return None;
            }
            let l = best(da[k].as_ref()?, &lines_b[k], b, db)?;
            (back[l] == Some(k)).then_some((k, l))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(seed: usize) -> Option<[f32; DESC_LEN]> {
        let mut d = [0f32; DESC_LEN];
        for (i, v) in d.iter_mut().enumerate() {
            *v = (((i * 7919 + seed * 104729) % 1000) as f32 / 1000.0) - 0.5;
        }
        let n = d.iter().map(|v| v * v).sum::<f32>().sqrt();
        d.iter_mut().for_each(|v| *v /= n);
        Some(d)
    }

    /// Two descriptors that are too alike for the global ratio test still match when only
    /// one of them lies on the epipolar line.
    #[test]
    fn the_epipolar_line_separates_lookalikes() {
        // Camera j is camera i moved along x: epipolar lines are the rows (E = [t]x, t = x).
        let e = Matrix3::new(0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0);
        let a = vec![Vector2::new(0.0, 0.0), Vector2::new(0.1, 0.2)];
        let b = vec![
            Vector2::new(-0.05, 0.0),
            Vector2::new(-0.05, 0.1),
            Vector2::new(0.05, 0.2),
        ];
        let same = desc(1);
        let da = vec![same, desc(2)];
        let db = vec![same, same, desc(2)];
        let ki = Keypoints {
            points: &a,
            descriptors: &da,
        };
        let kj = Keypoints {
            points: &b,
            descriptors: &db,
        };
        let m = match_along_epipolar_lines(ki, kj, &e, 0.01, 0.8, &[false, false]);
        assert_eq!(m, vec![(0, 0), (1, 2)]);
        // The lookalike on a row off the line is not a candidate; skipped keypoints stay out.
        let m = match_along_epipolar_lines(ki, kj, &e, 0.01, 0.8, &[true, false]);
        assert_eq!(m, vec![(1, 2)]);
    }
}
