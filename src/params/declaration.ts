/**
 * How every parameter of an attack, an adaptation or a defense is declared, and the one reader
 * of its values. The `poison attack` / `poison eval` flags, the sweep config's keys, --help, the
 * docs' tables and the CSV all come from a declaration of this type, so a parameter means the
 * same thing, takes the same values and is spelled the same (camelCase) in every YAML file.
 * Free of TensorFlow.js: the command line reads declarations before loading anything heavy.
 */
import { UsageError } from '../errors.js';
import { parseChoice, parseNumber, type NumberRange } from '../util/parse.js';
import { describeRange } from '../sweep/config/yaml-reader.js';

/** What a default may depend on: the victim, when it is known. */
export interface ParamContext {
  dataset?: string;
  numClasses?: number;
}

interface ParamCommon {
  /**
   * The parameter's name inside the program: the key of its settings bag, of a defense's flag
   * values, of the sweep cell (so cell ids hash it). Attack and adaptation keys are camelCase;
   * a defense's key is its flag without dashes (`noise-eps`), as it always was.
   */
  key: string;
  /** The flag's commander syntax, e.g. `--seed-size <n>`. */
  flag: string;
  /** What it means, for `--help`, docs and errors. */
  help: string;
}

/** A number; `nullable` also takes null (`none` on the command line, `null` in YAML). */
type NumberParam<Default = number | null> = ParamCommon & { kind: 'number'; range: NumberRange; nullable?: boolean; default?: Default };
/** One word of a fixed list. */
type ChoiceParam = ParamCommon & { kind: 'choice'; choices: readonly string[]; default?: string };
/** A directory; null = the owner's own default (a defense's surrogate). */
type PathParam = ParamCommon & { kind: 'path'; default: null };

/**
 * One parameter, declared once. No default: required (an attack's query pool: `poison attack`
 * takes it from the victim). A function default depends on the victim (reverse sigmoid's γ).
 */
export type ParamDeclaration = NumberParam<number | null | ((ctx: ParamContext) => number)> | ChoiceParam | PathParam;

/** A declaration whose default is a plain value: what attacks and adaptations declare. */
export type PlainParam = NumberParam | ChoiceParam;

export type ParamValue = number | string | null;

/** The flag's name, `--seed-size`, from its commander syntax. */
export function flagName(param: Pick<ParamDeclaration, 'flag'>): string {
  return param.flag.split(' ')[0]!;
}

/** commander's attribute name for a flag or key: `noise-eps` → `noiseEps`. */
export function camelCase(name: string): string {
  return name.replace(/^--/, '').replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Its key in a sweep config: camelCase, for attacks, adaptations and defenses alike. */
export function yamlKey(param: Pick<ParamDeclaration, 'key'>): string {
  return camelCase(param.key);
}

/** Its key as configs wrote it before one spelling (`noise-eps`): still read, with a warning; null = never differed. */
export function oldYamlKey(param: Pick<ParamDeclaration, 'key'>): string | null {
  return yamlKey(param) === param.key ? null : param.key;
}

/** Its default for a victim (undefined: required, or it depends on a victim not known yet). */
export function defaultOf(param: ParamDeclaration, ctx: ParamContext | null = null): ParamValue | undefined {
  const d = param.default;
  if (typeof d === 'function') return ctx === null ? undefined : d(ctx);
  return d;
}

/** What it takes, in words: `one of a, b`, `a whole number ≥ 1, or null`. */
export function describeTakes(param: ParamDeclaration, none = 'null'): string {
  if (param.kind === 'choice') return `one of ${param.choices.join(', ')}`;
  if (param.kind === 'path') return 'a directory';
  const base = describeRange(param.range);
  return param.nullable ? `${base}, or ${none}` : base;
}

/**
 * The one check of a given value against its declaration. `text` is how the command line gives
 * it (a flag's text, `none` for null); otherwise the value is already typed (YAML, a library
 * caller) and must be of the declared type. `where` names it in the error (a flag, a YAML path).
 */
export function parseParamValue(param: ParamDeclaration, raw: unknown, where: string, from: 'text' | 'value'): ParamValue {
  const shown = from === 'text' && typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? 'nothing');
  switch (param.kind) {
    case 'choice':
      if (from === 'value' && (typeof raw !== 'string' || !param.choices.includes(raw))) throw new UsageError(`${where}: unknown value ${shown} (choose one of: ${param.choices.join(', ')})`);
      return parseChoice(where, typeof raw === 'string' ? raw : shown, param.choices);
    case 'path': {
      const text = from === 'text' && typeof raw === 'number' ? String(raw) : raw;
      if (typeof text !== 'string') throw new UsageError(`${where} needs a directory, got ${shown}`);
      if (text.trim() === '') throw new UsageError(`${where} needs a directory, got an empty string`);
      return text;
    }
    case 'number':
      if (param.nullable && (raw === null || (from === 'text' && typeof raw === 'string' && raw.trim() === 'none'))) return null;
      if (raw === null) throw new UsageError(`${where} must be a number, got none`);
      if (from === 'value' && typeof raw !== 'number') throw new UsageError(`${where} must be a number, got ${shown}`);
      if (typeof raw !== 'number' && typeof raw !== 'string') throw new UsageError(`${where} must be a number, got ${shown}`);
      return parseNumber(where, raw, param.range);
  }
}
