//! What a viewer of a bullet-time clip looks at: the subject. Whole-frame PSNR rewards a
//! crisp background and hides a subject that the synthesis erased or ghosted, so every
//! synthesis benchmark also reports, against the true view:
//!
//! - the subject box's PSNR: a square three times the red marker's diameter around the true
//!   marker (the marker, its pillar and what stands beside it);
//! - the marker's area ratio: the synthesized view's marker pixels over the true view's
//!   (1 when whole; near 0 when erased; above 1 when smeared or doubled).
//!
//! The marker is the sample scene's saturated red ball at the focus point
//! ([`crate::synth::find_marker`]), so these apply to generated footage.

use crate::eval::metrics::psnr_region;
use crate::frame::RgbImage;
use crate::synth::find_marker;

/// The subject's scores of one synthesized view against its truth.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SubjectScore {
    /// PSNR (dB) over the subject box.
    pub box_psnr: f64,
    /// Marker pixels in the view over marker pixels in the truth.
    pub marker_ratio: f64,
    /// The subject box: left, top, side (pixels, clamped to the image).
    pub bbox: (u32, u32, u32, u32),
}

/// The subject box of a true view: a square three marker diameters wide, centred on the
/// marker; `None` when the truth shows no marker.
pub fn subject_box(truth: &RgbImage) -> Option<(u32, u32, u32, u32)> {
    let (cx, cy, n) = find_marker(truth)?;
    // The marker's diameter from its area (a disc).
    let half = 1.5 * 2.0 * (n / std::f64::consts::PI).sqrt();
    let clamp = |v: f64, hi: u32| v.round().clamp(0.0, hi as f64) as u32;
    let (x0, y0) = (
        clamp(cx - half, truth.width),
        clamp(cy - half, truth.height),
    );
    let (x1, y1) = (
        clamp(cx + half, truth.width),
        clamp(cy + half, truth.height),
    );
    Some((x0, y0, x1 - x0, y1 - y0))
}

/// Scores `view` against `truth` on the subject; `None` when the truth shows no marker.
pub fn subject_score(view: &RgbImage, truth: &RgbImage) -> Option<SubjectScore> {
    let (_, _, n_truth) = find_marker(truth)?;
    let bbox = subject_box(truth)?;
    let n_view = find_marker(view).map_or(0.0, |m| m.2);
    Some(SubjectScore {
        box_psnr: psnr_region(view, truth, bbox),
        marker_ratio: n_view / n_truth,
        bbox,
    })
}

/// A crop of `img` (clamped to the image), scaled up `zoom` times by pixel replication:
/// the contact sheets' tiles.
pub fn crop(img: &RgbImage, (x0, y0, w, h): (u32, u32, u32, u32), zoom: u32) -> RgbImage {
    let (w, h) = (w.min(img.width - x0), h.min(img.height - y0));
    let mut out = RgbImage::new(w * zoom, h * zoom);
    for y in 0..h * zoom {
        for x in 0..w * zoom {
            out.put(x, y, img.pixel(x0 + x / zoom, y0 + y / zoom));
        }
    }
    out
}

/// Tiles laid out in rows (each row's tiles left to right), on black, 4 px apart.
pub fn contact_sheet(rows: &[Vec<RgbImage>]) -> RgbImage {
    const GAP: u32 = 4;
    let width = rows
        .iter()
        .map(|r| r.iter().map(|t| t.width + GAP).sum::<u32>())
        .max()
        .unwrap_or(0)
        + GAP;
    let heights: Vec<u32> = rows
        .iter()
        .map(|r| r.iter().map(|t| t.height).max().unwrap_or(0))
        .collect();
    let height = heights.iter().map(|h| h + GAP).sum::<u32>() + GAP;
    let mut out = RgbImage::new(width.max(1), height.max(1));
    let mut y0 = GAP;
    for (row, &rh) in rows.iter().zip(&heights) {
        let mut x0 = GAP;
        for tile in row {
            for y in 0..tile.height {
                for x in 0..tile.width {
                    out.put(x0 + x, y0 + y, tile.pixel(x, y));
                }
            }
            x0 += tile.width + GAP;
        }
        y0 += rh + GAP;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(w: u32, h: u32, cx: f64, cy: f64, r: f64) -> RgbImage {
        let mut img = RgbImage::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let inside = (x as f64 - cx).hypot(y as f64 - cy) <= r;
                img.put(x, y, if inside { [200, 20, 20] } else { [90, 90, 90] });
            }
        }
        img
    }

    #[test]
    fn a_whole_marker_scores_one_and_an_erased_one_zero() {
        let truth = disc(80, 60, 40.0, 30.0, 5.0);
        let same = subject_score(&truth, &truth).unwrap();
        assert_eq!(same.marker_ratio, 1.0);
        assert!(same.box_psnr.is_infinite());
        // About 30 px wide (three diameters), centred on the marker.
        let (x0, y0, w, h) = same.bbox;
        assert!((29..=31).contains(&w) && w == h, "{w}x{h}");
        assert!((x0 as i32 + w as i32 / 2 - 40).abs() <= 1 && (y0 + h / 2) as i32 - 30 <= 1);
        let erased = subject_score(&disc(80, 60, 40.0, 30.0, 0.0), &truth).unwrap();
        assert!(erased.marker_ratio < 0.05, "{}", erased.marker_ratio);
        // The marker is a tenth of its box: an erased one costs about 20 dB there.
        assert!(erased.box_psnr < 21.0, "{}", erased.box_psnr);
        let halved = subject_score(&disc(80, 60, 40.0, 30.0, 5.0 / 2f64.sqrt()), &truth).unwrap();
        assert!(
            (halved.marker_ratio - 0.5).abs() < 0.1,
            "{}",
            halved.marker_ratio
        );
        assert!(subject_score(&truth, &RgbImage::new(80, 60)).is_none());
    }

    #[test]
    fn a_contact_sheet_holds_its_tiles() {
        let img = disc(20, 10, 10.0, 5.0, 3.0);
        let tile = crop(&img, (5, 0, 10, 10), 2);
        assert_eq!((tile.width, tile.height), (20, 20));
        assert_eq!(tile.pixel(10, 10), img.pixel(10, 5));
        let sheet = contact_sheet(&[vec![tile.clone(), tile.clone()], vec![tile]]);
        assert_eq!((sheet.width, sheet.height), (4 + 2 * 24, 4 + 2 * 24));
        assert_eq!(sheet.pixel(4 + 10, 4 + 10), img.pixel(10, 5));
    }
}
