#!/usr/bin/env bash
# Wall time of a whole sweep from nothing (victim training, transfer sets, every cell, merge,
# plots) for one or more --jobs values, measured one after the other in the same session, each
# with its own empty output and cache folders. With several values it prints the speed-up of
# each against the first and checks that all of them wrote the same sweep.csv (timing and
# version columns excluded): parallelism must never change a number.
#
#   bash bench/sweep-time.sh configs/quick.yaml 1 2     # issue 5's --jobs 1 vs --jobs 2
#   bash bench/sweep-time.sh configs/mnist.yaml 2
#   SUBSTITUTE=emnist-letters:fashion-mnist bash bench/sweep-time.sh configs/mnist.yaml 2
#   BASE=/work/base bash bench/sweep-time.sh configs/quick.yaml 2   # another build vs this one
#
# BASE=DIR times another checkout of poison (built: its bin/poison and dist/) too: for each
# --jobs value its run (base-jobs-N) comes first, then this checkout's (jobs-N), back to back on
# the same config, each from nothing; the table gives this checkout's speed-up against it, and
# every sweep.csv must be identical (timing and version columns excluded), old build or new.
#
# SUBSTITUTE=from:to swaps a query pool that this machine cannot fetch for one of the same image
# shape, which costs exactly the same (same budgets, same image size, same training): the shipped
# configs use EMNIST-letters, the paper's pool, and this machine has no network for it.
# Everything lands under OUT (default results/bench/sweep-time/<config name>); an existing run
# folder there is deleted first, unless RESUME=1: then the sweep resumes in it (a run longer
# than one sitting, stopped with `kill -- -PGID`: the killed segment's seconds are appended to
# segments.txt by the trap below) and the wall time is the sum of the segments. Keep the machine
# otherwise idle while it runs.
#
# BASE_LAST=1 runs BASE second instead of first: alternate it between sittings (e.g. one shard
# each way) so that a drift of the machine over an hour does not always favour the same build.
#
# SHARD=i/n times only shard i of n of the sweep (`poison sweep --shard`), so that a run too
# long for one sitting can still be measured with BASE back to back, shard by shard: shard 1
# in one sitting (BASE then this checkout), then RESUME=1 SHARD=2/2 in the next, and so on.
# Each shard's seconds are one line of segments.txt and the wall time is their sum: the same
# work as one unsharded run (the victim is trained by the first shard only, transfer sets are
# built once), split at cell boundaries, so no killed cell is counted twice. After each shard
# an untimed `--merge` writes sweep.csv from the cells finished so far, for the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
  echo "usage: bash bench/sweep-time.sh CONFIG JOBS [JOBS...]   (e.g. configs/quick.yaml 1 2)" >&2
  exit 2
fi
CONFIG=$1
shift
if [ ! -f "$CONFIG" ]; then
  echo "sweep-time: no config at $CONFIG" >&2
  exit 2
fi
NAME=$(basename "$CONFIG" .yaml)
OUT=${OUT:-results/bench/sweep-time/$NAME}
mkdir -p "$OUT"

