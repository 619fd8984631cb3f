#!/usr/bin/env bash
# The README's test command: installs what is missing (scripts/setup.sh), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Tesseract must not spawn its own threads under rayon (3-5x slower otherwise).
export OMP_THREAD_LIMIT=1
cargo test --workspace --locked
