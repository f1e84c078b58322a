/**
 * The query stage of `poison attack`: the attack asks the defended black box its queries, and the
 * stage hands back the transfer set with every query's clean and released answer. Where the
 * answers come from is decided here: a live victim, the clean-posterior cache of a non-adaptive
 * attack's pool queries (the defense applied on replay), an adaptive attack's stored query phase,
 * or, with an adaptation (src/adaptations), the adaptation's oracle on top of a live black box.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../data/types.js';
import { datasetInfo } from '../data/catalog.js';
import type { ModelParams } from '../models/io.js';
import { Rng } from '../util/rng.js';
import { attackDefinition } from '../attacks/registry.js';
import { attackSettingsOf } from '../attacks/names.js';
import type { AttackContext, AttackSources, QueryOracle } from '../attacks/types.js';
import type { TransferSet } from '../attacks/transfer-set.js';
import { imageSize } from '../attacks/pixels.js';
import { adaptationDefinition } from '../adaptations/registry.js';
import { defenseContext } from './defense-adapter.js';
import { none } from '../defenses/none.js';
import type { Defense } from '../defenses/types.js';
import { BlackBoxOracle } from './oracle.js';
import { inputHashes, type CacheInput } from '../cache/key.js';
import {
  loadCachedPosteriors,
  loadCachedSide,
  storeCachedPosteriors,
  storeCachedSide,
  type CachedPosteriors,
  type PosteriorCacheKey,
} from './posterior-cache.js';
import { releasedRows, sideRows } from './posteriors.js';
import { UsageError } from '../errors.js';
import { createDefense } from '../defenses/create.js';
import { describeDefense } from '../defenses/spec.js';
import { loadStoredQueries, storeQueries, type QueryStoreKey } from './query-store.js';
import type { SideRows } from './side-rows.js';
import type { StageProgress } from './reporter.js';
import type { AttackResult } from './result.js';
import type { AttackSpec } from './spec.js';
import { buildAttacker } from './train-attacker.js';
import { loadImageSet } from '../data/index.js';

/** `count` images of `set` drawn without replacement with `rng`, in the order drawn. */
function sampleImages(set: ImageSet, count: number, rng: Rng): ImageSet {
  const picked = rng.sampleWithoutReplacement(set.count, Math.min(count, set.count));
  const size = set.height * set.width * set.channels;
  const pixels = new Uint8Array(picked.length * size);
  const labels = new Int32Array(picked.length);
  picked.forEach((i, at) => {
    pixels.set(set.pixels.subarray(i * size, (i + 1) * size), at * size);
    labels[at] = set.labels[i]!;
  });
  return { ...set, pixels, labels, count: picked.length };
}

/** Everything checked and loaded before the first query. */
export interface PreparedRun {
  params: ModelParams;
  victimWeights: string;
  /** The victim as cache keys name it (its files' content hash) and headers record it. */
  victimInput: CacheInput;
  /** The engine that computes every cached row (rows differ in their last bits between engines). */
  backend: Record<string, unknown>;
  /** How the query images were loaded, hashed: the pool, or the seed set's source. */
  queryInput: CacheInput;
  attackerArch: ModelParams['arch'];
  maxBudget: number;
  /** Length of a transfer set kept for other runs (spec.queryBudget, default maxBudget). */
  queryBudget: number;
  sources: AttackSources;
  test: ImageSet;
  querySource: AttackResult['querySource'];
  /** Black-box queries per image the attack asks about: 1, or the adaptation's (smoothing's QPI). */
  queriesPerImage: number;
}

/** The defense's side rows for a cache entry's images: read from the cache, or computed and stored. */
export async function withSide(
  entry: CachedPosteriors | null,
  defense: Defense,
  compute: () => Promise<SideRows | null>,
): Promise<SideRows | null> {
  if (defense.sideInfoKey === null) return null;
  const source = { sideInfoKey: defense.sideInfoKey, inputs: defense.inputs ?? [] };
  const cached = entry ? await loadCachedSide(entry, source) : null;
  if (cached) return cached;
  const side = await compute();
  if (entry && side) await storeCachedSide(entry, source, side);
  return side;
}

