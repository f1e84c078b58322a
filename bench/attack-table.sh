#!/usr/bin/env bash
# The SPEC's attack table on the MNIST LeNet victim: attacker accuracy with no defense, MAD
# (ε = 0.5, 1.0), MAD-argmax (ε = 1.0), reverse sigmoid (β = 0.5, γ = 0.2) and argmax, with the
# defender's accuracy and mean L1 of each and the wall time of every run, printed as markdown.
#
#   bash bench/attack-table.sh                 # knockoff and jbda, everything
#   ATTACKS=knockoff bash bench/attack-table.sh
#   JOBS=2 bash bench/attack-table.sh          # two runs at a time (never more on 2 cores)
#   DEFENSES="none mad-0.5" ATTACKS=jbda bash bench/attack-table.sh
#   DEFENSES="mad-argmax-2.0" ATTACKS=knockoff bash bench/attack-table.sh   # not in the default list
#   TABLE_ONLY=1 bash bench/attack-table.sh     # print the table of finished runs
#
# Knockoff: Fashion-MNIST train split as the query pool (the data layer finds Debian's
# /usr/share/datasets/fashion-mnist), B = 10,000, 10 epochs; its transfer set is computed once
# (the `none` run) and every defense is replayed from results/cache.
# JBDA: seed set 100 from MNIST train, B = 6,400, default attacker epochs (30).
# Each run's result.json lands in results/attacks/table/<attack>-<defense>/.
set -euo pipefail
cd "$(dirname "$0")/.."

VICTIM=${VICTIM:-results/victims/mnist-lenet}
OUT=${OUT:-results/attacks/table}
JOBS=${JOBS:-1}
ATTACKS=${ATTACKS:-"knockoff jbda"}
DEFENSES=${DEFENSES:-"none mad-0.5 mad-1.0 mad-argmax-1.0 reverse-sigmoid-0.5 argmax"}
BACKEND=${BACKEND:-wasm}

if [ ! -f "$VICTIM/params.json" ]; then
  echo "attack-table: no victim at $VICTIM (train one with: poison train --dataset mnist --out $VICTIM)" >&2
  exit 1
fi

defense_flags() {
  case "$1" in
    none) echo "--defense none" ;;
    mad-0.5) echo "--defense mad --eps 0.5" ;;
    mad-1.0) echo "--defense mad --eps 1.0" ;;
    mad-argmax-1.0) echo "--defense mad-argmax --eps 1.0" ;;
    mad-argmax-2.0) echo "--defense mad-argmax --eps 2.0" ;;
    reverse-sigmoid-0.5) echo "--defense reverse-sigmoid --beta 0.5 --gamma 0.2" ;;
    argmax) echo "--defense argmax" ;;
    *) echo "attack-table: unknown defense label '$1'" >&2; exit 2 ;;
  esac
}

attack_flags() {
  case "$1" in
    knockoff) echo "--attack knockoff --queryset fashion-mnist --queryset-split train --budget 10000 --epochs 10" ;;
    jbda) echo "--attack jbda --seed-size 100 --budget 6400" ;;
    *) echo "attack-table: unknown attack '$1'" >&2; exit 2 ;;
  esac
}

# One run; its wall time goes next to its result.json.
run_one() {
  local attack=$1 defense=$2 dir="$OUT/$1-$2" baseline=()
  if [ "$defense" != none ] && [ -f "$OUT/$attack-none/result.json" ]; then baseline=(--baseline "$OUT/$attack-none/result.json"); fi
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2046
  node bin/poison attack --victim "$VICTIM" $(attack_flags "$attack") $(defense_flags "$defense") \
    --seed 1 --backend "$BACKEND" --quiet --force --out "$dir" "${baseline[@]}" > "$OUT/$attack-$defense.log" 2>&1 \
    || { echo "attack-table: $attack $defense failed, see $OUT/$attack-$defense.log" >&2; return 1; }
  end=$(date +%s.%N)
  awk "BEGIN { printf \"%.1f\\n\", $end - $start }" > "$dir/wall-seconds.txt"
  echo "attack-table: $attack $defense done in $(cat "$dir/wall-seconds.txt") s" >&2
}

mkdir -p "$OUT"
# TABLE_ONLY=1: print the table of runs already done.
for attack in $([ "${TABLE_ONLY:-0}" = 1 ] || echo "$ATTACKS"); do
  # The undefended run first: it is every other run's baseline (and fills knockoff's cache).
  if [[ " $DEFENSES " == *" none "* ]]; then run_one "$attack" none; fi
  for defense in $DEFENSES; do
    [ "$defense" = none ] && continue
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    run_one "$attack" "$defense" &
  done
  wait || true
done

node --input-type=module - "$OUT" $ATTACKS -- $DEFENSES <<'JS'
import { readFileSync, existsSync } from 'node:fs';
const [out, ...rest] = process.argv.slice(2);
const split = rest.indexOf('--');
const attacks = rest.slice(0, split);
const defenses = rest.slice(split + 1);
const pct = (x) => (100 * x).toFixed(2);
console.log('| attack | B | defense | attacker acc % (best epoch) | fidelity % | error ampl. | defender acc % | mean L1 test | mean L1 queries | cache | wall s |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const a of attacks) {
  for (const d of defenses) {
    const dir = `${out}/${a}-${d}`;
    if (!existsSync(`${dir}/result.json`)) { console.log(`| ${a} | | ${d} | (no result) | | | | | | | |`); continue; }
    const r = JSON.parse(readFileSync(`${dir}/result.json`, 'utf8'));
    const wall = existsSync(`${dir}/wall-seconds.txt`) ? Number(readFileSync(`${dir}/wall-seconds.txt`, 'utf8')).toFixed(0) : '';
    for (const run of r.runs) {
      const amp = run.errorAmplification === null ? '' : `${run.errorAmplification.toFixed(2)}×`;
      console.log(`| ${a} | ${run.budget} | ${r.defense.description} | ${pct(run.attacker.accuracy)} (${pct(run.attacker.bestEpochAccuracy)}) | ${pct(run.attacker.fidelity)} | ${amp} | ${pct(r.defender.accuracyDefended)} (undef. ${pct(r.defender.accuracyUndefended)}) | ${r.defender.test.l1.mean.toFixed(3)} | ${run.queryDistortion.l1.mean.toFixed(3)} | ${r.transferSet.cache} | ${wall} |`);
    }
  }
}
JS
