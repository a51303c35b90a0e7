#!/usr/bin/env bash
# Creates (once) the Python environment of the peer benchmarks: OpenCV (contrib, headless),
# numpy and scikit-image, from PyPI, in benches/peer/.venv. Prints the python to use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import cv2, numpy, skimage" 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check opencv-contrib-python-headless numpy scikit-image >&2
fi
echo "$venv/bin/python"
