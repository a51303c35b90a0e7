//! Rational frame rates and the time syntax accepted on the command line.
//!
//! Frame rates are rationals (30000/1001), never floats, and frame indices are integers, so
//! that "the frame at 12.48 s" is the same frame on every machine. Accepted time syntax:
//! seconds (`12.48`), `HH:MM:SS.mmm` (or `MM:SS.mmm`), `frame:N`, and timecode `HH:MM:SS:FF`
//! (`HH:MM:SS;FF` for drop-frame at 29.97/59.94).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A positive rational number, used for frame rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rational {
    pub num: i64,
    pub den: i64,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

impl Rational {
    pub fn new(num: i64, den: i64) -> Self {
        assert!(den != 0, "rational with zero denominator");
        let g = gcd(num, den).max(1);
        let s = if den < 0 { -1 } else { 1 };
        Rational {
            num: s * num / g,
            den: s * den / g,
        }
    }

    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// The nominal integer rate used by timecode (30 for 30000/1001).
    pub fn timecode_base(self) -> i64 {
        (self.num + self.den / 2) / self.den
    }

    /// Duration of `frames` frames at this rate, in seconds.
    pub fn frames_to_seconds(self, frames: i64) -> f64 {
        frames as f64 * self.den as f64 / self.num as f64
    }

    pub fn is_drop_frame_rate(self) -> bool {
        self.den == 1001 && (self.num == 30000 || self.num == 60000)
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl FromStr for Rational {
    type Err = Error;
    /// Parses `30`, `30000/1001`, `29.97` (mapped to 30000/1001) or `59.94`, `23.976`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::usage(format!(
                "bad frame rate '{s}': use e.g. 30, 25, 30000/1001 or 29.97"
            ))
        };
        let s = s.trim();
        let r = if let Some((n, d)) = s.split_once('/') {
            let n: i64 = n.trim().parse().map_err(|_| bad())?;
            let d: i64 = d.trim().parse().map_err(|_| bad())?;
            if d == 0 {
                return Err(bad());
            }
            Rational::new(n, d)
        } else if let Ok(n) = s.parse::<i64>() {
            Rational::new(n, 1)
        } else {
            let (n, d) = parse_decimal(s).ok_or_else(bad)?;
            // NTSC rates are written as decimals but mean x000/1001.
            for base in [24i64, 30, 48, 60, 120] {
                let ntsc = base as f64 * 1000.0 / 1001.0;
                if ((n as f64 / d as f64) - ntsc).abs() < 0.006 {
                    return Ok(Rational::new(base * 1000, 1001));
                }
            }
            Rational::new(n, d)
        };
        if r.num <= 0 {
            return Err(bad());
        }
        Ok(r)
    }
}

impl TryFrom<String> for Rational {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Rational> for String {
    fn from(r: Rational) -> String {
        r.to_string()
    }
}

/// Parses a non-negative decimal like `12.48` exactly into num/den.
fn parse_decimal(s: &str) -> Option<(i64, i64)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 {
        return None;
    }
    let i: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let den = 10i64.pow(frac.len() as u32);
    let f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    Some((i.checked_mul(den)?.checked_add(f)?, den))
}

/// A point in time as the user wrote it; resolved to a frame index per camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSpec {
    /// Exact seconds as num/den (12.48 = 1248/100).
    Seconds { num: i64, den: i64 },
    /// A frame index.
    Frame(i64),
    /// Timecode HH:MM:SS:FF; `drop` for `;` separators.
    Timecode {
        h: i64,
        m: i64,
        s: i64,
        f: i64,
        drop: bool,
    },
}

impl FromStr for TimeSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::usage(format!(
                "bad time '{s}': use seconds (12.48), HH:MM:SS.mmm, frame:N or timecode HH:MM:SS:FF"
            ))
        };
        let t = s.trim();
        if let Some(n) = t.strip_prefix("frame:") {
            let n: i64 = n.trim().parse().map_err(|_| bad())?;
            if n < 0 {
                return Err(bad());
            }
            return Ok(TimeSpec::Frame(n));
        }
        let drop = t.contains(';');
        let parts: Vec<&str> = t.split([':', ';']).collect();
        let int = |p: &str| -> Result<i64> {
            if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        match parts.len() {
            1 => {
                let (num, den) = parse_decimal(t).ok_or_else(bad)?;
                Ok(TimeSpec::Seconds { num, den })
            }
            2 | 3 if !drop => {
                // [HH:]MM:SS(.mmm)
                let (h, m, sec) = if parts.len() == 3 {
                    (int(parts[0])?, int(parts[1])?, parts[2])
                } else {
                    (0, int(parts[0])?, parts[1])
                };
                let (num, den) = parse_decimal(sec).ok_or_else(bad)?;
                if m >= 60 || num >= 60 * den {
                    return Err(bad());
                }
                Ok(TimeSpec::Seconds {
                    num: (h * 3600 + m * 60) * den + num,
                    den,
                })
            }
            4 => {
                let (h, m, sec, f) = (
                    int(parts[0])?,
                    int(parts[1])?,
                    int(parts[2])?,
                    int(parts[3])?,
                );
                if m >= 60 || sec >= 60 {
                    return Err(bad());
                }
                Ok(TimeSpec::Timecode {
                    h,
                    m,
                    s: sec,
                    f,
                    drop,
                })
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for TimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimeSpec::Seconds { num, den } => write!(f, "{}s", num as f64 / den as f64),
            TimeSpec::Frame(n) => write!(f, "frame:{n}"),
            TimeSpec::Timecode {
                h,
                m,
                s,
                f: ff,
                drop,
            } => {
                let sep = if drop { ';' } else { ':' };
                write!(f, "{h:02}:{m:02}:{s:02}{sep}{ff:02}")
            }
        }
    }
}

