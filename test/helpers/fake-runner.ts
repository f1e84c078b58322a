/**
 * The fake cell runner: a deterministic pure-JS stand-in for the attack library, for testing the
 * sweep machinery. A sweep uses it when POISON_SWEEP_RUNNER_MODULE holds this file's compiled
 * path (`FAKE_RUNNER` below is that environment). Every number is a fixed function of the
 * cell's settings (shaped like the paper's trends so plots and summaries have something to
 * show; an adapted cell spends its adaptation's queries per image and takes back part of the
 * defense's effect, the more the more its attacker knows), including the "seconds", so two runs
 * give byte-identical rows. Its rows carry backend 'fake'. Nothing here is a measurement.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetInfo } from '../../src/data/catalog.js';
import type { DefenseSpec } from '../../src/defenses/spec.js';
import { operatingAxis } from '../../src/defenses/params.js';
import { writeJsonAtomic } from '../../src/util/atomic.js';
import { reserveOutputDir } from '../../src/util/outdir.js';
import { installedVersion } from '../../src/util/package-info.js';
import { Rng } from '../../src/util/rng.js';
import { canonicalJson } from '../../src/cache/canonical-json.js';
import { adaptationDefinition, adaptationOfAttackSettings } from '../../src/adaptations/registry.js';
import type { AttackerKnows } from '../../src/adaptations/types.js';
import type { CellSettings, VictimIdentity } from '../../src/sweep/plan/cell.js';
import type { Distortion } from '../../src/sweep/run/cell-record.js';
import { RUNNER_MODULE_ENV } from '../../src/sweep/run/runner-module.js';
import type { CellOutcome, CellRunner } from '../../src/sweep/run/runner.js';

/** The environment that makes `poison sweep` run its cells with this runner. */
export const FAKE_RUNNER: Readonly<Record<string, string>> = { [RUNNER_MODULE_ENV]: fileURLToPath(import.meta.url) };
/** Milliseconds the fake runner sleeps per cell, so tests can kill a sweep mid-run. */
export const FAKE_DELAY_ENV = 'POISON_SWEEP_FAKE_DELAY_MS';
/** `<cell id>:<ms>`: that one cell sleeps this long instead (a slow cell among quick ones). */
export const FAKE_SLOW_CELL_ENV = 'POISON_SWEEP_FAKE_SLOW_CELL';

/** It computes every number from the cell's settings: no dataset is read. */
export const readsData = false;

export function createRunner(): CellRunner {
  const delayMs = Number(process.env[FAKE_DELAY_ENV] ?? '0') || 0;
  const [slowId, slowMs] = (process.env[FAKE_SLOW_CELL_ENV] ?? ':').split(':');
  return {
    kind: 'fake',
    init: () => Promise.resolve({ backend: 'fake', backendVersion: null, tfjsVersion: installedVersion('@tensorflow/tfjs') }),
    async trainVictim(settings, dir) {
      const victim: VictimIdentity = { dataset: settings.dataset, arch: settings.arch, train: settings };
      // Like `poison train`: built in a temporary sibling and moved into place whole.
      await (await reserveOutputDir(dir, true, 'folder')).commit(async (tmp) => {
        await writeJsonAtomic(path.join(tmp, 'params.json'), {
          kind: 'victim',
          fake: true,
          arch: settings.arch,
          dataset: settings.dataset,
          numClasses: datasetInfo(settings.dataset).numClasses,
          seed: settings.seed,
          metrics: { testAccuracy: victimAccuracy(victim) },
        });
      });
    },
    async runCell(cell) {
      const ms = cell.id === slowId ? Number(slowMs) : delayMs;
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      return fakeOutcome(cell.settings);
    },
  };
}

/** A number in [0, 1) fixed by a label and a value. */
function unit(label: string, value: unknown): number {
  return new Rng(0).fork(`${label}:${canonicalJson(value)}`).next();
}

/** Accuracies are shares of a 10,000-image test set. */
function quantise(acc: number): number {
  return Math.round(Math.min(1, Math.max(0, acc)) * 10000) / 10000;
}

function victimAccuracy(victim: VictimIdentity): number {
  return quantise(0.97 + 0.02 * unit('victim', victim));
}

const ATTACK_STRENGTH: Record<string, number> = { knockoff: 0.98, jbda: 0.9, jbself: 0.9, jbtop: 0.88 };

interface DefenseEffect {
  /** Share of the attacker's gain over chance the defense removes. */
  strength: number;
  /** Defender accuracy lost. */
  accuracyDrop: number;
  /** Mean ‖y − ỹ‖₁. */
  l1: number;
  /** Whether argmax ỹ = argmax y always (so an argmax-label attacker is barely hurt). */
  keepsTop1: boolean;
}