/** The transfer set and what each budget needs of it: y and ỹ of every query, in order. */
interface QueryStage {
  /** At least maxBudget rows: each budget uses its prefix. */
  transfer: TransferSet;
  /** The first n rows of the clean answers y, and of the released ỹ. */
  clean(n: number): Float32Array;
  released(n: number): Float32Array;
  cache: AttackResult['transferSet'];
  /** What the adaptation reported of its query phase (AdaptedOracle.report), if it reports. */
  adaptationReport?: Record<string, unknown>;
}

/**
 * A stage answered through `oracle` (the attack's) on top of `blackBox` (the defended victim's, the
 * same object unless an adaptation sits between them), both of which must have used their whole
 * budget: the attack every image, the black box every query.
 */
function oracleStage(transfer: TransferSet, oracle: QueryOracle, blackBox: BlackBoxOracle, cache: AttackResult['transferSet']): QueryStage {
  if (blackBox.queriesUsed !== blackBox.budget || oracle.queriesUsed !== oracle.budget || transfer.count !== oracle.budget) {
    throw new Error(`${transfer.attack} sent ${blackBox.queriesUsed} queries of ${blackBox.budget} and kept ${transfer.count} images for a budget of ${oracle.budget}`);
  }
  return { transfer, clean: (n) => blackBox.log.clean.toArray(n), released: (n) => blackBox.log.released.toArray(n), cache };
}

