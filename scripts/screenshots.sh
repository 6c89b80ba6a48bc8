#!/usr/bin/env bash
# Refreshes the README's screenshots (docs/screenshots/) from a run of the end-to-end suite,
# which writes them under target/screenshots/ so that running the tests changes no tracked file.
# Needs what scripts/test.sh installs, the browser package and the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-wasm.sh
cargo build --release --locked -p dpseg-cli
DPSEG_SCREENSHOTS="$PWD/target/screenshots" node --test www/tests/
cp target/screenshots/*.png docs/screenshots/
echo "==> docs/screenshots/ refreshed; review them with git diff before committing"
