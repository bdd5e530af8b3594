#!/usr/bin/env bash
# BreastMNIST from PNG files against the official arrays, in one run: the
# archive is written out as one folder per split and one sub-folder per
# class (benches/npz_to_folders.py), a copy of the medical-imaging plugin
# reads those folders (`format: image_folder`), and both train the shipped
# medical-imaging recipe with the same seeds. Prints test ROC-AUC, accuracy,
# optimisation seconds and the rest of each run's wall time (reading the
# data, evaluating, writing).
#
#   INDUS=target/debug/indus benches/image_folder.sh          # seed 7
#   SEEDS="7 1 2" benches/image_folder.sh                      # release build
#
# Knobs: SEEDS ("7"), OUT (bench-out/image-folder), INDUS (a built indus
#        binary; default: build the release one), INDUS_DATA_DIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEEDS=${SEEDS:-"7"}
OUT=${OUT:-$ROOT/bench-out/image-folder}
export INDUS_DATA_DIR=${INDUS_DATA_DIR:-$ROOT/../shared/data}
if [ -z "${INDUS:-}" ]; then
  cargo build --release -p indus-cli --manifest-path "$ROOT/Cargo.toml"
  INDUS=${CARGO_TARGET_DIR:-$ROOT/target}/release/indus
fi
rm -rf "$OUT" && mkdir -p "$OUT/project/plugins/scans" "$OUT/project/scenarios"
python3 "$ROOT/benches/npz_to_folders.py" "$INDUS_DATA_DIR/medical/breastmnist.npz" \
  "$OUT/data/scans" malignant benign_or_normal

# The shipped plugin and scenario, reading folders instead of the archive.
cat > "$OUT/project/plugins/scans/plugin.yaml" <<'YAML'
name: scans
industry: healthcare
description: BreastMNIST written out as PNG files, one sub-folder per class.
data:
  source:
    format: image_folder
    dataset: scans
    files: {train: {name: train}, val: {name: val}, test: {name: test}}
  columns:
    - {name: image, type: image, role: feature, shape: [28, 28], max_value: 255, pixel_scaling: z_score}
    - {name: label, type: category, role: target}
heads:
  - {name: finding, task: binary, target: label, classes: [malignant, benign_or_normal]}
YAML
sed -e 's/^name: medical-imaging/name: scans/' -e 's/^plugin: medical-imaging/plugin: scans/' \
  "$ROOT/scenarios/medical-imaging.yaml" > "$OUT/project/scenarios/scans.yaml"

run() { # label scenario-file data-dir seed
  local start end
  start=$(date +%s.%N)
  "$INDUS" run "$2" --seed "$4" --runs-dir "$OUT/runs" --data-dir "$3" --json > "$OUT/$1-s$4.json"
  end=$(date +%s.%N)
  echo "$1 $4 $(echo "$end - $start" | bc)" >> "$OUT/wall.txt"
}
for seed in $SEEDS; do
  run arrays "$ROOT/scenarios/medical-imaging.yaml" "$INDUS_DATA_DIR" "$seed"
  run folders "$OUT/project/scenarios/scans.yaml" "$OUT/data" "$seed"
done

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
print("| source | seed | ROC-AUC | accuracy | optimisation s | rest of the run s |")
print("|---|---|---|---|---|---|")
for line in open(f"{out}/wall.txt"):
    label, seed, wall = line.split()
    m = json.load(open(f"{out}/{label}-s{seed}.json"))["metrics"]
    train = m["train_seconds"]
    print(f"| {label} | {seed} | {m['test']['ranking']['roc_auc']:.4f} | {m['test']['accuracy']:.4f} "
          f"| {train:.1f} | {float(wall) - train:.2f} |")
PY
