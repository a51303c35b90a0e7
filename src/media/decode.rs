//! Frame-accurate decoding of video files through FFmpeg.
//!
//! Random access by frame index: seek to the keyframe at or before the target, decode
//! forward and compare each frame's presentation timestamp with the target's. Frames that
//! come out before the first keyframe after a seek (the leading pictures of an open GOP,
//! which reference frames we never decoded) are discarded; if the first usable frame is
//! already past the target, we seek further back and try again. Requests a little ahead of
//! the current position decode forward without seeking, so reading a clip in order is cheap.

use super::colour::{self, Converter};
use super::{SourceInfo, SourceKind};
use crate::error::{Error, Result};
use crate::frame::RgbImage;
use crate::time::Rational;
use ff::format::Pixel;
use ff::util::frame::Video as AvFrame;
use ffmpeg_next as ff;
use std::path::{Path, PathBuf};

/// Decode forward instead of seeking when the target is at most this many frames ahead.
const FORWARD_WINDOW: i64 = 90;

pub struct VideoSource {
    path: PathBuf,
    info: SourceInfo,
    input: ff::format::context::Input,
    decoder: ff::decoder::Video,
    stream: usize,
    time_base: ff::Rational,
    fps: Rational,
    start_pts: i64,
    packet: ff::Packet,
    decoded: AvFrame,
    /// The most recent usable frame since the last seek, and its index.
    held: Option<(i64, AvFrame)>,
    /// A frame decoded past a request (after a timestamp gap), returned by the next read.
    pending: Option<(i64, AvFrame)>,
    /// Seen a keyframe since the last seek (frames before it are not trustworthy).
    synced: bool,
    key_pts: i64,
    skipped_unsynced: u32,
    eof_sent: bool,
    converter: Option<Converter>,
}

// SAFETY: the FFmpeg contexts are owned by this value and only used through &mut self.
unsafe impl Send for VideoSource {}

fn ff_err(path: &Path, what: &str, e: ff::Error) -> Error {
    Error::input(path, format!("{what} ({e})"))
}

/// Opens `path` with FFmpeg's demuxer.
fn open_input(path: &Path) -> Result<ff::format::context::Input> {
    super::init();
    ff::format::input(&path).map_err(|e| {
        ff_err(
            path,
            "cannot open as video: the file is corrupt, truncated or not a format FFmpeg reads; re-export or re-copy it",
            e,
        )
    })
}

/// The video stream's packets with their data in the file, read without decoding
/// ([`super::frames_present`]).
pub(crate) fn packets_present(path: &Path) -> Result<u64> {
    let mut input = open_input(path)?;
    let Some(video) = input
        .streams()
        .best(ff::media::Type::Video)
        .map(|s| s.index())
    else {
        return Ok(0);
    };
    let mut n = 0;
    let mut packet = ff::Packet::empty();
    // Any read error ends the count: what follows it cannot be decoded in order.
    while packet.read(&mut input).is_ok() {
        if packet.stream() == video && packet.size() > 0 && !packet.is_corrupt() {
            n += 1;
        }
    }
    Ok(n)
}

impl VideoSource {
    pub fn open(path: &Path) -> Result<Self> {
        let input = open_input(path)?;
        let (stream, time_base, params, start, nb_frames, avg_rate, r_rate, stream_tc) = {
            let st = input
                .streams()
                .best(ff::media::Type::Video)
                .ok_or_else(|| {
                    Error::input(
                    path,
                    "no video stream; give a video file, an image, or a folder of numbered images",
                )
                })?;
            (
                st.index(),
                st.time_base(),
                st.parameters(),
                st.start_time(),
                st.frames(),
                st.avg_frame_rate(),
                st.rate(),
                st.metadata().get("timecode").map(str::to_string),
            )
        };
        let audio = input.streams().best(ff::media::Type::Audio).is_some();
        let timecode = stream_tc
            .or_else(|| input.metadata().get("timecode").map(str::to_string))
            .or_else(|| {
                input
                    .streams()
                    .find_map(|s| s.metadata().get("timecode").map(str::to_string))
            });

        let mut ctx = ff::codec::context::Context::from_parameters(params)
            .map_err(|e| ff_err(path, "cannot read the video stream's parameters", e))?;
        let mut threading = ctx.threading();
        threading.kind = ff::threading::Type::Frame;
        threading.count = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        ctx.set_threading(threading);
        let decoder = ctx.decoder().video().map_err(|e| {
            ff_err(
                path,
                "no decoder for this video codec in the system FFmpeg; transcode it (e.g. to H.264)",
                e,
            )
        })?;
        let codec = decoder
            .codec()
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| format!("{:?}", decoder.id()).to_lowercase());
        let pixel_format = pixel_name(decoder.format());
        let (width, height) = (decoder.width(), decoder.height());
        if width == 0 || height == 0 {
            return Err(Error::input(
                path,
                "the video stream has no picture size; the file is probably corrupt",
            ));
        }

