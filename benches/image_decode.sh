#!/usr/bin/env bash
# How long `indus predict` takes on a folder of large scans: 400 grey PNG
# files of 512×512 (random pixels, written with Python's standard library),
# each decoded and resized to the model's 28×28. Times the same command on
# one core (taskset) and on every core, three times each, and checks that
# both give identical answers.
#
#   INDUS=target/debug/indus RUN=bench-out/image-folder/runs/scans/<id> benches/image_decode.sh
#
# RUN: a run of an image scenario (benches/image_folder.sh leaves one);
# OUT (bench-out/image-decode), INDUS (default: build the release binary).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench-out/image-decode}
: "${RUN:?set RUN to a run folder of an image scenario}"
if [ -z "${INDUS:-}" ]; then
  cargo build --release -p indus-cli --manifest-path "$ROOT/Cargo.toml"
  INDUS=${CARGO_TARGET_DIR:-$ROOT/target}/release/indus
fi
mkdir -p "$OUT/scans"
python3 - "$OUT/scans" <<'PY'
import random, struct, sys, zlib
from pathlib import Path
random.seed(1)
out = Path(sys.argv[1])
def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
noise = bytes(random.randrange(256) for _ in range(512 * 512 + 400))
for i in range(400):
    rows = b"".join(b"\x00" + noise[i + r * 512:i + (r + 1) * 512] for r in range(512))
    header = struct.pack(">IIBBBBB", 512, 512, 8, 0, 0, 0, 0)
    (out / f"{i:04}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                                      + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
for round in 1 2 3; do
  for cores in one all; do
    prefix=""; [ "$cores" = one ] && prefix="taskset -c 0"
    /usr/bin/time -f "$cores core(s): %e s, peak RSS %M KB" $prefix "$INDUS" predict "$RUN" \
      --input "$OUT/scans" > "$OUT/$cores.jsonl" 2> "$OUT/$cores-$round.err"
    tail -1 "$OUT/$cores-$round.err"
  done
done
cmp "$OUT/one.jsonl" "$OUT/all.jsonl" && echo "identical answers on one core and on all"
