#!/usr/bin/env bash
# `indus new plugin --from`: how well a proposal trains with no edits. For
# each real file, proposes a plugin and scenario from the file alone, runs
# it, and prints the headline metric beside what the proposal left out.
#
#   INDUS=target/debug/indus benches/propose.sh ../shared/data
#   SEED=7 benches/propose.sh ../shared/data
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
INDUS=$(realpath -m "${INDUS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indus}")
DATA=$(realpath -m "${1:-$ROOT/../shared/data}")
SEED=${SEED:-1}
[ -x "$INDUS" ] || cargo build --release --workspace --manifest-path "$ROOT/Cargo.toml"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
printf '%-16s %-9s %-10s %s\n' file metric value "left out"
while IFS='|' read -r name file target; do
  [ -f "$file" ] || { echo "$name: $file missing, skipped"; continue; }
  notes=$("$INDUS" new plugin "$name" --from "$file" --target "$target" | sed -n 's/^note: `\([^`]*\)` left out.*/\1/p' | paste -sd, -)
  "$INDUS" run "scenarios/$name.yaml" --runs-dir runs --seed "$SEED" --json > "$name.json" 2>/dev/null
  python3 - "$name" "$name.json" "${notes:--}" <<'PY'
import json, sys
name, path, notes = sys.argv[1:]
m = json.load(open(path))["metrics"]
cv = (m.get("cross_validation") or {}).get("mean") or {}
test = m.get("test") or {}
if m.get("regression"):
    metric, value = "r2", cv.get("r2", m["regression"]["r2"])
elif len(test.get("per_class", [])) == 2:
    metric = "roc_auc"
    value = cv.get("roc_auc", (test.get("ranking") or {}).get("roc_auc"))
else:
    metric, value = "accuracy", cv.get("accuracy", test.get("accuracy"))
print(f"{name:<16} {metric:<9} {value:<10.4f} {notes}")
PY
done <<LIST
german-credit|$ROOT/plugins/finance-credit/data/german_credit.csv|creditability
taiwan-credit|$DATA/credit/taiwan_default_credit_card.csv|default_payment_next_month
steel-plates|$DATA/manufacturing/steel_plates_faults.csv|fault_class
ai4i|$DATA/manufacturing/ai4i2020_SYNTHETIC.csv|Machine failure
nsl-kdd|$DATA/security/nsl_kdd_train_20percent.csv|label_binary
LIST
