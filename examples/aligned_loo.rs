//! Views of a calibrated orbit against the truth: for a generated ring, the middle view of
//! each of the first pairs as `render --calibration` synthesizes it (the output frame of the
//! in-between virtual camera), with the flow alone (fast and balanced presets) and with the
//! plane sweep averaged in (quality), each against the same virtual camera's exact render.
//!
//! `cargo run --release --example aligned_loo -- CAMERAS [WxH] [PAIRS]` (defaults 640x360, 4).
use timeslice::align::Alignment;
use timeslice::eval::{psnr, ssim};
use timeslice::flow::{FlowParams, Preset};
use timeslice::render::{calibrated_pair, calibrated_view};
use timeslice::synth::{SampleRig, SampleSpec};

fn main() {
    let arg = |i: usize| std::env::args().nth(i);
    let cameras: usize = arg(1).and_then(|a| a.parse().ok()).unwrap_or(24);
    let (width, height) = arg(2)
        .and_then(|a| {
            let (w, h) = a.split_once('x')?;
            Some((w.parse().ok()?, h.parse().ok()?))
        })
        .unwrap_or((640, 360));
    let pairs: usize = arg(3).and_then(|a| a.parse().ok()).unwrap_or(4);
    let s = SampleRig::new(&SampleSpec {
        cameras,
        width,
        height,
        frames: 1,
        ..SampleSpec::default()
    })
    .expect("sample rig");
    let cams = s.rig().cameras.clone();
    let al = Alignment::new(cams.clone(), None, width, height).expect("alignment");
    let params = FlowParams::preset(Preset::Balanced);
    let mut sums = [0.0f64; 4];
    for from in 0..pairs {
        let to = from + 1;
        let (a, b) = (s.render_view(&cams[from], 0), s.render_view(&cams[to], 0));
        let truth = s.render_view(&al.virtual_camera(&al.source_camera(from, to, 0.5)), 0);
        let mut row = Vec::new();
        for sweep in [false, true] {
            let pair = calibrated_pair(&al, (from, &a), (to, &b), &params, sweep).expect("pair");
            let view = calibrated_view(&al, &pair, from, to, 0.5);
            row.push((psnr(&truth, &view), ssim(&truth, &view)));
        }
        println!(
            "pair {from}-{to}: flow {:.3} / {:.4}, with sweep {:.3} / {:.4}",
            row[0].0, row[0].1, row[1].0, row[1].1
        );
        for (s, v) in sums
            .iter_mut()
            .zip([row[0].0, row[0].1, row[1].0, row[1].1])
        {
            *s += v / pairs as f64;
        }
    }
    println!(
        "mean: flow {:.3} / {:.4}, with sweep {:.3} / {:.4}",
        sums[0], sums[1], sums[2], sums[3]
    );
}
