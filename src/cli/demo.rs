//! `timeslice demo`: placeholder until the renderer lands.
use anyhow::Result;
use timeslice::progress::Progress;

/// Render a sample rig and a clip.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_a: Args, _p: &dyn Progress) -> Result<()> {
    anyhow::bail!("not yet")
}
