/**
 * `poison attack` as a library call: load the victim behind a black box with a defense, run one
 * attack up to the largest budget, train one fresh attacker per budget on the first B queries,
 * score everything and write it all to --out in one atomic rename.
 *
 * Setup before any query (budgets checked, query images and test set loaded): prepare.ts.
 * Stages (timed separately): eval (the victim's clean posteriors and the defense on the test
 * set), query (the transfer set: query-stage.ts), train (attackers). Clean posteriors are cached on disk (test set and non-adaptive transfer sets),
 * so a sweep over defenses runs the victim once per image.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { stringify } from 'csv-stringify/sync';
import { engineInfo, initEngine } from '../engine/backend.js';
import { loadSavedModel, saveModel, type ModelParams } from '../models/io.js';
import { PARAMS_FILE, WEIGHTS_FILE } from '../models/files.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { reserveOutputDir, type OutputReservation } from '../util/outdir.js';
import { provenance } from '../util/provenance.js';
import { Rng } from '../util/rng.js';
import { attackDefinition } from '../attacks/registry.js';
import { querySourceOf } from '../attacks/query-sources.js';
import type { TransferSet } from '../attacks/transfer-set.js';
import { adaptationDefinition } from '../adaptations/registry.js';
import type { AttackerTraining } from '../adaptations/types.js';
import { readBaseline, checkBaselineVictim, errorAmplification, type Baseline } from './baseline.js';
import { argmaxRows, defenderUtility, releaseStats, type DefenderUtility } from './defender-utility.js';
import { createAttackDefenses, type AttackDefenses } from './defense-adapter.js';
import { describeDefense } from '../defenses/spec.js';
import type { Defense } from '../defenses/types.js';
import { hashFile } from '../cache/content-hash.js';
import { dataInput, modelInput } from '../cache/key.js';
import { loadCachedPosteriors, storeCachedPosteriors, type PosteriorCacheKey } from './posterior-cache.js';
import { cleanRows, releasedRows, sideRows } from './posteriors.js';
import { checkBudgets, prepare } from './prepare.js';
import { collectTransferSet, declaredAttackSettings, ownAttackSettings, withSide, type PreparedRun } from './query-stage.js';
import { StageProgress } from './reporter.js';
import { ATTACKER_LOG_FILE, budgetDirName, POLICY_PLOT_FILE, RESULT_FILE, RESULT_FORMAT, type AttackResult, type AttackRun } from './result.js';
import { policyPlotSvg, queryPolicyReport } from './policy-plot.js';
import type { AttackSpec } from './spec.js';
import { buildAttacker, trainAndScoreAttacker, type ScoringSet } from './train-attacker.js';

export interface RunAttackHooks {
  /** Sees the loaded victim before anything runs it (tests count its predict calls). */
  onVictimLoaded?(victim: tf.LayersModel): void;
  /** Sees the transfer set (every query and its released answer) before the attackers train. */
  onTransferSet?(transfer: TransferSet): void;
}

export async function runAttack(spec: AttackSpec, hooks: RunAttackHooks = {}): Promise<AttackResult> {
  const startedAt = new Date();
  const started = performance.now();
  checkBudgets(spec);
  const baseline = spec.baseline ? await readBaseline(spec.baseline, spec) : null;
  // Claimed before any work: an unusable --out fails now, not after the attackers trained.
  const output = await reserveOutputDir(spec.out, spec.force);
  let victim: tf.LayersModel | null = null;
  let defenses: AttackDefenses | null = null;
  let committed = false;
  try {
    await initEngine(spec.backend ? { backend: spec.backend } : {});
    const loaded = await loadSavedModel(spec.victim);
    victim = loaded.model;
    const params = loaded.params;
    hooks.onVictimLoaded?.(victim);
    const victimWeights = await hashFile(path.join(spec.victim, WEIGHTS_FILE));
    if (baseline) checkBaselineVictim(baseline, victimWeights);
    // Cache keys name the victim by the content of its files (topology, weights, normalisation).
    const victimInput = await modelInput('victim', spec.victim);
    defenses = await createAttackDefenses(spec.defense, params, spec.seed, spec.victim);
    const run = await prepare(spec, params, victimWeights, victimInput);
    const result = await execute(spec, run, victim, defenses, baseline, output, hooks, startedAt, started);
    committed = true;
    return result;
  } finally {
    defenses?.dispose();
    victim?.dispose();
    if (!committed) await output.abandon();
  }
}

