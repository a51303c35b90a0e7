#!/usr/bin/env python3
"""Optical flow, timeslice against OpenCV DIS, side by side in one run.

For every image pair with ground truth: OpenCV DIS ultrafast / fast / medium (cv2, 2 threads)
and timeslice fast / balanced / quality (`timeslice flow --json --repeat N`, which reports the
median time of the flow computation alone, images already decoded, like the cv2 timing).
Prints one table: method, pair, resolution, milliseconds (median), EPE over all pixels and
over pixels visible in both images (where an occlusion mask exists).

Pairs: ../shared/data/flow/middlebury_urban (if present) and neighbouring cameras of a
generated 24-camera ring at 1920x1080 (`timeslice samples --stills --truth-flow`).

Usage: make bench-peer   (or: benches/peer/flow_peer.py [--quick] [--repeat N])
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "timeslice")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")


def read_flo(path):
    with open(path, "rb") as f:
        magic = np.frombuffer(f.read(4), np.float32)[0]
        assert abs(magic - 202021.25) < 1e-3, path
        w, h = np.frombuffer(f.read(8), np.int32)
        data = np.frombuffer(f.read(), np.float32).reshape(h, w, 2)
    return data


def epe(flow, truth, mask=None):
    valid = np.isfinite(truth).all(axis=2) & (np.abs(truth) < 1e9).all(axis=2)
    if mask is not None:
        valid &= mask
    d = np.linalg.norm(flow - truth, axis=2)
    return float(d[valid].mean())


def cv_dis(a_path, b_path, preset, repeat):
    a = cv2.cvtColor(cv2.imread(a_path), cv2.COLOR_BGR2GRAY)
    b = cv2.cvtColor(cv2.imread(b_path), cv2.COLOR_BGR2GRAY)
    dis = cv2.DISOpticalFlow_create(preset)
    flow = dis.calc(a, b, None)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        flow = dis.calc(a, b, None)
        times.append((time.perf_counter() - t0) * 1000)
    return flow, statistics.median(times)


def ours(a_path, b_path, preset, repeat, tmp):
    out = os.path.join(tmp, "ours.flo")
    r = subprocess.run(
        [BIN, "--quiet", "flow", a_path, b_path, "--preset", preset, "--out", out, "--json", "--repeat", str(repeat)],
        check=True, capture_output=True, text=True)
    report = json.loads(r.stdout)
    return read_flo(out), report["milliseconds"]


def pairs(tmp, quick):
    urban = os.path.join(SHARED, "flow", "middlebury_urban")
    if os.path.isdir(urban):
        yield ("urban", os.path.join(urban, "frame10.png"), os.path.join(urban, "frame11.png"),
               os.path.join(urban, "flow10.flo"), None)
    rig = os.path.join(tmp, "ring24")
    size = "960x540" if quick else "1920x1080"
    subprocess.run([BIN, "--quiet", "samples", "--out", rig, "--cameras", "24", "--size", size,
                    "--stills", "--truth-flow"], check=True)
    for a, b in [(1, 2), (7, 8), (13, 14)]:
        name = f"cam{a:02d}-cam{b:02d}"
        occ = cv2.imread(os.path.join(rig, "truth", "flow", f"{name}-occlusion.png"), cv2.IMREAD_GRAYSCALE)
        yield (f"ring24 {name}", os.path.join(rig, f"cam{a:02d}.png"), os.path.join(rig, f"cam{b:02d}.png"),
               os.path.join(rig, "truth", "flow", f"{name}.flo"), occ == 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of all methods")
    ap.add_argument("--quick", action="store_true", help="960x540 rig pairs instead of 1920x1080")
    args = ap.parse_args()
    cv2.setNumThreads(2)
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, a, b, truth_path, mask in pairs(tmp, args.quick):
            truth = read_flo(truth_path)
            h, w = truth.shape[:2]
            methods = [
                ("opencv DIS ultrafast", lambda: cv_dis(a, b, cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, args.repeat)),
                ("opencv DIS fast", lambda: cv_dis(a, b, cv2.DISOPTICAL_FLOW_PRESET_FAST, args.repeat)),
                ("opencv DIS medium", lambda: cv_dis(a, b, cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, args.repeat)),
                ("timeslice fast", lambda: ours(a, b, "fast", args.repeat, tmp)),
                ("timeslice balanced", lambda: ours(a, b, "balanced", args.repeat, tmp)),
                ("timeslice quality", lambda: ours(a, b, "quality", args.repeat, tmp)),
            ]
            # Rounds interleave the methods, so that a slow spell of a shared machine hits all
            # of them alike; each method's time is the median of its per-round medians.
            times = {m: [] for m, _ in methods}
            flows = {}
            for _ in range(args.rounds):
                for method, run in methods:
                    flows[method], ms = run()
                    times[method].append(ms)
            for method, _ in methods:
                flow = flows[method]
                vis = epe(flow, truth, mask) if mask is not None else float("nan")
                rows.append((method, name, f"{w}x{h}", statistics.median(times[method]), epe(flow, truth), vis))
    print(f"{'method':<22} {'pair':<20} {'size':>10} {'ms':>9} {'EPE all':>9} {'EPE vis':>9}")
    for m, p, s, ms, e, v in rows:
        print(f"{m:<22} {p:<20} {s:>10} {ms:>9.1f} {e:>9.3f} {v:>9.3f}")


if __name__ == "__main__":
    main()
