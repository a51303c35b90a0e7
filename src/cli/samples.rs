//! `timeslice samples`: placeholder until the renderer lands.
use anyhow::Result;
use timeslice::progress::Progress;

/// Render a synthetic rig with ground truth.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_a: Args, _p: &dyn Progress) -> Result<()> {
    anyhow::bail!("not yet")
}
