#!/usr/bin/env bash
# Runs `npm test` N times in a row from a clean clone of this repository's main branch,
# beside a CPU-heavy `slotmq bench p2p` loop against a node of its own, and appends one
# line per run to a results file. Before each run the clone takes the newest commit of
# main (each line says which), so a loop left running follows the work.
#
#   scripts/stability-loop.sh [RUNS] [RESULTS]     defaults: 20, ./stability-loop.txt
#
# Stops after RUNS runs, or after the run in progress when the file RESULTS.stop exists.
# The logs of each run: RESULTS.run-<n>.log; the clone is removed at the end. Needs
# redis-server on the PATH.
set -u
runs=${1:-20}
results=$(realpath -m "${2:-stability-loop.txt}")
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
clone=$(mktemp -d /tmp/slotmq-stability.XXXXXX)
git clone -q --branch main "$repo" "$clone"
cd "$clone" || exit 1
npm ci > /dev/null 2>&1 || { echo "npm ci failed in $clone" >&2; exit 1; }

port=$(node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close() })")
node bin/slotmq.js start --host 127.0.0.1 --mqtt-port "$port" --ws-port off --http-port off --log-level warn > "$results.broker.log" 2>&1 &
broker=$!
( while kill -0 "$broker" 2> /dev/null; do
    timeout 60 node bin/slotmq.js bench p2p --pub "127.0.0.1:$port" --duration 20 --progress 0 > /dev/null 2>&1
  done ) &
load=$!
trap 'kill "$broker" 2> /dev/null; wait "$load" 2> /dev/null; rm -rf "$clone"' EXIT

echo "--- $(date -u +%FT%TZ): $runs runs of npm test beside a bench p2p loop, clone $clone" >> "$results"
for i in $(seq 1 "$runs"); do
  before=$(git rev-parse HEAD:package-lock.json)
  git pull -q "$repo" main
  [ "$(git rev-parse HEAD:package-lock.json)" = "$before" ] || npm ci > /dev/null 2>&1
  rev=$(git rev-parse --short HEAD)
  start=$(date +%s)
  if CI=true npm test > "$results.run-$i.log" 2>&1; then r=pass; else r=FAIL; fi
  echo "run $i at $rev: $r in $(( $(date +%s) - start )) s, load $(cut -d' ' -f1 /proc/loadavg) ($(date -u +%H:%M))" >> "$results"
  [ -f "$results.stop" ] && break
done
echo "done" >> "$results"
