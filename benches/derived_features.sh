#!/usr/bin/env bash
# Before/after of a plugin's native derived features: the shipped scenario
# (with the hook's derived columns) against the same plugin with those
# columns and the native hooks removed, same folds, same seeds. Prints the
# cross-validated metric per seed, the paired difference, and the means.
#
#   benches/derived_features.sh                     # manufacturing-fault, accuracy, seeds 7 1 2
#   SCENARIO=credit-scoring SEEDS="7 1 2 3 4 5" benches/derived_features.sh   # ROC-AUC
#   SCENARIO=predictive-maintenance METRIC=pr_auc benches/derived_features.sh
#   SCENARIO=security-anomaly SEEDS="7 1 2 3 4 5" benches/derived_features.sh   # detection at 1 % false alarms
#   INDUS=target/debug/indus benches/derived_features.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCENARIO=${SCENARIO:-manufacturing-fault}
SEEDS=${SEEDS:-"7 1 2"}
case "$SCENARIO" in
  credit-scoring|predictive-maintenance) METRIC=${METRIC:-roc_auc} ;;
  security-anomaly) METRIC=${METRIC:-tpr_at_1pct_fpr} ;;
  *) METRIC=${METRIC:-accuracy} ;;
esac
INDUS=${INDUS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indus}
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
[ -x "$INDUS" ] || cargo build --release --workspace --manifest-path "$ROOT/Cargo.toml"
PLUGIN=$(sed -n 's/^plugin: *//p' "$ROOT/scenarios/$SCENARIO.yaml")
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# The "before" project: the plugin without derived columns or native hooks.
mkdir -p "$WORK/before/plugins/$PLUGIN" "$WORK/before/scenarios"
[ -d "$ROOT/plugins/$PLUGIN/data" ] && cp -r "$ROOT/plugins/$PLUGIN/data" "$WORK/before/plugins/$PLUGIN/"
python3 - "$ROOT/plugins/$PLUGIN/plugin.yaml" "$WORK/before/plugins/$PLUGIN/plugin.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"    - name: [a-z_]+[^\n]*\n(      [^\n]*\n)*?      derived: true\n(      [^\n]*\n)*", "", text)
text = re.sub(r"\nnative:\n(  [^\n]*\n)*", "\n", text)
assert "derived: true" not in text and "\nnative:" not in text
open(sys.argv[2], "w").write(text)
PY
cp "$ROOT/scenarios/$SCENARIO.yaml" "$WORK/before/scenarios/"

# Cross-validated scenarios: mean and std of the folds; others: the test
# split's value (std 0), ranking metrics read from `test.ranking`.
metric() { python3 -c '
import json, sys
m = json.load(sys.stdin)["metrics"]; k = sys.argv[1]; cv = m.get("cross_validation")
if cv:
    print("%.4f %.4f" % (cv["mean"][k], cv["std"][k]))
else:
    t = m["test"]; v = t["ranking"][k] if k in ("roc_auc", "pr_auc", "ks", "tpr_at_1pct_fpr") else t[k]
    print("%.4f 0" % v)' "$METRIC"; }
echo "$SCENARIO, $METRIC (mean ± std of folds, or on the test split): seed | without derived columns | with | difference"
for seed in $SEEDS; do
  b=$("$INDUS" run "$WORK/before/scenarios/$SCENARIO.yaml" --runs-dir "$WORK/runs-b" --seed "$seed" --json 2>/dev/null | metric)
  a=$(cd "$ROOT" && "$INDUS" run "scenarios/$SCENARIO.yaml" --runs-dir "$WORK/runs-a" --seed "$seed" --json 2>/dev/null | metric)
  echo "$seed $b $a" >> "$WORK/results"
done
python3 - "$WORK/results" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
diffs = []
for seed, b, bs, a, as_ in rows:
    d = float(a) - float(b)
    diffs.append(d)
    print(f"{seed} | {b} ± {bs} | {a} ± {as_} | {d:+.4f}")
n = len(rows)
mb = sum(float(r[1]) for r in rows) / n
ma = sum(float(r[3]) for r in rows) / n
up = sum(d > 0 for d in diffs)
print(f"mean | {mb:.4f} | {ma:.4f} | {ma - mb:+.4f} (higher with derived columns for {up} of {n} seeds)")
PY
