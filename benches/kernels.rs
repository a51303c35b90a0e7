//! Criterion benches of the hot kernels: frame-accurate decoding, encoding, and the sample
//! renderer. Run with `make bench`; peers live in benches/peer/.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use timeslice::media::encode::{ClipWriter, Codec, EncodeSettings};
use timeslice::media::{self};
use timeslice::synth::{SampleRig, SampleSpec};
use timeslice::Rational;

fn sample(w: u32, h: u32) -> SampleRig {
    SampleRig::new(&SampleSpec {
        width: w,
        height: h,
        frames: 30,
        cameras: 12,
        ..SampleSpec::default()
    })
    .unwrap()
}

fn synth(c: &mut Criterion) {
    let rig = sample(1280, 720);
    let mut g = c.benchmark_group("synth");
    g.sample_size(10);
    g.bench_function("static_background_720p", |b| {
        b.iter(|| black_box(rig.camera_renderer(0)))
    });
    let r = rig.camera_renderer(0);
    g.bench_function("frame_720p", |b| {
        b.iter(|| black_box(r.frame(rig.event_frame())))
    });
    g.finish();
}

fn codec(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rig = sample(1280, 720);
    let r = rig.camera_renderer(0);
    let frames: Vec<_> = (0..30).map(|f| r.frame(f)).collect();
    let path = dir.path().join("src.mp4");
    let mut s = EncodeSettings::new(Codec::H264, 1280, 720, Rational::new(30, 1));
    s.gop = Some(15);
    s.speed = Some("veryfast".into());
    let mut w = ClipWriter::create(&path, s.clone()).unwrap();
    for f in &frames {
        w.push(f, 1).unwrap();
    }
    w.finish().unwrap();

    let mut g = c.benchmark_group("media");
    g.sample_size(10);
    g.bench_function("h264_encode_30_frames_720p", |b| {
        b.iter(|| {
            let mut w = ClipWriter::create(&dir.path().join("enc.mp4"), s.clone()).unwrap();
            for f in &frames {
                w.push(f, 1).unwrap();
            }
            w.finish().unwrap()
        })
    });
    let mut src = media::open(&path).unwrap();
    let mut k = 0i64;
    g.bench_function("seek_random_frame_720p_gop15", |b| {
        b.iter(|| {
            k = (k * 7 + 11) % 30;
            black_box(src.frame(k).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, synth, codec);
criterion_main!(benches);
