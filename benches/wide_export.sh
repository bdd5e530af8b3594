#!/usr/bin/env bash
# What undeclared columns cost `indus predict`: the same 50,000 rows as a
# narrow file (the plugin's 5 columns) and as a wide export (the same 5 plus
# 195 columns the plugin does not declare), scored by one trained run of a
# scaffolded plugin. Prints wall seconds and peak resident memory per file,
# three runs each, and checks that both files get identical answers.
#
#   benches/wide_export.sh
#   INDUS=target/debug/indus ROWS=100000 EXTRA=400 benches/wide_export.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
INDUS=$(realpath -m "${INDUS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/indus}")
ROWS=${ROWS:-50000}
EXTRA=${EXTRA:-195}
[ -x "$INDUS" ] || cargo build --release --workspace --manifest-path "$ROOT/Cargo.toml"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
"$INDUS" new plugin wide-bench >/dev/null
"$INDUS" run scenarios/wide-bench.yaml --runs-dir runs >/dev/null 2>&1
RUN=$(ls -d runs/wide-bench/*/ | head -1)
python3 - "$ROWS" "$EXTRA" <<'PY'
import random, sys
rows, extra = int(sys.argv[1]), int(sys.argv[2])
random.seed(1)
names = [f"x{i}" for i in range(extra)]
head = "machine_id,temperature_c,vibration_mm_s,load_pct,shift"
with open("narrow.csv", "w") as narrow, open("wide.csv", "w") as wide:
    narrow.write(head + "\n")
    wide.write(head + "," + ",".join(names) + "\n")
    for r in range(rows):
        row = (f"M{r},{random.uniform(40, 90):.1f},{random.uniform(0.5, 4):.2f},"
               f"{random.randint(10, 100)},{random.choice(['day', 'night'])}")
        narrow.write(row + "\n")
        wide.write(row + "," + ",".join(f"{random.random():.4f}" for _ in names) + "\n")
PY
echo "file | size MB | seconds (3 runs) | peak RSS MB (3 runs)"
for f in narrow wide; do
  secs=""; rss=""
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o time.txt "$INDUS" predict "$RUN" --input $f.csv --out $f.jsonl 2>/dev/null >/dev/null
    read -r s m < time.txt
    secs="$secs $s"; rss="$rss $((m / 1024))"
  done
  echo "$f | $(( $(stat -c %s $f.csv) / 1000000 )) |$secs |$rss"
done
cmp -s narrow.jsonl wide.jsonl && echo "answers: identical" || { echo "answers differ"; exit 1; }
