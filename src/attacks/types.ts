/**
 * What an attack sees, what it hands back, and how it declares itself. An attack talks to the
 * victim only through a QueryOracle (query → ỹ, every image counted against the budget) and
 * draws all randomness from the Rng it is given. Its declaration (AttackDefinition: name, where
 * its queries come from, its parameters) is all the command line, the sweep config, the docs'
 * test and the CSV know of it, so a new attack is one file plus one line in registry.ts.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ImageSet, InputSpec } from '../data/types.js';
import type { Rng } from '../util/rng.js';
import type { TrainSettings } from '../train/loop.js';
import type { AttackName, AttackSettings, JacobianSettings, LabelMode } from './names.js';
import type { AttackParam, QuerySource, VictimLimit } from './params.js';
import type { QuerySourceDefinition } from './query-sources.js';
import type { TransferSet } from './transfer-set.js';

export interface QueryBatch {
  /** Images in PIXEL space ([0, 1], the victim's input shape); the oracle normalises them. */
  pixels: tf.Tensor4D;
  /**
   * Set when the images are query-pool images (a pool attack): a black box that replays cached
   * posteriors answers from these instead of running the victim.
   */
  poolIndices?: Int32Array;
}

export interface QueryOracle {
  readonly numClasses: number;
  /** Images answered so far. */
  readonly queriesUsed: number;
  /** Most images it will ever answer; a batch that would pass it is refused, not cut. */
  readonly budget: number;
  /** ỹ for every image of the batch, row-major (count × numClasses). Does not dispose the batch. */
  query(batch: QueryBatch): Promise<Float32Array>;
}

/** Progress and log lines of the attack; all optional so tests can pass nothing. */
export interface AttackReporter {
  queried?(done: number, total: number): void;
  /** A Jacobian round starts training its substitute on |D| images. */
  roundStart?(round: number, datasetSize: number, settings: TrainSettings): void;
  roundEpoch?(round: number, epoch: number, batch: number, batches: number, loss: number): void;
  line?(text: string): void;
}

export interface AttackContext {
  oracle: QueryOracle;
  /** Exactly this many queries are sent. */
  budget: number;
  rng: Rng;
  /** The victim's input (shape and normalisation), from its params.json. */
  input: InputSpec;
  numClasses: number;
  labelMode: LabelMode;
  /** Images per black-box call. */
  queryBatchSize: number;
  /** A fresh, seeded substitute of the attacker's architecture (Jacobian rounds). */
  buildSubstitute(rng: Rng): tf.LayersModel;
  /** Batch size of substitute training in the rounds (the attacker's --batch-size). */
  substituteBatchSize: number;
  reporter?: AttackReporter;
}

/** Where the images come from: a query pool (pool attacks) or the victim's train split (seed set). */
export interface AttackSources {
  pool?: ImageSet;
  seedPool?: ImageSet;
  jacobian: JacobianSettings;
  /** Its own parameters' values (bag 'attack'), checked against its declaration, defaults filled in. */
  settings: AttackSettings;
}

export interface AttackDefinition {
  name: AttackName;
  /**
   * Where its queries start from: a built-in source by name ('pool', 'seed-set'), or its own
   * declaration (query-sources.ts), which everything that depends on it asks.
   */
  queries: QuerySource | QuerySourceDefinition;
  /**
   * False when the queries do not depend on the answers: the transfer set can then be computed
   * once and every defense applied to cached clean posteriors.
   */
  adaptive: boolean;
  /**
   * Whether the first B queries of a run with a larger budget are exactly the queries of a run
   * with budget B (every random draw independent of the budget), so one query phase serves every
   * smaller budget (`poison attack` with several budgets, a sweep's budgets). Absent: true.
   */
  servesPrefixes?: boolean;
  /** Its parameters, in the order help and errors list them. */
  params: readonly AttackParam[];
  /**
   * Limits its parameters' ranges cannot state (they depend on the victim's class count, or tie
   * two parameters together), checked by `poison attack` and the sweep config; null = none broken.
   */
  victimLimit?(jacobian: JacobianSettings, numClasses: number, settings: AttackSettings): VictimLimit | null;
  /** Loads what it needs (TensorFlow.js included) only when it runs, so declaring it stays cheap for `--help`. */
  run(ctx: AttackContext, sources: AttackSources): Promise<TransferSet>;
}
