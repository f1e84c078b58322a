/**
 * Every adaptation, one line each. Only declarations are loaded here (each imports its
 * TensorFlow.js code when it wraps a black box), so the command line and the sweep config read
 * them freely.
 */
import { UsageError } from '../errors.js';
import { parseParamValue } from '../params/declaration.js';
import type { AdaptationDefinition, AdaptationParam, AdaptationSettings, AdaptationSpec } from './types.js';
import { attackDefinition, attackNames, attackParamTable } from '../attacks/registry.js';
import type { AttackName } from '../attacks/names.js';
import { querySourceOf } from '../attacks/query-sources.js';
import { smoothing } from './smoothing.js';
import { bayes } from './bayes.js';
import { s4l } from './s4l.js';
import { restorer } from './restorer.js';

const ADAPTATIONS: AdaptationDefinition[] = [smoothing, bayes, restorer, s4l];

export function adaptationNames(): string[] {
  return ADAPTATIONS.map((a) => a.name);
}

export function adaptationDefinition(name: string): AdaptationDefinition {
  const found = ADAPTATIONS.find((a) => a.name === name);
  if (!found) throw new UsageError(`unknown adaptation '${name}' (choose one of: ${adaptationNames().join(', ')})`);
  return found;
}

/**
 * Why adaptation `name` cannot adapt `attack` (an adaptation that needs an unlabelled pool, on an
 * attack whose query source has none), as one sentence that starts with the adaptation's name, or
 * null when it can.
 */
export function adaptationMismatch(name: string, attack: AttackName): string | null {
  if (!adaptationDefinition(name).needsUnlabelledPool) return null;
  const source = querySourceOf(attackDefinition(attack));
  if (source.unlabelledPool) return null;
  const fitting = attackNames().filter((a) => querySourceOf(attackDefinition(a)).unlabelledPool);
  return `${name} needs an attack whose queries come from a query pool (${fitting.join(', ')}); ${attack}'s come from ${source.description}`;
}

/** The adaptations that can adapt `attack`. */
export function adaptationsFor(attack: AttackName): string[] {
  return adaptationNames().filter((name) => adaptationMismatch(name, attack) === null);
}

/** Every parameter any adaptation declares, once per key, with the adaptations that take it. */
export function adaptationParamTable(): { param: AdaptationParam; adaptations: string[] }[] {
  const table = new Map<string, { param: AdaptationParam; adaptations: string[] }>();
  const attackKeys = new Set(attackParamTable().map(({ param }) => param.key));
  for (const adaptation of ADAPTATIONS) {
    for (const param of adaptation.params) {
      if (attackKeys.has(param.key)) throw new UsageError(`adaptation ${adaptation.name} declares '${param.key}', an attack's parameter: give it its own key`);
      const seen = table.get(param.key);
      if (!seen) table.set(param.key, { param, adaptations: [adaptation.name] });
      else if (JSON.stringify(seen.param) !== JSON.stringify(param)) throw new Error(`adaptations ${seen.adaptations.join(', ')} and ${adaptation.name} declare '${param.key}' differently`);
      else seen.adaptations.push(adaptation.name);
    }
  }
  return [...table.values()];
}

/**
 * An adaptation's settings from raw values by key (flag text or sweep config values; `where`
 * names the source in errors): declared defaults for what is missing, unknown keys refused.
 */
export function adaptationSpecOf(name: string, raw: Record<string, unknown>, where: (key: string) => string): AdaptationSpec {
  const definition = adaptationDefinition(name);
  for (const key of Object.keys(raw)) {
    if (raw[key] !== undefined && !definition.params.some((p) => p.key === key)) {
      throw new UsageError(`${where(key)} does not apply to adaptation ${name} (it takes ${definition.params.map((p) => where(p.key)).join(', ') || 'no settings'})`);
    }
  }
  const settings: AdaptationSettings = {};
  for (const param of definition.params) settings[param.key] = paramValue(param, raw[param.key], where(param.key));
  return { name, settings };
}

/** One setting from a flag's text or a config's value, by the one reader of declared parameters. */
function paramValue(param: AdaptationParam, raw: unknown, where: string): number | string | null {
  if (raw === undefined) {
    if (param.default === undefined) throw new UsageError(`${where} is required`);
    return param.default;
  }
  if (typeof raw !== 'string' && typeof raw !== 'number' && raw !== null) throw new UsageError(`${where} must be a ${param.kind === 'number' ? 'number' : 'word'}, got ${JSON.stringify(raw)}`);
  if (raw === null && !(param.kind === 'number' && param.nullable === true)) throw new UsageError(`${where} must be a ${param.kind === 'number' ? 'number' : 'word'}, got null`);
  return parseParamValue(param, raw, where, 'text');
}

/**
 * Adds an adaptation declared outside src/ (see src/extensions.ts), before any command reads the
 * registry. Its parameters may not reuse an attack's keys (one flag, one meaning).
 */
export function registerAdaptation(adaptation: AdaptationDefinition): void {
  if (ADAPTATIONS.some((a) => a.name === adaptation.name)) throw new UsageError(`adaptation '${adaptation.name}' is registered twice`);
  ADAPTATIONS.push(adaptation);
  try {
    adaptationParamTable();
  } catch (err) {
    ADAPTATIONS.pop();
    throw err;
  }
}

/**
 * The adaptation named in a sweep cell's attack settings (key `adapt`, its parameters beside it,
 * as the sweep config flattens them), or null for the naive attacker.
 */
export function adaptationOfAttackSettings(attack: Readonly<Record<string, unknown>>): AdaptationSpec | null {
  if (typeof attack.adapt !== 'string') return null;
  const definition = adaptationDefinition(attack.adapt);
  const settings: AdaptationSettings = {};
  for (const param of definition.params) settings[param.key] = attack[param.key] as number | string | null;
  return { name: definition.name, settings };
}
