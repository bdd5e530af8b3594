#!/usr/bin/env bash
# The two shipped NSL-KDD detectors side by side and combined: the supervised
# classifier (`security-intrusion`, knows the 22 training attack types) and
# the autoencoder (`security-anomaly`, knows only normal traffic). Per seed it
# trains both, predicts KDDTest+ with each run, and scores each alone and the
# alarm "either one fires". Both thresholds come from validation rows of the
# training file (cost rule; 95th percentile of normal errors), never from
# KDDTest+.
#
#   benches/hybrid_alarm.sh                          # seeds 7 1 2, release build
#   SEEDS="7 1 2 3 4 5" INDUS=target/debug/indus benches/hybrid_alarm.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEEDS=${SEEDS:-"7 1 2"}
INDUS=${INDUS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indus}
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
[ -x "$INDUS" ] || cargo build --release --workspace --manifest-path "$ROOT/Cargo.toml"
TEST="$INDUS_DATA_DIR/security/nsl_kdd_test_plus.csv"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
for seed in $SEEDS; do
  for scenario in security-intrusion security-anomaly; do
    run=$("$INDUS" run "scenarios/$scenario.yaml" --runs-dir "$WORK/runs" --seed "$seed" --json 2>/dev/null |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["run_dir"])')
    "$INDUS" predict "$run" --input "$TEST" --out "$WORK/$scenario-$seed.csv" >/dev/null 2>&1
  done
done
python3 - "$WORK" "$TEST" $SEEDS <<'PY'
import csv, sys
work, test, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
truth = [int(r["label_binary"]) for r in csv.DictReader(open(test))]
normal = sum(1 for t in truth if t == 0)
attacks = len(truth) - normal

def alarms(name, seed):
    return [int(r["label"]) for r in csv.DictReader(open(f"{work}/{name}-{seed}.csv"))]

def score(pred):
    acc = sum(p == t for p, t in zip(pred, truth)) / len(truth)
    false_alarms = sum(p == 1 and t == 0 for p, t in zip(pred, truth)) / normal
    detected = sum(p == 1 and t == 1 for p, t in zip(pred, truth)) / attacks
    return acc, false_alarms, detected

print("KDDTest+: accuracy / false-alarm rate on normal traffic / attack recall")
print("seed | supervised | autoencoder | either fires")
means = [[0.0] * 3 for _ in range(3)]
for seed in seeds:
    sup, ae = alarms("security-intrusion", seed), alarms("security-anomaly", seed)
    either = [a | b for a, b in zip(sup, ae)]
    cells = []
    for k, pred in enumerate((sup, ae, either)):
        s = score(pred)
        means[k] = [m + v / len(seeds) for m, v in zip(means[k], s)]
        cells.append("%.4f / %.3f / %.3f" % s)
    print(seed, "|", " | ".join(cells))
print("mean |", " | ".join("%.4f / %.3f / %.3f" % tuple(m) for m in means))
PY
