#!/usr/bin/env sh
# Lays out what the container image holds, under DEST, from a cargo target
# profile folder (BIN_DIR, e.g. target/release): the binary, the shipped
# plugins with their native libraries beside their manifests (where the
# host looks first) and the files they ship, and the scenarios (for
# training jobs). The Dockerfile runs this; tests run it too and start the
# image's command line on the result, so what is tested is what ships.
#
#   deploy/layout.sh DEST BIN_DIR
set -eu
DEST=$1; BIN=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
APP=$DEST/opt/indus
mkdir -p "$APP/bin" "$APP/plugins" "$APP/scenarios" "$DEST/var/lib/indus/runs"
cp "$BIN/indus" "$APP/bin/indus"
for manifest in "$SRC"/plugins/*/plugin.yaml; do
  dir=$(dirname "$manifest"); name=$(basename "$dir")
  mkdir -p "$APP/plugins/$name"
  cp "$manifest" "$APP/plugins/$name/"
  [ -d "$dir/data" ] && cp -R "$dir/data" "$APP/plugins/$name/"
  lib=$(sed -n 's/^  library: *//p' "$manifest")
  if [ -n "$lib" ]; then
    found=""
    for candidate in "$BIN/lib$lib.so" "$BIN/deps/lib$lib.so"; do
      if [ -f "$candidate" ]; then found=$candidate; break; fi
    done
    [ -n "$found" ] || { echo "layout: plugin $name needs lib$lib.so; build the workspace first" >&2; exit 1; }
    cp "$found" "$APP/plugins/$name/"
  fi
done
cp "$SRC"/scenarios/*.yaml "$APP/scenarios/"
echo "laid out $APP"
