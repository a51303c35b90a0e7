//! Camera calibration: camera model I/O (COLMAP text models); estimation comes later.

pub mod colmap;
