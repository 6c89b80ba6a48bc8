#!/usr/bin/env bash
# Builds the browser package into crates/wasm/pkg: the wasm engine (dpseg_core_bg.wasm, optimised
# by wasm-opt), wasm-bindgen's glue (dpseg_core.js), the SDK module (dpseg.js), TypeScript
# declarations, package.json and README. Prints the gzipped size of wasm + JS.
# Installs what it needs and skips what is there: the wasm32 target, the wasm-bindgen CLI at the
# version Cargo.lock pins, and Debian's binaryen (wasm-opt).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  say "installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (a few minutes, once per machine)"
  cargo install wasm-bindgen-cli --version "$want"
fi
if ! command -v wasm-opt >/dev/null; then
  say "installing binaryen (wasm-opt) from Debian"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq binaryen >/dev/null
fi

out=crates/wasm/pkg
inputs=(src crates/wasm/src crates/wasm/js crates/wasm/Cargo.toml Cargo.toml Cargo.lock .cargo)
if [ -f "$out/dpseg_core_bg.wasm" ] && [ -z "$(find "${inputs[@]}" -newer "$out/dpseg_core_bg.wasm" -print -quit)" ]; then
  say "browser package is up to date ($out)"
  exit 0
fi
say "building dpseg-wasm (profile wasm-release)"
cargo build -p dpseg-wasm --target wasm32-unknown-unknown --profile wasm-release --locked
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# wasm-opt runs before wasm-bindgen: binaryen 108 rewrites the externref table that
# wasm-bindgen's output declares, and the browser then refuses the module.
wasm-opt -Oz --strip-producers \
  --enable-bulk-memory --enable-sign-ext --enable-reference-types \
  --enable-nontrapping-float-to-int --enable-multivalue \
  target/wasm32-unknown-unknown/wasm-release/dpseg_wasm.wasm -o "$tmp/dpseg_wasm.wasm"
wasm-bindgen --target web --out-dir "$tmp" --out-name dpseg_core "$tmp/dpseg_wasm.wasm"
mkdir -p "$out"
rm -f "$out"/*
cp "$tmp/dpseg_core_bg.wasm" "$tmp/dpseg_core.js" "$tmp/dpseg_core.d.ts" "$out/"
cp crates/wasm/js/dpseg.js crates/wasm/js/dpseg.d.ts crates/wasm/js/package.json crates/wasm/js/README.md "$out/"

gz() { gzip -9c "$@" | wc -c; }
wasm_gz=$(gz "$out/dpseg_core_bg.wasm")
js_gz=$(cat "$out/dpseg_core.js" "$out/dpseg.js" | gzip -9c | wc -c)
printf 'dpseg package: wasm %s B gzipped, JS %s B gzipped, total %s B (budget 40960 B)\n' \
  "$wasm_gz" "$js_gz" "$((wasm_gz + js_gz))" >&2
