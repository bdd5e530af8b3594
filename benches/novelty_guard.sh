#!/usr/bin/env bash
# What a scenario's novelty guard adds, per seed, from one run each: the
# classifier's own decisions on the test rows against the guarded ones
# (`metrics.json` keeps both). For NSL-KDD the guard is an autoencoder of
# normal connections; its threshold comes from normal validation rows of the
# training file, never from KDDTest+.
#
#   benches/novelty_guard.sh                             # security-intrusion, seeds 7 1 2, release build
#   SEEDS="7 1 2 3 4 5" INDUS=target/debug/indus benches/novelty_guard.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCENARIO=${SCENARIO:-security-intrusion}
SEEDS=${SEEDS:-"7 1 2"}
INDUS=${INDUS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indus}
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
[ -x "$INDUS" ] || cargo build --release --workspace --manifest-path "$ROOT/Cargo.toml"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
for seed in $SEEDS; do
  "$INDUS" run "scenarios/$SCENARIO.yaml" --runs-dir "$WORK/runs" --seed "$seed" --json 2>/dev/null > "$WORK/$seed.json"
done
python3 - "$WORK" "$SCENARIO" $SEEDS <<'PY'
import json, sys
work, scenario, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]

def rates(m):
    # Binary heads: accuracy, false alarms among the usual class, recall of the other.
    c = m["confusion"]
    return m["accuracy"], c[0][1] / sum(c[0]), c[1][1] / sum(c[1])

print(f"{scenario}, test rows: accuracy / false-alarm rate / recall of the flagged class")
print("seed | classifier alone | with the novelty guard | decisions changed")
sums = [[0.0] * 3, [0.0] * 3]
for seed in seeds:
    m = json.load(open(f"{work}/{seed}.json"))["metrics"]
    g = m["novelty_guard"]
    cells = []
    for k, metrics in enumerate((g["classifier_alone"], m["test"])):
        r = rates(metrics)
        sums[k] = [s + v / len(seeds) for s, v in zip(sums[k], r)]
        cells.append("%.4f / %.3f / %.3f" % r)
    print(seed, "|", " | ".join(cells), "|", g["overruled"])
print("mean |", " | ".join("%.4f / %.3f / %.3f" % tuple(s) for s in sums), "|")
PY
