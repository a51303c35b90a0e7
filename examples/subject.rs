//! The subject in synthesized views, against the truth: for a generated rig, in-between views
//! of five pairs spread over the rig at t = 0.25, 0.5 and 0.75, each scored on the whole frame
//! (PSNR) and on the subject (the subject box's PSNR and the red marker's area ratio,
//! [`timeslice::eval::subject`]), with a contact sheet of subject crops (truth above, ours
//! below).
//!
//! `cargo run --release --example subject -- [key=value ...]`, keys (defaults):
//! cameras (24), size (960x540), seed (3), layout (ring|arc, ring), arc (degrees, 180),
//! preset (fast|balanced|quality, balanced), mode (interp: `timeslice interp`; rig: `interp
//! --rig` with the true cameras; render: `render --calibration` with the truth, the aligned
//! output frames), sheet (a PNG path for the contact sheet, none).
use std::collections::HashMap;
use timeslice::align::Alignment;
use timeslice::camera::interpolate;
use timeslice::eval::subject::{contact_sheet, crop, subject_score};
use timeslice::eval::{psnr, SubjectScore};
use timeslice::flow::{FlowParams, Preset};
use timeslice::interp::PairFlow;
use timeslice::render::{calibrated_pair, calibrated_view};
use timeslice::synth::{Layout, SampleRig, SampleSpec};
use timeslice::RgbImage;

fn main() {
    let args: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let get = |k: &str, d: &str| args.get(k).cloned().unwrap_or_else(|| d.to_string());
    let cameras: usize = get("cameras", "24").parse().expect("cameras");
    let (width, height) = {
        let s = get("size", "960x540");
        let (w, h) = s.split_once('x').expect("size WxH");
        (w.parse().expect("width"), h.parse().expect("height"))
    };
    let layout = match get("layout", "ring").as_str() {
        "arc" => Layout::Arc,
        _ => Layout::Ring,
    };
    let preset = match get("preset", "balanced").as_str() {
        "fast" => Preset::Fast,
        "quality" => Preset::Quality,
        _ => Preset::Balanced,
    };
    let mode = get("mode", "interp");
    let s = SampleRig::new(&SampleSpec {
        cameras,
        width,
        height,
        frames: 1,
        seed: get("seed", "3").parse().expect("seed"),
        layout,
        arc_degrees: get("arc", "180").parse().expect("arc"),
        ..SampleSpec::default()
    })
    .expect("sample rig");
    let rig = s.rig();
    let cams = &rig.cameras;
    let params = FlowParams::preset(preset);
    let al = (mode == "render")
        .then(|| Alignment::new(cams.clone(), None, width, height).expect("alignment"));
    let step = (cameras / 6).max(1);
    let ts = [0.25f32, 0.5, 0.75];
    let (mut whole, mut boxed, mut lo, mut hi, mut n) = (0.0, 0.0, f64::MAX, f64::MIN, 0.0);
    let mut sheet: Vec<Vec<RgbImage>> = vec![Vec::new(), Vec::new()];
    for k in 0..5 {
        let (from, to) = (k * step, k * step + 1);
        if to >= cameras {
            break;
        }
        let (ca, cb) = (&cams[from], &cams[to]);
        let (a, b) = (s.render_view(ca, 0), s.render_view(cb, 0));
        let pair = match (&al, mode.as_str()) {
            (Some(al), _) => {
                calibrated_pair(al, (from, &a), (to, &b), &params, preset == Preset::Quality)
            }
            (None, "rig") => PairFlow::compute(&a, &b, &params).map(|p| p.with_cameras(ca, cb)),
            _ => PairFlow::compute(&a, &b, &params),
        }
        .expect("pair");
        for &t in &ts {
            let (view, truth) = match &al {
                Some(al) => {
                    let mid = al.virtual_camera(&al.source_camera(from, to, t));
                    (
                        calibrated_view(al, &pair, from, to, t),
                        s.render_view(&mid, 0),
                    )
                }
                None => {
                    let mid = interpolate(ca, cb, t as f64, &rig.focus, &rig.up);
                    (pair.synthesize(t), s.render_view(&mid, 0))
                }
            };
            let p = psnr(&view, &truth);
            let Some(SubjectScore {
                box_psnr,
                marker_ratio,
                bbox,
            }) = subject_score(&view, &truth)
            else {
                println!("{}-{} t {t}: no marker in the truth", ca.name, cb.name);
                continue;
            };
            println!(
                "{}-{} t {t:.2}: whole {p:.2} dB, subject box {box_psnr:.2} dB, marker {marker_ratio:.3}",
                ca.name, cb.name
            );
            whole += p;
            boxed += box_psnr;
            lo = lo.min(marker_ratio);
            hi = hi.max(marker_ratio);
            n += 1.0;
            // Crops twice the subject box, centred on it.
            let (x, y, w, h) = bbox;
            let wide = (
                x.saturating_sub(w / 2),
                y.saturating_sub(h / 2),
                2 * w,
                2 * h,
            );
            let zoom = (160 / (2 * w).max(1)).clamp(1, 4);
            sheet[0].push(crop(&truth, wide, zoom));
            sheet[1].push(crop(&view, wide, zoom));
        }
    }
    println!(
        "mean over {n} views: whole {:.3} dB, subject box {:.3} dB, marker {lo:.3} - {hi:.3}",
        whole / n,
        boxed / n
    );
    if let Some(path) = args.get("sheet") {
        contact_sheet(&sheet)
            .to_image()
            .save(path)
            .expect("write the sheet");
        println!("contact sheet: {path}");
    }
}
