#!/usr/bin/env bash
# The demo (DESIGN §10): builds the CLI and runs `dpseg demo`, which builds the browser package
# if it is stale (scripts/build-wasm.sh), installs the dashboard's npm packages if needed, and
# starts the collector on 127.0.0.1 with SQLite under .dpseg-demo/, serving the demo site, the
# preference center and the dashboard, fed with a simulated population. It prints the URLs and
# the dashboard token; Ctrl-C stops it.
# Needs only the Rust toolchain (and Node, which the machine has); installs the rest.
# Arguments go to `dpseg demo` (see `dpseg demo --help`), e.g. --listen 127.0.0.1:9000.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -q -p dpseg-cli
exec target/release/dpseg demo "$@"