RUN_CONFIG=$CONFIG
if [ -n "${SUBSTITUTE:-}" ]; then
  from=${SUBSTITUTE%%:*}
  to=${SUBSTITUTE#*:}
  RUN_CONFIG="$OUT/$NAME-$to.yaml"
  sed "s/queryset: $from\\b/queryset: $to/g" "$CONFIG" > "$RUN_CONFIG"
  if cmp -s "$CONFIG" "$RUN_CONFIG"; then
    echo "sweep-time: $CONFIG has no 'queryset: $from' to substitute" >&2
    exit 2
  fi
  echo "sweep-time: running $RUN_CONFIG ($CONFIG with queryset $from → $to)" >&2
fi

BASE=${BASE:-}
if [ -n "$BASE" ] && [ ! -f "$BASE/bin/poison" ]; then
  echo "sweep-time: BASE=$BASE is not a poison checkout (no bin/poison)" >&2
  exit 2
fi
if [ -n "$BASE" ] && [ ! -d "$BASE/dist" ]; then
  echo "sweep-time: BASE=$BASE is not built: run npm ci there" >&2
  exit 2
fi

SHARD=${SHARD:-}
SHARD_FLAGS=()
if [ -n "$SHARD" ]; then
  if ! [[ $SHARD =~ ^[1-9][0-9]*/[1-9][0-9]*$ ]]; then
    echo "sweep-time: SHARD=$SHARD is not i/n (e.g. SHARD=1/2)" >&2
    exit 2
  fi
  SHARD_FLAGS=(--shard "$SHARD")
fi

# time_sweep LABEL BIN JOBS: one sweep from nothing into $OUT/LABEL with that build's bin/poison.
time_sweep() {
  local label=$1 bin=$2 jobs=$3
  local dir="$OUT/$label"
  if [ "${RESUME:-0}" != 1 ]; then rm -rf "$dir"; fi
  mkdir -p "$dir"
  echo "sweep-time: $NAME $label ($bin) started $(date -u +%H:%M:%S)" >&2
  start=$(date +%s.%N)
  # A segment stopped by a signal still counts: its seconds go to segments.txt, marked as such.
  trap 'awk "BEGIN { printf \"%.1f killed\\n\", $(date +%s.%N) - $start }" >> "$dir/segments.txt"; exit 130' INT TERM
  node "$bin" sweep "$RUN_CONFIG" --jobs "$jobs" --out "$dir/sweep" --cache-dir "$dir/cache" --quiet "${SHARD_FLAGS[@]}" >> "$dir/log.txt" 2>&1 \
    || { echo "sweep-time: the run $label failed, see $dir/log.txt" >&2; exit 1; }
  trap - INT TERM
  end=$(date +%s.%N)
  awk "BEGIN { printf \"%.1f${SHARD:+ shard $SHARD}\\n\", $end - $start }" >> "$dir/segments.txt"
  # The shard that finishes the sweep's last cell merges by itself; any other leaves sweep.csv
  # as it was, so merge what is finished so far (untimed) for the comparison below.
  if [ -n "$SHARD" ] && [ -z "$(find "$dir/sweep/sweep.csv" -newermt "@$start" 2>/dev/null)" ]; then
    node "$bin" sweep "$RUN_CONFIG" --merge --out "$dir/sweep" --cache-dir "$dir/cache" --quiet >> "$dir/log.txt" 2>&1 \
      || { echo "sweep-time: merging $label failed, see $dir/log.txt" >&2; exit 1; }
  fi
  awk '{ total += $1 } END { printf "%.1f\n", total }' "$dir/segments.txt" > "$dir/wall-seconds.txt"
  echo "sweep-time: $NAME $label took $(cat "$dir/wall-seconds.txt") s ($(wc -l < "$dir/segments.txt") segment(s))" >&2
}

LABELS=()
# time_build LABEL_PREFIX BIN JOBS: time_sweep, and remember the label for the comparison.
time_build() {
  time_sweep "$1jobs-$3" "$2" "$3"
  LABELS+=("$1jobs-$3")
}
for jobs in "$@"; do
  if [ -n "$BASE" ] && [ "${BASE_LAST:-0}" != 1 ]; then time_build base- "$BASE/bin/poison" "$jobs"; fi
  time_build "" bin/poison "$jobs"
  if [ -n "$BASE" ] && [ "${BASE_LAST:-0}" = 1 ]; then time_build base- "$BASE/bin/poison" "$jobs"; fi
done

node --input-type=module - "$OUT" "${LABELS[@]}" <<'JS'
import { readFileSync } from 'node:fs';
import { VOLATILE_COLUMNS } from './dist/src/sweep/report/sweep-csv.js';
const [out, ...labels] = process.argv.slice(2);
// sweep.csv has no quoted newlines: a plain split is enough to compare files cell by cell.
const stable = (file) => {
  // A fake-runner sweep.csv starts with a '#' notice line: not part of the table.
  const rows = readFileSync(file, 'utf8').trimEnd().split('\n').filter((l) => !l.startsWith('#'));
  const header = rows[0].split(',');
  const keep = header.map((h, i) => (VOLATILE_COLUMNS.includes(h) ? -1 : i)).filter((i) => i >= 0);
  return rows.map((r) => { const c = r.split(','); return keep.map((i) => c[i]).join(','); }).join('\n');
};
const runs = labels.map((label) => ({
  label,
  base: label.startsWith('base-'),
  jobs: label.replace(/^(base-)?jobs-/, ''),
  seconds: Number(readFileSync(`${out}/${label}/wall-seconds.txt`, 'utf8')),
  csv: stable(`${out}/${label}/sweep/sweep.csv`),
  cells: readFileSync(`${out}/${label}/sweep/sweep.csv`, 'utf8').trimEnd().split('\n').filter((l) => !l.startsWith('#')).length - 1,
}));
const first = runs[0];
const firstOfBuild = runs.find((r) => !r.base);
for (const r of runs) {
  const min = (r.seconds / 60).toFixed(1);
  const name = `${r.base ? 'BASE ' : ''}--jobs ${r.jobs}`;
  const vsBase = runs.find((b) => b.base && b.jobs === r.jobs && !r.base);
  const parts = [`${name}: ${r.seconds.toFixed(0)} s (${min} min), ${r.cells} cells`];
  if (vsBase) parts.push(`speed-up vs BASE --jobs ${r.jobs}: ${(vsBase.seconds / r.seconds).toFixed(2)}x`);
  if (!r.base && r !== firstOfBuild) parts.push(`speed-up vs --jobs ${firstOfBuild.jobs}: ${(firstOfBuild.seconds / r.seconds).toFixed(2)}x`);
  if (r !== first) parts.push(r.csv === first.csv ? 'sweep.csv identical' : 'sweep.csv DIFFERS');
  console.log(parts.join('  '));
}
if (runs.some((r) => r.csv !== first.csv)) process.exitCode = 1;
JS
