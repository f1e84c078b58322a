/**
 * What a knockoff attacker was actually taught, for one finished sweep cell: rebuilds the labels
 * the black box released (ỹ) from the sweep's cached transfer set, and sets them beside the
 * attacker's predictions, in sample and on the victim's test set. It explains results such as
 * MAD-argmax at ε = 2 driving the attacker BELOW chance (docs/measurements.md).
 *
 *   node dist/bench/released-labels.js SWEEP_DIR CACHE_DIR CELL_ID
 *   e.g. node dist/bench/released-labels.js results/bench/sweep-time/mnist/jobs-2/sweep \
 *          results/bench/sweep-time/mnist/jobs-2/cache cc04fdc992b6
 *
 * Deterministic defenses only (random noise draws its stream in the sweep's batch order, which
 * this replay does not follow). "In S" means a released mass above 0.01.
 */
import path from 'node:path';
import { initEngine } from '../src/engine/backend.js';
import { loadSavedModel, readParams } from '../src/models/io.js';
import { loadImageSet, parseDatasetName, parseSplit } from '../src/data/index.js';
import { createDefense } from '../src/defenses/create.js';
import { DEFENSE_STREAMS } from '../src/defenses/types.js';
import { describeDefense } from '../src/defenses/spec.js';
import { loadCachedPosteriors, loadCachedSide } from '../src/attack-run/posterior-cache.js';
import { listCache } from '../src/cache/inventory.js';
import { modelInput } from '../src/cache/key.js';
import { cleanRows, releasedRows } from '../src/attack-run/posteriors.js';
import { budgetDirName } from '../src/attack-run/result.js';
import { readCell } from '../src/sweep/run/cell-store.js';

const IN_S = 0.01;

function fail(message: string): never {
  console.error(`released-labels: ${message}`);
  process.exit(2);
}

/** Index of the largest value of row `row` in a flat array of rows of k values. */
function argmaxRow(rows: Float32Array, row: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (rows[row * k + j]! > rows[row * k + best]!) best = j;
  return best;
}

function table(title: string, rows: number[][], digits: number): void {
  console.log(title);
  const width = Math.max(5, ...rows.flat().map((v) => v.toFixed(digits).length + 1));
  console.log('     ' + rows.map((_, j) => String(j).padStart(width)).join(''));
  rows.forEach((r, i) => console.log(String(i).padStart(4) + ' ' + r.map((v) => v.toFixed(digits).padStart(width)).join('')));
}

