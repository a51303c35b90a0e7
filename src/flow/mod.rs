//! Dense optical flow (in progress: the DIS engine lands next).
mod field;
pub mod flo;
pub use field::FlowField;
