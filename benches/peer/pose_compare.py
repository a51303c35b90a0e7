#!/usr/bin/env python3
"""Compare an estimated camera model with ground truth.

Estimate: a COLMAP text model folder (cameras.txt + images.txt; ours is DIR/colmap/) or a
timeslice calibration.json. Truth: a timeslice truth.json (from `timeslice samples`), a COLMAP
text model, or a Middlebury *_par.txt file (name K(9) R(9) t(3) per line).

Prints: registered cameras, median and max relative rotation error over all camera pairs
(degrees; gauge-free), camera-centre error after a similarity (Umeyama) alignment as % of the rig
radius (mean distance of the true centres from their centroid), and the focal error (%).

Usage: pose_compare.py ESTIMATE TRUTH [--json]
Cameras are matched by image name without extension (cam01.png ~ cam01).
Needs only numpy.
"""
import json
import os
import sys

import numpy as np


def quat_to_r(w, x, y, z):
    n = np.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def stem(name):
    return os.path.splitext(os.path.basename(name))[0]


def read_colmap(d):
    cams = {}
    with open(os.path.join(d, "cameras.txt")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            p = line.split()
            model, params = p[1], [float(v) for v in p[4:]]
            fx = params[0]
            fy = params[0] if model in ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL") else params[1]
            cams[p[0]] = (fx, fy)
    out = {}
    with open(os.path.join(d, "images.txt")) as f:
        lines = [l for l in f if not l.startswith("#")]
    for i in range(0, len(lines), 2):
        p = lines[i].split()
        if len(p) < 10:
            continue
        r = quat_to_r(*[float(v) for v in p[1:5]])
        t = np.array([float(v) for v in p[5:8]])
        out[stem(p[9])] = (r, t, cams[p[8]][0])
    return out


def read_truth_json(path):
    j = json.load(open(path))
    if "version" in j and "cameras" in j and "K" in j["cameras"][0]:
        return {c["name"]: (np.array(c["R"]), np.array(c["t"]), c["K"][0][0]) for c in j["cameras"]}
    return {c["name"]: (np.array(c["R"]), np.array(c["t"]), c["fx"]) for c in j["cameras"]}


def read_middlebury(path):
    out = {}
    with open(path) as f:
        lines = f.read().split("\n")
    for line in lines[1:]:
        p = line.split()
        if len(p) < 22:
            continue
        v = [float(x) for x in p[1:]]
        out[stem(p[0])] = (np.array(v[9:18]).reshape(3, 3), np.array(v[18:21]), v[0])
    return out


def read_any(path):
    if os.path.isdir(path):
        return read_colmap(path)
    if path.endswith(".json"):
        return read_truth_json(path)
    return read_middlebury(path)


def rot_angle_deg(r):
    c = np.clip((np.trace(r) - 1) / 2, -1, 1)
    s = np.linalg.norm([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) / 2
    return np.degrees(np.arctan2(s, c))


def umeyama(src, dst):
    """Similarity (s, R, t) minimising |dst - (s R src + t)|^2 (Umeyama 1991)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    s_ = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s_[2, 2] = -1
    r = u @ s_ @ vt
    var = (a * a).sum() / len(src)
    scale = np.trace(np.diag(d) @ s_) / var
    return scale, r, md - scale * r @ ms


def compare(est, truth):
    names = [n for n in truth if n in est]
    res = {"truth_cameras": len(truth), "registered": len(names)}
    if len(names) < 2:
        return res
    rel = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            ri, rj = est[names[i]][0], est[names[j]][0]
            ti, tj = truth[names[i]][0], truth[names[j]][0]
            rel.append(rot_angle_deg((rj @ ri.T) @ (tj @ ti.T).T))
    res["median_rel_rot_deg"] = float(np.median(rel))
    res["max_rel_rot_deg"] = float(np.max(rel))
    ce = np.array([-est[n][0].T @ est[n][1] for n in names])
    ct = np.array([-truth[n][0].T @ truth[n][1] for n in names])
    if len(names) >= 3:
        s, r, t = umeyama(ce, ct)
        aligned = (s * (r @ ce.T)).T + t
        allt = np.array([-v[0].T @ v[1] for v in truth.values()])
        radius = np.linalg.norm(allt - allt.mean(0), axis=1).mean()
        err = np.linalg.norm(aligned - ct, axis=1)
        res["centre_err_mean_pct"] = float(100 * err.mean() / radius)
        res["centre_err_max_pct"] = float(100 * err.max() / radius)
    fe = [100 * abs(est[n][2] - truth[n][2]) / truth[n][2] for n in names]
    res["focal_err_pct"] = float(np.median(fe))
    return res


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__)
        sys.exit(2)
    if not os.path.exists(args[0]):
        print(f"registered 0 (no model at {args[0]})")
        sys.exit(1)
    res = compare(read_any(args[0]), read_any(args[1]))
    if "--json" in sys.argv:
        print(json.dumps(res))
        return
    print(f"registered {res['registered']}/{res['truth_cameras']}", end="")
    if "median_rel_rot_deg" in res:
        print(f"  rel-rot median {res['median_rel_rot_deg']:.4f} deg (max {res['max_rel_rot_deg']:.4f})", end="")
    if "centre_err_mean_pct" in res:
        print(f"  centre err mean {res['centre_err_mean_pct']:.3f}% max {res['centre_err_max_pct']:.3f}% of radius", end="")
    if "focal_err_pct" in res:
        print(f"  focal err {res['focal_err_pct']:.3f}%", end="")
    print()


if __name__ == "__main__":
    main()
