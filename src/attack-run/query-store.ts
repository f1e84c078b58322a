/**
 * An adaptive attack's query phase kept on disk, so that runs differing only in budget (a
 * sweep's cells) query the victim once: every query image, the victim's clean answer y and the
 * released ỹ, in order, for the largest budget of the group. A run with a smaller budget B reads
 * the first B rows only: an attack that serves prefixes draws nothing that depends on the
 * budget, so they are exactly the queries it would have sent with budget B.
 *
 * Layout: <root>/<key>/images (pixels.f32, or indices.i32 for query-pool images), clean.f32,
 * released.f32, policy.json for an attack that picks pool classes by a policy (its trace), and
 * header.json, written last: every file is written atomically and only an
 * entry with a header loads, so a killed run never leaves an entry that is taken for complete.
 * The key hashes the identity (everything the queries depend on), which the header repeats.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from '../cache/canonical-json.js';
import { CACHE_FORMATS, type EntryRecord } from '../cache/formats.js';
import { cacheKey, type CacheInput } from '../cache/key.js';
import { RuntimeFailure } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import type { PolicyTrace } from '../attacks/transfer-set.js';

/**
 * What names an entry: `identity` is everything the queries and answers depend on (content hashes
 * of the victim, the defense's helper models and the images, the backend, every setting; never a
 * path), `inputs` where each hashed input was read, for `poison cache ls`.
 */
export interface QueryStoreKey {
  identity: unknown;
  inputs: CacheInput[];
}
const HEADER = 'header.json';
const POLICY = 'policy.json';

/** The query images of an entry: synthesised pixels (count × imageSize) or query-pool indices. */
type StoredImages = { kind: 'pixels'; pixels: Float32Array } | { kind: 'pool'; indices: Int32Array };

interface StoredQueries {
  dir: string;
  /** Rows read (the prefix asked for), not the entry's length. */
  count: number;
  images: StoredImages;
  clean: Float32Array;
  released: Float32Array;
  /** The policy trace cut to the prefix: the first `count` actions, the snapshots taken by then. */
  policy?: PolicyTrace;
}

/** policy.json: the trace with its actions as a plain list. */
interface StoredPolicy {
  labels: number[];
  actions: number[];
  snapshots: PolicyTrace['snapshots'];
}

interface StoreHeader extends EntryRecord {
  kind: 'queries';
  images: StoredImages['kind'];
  count: number;
  rowLength: { image: number; posterior: number };
  /** Whether policy.json was written. */
  policy: boolean;
}

function queryStoreEntry(root: string, identity: unknown): string {
  return path.join(root, `queries-${cacheKey('queries', CACHE_FORMATS.queries, identity)}`);
}

function imageFile(kind: StoredImages['kind']): string {
  return kind === 'pixels' ? 'pixels.f32' : 'indices.i32';
}

/**
 * The first `rows` queries of the entry for `identity`, or null when there is no complete entry.
 * `imageSize` (values per image) and `numClasses` must match what the entry was written with.
 */
export async function loadStoredQueries(
  root: string,
  key: QueryStoreKey,
  rows: number,
  imageSize: number,
  numClasses: number,
): Promise<StoredQueries | null> {
  const identity = key.identity;
  const dir = queryStoreEntry(root, identity);
  let header: StoreHeader;
  try {
    header = JSON.parse(await fs.readFile(path.join(dir, HEADER), 'utf8')) as StoreHeader;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RuntimeFailure(`${path.join(dir, HEADER)} cannot be read (${(err as Error).message}): delete ${dir} and rerun`);
  }
  const imageLength = header.images === 'pixels' ? imageSize : 1;
  if (
    header.format !== CACHE_FORMATS.queries ||
    canonicalJson(header.identity) !== canonicalJson(identity) ||
    header.rowLength.image !== imageLength ||
    header.rowLength.posterior !== numClasses
  ) {
    throw new RuntimeFailure(`${dir} does not hold the queries its name says: delete it and rerun`);
  }
  if (header.count < rows) throw new RuntimeFailure(`${dir} holds ${header.count} queries, ${rows} are needed: delete it and rerun`);
  const imageBytes = await readPrefix(path.join(dir, imageFile(header.images)), rows * imageLength * 4, header.count * imageLength * 4);
  const clean = await readPrefix(path.join(dir, 'clean.f32'), rows * numClasses * 4, header.count * numClasses * 4);
  const released = await readPrefix(path.join(dir, 'released.f32'), rows * numClasses * 4, header.count * numClasses * 4);
  const images: StoredImages =
    header.images === 'pixels' ? { kind: 'pixels', pixels: new Float32Array(imageBytes.buffer) } : { kind: 'pool', indices: new Int32Array(imageBytes.buffer) };
  const out: StoredQueries = { dir, count: rows, images, clean: new Float32Array(clean.buffer), released: new Float32Array(released.buffer) };
  if (header.policy) {
    let stored: StoredPolicy;
    try {
      stored = JSON.parse(await fs.readFile(path.join(dir, POLICY), 'utf8')) as StoredPolicy;
    } catch (err) {
      throw new RuntimeFailure(`${path.join(dir, POLICY)} cannot be read (${(err as Error).message}): delete ${dir} and rerun`);
    }
    if (stored.actions.length !== header.count) throw new RuntimeFailure(`${path.join(dir, POLICY)} does not hold ${header.count} actions: delete ${dir} and rerun`);
    out.policy = {
      labels: stored.labels,
      actions: Int32Array.from(stored.actions.slice(0, rows)),
      snapshots: stored.snapshots.filter((snapshot) => snapshot.queries <= rows),
    };
  }
  return out;
}

