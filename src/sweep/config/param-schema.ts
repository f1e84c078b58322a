/**
 * A sweep config's value of one declared parameter (src/params/declaration.ts): the YAML node's
 * value checked by the same parseParamValue as the command line's flags, a problem recorded at
 * its line (not thrown) when it does not fit, so attacks, adaptations and defenses are checked
 * the same way and every problem of the file is reported at once.
 */
import { isScalar, type Node } from 'yaml';
import { UsageError } from '../../errors.js';
import { describeTakes, parseParamValue, type ParamDeclaration, type ParamValue } from '../../params/declaration.js';
import { describe, suggestion, type YamlReader } from './yaml-reader.js';

/** One value of a parameter; undefined (with a problem recorded) when it does not fit. */
export function readParamValue(reader: YamlReader, raw: Node | null, path: string, param: ParamDeclaration): ParamValue | undefined {
  const node = reader.deref(raw);
  // YAML's `~`, `null` or nothing after the colon is null; a mapping or a list is no value at all.
  const value = node === null ? null : isScalar(node) ? node.value : undefined;
  try {
    return parseParamValue(param, value, path, 'value');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const found = param.kind === 'choice' && typeof value === 'string' ? `${describe(node)}${suggestion(value, param.choices)}` : undefined;
    reader.report(node, path, describeTakes(param), found);
    return undefined;
  }
}
