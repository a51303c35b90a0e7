//! Evaluation: image quality metrics (PSNR, SSIM) used by leave-one-out view synthesis tests
//! and benchmarks.

pub mod metrics;

pub use metrics::{psnr, ssim};
