//! Middlebury .flo files: "PIEH" magic (202021.25 as f32), width and height as i32, then
//! interleaved (u, v) f32 rows, all little endian.
use super::FlowField;
use crate::error::{Error, Result};
use std::path::Path;

const MAGIC: f32 = 202021.25;

pub fn write(path: &Path, flow: &FlowField) -> Result<()> {
    let mut bytes = Vec::with_capacity(12 + flow.u.len() * 8);
    bytes.extend_from_slice(&MAGIC.to_le_bytes());
    bytes.extend_from_slice(&(flow.width as i32).to_le_bytes());
    bytes.extend_from_slice(&(flow.height as i32).to_le_bytes());
    for (u, v) in flow.u.iter().zip(&flow.v) {
        bytes.extend_from_slice(&u.to_le_bytes());
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, "cannot write .flo", e))
}

pub fn read(path: &Path) -> Result<FlowField> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read .flo", e))?;
    let word = |i: usize| -> [u8; 4] { bytes[i..i + 4].try_into().expect("4 bytes") };
    if bytes.len() < 12 || f32::from_le_bytes(word(0)) != MAGIC {
        return Err(Error::input(
            path,
            "not a Middlebury .flo file (wrong magic number)",
        ));
    }
    let (w, h) = (i32::from_le_bytes(word(4)), i32::from_le_bytes(word(8)));
    if w <= 0 || h <= 0 || (w as u64 * h as u64) > (1 << 28) {
        return Err(Error::input(
            path,
            format!("implausible .flo size {w}x{h}; the file is corrupt"),
        ));
    }
    let n = w as usize * h as usize;
    if bytes.len() != 12 + n * 8 {
        return Err(Error::input(
            path,
            format!("truncated .flo: {} bytes for {w}x{h}", bytes.len()),
        ));
    }
    let (mut u, mut v) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        u.push(f32::from_le_bytes(word(12 + i * 8)));
        v.push(f32::from_le_bytes(word(16 + i * 8)));
    }
    Ok(FlowField {
        width: w as usize,
        height: h as usize,
        u,
        v,
    })
}
