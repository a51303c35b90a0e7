//! Camera calibration: chessboard detection, Zhang's initialisation and board calibration,
//! camera model I/O (COLMAP text models, OpenCV YAML).

pub mod board;
pub mod chessboard;
pub mod colmap;
pub mod opencv_yaml;
pub mod zhang;
