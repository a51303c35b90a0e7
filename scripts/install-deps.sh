#!/usr/bin/env bash
# Installs, only where missing, the system packages timeslice needs to build and test:
# the FFmpeg development libraries (ffmpeg-next links the system FFmpeg), pkg-config and
# libclang (bindgen), build tools, the ffmpeg command line (tests and benches use it), and
# Chromium, which tests/viewer.rs runs headless to test the spin viewer.
# Idempotent: on a machine that has everything it installs nothing. Debian/Ubuntu only;
# elsewhere it prints what to install and stops.
set -euo pipefail

packages=(
  pkg-config clang libclang-dev build-essential
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavfilter-dev libavdevice-dev ffmpeg
)

# Headless Chromium for the viewer tests: Debian's package is chromium, Ubuntu's chromium-browser.
browser=chromium
if [ -r /etc/os-release ] && grep -qE '^ID(_LIKE)?=.*ubuntu' /etc/os-release; then
  browser=chromium-browser
fi
packages+=("$browser")

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: not a Debian/Ubuntu system. Install these (or your system's equivalents), then rerun make:" >&2
  echo "  ${packages[*]}" >&2
  echo "  and a Rust toolchain (https://rustup.rs)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1
    fi
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo not found; install Rust from https://rustup.rs and rerun" >&2
  exit 1
fi

# The Rust version Cargo.toml declares (rust-version): an older toolchain would fail deep inside
# a dependency instead of with this message.
need=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$(dirname "$0")/../Cargo.toml")
have=$(rustc --version | sed -n 's/^rustc \([0-9][0-9.]*\).*/\1/p')
if [ -n "$need" ] && [ -n "$have" ] && \
   [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
  echo "install-deps: rustc $have is older than $need, which timeslice needs; run 'rustup update' and rerun" >&2
  exit 1
fi
