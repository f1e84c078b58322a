/**
 * The query strategy of adaptive Knockoff Nets (docs/spec.md, "Adaptive Knockoff Nets"): a
 * gradient bandit over the query pool's classes, batched. Pure JavaScript: the black box, the
 * attacker's prediction and its refit are injected (BanditEffects), so the policy and rewards are
 * tested without a network, and the attack file only wires them to TensorFlow.js.
 *
 * Prefix consistency (a run at budget B' is the first B' queries of a run at B > B'): every image
 * consumes exactly two draws of one stream (its class, then its image), and every update uses
 * only what the images before it saw (the availability when it was drawn), so cutting the last
 * batch short changes nothing before the cut. The refits happen between batches, at multiples of
 * R, the same in both runs.
 */
import type { Rng } from '../util/rng.js';

export const REWARDS = ['cert', 'div', 'loss', 'all'] as const;
export type RewardName = (typeof REWARDS)[number];

export interface BanditSettings {
  /** b: images drawn from one policy per black-box round. */
  batchSize: number;
  /** R: the attacker is refit each time the queries pass a multiple of R. */
  refitEvery: number;
  /** Δ: answers averaged for the div reward's running mean ȳ (the current one included). */
  divWindow: number;
  reward: RewardName;
  /** Constant step α; null: α = 1/N(a), N counting this pull. */
  stepSize: number | null;
}

export interface BanditEffects {
  /** The black box's answers ỹ for these pool images (rows × K); each image counts against the budget. */
  query(poolIndices: Int32Array): Promise<Float32Array>;
  /** log ŷ of the current attacker for these pool images (rows × K); free. Only the rewards loss and all call it. */
  logPredict(poolIndices: Int32Array): Promise<Float32Array>;
  /** Refit the attacker (warm) on D: the queries so far and their answers. */
  refit(poolIndices: Int32Array, released: Float32Array): Promise<void>;
}

interface AdaptiveQueries {
  /** Pool index of every query, in query order (distinct). */
  indices: Int32Array;
  /** The black box's answers, in the same order (rows × K). */
  released: Float32Array;
  /** Action (class) of every query. */
  actions: Int32Array;
  /** The pool label of each action (the sorted distinct labels of the pool). */
  labels: number[];
  /** π at the start, after each refit and at the end. */
  snapshots: { queries: number; policy: number[] }[];
  /** True when every class ran out before the budget was spent (indices is then shorter). */
  exhausted: boolean;
}

/** log ŷ below this is taken as this: log(1e-12), the clamp of ŷ at 1e-12 in log space. */
const LOG_FLOOR = Math.log(1e-12);

/**
 * π = softmax(H) over the available actions, 0 on the others (all 0 when none is available).
 * Stable: the largest available H is subtracted first.
 */
export function maskedSoftmax(preferences: Float64Array, available: ArrayLike<boolean>): Float64Array {
  const pi = new Float64Array(preferences.length);
  let max = -Infinity;
  for (let a = 0; a < preferences.length; a++) if (available[a] && preferences[a]! > max) max = preferences[a]!;
  if (max === -Infinity) return pi;
  let sum = 0;
  for (let a = 0; a < preferences.length; a++) {
    if (!available[a]) continue;
    pi[a] = Math.exp(preferences[a]! - max);
    sum += pi[a]!;
  }
  for (let a = 0; a < pi.length; a++) pi[a]! /= sum;
  return pi;
}

/**
 * The gradient bandit (Sutton & Barto §2.8, as ART and MEB implement it): after action a with
 * reward r, H(a) += α(r − r̄)(1 − π(a)) and H(a') −= α(r − r̄)π(a') for a' ≠ a, with π before the
 * update and r̄ the mean of all rewards so far, r included (so the first update is 0).
 */
export class GradientBandit {
  readonly preferences: Float64Array;
  readonly pulls: Float64Array;
  private rewardCount = 0;
  private rewardMean = 0;

  constructor(actions: number, private readonly stepSize: number | null) {
    this.preferences = new Float64Array(actions);
    this.pulls = new Float64Array(actions);
  }

  policy(available: ArrayLike<boolean>): Float64Array {
    return maskedSoftmax(this.preferences, available);
  }

