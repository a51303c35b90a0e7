#!/usr/bin/env python3
"""Run COLMAP (CPU SIFT, exhaustive matching, incremental mapper) on the same images as
`timeslice calibrate rig`, export the largest model as text, and time it.

Usage: colmap_peer.py IMAGE_DIR OUT_DIR [--focal PX | --K fx,fy,cx,cy] [images...]

With --K (or --focal), the camera is fixed to that pinhole model (PINHOLE, shared by all
images, not refined) so the comparison with a known-intrinsics run is like for like;
without it, COLMAP estimates a shared SIMPLE_RADIAL camera. Writes OUT_DIR/database.db,
OUT_DIR/sparse/N and the text model in OUT_DIR/colmap/ (cameras.txt, images.txt,
points3D.txt), which benches/peer/pose_compare.py reads. Needs the `colmap` binary
(Debian: apt-get install colmap).
"""
import os
import shutil
import subprocess
import sys
import time


def run(args):
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def png_size(images):
    """Width and height of the first PNG in IMAGE_DIR (from its IHDR chunk)."""
    import struct
    names = sorted(n for n in os.listdir(images) if n.lower().endswith(".png"))
    if not names:
        sys.exit(f"{images}: --focal needs PNG images to read the size from; give --K fx,fy,cx,cy")
    with open(os.path.join(images, names[0]), "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24])


def main():
    argv = sys.argv[1:]
    if len(argv) < 2:
        print(__doc__)
        sys.exit(2)
    images, out = argv[0], argv[1]
    k = None
    rest = argv[2:]
    if "--focal" in rest:
        # COLMAP's SIMPLE_PINHOLE wants f,cx,cy: the principal point at the image centre.
        f = rest[rest.index("--focal") + 1]
        w, h = png_size(images)
        k = ("SIMPLE_PINHOLE", f"{f},{(w - 1) / 2},{(h - 1) / 2}")
    if "--K" in rest:
        k = ("PINHOLE", rest[rest.index("--K") + 1])
    os.makedirs(out, exist_ok=True)
    db = os.path.join(out, "database.db")
    if os.path.exists(db):
        os.remove(db)
    t0 = time.time()
    fe = ["colmap", "feature_extractor", "--database_path", db, "--image_path", images,
          "--SiftExtraction.use_gpu", "0", "--ImageReader.single_camera", "1"]
    if k:
        fe += ["--ImageReader.camera_model", k[0], "--ImageReader.camera_params", k[1]]
    run(fe)
    run(["colmap", "exhaustive_matcher", "--database_path", db, "--SiftMatching.use_gpu", "0"])
    sparse = os.path.join(out, "sparse")
    shutil.rmtree(sparse, ignore_errors=True)
    os.makedirs(sparse)
    mapper = ["colmap", "mapper", "--database_path", db, "--image_path", images,
              "--output_path", sparse]
    if k:
        mapper += ["--Mapper.ba_refine_focal_length", "0", "--Mapper.ba_refine_extra_params", "0"]
    run(mapper)
    models = sorted(os.listdir(sparse))
    if not models:
        print("COLMAP registered no model")
        sys.exit(1)
    # The model with the most images.
    def size(m):
        p = os.path.join(sparse, m, "images.bin")
        return os.path.getsize(p) if os.path.exists(p) else 0
    best = max(models, key=size)
    txt = os.path.join(out, "colmap")
    os.makedirs(txt, exist_ok=True)
    run(["colmap", "model_converter", "--input_path", os.path.join(sparse, best),
         "--output_path", txt, "--output_type", "TXT"])
    print(f"COLMAP: {time.time() - t0:.1f} s, model {best} of {len(models)} -> {txt}")


if __name__ == "__main__":
    main()
