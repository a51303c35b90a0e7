//! Footage generated inside the tests: every frame carries its camera index and frame index
//! as large black/white blocks that survive lossy encoding.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use timeslice::media::encode::{ClipWriter, Codec, EncodeSettings};
use timeslice::{Rational, RgbImage};

/// Blocks per row and rows of blocks: 6 bits of camera, 8 bits of frame, 2 guard bits.
const COLS: u32 = 4;
const ROWS: u32 = 4;

/// A frame whose blocks spell (camera, frame); `tint` shifts the background so cameras
/// can also differ in colour.
pub fn pattern(width: u32, height: u32, camera: u32, frame: u32) -> RgbImage {
    let code = encode(camera, frame);
    let mut img = RgbImage::new(width, height);
    for y in 0..height {
        for x in 0..width {
            let bit = (y * ROWS / height) * COLS + x * COLS / width;
            let v = if code >> bit & 1 == 1 { 230 } else { 25 };
            img.put(x, y, [v, v, v]);
        }
    }
    img
}

fn encode(camera: u32, frame: u32) -> u32 {
    assert!(camera < 64 && frame < 256);
    // Bit 0 always set and bit 15 always clear: a frame of the wrong polarity is caught.
    1 | (camera << 1) | (frame << 7)
}

/// Reads (camera, frame) back from a decoded frame of any size.
pub fn read_pattern(img: &RgbImage) -> (u32, u32) {
    let mut code = 0u32;
    let (bw, bh) = (img.width / COLS, img.height / ROWS);
    for bit in 0..COLS * ROWS {
        let (bx, by) = (bit % COLS, bit / COLS);
        let m = img.mean_rgb(bx * bw + bw / 4, by * bh + bh / 4, bw / 2, bh / 2);
        let lum = (m[0] + m[1] + m[2]) / 3.0;
        assert!(
            !(70.0..180.0).contains(&lum),
            "block {bit} is ambiguous ({lum:.0}): not a pattern frame"
        );
        if lum > 128.0 {
            code |= 1 << bit;
        }
    }
    assert_eq!(code & 1, 1, "guard bit 0 not set: code {code:#x}");
    assert_eq!(code >> 15, 0, "guard bit 15 set: code {code:#x}");
    ((code >> 1) & 63, (code >> 7) & 255)
}

/// Encodes `frames` pattern frames of `camera` into `path`.
pub fn write_video(
    path: &Path,
    camera: u32,
    frames: u32,
    fps: Rational,
    size: (u32, u32),
    tune: impl FnOnce(&mut EncodeSettings),
) {
    let mut s = EncodeSettings::new(Codec::H264, size.0, size.1, fps);
    s.threads = 1;
    s.speed = Some("veryfast".into());
    tune(&mut s);
    let mut w = ClipWriter::create(path, s).unwrap();
    for f in 0..frames {
        w.push(&pattern(size.0, size.1, camera, f), 1).unwrap();
    }
    w.finish().unwrap();
}

/// A rig of `cameras` pattern videos (160x120, 10 fps) in `dir`, named cam1.mp4 ...
pub fn write_rig(dir: &Path, cameras: u32, frames: u32) -> Vec<PathBuf> {
    (0..cameras)
        .map(|c| {
            let p = dir.join(format!("cam{}.mp4", c + 1));
            write_video(&p, c, frames, Rational::new(10, 1), (160, 120), |s| {
                s.gop = Some(4)
            });
            p
        })
        .collect()
}

pub fn timeslice() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_timeslice"));
    c.arg("--quiet");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str]) -> Run {
    let out = timeslice().args(args).output().expect("runs timeslice");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Names of the entries of a folder, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
