/**
 * The attacks' QueryOracle on top of the project's black box (src/blackbox DefendedBlackBox:
 * defense + budget + query counter + release statistics). This adapter adds what the attack
 * library needs on top: pixel-space inputs (normalised here), answers read back as rows, and a
 * log of every query's clean y and released ỹ so any prefix (one per budget) can be summarised.
 * Where y comes from is the only difference between a live victim and a replayed cache.
 */
import * as tf from '@tensorflow/tfjs';
import { DefendedBlackBox, type PosteriorSource } from '../blackbox/defended.js';
import { livePosteriorSource } from '../blackbox/victim.js';
import type { InputSpec } from '../data/types.js';
import type { Defense } from '../defenses/types.js';
import type { QueryBatch, QueryOracle } from '../attacks/types.js';
import { normalise, RowStore } from '../attacks/pixels.js';
import { sideTensor, type SideRows } from './side-rows.js';

/** Queries answered so far with their clean and released rows, in order. */
class QueryLog {
  readonly clean: RowStore;
  readonly released: RowStore;

  constructor(readonly numClasses: number, expected: number) {
    this.clean = new RowStore(numClasses, expected);
    this.released = new RowStore(numClasses, expected);
  }
}

export class BlackBoxOracle implements QueryOracle {
  readonly log: QueryLog;
  readonly box: DefendedBlackBox;
  /** Pool indices of the batch being answered, for a replaying source to check. */
  private pendingPoolIndices: Int32Array | undefined;

  private constructor(
    defense: Defense,
    private readonly input: InputSpec,
    budget: number,
    source: (x: tf.Tensor4D, firstQuery: number, poolIndices: Int32Array | undefined) => ReturnType<PosteriorSource>,
  ) {
    this.log = new QueryLog(defense.numClasses, budget);
    this.box = new DefendedBlackBox(defense, [input.height, input.width, input.channels], (x, first) => source(x, first, this.pendingPoolIndices), {
      budget,
      observe: async (clean, released) => {
        this.log.clean.append((await clean.data()) as Float32Array);
        this.log.released.append((await released.data()) as Float32Array);
      },
    });
  }

  /** A live victim: y = softmax(F_V(x)); `onVictimRun` is told of every forward pass. */
  static live(victim: tf.LayersModel, defense: Defense, input: InputSpec, budget: number, onVictimRun: () => void = () => undefined): BlackBoxOracle {
    const source = livePosteriorSource(victim, defense);
    return new BlackBoxOracle(defense, input, budget, (x, first) => {
      onVictimRun();
      return source(x, first);
    });
  }

  /**
   * Answers from cached clean posteriors and side rows of query-pool images (a non-adaptive
   * attack's transfer set): the victim never runs. Query i must be the pool image cached at i.
   */
  static replay(
    cached: { poolIndices: Int32Array; clean: Float32Array; side: SideRows | null },
    defense: Defense,
    input: InputSpec,
    budget: number,
  ): BlackBoxOracle {
    if (cached.poolIndices.length < budget) throw new Error(`the cached transfer set has ${cached.poolIndices.length} queries, ${budget} needed`);
    if ((defense.sideInfoKey === null) !== (cached.side === null)) throw new Error(`the cache and defense ${defense.spec.name} disagree on side information`);
    const K = defense.numClasses;
    return new BlackBoxOracle(defense, input, budget, (x, first, asked) => {
      const n = x.shape[0];
      if (!asked || asked.length !== n) return Promise.reject(new Error('a replayed black box can only answer query-pool images'));
      for (let j = 0; j < n; j++) {
        if (asked[j] !== cached.poolIndices[first + j]) {
          return Promise.reject(new Error(`query ${first + j} is pool image ${asked[j]}, the cache holds ${cached.poolIndices[first + j]}`));
        }
      }
      return Promise.resolve({
        clean: tf.tensor2d(cached.clean.slice(first * K, (first + n) * K), [n, K]),
        side: cached.side ? sideTensor(cached.side, first, first + n) : null,
      });
    });
  }

  get numClasses(): number {
    return this.box.numClasses;
  }

  get budget(): number {
    return this.box.budget;
  }

  get queriesUsed(): number {
    return this.box.used;
  }

  async query(batch: QueryBatch): Promise<Float32Array> {
    const x = normalise(batch.pixels, this.input);
    this.pendingPoolIndices = batch.poolIndices;
    try {
      const released = await this.box.query(x);
      try {
        return (await released.data()) as Float32Array;
      } finally {
        released.dispose();
      }
    } finally {
      this.pendingPoolIndices = undefined;
      x.dispose();
    }
  }
}
