/**
 * The setup of one `poison attack` run, before anything queries the victim: the request's budgets
 * checked, then what the run needs loaded (the attacker's architecture tried on the victim's
 * input, the attack's query images from its declared source, the test set) and the engine as
 * cache keys name it. runAttack (run.ts) loads the victim and the defenses and owns their disposal.
 */
import { loadImageSet } from '../data/index.js';
import { UsageError } from '../errors.js';
import { engineInfo } from '../engine/backend.js';
import type { ModelParams } from '../models/io.js';
import { Rng } from '../util/rng.js';
import { attackDefinition } from '../attacks/registry.js';
import { querySourceOf } from '../attacks/query-sources.js';
import { attackSettingsOf } from '../attacks/names.js';
import type { AttackSources } from '../attacks/types.js';
import { adaptationDefinition, adaptationMismatch } from '../adaptations/registry.js';
import type { CacheInput } from '../cache/key.js';
import type { PreparedRun } from './query-stage.js';
import type { AttackSpec } from './spec.js';
import { buildAttacker } from './train-attacker.js';

/** The budgets (and the adaptation, the query budget) a run can spend, checked before any work. */
export function checkBudgets(spec: AttackSpec): void {
  if (spec.budgets.length === 0) throw new UsageError('--budget needs at least one value');
  for (let i = 0; i < spec.budgets.length; i++) {
    const b = spec.budgets[i]!;
    if (!Number.isInteger(b) || b < 1) throw new UsageError(`--budget values must be whole numbers ≥ 1, got ${b}`);
    if (i > 0 && b <= spec.budgets[i - 1]!) throw new UsageError(`--budget values must be distinct and ascending, got ${spec.budgets.join(',')}`);
  }
  const largest = spec.budgets[spec.budgets.length - 1]!;
  if (spec.adapt) {
    const mismatch = adaptationMismatch(spec.adapt.name, spec.attack);
    if (mismatch !== null) throw new UsageError(`--adapt ${mismatch}`);
    // Budgets count queries: the smallest must buy the attack at least one image.
    const perImage = adaptationDefinition(spec.adapt.name).queriesPerImage(spec.adapt.settings);
    if (spec.budgets[0]! < perImage) throw new UsageError(`--budget ${spec.budgets[0]!} buys no image at ${perImage} queries per image (${spec.adapt.name})`);
  }
  if (spec.queryBudget !== undefined && !(Number.isInteger(spec.queryBudget) && spec.queryBudget >= largest)) {
    throw new Error(`the query budget ${spec.queryBudget} must be a whole number ≥ the largest budget ${largest}`);
  }
  // One query phase serves every budget only when its first B queries are the run with budget B.
  if (attackDefinition(spec.attack).servesPrefixes === false && (spec.budgets.length > 1 || (spec.queryBudget ?? largest) > largest)) {
    throw new UsageError(`${spec.attack} cannot serve several budgets from one run (its queries depend on the budget): pass one --budget`);
  }
}

/** Everything checked and loaded before the first query (PreparedRun). */
export async function prepare(spec: AttackSpec, params: ModelParams, victimWeights: string, victimInput: CacheInput): Promise<PreparedRun> {
  const input = params.input;
  const attackerArch = spec.attackerArch ?? params.arch;
  // Fails here, before any data is loaded, when the architecture cannot take the victim's input.
  buildAttacker(attackerArch, input, params.numClasses, new Rng(spec.seed)).dispose();
  const maxBudget = spec.budgets[spec.budgets.length - 1]!;
  const definition = attackDefinition(spec.attack);
  const queryBudget = spec.queryBudget ?? maxBudget;
  const queriesPerImage = spec.adapt ? adaptationDefinition(spec.adapt.name).queriesPerImage(spec.adapt.settings) : 1;
  // The attack asks about images; budgets count the black box's queries.
  const imagesFor = (queries: number): number => Math.floor(queries / queriesPerImage);
  const sources: AttackSources = { jacobian: spec.jacobian, settings: attackSettingsOf(definition.params, spec.settings ?? {}) };
  // Its images, from where the attack declares its queries start (a query pool, a seed set, its own).
  const loaded = await querySourceOf(definition).load({
    attack: spec.attack,
    victim: { dataset: params.dataset, input },
    pool: { dataset: spec.queryset, split: spec.querysetSplit, dir: spec.querysetDir },
    dataDir: spec.dataDir,
    jacobian: spec.jacobian,
    smallestImages: imagesFor(spec.budgets[0]!),
    queryImages: imagesFor(queryBudget),
    queryBudget,
  });
  Object.assign(sources, loaded.sources);
  const querySource = loaded.record;
  const queryInput = loaded.input;
  const test = await loadImageSet(params.dataset, 'test', { dataDir: spec.dataDir, limit: spec.testLimit });
  return { params, victimWeights, victimInput, backend: engineIdentity(), queryInput, attackerArch, maxBudget, queryBudget, sources, test, querySource, queriesPerImage };
}

/**
 * The engine as cache keys name it: the backend, the versions of tfjs and of the backend's
 * package, and what else changes its bytes (wasm's feature build and kernels, the GPU adapter
 * and kernels of webgpu).
 */
function engineIdentity(): Record<string, unknown> {
  const e = engineInfo();
  return {
    name: e.backend,
    tfjsVersion: e.tfjsVersion,
    backendVersion: e.backendVersion,
    wasmSimd: e.wasmSimd,
    wasmThreads: e.wasmThreads,
    wasmKernels: e.wasmKernels,
    webgpuAdapter: e.webgpuAdapter,
    webgpuKernels: e.webgpuKernels,
  };
}