  /** `available`: the actions that could be drawn when `action` was (it among them). */
  update(action: number, reward: number, available: ArrayLike<boolean>): void {
    const pi = this.policy(available);
    this.pulls[action]! += 1;
    this.rewardCount += 1;
    this.rewardMean += (reward - this.rewardMean) / this.rewardCount;
    const alpha = this.stepSize ?? 1 / this.pulls[action]!;
    const advantage = reward - this.rewardMean;
    if (advantage === 0) return;
    for (let a = 0; a < this.preferences.length; a++) {
      this.preferences[a]! += alpha * advantage * ((a === action ? 1 : 0) - pi[a]!);
    }
  }
}

/**
 * The reward of each answer, in query order: cert = y₍₁₎ − y₍₂₎; div = Σ_k max(0, y_k − ȳ_k) with
 * ȳ the mean of the last Δ answers (this one included); loss = −Σ_k y_k log ŷ_k (terms with
 * y_k = 0 are 0, log ŷ clamped at log 1e-12); all = cert + div + loss min–max scaled over the
 * losses so far, this one included (0 while they are all equal).
 */
export class RewardSignal {
  private readonly window: Float64Array;
  private filled = 0;
  private next = 0;
  private lossMin = Infinity;
  private lossMax = -Infinity;

  constructor(private readonly numClasses: number, readonly reward: RewardName, private readonly divWindow: number) {
    this.window = new Float64Array(divWindow * numClasses);
  }

  get needsPrediction(): boolean {
    return this.reward === 'loss' || this.reward === 'all';
  }

  /** y: one answer (K values); logYhat: the attacker's log ŷ for the same image (needed by loss and all). */
  of(y: ArrayLike<number>, logYhat: ArrayLike<number> | null): number {
    if (this.reward === 'cert') return certainty(y);
    if (this.reward === 'div') return this.pushAndDiversity(y);
    if (!logYhat) throw new Error(`reward ${this.reward} needs the attacker's prediction`);
    const loss = crossEntropy(y, logYhat);
    if (this.reward === 'loss') return loss;
    this.lossMin = Math.min(this.lossMin, loss);
    this.lossMax = Math.max(this.lossMax, loss);
    const scaled = this.lossMax > this.lossMin ? (loss - this.lossMin) / (this.lossMax - this.lossMin) : 0;
    return certainty(y) + this.pushAndDiversity(y) + scaled;
  }

  /** Adds y to the window of the last Δ answers and returns its div reward against their mean. */
  private pushAndDiversity(y: ArrayLike<number>): number {
    const K = this.numClasses;
    this.window.set(Array.from({ length: K }, (_, k) => y[k]!), this.next * K);
    this.next = (this.next + 1) % this.divWindow;
    this.filled = Math.min(this.filled + 1, this.divWindow);
    let div = 0;
    for (let k = 0; k < K; k++) {
      // Summed afresh, not kept as a running sum, so no drift accumulates over long runs.
      let sum = 0;
      for (let i = 0; i < this.filled; i++) sum += this.window[i * K + k]!;
      div += Math.max(0, y[k]! - sum / this.filled);
    }
    return div;
  }
}

function certainty(y: ArrayLike<number>): number {
  let first = -Infinity;
  let second = -Infinity;
  for (let k = 0; k < y.length; k++) {
    const v = y[k]!;
    if (v > first) {
      second = first;
      first = v;
    } else if (v > second) second = v;
  }
  return second === -Infinity ? first : first - second;
}

function crossEntropy(y: ArrayLike<number>, logYhat: ArrayLike<number>): number {
  let loss = 0;
  for (let k = 0; k < y.length; k++) {
    const yk = y[k]!;
    if (!(yk > 0)) continue;
    const l = logYhat[k]!;
    // NaN and −∞ (ŷ_k = 0) both land on the floor.
    loss -= yk * (l > LOG_FLOOR ? l : LOG_FLOOR);
  }
  return loss;
}

/** One class's unqueried pool images: drawn uniformly, without replacement, by swap-removal. */
class ClassImages {
  private remaining: number;

  constructor(private readonly indices: Int32Array) {
    this.remaining = indices.length;
  }

  get left(): number {
    return this.remaining;
  }

  take(rng: Rng): number {
    const j = rng.int(this.remaining);
    const chosen = this.indices[j]!;
    this.remaining -= 1;
    this.indices[j] = this.indices[this.remaining]!;
    this.indices[this.remaining] = chosen;
    return chosen;
  }
}

/** An index drawn from π (Σπ = 1) with the uniform u; rounding can only land on an action with π > 0. */
function drawAction(pi: Float64Array, u: number): number {
  let cumulative = 0;
  let last = -1;
  for (let a = 0; a < pi.length; a++) {
    if (pi[a]! <= 0) continue;
    last = a;
    cumulative += pi[a]!;
    if (u < cumulative) return a;
  }
  return last;
}

