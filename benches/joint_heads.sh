#!/usr/bin/env bash
# Several heads on one trunk against the primary head trained alone: the
# shipped scenario (its `heads:` list) and a copy with `head: <first>` only,
# same split, same seeds. Prints the primary head's ROC-AUC and PR-AUC per
# seed, the paired differences and the means, and each extra head's ROC-AUC.
#
#   benches/joint_heads.sh                                  # predictive-maintenance, seeds 7 1 2 3
#   SEEDS="7 1 2 3 4 5" INDUS=target/debug/indus benches/joint_heads.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCENARIO=${SCENARIO:-predictive-maintenance}
SEEDS=${SEEDS:-"7 1 2 3"}
INDUS=${INDUS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indus}
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
[ -x "$INDUS" ] || cargo build --release --workspace --manifest-path "$ROOT/Cargo.toml"
PLUGIN=$(sed -n 's/^plugin: *//p' "$ROOT/scenarios/$SCENARIO.yaml")
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# The "alone" project: same plugin, the scenario's first head only.
mkdir -p "$WORK/alone/plugins" "$WORK/alone/scenarios"
cp -r "$ROOT/plugins/$PLUGIN" "$WORK/alone/plugins/"
python3 - "$ROOT/scenarios/$SCENARIO.yaml" "$WORK/alone/scenarios/$SCENARIO.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
block = re.search(r"\nheads:\n((?:  [^\n]*\n)+)", text)
assert block, "the scenario lists no heads:"
first = re.search(r"- name: *(\S+)", block.group(1)).group(1)
open(sys.argv[2], "w").write(text.replace(block.group(0), f"\nhead: {first}\n"))
PY

scores() { python3 -c '
import json, sys
m = json.load(sys.stdin)["metrics"]; r = m["test"]["ranking"]
extra = " ".join("%s=%.4f" % (a["head"], a["test"]["ranking"]["roc_auc"]) for a in m.get("auxiliary_heads", []) if a.get("test") and a["test"].get("ranking"))
print("%.4f %.4f %s" % (r["roc_auc"], r["pr_auc"], extra))'; }
echo "$SCENARIO: seed | alone ROC-AUC PR-AUC | on one trunk ROC-AUC PR-AUC | difference | extra heads' ROC-AUC"
for seed in $SEEDS; do
  a=$("$INDUS" run "$WORK/alone/scenarios/$SCENARIO.yaml" --runs-dir "$WORK/runs-a" --seed "$seed" --json 2>/dev/null | scores)
  j=$(cd "$ROOT" && "$INDUS" run "scenarios/$SCENARIO.yaml" --runs-dir "$WORK/runs-j" --seed "$seed" --json 2>/dev/null | scores)
  echo "$seed $a | $j" >> "$WORK/results"
done
python3 - "$WORK/results" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    seed, rest = line.split(" ", 1)
    alone, joint = rest.split("|")
    a, j = alone.split(), joint.split()
    rows.append((seed, float(a[0]), float(a[1]), float(j[0]), float(j[1]), " ".join(j[2:])))
for seed, a, ap, j, jp, extra in rows:
    print(f"{seed} | {a:.4f} {ap:.4f} | {j:.4f} {jp:.4f} | {j - a:+.4f} {jp - ap:+.4f} | {extra}")
n = len(rows)
mean = lambda i: sum(r[i] for r in rows) / n
up = sum(r[3] > r[1] for r in rows)
print(f"mean | {mean(1):.4f} {mean(2):.4f} | {mean(3):.4f} {mean(4):.4f} | {mean(3) - mean(1):+.4f} {mean(4) - mean(2):+.4f} (ROC-AUC higher on one trunk for {up} of {n} seeds)")
PY
