//! Output presets: what broadcast, web and social delivery each expect, resolved into
//! [`EncodeSettings`]. Presets are data (as in rav1e's speed presets): [`resolve`] starts from
//! the preset's choices and lets every flag the user gave explicitly win, then checks the
//! result with [`check_output`] so a bad combination is a one-line usage error before any work.
//!
//! - broadcast: ProRes 422 HQ (yuv422p10le), 1920x1080, 25, 29.97, 50 or 59.94 fps, start
//!   timecode (drop-frame at 29.97/59.94), a .mov file.
//! - web: H.264 High profile, yuv420p, CRF 20, faststart, the source size (even).
//! - social: as web, vertical 1080x1920; the renderer crops around the focus point with
//!   [`crop_rect`].

use super::encode::{check_output, Codec, EncodeSettings};
use crate::error::{Error, Result};
use crate::time::Rational;
use ffmpeg_next::format::Pixel;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A delivery target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputPreset {
    /// ProRes 422 HQ 1080p MOV with timecode, for playout servers and editing.
    Broadcast,
    /// H.264 High yuv420p MP4, CRF 20, faststart.
    Web,
    /// H.264 like web, vertical 1080x1920.
    Social,
}

impl OutputPreset {
    pub const ALL: [OutputPreset; 3] = [
        OutputPreset::Broadcast,
        OutputPreset::Web,
        OutputPreset::Social,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OutputPreset::Broadcast => "broadcast",
            OutputPreset::Web => "web",
            OutputPreset::Social => "social",
        }
    }
}

impl fmt::Display for OutputPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OutputPreset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        OutputPreset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::usage(format!(
                    "unknown preset '{s}'; use broadcast, web or social"
                ))
            })
    }
}

/// The frame rates a broadcast output may have.
pub const BROADCAST_RATES: [Rational; 4] = [
    Rational { num: 25, den: 1 },
    Rational {
        num: 30000,
        den: 1001,
    },
    Rational { num: 50, den: 1 },
    Rational {
        num: 60000,
        den: 1001,
    },
];

/// The size and rate of what is being rendered (the first camera's, usually).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceFormat {
    pub width: u32,
    pub height: u32,
    pub fps: Rational,
}

/// Settings the user gave explicitly; each one overrides the preset.
#[derive(Clone, Debug, Default)]
pub struct OutputOverrides {
    pub codec: Option<Codec>,
    pub crf: Option<u32>,
    /// Bits per second (H.264/HEVC).
    pub bitrate: Option<u64>,
    /// 1-100 (JPEG/WebP).
    pub quality: Option<u32>,
    pub size: Option<(u32, u32)>,
    pub fps: Option<Rational>,
    /// x264/x265 speed preset.
    pub speed: Option<String>,
    /// Start timecode HH:MM:SS:FF (HH:MM:SS;FF drop-frame).
    pub timecode: Option<String>,
}

fn even(v: u32) -> u32 {
    (v & !1).max(2)
}

