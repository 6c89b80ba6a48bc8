#!/usr/bin/env bash
# Compares dpseg's mechanisms with the pure-ldp Python package on the same simulations (time and
# mean squared error). Installs pure-ldp (with xxhash<3, which its local-hashing oracles need,
# and scikit-learn and statsmodels, which its package imports) into target/pure-ldp-venv once. QUICK=1 runs smaller
# simulations.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/pure-ldp-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pure_ldp.frequency_oracles, xxhash, numpy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pure-ldp 'xxhash<3' numpy scipy scikit-learn statsmodels pandas bitstring bitarray
fi
cargo build --release --locked -q -p dpseg-cli
exec "$venv/bin/python" scripts/compare_pure_ldp.py target/release/dpseg
