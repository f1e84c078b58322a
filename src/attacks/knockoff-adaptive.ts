/**
 * Knockoff Nets, adaptive strategy (Orekondy et al. 2019; docs/spec.md "Adaptive Knockoff Nets"):
 * a gradient bandit over the query pool's classes picks where each query comes from, rewarded by
 * the answers (cert, div, loss or all), b images per black-box round, the attacker refit (warm,
 * E_r epochs on the queries so far, no query spent) every R queries. Every pool image is sent at
 * most once and exactly B are sent. The policy and rewards are gradient-bandit.ts; this file
 * wires them to the black box and the attacker.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { UsageError } from '../errors.js';
import { adaptiveQueries, REWARDS, type BanditEffects, type BanditSettings, type RewardName } from './gradient-bandit.js';
import { attackSettingsOf, POOL_PARAMS, type AttackSettings } from './names.js';
import type { AttackDefinition } from './types.js';
import type { TransferSet } from './transfer-set.js';

const NAME = 'knockoff-adaptive';
const POSITIVE_INT = { integer: true, min: 1 } as const;

/** The spec's defaults: b = 32, R = 1000, E_r = 1, Δ = 100, reward all, α = 1/N(a). */
const DEFAULTS = { banditBatch: 32, refitEvery: 1000, refitEpochs: 1, divWindow: 100, reward: 'all' } as const;

function numberSetting(settings: AttackSettings, key: string): number {
  const v = settings[key];
  if (typeof v !== 'number') throw new Error(`${NAME}: setting ${key} is ${String(v)}, not a number`);
  return v;
}

function banditSettings(settings: AttackSettings): BanditSettings {
  const step = settings.banditStep;
  return {
    batchSize: numberSetting(settings, 'banditBatch'),
    refitEvery: numberSetting(settings, 'refitEvery'),
    divWindow: numberSetting(settings, 'divWindow'),
    reward: settings.reward as RewardName,
    stepSize: typeof step === 'number' ? step : null,
  };
}

