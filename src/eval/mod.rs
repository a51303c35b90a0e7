//! Evaluation: image quality metrics (PSNR, SSIM) used by leave-one-out view synthesis tests
//! and benchmarks, and pose errors of a calibration against the truth.

pub mod metrics;
pub mod poses;

pub use metrics::{psnr, ssim};
pub use poses::{pose_errors, PoseErrors};
