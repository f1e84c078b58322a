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
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { loadSavedModel } from '../src/models/io.js';
import { loadImageSet } from '../src/data/load.js';
import { toModelInput } from '../src/data/convert.js';
import type { DatasetName } from '../src/data/types.js';
import { createDefense } from '../src/defenses/registry.js';
import { describeDefense } from '../src/defenses/spec.js';
import { inferencePosterior } from '../src/defenses/forward.js';
import type { Cell } from '../src/sweep/cell.js';

const IN_S = 0.01;

function fail(message: string): never {
  console.error(`released-labels: ${message}`);
  process.exit(2);
}

function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function readI32(file: string): Int32Array {
  const b = readFileSync(file);
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function argmax(row: ArrayLike<number>, from: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (row[from + j]! > row[from + best]!) best = j;
  return best;
}

interface TransferHeader {
  settings: { kind: string; attack: string; pool: { dataset: DatasetName; split: 'train' | 'test' }; budget: number; seed: number };
  count: number;
  numClasses: number;
}

/** The cached transfer set this cell's attacker was trained on. */
function findTransfer(cacheDir: string, cell: Cell): { dir: string; header: TransferHeader } {
  const s = cell.settings;
  for (const name of readdirSync(cacheDir).filter((n) => n.startsWith('transfer-'))) {
    const dir = path.join(cacheDir, name);
    const header = JSON.parse(readFileSync(path.join(dir, 'header.json'), 'utf8')) as TransferHeader;
    const h = header.settings;
    if (h.attack === s.attack.name && h.budget === s.budget && h.seed === s.seed && h.pool.dataset === s.attack['queryset']) return { dir, header };
  }
  return fail(`${cacheDir} holds no transfer set for cell ${cell.id} (attack ${s.attack.name}, budget ${s.budget}, seed ${s.seed})`);
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
  const cellFile = path.join(sweepDir, 'cells', `${cellId}.json`);
  let cell: Cell & { metrics: { attacker: { accuracy: number } } };
  try {
    cell = JSON.parse(readFileSync(cellFile, 'utf8')) as typeof cell;
  } catch {
    return fail(`no finished cell at ${cellFile}`);
  }
  if (cell.settings.attack.name !== 'knockoff') fail(`cell ${cellId} is a ${cell.settings.attack.name} cell; only knockoff cells have a cached transfer set`);
  if (cell.settings.defense.name === 'random-noise') fail('random noise is drawn in the sweep\'s batch order, which a replay does not follow');
  const { dir, header } = findTransfer(cacheDir, cell);
  await initEngine({ backend: 'wasm' });

  const { model: victim, params } = await loadSavedModel(path.join(sweepDir, 'victim'));
  victim.dispose();
  const K = header.numClasses;
  const n = header.count;
  const defense = await createDefense(cell.settings.defense, {
    numClasses: K,
    inputShape: [params.input.height, params.input.width, params.input.channels],
    arch: params.arch,
    seed: cell.settings.seed,
  });
  let side: tf.Tensor | null = null;
  if (defense.sideInfoKey !== null) {
    const meta = readdirSync(dir).filter((f) => f.startsWith('side-') && f.endsWith('.json'))
      .find((f) => (JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { sideInfoKey: string }).sideInfoKey === defense.sideInfoKey);
    if (!meta) fail(`${dir} holds no side information '${defense.sideInfoKey}'`);
    const { rowShape } = JSON.parse(readFileSync(path.join(dir, meta), 'utf8')) as { rowShape: number[] };
    side = tf.tensor(readF32(path.join(dir, meta.replace(/\.json$/, '.f32'))), [n, ...rowShape]);
  }
  const clean = readF32(path.join(dir, 'clean.f32'));
  const released = tf.tidy(() => defense.apply(tf.tensor2d(clean, [n, K]), side));
  const y = released.dataSync();
  released.dispose();
  side?.dispose();
  defense.dispose();

  // The released labels, grouped by the victim's own top-1 k0.
  const supportSizes = new Array<number>(K + 1).fill(0);
  const membership = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const perK0 = new Array<number>(K).fill(0);
  const victimTop1 = new Int32Array(n);
  let keptTop1 = 0;
  for (let i = 0; i < n; i++) {
    const k0 = argmax(clean, i * K, K);
    victimTop1[i] = k0;
    perK0[k0]!++;
    if (argmax(y, i * K, K) === k0) keptTop1++;
    let size = 0;
    for (let j = 0; j < K; j++) {
      if (y[i * K + j]! > IN_S) {
        membership[k0]![j]!++;
        size++;
      }
    }
    supportSizes[size]!++;
  }
  console.log(`cell ${cell.id}: knockoff B = ${n} from ${header.settings.pool.dataset}, ${describeDefense(cell.settings.defense)}, seed ${cell.settings.seed}`);
  console.log(`released top-1 = victim top-1 on ${((100 * keptTop1) / n).toFixed(2)}% of the queries`);
  console.log(`support size |S| (classes with released mass > ${IN_S}): ${supportSizes.map((c, s) => (c ? `${s}: ${c}` : '')).filter(Boolean).join(', ')}`);
  table('% of the queries with victim top-1 k0 (row; count in the last column) whose released label puts class j (column) in S:',
    membership.map((r, k) => [...r.map((c) => (100 * c) / Math.max(1, perK0[k]!)), perK0[k]!]), 0);

  // The attacker: in sample (its own transfer images) and on the victim's test set.
  const attackerDir = path.join(sweepDir, 'runs', cell.id, `budget-${cell.settings.budget}`);
  const { model: attacker } = await loadSavedModel(attackerDir);
  const predict = (set: Awaited<ReturnType<typeof loadImageSet>>, indices: Int32Array | null): Int32Array => {
    const count = indices ? indices.length : set.count;
    const out = new Int32Array(count);
    for (let a = 0; a < count; a += 1000) {
      const b = Math.min(count, a + 1000);
      const batch = indices ? indices.subarray(a, b) : { start: a, end: b };
      out.set(tf.tidy(() => inferencePosterior(attacker, toModelInput(set, batch, params.input)).argMax(1).dataSync()), a);
    }
    return out;
  };
  const pool = await loadImageSet(header.settings.pool.dataset, header.settings.pool.split);
  const inSample = predict(pool, readI32(path.join(dir, 'indices.i32')));
  let sameAsVictim = 0;
  let insideS = 0;
  inSample.forEach((c, i) => {
    if (c === victimTop1[i]) sameAsVictim++;
    if (y[i * K + c]! > IN_S) insideS++;
  });
  console.log(`attacker on its own ${n} queries: top-1 = victim top-1 ${((100 * sameAsVictim) / n).toFixed(2)}%, top-1 inside S ${((100 * insideS) / n).toFixed(2)}%`);
  const test = await loadImageSet(params.dataset, 'test');
  const onTest = predict(test, null);
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let correct = 0;
  onTest.forEach((c, i) => {
    const label = test.labels[i]!;
    confusion[label]![c]!++;
    if (c === label) correct++;
  });
  console.log(`attacker on the ${test.count} ${params.dataset} test images: ${((100 * correct) / test.count).toFixed(2)}% (the cell reported ${(100 * cell.metrics.attacker.accuracy).toFixed(2)}%)`);
  table('confusion (row: true class, column: attacker prediction):', confusion, 0);
  attacker.dispose();
}

main().catch((err: unknown) => {
  console.error(`released-labels: ${(err as Error).message}`);
  process.exit(1);
});
