import { createHash } from 'node:crypto';
import { canonicalJson } from '../../cache/canonical-json.js';

/** Short content id of a settings object: the first 12 hex digits of sha256(canonical JSON). */
export function shortHash(value: unknown, digits = 12): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, digits);
}
