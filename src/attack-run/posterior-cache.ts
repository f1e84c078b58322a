/**
 * On-disk cache of the victim's CLEAN posteriors on a fixed list of images, so a sweep over
 * defenses runs the victim once: a non-adaptive attack's transfer set (per victim content, pool
 * content, backend, attack settings, budget, seed: the query images as pool indices and their
 * posteriors) and the victim's test set. Keys come from src/cache/key.ts.
 * Per side-information source (MAD's surrogate) its rows are stored beside them. Any defense is
 * then applied to the cached rows.
 *
 * Layout: <root>/<kind>-<key>/header.json, indices.i32, clean.f32, and side-<key>.json +
 * side-<key>.f32 per side-information source. Binary files are little-endian; a header is
 * written after its data and only a complete entry has one (every file is written atomically),
 * so a killed run never leaves an entry that loads.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from '../cache/canonical-json.js';
import { CACHE_FORMATS, type EntryRecord } from '../cache/formats.js';
import { cacheKey, inputHashes, type CacheInput } from '../cache/key.js';
import { RuntimeFailure } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { rowLength, type SideRows } from './side-rows.js';

/**
 * What names an entry. `identity` is everything the rows depend on: the content hashes of the
 * victim and of the images, the backend, the attack and its settings, budget and seed (never a
 * path); `inputs` records where each hashed input was read, for `poison cache ls`.
 */
export interface PosteriorCacheKey {
  kind: 'transfer' | 'test';
  identity: Record<string, unknown>;
  inputs: CacheInput[];
}

export interface CachedPosteriors {
  dir: string;
  key: string;
  poolIndices: Int32Array;
  clean: Float32Array;
  numClasses: number;
  /** The inputs of the entry, inherited by the side rows stored in it. */
  inputs: CacheInput[];
}

export function cacheEntryDir(root: string, settings: PosteriorCacheKey): string {
  return path.join(root, `${settings.kind}-${cacheKey(settings.kind, CACHE_FORMATS[settings.kind], settings.identity)}`);
}

