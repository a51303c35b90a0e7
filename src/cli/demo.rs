//! `timeslice demo`: the whole pipeline on a generated rig: footage from 12 deliberately
//! mis-aimed cameras, calibrated from that footage alone, rendered as a replay (live, frozen
//! orbit, live) with virtual cameras locked on the subject, encoded with the web preset.

use anyhow::{Context, Result};
use nalgebra::{Point3, Vector3};
use std::path::PathBuf;
use timeslice::calib::rig::RigOptions;
use timeslice::camera::Camera;
use timeslice::eval::{alignment_errors, pose_errors};
use timeslice::media;
use timeslice::media::preset::OutputPreset;
use timeslice::progress::Progress;
use timeslice::project::{Layout, Project};
use timeslice::render::{render, Focus, RenderOptions, TimeMode};
use timeslice::synth::{find_marker, SampleSpec};
use timeslice::timeline::Ease;
use timeslice::TimeSpec;

/// Generate a 12-camera rig (a 90 degree arc, each camera aimed a few degrees off and rolled)
/// filming a goalkeeper diving past the red marker, calibrate it from its own footage, and render a replay of its event: live on the first
/// camera, a frozen orbit with synthesized views and virtual cameras locked on the red
/// marker, live again on the last camera; web preset.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  timeslice demo --out demo-out && ls demo-out")]
pub struct Args {
    /// Output folder.
    #[arg(long, short, default_value = "demo-out")]
    out: PathBuf,
}

pub fn run(a: Args, progress: &dyn Progress) -> Result<()> {
    std::fs::create_dir_all(&a.out)?;
    let rig_dir = a.out.join("rig");
    let spec = SampleSpec {
        cameras: 12,
        layout: Layout::Arc,
        arc_degrees: 90.0,
        aim_jitter_degrees: 3.0,
        roll_jitter_degrees: 2.0,
        figure: true,
        ..SampleSpec::default()
    };
    let made = super::samples::make(&rig_dir, &spec, Default::default(), progress)?;
    let project = Project::load(&made.project)?;
    let event = TimeSpec::Frame(made.event_frame as i64);

    // Calibrate from the footage (not the ground truth), then compare with the truth.
    let calib_dir = a.out.join("calibration");
    let opts = RigOptions {
        layout: Layout::Arc,
        ..Default::default()
    };
    let calib = super::calibrate_rig::calibrate_project(
        &project,
        Some(event),
        &opts,
        &calib_dir,
        false,
        progress,
    )?;
    let est: Vec<Camera> = calib.cameras.iter().map(|c| c.camera.clone()).collect();
    let truth = timeslice::calib::colmap::read_text_model(&made.colmap)?;
    let errors = pose_errors(&est, &truth);
    let focal_err = 100.0 * (est[0].intrinsics.fx / truth[0].intrinsics.fx - 1.0);

    // The subject: the red marker, picked in two cameras a third of the arc apart.
    let mut picks = Vec::new();
    for cam in [&project.cameras[2], &project.cameras[9]] {
        let mut src = media::open(&project.source_path(cam))?;
        let img = src.frame(made.event_frame as i64)?;
        // The demo knows its subject is the red marker; a user picks it with --focus-px.
        let (x, y, _) = find_marker(&img).with_context(|| format!("no marker in {}", cam.name))?;
        picks.push((cam.name.clone(), x, y));
    }

    // 0.8 s of live footage either side of the moment.
    let live = (0.8 * spec.fps.as_f64()).round() as i64;
    let frame = |d: i64| TimeSpec::Frame(made.event_frame as i64 + d);
    let mut ro = RenderOptions::at(event);
    ro.mode = TimeMode::Replay {
        from: frame(-live),
        to: frame(live),
        orbit_at: event,
    };
    ro.calibration = Some(calib_dir.clone());
    ro.focus = Focus::Pixels(picks.clone());
    ro.preset = Some(OutputPreset::Web);
    ro.speed = Some(30.0);
    ro.ease = Ease::InOut;
    let clip = a.out.join("replay.mp4");
    let report = render(&project, &ro, &clip, progress)?;

    // The alignment of every output view against the truth (true cameras, focus and up).
    let truth_rig = timeslice::synth::truth::Truth::read(&made.truth)?;
    let aligned = report.alignment.as_ref().and_then(|al| {
        let cams: Option<Vec<Camera>> = al
            .cameras
            .iter()
            .map(|c| truth.iter().find(|t| t.name == c.name).cloned())
            .collect();
        alignment_errors(
            al,
            &cams?,
            Point3::from(truth_rig.focus),
            Vector3::from(truth_rig.up),
            &report.views,
        )
    });

    println!(
        "rig:          {} ({} cameras on a {}-degree arc, aimed up to {} degrees off and rolled up to {}, {}x{}, {} frames at {} fps)",
        rig_dir.display(),
        spec.cameras,
        spec.arc_degrees,
        spec.aim_jitter_degrees,
        spec.roll_jitter_degrees,
        spec.width,
        spec.height,
        spec.frames,
        spec.fps
    );
    println!(
        "ground truth: {} and {}",
        made.truth.display(),
        made.colmap.display()
    );
    print!(
        "calibration:  {} ({} of {} cameras, RMS {:.3} px",
        calib_dir.display(),
        calib.cameras.len(),
        spec.cameras,
        calib.rms
    );
    match errors {
        Some(e) => println!(
            "; against the truth: rotation {:.3} deg median, centres {:.2}% of the radius, focal {focal_err:+.2}%)",
            e.rotation_median_deg, e.centre_mean_pct
        ),
        None => println!(")"),
    }
    println!(
        "focus:        the red marker picked at {}",
        picks
            .iter()
            .map(|(c, x, y)| format!("{c} ({x:.1}, {y:.1})"))
            .collect::<Vec<_>>()
            .join(" and ")
    );
    print!("clip:         ");
    super::render::print_report(&report);
    if let Some(e) = aligned {
        println!(
            "aligned:      against the truth, over all {} views: focus within {:.2}% of the width of the centre, tilt at most {:.3} deg, subject size within {:.2}%",
            e.views, e.offset_max_pct, e.tilt_max_deg, e.scale_max_pct
        );
    }
    println!(
        "replay:       live on {} to {:.3} s (the ball's apex), a 90-degree orbit frozen there, live on {}",
        project.cameras[0].name,
        made.event_time,
        project.cameras[spec.cameras - 1].name
    );
    Ok(())
}
