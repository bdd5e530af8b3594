#!/usr/bin/env bash
# BreastMNIST side by side, in one run: indus' convolution stem
# (scenarios/medical-imaging.yaml), indus' flattened-pixel MLP
# (scenarios/medical-imaging-mlp.yaml), and a PyTorch copy of the stem
# (benches/breast_cnn.py), each trained once per seed on the official split.
# Prints test ROC-AUC and training seconds; the raw files stay in $OUT.
#
#   benches/breast_cnn.sh                      # seeds 7 1 2 (~10 min on 2 cores)
#   SEEDS="7" INDUS=target/debug/indus benches/breast_cnn.sh
#
# Knobs: SEEDS ("7 1 2"), OUT (bench-out/breast), THREADS for PyTorch (2),
#        VENV (a venv with torch+numpy; made under $OUT when absent),
#        INDUS (a built indus binary; default: build the release one), INDUS_DATA_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEEDS=${SEEDS:-"7 1 2"}
THREADS=${THREADS:-2}
OUT=${OUT:-$ROOT/bench-out/breast}
VENV=${VENV:-$OUT/venv}
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
mkdir -p "$OUT"
if [ -z "${INDUS:-}" ]; then
  cargo build --release -p indus-cli --manifest-path "$ROOT/Cargo.toml"
  INDUS=${CARGO_TARGET_DIR:-$ROOT/target}/release/indus
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import torch, numpy' 2>/dev/null || "$VENV/bin/pip" install -q torch numpy

for scenario in medical-imaging medical-imaging-mlp; do
  for seed in $SEEDS; do
    "$INDUS" run "$ROOT/scenarios/$scenario.yaml" --seed "$seed" --runs-dir "$OUT/runs" --json \
      > "$OUT/$scenario-s$seed.json"
  done
done
# shellcheck disable=SC2086
"$VENV/bin/python" "$ROOT/benches/breast_cnn.py" "$INDUS_DATA_DIR/medical/breastmnist.npz" \
  --seeds $SEEDS --threads "$THREADS" --out "$OUT/pytorch.json"

python3 - "$OUT" $SEEDS <<'PY'
import json, statistics as st, sys
out, seeds = sys.argv[1], sys.argv[2:]
peer = json.load(open(f"{out}/pytorch.json"))["seeds"]
def indus(name, seed):
    m = json.load(open(f"{out}/{name}-s{seed}.json"))["metrics"]
    return m["test"]["ranking"]["roc_auc"], m["train_seconds"]
rows = [("indus, convolution stem (medical-imaging)", [indus("medical-imaging", s) for s in seeds]),
        ("indus, flattened-pixel MLP (medical-imaging-mlp)", [indus("medical-imaging-mlp", s) for s in seeds]),
        ("PyTorch, the same convolution stem", [(peer[s]["roc_auc"], peer[s]["seconds"]) for s in seeds])]
print(f"| model | ROC-AUC per seed ({', '.join(seeds)}) | mean | training s (mean) |")
print("|---|---|---|---|")
for name, r in rows:
    aucs = [a for a, _ in r]
    print(f"| {name} | {' / '.join(f'{a:.4f}' for a in aucs)} | {st.mean(aucs):.4f} | {st.mean(t for _, t in r):.1f} |")
ratio = st.mean(t for _, t in rows[0][1]) / st.mean(t for _, t in rows[2][1])
print(f"\nindus stem / PyTorch stem training time: {ratio:.2f}x")
PY