/** Effects shaped like the paper's trends, for the defenses the fake knows by name. */
const EFFECTS: Record<string, (d: Record<string, number>, numClasses: number) => DefenseEffect> = {
  none: () => ({ strength: 0, accuracyDrop: 0, l1: 0, keepsTop1: true }),
  mad: (d) => ({ strength: d.eps! / (d.eps! + 0.6), accuracyDrop: d.eps! > 0.8 ? Math.min(0.8, (d.eps! - 0.8) * 0.6) : 0.004 * d.eps!, l1: Math.min(d.eps!, 1.6) * 0.95, keepsTop1: false }),
  'mad-argmax': (d) => ({ strength: (0.8 * d.eps!) / (d.eps! + 0.6), accuracyDrop: 0, l1: Math.min(d.eps!, 1) * 0.9, keepsTop1: true }),
  'reverse-sigmoid': (d) => ({ strength: 0.7 * d.beta!, accuracyDrop: 0.03 * d.beta!, l1: 1.5 * d.beta!, keepsTop1: false }),
  'random-noise': (d) => ({ strength: d.epsZ! / (d.epsZ! + 3), accuracyDrop: 0.02 * d.epsZ!, l1: Math.min(1.8, 0.3 * d.epsZ!), keepsTop1: false }),
  'top-k': (d, K) => ({ strength: (0.15 * (K - d.k!)) / K, accuracyDrop: 0, l1: (0.02 * (K - d.k!)) / K, keepsTop1: true }),
  argmax: () => ({ strength: 0.15, accuracyDrop: 0, l1: 0.02, keepsTop1: true }),
  rounding: (d) => ({ strength: 0.1 / (d.decimals! + 1), accuracyDrop: 0, l1: 0.5 * 10 ** -d.decimals!, keepsTop1: true }),
};

/**
 * A defense the fake does not know by name (a new one, an extension's) gets an effect from its
 * declaration alone: growing with its operating point's value, so its plot line still moves.
 */
function defenseEffect(d: DefenseSpec, numClasses: number): DefenseEffect {
  const numbers = Object.fromEntries(Object.entries(d).filter((e): e is [string, number] => typeof e[1] === 'number'));
  const known = EFFECTS[d.name];
  if (known) return known(numbers, numClasses);
  const axis = operatingAxis(d.name);
  const v = axis ? Math.abs(Number(d[axis.field])) : 1;
  return { strength: v / (v + 1), accuracyDrop: 0.01 * Math.min(v, 1), l1: Math.min(1.5, 0.5 * v), keepsTop1: false };
}

/**
 * Share of a defense's strength an adapted attacker takes back, growing with what it knows (the
 * shape ModelGuard and D-DAE report: the oracle variants recover the most).
 */
const RECOVERED: Record<AttackerKnows, number> = { nothing: 0.25, 'defense-type': 0.35, 'defense-params': 0.45, oracle: 0.7 };

function distortion(l1: number, count: number, changed: number): Distortion {
  const ms = (mean: number): { mean: number; std: number } => ({ mean, std: 0.3 * mean });
  return { count, l1: ms(l1), l2: ms(0.7 * l1), kl: ms(0.9 * l1), top1ChangeRate: changed, invariantViolations: 0, simplexViolations: 0, epsBallViolations: null };
}

function fakeOutcome(s: CellSettings): CellOutcome {
  const numClasses = datasetInfo(s.victim.dataset).numClasses;
  const chance = 1 / numClasses;
  const victimAcc = victimAccuracy(s.victim);
  const attackBase = { victim: s.victim, attack: s.attack, attacker: s.attacker, budget: s.budget, seed: s.seed };
  // An adapted cell (attack setting `adapt`) spends its adaptation's queries per image, as the
  // real runner does: budget B buys floor(B / q) images and q of that many queries.
  const adaptation = adaptationOfAttackSettings(s.attack);
  const definition = adaptation ? adaptationDefinition(adaptation.name) : null;
  const perImage = adaptation ? definition!.queriesPerImage(adaptation.settings) : 1;
  const images = Math.floor(s.budget / perImage);
  const queries = images * perImage;
  const recovered = adaptation ? RECOVERED[definition!.attackerKnows(adaptation.settings)] : 0;
  const gain = images / (images + 500);
  const undefended = chance + (victimAcc * (ATTACK_STRENGTH[s.attack.name] ?? 0.9) - chance) * gain + 0.01 * (unit('attack', attackBase) - 0.5);
  const effect = defenseEffect(s.defense, numClasses);
  const argmaxLabels = s.attack.labelMode === 'argmax';
  const strength = (1 - recovered) * (argmaxLabels ? effect.strength * (effect.keepsTop1 ? 0.2 : 0.8) : effect.strength);
  const attacker = quantise(chance + (undefended - chance) * (1 - strength));
  const defended = quantise(Math.max(chance, victimAcc - effect.accuracyDrop));
  const testCount = s.testLimit ?? 10000;
  const seconds = { transfer: queries / 2000, train: (images * s.attacker.epochs) / 20000, evaluate: 0.25 };
  return {
    metrics: {
      defender: {
        accuracyDefended: defended,
        accuracyUndefended: victimAcc,
        test: distortion(effect.l1, testCount, quantise((victimAcc - defended) / victimAcc)),
        queries: distortion(1.1 * effect.l1, queries, quantise(effect.keepsTop1 ? 0 : 1.5 * effect.accuracyDrop)),
      },
      attacker: {
        accuracy: attacker,
        bestEpochAccuracy: quantise(attacker + 0.01 * unit('best', attackBase)),
        bestEpoch: Math.max(1, s.attacker.epochs - 1),
        fidelity: quantise(Math.min(1, (attacker / victimAcc) * 0.99)),
      },
      queries,
    },
    seconds: { ...seconds, total: seconds.transfer + seconds.train + seconds.evaluate },
  };
}
