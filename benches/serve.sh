#!/usr/bin/env bash
# Side-by-side HTTP benchmark, one run: `indus serve` against the FastAPI +
# uvicorn + PyTorch anchor (shared/anchors/serve-fastapi) on this machine.
# Single-row predict under wrk for MNIST and credit scoring, a 100-row MNIST
# batch, cold start to ready, and server RSS with all six shipped scenarios
# loaded. Writes raw lines to $OUT/results.txt and a table to $OUT/summary.md.
#
#   benches/serve.sh                         # ~8 min on 2 cores (plus a release build)
#   DUR=5s ANCHOR_CONFIGS="torch:1" benches/serve.sh   # quicker
#
# Knobs: DUR (10s), CONCS ("1 8 64"), PORT (18181), OUT (bench-out/serve),
#        ANCHOR_CONFIGS ("torch:1 torch:2"; empty skips the anchor),
#        VENV (a venv with torch+numpy for the anchor), INDUS_DATA_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${DUR:-10s}; CONCS=${CONCS:-"1 8 64"}; PORT=${PORT:-18181}
OUT=${OUT:-$ROOT/bench-out/serve}
ANCHOR=$ROOT/../shared/anchors/serve-fastapi
ANCHOR_CONFIGS=${ANCHOR_CONFIGS-"torch:1 torch:2"}
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
mkdir -p "$OUT"; rm -f "$OUT/results.txt"
log() { echo "$*" | tee -a "$OUT/results.txt"; }

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p indus-cli --manifest-path "$ROOT/Cargo.toml"
INDUS=${CARGO_TARGET_DIR:-$ROOT/target}/release/indus

# ---- one run of each shipped scenario (serving cost does not depend on the epochs) ----
RUNS=$OUT/runs; rm -rf "$RUNS"
train() { echo "== train $1"; "$INDUS" run "$ROOT/scenarios/$1.yaml" --runs-dir "$RUNS" --json "${@:2}" > "$OUT/run-$1.json"; }
train mnist --epochs 3
train mnist-tuned --epochs 1
train credit-scoring
train manufacturing-fault --epochs 5
train security-intrusion --epochs 3
train medical-imaging --epochs 5

# ---- request bodies: one real row each, and 100 MNIST rows ----
python3 - "$RUNS" "$OUT" "$INDUS_DATA_DIR/mnist/t10k-images-idx3-ubyte.gz" <<'PY'
import glob, gzip, json, sys
runs, out, idx = sys.argv[1:]
def example(name):
    run = sorted(glob.glob(f"{runs}/{name}/*/examples.json"))[-1]
    return json.load(open(run))[0]
credit = example("credit-scoring"); credit.pop("creditability", None)
raw = gzip.open(idx).read()[16:]
img = lambda i: list(raw[i * 784:(i + 1) * 784])
json.dump({"rows": [{"image": img(0)}]}, open(f"{out}/mnist-row1.json", "w"))
json.dump({"rows": [{"image": img(i)} for i in range(100)]}, open(f"{out}/mnist-rows100.json", "w"))
json.dump({"rows": [credit]}, open(f"{out}/credit-row1.json", "w"))
PY

# ---- indus serve with all six scenarios ----
cold_start() {  # launch -> first 200 on /ready, polled every 5 ms
  python3 - "$INDUS" "$RUNS" "$PORT" "$OUT/server.pid" <<'PY'
import subprocess, sys, time, urllib.request
indus, runs, port, pidfile = sys.argv[1:]
t0 = time.perf_counter()
p = subprocess.Popen([indus, "serve", "--runs-dir", runs, "--port", port], stdout=subprocess.DEVNULL,
                     stderr=open(pidfile + ".log", "w"), start_new_session=True)
open(pidfile, "w").write(str(p.pid))
while True:
    if p.poll() is not None: sys.exit(f"indus serve exited with {p.returncode}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
            if r.status == 200: break
    except OSError:
        pass
    time.sleep(0.005)
print(f"cold_start_s={time.perf_counter() - t0:.3f}")
PY
}
rss_mib() { ps -o rss= -p "$(cat "$OUT/server.pid")" | awk '{printf "%.1f", $1/1024}'; }
one() {  # one NAME BODY CONC
  local out; out=$(BODY=$2 wrk -t1 -c"$3" -d"$DUR" --timeout 2s --latency -s "$ANCHOR/post.lua" \
    "http://127.0.0.1:$PORT/v1/scenarios/$1/predict" | grep '^RESULT' | cut -d' ' -f2-)
  log "RUN server=indus scenario=$1 body=$(basename "$2" .json) conc=$3 $out"
}
for rep in 1 2; do
  log "COLD server=indus rep=$rep $(cold_start)"
  log "RSS server=indus rep=$rep state=loaded rss_mib=$(rss_mib)"
  [ "$rep" = 2 ] && { kill "$(cat "$OUT/server.pid")"; sleep 1; continue; }
  BODY=$OUT/mnist-row1.json wrk -t1 -c8 -d5s -s "$ANCHOR/post.lua" "http://127.0.0.1:$PORT/v1/scenarios/mnist/predict" >/dev/null
  for c in $CONCS; do one mnist "$OUT/mnist-row1.json" "$c"; done
  one mnist "$OUT/mnist-rows100.json" 8
  for c in $CONCS; do one credit-scoring "$OUT/credit-row1.json" "$c"; done
  log "RSS server=indus rep=$rep state=after-load rss_mib=$(rss_mib)"
  kill "$(cat "$OUT/server.pid")"; sleep 1
done

# ---- the FastAPI anchor, same machine, same load generator ----
if [ -n "$ANCHOR_CONFIGS" ]; then
  VENV=${VENV:-$OUT/anchor-venv}
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  WORK=$OUT/anchor VENV=$VENV REPS=1 DUR=$DUR CONCS="$CONCS" CONFIGS="$ANCHOR_CONFIGS" OHA=no \
    MNIST_DIR="$INDUS_DATA_DIR/mnist" bash "$ANCHOR/run.sh" > "$OUT/anchor.log" 2>&1
  res=$(ls -d "$OUT"/anchor/results/*/ | tail -1)
  grep -E '^(RUN|COLD|RSS_WARM)' "$res/results.txt" | sed 's/^/ANCHOR /' >> "$OUT/results.txt"
fi

python3 "$ROOT/benches/serve_summary.py" "$OUT/results.txt" | tee "$OUT/summary.md"
