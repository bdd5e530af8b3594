#!/usr/bin/env bash
# Tabular data at scale: gen.py's synthetic credit table (20 numbers, 5
# categories, binary target) at each size in SIZES, as CSV and as Parquet,
# through a plugin that `indus new plugin --from` proposes, trained for one
# epoch; then `indus predict` over the whole file; then the PyTorch peer
# (torch_tabular.py: pandas + the same 64-32 MLP) on the same file when torch
# imports. Prints one line per (size, format, program): wall seconds, peak
# RSS, the data-load rate and the epoch rate.
#
#   benches/tabular_scale.sh                      # SIZES="1000000 5000000"
#   SIZES=100000000 WORK=/big/disk benches/tabular_scale.sh
#   PYTHON=~/.cache/indus-bench-venv/bin/python benches/tabular_scale.sh
#
# PYTHON needs numpy and pyarrow (gen.py); torch, pandas and scikit-learn
# for the peer. The generated files are deleted at the end (KEEP=1 keeps
# them for a rerun).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
INDUS=$(realpath -m "${INDUS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indus}")
ANCHOR=$(realpath -m "${ANCHOR:-$ROOT/../shared/anchors/tabular-scale}")
PYTHON=${PYTHON:-python3}
SIZES=${SIZES:-"1000000 5000000"}
FORMATS=${FORMATS:-"csv parquet"}
WORK=$(realpath -m "${WORK:-$(mktemp -d)}")
mkdir -p "$WORK"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"/gen-* "$WORK"/project-*' EXIT
[ -x "$INDUS" ] || cargo build --release --workspace --manifest-path "$ROOT/Cargo.toml"
torch_ok=$("$PYTHON" -c 'import torch, pandas, sklearn; print(1)' 2>/dev/null || echo 0)

echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $(date -u +%F)"
printf '%-10s %-8s %-14s %8s %9s %8s %12s %12s %s\n' rows format program wall_s peak_mb anon_mb load_rows/s epoch_rows/s notes

# Runs a command under /usr/bin/time and samples its anonymous memory every
# 50 ms; sets WALL, PEAK_MB (peak RSS, which counts the pages of a
# memory-mapped input file) and ANON_MB (peak anonymous RSS: what the
# program itself holds).
measure() {
  local log=$1; shift
  /usr/bin/time -f '%e %M' -o "$log.time" "$@" > "$log.out" 2> "$log.err" &
  local timer=$! child="" anon peak_anon=0
  while kill -0 "$timer" 2>/dev/null; do
    [ -n "$child" ] || child=$(pgrep -P "$timer" | head -1 || true)
    if [ -n "$child" ]; then
      anon=$(awk '/^RssAnon/ {print $2}' "/proc/$child/status" 2>/dev/null || true)
      [ -n "$anon" ] && [ "$anon" -gt "$peak_anon" ] && peak_anon=$anon
    fi
    sleep 0.05
  done
  wait "$timer" || { echo "failed: $*" >&2; tail -5 "$log.err" >&2; exit 1; }
  read -r WALL PEAK_KB < "$log.time"
  PEAK_MB=$((PEAK_KB / 1024))
  ANON_MB=$((peak_anon / 1024))
}

for rows in $SIZES; do
  for format in $FORMATS; do
    file="$WORK/gen-$rows.$format"
    [ -f "$file" ] || "$PYTHON" "$ANCHOR/gen.py" "$rows" "$file" > /dev/null
    size_mb=$(( $(stat -c %s "$file") / 1048576 ))
    project="$WORK/project-$rows-$format"
    rm -rf "$project"; mkdir -p "$project"; cd "$project"
    "$INDUS" new plugin scale --from "$file" --target defaulted > propose.log
    # One epoch, one network, no cross-validation: the figure is the data path.
    "$PYTHON" - scenarios/scale.yaml <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
text = re.sub(r"(?m)^(\s*)epochs:.*$", r"\1epochs: 1", text)
text = re.sub(r"(?m)^(\s*)(folds|repeats|ensemble):.*$", r"\1\2: 1", text)
open(path, "w").write(text)
PY
    measure run "$INDUS" run scenarios/scale.yaml --runs-dir runs --json
    read -r load_rate epoch_rate train_rows auc < <("$PYTHON" - run.out run.err <<'PY'
import json, re, sys
out = json.load(open(sys.argv[1]))
m = out["metrics"]
hist = json.load(open(f"{out['run_dir']}/history.json"))
err = open(sys.argv[2]).read()
load = re.search(r"read (\d+) rows? in ([0-9.]+) s", err)
rate = round(int(load.group(1)) / max(float(load.group(2)), 1e-9)) if load else 0
epoch = min((h["seconds"] for h in hist), default=0) or 1e-9
auc = ((m.get("test") or {}).get("ranking") or {}).get("roc_auc") or 0
print(rate, round(m["rows"]["train"] / epoch), m["rows"]["train"], round(auc, 4))
PY
)
    printf '%-10s %-8s %-14s %8s %9s %8s %12s %12s %s\n' "$rows" "$format" "indus run" "$WALL" "$PEAK_MB" "$ANON_MB" "$load_rate" "$epoch_rate" "file ${size_mb} MB, ${train_rows} train rows, test ROC-AUC $auc"
    run_dir=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_dir"])' run.out)
    measure predict "$INDUS" predict "$run_dir" --input "$file" --out "$WORK/predictions.parquet"
    printf '%-10s %-8s %-14s %8s %9s %8s %12s %12s %s\n' "$rows" "$format" "indus predict" "$WALL" "$PEAK_MB" "$ANON_MB" "$(awk -v r="$rows" -v w="$WALL" 'BEGIN{printf "%d", r/(w>0?w:1e-9)}')" - "read+predict+write"
    rm -f "$WORK/predictions.parquet"
    if [ "$torch_ok" = 1 ]; then
      measure torch "$PYTHON" "$ANCHOR/torch_tabular.py" "$file" 1
      "$PYTHON" - torch.out "$WALL" "$PEAK_MB" "$ANON_MB" "$rows" "$format" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
wall, peak, anon, rows, fmt = sys.argv[2:]
print(f"{rows:<10} {fmt:<8} {'pytorch':<14} {wall:>8} {peak:>9} {anon:>8} {round(r['rows'] / r['load_s']):>12} {r['train_rows_per_s']:>12} torch {r['torch']}, test ROC-AUC {r['test_roc_auc']}")
PY
    else
      echo "pytorch peer skipped: torch, pandas or scikit-learn does not import in $PYTHON"
    fi
    cd "$WORK"; rm -rf "$project"
  done
  [ -n "${KEEP:-}" ] || rm -f "$WORK"/gen-"$rows".*
done