        let rate = if avg_rate.numerator() > 0 && avg_rate.denominator() > 0 {
            avg_rate
        } else {
            r_rate
        };
        if rate.numerator() <= 0 || rate.denominator() <= 0 {
            return Err(Error::input(
                path,
                "the video has no frame rate; remux it with a constant frame rate",
            ));
        }
        let fps = Rational::new(rate.numerator() as i64, rate.denominator() as i64);
        let start_pts = if start == ff::ffi::AV_NOPTS_VALUE {
            0
        } else {
            start
        };

        let mut src = VideoSource {
            path: path.to_path_buf(),
            info: SourceInfo {
                path: path.to_path_buf(),
                kind: SourceKind::Video,
                width,
                height,
                fps: Some(fps),
                frame_count: 0,
                duration: 0.0,
                codec,
                pixel_format,
                timecode,
                audio,
            },
            input,
            decoder,
            stream,
            time_base,
            fps,
            start_pts,
            packet: ff::Packet::empty(),
            decoded: AvFrame::empty(),
            held: None,
            pending: None,
            synced: false,
            key_pts: i64::MIN,
            skipped_unsynced: 0,
            eof_sent: false,
            converter: None,
        };
        // Containers without a frame count (MKV, WebM) get their packets counted, which needs
        // no decoding.
        let count = if nb_frames > 0 {
            nb_frames
        } else {
            src.count_packets()?
        };
        if count <= 0 {
            return Err(Error::input(
                path,
                "the video stream holds no frames; the file is empty or truncated",
            ));
        }
        src.info.frame_count = count as u64;
        src.info.duration = fps.frames_to_seconds(count);
        // Decode the first frame now so a corrupt stream is reported at open, naming the file.
        src.seek_to(0)?;
        src.advance_to(0)?;
        Ok(src)
    }

    fn count_packets(&mut self) -> Result<i64> {
        let mut n = 0;
        loop {
            match self.packet.read(&mut self.input) {
                Ok(()) => {
                    if self.packet.stream() == self.stream {
                        n += 1;
                    }
                }
                Err(ff::Error::Eof) => break,
                Err(e) => {
                    return Err(ff_err(
                        &self.path,
                        "cannot read the file; it is corrupt or truncated",
                        e,
                    ))
                }
            }
        }
        Ok(n)
    }

    /// Index of a timestamp in stream time base units.
    fn index_of(&self, pts: i64) -> i64 {
        let num = (pts - self.start_pts) as i128
            * self.time_base.numerator() as i128
            * self.fps.num as i128;
        let den = self.time_base.denominator() as i128 * self.fps.den as i128;
        // round to nearest
        ((2 * num + den).div_euclid(2 * den)) as i64
    }

    fn pts_of(&self, index: i64) -> i64 {
        let num = index as i128 * self.fps.den as i128 * self.time_base.denominator() as i128;
        let den = self.fps.num as i128 * self.time_base.numerator() as i128;
        self.start_pts + (num / den) as i64
    }

    /// Seeks so that decoding starts at a keyframe at or before frame `index - back`.
    fn seek_to(&mut self, index: i64) -> Result<()> {
        let ts = self.pts_of(index.max(0));
        // avformat_seek_file with stream -1 takes AV_TIME_BASE (microseconds).
        let us = ((ts as i128 * self.time_base.numerator() as i128 * 1_000_000)
            .div_euclid(self.time_base.denominator() as i128)) as i64;
        let res = if index <= 0 {
            self.input.seek(i64::MIN, i64::MIN..i64::MAX)
        } else {
            self.input.seek(us, i64::MIN..us + 1)
        };
        if let Err(e) = res {
            if index > 0 {
                // Some files seek only to the start; decoding forward from there is still exact.
                self.input
                    .seek(i64::MIN, i64::MIN..i64::MAX)
                    .map_err(|e2| ff_err(&self.path, &format!("cannot seek ({e})"), e2))?;
            }
        }
        self.decoder.flush();
        self.held = None;
        self.pending = None;
        self.synced = false;
        self.key_pts = i64::MIN;
        self.skipped_unsynced = 0;
        self.eof_sent = false;
        Ok(())
    }

    /// Decodes the next usable frame into `self.decoded`; returns its index, or None at EOF.
    fn next_frame(&mut self) -> Result<Option<i64>> {
        loop {
            match self.decoder.receive_frame(&mut self.decoded) {
                Ok(()) => {
                    let Some(pts) = self.decoded.timestamp().or(self.decoded.pts()) else {
                        continue;
                    };
                    if !self.synced {
                        // Leading pictures of an open GOP precede the keyframe; skip until the
                        // decoder hands us a keyframe (or clearly never flags one).
                        if self.decoded.is_key() || self.skipped_unsynced > 300 {
                            self.synced = true;
                            self.key_pts = pts;
                        } else {
                            self.skipped_unsynced += 1;
                            continue;
                        }
                    } else if pts < self.key_pts {
                        continue;
                    }
                    if self.decoded.is_corrupt() {
                        return Err(Error::input(
                            &self.path,
                            format!(
                                "frame {} is corrupt; the file is damaged, re-copy or re-export it",
                                self.index_of(pts)
                            ),
                        ));
                    }
                    return Ok(Some(self.index_of(pts)));
                }
                Err(ff::Error::Eof) => return Ok(None),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {}
                Err(e) => {
                    return Err(ff_err(
                        &self.path,
                        "cannot decode the video; the file is corrupt",
                        e,
                    ))
                }
            }
            if self.eof_sent {
                return Ok(None);
            }
            match self.packet.read(&mut self.input) {
                Ok(()) => {
                    if self.packet.stream() != self.stream {
                        continue;
                    }
                    if let Err(e) = self.decoder.send_packet(&self.packet) {
                        match e {
                            ff::Error::InvalidData => {
                                // A damaged packet: the decoder reports it; keep going, the frame
                                // check above catches frames built from it.
                            }
                            e => {
                                return Err(ff_err(
                                    &self.path,
                                    "cannot decode the video; the file is corrupt",
                                    e,
                                ))
                            }
                        }
                    }
                }
                Err(ff::Error::Eof) => {
                    self.eof_sent = true;
                    let _ = self.decoder.send_eof();
                }
                Err(e) => {
                    return Err(ff_err(
                        &self.path,
                        "cannot read the file; it is corrupt or truncated",
                        e,
                    ))
                }
            }
        }
    }

    /// Decodes forward until frame `index` is held. Returns false when the first usable frame
    /// after the last seek is already past `index` (the caller seeks further back).
    fn advance_to(&mut self, index: i64) -> Result<bool> {
        loop {
            if let Some((i, _)) = &self.held {
                if *i == index {
                    return Ok(true);
                }
            }
            let next = match self.pending.take() {
                Some(p) => Some(p),
                None => self.next_frame()?.map(|i| {
                    let mut f = AvFrame::empty();
                    std::mem::swap(&mut f, &mut self.decoded);
                    (i, f)
                }),
            };
            match next {
                Some((i, f)) if i <= index => self.held = Some((i, f)),
                Some(p) => {
                    // Past the target: a gap in timestamps (the held frame is still showing at
                    // `index`), or we seeked too late.
                    self.pending = Some(p);
                    return Ok(self.held.is_some());
                }
                None => {
                    return match &self.held {
                        Some((i, _)) => Err(Error::input(
                            &self.path,
                            format!(
                                "the file ends at frame {i} but claims {} frames; it is truncated, re-copy it",
                                self.info.frame_count
                            ),
                        )),
                        None => Ok(false),
                    };
                }
            }
        }
    }

    fn held_to_rgb(&mut self) -> Result<RgbImage> {
        let (_, f) = self.held.as_ref().expect("a frame is held");
        let (w, h) = (f.width(), f.height());
        let matrix = colour::matrix_for(f.color_space(), h);
        let conv = Converter::get(
            &mut self.converter,
            (f.format(), w, h),
            (Pixel::RGB24, w, h),
            matrix,
            f.color_range(),
            ff::util::color::Range::JPEG,
        )
        .map_err(|e| ff_err(&self.path, "cannot convert the frame to RGB", e))?;
        let mut rgb = AvFrame::new(Pixel::RGB24, w, h);
        conv.run(f, &mut rgb)
            .map_err(|e| ff_err(&self.path, "cannot convert the frame to RGB", e))?;
        Ok(colour::rgb_frame_to_image(&rgb))
    }
}

