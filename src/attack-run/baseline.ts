/**
 * The undefended run error amplification is measured against: read before any work starts and
 * checked to be the same attack, budgets, seed, label mode and victim, and undefended.
 */
import { promises as fs } from 'node:fs';
import { RuntimeFailure, UsageError } from '../errors.js';
import type { AttackSpec } from './spec.js';
import type { AttackResult } from './result.js';
import { UNDEFENDED } from '../defenses/registry.js';

export interface Baseline {
  file: string;
  result: AttackResult;
}

export async function readBaseline(file: string, spec: AttackSpec): Promise<Baseline> {
  let result: AttackResult;
  try {
    result = JSON.parse(await fs.readFile(file, 'utf8')) as AttackResult;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`--baseline ${file} does not exist: run the undefended attack first`);
    if (code !== undefined) throw new RuntimeFailure(`--baseline ${file} cannot be read: ${code}`);
    throw new UsageError(`--baseline ${file} is not valid JSON`);
  }
  if (result?.kind !== 'attack-result' || !Array.isArray(result.runs)) {
    throw new UsageError(`--baseline ${file} is not a result.json written by \`poison attack\``);
  }
  const differs = (what: string, theirs: unknown, ours: unknown): never => {
    throw new UsageError(`--baseline ${file} is a different run: its ${what} is ${String(theirs)}, this run's is ${String(ours)}`);
  };
  if (result.attack !== spec.attack) differs('attack', result.attack, spec.attack);
  if (result.seed !== spec.seed) differs('seed', result.seed, spec.seed);
  if (result.labelMode !== spec.labelMode) differs('label mode', result.labelMode, spec.labelMode);
  const theirBudgets = new Set(result.runs.map((r) => r.budget));
  const missing = spec.budgets.filter((b) => !theirBudgets.has(b));
  if (missing.length > 0) differs('budget list', [...theirBudgets].join(','), spec.budgets.join(','));
  if (result.defense?.name !== UNDEFENDED) {
    throw new UsageError(`--baseline ${file} was run with defense '${result.defense?.name}': the baseline must be undefended (--defense ${UNDEFENDED})`);
  }
  return { file, result };
}

/** The check against the victim needs its weights hash, known only after loading it. */
export function checkBaselineVictim(baseline: Baseline, weightsSha256: string): void {
  if (baseline.result.victim?.weightsSha256 !== weightsSha256) {
    throw new UsageError(`--baseline ${baseline.file} attacked a different victim (its weights differ from --victim's)`);
  }
}

export function errorAmplification(baseline: Baseline | null, budget: number, accuracy: number): { value: number | null; baselineAccuracy: number | null } {
  const run = baseline?.result.runs.find((r) => r.budget === budget);
  if (!run) return { value: null, baselineAccuracy: null };
  const base = run.attacker.accuracy;
  // A perfect undefended attacker leaves no error to amplify: report null, not ∞.
  return { value: base < 1 ? (1 - accuracy) / (1 - base) : null, baselineAccuracy: base };
}
