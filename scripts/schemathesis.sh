#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned) into .tools/schemathesis of this project, idempotently, and prints
# the path of its command. The integration test openapi::schemathesis_finds_no_server_error_and_no_schema_mismatch
# runs it against an embedded `certscan serve`; scripts/test.sh calls this first so the test finds it ready.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
venv=.tools/schemathesis
bin="$venv/bin/schemathesis"
if [ ! -x "$bin" ] || [ "$(cat "$venv/VERSION" 2>/dev/null)" != "$VERSION" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    # Debian's python3 keeps venv in its own package.
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq python3-venv >/dev/null; else sudo apt-get install -y -qq python3-venv >/dev/null; fi
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
  echo "$VERSION" > "$venv/VERSION"
fi
echo "$PWD/$bin"