impl super::FrameSource for VideoSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn frame(&mut self, index: i64) -> Result<RgbImage> {
        let count = self.info.frame_count as i64;
        if index < 0 || index >= count {
            // The caller asked for a frame the footage does not have: a usage error (exit 2),
            // whichever command asked.
            return Err(Error::usage(format!(
                "{}: frame {index} is outside the footage (frames 0..{}, {:.3} s); pick a frame inside it",
                self.path.display(),
                count - 1,
                self.info.duration
            )));
        }
        let ahead = match &self.held {
            Some((i, _)) => *i <= index && index - *i <= FORWARD_WINDOW,
            None => false,
        };
        if !(ahead && self.advance_to(index)?) {
            // Seek, backing off further each time the first usable frame lands past the target.
            let mut back = 0i64;
            loop {
                self.seek_to(index - back)?;
                if self.advance_to(index)? {
                    break;
                }
                if index - back <= 0 {
                    return Err(Error::input(
                        &self.path,
                        format!("cannot decode frame {index}; the file is corrupt"),
                    ));
                }
                back = (back * 2).max(self.fps.timecode_base().max(1));
            }
        }
        self.held_to_rgb()
    }
}

/// FFmpeg's name for a pixel format ("yuv420p").
pub fn pixel_name(p: Pixel) -> String {
    p.descriptor()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|| format!("{p:?}").to_lowercase())
}
