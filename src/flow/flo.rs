//! Middlebury `.flo` files (Baker et al., "A Database and Evaluation Methodology for Optical
//! Flow", IJCV 2011), the format the project stores flow in.
//!
//! Layout, all little endian: the tag 202021.25 as f32 (the bytes "PIEH", which also catch a
//! wrong byte order), width and height as i32, then width x height pairs (u, v) of f32, row
//! by row. Values above 1e9 in magnitude mean "unknown". Reading and writing are bit-exact;
//! writing goes to a temporary file beside the target that is renamed on success.

use super::FlowField;
use crate::error::{Error, Result};
use crate::output::AtomicOutput;
use std::path::Path;

/// The tag at the start of every .flo file.
pub const FLO_TAG: f32 = 202021.25;

/// Sides above this are rejected as corrupt rather than attempted (a 100000 x 100000 flow
/// would need 80 GB).
const MAX_SIDE: usize = 100_000;

/// Reads a .flo file.
pub fn read_flo(path: impl AsRef<Path>) -> Result<FlowField> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read flow file", e))?;
    decode_flo(&bytes, path)
}

/// Parses the bytes of a .flo file; `path` is only used in error messages.
pub fn decode_flo(bytes: &[u8], path: &Path) -> Result<FlowField> {
    let bad = |msg: String| Error::input(path, msg);
    if bytes.len() < 12 {
        return Err(bad(format!(
            "not a Middlebury .flo file: {} bytes, shorter than the 12-byte header; check that \
             the file was written completely",
            bytes.len()
        )));
    }
    let word = |i: usize| [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
    let tag = f32::from_le_bytes(word(0));
    if tag != FLO_TAG {
        return Err(bad(format!(
            "not a Middlebury .flo file: the tag is {:?}, expected \"PIEH\" (202021.25); \
             check that this is a flow file",
            String::from_utf8_lossy(&bytes[..4])
        )));
    }
    let (w, h) = (i32::from_le_bytes(word(4)), i32::from_le_bytes(word(8)));
    if w <= 0 || h <= 0 || w as usize > MAX_SIDE || h as usize > MAX_SIDE {
        return Err(bad(format!(
            "corrupt .flo header: size {w}x{h} is not plausible (each side must be 1..={MAX_SIDE}); \
             the file is damaged, recompute the flow"
        )));
    }
    let (w, h) = (w as usize, h as usize);
    let expected = 12 + 8 * w * h;
    if bytes.len() != expected {
        let what = if bytes.len() < expected {
            "truncated"
        } else {
            "has trailing data"
        };
        return Err(bad(format!(
            ".flo file {what}: a {w}x{h} flow needs {expected} bytes, the file has {}; \
             recompute or re-copy it",
            bytes.len()
        )));
    }
    let mut flow = FlowField::new(w, h);
    for (i, pair) in bytes[12..].chunks_exact(8).enumerate() {
        flow.u[i] = f32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]);
        flow.v[i] = f32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]);
    }
    Ok(flow)
}

/// The bytes of a .flo file for `flow`.
pub fn encode_flo(flow: &FlowField) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 8 * flow.u.len());
    out.extend_from_slice(&FLO_TAG.to_le_bytes());
    out.extend_from_slice(&(flow.width as i32).to_le_bytes());
    out.extend_from_slice(&(flow.height as i32).to_le_bytes());
    for (u, v) in flow.u.iter().zip(&flow.v) {
        out.extend_from_slice(&u.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes a .flo file atomically (temporary file beside the target, then rename).
pub fn write_flo(path: impl AsRef<Path>, flow: &FlowField) -> Result<()> {
    let path = path.as_ref();
    if flow.width == 0 || flow.height == 0 || flow.width > MAX_SIDE || flow.height > MAX_SIDE {
        return Err(Error::output(
            path,
            format!(
                "cannot store a {}x{} flow in a .flo file (each side must be 1..={MAX_SIDE})",
                flow.width, flow.height
            ),
        ));
    }
    let out = AtomicOutput::file(path)?;
    std::fs::write(out.path(), encode_flo(flow)).map_err(|e| {
        Error::io(
            path,
            "cannot write flow file (check the folder is writable)",
            e,
        )
    })?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FlowField {
        let mut f = FlowField::from_fn(7, 5, |x, y| (x as f32 * 0.37 - 1.0, -(y as f32) / 3.0));
        f.u[3] = f32::NAN;
        f.v[4] = 1e10; // unknown
        f.u[5] = f32::MIN_POSITIVE / 2.0; // subnormal
        f
    }

    #[test]
    fn round_trip_is_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.flo");
        let f = sample();
        write_flo(&path, &f).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], b"PIEH");
        assert_eq!(bytes.len(), 12 + 8 * 35);
        let g = read_flo(&path).unwrap();
        assert_eq!((g.width, g.height), (7, 5));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&f.u), bits(&g.u));
        assert_eq!(bits(&f.v), bits(&g.v));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_files_are_named_and_explained() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = encode_flo(&sample());
        let truncated = dir.path().join("short.flo");
        std::fs::write(&truncated, &bytes[..bytes.len() - 5]).unwrap();
        let e = read_flo(&truncated).unwrap_err().to_string();
        assert!(e.contains("short.flo") && e.contains("truncated"), "{e}");

        bytes[0] = b'X';
        let magic = dir.path().join("magic.flo");
        std::fs::write(&magic, &bytes).unwrap();
        let e = read_flo(&magic).unwrap_err().to_string();
        assert!(e.contains("magic.flo") && e.contains("PIEH"), "{e}");

        let mut huge = encode_flo(&FlowField::new(1, 1));
        huge[4..8].copy_from_slice(&2_000_000_000i32.to_le_bytes());
        let e = decode_flo(&huge, Path::new("huge.flo"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("huge.flo") && e.contains("not plausible"), "{e}");
        huge[4..8].copy_from_slice(&(-3i32).to_le_bytes());
        assert!(decode_flo(&huge, Path::new("neg.flo")).is_err());

        let e = read_flo(dir.path().join("missing.flo")).unwrap_err();
        assert!(e.to_string().contains("missing.flo"));
        let e = decode_flo(b"PIE", Path::new("tiny.flo"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tiny.flo"), "{e}");
    }
}
