#!/usr/bin/env bash
# Serving under attack, one run: `indus serve` (credit scoring) while a
# second process holds 1,000 half-sent request headers and 600 slow bodies
# open (re-opening each one the server closes). wrk then measures, in the
# same run, `/health` and single-row predict at 8 connections, and the
# same two without the attack, so the figures are ratios on one machine.
# Writes raw lines to $OUT/results.txt.
#
#   benches/serve_hardening.sh           # ~2 min on 2 cores (plus a release build)
#
# Knobs: DUR (10s), PORT (18282), OUT (bench-out/serve-hardening), INDUS_DATA_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${DUR:-10s}; PORT=${PORT:-18282}
OUT=${OUT:-$ROOT/bench-out/serve-hardening}
LUA=$ROOT/../shared/anchors/serve-fastapi/post.lua
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
mkdir -p "$OUT"; rm -f "$OUT/results.txt"
log() { echo "$*" | tee -a "$OUT/results.txt"; }
ulimit -n 16384
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p indus-cli --manifest-path "$ROOT/Cargo.toml"
INDUS=${CARGO_TARGET_DIR:-$ROOT/target}/release/indus
log "CPU $(lscpu | sed -n 's/^Model name: *//p') date $(date -u +%F)"

RUNS=$OUT/runs; rm -rf "$RUNS"
"$INDUS" run "$ROOT/scenarios/credit-scoring.yaml" --runs-dir "$RUNS" --json > "$OUT/run.json"
python3 - "$RUNS" "$OUT" <<'PY'
import glob, json, sys
runs, out = sys.argv[1:]
row = json.load(open(sorted(glob.glob(f"{runs}/credit-scoring/*/examples.json"))[-1]))[0]
row.pop("creditability", None)
json.dump({"rows": [row]}, open(f"{out}/credit-row1.json", "w"))
PY

"$INDUS" serve --runs-dir "$RUNS" --port "$PORT" 2>"$OUT/server.log" >/dev/null &
SERVER=$!
ATTACK=""
trap 'kill $SERVER ${ATTACK:-} 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null; do sleep 0.05; done

cell() {  # cell LABEL
  local h p
  h=$(wrk -t1 -c8 -d"$DUR" --timeout 5s --latency -s "$ROOT/benches/get.lua" "http://127.0.0.1:$PORT/health" \
      | grep '^RESULT' | cut -d' ' -f2-)
  log "RUN attack=$1 route=/health conc=8 $h"
  p=$(BODY=$OUT/credit-row1.json wrk -t1 -c8 -d"$DUR" --timeout 5s --latency -s "$LUA" \
      "http://127.0.0.1:$PORT/v1/scenarios/credit-scoring/predict" | grep '^RESULT' | cut -d' ' -f2-)
  log "RUN attack=$1 route=predict conc=8 $p"
  p=$(BODY=$OUT/credit-row1.json wrk -t1 -c1 -d"$DUR" --timeout 5s --latency -s "$LUA" \
      "http://127.0.0.1:$PORT/v1/scenarios/credit-scoring/predict" | grep '^RESULT' | cut -d' ' -f2-)
  log "RUN attack=$1 route=predict conc=1 $p"
}
cell none

python3 - "$PORT" > "$OUT/attack.log" 2>&1 <<'PY' &
import selectors, socket, sys, time
port = int(sys.argv[1])
HALF = b"GET /v1/scenarios HTTP/1.1\r\nHost: x\r\n"
SLOW = (b"POST /v1/scenarios/credit-scoring/predict HTTP/1.1\r\nHost: x\r\n"
        b"content-type: application/json\r\ncontent-length: 100000\r\n\r\n{")
sel = selectors.DefaultSelector()
def open_one(kind):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(HALF if kind == "half" else SLOW)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, kind)
for _ in range(1000): open_one("half")
for _ in range(600): open_one("slow")
print("attack open: 1000 half-sent headers, 600 slow bodies", flush=True)
reopened, last_drip = 0, time.time()
while True:
    for key, _ in sel.select(timeout=0.5):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:  # closed by the server: open another
            sel.unregister(s); s.close(); open_one(key.data); reopened += 1
    if time.time() - last_drip > 1:  # one more byte of every slow body
        for key in list(sel.get_map().values()):
            if key.data == "slow":
                try: key.fileobj.send(b" ")
                except OSError: pass
        last_drip = time.time()
        print(f"reopened={reopened}", flush=True)
PY
ATTACK=$!
sleep 3
cell attack
log "ATTACK $(tail -1 "$OUT/attack.log")"
