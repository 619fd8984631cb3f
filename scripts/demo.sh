#!/usr/bin/env bash
# The README's demo command: installs what is missing, then runs `certscan demo --service` on generated
# data: the whole round trip through the embedded service (no servers: SQLite, in-process queue, a folder).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_THREAD_LIMIT=1
cargo run --release --locked -p certscan -- demo --service "$@"
