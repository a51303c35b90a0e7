#!/usr/bin/env python3
"""Checks timeslice's PSNR and SSIM against scikit-image on a few image pairs.

Pairs: a real view and versions of it with noise, blur, a shift and a JPEG round trip, plus a
pair of neighbouring real views (../shared/data/multiview/temple_sparse_ring when present,
else a generated sample rig). Fails (exit 1) if any value differs by 0.01 or more.

Usage: "$(benches/peer/venv.sh)" benches/peer/metrics_check.py
"""
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "timeslice")
TEMPLE = os.path.join(os.path.dirname(ROOT), "shared", "data", "multiview", "temple_sparse_ring")


def ours(a, b):
    r = subprocess.run([BIN, "eval", "compare", a, b, "--json"], check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        if os.path.isdir(TEMPLE):
            base = os.path.join(TEMPLE, "templeSR0003.png")
            neighbour = os.path.join(TEMPLE, "templeSR0004.png")
        else:
            subprocess.run([BIN, "--quiet", "samples", "--out", tmp + "/rig", "--cameras", "12",
                            "--size", "640x360", "--stills"], check=True)
            base, neighbour = tmp + "/rig/cam01.png", tmp + "/rig/cam02.png"
        img = cv2.imread(base)
        rng = np.random.default_rng(1)
        variants = {
            "noise": np.clip(img.astype(int) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8),
            "blur": cv2.GaussianBlur(img, (7, 7), 2.0),
            "shift": np.roll(img, 3, axis=1),
            "jpeg": cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 30])[1], 1),
        }
        pairs = []
        for name, v in variants.items():
            p = os.path.join(tmp, f"{name}.png")
            cv2.imwrite(p, v)
            pairs.append((name, base, p))
        pairs.append(("neighbour view", base, neighbour))
        worst = 0.0
        print(f"{'pair':<16} {'PSNR ours':>10} {'skimage':>10} {'SSIM ours':>10} {'skimage':>10}")
        for name, a, b in pairs:
            x = cv2.cvtColor(cv2.imread(a), cv2.COLOR_BGR2RGB)
            y = cv2.cvtColor(cv2.imread(b), cv2.COLOR_BGR2RGB)
            p_ref = peak_signal_noise_ratio(x, y, data_range=255)
            s_ref = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                          data_range=255, channel_axis=2)
            o = ours(a, b)
            worst = max(worst, abs(o["psnr"] - p_ref), abs(o["ssim"] - s_ref))
            print(f"{name:<16} {o['psnr']:>10.4f} {p_ref:>10.4f} {o['ssim']:>10.5f} {s_ref:>10.5f}")
        print(f"largest difference: {worst:.6f}")
        sys.exit(0 if worst < 0.01 else 1)


if __name__ == "__main__":
    main()
