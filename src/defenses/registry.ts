/**
 * Every defense, one line each. Only declarations are loaded here (each defense imports its
 * TensorFlow.js code when it is created), so the command line and the sweep config read them
 * freely. Parsing flags into specs lives in params.ts, building a defense in create.ts.
 */
import { UsageError } from '../errors.js';
import type { DefenseDefinition, DefenseParam } from './definition.js';
import { none } from './none.js';
import { topK } from './top-k.js';
import { argmax } from './argmax.js';
import { rounding } from './rounding.js';
import { reverseSigmoid } from './reverse-sigmoid.js';
import { randomNoise } from './random-noise.js';
import { mad } from './mad/mad.js';
import { madArgmax } from './mad/mad-argmax.js';
import { adaptiveMisinformation } from './adaptive-misinformation.js';
import { grad2 } from './grad2.js';
import { modelguardW } from './modelguard-w.js';
import { modelguardS } from './modelguard-s.js';

const DEFENSES: DefenseDefinition[] = [none, topK, argmax, rounding, reverseSigmoid, randomNoise, mad, madArgmax, adaptiveMisinformation, grad2, modelguardW, modelguardS];

/**
 * The undefended reference: `--defense`'s default, the baseline of error amplification, and a
 * cell of every sweep. Named by its declaration, so no other file spells it.
 */
export const UNDEFENDED = none.name;

/** The registered defenses' names, in registration order (the order help and errors list them). */
export function defenseNames(): string[] {
  return DEFENSES.map((d) => d.name);
}

export function isDefenseName(name: string): boolean {
  return DEFENSES.some((d) => d.name === name);
}

/** A registered defense's declaration; an unknown name here is a programming error (names are parsed first). */
export function defenseDefinition(name: string): DefenseDefinition {
  const found = DEFENSES.find((d) => d.name === name);
  if (!found) throw new Error(`no defense '${name}' is registered`);
  return found;
}

/** One flag of the commands: its key, commander syntax, and each defense's own declaration of it. */
export interface DefenseFlag {
  key: string;
  flag: string;
  declarations: { defense: string; param: DefenseParam }[];
}

/**
 * Every parameter key any defense declares, once, in declaration order. Defenses may share a key
 * (one commander flag, e.g. MAD's and MAD-argmax's `--eps`) and may declare it differently (range,
 * default, help): each validates it by its own declaration.
 */
export function defenseFlags(): DefenseFlag[] {
  const table = new Map<string, DefenseFlag>();
  for (const defense of DEFENSES) {
    for (const param of defense.params) {
      const seen = table.get(param.key);
      if (seen) seen.declarations.push({ defense: defense.name, param });
      else table.set(param.key, { key: param.key, flag: param.flag, declarations: [{ defense: defense.name, param }] });
    }
  }
  return [...table.values()];
}

/** What makes a declaration unusable by the flags, the sweep config and the CSV; null = none. */
function declarationProblem(defense: DefenseDefinition): string | null {
  const keys = new Set<string>();
  const fields = new Set<string>(['name']);
  for (const p of defense.params) {
    if (!p.flag.startsWith(`--${p.key} `) && p.flag !== `--${p.key}`) return `its flag '${p.flag}' is not --${p.key}`;
    if (!/^[a-z][a-z0-9-]*$/.test(p.key)) return `its key '${p.key}' is not lower-case words joined by dashes`;
    if (keys.has(p.key) || fields.has(p.field)) return `it declares '${p.key}' (field ${p.field}) twice`;
    keys.add(p.key);
    fields.add(p.field);
    const other = defenseFlags().find((f) => f.key === p.key);
    if (other && other.flag !== p.flag) return `its flag '${p.flag}' differs from '${other.flag}' of ${other.declarations.map((d) => d.defense).join(', ')}`;
  }
  if (defense.operatingAxis !== null && !defense.params.some((p) => p.key === defense.operatingAxis && p.kind === 'number')) {
    return `its operating axis '${defense.operatingAxis}' is not one of its numeric parameters`;
  }
  return null;
}

/**
 * Adds a defense declared outside src/ (see src/extensions.ts), before any command reads the
 * registry. The defenses above are production's whole catalogue; it registers nothing here.
 */
export function registerDefense(defense: DefenseDefinition): void {
  if (DEFENSES.some((d) => d.name === defense.name)) throw new UsageError(`defense '${defense.name}' is registered twice`);
  const problem = declarationProblem(defense);
  if (problem !== null) throw new UsageError(`defense '${defense.name}' cannot be registered: ${problem}`);
  DEFENSES.push(defense);
}
