/**
 * The one way a cache entry is named: sha256 of the canonical JSON of its kind, its format
 * version, the version of the random streams' derivation and its identity (content hashes of
 * every model and image set it was computed from, the backend, every setting that changes its
 * bytes). Paths never enter a key; each entry's header records them beside their hashes
 * (CacheInput) so that `poison cache ls` can tell whether the inputs still hold those bytes.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { DatasetName, Split } from '../data/types.js';
import { RNG_FORK_VERSION } from '../util/rng.js';
import { canonicalJson } from './canonical-json.js';
import { hashImageSet, hashModelDir } from './content-hash.js';

/** One input of an entry, as its header records it: what it is, where it was, what it held. */
export type CacheInput =
  | { role: string; kind: 'model'; dir: string; sha256: string }
  | { role: string; kind: 'data'; dataset: DatasetName; split: Split; dataDir: string | null; limit: number | null; sha256: string };

/** Hex digits of an entry's key (128 bits). */
const KEY_DIGITS = 32;

export function cacheKey(kind: string, format: number, identity: unknown): string {
  return createHash('sha256').update(canonicalJson({ kind, format, rng: RNG_FORK_VERSION, identity })).digest('hex').slice(0, KEY_DIGITS);
}

/** A saved model as an input: its content hash, and its directory to re-check it by. */
export async function modelInput(role: string, dir: string): Promise<CacheInput & { kind: 'model' }> {
  return { role, kind: 'model', dir: path.resolve(dir), sha256: await hashModelDir(dir) };
}

/** A loaded image set as an input: its content hash, and how to load it again. */
export function dataInput(
  role: string,
  set: Parameters<typeof hashImageSet>[0] & { dataset: DatasetName; split: Split },
  load: { dataDir?: string | null | undefined; limit?: number | null | undefined },
): CacheInput & { kind: 'data' } {
  return {
    role,
    kind: 'data',
    dataset: set.dataset,
    split: set.split,
    dataDir: load.dataDir ? path.resolve(load.dataDir) : null,
    limit: load.limit ?? null,
    sha256: hashImageSet(set),
  };
}

/** The part of the inputs that belongs in a key: roles and hashes, no paths. */
export function inputHashes(inputs: readonly CacheInput[]): { role: string; sha256: string }[] {
  return inputs.map((i) => ({ role: i.role, sha256: i.sha256 }));
}
