#!/usr/bin/env bash
# Installs what certscan needs on Debian 12, idempotently: Debian packages (tesseract, leptonica, clang for
# bindgen, cmake and nasm for the bundled libjpeg-turbo, g++ for the bundled zxing-cpp, fonts, pip) and libpdfium.so from the pypdfium2 wheel on PyPI into .pdfium/ of this project.
# Everything comes from the package registries only. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

# The pdfium build the bindings are tested with (pdfium 8149); bump deliberately, not by accident.
PYPDFIUM2_VERSION="${PYPDFIUM2_VERSION:-5.15.2}"
# cmake and nasm build the libjpeg-turbo that the turbojpeg crate bundles (nasm for its SIMD code); cmake and
# g++ build the zxing-cpp (QR reader) that the zxing-cpp crate bundles.
PACKAGES=(libtesseract-dev libleptonica-dev tesseract-ocr-eng tesseract-ocr-rus clang libclang-dev pkg-config
          fonts-dejavu-core ca-certificates cmake nasm g++)
# python3 with pip may come from elsewhere (pyenv); Debian's is installed only when none works.
if ! { command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; }; then
  PACKAGES+=(python3 python3-pip)
fi

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found: install the Rust toolchain (rustup, Rust >= 1.88) first" >&2
  exit 1
fi

lib=.pdfium/libpdfium.so
stamp=.pdfium/VERSION
if [ ! -f "$lib" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$PYPDFIUM2_VERSION" ]; then
  echo "setup: fetching libpdfium.so from the pypdfium2 $PYPDFIUM2_VERSION wheel (PyPI)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 \
    --dest "$tmp" "pypdfium2==$PYPDFIUM2_VERSION"
  mkdir -p .pdfium
  python3 - "$tmp"/pypdfium2-*.whl "$lib" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    data = z.read("pypdfium2_raw/libpdfium.so")
with open(out + ".tmp", "wb") as f:
    f.write(data)
import os
os.chmod(out + ".tmp", 0o755)
os.replace(out + ".tmp", out)
PY
  echo "$PYPDFIUM2_VERSION" > "$stamp"
fi
echo "setup: ready (pdfium: $lib)"
