//! Camera calibration: camera model I/O (COLMAP text models) and rig self-calibration.

pub mod colmap;
pub mod rig;
