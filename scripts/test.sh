#!/usr/bin/env bash
# Runs every test of the repository: formatting, lints, unit, spec, property, privacy
# (exact enumeration, audit), statistical and collector tests (SQLite and PostgreSQL), then the
# browser package: built, run in Node and in headless Chromium against the real collector.
# Installs what it needs (rustfmt, clippy, the wasm32 target, wasm-bindgen-cli, PostgreSQL,
# Chromium, the npm packages with esbuild and binaryen's wasm-opt) and skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

installed_components=$(rustup component list --installed 2>/dev/null || true)
for component in rustfmt clippy; do
  if ! grep -q "^$component" <<<"$installed_components"; then
    step "installing rustup component $component"
    rustup component add "$component"
  fi
done
if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  step "installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

step "a throwaway PostgreSQL for the collector's tests"
# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# Release mode: the exact privacy enumeration and the statistical tests run millions of
# simulated reports and big-rational products, which take minutes unoptimised.
step "cargo test (release)"
cargo test --workspace --release --locked

# Again with debug assertions and overflow checks (still optimised, same reason): a
# `debug_assert!` or an overflow the release build would let pass fails here.
step "cargo test (profile checked: debug assertions, overflow checks)"
cargo test --workspace --profile checked --locked

step "Chromium and npm packages for the JS tests"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error

step "the browser package (crates/wasm/pkg)"
./scripts/build-wasm.sh

step "the package's TypeScript declarations (tsc --strict over a use of the whole API)"
npx --no-install tsc -p crates/wasm/tests/types

step "JS tests: the package in Node and headless Chromium, against the real collector"
cargo build --release --locked -p dpseg-cli
node --test crates/wasm/tests/

step "end-to-end: demo site, preference center and dashboard in headless Chromium (dpseg demo)"
node --test www/tests/

step "all tests passed"
