#!/usr/bin/env bash
# Runs every test of the repository: formatting, lints, unit, spec, property, privacy
# (exact enumeration, audit), statistical and end-to-end tests, and a build of the wasm crate for
# wasm32-unknown-unknown (the core must build there).
# Installs what it needs (rustfmt, clippy, the wasm32 target) and skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

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

step "build dpseg-wasm for wasm32-unknown-unknown"
cargo build -p dpseg-wasm --target wasm32-unknown-unknown --release --locked
ls -l target/wasm32-unknown-unknown/release/dpseg_wasm.wasm

step "all tests passed"
