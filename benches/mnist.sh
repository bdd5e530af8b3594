#!/usr/bin/env bash
# Side-by-side benchmark of the MNIST reference: indus (burn flex, CPU) against
# PyTorch CPU (shared/anchors/train-mnist/torch_mlp.py) on the same machine, in
# one run. Writes raw JSON to $OUT and prints a summary table (also saved as
# $OUT/summary.md).
#
#   benches/mnist.sh                 # 3 seeds each, tuned scenario too (~10 min on 2 cores)
#   SEEDS="1" TUNED=0 benches/mnist.sh   # quick
#
# Knobs: SEEDS ("1 2 3"), TUNED (1), THREADS for PyTorch (2), OUT (bench-out/mnist),
#        VENV (a venv with torch+numpy; made under $OUT when absent), INDUS_DATA_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEEDS=${SEEDS:-"1 2 3"}
TUNED=${TUNED:-1}
THREADS=${THREADS:-2}
OUT=${OUT:-$ROOT/bench-out/mnist}
VENV=${VENV:-$OUT/venv}
ANCHOR=$ROOT/../shared/anchors/train-mnist
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
export MNIST_DIR=$INDUS_DATA_DIR/mnist
mkdir -p "$OUT"

cargo build --release -p indus-cli --manifest-path "$ROOT/Cargo.toml"
INDUS=${CARGO_TARGET_DIR:-$ROOT/target}/release/indus

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import torch, numpy' 2>/dev/null || "$VENV/bin/pip" install -q torch numpy

RUNS=$OUT/runs
for seed in $SEEDS; do
  echo "== indus scenarios/mnist.yaml seed $seed"
  "$INDUS" run "$ROOT/scenarios/mnist.yaml" --seed "$seed" --runs-dir "$RUNS" --json > "$OUT/indus-s$seed.json"
  echo "== pytorch seed $seed"
  "$VENV/bin/python" "$ANCHOR/torch_mlp.py" --seed "$seed" --threads "$THREADS" --init glorot --infer --out "$OUT/torch-s$seed.json" > /dev/null
done
echo "== indus inference (latest mnist run)"
"$INDUS" bench mnist --runs-dir "$RUNS" > "$OUT/indus-infer.json"
if [ "$TUNED" = 1 ]; then
  echo "== indus scenarios/mnist-tuned.yaml"
  "$INDUS" run "$ROOT/scenarios/mnist-tuned.yaml" --runs-dir "$RUNS" --json > "$OUT/indus-tuned.json"
fi

"$VENV/bin/python" - "$OUT" "$RUNS" <<'PY'
import json, glob, os, statistics as st, sys
out, runs = sys.argv[1], sys.argv[2]
ind = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/indus-s*.json"))]
tor = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/torch-s*.json"))]
def hist(r):
    return json.load(open(os.path.join(r["run_dir"], "history.json")))
# median of epochs 2..10, like the anchor scripts
ind_ep = st.mean(st.median([e["seconds"] for e in hist(r)[1:]]) for r in ind)
tor_ep = st.mean(t["median_epoch_2_10_s"] for t in tor)
ind_acc = [r["metrics"]["test"]["accuracy"] for r in ind]
tor_acc = [t["test_acc"] for t in tor]
inf = json.load(open(f"{out}/indus-infer.json"))
t_b1 = st.mean(t["b1_ms"]["p50"] for t in tor)
t_tp = st.mean(t["b1024_samples_per_s"]["best"] for t in tor)
rows = [
  ("test accuracy, mean of seeds", f"{st.mean(ind_acc):.4f} {ind_acc}", f"{st.mean(tor_acc):.4f} {[round(a,4) for a in tor_acc]}", ""),
  ("seconds per epoch (median of epochs 2-10)", f"{ind_ep:.3f}", f"{tor_ep:.3f}", f"{ind_ep/tor_ep:.2f}x"),
  ("batch-1 latency p50, ms (model)", f"{inf['b1_model_ms']['p50']:.4f}", f"{t_b1:.4f}", f"{inf['b1_model_ms']['p50']/t_b1:.2f}x"),
  ("batch-1 latency p50, ms (full request path)", f"{inf['b1_full_ms']['p50']:.4f}", "", ""),
  ("batch-1024 throughput, rows/s (best)", f"{inf['b1024_rows_per_s']['best']:.0f}", f"{t_tp:.0f}", f"{inf['b1024_rows_per_s']['best']/t_tp:.2f}x"),
]
lines = ["| measure | indus (flex) | PyTorch CPU | indus / PyTorch |", "|---|---|---|---|"]
lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
tuned = f"{out}/indus-tuned.json"
if os.path.exists(tuned):
    t = json.load(open(tuned))
    lines.append(f"\nmnist-tuned: test accuracy {t['metrics']['test']['accuracy']:.4f}, {t['metrics']['epochs_run']} epochs, best epoch {t['metrics']['best_epoch']}, {t['metrics']['train_seconds']:.1f} s of training")
lines.append(f"\nPyTorch {tor[0]['torch']} with {tor[0]['threads']} threads; seeds {[t['seed'] for t in tor]}")
text = "\n".join(lines)
print(text)
open(f"{out}/summary.md", "w").write(text + "\n")
PY
