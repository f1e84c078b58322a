/**
 * From flag values (`--eps 0.5 --ydist l1`, or the same keys in a sweep config) to a validated
 * DefenseSpec, by the chosen defense's own declaration (definition.ts). Shared by `poison eval`,
 * `poison attack` and the sweep YAML, and free of TensorFlow.js. Every failure is a UsageError
 * naming the parameter and what it takes.
 */
import { UsageError } from '../errors.js';
import { parseChoice } from '../util/parse.js';
import { defaultOf, parseParamValue } from '../params/declaration.js';
import type { DefenseParam, DefenseParseContext, DefenseSpec } from './definition.js';
import { defenseDefinition, defenseFlags, defenseNames, UNDEFENDED, type DefenseFlag } from './registry.js';

/** Flag values by key; undefined = not given. Numbers are accepted for configs parsed from YAML. */
export type DefenseFlagValues = Readonly<Record<string, string | number | undefined>>;

/** What a parameter takes and its default: the declaration's help plus `(required)` or `(default x)`. */
export function paramHelp(param: DefenseParam): string {
  if (param.kind === 'path') return param.help; // its help says what the defense does without it
  if (param.kind === 'choice') return `${param.help} (default ${param.default})`;
  if (param.default === undefined) return `${param.help} (required)`;
  // A default computed from the victim is described by the help itself.
  return typeof param.default === 'function' ? param.help : `${param.help} (default ${param.default})`;
}

/** A flag's --help line: each group of defenses that declare it alike, with what it takes for them. */
export function flagHelp(flag: DefenseFlag): string {
  const groups = new Map<string, string[]>();
  for (const { defense, param } of flag.declarations) {
    const text = paramHelp(param);
    groups.set(text, [...(groups.get(text) ?? []), defense]);
  }
  return [...groups].map(([text, defenses]) => `${defenses.join(', ')}: ${text}`).join('; ');
}

/** A defense's operating-point parameter: its flag key and its spec field; null = single point. */
export function operatingAxis(name: string): { key: string; field: string } | null {
  const key = defenseDefinition(name).operatingAxis;
  return key === null ? null : { key, field: specField(name, key) };
}

/** The spec field of one of a defense's keys; an unknown key is a programming error, not a user's. */
export function specField(name: string, key: string): string {
  const param = defenseDefinition(name).params.find((p) => p.key === key);
  if (!param) throw new Error(`defense '${name}' has no parameter '${key}'`);
  return param.field;
}

/** One parameter's value by its own declaration (the one reader of parameter values): its default when not given. */
function paramValue(name: string, param: DefenseParam, raw: string | number | undefined, context: DefenseParseContext): string | number | null {
  const flag = `--${param.key}`;
  if (raw !== undefined) return parseParamValue(param, raw, flag, 'text');
  const value = defaultOf(param, context);
  if (value === undefined) throw new UsageError(`defense '${name}' needs ${flag} (${param.help})`);
  return value;
}

export function parseDefenseSpec(defense: string | undefined, flags: DefenseFlagValues, context: DefenseParseContext = {}): DefenseSpec {
  const name = parseChoice('--defense', defense ?? UNDEFENDED, defenseNames());
  const definition = defenseDefinition(name);
  const own = definition.params;
  const given = new Set<string>();
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const known = defenseFlags();
    if (!known.some((f) => f.key === key)) {
      throw new UsageError(`unknown defense parameter '${key}' (known: ${known.map((f) => f.key).join(', ')})`);
    }
    if (!own.some((p) => p.key === key)) {
      const takes = own.length > 0 ? `it takes ${own.map((p) => `--${p.key}`).join(', ')}` : 'it takes no parameters';
      throw new UsageError(`--${key} does not apply to defense '${name}' (${takes})`);
    }
    given.add(key);
  }
  const spec: Record<string, string | number | null> = { name };
  for (const param of own) spec[param.field] = paramValue(name, param, flags[param.key], context);
  const parsed = spec as DefenseSpec;
  if (context.numClasses !== undefined) checkClassifier(context.numClasses);
  definition.check?.(parsed, { ...context, given });
  return parsed;
}

function checkClassifier(numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new UsageError(`a defense needs a classifier with at least 2 classes, got ${numClasses}`);
  }
}

/** Limits that depend on the victim's class count (and the defense's own checks), for a spec built elsewhere. */
export function checkDefenseForClasses(spec: DefenseSpec, numClasses: number): void {
  checkClassifier(numClasses);
  defenseDefinition(spec.name).check?.(spec, { numClasses });
}