async function main(): Promise<void> {
  const [sweepDir, cacheDir, cellId] = process.argv.slice(2);
  if (!sweepDir || !cacheDir || !cellId) fail('usage: node dist/bench/released-labels.js SWEEP_DIR CACHE_DIR CELL_ID');
  const read = await readCell(sweepDir, cellId);
  if (!read.ok) fail(read.problem);
  const cell = read.record;
  const s = cell.settings;
  if (s.attack.name !== 'knockoff') fail(`cell ${cellId} is a ${s.attack.name} cell; only knockoff cells have a cached transfer set`);
  if (s.defense.name === 'random-noise') fail('random noise is drawn in the sweep\'s batch order, which a replay does not follow');
  await initEngine({ backend: 'wasm' });

  // The cell's transfer set: the current (not stale) entry of this victim's content, pool, seed and
  // attack whose budget covers the cell's (the sweep keys it by its group's largest budget).
  const victimDir = path.join(sweepDir, 'victim');
  const params = await readParams(victimDir);
  const pool = await loadImageSet(parseDatasetName(String(s.attack['queryset'])), parseSplit(String(s.attack['querysetSplit'])));
  const victimSha = (await modelInput('victim', victimDir)).sha256;
  const found = (await listCache(cacheDir)).find((e) => {
    const id = e.identity as { attack?: string; victim?: string; seed?: number; budget?: number; pool?: { dataset?: string; split?: string } } | null;
    return e.kind === 'transfer' && e.stale.length === 0 && id !== null && id.attack === s.attack.name && id.victim === victimSha &&
      id.seed === s.seed && (id.budget ?? 0) >= s.budget && id.pool?.dataset === pool.dataset && id.pool.split === pool.split;
  });
  const entry = found && found.inputs ? await loadCachedPosteriors(cacheDir, { kind: 'transfer', identity: found.identity as Record<string, unknown>, inputs: found.inputs }) : null;
  if (!entry) fail(`${cacheDir} holds no transfer set for cell ${cell.id} (run the sweep with this --cache-dir first)`);
  const K = entry.numClasses;
  const n = entry.poolIndices.length;
  const defense = await createDefense(s.defense, {
    numClasses: K,
    inputShape: [params.input.height, params.input.width, params.input.channels],
    arch: params.arch,
    seed: s.seed,
    stream: DEFENSE_STREAMS.attacker,
  });
  let y: Float32Array;
  try {
    const side = defense.sideInfoKey === null ? null : await loadCachedSide(entry, { sideInfoKey: defense.sideInfoKey, inputs: defense.inputs ?? [] });
    if (defense.sideInfoKey !== null && !side) fail(`${entry.dir} holds no side information '${defense.sideInfoKey}'`);
    y = await releasedRows(defense, entry.clean, side, K);
  } finally {
    defense.dispose();
  }

  // The released labels, grouped by the victim's own top-1 k0.
  const supportSizes = new Array<number>(K + 1).fill(0);
  const membership = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const perK0 = new Array<number>(K).fill(0);
  let keptTop1 = 0;
  for (let i = 0; i < n; i++) {
    const k0 = argmaxRow(entry.clean, i, K);
    perK0[k0]!++;
    if (argmaxRow(y, i, K) === k0) keptTop1++;
    let size = 0;
    for (let j = 0; j < K; j++) {
      if (y[i * K + j]! > IN_S) {
        membership[k0]![j]!++;
        size++;
      }
    }
    supportSizes[size]!++;
  }
  console.log(`cell ${cell.id}: knockoff B = ${n} from ${pool.dataset}, ${describeDefense(s.defense)}, seed ${s.seed}`);
  console.log(`released top-1 = victim top-1 on ${((100 * keptTop1) / n).toFixed(2)}% of the queries`);
  console.log(`support size |S| (classes with released mass > ${IN_S}): ${supportSizes.map((c, size) => (c ? `${size}: ${c}` : '')).filter(Boolean).join(', ')}`);
  table('% of the queries with victim top-1 k0 (row; count in the last column) whose released label puts class j (column) in S:',
    membership.map((r, k) => [...r.map((c) => (100 * c) / Math.max(1, perK0[k]!)), perK0[k]!]), 0);

  // The attacker: in sample (its own transfer images) and on the victim's test set.
  const { model: attacker } = await loadSavedModel(path.join(sweepDir, 'runs', cell.id, budgetDirName(s.budget)));
  try {
    const inSample = await cleanRows(attacker, pool, entry.poolIndices, params.input);
    let sameAsVictim = 0;
    let insideS = 0;
    for (let i = 0; i < n; i++) {
      const c = argmaxRow(inSample, i, K);
      if (c === argmaxRow(entry.clean, i, K)) sameAsVictim++;
      if (y[i * K + c]! > IN_S) insideS++;
    }
    console.log(`attacker on its own ${n} queries: top-1 = victim top-1 ${((100 * sameAsVictim) / n).toFixed(2)}%, top-1 inside S ${((100 * insideS) / n).toFixed(2)}%`);
    const test = await loadImageSet(params.dataset, 'test');
    const onTest = await cleanRows(attacker, test, test.count, params.input);
    const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
    let correct = 0;
    for (let i = 0; i < test.count; i++) {
      const c = argmaxRow(onTest, i, K);
      const label = test.labels[i]!;
      confusion[label]![c]!++;
      if (c === label) correct++;
    }
    console.log(`attacker on the ${test.count} ${params.dataset} test images: ${((100 * correct) / test.count).toFixed(2)}% (the cell reported ${(100 * cell.metrics.attacker.accuracy).toFixed(2)}%)`);
    table('confusion (row: true class, column: attacker prediction):', confusion, 0);
  } finally {
    attacker.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(`released-labels: ${(err as Error).message}`);
  process.exit(1);
});