/** The first `bytes` bytes of a file that must hold exactly `total` (a fresh, aligned buffer). */
async function readPrefix(file: string, bytes: number, total: number): Promise<Uint8Array> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    throw new RuntimeFailure(`${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}: delete its folder and rerun`);
  }
  try {
    const size = (await handle.stat()).size;
    if (size !== total) throw new RuntimeFailure(`${file} has ${size} bytes, ${total} expected: delete its folder and rerun`);
    const out = new Uint8Array(bytes);
    let done = 0;
    while (done < bytes) {
      const { bytesRead } = await handle.read(out, done, bytes - done, done);
      if (bytesRead === 0) throw new RuntimeFailure(`${file} ended after ${done} bytes: delete its folder and rerun`);
      done += bytesRead;
    }
    return out;
  } finally {
    await handle.close();
  }
}

function bytesOf(a: Float32Array | Int32Array): Uint8Array {
  // Typed arrays are little-endian on every platform Node supports for this project.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Write a complete entry (header last). Returns its folder. */
export async function storeQueries(
  root: string,
  key: QueryStoreKey,
  queries: { count: number; images: StoredImages; clean: Float32Array; released: Float32Array; policy?: PolicyTrace },
  imageSize: number,
  numClasses: number,
): Promise<string> {
  const dir = queryStoreEntry(root, key.identity);
  const imageLength = queries.images.kind === 'pixels' ? imageSize : 1;
  const imageData = queries.images.kind === 'pixels' ? queries.images.pixels : queries.images.indices;
  if (
    imageData.length !== queries.count * imageLength ||
    queries.clean.length !== queries.count * numClasses ||
    queries.released.length !== queries.count * numClasses
  ) {
    throw new Error(`storeQueries: the arrays do not hold ${queries.count} rows`);
  }
  await writeFileAtomic(path.join(dir, imageFile(queries.images.kind)), bytesOf(imageData));
  await writeFileAtomic(path.join(dir, 'clean.f32'), bytesOf(queries.clean));
  await writeFileAtomic(path.join(dir, 'released.f32'), bytesOf(queries.released));
  if (queries.policy) {
    if (queries.policy.actions.length !== queries.count) throw new Error(`storeQueries: the policy trace does not hold ${queries.count} actions`);
    const stored: StoredPolicy = { labels: queries.policy.labels, actions: Array.from(queries.policy.actions), snapshots: queries.policy.snapshots };
    await writeJsonAtomic(path.join(dir, POLICY), stored);
  }
  const header: StoreHeader = {
    kind: 'queries',
    format: CACHE_FORMATS.queries,
    key: path.basename(dir).slice('queries-'.length),
    identity: key.identity,
    inputs: key.inputs,
    images: queries.images.kind,
    count: queries.count,
    rowLength: { image: imageLength, posterior: numClasses },
    policy: queries.policy !== undefined,
    createdAt: new Date().toISOString(),
  };
  await writeJsonAtomic(path.join(dir, HEADER), header);
  return dir;
}