/** The victim's clean test posteriors (cached), the defense on them, and the defender's utility. */
async function evaluateDefender(
  spec: AttackSpec,
  run: PreparedRun,
  victim: tf.LayersModel,
  defense: Defense,
): Promise<{ utility: DefenderUtility; victimArgmax: Int32Array }> {
  const { test, params } = run;
  const K = params.numClasses;
  const testInput = dataInput('test set', test, { dataDir: spec.dataDir, limit: spec.testLimit });
  const key: PosteriorCacheKey = {
    kind: 'test',
    identity: { victim: run.victimInput.sha256, test: { dataset: test.dataset, split: test.split, count: test.count, sha256: testInput.sha256 }, backend: run.backend },
    inputs: [run.victimInput, testInput],
  };
  let entry = spec.cacheDir ? await loadCachedPosteriors(spec.cacheDir, key) : null;
  let clean = entry?.clean;
  if (!clean) {
    clean = await cleanRows(victim, test, test.count, params.input);
    if (spec.cacheDir) entry = await storeCachedPosteriors(spec.cacheDir, key, Int32Array.from({ length: test.count }, (_, i) => i), clean, K);
  }
  const side = await withSide(entry, defense, () => sideRows(defense, test, test.count, params.input));
  const released = await releasedRows(defense, clean, side, K);
  return { utility: await defenderUtility(clean, released, test.labels, K, defense.ball), victimArgmax: argmaxRows(clean, K) };
}

async function execute(
  spec: AttackSpec,
  run: PreparedRun,
  victimModel: tf.LayersModel,
  defenses: AttackDefenses,
  baseline: Baseline | null,
  output: OutputReservation,
  hooks: RunAttackHooks,
  startedAt: Date,
  started: number,
): Promise<AttackResult> {
  const reporter = new StageProgress(spec.quiet === true);
  const { params } = run;
  const K = params.numClasses;
  let result: AttackResult | undefined;
  await output.commit(async (dir) => {
    const evalStart = performance.now();
    const { utility, victimArgmax } = await evaluateDefender(spec, run, victimModel, defenses.evaluation);
    const evalSeconds = (performance.now() - evalStart) / 1000;
    reporter.line(
      `victim on ${utility.testCount} test images: ${pct(utility.accuracyUndefended)} undefended, ${pct(utility.accuracyDefended)} with ${describeDefense(spec.defense)} (mean L1 ${utility.test.l1.mean.toFixed(3)})`,
    );

    const queryStart = performance.now();
    const defense = defenses.attacker;
    const stage = await collectTransferSet(spec, run, victimModel, defense, reporter);
    reporter.done();
    const querySeconds = (performance.now() - queryStart) / 1000;
    const imagesFor = (budget: number): number => Math.floor(budget / run.queriesPerImage);
    if (stage.transfer.count < imagesFor(run.maxBudget)) throw new Error(`${spec.attack} collected ${stage.transfer.count} images for a budget of ${run.maxBudget} queries`);
    hooks.onTransferSet?.(stage.transfer);

    const scoring: ScoringSet = { test: run.test, count: run.test.count, input: params.input, victimArgmax };
    const runs: AttackRun[] = [];
    let trainSeconds = 0;
    const adaptation = spec.adapt ? { definition: adaptationDefinition(spec.adapt.name), settings: spec.adapt.settings } : null;
    for (const budget of spec.budgets) {
      const rng = new Rng(spec.seed).fork(`attacker-${budget}`);
      const model = buildAttacker(run.attackerArch, params.input, K, rng.fork('init'));
      let extension: AttackerTraining | undefined;
      try {
        // An adaptation may train the attacker differently (S4L's rotation task); its own stream.
        extension = await adaptation?.definition.attackerTraining?.({
          settings: adaptation.settings,
          rng: rng.fork('adapt'),
          model,
          input: params.input,
          numClasses: K,
          pool: run.sources.pool,
          training: spec.training,
        });
        const score = await trainAndScoreAttacker({
          model,
          transfer: stage.transfer,
          budget: imagesFor(budget),
          labelMode: spec.labelMode,
          settings: spec.training,
          rng: rng.fork('shuffle'),
          scoring,
          ...(extension ? { extension } : {}),
          onBatchEnd: (epoch, batch, batches, loss) => reporter.attackerBatch(budget, epoch, batch, batches, loss),
          onEpochEnd: (row) =>
            reporter.line(
              `budget ${budget} epoch ${row.epoch}/${spec.training.epochs}: loss ${row.loss.toFixed(4)} attacker test acc ${pct(row.testAccuracy)} (${row.seconds.toFixed(1)} s)`,
            ),
        });
        trainSeconds += score.trainSeconds;
        const amplification = errorAmplification(baseline, budget, score.accuracy);
        const images = imagesFor(budget);
        const queries = images * run.queriesPerImage;
        const queryDistortion = await releaseStats(stage.clean(queries), stage.released(queries), K, queries, defense.ball);
        const modelDir = budgetDirName(budget);
        runs.push({
          budget,
          queries,
          images,
          modelDir,
          attacker: score,
          queryDistortion,
          errorAmplification: amplification.value,
          baselineAccuracy: amplification.baselineAccuracy,
        });
        await saveAttacker(path.join(dir, modelDir), model, spec, run, defense, budget, score);
        reporter.line(
          `budget ${budget}: attacker accuracy ${pct(score.accuracy)} (best epoch ${score.bestEpoch}: ${pct(score.bestEpochAccuracy)}), fidelity ${pct(score.fidelity)}` +
            (amplification.value !== null ? `, error amplification ${amplification.value.toFixed(2)}×` : ''),
        );
      } finally {
        // The adaptation's own variables (S4L's head) go; the classifier alone was saved.
        extension?.dispose();
        model.dispose();
      }
    }
    const queryPolicy = stage.transfer.policy ? queryPolicyReport(stage.transfer.policy, spec.budgets) : null;
    if (queryPolicy) {
      await writeFileAtomic(path.join(dir, POLICY_PLOT_FILE), await policyPlotSvg(queryPolicy, `${spec.attack} vs ${describeDefense(spec.defense)}, seed ${spec.seed}`));
    }
    result = {
      kind: 'attack-result',
      format: RESULT_FORMAT,
      attack: spec.attack,
      adaptation: spec.adapt ?? null,
      attackerKnows: spec.adapt ? adaptationDefinition(spec.adapt.name).attackerKnows(spec.adapt.settings) : null,
      ...(stage.adaptationReport ? { adaptationReport: stage.adaptationReport } : {}),
      labelMode: spec.labelMode,
      seed: spec.seed,
      victim: { dir: spec.victim, arch: params.arch, dataset: params.dataset, numClasses: K, weightsSha256: run.victimWeights },
      attackerArch: run.attackerArch,
      defense: { ...spec.defense, description: describeDefense(spec.defense) },
      querySource: run.querySource,
      transferSet: stage.cache,
      defender: utility,
      runs,
      queryPolicy,
      timings: { querySeconds, evalSeconds, trainSeconds, totalSeconds: (performance.now() - started) / 1000 },
      config: resolvedConfig(spec, run),
      provenance: provenance(engineInfo(), startedAt),
    };
    await writeJsonAtomic(path.join(dir, RESULT_FILE), result);
  });
  if (!result) throw new Error('the attack wrote no result');
  return result;
}

