//! Evaluation: image quality metrics (PSNR, SSIM) used by leave-one-out view synthesis tests
//! and benchmarks, pose errors of a calibration against the truth, and the alignment of a
//! rendered orbit against the truth.

pub mod alignment;
pub mod metrics;
pub mod poses;

pub use alignment::{alignment_errors, AlignmentErrors};
pub use metrics::{psnr, ssim};
pub use poses::{pose_errors, PoseErrors};
