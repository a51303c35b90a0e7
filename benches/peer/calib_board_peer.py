#!/usr/bin/env python3
"""Chessboard calibration, timeslice against OpenCV, side by side in one run.

OpenCV: findChessboardCorners (ADAPTIVE_THRESH | NORMALIZE_IMAGE) + cornerSubPix (11x11,
30 iterations or 0.001 px) + calibrateCamera with default flags (k1, k2, p1, p2, k3).
timeslice: `timeslice calibrate board IMAGES --pattern P --json` (release build), on all images
and again on only the images OpenCV found the board in (same views, comparable numbers).

Prints one table: method, images found, RMS (OpenCV's definition), fx, fy, cx, cy, k1..k3,
seconds (wall clock of the whole job: reading images, detection, calibration). Then checks that
cv2.FileStorage reads the YAML timeslice wrote and that its numbers match the JSON summary.

Usage: benches/peer/calib_board_peer.py [--data DIR] [--pattern 11x8]
  (default data: ../shared/data/calib/wide_angle_11x8; build first: cargo build --release)
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "timeslice")
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "calib", "wide_angle_11x8")


def opencv(paths, cols, rows):
    t0 = time.perf_counter()
    obj = np.zeros((cols * rows, 3), np.float32)
    obj[:, :2] = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2)
    objs, imgs, found, size = [], [], [], None
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.001)
    for p in paths:
        gray = cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2GRAY)
        size = gray.shape[::-1]
        ok, corners = cv2.findChessboardCorners(gray, (cols, rows), flags)
        if not ok:
            continue
        corners = cv2.cornerSubPix(gray, corners, (11, 11), (-1, -1), crit)
        objs.append(obj)
        imgs.append(corners)
        found.append(p)
    rms, k, dist, _, _ = cv2.calibrateCamera(objs, imgs, size, None, None)
    secs = time.perf_counter() - t0
    d = dist.ravel()
    return {
        "found": found,
        "rms": rms,
        "fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2],
        "dist": list(d[:5]),
        "secs": secs,
    }


def ours(paths, pattern, out):
    t0 = time.perf_counter()
    r = subprocess.run(
        [BIN, "--quiet", "calibrate", "board", *paths, "--pattern", pattern,
         "--out", out, "--json"],
        capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"timeslice failed: {r.stderr}")
    v = json.loads(r.stdout)
    found = [x["image"] for x in v["views"]]
    return {
        "found": found, "rms": v["rms"], "fx": v["fx"], "fy": v["fy"], "cx": v["cx"],
        "cy": v["cy"], "dist": v["dist"], "secs": secs, "json": v,
    }


def row(name, n_all, r):
    d = r["dist"]
    print(f"{name:<28} {len(r['found']):>2}/{n_all:<2} {r['rms']:7.4f} {r['fx']:9.3f} "
          f"{r['fy']:9.3f} {r['cx']:8.3f} {r['cy']:8.3f} {d[0]:9.5f} {d[1]:9.5f} "
          f"{d[2]:9.5f} {d[3]:9.5f} {d[4]:9.5f} {r['secs']:6.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--pattern", default="11x8")
    a = ap.parse_args()
    cols, rows = (int(x) for x in a.pattern.lower().split("x"))
    paths = sorted(glob.glob(os.path.join(a.data, "*.jpg")) + glob.glob(os.path.join(a.data, "*.png")))
    if not paths:
        sys.exit(f"no images in {a.data}")
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} missing: cargo build --release")
    cv2.setNumThreads(2)
    with tempfile.TemporaryDirectory() as tmp:
        cv = opencv(paths, cols, rows)
        ours_all = ours(paths, a.pattern, os.path.join(tmp, "all.yaml"))
        ours_same = ours(cv["found"], a.pattern, os.path.join(tmp, "same.yaml"))
        print(f"{'method':<28} {'found':>5} {'rms':>7} {'fx':>9} {'fy':>9} {'cx':>8} {'cy':>8} "
              f"{'k1':>9} {'k2':>9} {'p1':>9} {'p2':>9} {'k3':>9} {'secs':>6}")
        row("opencv", len(paths), cv)
        row("timeslice", len(paths), ours_all)
        row("timeslice (opencv's views)", len(paths), ours_same)
        name = lambda p: os.path.basename(p)
        print("opencv misses:   ", " ".join(name(p) for p in paths if p not in cv["found"]) or "-")
        print("timeslice misses:", " ".join(name(p) for p in paths if p not in ours_all["found"]) or "-")
        print(f"fx difference (all views) {100 * (ours_all['fx'] / cv['fx'] - 1):+.3f} %, "
              f"(same views) {100 * (ours_same['fx'] / cv['fx'] - 1):+.3f} %")

        # OpenCV must read what we wrote, with the same numbers as our JSON summary.
        fs = cv2.FileStorage(os.path.join(tmp, "all.yaml"), cv2.FILE_STORAGE_READ)
        k = fs.getNode("camera_matrix").mat()
        d = fs.getNode("distortion_coefficients").mat().ravel()
        w = int(fs.getNode("image_width").real())
        h = int(fs.getNode("image_height").real())
        err = fs.getNode("avg_reprojection_error").real()
        fs.release()
        j = ours_all["json"]
        ok = (k is not None and abs(k[0, 0] - j["fx"]) < 1e-9 and abs(k[1, 1] - j["fy"]) < 1e-9
              and abs(k[0, 2] - j["cx"]) < 1e-9 and abs(k[1, 2] - j["cy"]) < 1e-9
              and np.allclose(d, j["dist"], rtol=0, atol=1e-15) and (w, h) == (j["width"], j["height"])
              and abs(err - j["rms"]) < 1e-12)
        print(f"cv2.FileStorage reads our YAML: {'yes, same numbers' if ok else 'MISMATCH'} "
              f"({w}x{h}, fx {k[0, 0]:.3f}, {d.size} distortion values, rms {err:.4f})")
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
