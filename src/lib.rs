//! timeslice: bullet-time clips from a ring or arc of cameras.
//!
//! The pipeline, one module per stage (see DESIGN.md):
//! `media` (ingest, encode) -> `project` (rig order, offsets) -> `timeline` (the schedule of
//! output frames) -> `render` (runs a schedule into an encoder). `synth` renders sample rigs
//! with ground truth; `calib` holds camera model I/O (COLMAP). `spin` makes product spins
//! (turntable shots to a package with a web viewer) with the same view synthesis.

pub mod align;
pub mod calib;
pub mod camera;
pub mod error;
pub mod eval;
pub mod flow;
pub mod frame;
pub mod interp;
pub mod media;
pub mod memory;
pub mod natsort;
pub mod output;
pub mod progress;
pub mod project;
pub mod render;
pub mod spin;
pub mod synth;
pub mod time;
pub mod timeline;

pub use camera::{Camera, Intrinsics, Pose, Rig};
pub use error::{Error, Result};
pub use frame::RgbImage;
pub use time::{Rational, TimeSpec};
