#!/usr/bin/env bash
# Builds the browser package into crates/wasm/pkg (ARCHITECTURE "Browser modules"): the
# runtime every page loads (dpseg_rt_bg.wasm, its glue bundled into dpseg.js with the SDK), the
# report module (dpseg_report*), the verify-only module (dpseg_verify*) and the full module with
# the tools (dpseg_core*), each optimised by wasm-opt; TypeScript declarations, package.json and README. Prints the gzipped
# sizes. Installs what it needs and skips what is there: the wasm32 target, the wasm-bindgen CLI
# at the version Cargo.lock pins, the npm packages (esbuild; binaryen's wasm-opt).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

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
if [ ! -x node_modules/.bin/esbuild ] || [ ! -x node_modules/.bin/wasm-opt ]; then
  say "installing the npm packages (esbuild bundles and minifies the SDK, binaryen optimises the wasm)"
  npm ci --no-audit --no-fund --loglevel=error
fi

out=crates/wasm/pkg
inputs=(src crates/wasm/src crates/wasm-rt/src crates/wasm-check/src crates/wasm-report/src crates/wasm-common/src crates/wasm/js
        crates/wasm/Cargo.toml crates/wasm-rt/Cargo.toml crates/wasm-check/Cargo.toml crates/wasm-report/Cargo.toml crates/wasm-common/Cargo.toml
        Cargo.toml Cargo.lock .cargo package-lock.json scripts/build-wasm.sh)
if [ -f "$out/dpseg_core_bg.wasm" ] && [ -f "$out/dpseg_verify_bg.wasm" ] && [ -f "$out/dpseg_rt_bg.wasm" ] \
   && [ -f "$out/dpseg_report_bg.wasm" ] && [ -f "$out/dpseg_check_bg.wasm" ] && [ -f "$out/dpseg_tools.js" ] && [ -f "$out/dpseg_reporting.js" ] && [ -f "$out/dpseg_verifying.js" ] && [ -f "$out/dpseg_checking.js" ] && [ -f "$out/dpseg_consent.js" ] && [ -f "$out/dpseg_bridge.js" ] \
   && [ -z "$(find "${inputs[@]}" -newer "$out/dpseg_rt_bg.wasm" -print -quit)" ]; then
  say "browser package is up to date ($out)"
  exit 0