/// Resolves a preset (or none) and the user's flags into checked settings for `out`.
pub fn resolve(
    preset: Option<OutputPreset>,
    o: &OutputOverrides,
    source: SourceFormat,
    out: &Path,
) -> Result<EncodeSettings> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let source_size = |codec: Codec| {
        if codec.is_sequence() || codec == Codec::Gif || codec == Codec::Webp {
            (source.width, source.height)
        } else {
            (even(source.width), even(source.height))
        }
    };
    let mut s = match preset {
        None => {
            let codec = o.codec.unwrap_or_else(|| Codec::from_path(out));
            let (w, h) = o.size.unwrap_or_else(|| source_size(codec));
            EncodeSettings::new(codec, w, h, o.fps.unwrap_or(source.fps))
        }
        Some(OutputPreset::Broadcast) => {
            if ext != "mov" {
                return Err(Error::usage(format!(
                    "{}: --preset broadcast writes a QuickTime file; name the output .mov",
                    out.display()
                )));
            }
            let codec = o.codec.unwrap_or(Codec::Prores);
            if !matches!(codec, Codec::Prores | Codec::H264 | Codec::Hevc) {
                return Err(Error::usage(format!(
                    "--preset broadcast writes video; --codec {codec} does not fit (use prores, h264 or hevc)"
                )));
            }
            let allowed = || {
                BROADCAST_RATES
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let fps = match o.fps {
                Some(f) if !BROADCAST_RATES.contains(&f) => {
                    return Err(Error::usage(format!(
                        "--fps {f} is not a broadcast rate; --preset broadcast allows {}",
                        allowed()
                    )))
                }
                Some(f) => f,
                None if BROADCAST_RATES.contains(&source.fps) => source.fps,
                None => BROADCAST_RATES[0],
            };
            let (w, h) = o.size.unwrap_or((1920, 1080));
            let mut s = EncodeSettings::new(codec, w, h, fps);
            if codec == Codec::Prores {
                s.profile = Some("hq".into());
                s.pixel_format = Some(Pixel::YUV422P10LE);
            }
            s.timecode = Some(o.timecode.clone().unwrap_or_else(|| {
                if fps.is_drop_frame_rate() {
                    "00:00:00;00".into()
                } else {
                    "00:00:00:00".into()
                }
            }));
            s
        }
        Some(p @ (OutputPreset::Web | OutputPreset::Social)) => {
            let codec = o.codec.unwrap_or(Codec::H264);
            let (w, h) = o.size.unwrap_or_else(|| {
                if p == OutputPreset::Social {
                    (1080, 1920)
                } else {
                    source_size(codec)
                }
            });
            let mut s = EncodeSettings::new(codec, w, h, o.fps.unwrap_or(source.fps));
            if matches!(codec, Codec::H264 | Codec::Hevc) {
                s.pixel_format = Some(Pixel::YUV420P);
                if o.bitrate.is_none() {
                    s.crf = Some(20);
                }
            }
            if codec == Codec::H264 {
                s.profile = Some("high".into());
            }
            s.faststart = true;
            s
        }
    };
    if o.crf.is_some() {
        s.crf = o.crf;
    }
    s.bitrate = o.bitrate;
    if s.bitrate.is_some() && o.crf.is_none() {
        // A preset's default CRF gives way to an explicit bitrate.
        s.crf = None;
    }
    s.quality = o.quality;
    s.speed = o.speed.clone();
    if o.timecode.is_some() {
        s.timecode = o.timecode.clone();
    }
    check_output(out, &s)?;
    Ok(s)
}

