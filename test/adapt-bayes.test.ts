/**
 * Partial Bayes (src/adaptations/bayes.ts) on a stand-in black box: against a defense the attacker
 * can simulate (a temperature flattening that keeps the top-1), the ABC estimates are closer to
 * the clean posteriors than the defended answers; one query per image; prefixes of a larger
 * budget answer the same. As a user runs it: adapt-cli.test.ts.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../src/engine/backend.js';
import { bayes } from '../src/adaptations/bayes.js';
import type { QueryOracle } from '../src/attacks/types.js';
import type { InputSpec } from '../src/data/types.js';
import { Rng } from '../src/util/rng.js';
import { askAll, meanL1 as meanL1Of, syntheticBlackBox } from './helpers/synthetic-black-box.js';

const K = 10;
const meanL1 = (a: Float32Array, b: Float32Array): number => meanL1Of(a, b, K);
const INPUT: InputSpec = { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] };

/** D(u) = u^(1/T) renormalised: flatter answers, the same top-1. */
function flatten(rows: Float32Array, temperature = 2): Float32Array {
  const out = new Float32Array(rows.length);
  for (let r = 0; r < rows.length / K; r++) {
    let sum = 0;
    for (let k = 0; k < K; k++) sum += out[r * K + k] = Math.pow(rows[r * K + k]!, 1 / temperature);
    for (let k = 0; k < K; k++) out[r * K + k] = out[r * K + k]! / sum;
  }
  return out;
}

/** Clean posteriors of `count` images: peaked on a random class, as a trained victim's are. */
function cleanRows(count: number): Float32Array {
  const rng = new Rng(11);
  const rows = new Float32Array(count * K);
  for (let i = 0; i < count; i++) {
    const top = rng.int(K);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += rows[i * K + k] = (k === top ? 6 : 0) + rng.next();
    for (let k = 0; k < K; k++) rows[i * K + k] = rows[i * K + k]! / sum;
  }
  return rows;
}


const wrap = (blackBox: QueryOracle, clean?: Float32Array): Promise<QueryOracle> =>
  bayes.wrap(blackBox, {
    settings: { bayesSamples: 400, bayesPrior: clean ? 'oracle' : 'answer', concentration: 8 },
    rng: new Rng(5).fork('adapt'),
    input: INPUT,
    family: 'mnist',
    numClasses: K,
    standInDefense: () => Promise.resolve({ apply: (rows: Float32Array) => Promise.resolve(flatten(rows)) }),
    cleanAnswers: (from, count) => {
      if (!clean) throw new Error('the answer prior read the clean answers');
      return clean.slice(from * K, (from + count) * K);
    },
  });

before(async () => {
  await initEngine({ backend: 'wasm' });
});

test('bayes: the ABC estimates are closer to the clean posteriors than the defended answers', async () => {
  const clean = cleanRows(40);
  const blackBox = syntheticBlackBox(clean, K, (rows) => flatten(rows));
  const oracle = await wrap(blackBox);
  const estimates = await askAll(oracle, [16, 16, 8]);
  assert.equal(blackBox.queriesUsed, 40, 'one query per image');
  assert.equal(oracle.queriesUsed, 40);
  const defended = meanL1(flatten(clean), clean);
  const restored = meanL1(estimates, clean);
  assert.ok(restored < 0.7 * defended, `mean L1 to the clean posteriors: ABC ${restored.toFixed(4)}, defended ${defended.toFixed(4)}`);
  for (let i = 0; i < 40; i++) {
    const row = estimates.subarray(i * K, (i + 1) * K);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'each estimate is a probability vector');
  }
});

test('bayes: the first answers of a larger budget are the answers of a smaller one, whatever the batches', async () => {
  const clean = cleanRows(12);
  const small = await askAll(await wrap(syntheticBlackBox(clean.slice(0, 5 * K), K, (rows) => flatten(rows))), [5]);
  const large = await askAll(await wrap(syntheticBlackBox(clean, K, (rows) => flatten(rows))), [3, 9]);
  assert.deepEqual(large.slice(0, 5 * K), small);
});

test('bayes with the oracle prior (around the clean posteriors) is closer still, and says attackerKnows oracle', async () => {
  const clean = cleanRows(40);
  const answerPrior = meanL1(await askAll(await wrap(syntheticBlackBox(clean, K, (rows) => flatten(rows))), [16, 16, 8]), clean);
  const oraclePrior = meanL1(await askAll(await wrap(syntheticBlackBox(clean, K, (rows) => flatten(rows)), clean), [16, 16, 8]), clean);
  assert.ok(oraclePrior < 0.5 * answerPrior, `mean L1 to the clean posteriors: oracle prior ${oraclePrior.toFixed(4)}, answer prior ${answerPrior.toFixed(4)}`);
  assert.equal(bayes.attackerKnows({ bayesSamples: 400, bayesPrior: 'oracle', concentration: 8 }), 'oracle');
  assert.equal(bayes.attackerKnows({ bayesSamples: 400, bayesPrior: 'answer', concentration: 8 }), 'defense-params');
});
