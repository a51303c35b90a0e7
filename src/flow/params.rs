//! Every knob of the flow engine in one plain-data struct, and the speed presets as data.
//!
//! The names follow Kroeger et al., "Fast Optical Flow using Dense Inverse Search" (ECCV 2016)
//! and OpenCV's `DISOpticalFlow`, so that a value tuned there means the same here. The
//! variational weights (alpha, gamma, delta) are on OpenCV's 0..255 intensity scale: the
//! refinement scales our 0..1 planes by 255 before it uses them.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The largest patch side the inverse search supports (its per-patch scratch lives on the
/// stack).
pub const MAX_PATCH_SIZE: usize = 32;

/// Speed/quality trade-offs, from fastest to most accurate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Fast,
    #[default]
    Balanced,
    Quality,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::Fast, Preset::Balanced, Preset::Quality];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Fast => "fast",
            Preset::Balanced => "balanced",
            Preset::Quality => "quality",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::usage(format!(
                    "unknown flow preset '{s}'; use one of: fast, balanced, quality"
                ))
            })
    }
}

/// All parameters of [`compute_flow`](super::compute_flow).
///
/// Scales are pyramid levels: level 0 is the input resolution, level `s` is downsampled by
/// `2^s`. The search runs from `coarsest_scale` down to `finest_scale`; the result at
/// `finest_scale` is upsampled to the input size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowParams {
    /// The finest pyramid level that is computed (0 = full resolution).
    pub finest_scale: usize,
    /// The coarsest level; `None` picks it from the image size so that the coarsest level is
    /// about `coarsest_width`..2x that wide: large displacements (neighbouring cameras 15-30
    /// degrees apart) need a deep pyramid, and a fixed count would be too shallow at 4K.
    pub coarsest_scale: Option<usize>,
    /// Target width (in pixels, of the larger image side) of the coarsest level when
    /// `coarsest_scale` is `None`.
    pub coarsest_width: usize,
    /// Side of the square patches of the inverse search, in pixels (at most 32).
    pub patch_size: usize,
    /// Distance between neighbouring patches (patch_size - overlap).
    pub patch_stride: usize,
    /// Gauss-Newton iterations per patch and level.
    pub grad_descent_iterations: usize,
    /// Stop a patch's iterations once the update is shorter than this (pixels).
    pub min_update: f32,
    /// Fixed-point iterations of the variational refinement per level (0 disables it).
    pub var_iterations: usize,
    /// SOR sweeps per fixed-point iteration.
    pub sor_iterations: usize,
    /// SOR over-relaxation factor, in (0, 2).
    pub sor_omega: f32,
    /// Smoothness weight of the variational energy.
    pub alpha: f32,
    /// Gradient-constancy weight.
    pub gamma: f32,
    /// Brightness-constancy (intensity) weight.
    pub delta: f32,
    /// Subtract each patch's mean before comparing: robust to exposure and gain differences
    /// between cameras.
    pub mean_normalization: bool,
    /// Let each patch try its already-solved neighbours' flow as a starting point.
    pub spatial_propagation: bool,
    /// Let each patch also start from no motion at all, where that explains the patch with
    /// less than this fraction of the error of its initial guess (0: never): on a rig whose
    /// cameras converge on a subject, the subject barely moves between neighbours while the
    /// scene behind it moves far, and the coarse levels give a small subject the scene's
    /// motion.
    #[serde(default)]
    pub still_candidate: f32,
}

impl Default for FlowParams {
    fn default() -> Self {
        FlowParams::preset(Preset::default())
    }
}

impl FlowParams {
    /// The parameters of a preset. Tuned on 1080p pairs against OpenCV's DIS presets (see the
    /// module documentation of `flow` for the measurements).
    pub fn preset(p: Preset) -> Self {
        let base = FlowParams {
            finest_scale: 2,
            coarsest_scale: None,
            coarsest_width: 30,
            patch_size: 8,
            patch_stride: 4,
            grad_descent_iterations: 12,
            min_update: 0.01,
            var_iterations: 0,
            sor_iterations: 5,
            sor_omega: 1.85,
            alpha: 20.0,
            gamma: 10.0,
            delta: 5.0,
            mean_normalization: true,
            spatial_propagation: false,
            still_candidate: 0.0,
        };
        // Measured on 1080p pairs (see the `flow` module documentation): over-relaxation
        // 1.85 makes the SOR converge far better than OpenCV's 1.6 for the same sweeps, and
        // spatial propagation spread wrong flows into flat areas more often than it helped,
        // so it is off (still available as an option).
        match p {
            Preset::Fast => FlowParams {
                grad_descent_iterations: 8,
                var_iterations: 2,
                ..base
            },
            Preset::Balanced => FlowParams {
                grad_descent_iterations: 12,
                var_iterations: 3,
                ..base
            },
            Preset::Quality => FlowParams {
                patch_stride: 3,
                grad_descent_iterations: 16,
                var_iterations: 5,
                sor_iterations: 8,
                ..base
            },
        }
    }

    /// Checks the values; the message says which parameter and what range is allowed.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::usage(format!("flow parameters: {what}")));
        if self.patch_size < 2 || self.patch_size > MAX_PATCH_SIZE {
            return bad(&format!(
                "patch_size is {}; use 2..={MAX_PATCH_SIZE}",
                self.patch_size
            ));
        }
        if self.patch_stride == 0 || self.patch_stride > self.patch_size {
            return bad(&format!(
                "patch_stride is {}; use 1..=patch_size ({})",
                self.patch_stride, self.patch_size
            ));
        }
        if let Some(c) = self.coarsest_scale {
            if c < self.finest_scale {
                return bad(&format!(
                    "coarsest_scale {c} is finer than finest_scale {}; make it at least that",
                    self.finest_scale
                ));
            }
        }
        if self.coarsest_width == 0 {
            return bad("coarsest_width is 0; use e.g. 30");
        }
        if !(0.0..=1.0).contains(&self.still_candidate) {
            return bad(&format!(
                "still_candidate is {}; use a fraction in 0..=1 (0: off)",
                self.still_candidate
            ));
        }
        if !(self.sor_omega > 0.0 && self.sor_omega < 2.0) {
            return bad(&format!(
                "sor_omega is {}; use a value in (0, 2), e.g. 1.6",
                self.sor_omega
            ));
        }
        for (name, v) in [
            ("alpha", self.alpha),
            ("gamma", self.gamma),
            ("delta", self.delta),
            ("min_update", self.min_update),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(&format!("{name} is {v}; use a finite value >= 0"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_names_round_trip() {
        for p in Preset::ALL {
            assert_eq!(p.to_string().parse::<Preset>().unwrap(), p);
            FlowParams::preset(p).validate().unwrap();
        }
        assert_eq!(" Quality ".parse::<Preset>().unwrap(), Preset::Quality);
        let e = "slow".parse::<Preset>().unwrap_err().to_string();
        assert!(e.contains("slow") && e.contains("balanced"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let p = FlowParams {
            patch_size: 40,
            ..FlowParams::default()
        };
        assert!(p.validate().unwrap_err().to_string().contains("patch_size"));
        let p = FlowParams {
            sor_omega: 2.5,
            ..FlowParams::default()
        };
        assert!(p.validate().unwrap_err().to_string().contains("sor_omega"));
    }
}
