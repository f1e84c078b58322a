/**
 * Typed reads of a declared defense spec's fields, and a re-check of its values against the
 * declaration (ranges, choices, class count), so a definition's check() and create() refuse a
 * spec that did not come through the flag parser (a library caller, a hand-written test) with
 * the same one-line UsageError. Free of TensorFlow.js.
 */
import { UsageError } from '../errors.js';
import { parseChoice, parseNumber } from '../util/parse.js';
import type { DefenseDefinition, DefenseParam, DefenseParseContext, DefenseSpec } from './definition.js';

export function numberField(spec: DefenseSpec, field: string): number {
  const v = spec[field];
  if (typeof v !== 'number') throw new Error(`defense ${spec.name}: field '${field}' must be a number, got ${String(v)}`);
  return v;
}

export function choiceField(spec: DefenseSpec, field: string): string {
  const v = spec[field];
  if (typeof v !== 'string') throw new Error(`defense ${spec.name}: field '${field}' must be a string, got ${String(v)}`);
  return v;
}

/** A path field: a directory, or null for the defense's own default. */
export function pathField(spec: DefenseSpec, field: string): string | null {
  const v = spec[field];
  if (v !== null && typeof v !== 'string') throw new Error(`defense ${spec.name}: field '${field}' must be a path or null, got ${String(v)}`);
  return v;
}

export function checkDeclaredRanges(definition: DefenseDefinition, spec: DefenseSpec, ctx: DefenseParseContext): void {
  for (const param of definition.params) {
    const flag = `--${param.key}`;
    if (param.kind === 'number') parseNumber(flag, numberField(spec, param.field), param.range);
    else if (param.kind === 'choice') parseChoice(flag, choiceField(spec, param.field), param.choices);
    else if (pathField(spec, param.field)?.trim() === '') throw new UsageError(`${flag} needs a directory, got an empty string`);
  }
  if (ctx.numClasses !== undefined && (!Number.isInteger(ctx.numClasses) || ctx.numClasses < 2)) {
    throw new UsageError(`a defense needs a classifier with at least 2 classes, got ${ctx.numClasses}`);
  }
}

/** The shared `--eps` of the defenses that move y within an L1 ball (GRAD², ModelGuard-W/-S). */
export function l1EpsParam(defaultEps: number): DefenseParam {
  return {
    key: 'eps',
    field: 'eps',
    flag: '--eps <x>',
    help: 'L1 budget ε in [0, 2] on ‖ỹ − y‖₁; ε = 0 releases y',
    kind: 'number',
    range: { min: 0, max: 2 },
    default: defaultEps,
  };
}