fi
say "building dpseg-rt, dpseg-check, dpseg-report and dpseg-wasm (profile wasm-release)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# wasm-opt (binaryen from npm, pinned in package-lock.json) runs after wasm-bindgen, so it also
# removes what the bindings left unused. Debian's binaryen 108 cannot: it rewrites the externref
# table wasm-bindgen declares, and the browser then refuses the module.
bindgen() { # crate-file out-name
  wasm-bindgen --target web --out-dir "$tmp" --out-name "$2" "target/wasm32-unknown-unknown/wasm-release/$1.wasm"
  node_modules/.bin/wasm-opt -Oz --converge --strip-producers --strip-debug \
    --enable-bulk-memory --enable-sign-ext --enable-reference-types \
    --enable-nontrapping-float-to-int --enable-multivalue \
    "$tmp/$2_bg.wasm" -o "$tmp/$2_bg.wasm"
  # The glue of the modules imported on demand, minified like the SDK (the runtime's is bundled
  # into dpseg.js below).
  node_modules/.bin/esbuild "$tmp/$2.js" --format=esm --minify --legal-comments=none --log-level=warning \
    --outfile="$tmp/$2.min.js" && mv "$tmp/$2.min.js" "$tmp/$2.js"
}
release=(--target wasm32-unknown-unknown --profile wasm-release --locked)
cargo build -p dpseg-rt "${release[@]}"
bindgen dpseg_rt dpseg_rt
cargo build -p dpseg-check "${release[@]}"
bindgen dpseg_check dpseg_check
cargo build -p dpseg-report "${release[@]}"
bindgen dpseg_report dpseg_report
# The verifier twice: verify-only (no features) and with the tools; each build replaces the
# other's dpseg_wasm.wasm, so each is bound before the next.
cargo build -p dpseg-wasm --no-default-features "${release[@]}"
bindgen dpseg_wasm dpseg_verify
cargo build -p dpseg-wasm "${release[@]}"
bindgen dpseg_wasm dpseg_core
mkdir -p "$out"
rm -f "$out"/*
cp "$tmp"/dpseg_rt_bg.wasm "$tmp"/dpseg_check_bg.wasm "$tmp"/dpseg_check.js "$tmp"/dpseg_report_bg.wasm "$tmp"/dpseg_report.js \
   "$tmp"/dpseg_verify_bg.wasm "$tmp"/dpseg_verify.js \
   "$tmp"/dpseg_core_bg.wasm "$tmp"/dpseg_core.js "$out/"
cp crates/wasm/js/dpseg.d.ts crates/wasm/js/dpseg_tools.d.ts crates/wasm/js/dpseg_consent.d.ts crates/wasm/js/package.json crates/wasm/js/README.md "$out/"
# dpseg.js: the SDK (dpseg.js and its modules in sdk/) and the runtime's glue in one minified module (with a source map); the
# other modules' glue stays in separate files, imported only when needed.
cp crates/wasm/js/dpseg.js "$tmp/dpseg.js"
rm -rf "$tmp/sdk" && cp -r crates/wasm/js/sdk "$tmp/sdk"
version=$(awk '/^\[workspace.package\]/ { p = 1 } p && /^version = / { gsub(/version = |"/, ""); print; exit }' Cargo.toml)
node_modules/.bin/esbuild "$tmp/dpseg.js" --bundle --format=esm --minify --sourcemap --define:DPSEG_VERSION="\"$version\"" \
  --external:./dpseg_core.js --external:./dpseg_check.js --external:./dpseg_verify.js --external:./dpseg_report.js --external:./dpseg_tools.js --external:./dpseg_reporting.js --external:./dpseg_verifying.js --external:./dpseg_checking.js --external:./dpseg_bridge.js \
  --legal-comments=none --log-level=warning --outfile="$out/dpseg.js"
# The tools' entry (lint, planner, rule tools; `dpseg/tools`): it loads the full module.
node_modules/.bin/esbuild crates/wasm/js/tools.js --format=esm --minify --legal-comments=none \
  --log-level=warning --outfile="$out/dpseg_tools.js"
# The consent adapters (TCF, Consent Mode), imported by sites that use them: `dpseg/consent`.
node_modules/.bin/esbuild crates/wasm/js/consent.js --format=esm --minify --legal-comments=none \
  --log-level=warning --outfile="$out/dpseg_consent.js"
# The native bridge (the pre-load queue and postMessage), imported only by pages that use it.
node_modules/.bin/esbuild crates/wasm/js/bridge.js --format=esm --minify --legal-comments=none \
  --log-level=warning --outfile="$out/dpseg_bridge.js"
# The reporting JS (making and sending reports), imported with the report module.
node_modules/.bin/esbuild crates/wasm/js/reporting.js --format=esm --minify --legal-comments=none \
  --log-level=warning --outfile="$out/dpseg_reporting.js"
# What the SDK does when a campaign version is new to the device, imported only then.
node_modules/.bin/esbuild crates/wasm/js/checking.js --format=esm --minify --legal-comments=none \
  --log-level=warning --outfile="$out/dpseg_checking.js"
# The SDK's use of the verifier (a data map given as JSON text, a document without its compiled
# form), imported only then.
node_modules/.bin/esbuild crates/wasm/js/verifying.js --format=esm --minify --legal-comments=none \
  --log-level=warning --outfile="$out/dpseg_verifying.js"

gz() { gzip -9c "$@" | wc -c; }
page=$(gz "$out/dpseg_rt_bg.wasm")
glue=$(gz "$out/dpseg.js")
check=$(( $(gz "$out/dpseg_check_bg.wasm") + $(gz "$out/dpseg_check.js") + $(gz "$out/dpseg_checking.js") ))
report=$(( $(gz "$out/dpseg_report_bg.wasm") + $(gz "$out/dpseg_report.js") + $(gz "$out/dpseg_reporting.js") ))
verify=$(( $(gz "$out/dpseg_verify_bg.wasm") + $(gz "$out/dpseg_verify.js") + $(gz "$out/dpseg_verifying.js") ))
tools=$(( $(gz "$out/dpseg_core_bg.wasm") + $(gz "$out/dpseg_core.js") + $(gz "$out/dpseg_tools.js") ))
printf 'dpseg package: every page loads %s B gzipped (runtime wasm %s B + JS %s B; budget 40960 B);\n' \
  "$((page + glue))" "$page" "$glue" >&2
printf '  on demand: the check %s B (a campaign version new to the device), reports %s B (when one is due),\n' \
  "$check" "$report" >&2
printf '  verifier %s B (only for a data map given as JSON text),\n' "$verify" >&2
printf '  tools %s B (explanations, lint, planner)\n' "$tools" >&2
