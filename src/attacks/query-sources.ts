/**
 * Where an attack's queries start from, declared with the attack (AttackDefinition.queries): the
 * images it draws, the attacker's reference training, which dataset splits a sweep must fetch,
 * the budgets it can spend, what `poison attack` fills in from the victim, and how the run loads
 * its images. `poison attack`, the sweep config, the sweep's data check, the training defaults
 * and the run ask the declaration, so a new kind of query source is declared by the attack that
 * needs it, without edits elsewhere. The two of the paper's attacks are here: a query pool from
 * another distribution (Knockoff Nets) and a seed set from the victim's train split that the
 * attack grows (the Jacobian family). Loads no data and no TensorFlow.js until load().
 */
import { UsageError } from '../errors.js';
import { datasetInfo, defaultQueryPool } from '../data/catalog.js';
import type { DatasetName, ImageSet, InputSpec, Split } from '../data/types.js';
import type { CacheInput } from '../cache/key.js';
import type { TrainSettings } from '../train/loop.js';
import { JACOBIAN_DEFAULTS, seedSetShortfall, type JacobianSettings } from './names.js';
import type { QuerySource } from './params.js';

/** An attack's parameter values by key (a sweep entry's settings, or the flags' values). */
type Values = Readonly<Record<string, unknown>>;

/** What result.json records of the images the queries came from. */
export interface QuerySourceRecord {
  kind: string;
  dataset: string;
  split: string;
  count: number;
  source: string;
}

/** What the run asks load() for. */
interface QuerySourceRequest {
  attack: string;
  victim: { dataset: DatasetName; input: InputSpec };
  /** The query pool's settings (a pool attack's; others ignore them). */
  pool: { dataset?: DatasetName; split: Split; dir?: string };
  /** Where the victim dataset's files are. */
  dataDir?: string;
  jacobian: JacobianSettings;
  /** Images the smallest budget buys, and the query phase's whole run. */
  smallestImages: number;
  queryImages: number;
  /** The query phase's budget in queries, for messages. */
  queryBudget: number;
}

interface LoadedQuerySource {
  /** The attack's images (AttackSources.pool or .seedPool). */
  sources: { pool?: ImageSet; seedPool?: ImageSet };
  record: QuerySourceRecord;
  /** Its identity in cache keys. */
  input: CacheInput;
}

export interface QuerySourceDefinition {
  /** Its name in result.json (querySource.kind) and in cache keys: never rename one. */
  kind: string;
  /** What its images are, in messages (`a query pool`). */
  description: string;
  /**
   * Whether the attacker holds a set of images it has not asked about (a pool it draws from), which
   * an adaptation may learn from unlabelled (S4L).
   */
  unlabelledPool: boolean;
  /** How the attacker trains under --preset reference (docs/spec-reference-preset.md cites each value). */
  referenceTraining: TrainSettings;
  /** The dataset splits its images come from (a sweep fetches them before it starts). */
  splits(victimDataset: DatasetName, values: Values): { name: DatasetName; split: Split }[];
  /** `poison attack` without the pool flags: what the victim's dataset implies (pool, split). */
  poolFromVictim(victimDataset: DatasetName, values: Values, splitGiven: boolean): { dataset?: DatasetName; split: Split };
  /** A budget buying `images` images it cannot spend: the message (the command line's words), or null. */
  shortfall(images: number, jacobian: JacobianSettings): string | null;
  /**
   * A sweep budget it cannot spend, for the config's error at the budget's line: the limit and
   * why (`draws distinct images from …`), or null. Budgets count queries, `perImage` per image.
   */
  budgetProblem(budget: number, perImage: number, values: Values, attack: string): { expected: string; why: string } | null;
  /** The pool settings result.json's config records (null: it reads no pool). */
  poolConfig(pool: { dataset: string | null; split: Split; dir: string | null }): Record<string, unknown> | null;
  /** Its images for a run, checked against the budgets; loads data (and its code) only here. */
  load(request: QuerySourceRequest): Promise<LoadedQuerySource>;
}

