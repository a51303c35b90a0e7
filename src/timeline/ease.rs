//! Easing curves for the orbit: how the virtual camera's position along the path follows
//! time. Linear keeps the angular speed constant; the others start and/or end at rest (the
//! classic "slow in, slow out" of camera moves), with the same total duration.

use crate::error::{Error, Result};
use serde::Serialize;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ease {
    #[default]
    Linear,
    /// Starts at rest and accelerates (quadratic).
    In,
    /// Decelerates to rest (quadratic).
    Out,
    /// Starts and ends at rest (cubic smoothstep).
    InOut,
}

impl Ease {
    /// Progress in [0, 1] at time fraction `u` in [0, 1].
    pub fn apply(self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        match self {
            Ease::Linear => u,
            Ease::In => u * u,
            Ease::Out => 1.0 - (1.0 - u) * (1.0 - u),
            Ease::InOut => u * u * (3.0 - 2.0 * u),
        }
    }
}

impl FromStr for Ease {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "linear" => Ok(Ease::Linear),
            "in" => Ok(Ease::In),
            "out" => Ok(Ease::Out),
            "in-out" | "inout" => Ok(Ease::InOut),
            _ => Err(Error::usage(format!(
                "unknown easing '{s}'; use linear, in, out or in-out"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_run_from_zero_to_one_monotonically() {
        for e in [Ease::Linear, Ease::In, Ease::Out, Ease::InOut] {
            assert_eq!(e.apply(0.0), 0.0);
            assert_eq!(e.apply(1.0), 1.0);
            let mut last = 0.0;
            for i in 1..=100 {
                let v = e.apply(i as f64 / 100.0);
                assert!(v >= last, "{e:?} decreases at {i}");
                last = v;
            }
        }
        assert_eq!(Ease::InOut.apply(0.5), 0.5);
        assert!(Ease::In.apply(0.5) < 0.5 && Ease::Out.apply(0.5) > 0.5);
        assert_eq!("in-out".parse::<Ease>().unwrap(), Ease::InOut);
        assert!("fast".parse::<Ease>().unwrap_err().is_usage());
    }
}
