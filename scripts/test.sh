#!/usr/bin/env bash
# The README's test command: installs what is missing (scripts/setup.sh), makes sure PostgreSQL and
# RabbitMQ run (scripts/services.sh), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/services.sh
# schemathesis (PyPI) for the API's OpenAPI test, in .tools/ of the project.
bash scripts/schemathesis.sh >/dev/null
# Tesseract must not spawn its own threads under rayon (3-5x slower otherwise).
export OMP_THREAD_LIMIT=1
cargo test --workspace --locked
