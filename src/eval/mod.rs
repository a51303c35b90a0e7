//! Evaluation: image quality metrics (PSNR, SSIM) used by leave-one-out view synthesis tests
//! and benchmarks, pose errors of a calibration against the truth, and the alignment of a
//! rendered orbit against the truth, and the subject's scores (box PSNR, marker area) that
//! whole-frame averages hide.

pub mod alignment;
pub mod metrics;
pub mod poses;
pub mod subject;

pub use alignment::{alignment_errors, AlignmentErrors};
pub use metrics::{psnr, psnr_region, ssim};
pub use poses::{pose_errors, PoseErrors};
pub use subject::{subject_score, SubjectScore};
