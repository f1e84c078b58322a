/**
 * The black box every attack talks to: it holds one defense, the budget and the query counter,
 * and accumulates the statistics of what it released. Where clean posteriors come from is its
 * only moving part (the victim model, or a cache of earlier queries), so a replay counts
 * queries and measures distortion exactly as a live victim does.
 */
import * as tf from '@tensorflow/tfjs';
import type { Defense } from '../defenses/types.js';
import type { DefenseSpec } from '../defenses/spec.js';
import { QueryStats, type QueryStatsReport } from './stats.js';
import { BudgetExceededError, type BatchObserver, type BlackBox, type BlackBoxOptions } from './types.js';

/** Clean posteriors y [B, K] and the defense's side information for the next B queries. */
export type PosteriorSource = (x: tf.Tensor4D, firstQuery: number) => Promise<{ clean: tf.Tensor2D; side: tf.Tensor | null }>;

export class DefendedBlackBox implements BlackBox {
  readonly numClasses: number;
  readonly inputShape: readonly [number, number, number];
  readonly budget: number;
  readonly #defense: Defense;
  readonly #source: PosteriorSource;
  readonly #stats: QueryStats;
  readonly #observe: BatchObserver | undefined;
  #used = 0;

  constructor(defense: Defense, inputShape: readonly [number, number, number], source: PosteriorSource, opts: BlackBoxOptions = {}) {
    const budget = opts.budget ?? Infinity;
    if (!(budget === Infinity || (Number.isInteger(budget) && budget >= 0))) {
      throw new Error(`a query budget is a whole number ≥ 0 or Infinity, got ${budget}`);
    }
    this.budget = budget;
    this.numClasses = defense.numClasses;
    this.inputShape = inputShape;
    this.#defense = defense;
    this.#source = source;
    this.#stats = new QueryStats(defense.ball);
    this.#observe = opts.observe;
  }

  get used(): number {
    return this.#used;
  }

  get remaining(): number {
    return this.budget - this.#used;
  }

  /** The defense this box applies, as data. */
  get defense(): DefenseSpec {
    return this.#defense.spec;
  }

  async query(x: tf.Tensor4D): Promise<tf.Tensor2D> {
    const [h, w, c] = this.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new Error(`black box takes images [B, ${h}, ${w}, ${c}], got shape [${x.shape.join(', ')}]`);
    }
    const n = x.shape[0];
    if (this.#used + n > this.budget) throw new BudgetExceededError(n, this.#used, this.budget);
    if (n === 0) return tf.zeros([0, this.numClasses]) as tf.Tensor2D;
    const first = this.#used;
    // Every image sent counts, whether or not answering it succeeds.
    this.#used += n;
    const { clean, side } = await this.#source(x, first);
    try {
      const released = await this.#defense.applyAsync(clean, side);
      try {
        await this.#stats.add(clean, released);
        await this.#observe?.(clean, released);
      } catch (err) {
        released.dispose();
        throw err;
      }
      return released;
    } finally {
      clean.dispose();
      side?.dispose();
    }
  }

  /** Distortion, top-1 changes and invariant violations over every query answered so far. */
  stats(): QueryStatsReport {
    return this.#stats.report();
  }
}