export async function collectTransferSet(
  spec: AttackSpec,
  run: PreparedRun,
  victim: tf.LayersModel,
  defense: Defense,
  reporter: StageProgress,
): Promise<QueryStage> {
  let victimRuns = 0;
  const countRun = (): void => {
    victimRuns++;
  };
  const definition = attackDefinition(spec.attack);
  const { params, maxBudget, sources } = run;
  const K = params.numClasses;
  const context = (oracle: QueryOracle): AttackContext => ({
    oracle,
    budget: oracle.budget,
    // A fresh stream per pass, so a cache-filling pass and its replay draw the same queries.
    rng: new Rng(spec.seed).fork('attack'),
    input: params.input,
    numClasses: K,
    labelMode: spec.labelMode,
    queryBatchSize: spec.queryBatchSize,
    buildSubstitute: (rng) => buildAttacker(run.attackerArch, params.input, K, rng),
    substituteBatchSize: spec.training.batchSize,
    reporter,
  });
  const pool = sources.pool;
  if (spec.adapt) {
    // An adaptation may show the black box other images than the attack asks about (smoothing's
    // views) and the attack other answers than the black box gave: the clean-posterior cache
    // (pool images only) and a stored query phase (the black box's rows) replay neither, so an
    // adapted run always queries live and no cache key needs to name it.
    const adaptation = adaptationDefinition(spec.adapt.name);
    const images = Math.floor(maxBudget / run.queriesPerImage);
    const blackBox = BlackBoxOracle.live(victim, defense, params.input, images * run.queriesPerImage, countRun);
    const standIns: Defense[] = [];
    const oracle = await adaptation.wrap(blackBox, {
      settings: spec.adapt.settings,
      // Its own stream: the attack's draws are the naive attacker's.
      rng: new Rng(spec.seed).fork('adapt'),
      input: params.input,
      family: datasetInfo(params.dataset).family,
      numClasses: K,
      standInDefense: async () => {
        // Posteriors alone: a defense that reads the images (MAD's Jacobian) or the defender's
        // private models (AM's f̂, GRAD²'s surrogate) has no stand-in an attacker could build here.
        if (defense.sideInfoKey !== null || (defense.inputs ?? []).length > 0) {
          throw new UsageError(`--adapt ${adaptation.name} simulates the defense on posteriors alone: ${describeDefense(spec.defense)} needs the query images or the defender's private models`);
        }
        const standIn = await createDefense(spec.defense, defenseContext(params, spec.seed, spec.victim, 'attacker-stand-in'));
        standIns.push(standIn);
        return { apply: (rows) => releasedRows(standIn, rows, null, K) };
      },
      cleanAnswers: (from, count) => blackBox.log.clean.toArray(from + count).slice(from * K),
      inDomainSample: async (fraction, rng) => {
        // The victim's own training split (a Jacobian attack's seed pool is that split already).
        const train = sources.seedPool ?? (await loadImageSet(params.dataset, 'train', { dataDir: spec.dataDir }));
        return sampleImages(train, Math.max(1, Math.round(fraction * train.count)), rng);
      },
      victimArchitecture: (rng) => buildAttacker(params.arch, params.input, K, rng),
    });
    // The stand-ins live as long as the query phase (the attack's oracle may use them to the end).
    const transfer = await definition.run(context(oracle), sources).finally(() => {
      for (const standIn of standIns) standIn.dispose();
      oracle.dispose?.();
    });
    const report = oracle.report?.();
    return { ...oracleStage(transfer, oracle, blackBox, { cache: 'off', cacheEntry: null, victimQueryBatches: victimRuns }), ...(report ? { adaptationReport: report } : {}) };
  }
  if (definition.adaptive && spec.queryStore) {
    // The answers depend on the defense, so the whole query phase is what is kept.
    const store = spec.queryStore;
    const identity = adaptiveQueryIdentity(spec, run, defense);
    const size = imageSize(params.input);
    const stored = await loadStoredQueries(store, identity, maxBudget, size, K);
    if (stored) {
      reporter.line(`replaying the first ${maxBudget} queries stored in ${stored.dir}`);
      const cleanRows = stored.clean;
      const releasedRows = stored.released;
      const images = stored.images;
      let transferImages: TransferSet['images'];
      if (images.kind === 'pixels') transferImages = { kind: 'pixels', pixels: images.pixels };
      else if (pool) transferImages = { kind: 'pool', pool, indices: images.indices };
      else throw new Error(`${stored.dir} holds query-pool images, and ${spec.attack} has no pool`);
      return {
        transfer: {
          attack: spec.attack,
          count: stored.count,
          numClasses: K,
          input: params.input,
          images: transferImages,
          released: releasedRows,
          ...(stored.policy ? { policy: stored.policy } : {}),
        },
        clean: (n) => cleanRows.slice(0, n * K),
        released: (n) => releasedRows.slice(0, n * K),
        cache: { cache: 'hit', cacheEntry: stored.dir, victimQueryBatches: 0 },
      };
    }
    reporter.line(`querying the victim ${run.queryBudget} times (stored under ${store} for the budgets up to ${run.queryBudget})`);
    const oracle = BlackBoxOracle.live(victim, defense, params.input, run.queryBudget, countRun);
    const transfer = await definition.run(context(oracle), sources);
    const stage = oracleStage(transfer, oracle, oracle, { cache: 'off', cacheEntry: null, victimQueryBatches: 0 });
    const dir = await storeQueries(
      store,
      identity,
      {
        count: transfer.count,
        images: transfer.images.kind === 'pixels' ? { kind: 'pixels', pixels: transfer.images.pixels } : { kind: 'pool', indices: transfer.images.indices },
        clean: oracle.log.clean.toArray(),
        released: oracle.log.released.toArray(),
        ...(transfer.policy ? { policy: transfer.policy } : {}),
      },
      size,
      K,
    );
    return { ...stage, cache: { cache: 'miss', cacheEntry: dir, victimQueryBatches: victimRuns } };
  }
  if (definition.adaptive || !spec.cacheDir || !pool) {
    const oracle = BlackBoxOracle.live(victim, defense, params.input, maxBudget, countRun);
    const transfer = await definition.run(context(oracle), sources);
    return oracleStage(transfer, oracle, oracle, { cache: 'off', cacheEntry: null, victimQueryBatches: victimRuns });
  }
  // Keyed by the query budget: one entry serves every budget up to it (a sweep's largest).
  const key: PosteriorCacheKey = {
    kind: 'transfer',
    identity: {
      attack: spec.attack,
      jacobian: declaredAttackSettings(spec),
      attackSettings: ownAttackSettings(spec),
      victim: run.victimInput.sha256,
      pool: { dataset: pool.dataset, split: pool.split, count: pool.count, sha256: run.queryInput.sha256 },
      budget: run.queryBudget,
      seed: spec.seed,
      queryBatchSize: spec.queryBatchSize,
      backend: run.backend,
    },
    inputs: [run.victimInput, run.queryInput],
  };
  let entry = await loadCachedPosteriors(spec.cacheDir, key);
  const hit = entry !== null;
  if (!entry) {
    reporter.line(`querying the victim for the transfer set (cached under ${spec.cacheDir})`);
    const cleanRelease = await none.create({ name: none.name }, defenseContext(params, spec.seed, spec.victim));
    const recorder = BlackBoxOracle.live(victim, cleanRelease, params.input, run.queryBudget, countRun);
    const clean = await definition.run(context(recorder), sources).finally(() => cleanRelease.dispose());
    if (clean.images.kind !== 'pool') throw new Error('a cached transfer set must consist of pool images');
    entry = await storeCachedPosteriors(spec.cacheDir, key, clean.images.indices, clean.released, K);
  }
  const cached = entry;
  const side = await withSide(cached, defense, () => sideRows(defense, pool, cached.poolIndices, params.input));
  // Only this run's budgets are answered (and defended): the first maxBudget rows of the entry.
  const oracle = BlackBoxOracle.replay({ poolIndices: cached.poolIndices, clean: cached.clean, side }, defense, params.input, maxBudget);
  const transfer = await definition.run(context(oracle), sources);
  return oracleStage(transfer, oracle, oracle, { cache: hit ? 'hit' : 'miss', cacheEntry: cached.dir, victimQueryBatches: victimRuns });
}

