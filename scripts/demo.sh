#!/usr/bin/env bash
# The demo: installs the npm packages if needed, builds the browser package if it is stale
# (scripts/build-wasm.sh) and the CLI, and runs `dpseg demo`, which starts the collector on 127.0.0.1 with SQLite under .dpseg-demo/, serving the demo site, the
# preference center and the dashboard, fed with a simulated population. It prints the URLs and
# the dashboard token; Ctrl-C stops it.
# Needs only the Rust toolchain (and Node, which the machine has); installs the rest.
# Arguments go to `dpseg demo` (see `dpseg demo --help`), e.g. --listen 127.0.0.1:9000.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the demo serves: the npm packages (the dashboard's charts; esbuild and binaryen for the
# build) when missing or older than the lock file, and the browser package (skipped when up to
# date). The `dpseg` binary builds nothing itself.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
./scripts/build-wasm.sh
cargo build --release --locked -q -p dpseg-cli
exec target/release/dpseg demo "$@"
