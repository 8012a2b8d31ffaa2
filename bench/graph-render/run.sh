#!/bin/sh
# Render `lotc graph --format mermaid` with real Mermaid in headless Chromium.
# One-time setup (Debian + npm registry only):
#   apt-get update && apt-get install -y chromium
#   mkdir -p /tmp/mmd && cd /tmp/mmd && npm init -y && npm install mermaid
# Usage: sh bench/graph-render/run.sh [OUT_DIR]   (default /tmp/graphsite)
set -e
here=$(cd "$(dirname "$0")" && pwd)
main=$(cd "$here/../.." && pwd)
out=${1:-/tmp/graphsite}
mkdir -p "$out"
cp "$main/examples/depot-uplink/depot.lot" "$out/depot.lot"
cp "$here/site-alarms.lot" "$out/alarms.lot"
lotc check "$out"
lotc graph "$out" --format mermaid > "$out/graph.mmd"
lotc graph "$main/examples" --format mermaid > "$out/examples.mmd"
python "$here/stress.py" "$out"
python "$here/render.py" "$out/graph.mmd" "$out/examples.mmd"
python "$here/render.py" --window-size 1000,1400 "$out/stress.mmd"