/**
 * The batched strategy: while queries remain, b' = min(b, B − used) images are drawn from
 * π = softmax(H) as it stands (a class that runs out mid-round is masked for the rest of the
 * round), sent in one round, and then, in order, each answer's reward updates the bandit; each
 * time the queries pass a multiple of R the attacker is refit on D. The refit the spec also lists
 * at used = B is left out: no query follows it, and the final attacker is trained afresh.
 */
export async function adaptiveQueries(
  poolLabels: Int32Array,
  numClasses: number,
  budget: number,
  settings: BanditSettings,
  rng: Rng,
  effects: BanditEffects,
  onQueried?: (done: number) => void,
): Promise<AdaptiveQueries> {
  // Actions are the labels present, remapped to 0..A−1 (EMNIST-letters labels are 1..26).
  const labels = [...new Set(poolLabels)].sort((a, b) => a - b);
  const actionOf = new Map(labels.map((label, a) => [label, a]));
  const members: number[][] = labels.map(() => []);
  poolLabels.forEach((label, i) => members[actionOf.get(label)!]!.push(i));
  const classes = members.map((m) => new ClassImages(Int32Array.from(m)));
  const A = labels.length;

  const bandit = new GradientBandit(A, settings.stepSize);
  const signal = new RewardSignal(numClasses, settings.reward, settings.divWindow);
  const draws = rng.fork('draws');
  const indices = new Int32Array(budget);
  const actions = new Int32Array(budget);
  const released = new Float32Array(budget * numClasses);
  const snapshots: AdaptiveQueries['snapshots'] = [];
  const availableNow = (): boolean[] => classes.map((c) => c.left > 0);
  // The start (uniform over the classes present) makes the policy's trace a line even when B < R.
  snapshots.push({ queries: 0, policy: Array.from(bandit.policy(availableNow())) });
  let used = 0;
  let nextRefit = settings.refitEvery;
  let exhausted = false;

  while (used < budget && !exhausted) {
    const size = Math.min(settings.batchSize, budget - used);
    const roundPolicy = bandit.policy(availableNow());
    // What was available when each image was drawn: its update uses the same mask.
    const drawnFrom: boolean[][] = [];
    let drawn = 0;
    while (drawn < size) {
      const available = availableNow();
      if (!available.includes(true)) {
        exhausted = true;
        break;
      }
      // The round's π, renormalised over the classes not yet run out.
      const pi = roundPolicy.map((p, a) => (available[a] ? p : 0));
      const total = pi.reduce((s, p) => s + p, 0);
      for (let a = 0; a < A; a++) pi[a]! /= total;
      const action = drawAction(pi, draws.next());
      indices[used + drawn] = classes[action]!.take(draws);
      actions[used + drawn] = action;
      drawnFrom.push(available);
      drawn++;
    }
    if (drawn === 0) break;
    const batch = indices.subarray(used, used + drawn);
    const answers = await effects.query(batch);
    if (answers.length !== drawn * numClasses) throw new Error(`the black box answered ${answers.length / numClasses} rows for ${drawn} images`);
    const logYhat = signal.needsPrediction ? await effects.logPredict(batch) : null;
    for (let j = 0; j < drawn; j++) {
      const y = answers.subarray(j * numClasses, (j + 1) * numClasses);
      const reward = signal.of(y, logYhat ? logYhat.subarray(j * numClasses, (j + 1) * numClasses) : null);
      bandit.update(actions[used + j]!, reward, drawnFrom[j]!);
    }
    released.set(answers, used * numClasses);
    used += drawn;
    onQueried?.(used);
    if (used >= nextRefit && used < budget && !exhausted) {
      await effects.refit(indices.subarray(0, used), released.subarray(0, used * numClasses));
      while (nextRefit <= used) nextRefit += settings.refitEvery;
      snapshots.push({ queries: used, policy: Array.from(bandit.policy(availableNow())) });
    }
  }
  if (snapshots[snapshots.length - 1]?.queries !== used) snapshots.push({ queries: used, policy: Array.from(bandit.policy(availableNow())) });
  return {
    indices: indices.slice(0, used),
    released: released.slice(0, used * numClasses),
    actions: actions.slice(0, used),
    labels,
    snapshots,
    exhausted,
  };
}
