#!/usr/bin/env bash
# The demo (DESIGN §10): builds the browser package if it is stale, installs the dashboard's
# npm packages, builds the CLI, and runs `dpseg demo`: the collector on 127.0.0.1 with SQLite
# under .dpseg-demo/, serving the demo site, the preference center and the dashboard, fed with
# a simulated population. Prints the URLs and the dashboard token; Ctrl-C stops it.
# Needs only the Rust toolchain (and Node, which the machine has); installs the rest.
# Arguments go to `dpseg demo` (see `dpseg demo --help`), e.g. --listen 127.0.0.1:9000.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build-wasm.sh
if [ ! -d node_modules/chart.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
cargo build --release --locked -q -p dpseg-cli
exec target/release/dpseg demo "$@"
