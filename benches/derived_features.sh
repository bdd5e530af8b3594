#!/usr/bin/env bash
# Before/after of the manufacturing-fault plugin's native derived features:
# the shipped scenario (with the hook's eight geometry and luminosity
# columns) against the same plugin with those columns and the hook removed,
# same folds, same seeds. Prints one line per seed and the mean.
#
#   benches/derived_features.sh              # seeds 7 1 2
#   SEEDS="7" INDUS=target/release/indus benches/derived_features.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEEDS=${SEEDS:-"7 1 2"}
INDUS=${INDUS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indus}
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
[ -x "$INDUS" ] || cargo build --release --workspace --manifest-path "$ROOT/Cargo.toml"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# The "before" project: the plugin without derived columns or native hooks.
mkdir -p "$WORK/before/plugins/manufacturing-fault" "$WORK/before/scenarios"
python3 - "$ROOT/plugins/manufacturing-fault/plugin.yaml" "$WORK/before/plugins/manufacturing-fault/plugin.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"    - name: [a-z_]+\n(      [^\n]*\n)*?      derived: true\n(      [^\n]*\n)*", "", text)
text = re.sub(r"# Native hooks:[^\n]*\nnative:\n(  [^\n]*\n)*", "", text)
assert "derived" not in text and "native:" not in text
open(sys.argv[2], "w").write(text)
PY
cp "$ROOT/scenarios/manufacturing-fault.yaml" "$WORK/before/scenarios/"

summary() { python3 -c 'import json,sys; m=json.load(sys.stdin)["metrics"]; cv=m["cross_validation"]; print("%.4f ± %.4f, %.4f" % (cv["mean"]["accuracy"], cv["std"]["accuracy"], cv["mean"]["macro_f1"]))'; }
echo "seed | before: accuracy ± std, macro F1 | after (derived features): accuracy ± std, macro F1"
for seed in $SEEDS; do
  b=$("$INDUS" run "$WORK/before/scenarios/manufacturing-fault.yaml" --runs-dir "$WORK/runs-b" --seed "$seed" --json 2>/dev/null | summary)
  a=$("$INDUS" run "$ROOT/scenarios/manufacturing-fault.yaml" --runs-dir "$WORK/runs-a" --seed "$seed" --json 2>/dev/null | summary)
  echo "$seed | $b | $a"
done