impl TimeSpec {
    /// The frame index this time names at `fps`, relative to the start of the footage.
    ///
    /// Seconds pick the frame displayed at that instant (floor of t * fps, exact arithmetic).
    /// Timecode counts from `start_timecode` (in frames) when the footage carries one.
    pub fn to_frame(self, fps: Rational, start_timecode: Option<i64>) -> Result<i64> {
        match self {
            TimeSpec::Frame(n) => Ok(n),
            TimeSpec::Seconds { num, den } => {
                // floor(num/den * fps.num/fps.den)
                let n = num as i128 * fps.num as i128;
                let d = den as i128 * fps.den as i128;
                Ok((n / d) as i64)
            }
            TimeSpec::Timecode { h, m, s, f, drop } => {
                let base = fps.timecode_base();
                if f >= base {
                    return Err(Error::usage(format!(
                        "bad timecode {self}: frame field {f} must be below {base} at {fps} fps"
                    )));
                }
                let frames = timecode_to_frames(h, m, s, f, base, drop && fps.is_drop_frame_rate());
                Ok(frames - start_timecode.unwrap_or(0))
            }
        }
    }
}

/// Frames since 00:00:00:00 for a timecode; drop-frame skips frames 0 and 1 (per 30 fps) of
/// every minute except each tenth minute.
pub fn timecode_to_frames(h: i64, m: i64, s: i64, f: i64, base: i64, drop: bool) -> i64 {
    let total_minutes = h * 60 + m;
    let mut frames = ((total_minutes * 60) + s) * base + f;
    if drop {
        let dropped_per_min = base / 15; // 2 at 30, 4 at 60
        frames -= dropped_per_min * (total_minutes - total_minutes / 10);
    }
    frames
}

/// Parses a timecode string such as `01:00:00:00` (as found in a container's metadata) into
/// frames since midnight.
pub fn parse_timecode(tc: &str, fps: Rational) -> Option<i64> {
    match tc.parse::<TimeSpec>().ok()? {
        TimeSpec::Timecode { h, m, s, f, drop } => Some(timecode_to_frames(
            h,
            m,
            s,
            f,
            fps.timecode_base(),
            drop && fps.is_drop_frame_rate(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &str, fps: &str) -> i64 {
        s.parse::<TimeSpec>()
            .unwrap()
            .to_frame(fps.parse().unwrap(), None)
            .unwrap()
    }

    #[test]
    fn rationals_parse_and_reduce() {
        assert_eq!(
            "30000/1001".parse::<Rational>().unwrap(),
            Rational::new(30000, 1001)
        );
        assert_eq!(
            "29.97".parse::<Rational>().unwrap(),
            Rational::new(30000, 1001)
        );
        assert_eq!(
            "59.94".parse::<Rational>().unwrap(),
            Rational::new(60000, 1001)
        );
        assert_eq!("25".parse::<Rational>().unwrap(), Rational::new(25, 1));
        assert_eq!("50/2".parse::<Rational>().unwrap(), Rational::new(25, 1));
        assert_eq!("12.5".parse::<Rational>().unwrap(), Rational::new(25, 2));
        for bad in ["", "0", "-5", "1/0", "abc", "30/x"] {
            assert!(bad.parse::<Rational>().is_err(), "{bad}");
        }
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(frame("12.48", "25"), 312);
        assert_eq!(frame("0.1", "30"), 3);
        assert_eq!(frame("1", "30000/1001"), 29); // 29.97 frames in 1 s: frame 29 is showing
        assert_eq!(frame("1.001", "30000/1001"), 30);
        assert_eq!(frame("0", "30"), 0);
    }

    #[test]
    fn clock_syntax() {
        assert_eq!(frame("00:00:12.480", "25"), 312);
        assert_eq!(frame("01:02.5", "10"), 625);
        assert_eq!(frame("1:00:00", "1"), 3600);
        assert!("00:61:00".parse::<TimeSpec>().is_err());
    }

    #[test]
    fn frame_syntax() {
        assert_eq!(frame("frame:17", "30"), 17);
        assert!("frame:-1".parse::<TimeSpec>().is_err());
        assert!("frame:x".parse::<TimeSpec>().is_err());
    }

    #[test]
    fn timecode_syntax() {
        assert_eq!(frame("00:00:01:05", "25"), 30);
        assert_eq!(frame("00:01:00:00", "30000/1001"), 1800);
        // Drop-frame: 00:01:00;02 is the first frame of minute 1 = frame 1800.
        assert_eq!(frame("00:01:00;02", "30000/1001"), 1800);
        assert_eq!(frame("00:10:00;00", "30000/1001"), 17982);
        let tc: TimeSpec = "01:00:00:10".parse().unwrap();
        let start = parse_timecode("01:00:00:00", Rational::new(25, 1));
        assert_eq!(tc.to_frame(Rational::new(25, 1), start).unwrap(), 10);
        let over: TimeSpec = "00:00:00:25".parse().unwrap();
        assert!(over.to_frame(Rational::new(25, 1), None).is_err());
    }

    #[test]
    fn garbage_is_rejected_with_the_syntax() {
        for bad in ["", "abc", "1.2.3", "-1", "1:2:3:4:5", "12,5"] {
            let e = bad.parse::<TimeSpec>().unwrap_err().to_string();
            assert!(e.contains("frame:N"), "{bad}: {e}");
        }
    }
}