export const knockoffAdaptive: AttackDefinition = {
  name: NAME,
  queries: 'pool',
  adaptive: true,
  params: [
    ...POOL_PARAMS,
    { key: 'reward', flag: '--reward <name>', bag: 'attack', kind: 'choice', choices: REWARDS, default: DEFAULTS.reward, help: 'bandit reward: cert (top-1 − top-2), div (distance from the recent mean answer), loss (attacker cross-entropy), all (their sum, loss min–max scaled)' },
    { key: 'banditBatch', flag: '--bandit-batch <n>', bag: 'attack', kind: 'number', range: POSITIVE_INT, default: DEFAULTS.banditBatch, help: 'b: images drawn from one policy per black-box round' },
    { key: 'refitEvery', flag: '--refit-every <n>', bag: 'attack', kind: 'number', range: POSITIVE_INT, default: DEFAULTS.refitEvery, help: 'R: refit the attacker each time the queries pass a multiple of R (R ≥ b)' },
    { key: 'refitEpochs', flag: '--refit-epochs <n>', bag: 'attack', kind: 'number', range: POSITIVE_INT, default: DEFAULTS.refitEpochs, help: 'E_r: epochs of each warm refit on the queries so far' },
    { key: 'refitLr', flag: '--refit-lr <x>', bag: 'attack', kind: 'number', range: { gt: 0 }, default: 0.1, help: 'SGD learning rate of the refits' },
    { key: 'refitMomentum', flag: '--refit-momentum <x>', bag: 'attack', kind: 'number', range: { min: 0, max: 0.999 }, default: 0.5, help: 'SGD momentum of the refits' },
    { key: 'divWindow', flag: '--div-window <n>', bag: 'attack', kind: 'number', range: POSITIVE_INT, default: DEFAULTS.divWindow, help: 'Δ: answers in the div reward\'s running mean' },
    { key: 'banditStep', flag: '--bandit-step <x|none>', bag: 'attack', kind: 'number', range: { gt: 0 }, nullable: true, default: null, help: 'constant step α of the policy; none = 1/N(a), the pulls of the class so far' },
  ],
  // With R < b one round would pass several multiples of R, and no refit can happen mid-round.
  victimLimit: (_jacobian, _numClasses, settings) => {
    const b = numberSetting(settings, 'banditBatch');
    const R = numberSetting(settings, 'refitEvery');
    return R < b ? { key: 'refitEvery', expected: `at least banditBatch (${b})`, got: String(R) } : null;
  },
  async run(ctx, sources) {
    // Loaded here, not at the top: the command line reads this declaration without TensorFlow.js.
    const tf = await import('@tensorflow/tfjs');
    const { toModelInput } = await import('../data/convert.js');
    const { pixelSpec } = await import('./pixels.js');
    const { trainClassifier } = await import('../train/loop.js');
    const { transferBatchSource } = await import('./transfer-set.js');
    const pool = sources.pool;
    if (!pool) throw new UsageError(`${NAME} needs a query pool (--queryset)`);
    if (ctx.budget > pool.count) {
      throw new UsageError(`--budget ${ctx.budget} is larger than the query pool (${pool.count} images): ${NAME} sends each image once`);
    }
    // Defaults for whatever a library caller left out, and the declaration's checks on the rest.
    const own = attackSettingsOf(knockoffAdaptive.params, sources.settings);
    const settings = banditSettings(own);
    const refitEpochs = numberSetting(own, 'refitEpochs');
    const refitLr = numberSetting(own, 'refitLr');
    const refitMomentum = numberSetting(own, 'refitMomentum');
    const asPixels = pixelSpec(ctx.input);
    const attacker = ctx.buildSubstitute(ctx.rng.fork('attacker-init'));
    const refitRng = ctx.rng.fork('refits');
    let refits = 0;
    const effects: BanditEffects = {
      async query(indices) {
        const out = new Float32Array(indices.length * ctx.numClasses);
        for (let start = 0; start < indices.length; start += ctx.queryBatchSize) {
          const chunk = indices.subarray(start, Math.min(indices.length, start + ctx.queryBatchSize));
          const pixels = toModelInput(pool, chunk, asPixels);
          try {
            out.set(await ctx.oracle.query({ pixels, poolIndices: chunk }), start * ctx.numClasses);
          } finally {
            pixels.dispose();
          }
        }
        return out;
      },
      async logPredict(indices) {
        // ŷ on the inputs as the attacker trains on them: normalised like the victim's.
        const logProbs = tf.tidy(() => {
          const x = toModelInput(pool, indices, ctx.input);
          return tf.logSoftmax(attacker.apply(x, { training: false }) as tfTypes.Tensor2D);
        });
        try {
          return (await logProbs.data()) as Float32Array;
        } finally {
          logProbs.dispose();
        }
      },
      async refit(indices, released) {
        const round = refits++;
        ctx.reporter?.line?.(`${NAME}: refit ${round + 1} of the attacker on ${indices.length} queries`);
        const view: TransferSet = {
          attack: NAME,
          count: indices.length,
          numClasses: ctx.numClasses,
          input: ctx.input,
          images: { kind: 'pool', pool, indices },
          released,
        };
        await trainClassifier(
          attacker,
          transferBatchSource(view, view.count, ctx.labelMode),
          // A short warm refit: no decay within it.
          { epochs: refitEpochs, lr: refitLr, momentum: refitMomentum, batchSize: ctx.substituteBatchSize, lrStep: Number.MAX_SAFE_INTEGER, weightDecay: 0 },
          refitRng.fork(`refit-${round}`),
        );
      },
    };
    try {
      const chosen = await adaptiveQueries(pool.labels.subarray(0, pool.count), ctx.numClasses, ctx.budget, settings, ctx.rng.fork('bandit'), effects, (done) =>
        ctx.reporter?.queried?.(done, ctx.budget),
      );
      if (chosen.exhausted) {
        // Unreachable while the budget is at most the pool's size (checked above); said plainly if not.
        throw new UsageError(`${NAME}: the query pool ran out after ${chosen.indices.length} of ${ctx.budget} queries`);
      }
      return {
        attack: NAME,
        count: chosen.indices.length,
        numClasses: ctx.numClasses,
        input: ctx.input,
        images: { kind: 'pool', pool, indices: chosen.indices },
        released: chosen.released,
        policy: { labels: chosen.labels, actions: chosen.actions, snapshots: chosen.snapshots },
      };
    } finally {
      attacker.dispose();
    }
  },
};
