/**
 * The real cell runner: one cell is one `poison attack` run through the attack library
 * (runAttack) with a single budget, its full output (result.json, the attacker model, its
 * per-epoch log) kept under `<out>/runs/<cell id>/`. Transfer sets and clean posteriors go
 * through the library's cache, so the defense and budget cells of one non-adaptive transfer set
 * query the victim once; an adaptive attack's query phase is kept in `<out>/queries/<key>/`,
 * so the budget cells of one (attack, defense, seed) run it once. Either is run up to the
 * largest budget of the cells sharing it (cell.queryBudget), and the scheduler makes sure one
 * cell builds each while the others wait.
 */
import * as path from 'node:path';
import { attackSettingsOf, jacobianSettingsOf, type LabelMode } from '../../attacks/names.js';
import { attackDefinition } from '../../attacks/registry.js';
import type { DatasetName, Split } from '../../data/types.js';
import type { AttackSpec } from '../../attack-run/spec.js';
import { adaptationOfAttackSettings } from '../../adaptations/registry.js';
import type { BackendName } from '../../engine/backend-names.js';
import type { QueryStatsReport } from '../../blackbox/stats.js';
import type { Cell } from '../plan/cell.js';
import type { Distortion } from './cell-record.js';
import type { CellOutcome, CellRunner, RunContext } from './runner.js';

/** It reads the victim's, the query pool's and the test set's images. */
export const readsData = true;

export function createRunner(): CellRunner {
  let backend: BackendName | null = null;
  return {
    kind: 'real',
    async init(requested) {
      const { initEngine } = await import('../../engine/backend.js');
      const info = await initEngine(requested ? { backend: requested } : {});
      // Every later initEngine call of the libraries must land on the same backend.
      backend = info.backend;
      return { backend: info.backend, backendVersion: info.backendVersion, tfjsVersion: info.tfjsVersion };
    },
    async trainVictim(settings, dir, dataDirs, quiet) {
      const { trainVictim } = await import('../../train/victim.js');
      await trainVictim({
        ...settings,
        limit: settings.limit ?? undefined,
        out: dir,
        force: false,
        dataDir: dataDirs[settings.dataset],
        backend: backend ?? undefined,
        quiet,
      });
    },
    async runCell(cell, context) {
      const { runAttack } = await import('../../attack-run/run.js');
      const result = await runAttack(attackSpecOf(cell, context, backend));
      const run = result.runs[0];
      if (!run || run.budget !== cell.settings.budget) throw new Error(`the attack library returned no run for budget ${cell.settings.budget}`);
      return {
        metrics: {
          defender: {
            accuracyDefended: result.defender.accuracyDefended,
            accuracyUndefended: result.defender.accuracyUndefended,
            test: distortionOf(result.defender.test),
            queries: distortionOf(run.queryDistortion),
          },
          attacker: {
            accuracy: run.attacker.accuracy,
            bestEpochAccuracy: run.attacker.bestEpochAccuracy,
            bestEpoch: run.attacker.bestEpoch,
            fidelity: run.attacker.fidelity,
          },
          queries: run.queries,
        },
        seconds: {
          transfer: result.timings.querySeconds,
          train: result.timings.trainSeconds,
          evaluate: result.timings.evalSeconds,
          total: result.timings.totalSeconds,
        },
      } satisfies CellOutcome;
    },
  };
}

/** The library's release statistics in the sweep's shape. */
export function distortionOf(r: QueryStatsReport): Distortion {
  return {
    count: r.queries,
    l1: r.l1,
    l2: r.l2,
    kl: r.kl,
    top1ChangeRate: r.top1ChangeRate,
    invariantViolations: r.simplexViolations + (r.epsBallViolations ?? 0),
    simplexViolations: r.simplexViolations,
    epsBallViolations: r.epsBallViolations,
  };
}

/** The `poison attack` request of a cell: exactly its settings, one budget, output in runs/<id>/. */
export function attackSpecOf(cell: Cell, context: RunContext, backend: BackendName | null): AttackSpec {
  const s = cell.settings;
  const a = s.attack;
  const params = attackDefinition(a.name).params;
  const jacobian = jacobianSettingsOf(params, a);
  const queryset = typeof a.queryset === 'string' ? (a.queryset as DatasetName) : undefined;
  return {
    victim: context.victimDir,
    attack: a.name,
    adapt: adaptationOfAttackSettings(a),
    budgets: [s.budget],
    labelMode: a.labelMode as LabelMode,
    defense: s.defense,
    queryset,
    querysetSplit: (typeof a.querysetSplit === 'string' ? a.querysetSplit : 'train') as Split,
    querysetDir: queryset ? context.dataDirs[queryset] : undefined,
    jacobian,
    settings: attackSettingsOf(params, a),
    attackerArch: s.attacker.arch,
    trainingPreset: s.attacker.preset ?? 'paper',
    training: {
      epochs: s.attacker.epochs,
      lr: s.attacker.lr,
      momentum: s.attacker.momentum,
      batchSize: s.attacker.batchSize,
      lrStep: s.attacker.lrStep,
      weightDecay: s.attacker.weightDecay,
    },
    queryBatchSize: context.queryBatchSize,
    seed: s.seed,
    out: path.join(context.runsDir, cell.id),
    // A run directory without its cell file is a killed earlier attempt: replace it.
    force: true,
    cacheDir: context.cacheDir,
    queryBudget: cell.queryBudget,
    queryStore: cell.queryStore ? path.join(context.queriesDir, cell.queryStore) : null,
    dataDir: context.dataDirs[s.victim.dataset],
    testLimit: s.testLimit ?? undefined,
    backend: backend ?? undefined,
    quiet: true,
  };
}