/**
 * Everything an adaptive attack's queries and answers depend on: the victim's content, the attack
 * and its settings, the defense (its settings and its helper models' content, through its
 * sideInfoKey and inputs), the substitutes of its rounds (the attacker's architecture and batch
 * size), the label mode they train on, the query batches, the seed, the content of the images
 * it starts from, the backend, and how long the kept phase is. Not the attackers' training or
 * the test set.
 */
function adaptiveQueryIdentity(spec: AttackSpec, run: PreparedRun, defense: Defense): QueryStoreKey {
  const defenseInputs = defense.inputs ?? [];
  return {
    identity: {
      attack: spec.attack,
      settings: declaredAttackSettings(spec),
      attackSettings: ownAttackSettings(spec),
      victim: run.victimInput.sha256,
      defense: spec.defense,
      defenseSide: defense.sideInfoKey,
      defenseInputs: inputHashes(defenseInputs),
      labelMode: spec.labelMode,
      substitute: { arch: run.attackerArch, batchSize: spec.training.batchSize },
      queryBatchSize: spec.queryBatchSize,
      seed: spec.seed,
      // The images by content (the pool's or seed pool's hash), not by the folder they came from.
      source: { kind: run.querySource.kind, dataset: run.querySource.dataset, split: run.querySource.split, count: run.querySource.count, sha256: run.queryInput.sha256 },
      queries: run.queryBudget,
      backend: run.backend,
    },
    inputs: [run.victimInput, run.queryInput, ...defenseInputs],
  };
}

/** The Jacobian settings the attack declares, in the bag's order; null for an attack with none. */
export function declaredAttackSettings(spec: AttackSpec): Record<string, unknown> | null {
  const jacobianKeys = new Set(attackDefinition(spec.attack).params.filter((p) => p.bag === 'jacobian').map((p) => p.key));
  return jacobianKeys.size === 0 ? null : Object.fromEntries(Object.entries(spec.jacobian).filter(([key]) => jacobianKeys.has(key)));
}

/** The attack's own settings (bag 'attack'), defaults filled in, in its declared order; null for an attack with none. */
export function ownAttackSettings(spec: AttackSpec): Record<string, unknown> | null {
  const settings = attackSettingsOf(attackDefinition(spec.attack).params, spec.settings ?? {});
  return Object.keys(settings).length === 0 ? null : settings;
}
