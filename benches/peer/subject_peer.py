#!/usr/bin/env python3
"""The subject in synthesized views: timeslice against OpenCV DIS, in one run.

A generated ring (`timeslice samples --stills --truth-views 3`), views between cam01-02,
05-06, 09-10, 13-14 and 17-18 (or the rig's equivalent fifths) at t = 0.25, 0.5, 0.75 against
the true in-between views, scored as issue 27 asks: whole-frame PSNR, the subject box's PSNR
(a square three marker diameters wide around the true red marker) and the marker's area,
synthesized over true (min-max over the views). The same definitions as
src/eval/subject.rs. Methods:

- timeslice interp (balanced), and with the true cameras (`--rig truth/colmap`)
- OpenCV DIS medium flow both ways, backward warping of both images to t with the flows at the
  output pixel (the plain peer of the issue), and with the Super SloMo intermediate-flow
  approximation (Jiang et al. CVPR 2018)

Usage: "$(benches/peer/venv.sh)" benches/peer/subject_peer.py [--cameras 24] [--size 960x540]
"""
import argparse
import json
import os
import subprocess
import tempfile

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "timeslice")


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def marker(rgb):
    """Centroid and count of the marker's red pixels (as timeslice::synth::find_marker)."""
    r, g, b = (rgb[..., c].astype(np.float64) for c in range(3))
    m = (r > 60) & (r > 1.6 * g) & (r > 1.6 * b)
    n = int(m.sum())
    if n == 0:
        return None
    ys, xs = np.nonzero(m)
    return xs.mean(), ys.mean(), n


def subject(view, truth):
    cx, cy, n = marker(truth)
    half = 1.5 * 2.0 * np.sqrt(n / np.pi)
    h, w = truth.shape[:2]
    x0, x1 = int(np.clip(round(cx - half), 0, w)), int(np.clip(round(cx + half), 0, w))
    y0, y1 = int(np.clip(round(cy - half), 0, h)), int(np.clip(round(cy + half), 0, h))
    got = marker(view)
    return psnr(view[y0:y1, x0:x1], truth[y0:y1, x0:x1]), (got[2] if got else 0) / n


def dis_views(a, b, ts, slomo):
    g0, g1 = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    f01, f10 = dis.calc(g0, g1, None), dis.calc(g1, g0, None)
    h, w = g0.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = []
    for t in ts:
        if slomo:
            ft0 = -(1 - t) * t * f01 + t * t * f10
            ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
        else:
            ft0, ft1 = -t * f01, -(1 - t) * f10
        w0 = cv2.remap(a, gx + ft0[..., 0], gy + ft0[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        w1 = cv2.remap(b, gx + ft1[..., 0], gy + ft1[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out.append(((1 - t) * w0.astype(np.float32) + t * w1.astype(np.float32) + 0.5).clip(0, 255).astype(np.uint8))
    return out


def ours_views(a, b, ts, tmp, rig):
    out = []
    for t in ts:
        path = os.path.join(tmp, "ours.png")
        extra = ["--rig", rig] if rig else []
        subprocess.run([BIN, "--quiet", "interp", a, b, "--at", str(t), "--out", path, *extra], check=True,
                       capture_output=True)
        out.append(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=24)
    ap.add_argument("--size", default="960x540")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    cv2.setNumThreads(2)
    with tempfile.TemporaryDirectory() as tmp:
        rig = os.path.join(tmp, "rig")
        subprocess.run([BIN, "--quiet", "samples", "--out", rig, "--cameras", str(args.cameras), "--size", args.size,
                        "--frames", "1", "--stills", "--truth-views", "3", "--seed", str(args.seed)], check=True)
        listed = json.load(open(os.path.join(rig, "truth", "views", "views.json")))
        step = max(args.cameras // 6, 1)
        pairs = [(k * step + 1, k * step + 2) for k in range(5) if k * step + 2 <= args.cameras]
        methods = {
            "timeslice interp (balanced)": lambda a, b, ts: ours_views(a, b, ts, tmp, None),
            "timeslice interp --rig truth": lambda a, b, ts: ours_views(a, b, ts, tmp, os.path.join(rig, "truth", "colmap")),
            "OpenCV DIS medium, backward warp": lambda a, b, ts: dis_views(load(a), load(b), ts, False),
            "OpenCV DIS medium, Super SloMo": lambda a, b, ts: dis_views(load(a), load(b), ts, True),
        }
        rows = {m: [] for m in methods}
        for i, j in pairs:
            na, nb = f"cam{i:02d}", f"cam{j:02d}"
            a, b = os.path.join(rig, f"{na}.png"), os.path.join(rig, f"{nb}.png")
            truths = [v for v in listed if v["a"] == na and v["b"] == nb]
            ts = [v["fraction"] for v in truths]
            for m, make in methods.items():
                for view, tv in zip(make(a, b, ts), truths):
                    truth = load(os.path.join(rig, "truth", "views", tv["file"]))
                    rows[m].append((psnr(view, truth), *subject(view, truth)))
        print(f"ring of {args.cameras} at {args.size}, seed {args.seed}, {len(pairs) * 3} views")
        print("| method | whole-frame PSNR | subject-box PSNR | marker area, synthesized / true (min-max) |")
        print("|---|---|---|---|")
        for m, r in rows.items():
            r = np.array(r)
            print(f"| {m} | {r[:, 0].mean():.2f} | {r[:, 1].mean():.2f} | {r[:, 2].min():.3f} - {r[:, 2].max():.3f} |")


def load(path):
    return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)


if __name__ == "__main__":
    main()