async function saveAttacker(
  dir: string,
  model: tf.LayersModel,
  spec: AttackSpec,
  run: PreparedRun,
  defense: Defense,
  budget: number,
  score: AttackRun['attacker'],
): Promise<void> {
  await saveModel(model, dir);
  const params: ModelParams = {
    kind: 'attacker',
    arch: run.attackerArch,
    dataset: run.params.dataset,
    numClasses: run.params.numClasses,
    input: run.params.input,
    seed: spec.seed,
    attack: spec.attack,
    budget,
    labelMode: spec.labelMode,
    defense: { ...spec.defense, description: describeDefense(spec.defense) },
    victim: spec.victim,
    training: spec.training,
    augmentation: null,
    metrics: { testAccuracy: score.accuracy, bestEpochAccuracy: score.bestEpochAccuracy, bestEpoch: score.bestEpoch, fidelity: score.fidelity },
  };
  await writeJsonAtomic(path.join(dir, PARAMS_FILE), params);
  await writeFileAtomic(
    path.join(dir, ATTACKER_LOG_FILE),
    stringify(
      score.epochs.map((e) => [e.epoch, e.loss, e.trainAgreement, e.testAccuracy, e.seconds, e.lr]),
      { header: true, columns: ['epoch', 'loss', 'train_agreement', 'test_acc', 'seconds', 'lr'] },
    ),
  );
}

function resolvedConfig(spec: AttackSpec, run: PreparedRun): Record<string, unknown> {
  const definition = attackDefinition(spec.attack);
  const settings = ownAttackSettings(spec);
  return {
    victim: spec.victim,
    attack: spec.attack,
    adapt: spec.adapt ?? null,
    budgets: spec.budgets,
    labelMode: spec.labelMode,
    defense: spec.defense,
    queryset: querySourceOf(definition).poolConfig({ dataset: spec.queryset ?? null, split: spec.querysetSplit, dir: spec.querysetDir ?? null }),
    jacobian: declaredAttackSettings(spec),
    settings,
    attackerArch: run.attackerArch,
    training: spec.training,
    trainingPreset: spec.trainingPreset ?? null,
    // Attackers train on un-augmented queries, as the reference does (its 'test' transform).
    attackerAugmentation: null,
    queryBatchSize: spec.queryBatchSize,
    seed: spec.seed,
    out: spec.out,
    baseline: spec.baseline ?? null,
    cacheDir: spec.cacheDir,
    queryBudget: run.queryBudget,
    queryStore: spec.queryStore ?? null,
    dataDir: spec.dataDir ?? null,
    testLimit: spec.testLimit ?? null,
    testCount: run.test.count,
    backend: engineInfo().backend,
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
