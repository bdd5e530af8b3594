#!/usr/bin/env bash
# Three `indus serve` replicas on one runs root behind haproxy, driven by
# wrk while `production` is promoted to a new run and rolled back. Checks
# that every replica answers with the new run id within 5 s of each change
# and that no request fails, and measures req/s and p99 before, during
# and after each change. Writes raw lines to $OUT/results.txt.
#
#   benches/replicas.sh          # ~2 min on 2 cores (plus a release build)
#
# Knobs: DUR (10s per phase), CONNS (8), PORT (18380; replicas on the next
# three), OUT (bench-out/replicas), INDUS_DATA_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${DUR:-10s}; CONNS=${CONNS:-8}; PORT=${PORT:-18380}
OUT=${OUT:-$ROOT/bench-out/replicas}
LUA=$ROOT/../shared/anchors/serve-fastapi/post.lua
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
mkdir -p "$OUT"; rm -f "$OUT/results.txt"
log() { echo "$*" | tee -a "$OUT/results.txt"; }
for tool in wrk haproxy; do
  command -v $tool >/dev/null || { apt-get update -qq && apt-get install -y -qq $tool; }
done
cargo build --release -p indus-cli --manifest-path "$ROOT/Cargo.toml"
INDUS=${CARGO_TARGET_DIR:-$ROOT/target}/release/indus
log "CPU $(lscpu | sed -n 's/^Model name: *//p') date $(date -u +%F) $(haproxy -v | head -1)"

RUNS=$OUT/runs; rm -rf "$RUNS"
for seed in 1 2; do
  "$INDUS" run "$ROOT/scenarios/credit-scoring.yaml" --runs-dir "$RUNS" --epochs 3 --seed $seed --json > "$OUT/run-$seed.json"
  sleep 1  # distinct run ids
done
OLD=$(python3 -c "import json,sys;print(json.load(open('$OUT/run-1.json'))['metrics']['run_id'])")
NEW=$(python3 -c "import json,sys;print(json.load(open('$OUT/run-2.json'))['metrics']['run_id'])")
"$INDUS" promote credit-scoring "$OLD" --runs-dir "$RUNS" --reason "bench: start" >/dev/null
python3 - "$RUNS" "$OUT" <<'PY'
import glob, json, sys
runs, out = sys.argv[1:]
row = json.load(open(sorted(glob.glob(f"{runs}/credit-scoring/*/examples.json"))[-1]))[0]
row.pop("creditability", None)
json.dump({"rows": [row]}, open(f"{out}/credit-row1.json", "w"))
PY

PIDS=()
trap 'kill ${PIDS[@]} 2>/dev/null || true' EXIT
for i in 1 2 3; do
  "$INDUS" serve --runs-dir "$RUNS" --port $((PORT + i)) --workers 1 2>"$OUT/replica-$i.log" >/dev/null &
  PIDS+=($!)
done
cat > "$OUT/haproxy.cfg" <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend indus
  bind 127.0.0.1:$PORT
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /ready
  server r1 127.0.0.1:$((PORT + 1)) check inter 500ms
  server r2 127.0.0.1:$((PORT + 2)) check inter 500ms
  server r3 127.0.0.1:$((PORT + 3)) check inter 500ms
CFG
haproxy -f "$OUT/haproxy.cfg" -db 2>"$OUT/haproxy.log" &
PIDS+=($!)
for i in 1 2 3; do
  until curl -sf "http://127.0.0.1:$((PORT + i))/ready" >/dev/null; do sleep 0.1; done
done
until curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null; do sleep 0.1; done
sleep 1.5  # haproxy's first health checks

python3 - "$INDUS" "$RUNS" "$OUT" "$PORT" "$DUR" "$CONNS" "$LUA" "$OLD" "$NEW" <<'PY' | tee -a "$OUT/results.txt"
import json, subprocess, sys, threading, time, urllib.request
indus, runs, out, port, dur, conns, lua, old, new = sys.argv[1:]
port = int(port)
replicas = [f"http://127.0.0.1:{port + i}" for i in (1, 2, 3)]

def served(url):
    with urllib.request.urlopen(f"{url}/v1/scenarios", timeout=2) as r:
        return json.load(r)[0]["run_id"]

# Every replica's answer, polled every 50 ms, with the time it changed.
seen = {u: [] for u in replicas}
stop = threading.Event()
def poll():
    while not stop.is_set():
        for u in replicas:
            try:
                run = served(u)
            except Exception as e:
                run = f"error: {e}"
            if not seen[u] or seen[u][-1][1] != run:
                seen[u].append((time.time(), run))
        time.sleep(0.05)
threading.Thread(target=poll, daemon=True).start()

def wrk(phase, change=None):
    proc = subprocess.Popen(
        ["wrk", "-t2", f"-c{conns}", f"-d{dur}", "-s", lua,
         f"http://127.0.0.1:{port}/v1/scenarios/credit-scoring/predict"],
        env={"BODY": f"{out}/credit-row1.json", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, text=True)
    changed_at = None
    if change:
        time.sleep(2)
        changed_at = time.time()
        subprocess.run([indus, *change, "--runs-dir", runs], check=True, stdout=subprocess.DEVNULL)
    text, _ = proc.communicate()
    result = next(l for l in text.splitlines() if l.startswith("RESULT"))
    print(f"phase={phase} conns={conns} {result}")
    return changed_at

def switch_times(changed_at, run):
    times = []
    for u in replicas:
        hit = [t for t, r in seen[u] if r == run and t >= changed_at]
        times.append(hit[0] - changed_at if hit else None)
    return times

wrk("before")
t1 = wrk("promote", ["promote", "credit-scoring", new, "--reason", "bench: promote"])
t2 = wrk("rollback", ["rollback", "credit-scoring", "--reason", "bench: rollback"])
wrk("after")
stop.set()
ok = True
for name, at, run in (("promote", t1, new), ("rollback", t2, old)):
    times = switch_times(at, run)
    print(f"SWITCH {name} to {run}: " + " ".join(
        f"r{i + 1}={t:.2f}s" if t is not None else f"r{i + 1}=never" for i, t in enumerate(times)))
    ok &= all(t is not None and t <= 5 for t in times)
print("CHECK every replica switched within 5 s:", "yes" if ok else "NO")
PY
grep -q "CHECK every replica switched within 5 s: yes" "$OUT/results.txt"
! grep "^phase=" "$OUT/results.txt" | grep -vq "err_connect=0 err_read=0 err_write=0 err_timeout=0 err_status=0" \
  || { echo "FAILED: some requests failed (see above)"; exit 1; }
log "replicas ok: 0 failed requests"
