/**
 * Content hashes of what a cache entry was computed from: model directories and image sets. A
 * cache key holds these hashes, never a path, so replacing a model in place (a retrained f̂, a
 * new surrogate) changes every key computed from it.
 *
 * Hashing a file reads all its bytes. A per-process memo keyed by (path, size, mtime, ctime,
 * inode) skips rereading a file that has not changed since it was hashed in this process; it only
 * ever returns a hash that was computed from the file's bytes, and is never part of a key.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RuntimeFailure } from '../errors.js';
import { MODEL_FILE, PARAMS_FILE, WEIGHTS_FILE } from '../models/files.js';
import { canonicalJson } from './canonical-json.js';
import type { ImageSet } from '../data/types.js';

interface HashedFile {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  sha256: string;
}

const hashedFiles = new Map<string, HashedFile>();

/** sha256 (hex) of a file's bytes. */
export async function hashFile(file: string): Promise<string> {
  const abs = path.resolve(file);
  try {
    const stat = await fs.stat(abs);
    const known = hashedFiles.get(abs);
    if (known && known.size === stat.size && known.mtimeMs === stat.mtimeMs && known.ctimeMs === stat.ctimeMs && known.ino === stat.ino) {
      return known.sha256;
    }
    const sha256 = createHash('sha256').update(await fs.readFile(abs)).digest('hex');
    hashedFiles.set(abs, { size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, ino: stat.ino, sha256 });
    return sha256;
  } catch (err) {
    throw new RuntimeFailure(`${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/**
 * sha256 of a saved model as its predictions depend on it: the topology (model.json), the
 * weights (weights.bin) and the input normalisation its params.json declares. Not the rest of
 * params.json (metrics, provenance), which changes no output.
 */
export async function hashModelDir(dir: string): Promise<string> {
  const topology = await hashFile(path.join(dir, MODEL_FILE));
  const weights = await hashFile(path.join(dir, WEIGHTS_FILE));
  let input: unknown = null;
  try {
    input = (JSON.parse(await fs.readFile(path.join(dir, PARAMS_FILE), 'utf8')) as { input?: unknown }).input ?? null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new RuntimeFailure(`${path.join(dir, PARAMS_FILE)} cannot be read: ${(err as Error).message}`);
  }
  return createHash('sha256').update(canonicalJson({ topology, weights, input })).digest('hex');
}

/** What an image set's hash covers: its pixels, labels and shape. */
type ImageSetContent = Pick<ImageSet, 'pixels' | 'labels' | 'count' | 'height' | 'width' | 'channels' | 'numClasses'>;

const hashedSets = new WeakMap<ImageSetContent, string>();

/** sha256 of an image set's bytes (the loaded images and labels, however they were stored on disk). */
export function hashImageSet(set: ImageSetContent): string {
  const known = hashedSets.get(set);
  if (known !== undefined) return known;
  const shape = canonicalJson({ count: set.count, height: set.height, width: set.width, channels: set.channels, numClasses: set.numClasses });
  const labels = set.labels.subarray(0, set.count);
  const sha256 = createHash('sha256')
    .update(shape)
    .update(set.pixels.subarray(0, set.count * set.height * set.width * set.channels))
    .update(new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength))
    .digest('hex');
  hashedSets.set(set, sha256);
  return sha256;
}