/// The largest rectangle with the aspect of `out_w`x`out_h` inside a `src_w`x`src_h` image,
/// centred vertically and horizontally on `focus_x` (source pixels, clamped so the rectangle
/// stays inside), or on the centre when `None`. Returns (x, y, w, h).
pub fn crop_rect(
    src_w: u32,
    src_h: u32,
    out_w: u32,
    out_h: u32,
    focus_x: Option<f64>,
) -> (u32, u32, u32, u32) {
    let (sw, sh, ow, oh) = (src_w as u64, src_h as u64, out_w as u64, out_h as u64);
    let (w, h) = if sw * oh > sh * ow {
        (((sh * ow) / oh).clamp(1, sw), sh)
    } else {
        (sw, ((sw * oh) / ow).clamp(1, sh))
    };
    let y = (sh - h) / 2;
    let max_x = (sw - w) as f64;
    let x = match focus_x {
        Some(fx) if fx.is_finite() => (fx - w as f64 / 2.0).round().clamp(0.0, max_x) as u64,
        _ => (sw - w) / 2,
    };
    (x as u32, y as u32, w as u32, h as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: SourceFormat = SourceFormat {
        width: 1921,
        height: 1081,
        fps: Rational { num: 50, den: 1 },
    };

    #[test]
    fn names_round_trip() {
        for p in OutputPreset::ALL {
            assert_eq!(p.to_string().parse::<OutputPreset>().unwrap(), p);
        }
        let e = "tv".parse::<OutputPreset>().unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("broadcast, web or social"));
    }

    #[test]
    fn crop_rect_is_inside_and_follows_focus() {
        assert_eq!(crop_rect(1920, 1080, 1080, 1920, None), (656, 0, 607, 1080));
        assert_eq!(
            crop_rect(1920, 1080, 1080, 1920, Some(100.0)),
            (0, 0, 607, 1080)
        );
        assert_eq!(
            crop_rect(1920, 1080, 1080, 1920, Some(1900.0)),
            (1313, 0, 607, 1080)
        );
        assert_eq!(
            crop_rect(1920, 1080, 1080, 1920, Some(1000.0)),
            (697, 0, 607, 1080)
        );
        assert_eq!(
            crop_rect(1000, 1000, 200, 100, Some(500.0)),
            (0, 250, 1000, 500)
        );
        assert_eq!(
            crop_rect(1920, 1080, 1920, 1080, Some(0.0)),
            (0, 0, 1920, 1080)
        );
    }

    #[test]
    fn web_and_social_defaults() {
        let o = OutputOverrides::default();
        let s = resolve(Some(OutputPreset::Web), &o, SRC, Path::new("a.mp4")).unwrap();
        assert_eq!(
            (s.codec, s.width, s.height, s.crf),
            (Codec::H264, 1920, 1080, Some(20))
        );
        assert_eq!(s.pixel(), Pixel::YUV420P);
        assert_eq!(s.profile.as_deref(), Some("high"));
        let s = resolve(Some(OutputPreset::Social), &o, SRC, Path::new("a.mp4")).unwrap();
        assert_eq!((s.width, s.height, s.fps), (1080, 1920, SRC.fps));
        let o = OutputOverrides {
            bitrate: Some(8_000_000),
            ..Default::default()
        };
        let s = resolve(Some(OutputPreset::Web), &o, SRC, Path::new("a.mp4")).unwrap();
        assert_eq!((s.crf, s.bitrate), (None, Some(8_000_000)));
    }

    #[test]
    fn broadcast_rates_and_timecode() {
        let o = OutputOverrides::default();
        let p = Some(OutputPreset::Broadcast);
        let s = resolve(p, &o, SRC, Path::new("a.mov")).unwrap();
        assert_eq!(
            (s.codec, s.width, s.height, s.fps),
            (Codec::Prores, 1920, 1080, SRC.fps)
        );
        assert_eq!(s.pixel(), Pixel::YUV422P10LE);
        assert_eq!(s.timecode.as_deref(), Some("00:00:00:00"));
        let odd = SourceFormat {
            fps: Rational::new(24, 1),
            ..SRC
        };
        assert_eq!(
            resolve(p, &o, odd, Path::new("a.mov")).unwrap().fps,
            Rational::new(25, 1)
        );
        let o = OutputOverrides {
            fps: Some(Rational::new(30000, 1001)),
            ..Default::default()
        };
        let s = resolve(p, &o, SRC, Path::new("a.mov")).unwrap();
        assert_eq!(s.timecode.as_deref(), Some("00:00:00;00"));
        let o = OutputOverrides {
            fps: Some(Rational::new(24, 1)),
            ..Default::default()
        };
        let e = resolve(p, &o, SRC, Path::new("a.mov")).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("30000/1001"), "{e}");
    }

    #[test]
    fn bad_combinations_are_usage_errors() {
        let cases: Vec<(Option<OutputPreset>, OutputOverrides, &str, &str)> = vec![
            (
                Some(OutputPreset::Broadcast),
                Default::default(),
                "a.mp4",
                "name the output .mov",
            ),
            (
                None,
                OutputOverrides {
                    codec: Some(Codec::Prores),
                    crf: Some(18),
                    ..Default::default()
                },
                "a.mov",
                "--crf applies to h264 and hevc",
            ),
            (
                None,
                OutputOverrides {
                    codec: Some(Codec::Png),
                    bitrate: Some(5_000_000),
                    ..Default::default()
                },
                "frames",
                "--bitrate applies to h264 and hevc",
            ),
            (
                None,
                OutputOverrides {
                    bitrate: Some(5_000_000),
                    ..Default::default()
                },
                "a.gif",
                "--bitrate applies to h264 and hevc, not gif",
            ),
            (
                None,
                OutputOverrides {
                    crf: Some(20),
                    bitrate: Some(5_000_000),
                    ..Default::default()
                },
                "a.mp4",
                "not both",
            ),
            (
                None,
                OutputOverrides {
                    codec: Some(Codec::Gif),
                    ..Default::default()
                },
                "a.mp4",
                "name the output .gif",
            ),
            (
                None,
                OutputOverrides {
                    quality: Some(80),
                    ..Default::default()
                },
                "a.mp4",
                "--quality applies to jpeg and webp",
            ),
            (
                None,
                OutputOverrides {
                    timecode: Some("01:00:00;00".into()),
                    ..Default::default()
                },
                "a.mov",
                "drop-frame timecode needs",
            ),
            (
                None,
                OutputOverrides {
                    timecode: Some("01:00:00:00".into()),
                    ..Default::default()
                },
                "a.mkv",
                "only into .mov or .mp4",
            ),
        ];
        for (p, o, out, want) in cases {
            let e = resolve(p, &o, SRC, Path::new(out)).unwrap_err();
            assert!(e.is_usage(), "{e}");
            let msg = e.to_string();
            assert!(msg.contains(want), "{msg} should say {want}");
            assert!(!msg.contains('\n'), "one line: {msg}");
        }
    }
}