function toBytes(a: Float32Array | Int32Array): Uint8Array {
  // Typed arrays are little-endian on every platform Node supports for this project.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

async function readFloat32(file: string, expected: number): Promise<Float32Array | null> {
  const buf = await readOptional(file);
  if (!buf) return null;
  if (buf.byteLength !== expected * 4) throw new RuntimeFailure(`${file} has ${buf.byteLength} bytes, ${expected * 4} expected: delete it and rerun`);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

async function readInt32(file: string, expected: number): Promise<Int32Array | null> {
  const buf = await readOptional(file);
  if (!buf) return null;
  if (buf.byteLength !== expected * 4) throw new RuntimeFailure(`${file} has ${buf.byteLength} bytes, ${expected * 4} expected: delete it and rerun`);
  return new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

async function readOptional(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RuntimeFailure(`${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

interface EntryHeader extends EntryRecord {
  kind: 'transfer' | 'test';
  count: number;
  numClasses: number;
}

/** The cached entry, or null when there is none (or it is incomplete). */
export async function loadCachedPosteriors(root: string, settings: PosteriorCacheKey): Promise<CachedPosteriors | null> {
  const dir = cacheEntryDir(root, settings);
  const headerBytes = await readOptional(path.join(dir, 'header.json'));
  if (!headerBytes) return null;
  let header: EntryHeader;
  try {
    header = JSON.parse(headerBytes.toString('utf8')) as EntryHeader;
  } catch {
    throw new RuntimeFailure(`${path.join(dir, 'header.json')} is not valid JSON: delete ${dir} and rerun`);
  }
  // The name is a hash of the identity: a header with another identity is damage, not staleness.
  if (header.format !== CACHE_FORMATS[settings.kind] || canonicalJson(header.identity) !== canonicalJson(settings.identity)) {
    throw new RuntimeFailure(`${dir} does not hold the posteriors its name says: delete it and rerun`);
  }
  const poolIndices = await readInt32(path.join(dir, 'indices.i32'), header.count);
  const clean = await readFloat32(path.join(dir, 'clean.f32'), header.count * header.numClasses);
  if (!poolIndices || !clean) return null;
  return { dir, key: path.basename(dir), poolIndices, clean, numClasses: header.numClasses, inputs: header.inputs };
}

export async function storeCachedPosteriors(
  root: string,
  settings: PosteriorCacheKey,
  poolIndices: Int32Array,
  clean: Float32Array,
  numClasses: number,
): Promise<CachedPosteriors> {
  const dir = cacheEntryDir(root, settings);
  await writeFileAtomic(path.join(dir, 'indices.i32'), toBytes(poolIndices));
  await writeFileAtomic(path.join(dir, 'clean.f32'), toBytes(clean));
  const header: EntryHeader = {
    kind: settings.kind,
    format: CACHE_FORMATS[settings.kind],
    key: path.basename(dir),
    identity: settings.identity,
    inputs: settings.inputs,
    count: poolIndices.length,
    numClasses,
    createdAt: new Date().toISOString(),
  };
  await writeJsonAtomic(path.join(dir, 'header.json'), header);
  return { dir, key: path.basename(dir), poolIndices, clean, numClasses, inputs: settings.inputs };
}

/**
 * A defense's side rows in an entry: named by the entry and the defense's sideInfoKey (which names
 * its helper model by content hash); the header records the helper models' paths and hashes.
 */
interface SideSource {
  sideInfoKey: string;
  inputs: readonly CacheInput[];
}

function sideIdentity(entry: CachedPosteriors, source: SideSource): Record<string, unknown> {
  return { entry: entry.key, sideInfoKey: source.sideInfoKey, helpers: inputHashes(source.inputs) };
}

function sideFiles(entry: CachedPosteriors, source: SideSource): { data: string; header: string } {
  const key = cacheKey('side', CACHE_FORMATS.side, sideIdentity(entry, source));
  return { data: path.join(entry.dir, `side-${key}.f32`), header: path.join(entry.dir, `side-${key}.json`) };
}

interface SideHeader extends EntryRecord {
  kind: 'side';
  sideInfoKey: string;
  rowShape: number[];
  count: number;
}

/** Cached side rows for this entry and side-information source, or null. */
export async function loadCachedSide(entry: CachedPosteriors, source: SideSource): Promise<SideRows | null> {
  const files = sideFiles(entry, source);
  const headerBytes = await readOptional(files.header);
  if (!headerBytes) return null;
  const header = JSON.parse(headerBytes.toString('utf8')) as SideHeader;
  if (header.format !== CACHE_FORMATS.side || header.sideInfoKey !== source.sideInfoKey || header.count !== entry.poolIndices.length) {
    throw new RuntimeFailure(`${files.header} does not describe the side information its name says: delete it and rerun`);
  }
  const data = await readFloat32(files.data, header.count * rowLength(header.rowShape));
  return data ? { rowShape: header.rowShape, data } : null;
}

export async function storeCachedSide(entry: CachedPosteriors, source: SideSource, side: SideRows): Promise<void> {
  const files = sideFiles(entry, source);
  await writeFileAtomic(files.data, toBytes(side.data));
  const header: SideHeader = {
    kind: 'side',
    format: CACHE_FORMATS.side,
    key: path.basename(files.header, '.json').slice('side-'.length),
    identity: sideIdentity(entry, source),
    // The rows depend on the entry's images (its inputs) and on the defense's helper models.
    inputs: [...entry.inputs, ...source.inputs],
    sideInfoKey: source.sideInfoKey,
    rowShape: side.rowShape,
    count: entry.poolIndices.length,
    createdAt: new Date().toISOString(),
  };
  await writeJsonAtomic(files.header, header);
}
