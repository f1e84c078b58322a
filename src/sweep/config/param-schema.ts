/**
 * How a sweep config describes one parameter of an attack or a defense: its kind, its range or
 * choices, and its default. One reader (readParam) turns YAML nodes into values against it, so
 * attacks and defenses are checked the same way and every problem cites its line.
 */
import type { Node } from 'yaml';
import type { DatasetName } from '../../data/types.js';
import type { ParamValue } from './config-types.js';
import { describeRange, type NumberRange, type YamlReader } from './yaml-reader.js';

export type ParamSchema =
  | {
      name: string;
      kind: 'number';
      range: NumberRange;
      /** Also accept `null` (YAML `~` or an empty value), e.g. "no reservoir". */
      nullable?: boolean;
      /** Omitted = required; a function = depends on the victim's dataset. */
      default?: number | null | ((dataset: DatasetName) => number);
      doc: string;
    }
  | {
      name: string;
      kind: 'choice';
      choices: readonly string[];
      default?: string | ((dataset: DatasetName) => string);
      doc: string;
    };

export function expectedText(schema: ParamSchema): string {
  if (schema.kind === 'choice') return `one of ${schema.choices.join(', ')}`;
  const base = describeRange(schema.range);
  return schema.nullable ? `${base}, or null` : base;
}

/** One value of a parameter; undefined (with a problem recorded) when it does not fit. */
export function readParamValue(
  reader: YamlReader,
  node: Node | null,
  path: string,
  schema: ParamSchema,
): ParamValue | null | undefined {
  if (schema.kind === 'choice') return reader.choice(node, path, schema.choices);
  if (schema.nullable && (node === null || (isNullScalar(node)))) return null;
  const v = reader.number(node, path, schema.range);
  if (v === undefined && schema.nullable) {
    // The reader reported "a number …"; say null is accepted too.
    const last = reader.problems[reader.problems.length - 1];
    if (last && last.path === path) last.expected = expectedText(schema);
  }
  return v;
}

function isNullScalar(node: Node): boolean {
  return 'value' in node && (node as { value: unknown }).value === null;
}

/** The default of a parameter for a victim dataset; undefined when the parameter is required. */
export function defaultValue(schema: ParamSchema, dataset: DatasetName | null): ParamValue | null | undefined {
  const d = schema.default;
  if (typeof d === 'function') return dataset === null ? undefined : d(dataset);
  return d;
}
