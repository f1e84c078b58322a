/**
 * Format versions of every on-disk cache, one place for `poison cache ls` to compare headers
 * with. Bump a kind's version whenever the code that computes its bytes changes meaning (an
 * algorithm, a layout): every entry written before then becomes stale and is never read again.
 * (A change of the random streams' derivation is covered by RNG_FORK_VERSION in every key.)
 */
import type { CacheInput } from './key.js';

export const CACHE_FORMATS = {
  /** A non-adaptive attack's transfer set: pool indices and the victim's clean posteriors. */
  transfer: 2,
  /** The victim's clean posteriors on the test set. */
  test: 2,
  /** A defense's side rows on a transfer or test entry's images. */
  side: 2,
  /** An adaptive attack's query phase: images, clean and released answers, policy trace. */
  queries: 3,
  /** A defense's helper model built beside the victim (AM's f̂, GRAD²'s surrogate); sweeps key its build by it. */
  prepared: 2,
} as const;

export type CacheKind = keyof typeof CACHE_FORMATS;

/** Every cache header carries this (besides what its kind adds). */
export interface EntryRecord {
  kind: CacheKind;
  format: number;
  /** The key the entry is stored under (cacheKey of kind, format and identity). */
  key: string;
  identity: unknown;
  inputs: CacheInput[];
  createdAt: string;
}
