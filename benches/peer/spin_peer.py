#!/usr/bin/env python3
"""Product spins, leave-one-out, timeslice against OpenCV in one run (issue 20).

../shared/data/spin/bike_34: 34 real studio shots of a bicycle on a turntable, a full turn,
about 10.6 degrees apart. Every other shot is dropped; the 17 left are spun to 34 frames with
`timeslice spin --frames 34 --keep-framing --arc 360` (frame 2i is kept shot 2i unchanged,
frame 2i+1 is synthesized halfway to the next kept shot, the last one between the last shot
and the first), and each synthesized frame is compared with the dropped shot: PSNR over the
whole frame and over the product (the true shot's pixels unlike the white backdrop: any
channel below 235). The peer makes the same frames from the same pairs with OpenCV DIS flow
(medium preset) in both directions, the Super SloMo intermediate flows and backward warping
(as benches/peer/interp_peer.py). The whole `timeslice spin` run (reading, synthesis and the
package) and the peer's frames are timed too.

Usage: "$(benches/peer/venv.sh)" benches/peer/spin_peer.py [--preset balanced|quality|fast]
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interp_peer import psnr, superslomo  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "timeslice")
BIKE = os.path.join(os.path.dirname(ROOT), "shared", "data", "spin", "bike_34")


def product_psnr(made, truth):
    mask = (truth < 235).any(axis=2)
    d = made.astype(np.float64)[mask] - truth.astype(np.float64)[mask]
    return 10 * np.log10(255.0 ** 2 / np.mean(d ** 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="balanced")
    args = ap.parse_args()
    shots = sorted(glob.glob(os.path.join(BIKE, "*.jpg")))
    assert len(shots) == 34, f"{BIKE}: expected 34 shots"
    truth = [cv2.cvtColor(cv2.imread(s), cv2.COLOR_BGR2RGB) for s in shots]
    with tempfile.TemporaryDirectory() as tmp:
        kept = os.path.join(tmp, "kept")
        os.mkdir(kept)
        for i in range(0, 34, 2):
            shutil.copy(shots[i], kept)
        pkg = os.path.join(tmp, "pkg")
        t0 = time.perf_counter()
        subprocess.run([BIN, "--quiet", "spin", kept, "--frames", "34", "--keep-framing", "--arc", "360",
                        "--format", "png", "--no-animations", "--preset", args.preset,
                        "--out", pkg], check=True)
        ours_s = time.perf_counter() - t0
        spin = json.load(open(os.path.join(pkg, "spin.json")))
        ours_whole, ours_prod, peer_whole, peer_prod = [], [], [], []
        t0 = time.perf_counter()
        peer_frames = {}
        for k in range(1, 34, 2):
            a, b = cv2.imread(shots[k - 1]), cv2.imread(shots[(k + 1) % 34])
            peer_frames[k] = cv2.cvtColor(superslomo(a, b, cv2.DISOPTICAL_FLOW_PRESET_MEDIUM), cv2.COLOR_BGR2RGB)
        peer_s = time.perf_counter() - t0
        for k in range(1, 34, 2):
            made = cv2.cvtColor(cv2.imread(os.path.join(pkg, spin["frames"][k]["file"])), cv2.COLOR_BGR2RGB)
            ours_whole.append(psnr(made, truth[k]))
            ours_prod.append(product_psnr(made, truth[k]))
            peer_whole.append(psnr(peer_frames[k], truth[k]))
            peer_prod.append(product_psnr(peer_frames[k], truth[k]))
        # Kept shots: the decoded JPEG unchanged (decoders may differ by a level or two).
        kept_diff = max(int(np.abs(cv2.cvtColor(cv2.imread(os.path.join(pkg, spin["frames"][k]["file"])),
                                                cv2.COLOR_BGR2RGB).astype(int) - truth[k].astype(int)).max())
                        for k in range(0, 34, 2))
    print(f"bike_34 leave-one-out, 17 synthesized frames, {truth[0].shape[1]}x{truth[0].shape[0]}")
    print(f"{'method':32} {'whole dB':>9} {'product dB':>11} {'min product':>12} {'seconds':>8}")
    print(f"{'timeslice spin ' + args.preset:32} {np.mean(ours_whole):9.2f} {np.mean(ours_prod):11.2f} "
          f"{np.min(ours_prod):12.2f} {ours_s:8.2f}")
    print(f"{'opencv DIS medium + Super SloMo':32} {np.mean(peer_whole):9.2f} {np.mean(peer_prod):11.2f} "
          f"{np.min(peer_prod):12.2f} {peer_s:8.2f}")
    print(f"kept shots: largest difference from OpenCV's decoding {kept_diff}")
    print("per frame (ours / peer, product dB): " +
          " ".join(f"{o:.1f}/{p:.1f}" for o, p in zip(ours_prod, peer_prod)))


if __name__ == "__main__":
    main()
