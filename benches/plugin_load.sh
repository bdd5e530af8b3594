#!/usr/bin/env bash
# Time to load a native plugin (find the library, dlopen, check the ABI,
# configure), each in a fresh process: the median of 20 runs per plugin.
#
#   benches/plugin_load.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release --workspace --examples
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/load_time
for p in "finance-credit finance_credit_native" "manufacturing-fault manufacturing_fault_native"; do
  set -- $p
  for _ in $(seq 1 20); do "$BIN" "plugins/$1" "$1" "$2"; done \
    | python3 -c "import sys,statistics as s; v=[float(l.split()[1].split('=')[1]) for l in sys.stdin]; print(f'$1: median {s.median(v):.2f} ms, max {max(v):.2f} ms over {len(v)} fresh processes')"
done
