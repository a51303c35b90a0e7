#!/usr/bin/env python3
"""View synthesis, timeslice against OpenCV, leave-one-out, side by side in one run.

For each run of views V0..Vn, every other view is held out and made at t = 0.5 from its two
neighbours, then compared with the real one (PSNR, and SSIM as scikit-image computes it:
Gaussian 11x11, sigma 1.5, per channel). Methods:

- timeslice flow (softmax splatting, `timeslice eval loo --json`, balanced and quality presets)
- timeslice flow balanced with the views' calibration (`--rig`: each match goes where the camera
  on the arc between the two sees it): the temple's own camera file (templeSR_par.txt; our
  `calibrate rig` of the 16 views gives 19.726 / 19.331 dB against 19.714 / 19.344, the same
  mean), the rings' true poses
- timeslice crossfade
- OpenCV DIS ultrafast / fast / medium flow in both directions, the Super SloMo
  intermediate-flow approximation (Jiang et al. CVPR 2018, eq. 4 with t = 0.5:
  F_t0 = -t(1-t) F_01 + t^2 F_10, F_t1 = (1-t)^2 F_01 - t(1-t) F_10), backward warping of both
  images with cv2.remap, blended 50/50.

Runs: ../shared/data/multiview/temple_sparse_ring 0003-0004-0005 and 0007-0008-0009 (real,
about 23 degrees apart), and the first 9 cameras of generated rings of 24 and 48 cameras at
1280x720 (stride 1: made from cameras 30 and 15 degrees apart). Also the time for one camera
pair with three views (t = 0.25, 0.5, 0.75) at 1920x1080, images decoded: both flows and the
three views, for OpenCV DIS medium + Super SloMo and for ours (`timeslice interp --views 3
--json`, which times the same work inside the process).

Usage: "$(benches/peer/venv.sh)" benches/peer/interp_peer.py [--quick] [--speed-only] [--rounds N]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import cv2
import numpy as np
from skimage.metrics import structural_similarity

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "timeslice")
TEMPLE = os.path.join(os.path.dirname(ROOT), "shared", "data", "multiview", "temple_sparse_ring")


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)


def ssim(a, b):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255, channel_axis=2)


def superslomo(i0, i1, preset, t=0.5):
    g0, g1 = cv2.cvtColor(i0, cv2.COLOR_BGR2GRAY), cv2.cvtColor(i1, cv2.COLOR_BGR2GRAY)
    dis = cv2.DISOpticalFlow_create(preset)
    f01 = dis.calc(g0, g1, None)
    f10 = dis.calc(g1, g0, None)
    ft0 = -(1 - t) * t * f01 + t * t * f10
    ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
    h, w = g0.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    w0 = cv2.remap(i0, gx + ft0[..., 0], gy + ft0[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    w1 = cv2.remap(i1, gx + ft1[..., 0], gy + ft1[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return ((1 - t) * w0.astype(np.float32) + t * w1.astype(np.float32) + 0.5).clip(0, 255).astype(np.uint8)


def ours(views, method, preset, rig=None):
    extra = ["--rig", rig] if rig else []
    r = subprocess.run([BIN, "--quiet", "eval", "loo", "--method", method, "--preset", preset, "--json", *extra,
                        *views], check=True, capture_output=True, text=True)
    v = json.loads(r.stdout)
    return v["mean_psnr"], v["mean_ssim"]


def peer(views, preset):
    ps, ss = [], []
    for i in range(1, len(views) - 1, 2):
        a, b, truth = (cv2.imread(views[i - 1]), cv2.imread(views[i + 1]), cv2.imread(views[i]))
        made = superslomo(a, b, preset)
        # PSNR/SSIM on RGB order, as ours.
        made, truth = cv2.cvtColor(made, cv2.COLOR_BGR2RGB), cv2.cvtColor(truth, cv2.COLOR_BGR2RGB)
        ps.append(psnr(truth, made))
        ss.append(ssim(truth, made))
    return float(np.mean(ps)), float(np.mean(ss))


def runs(tmp, quick):
    if os.path.isdir(TEMPLE):
        for ids in [(3, 4, 5), (7, 8, 9)]:
            yield (f"temple {ids[0]:04d}-{ids[2]:04d}", [os.path.join(TEMPLE, f"templeSR{i:04d}.png") for i in ids],
                   os.path.join(TEMPLE, "templeSR_par.txt"))
    size = "640x360" if quick else "1280x720"
    for n in (24, 48):
        rig = os.path.join(tmp, f"ring{n}")
        subprocess.run([BIN, "--quiet", "samples", "--out", rig, "--cameras", str(n), "--size", size, "--stills"],
                       check=True, capture_output=True)
        yield (f"ring{n} {size}", [os.path.join(rig, f"cam{i:02d}.png") for i in range(1, 10)],
               os.path.join(rig, "truth"))


def speed_rows(tmp, rounds):
    """Milliseconds for one 1080p pair with three views, (peer, ours): the median over
    `rounds` rounds that run both, so that a slow spell of a shared machine hits both."""
    rig = os.path.join(tmp, "speed")
    subprocess.run([BIN, "--quiet", "samples", "--out", rig, "--cameras", "48", "--size", "1920x1080", "--stills"],
                   check=True, capture_output=True)
    a, b = os.path.join(rig, "cam01.png"), os.path.join(rig, "cam02.png")
    i0, i1 = cv2.imread(a), cv2.imread(b)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    peer_ms, ours_ms = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        g0, g1 = cv2.cvtColor(i0, cv2.COLOR_BGR2GRAY), cv2.cvtColor(i1, cv2.COLOR_BGR2GRAY)
        f01, f10 = dis.calc(g0, g1, None), dis.calc(g1, g0, None)
        h, w = g0.shape
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        for t in (0.25, 0.5, 0.75):
            ft0 = -(1 - t) * t * f01 + t * t * f10
            ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
            w0 = cv2.remap(i0, gx + ft0[..., 0], gy + ft0[..., 1], cv2.INTER_LINEAR)
            w1 = cv2.remap(i1, gx + ft1[..., 0], gy + ft1[..., 1], cv2.INTER_LINEAR)
            _ = cv2.addWeighted(w0, 1 - t, w1, t, 0)
        peer_ms.append((time.perf_counter() - t0) * 1000)
        r = subprocess.run([BIN, "--quiet", "interp", a, b, "--at", "0.5", "--out", os.path.join(tmp, "x.png"),
                            "--views", "3", "--json"], capture_output=True, text=True, check=True)
        ours_ms.append(json.loads(r.stdout)["milliseconds"])
    return float(np.median(peer_ms)), float(np.median(ours_ms))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="only the 1080p timing")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the timing")
    args = ap.parse_args()
    cv2.setNumThreads(2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, views, rig in ([] if args.speed_only else runs(tmp, args.quick)):
            rows.append((name, "timeslice flow balanced", *ours(views, "flow", "balanced")))
            rows.append((name, "timeslice flow + calibration", *ours(views, "flow", "balanced", rig)))
            rows.append((name, "timeslice flow quality", *ours(views, "flow", "quality")))
            rows.append((name, "crossfade", *ours(views, "crossfade", "balanced")))
            for label, p in [("ultrafast", cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST),
                             ("fast", cv2.DISOPTICAL_FLOW_PRESET_FAST),
                             ("medium", cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)]:
                rows.append((name, f"opencv DIS {label} + SuperSloMo", *peer(views, p)))
        speed = speed_rows(tmp, args.rounds)
    print(f"{'run':<22} {'method':<32} {'PSNR dB':>8} {'SSIM':>7}")
    for name, m, p, s in rows:
        print(f"{name:<22} {m:<32} {p:>8.3f} {s:>7.4f}")
    peer_ms, ours_ms = speed
    print(f"\none 1920x1080 pair, flows + 3 views (t = 0.25, 0.5, 0.75), images decoded,")
    print(f"median of {args.rounds} interleaved rounds:")
    print(f"  opencv DIS medium + SuperSloMo {peer_ms:8.1f} ms")
    print(f"  timeslice balanced             {ours_ms:8.1f} ms   ({ours_ms / peer_ms:.2f}x)")


if __name__ == "__main__":
    main()
