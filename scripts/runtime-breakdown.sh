#!/usr/bin/env bash
# Where the runtime module's gzipped size goes (ARCHITECTURE "Browser modules"): builds the
# runtime as shipped, then once per part with that part's exports removed, and prints what each
# removal saves (wasm after wasm-bindgen and wasm-opt -Oz, gzip -9). Works on a copy of the
# repository's sources in a temporary directory with its own target directory, so the checkout
# and its builds are untouched. One LTO build per line (about half a minute in all here).
# Needs what ./scripts/build-wasm.sh installs (the wasm32 target, wasm-bindgen, the npm
# packages with binaryen's wasm-opt).
set -euo pipefail
cd "$(dirname "$0")/.."
wasm_opt=$PWD/node_modules/.bin/wasm-opt

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$work"
target=${CARGO_TARGET_DIR:-target}/breakdown
mkdir -p "$target"
target=$(cd "$target" && pwd)

size() { # -> gzipped bytes of the runtime built from $work
  # A build without a part warns about what only that part used; only failures are shown.
  (cd "$work" && CARGO_TARGET_DIR="$target" cargo build -q -p dpseg-rt \
    --target wasm32-unknown-unknown --profile wasm-release --locked) 2>"$work/build.log" \
    || { cat "$work/build.log" >&2; exit 1; }
  rm -rf "$work/out"
  wasm-bindgen --target web --out-dir "$work/out" --out-name rt \
    "$target/wasm32-unknown-unknown/wasm-release/dpseg_rt.wasm"
  "$wasm_opt" -Oz --converge --strip-producers --strip-debug --enable-bulk-memory --enable-sign-ext \
    --enable-reference-types --enable-nontrapping-float-to-int --enable-multivalue \
    "$work/out/rt_bg.wasm" -o "$work/out/rt_bg.wasm"
  gzip -9c "$work/out/rt_bg.wasm" | wc -c
}

lib="$work/crates/wasm-rt/src/lib.rs"
cp "$lib" "$work/lib.rs.orig"
without() { # fn names... : the runtime's lib.rs without those exported methods
  python3 - "$work/lib.rs.orig" "$lib" "$@" <<'PY'
import sys
src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3:]
s = open(src).read()
for name in names:
    i = s.index(f"pub fn {name}(")
    start = s.rindex("\n\n", 0, i)  # the method's doc comment and attributes
    end = s.index("\n    }\n", i) + 7
    s = s[:start] + "\n" + s[end:]
open(dst, "w").write(s)
PY
}

whole=$(size)
printf '%-62s %8s B\n' "runtime wasm, as shipped" "$whole"
part() { # label, fn names...
  local label=$1
  shift
  without "$@"
  local rest
  rest=$(size)
  printf '%-62s %8s B\n' "$label" "$((whole - rest))"
}
part "profile changes (set, track, profile, importProfile)" set track profile import_profile
part "answers for the report module (itemTruth)" item_truth
part "reading a compact campaign (loadRunnable)" load_runnable
part "evaluation (evaluate, inSegment)" evaluate in_segment
cp "$work/lib.rs.orig" "$lib"
