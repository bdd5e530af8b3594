#!/usr/bin/env bash
# Mean fold metric of cross-validated scenarios over several seeds (each
# seed draws its own fold assignment), side by side: the way a change to a
# small-data scenario is judged when one seed's folds move the mean by more
# than the change itself.
#
#   benches/cv_seeds.sh scenarios/credit-scoring.yaml
#   SEEDS="$(seq -s ' ' 8 19)" benches/cv_seeds.sh scenarios/credit-scoring.yaml my-variant.yaml
#   METRIC=accuracy benches/cv_seeds.sh scenarios/manufacturing-fault.yaml
#   INDUS=target/debug/indus benches/cv_seeds.sh scenarios/credit-scoring.yaml
#
# A variant is a copy of a scenario file with one setting changed, saved in
# `scenarios/` beside it so that it finds the same plugin.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEEDS=${SEEDS:-"7 1 2 3 4 5"}
METRIC=${METRIC:-roc_auc}
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
INDUS=${INDUS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indus}
[ -x "$INDUS" ] || cargo build --release --workspace --manifest-path "$ROOT/Cargo.toml"
[ $# -gt 0 ] || { echo "usage: $0 SCENARIO.yaml..." >&2; exit 2; }
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

printf 'scenario | %s | mean\n' "$(echo $SEEDS | sed 's/ / | /g')"
for scenario in "$@"; do
  values=()
  for seed in $SEEDS; do
    "$INDUS" run "$scenario" --seed "$seed" --runs-dir "$WORK/runs" --json 2>"$WORK/run.err" >"$WORK/run.json" \
      || { echo "$scenario, seed $seed:" >&2; tail -5 "$WORK/run.err" >&2; exit 1; }
    values+=("$(python3 -c 'import json, sys
cv = json.load(open(sys.argv[1]))["metrics"].get("cross_validation")
sys.exit("not a cross-validated scenario") if cv is None else print("%.4f" % cv["mean"][sys.argv[2]])' "$WORK/run.json" "$METRIC")")
  done
  mean=$(printf '%s\n' "${values[@]}" | awk '{s += $1} END {printf "%.4f", s / NR}')
  printf '%s | %s | %s\n' "$(basename "$scenario" .yaml)" "$(echo "${values[@]}" | sed 's/ / | /g')" "$mean"
done
