#!/usr/bin/env bash
# A tour of the command line: builds the `dpseg` CLI, reviews the example campaigns of a
# fictional outdoor retailer with `dpseg lint`, evaluates them for a few visitors with
# `dpseg eval`, and shows private reporting with `dpseg plan`, `simulate` and `privatize`.
# Needs only the Rust toolchain. The web demo is ./scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

ex=examples/outdoor
now=2026-11-24T00:00:00Z
cargo build --release --locked -q -p dpseg-cli
dpseg=target/release/dpseg

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

say "1. The lint reviews each campaign against the data map ($ex/schema.toml)"
for c in "$ex"/campaigns/*.toml; do
  summary=$("$dpseg" lint --schema "$ex/schema.toml" --campaign "$c" 2>/dev/null |
    tr -d ' \n' | sed -E 's/.*"config_id":"?([0-9a-f]*)"?,"errors":([0-9]+).*"warnings":([0-9]+).*/config_id \1, \2 errors, \3 warnings/')
  printf '  %-28s %s\n' "$(basename "$c")" "$summary"
done

say "2. ...and refuses one that misuses data (exit code 1):"
if "$dpseg" lint --schema "$ex/schema.toml" --campaign "$ex/lint/health-targeting.toml" >/dev/null; then
  echo "unexpected: the lint accepted health-targeting.toml" >&2
  exit 1
fi

say "3. Segments of each visitor for campaign spring-2027, evaluated on the device (now = $now)"
for p in "$ex"/profiles/*.json; do
  printf '  %-8s ' "$(basename "$p" .json)"
  "$dpseg" eval --schema "$ex/schema.toml" --campaign "$ex/campaigns/spring-2027.toml" --profile "$p" --now "$now" |
    tr -d ' \n'
  echo
done

say "4. Why is alice a 'hiker'? (dpseg eval --explain, one segment)"
"$dpseg" eval --schema "$ex/schema.toml" --campaign "$ex/campaigns/spring-2027.toml" \
  --profile "$ex/profiles/alice.json" --now "$now" --explain |
  sed -n '/"explain"/,$p' | sed -n '/"hikers": {/,/^      }/p' | head -60

say "5. Private reporting: what 100,000 devices a day can measure (dpseg plan, hikers)"
"$dpseg" plan --campaign "$ex/campaigns/spring-2027.toml" --devices 100000 |
  tr -d '\n' | sed -E 's/.*"hikers": \{([^}]*)\}.*/  hikers: {\1}/' | tr -s ' '
echo

say "6. Three epochs of a simulated population of 100,000 devices (dpseg simulate, hikers)"
"$dpseg" simulate --campaign "$ex/campaigns/spring-2027.toml" --devices 100000 \
  --truth "$ex/truth/spring-2027.json" --epochs 3 |
  tr -d '\n' | grep -oE '"hikers": \{[^}]*\}' | tr -s ' ' | sed 's/^/  /'

say "7. One report, exactly as it would leave alice's device (dpseg privatize)"
"$dpseg" privatize --schema "$ex/schema.toml" --campaign "$ex/campaigns/spring-2027.toml" \
  --membership "$ex/membership-alice.json" --reports 1

say "Try it yourself:"
echo "  $dpseg eval --schema $ex/schema.toml --campaign $ex/campaigns/family-gear.toml --profile $ex/profiles/bob.json --now $now --explain"