/** A query pool from another distribution, drawn without replacement (Knockoff Nets). */
const POOL: QuerySourceDefinition = {
  kind: 'pool',
  description: 'a query pool',
  unlabelledPool: true,
  // Knockoff Nets' adversary/train.py with the README's `--epochs 50`: 'sgdm' (no weight decay),
  // lr 0.01, momentum 0.5, batch 64, StepLR(60, 0.1).
  referenceTraining: { epochs: 50, lr: 0.01, momentum: 0.5, batchSize: 64, lrStep: 60, weightDecay: 0 },
  splits(_victim, values) {
    const { queryset, querysetSplit } = values;
    return typeof queryset === 'string' ? [{ name: queryset as DatasetName, split: (typeof querysetSplit === 'string' ? querysetSplit : 'train') as Split }] : [];
  },
  poolFromVictim(victimDataset, values, splitGiven) {
    // Without --queryset: the victim dataset's default pool (one that needs no download for MNIST), and its split.
    const pool = values.queryset === undefined ? defaultQueryPool(victimDataset) : { dataset: values.queryset as DatasetName, split: 'train' as Split };
    return { dataset: pool.dataset, split: splitGiven ? (values.querysetSplit as Split) : pool.split };
  },
  shortfall: () => null,
  budgetProblem(budget, _perImage, values) {
    const { queryset, querysetSplit: split } = values;
    if (typeof queryset !== 'string' || typeof split !== 'string') return null;
    const sizes = datasetInfo(queryset as DatasetName).officialSizes;
    const poolSize = split === 'train' ? sizes.train : split === 'test' ? sizes.test : sizes.train + sizes.test;
    return budget > poolSize ? { expected: `at most ${poolSize}`, why: `draws distinct images from ${queryset} ${split}` } : null;
  },
  poolConfig: (pool) => pool,
  async load(request) {
    const { loadImageSet } = await import('../data/index.js');
    const { canConvert } = await import('../data/convert.js');
    const { dataInput } = await import('../cache/key.js');
    if (!request.pool.dataset) throw new UsageError(`${request.attack} needs a query pool: pass --queryset <dataset>`);
    const pool = await loadImageSet(request.pool.dataset, request.pool.split, { dataDir: request.pool.dir });
    canConvert(pool, request.victim.input);
    if (request.queryImages > pool.count) {
      throw new UsageError(`--budget ${request.queryBudget} is larger than the query pool ${request.pool.dataset}/${request.pool.split} (${pool.count} images): ${request.attack} draws distinct images`);
    }
    return {
      sources: { pool },
      record: { kind: 'pool', dataset: pool.dataset, split: pool.split, count: pool.count, source: pool.source },
      input: dataInput('query pool', pool, { dataDir: request.pool.dir }),
    };
  },
};

/** A seed set drawn from the victim's train split, every seed image a query (the Jacobian family). */
const SEED_SET: QuerySourceDefinition = {
  kind: 'seed-set',
  description: 'a seed set',
  unlabelledPool: false,
  // jacobian.py's final train_model call: 100 epochs, lr 0.01, momentum 0.9, batch 64; train_model's
  // own optimizer (weight decay 5e-4) and StepLR(30, 0.1).
  referenceTraining: { epochs: 100, lr: 0.01, momentum: 0.9, batchSize: 64, lrStep: 30, weightDecay: 5e-4 },
  splits: (victimDataset) => [{ name: victimDataset, split: 'train' }],
  poolFromVictim: () => ({ split: 'train' }),
  shortfall: (images, jacobian) => seedSetShortfall(images, jacobian.seedSize),
  budgetProblem(budget, perImage, values, attack) {
    const seedSize = typeof values.seedSize === 'number' ? values.seedSize : JACOBIAN_DEFAULTS.seedSize;
    if (seedSetShortfall(Math.floor(budget / perImage), seedSize) === null) return null;
    return { expected: `at least ${seedSize * perImage}`, why: `${attack} queries its seed set of ${seedSize} first${perImage > 1 ? `, ${perImage} queries per image` : ''}` };
  },
  poolConfig: () => null,
  async load(request) {
    const { loadImageSet } = await import('../data/index.js');
    const { dataInput } = await import('../cache/key.js');
    // The smallest budget decides: each budget's attacker trains on the first B queries.
    const shortfall = seedSetShortfall(request.smallestImages, request.jacobian.seedSize);
    if (shortfall !== null) throw new UsageError(shortfall);
    const seedPool = await loadImageSet(request.victim.dataset, 'train', { dataDir: request.dataDir });
    if (request.jacobian.seedSize > seedPool.count) {
      throw new UsageError(`--seed-size ${request.jacobian.seedSize} is larger than ${request.victim.dataset}'s train split (${seedPool.count} images)`);
    }
    return {
      sources: { seedPool },
      record: { kind: 'seed-set', dataset: seedPool.dataset, split: 'train', count: request.jacobian.seedSize, source: seedPool.source },
      input: dataInput('seed pool', seedPool, { dataDir: request.dataDir }),
    };
  },
};

const BUILT_IN: Record<QuerySource, QuerySourceDefinition> = { pool: POOL, 'seed-set': SEED_SET };

/** An attack's query source: the one it declares, or the built-in it names. */
export function querySourceOf(attack: { queries: QuerySource | QuerySourceDefinition }): QuerySourceDefinition {
  return typeof attack.queries === 'string' ? BUILT_IN[attack.queries] : attack.queries;
}
