/**
 * On-disk cache of the victim's CLEAN posteriors on a fixed list of images, so a sweep over
 * defenses runs the victim once: a non-adaptive attack's transfer set (per victim weights, pool,
 * budget, seed: the query images as pool indices and their posteriors) and the victim's test set.
 * Per side-information source (MAD's surrogate) its rows are stored beside them. Any defense is
 * then applied to the cached rows.
 *
 * Layout: <root>/<kind>-<key>/header.json, indices.i32, clean.f32, and side-<key>.json +
 * side-<key>.f32 per side-information source. Binary files are little-endian; a header is
 * written after its data and only a complete entry has one (every file is written atomically),
 * so a killed run never leaves an entry that loads.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RuntimeFailure } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { rowLength, type SideRows } from './side-rows.js';

const CACHE_FORMAT = 1;

/** Everything the cached rows depend on. */
export type CacheKeySettings =
  | {
      kind: 'transfer';
      attack: string;
      /** sha256 of the victim's weights.bin. */
      victimWeights: string;
      pool: { dataset: string; split: string; count: number; source: string };
      budget: number;
      seed: number;
    }
  | {
      kind: 'test';
      victimWeights: string;
      test: { dataset: string; split: string; count: number; source: string };
    };

export interface CachedPosteriors {
  dir: string;
  key: string;
  poolIndices: Int32Array;
  clean: Float32Array;
  numClasses: number;
}

function stableKey(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 24);
}

export async function hashFile(file: string): Promise<string> {
  try {
    return createHash('sha256').update(await fs.readFile(file)).digest('hex');
  } catch (err) {
    throw new RuntimeFailure(`${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export function cacheEntryDir(root: string, settings: CacheKeySettings): string {
  return path.join(root, `${settings.kind}-${stableKey({ format: CACHE_FORMAT, ...settings })}`);
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

interface EntryHeader {
  format: number;
  settings: CacheKeySettings;
  count: number;
  numClasses: number;
  createdAt: string;
}

/** The cached entry, or null when there is none (or it is incomplete). */
export async function loadCachedPosteriors(root: string, settings: CacheKeySettings): Promise<CachedPosteriors | null> {
  const dir = cacheEntryDir(root, settings);
  const headerBytes = await readOptional(path.join(dir, 'header.json'));
  if (!headerBytes) return null;
  let header: EntryHeader;
  try {
    header = JSON.parse(headerBytes.toString('utf8')) as EntryHeader;
  } catch {
    throw new RuntimeFailure(`${path.join(dir, 'header.json')} is not valid JSON: delete ${dir} and rerun`);
  }
  if (header.format !== CACHE_FORMAT || JSON.stringify(header.settings) !== JSON.stringify(settings)) {
    throw new RuntimeFailure(`${dir} does not hold the posteriors its name says: delete it and rerun`);
  }
  const poolIndices = await readInt32(path.join(dir, 'indices.i32'), header.count);
  const clean = await readFloat32(path.join(dir, 'clean.f32'), header.count * header.numClasses);
  if (!poolIndices || !clean) return null;
  return { dir, key: path.basename(dir), poolIndices, clean, numClasses: header.numClasses };
}

export async function storeCachedPosteriors(
  root: string,
  settings: CacheKeySettings,
  poolIndices: Int32Array,
  clean: Float32Array,
  numClasses: number,
): Promise<CachedPosteriors> {
  const dir = cacheEntryDir(root, settings);
  await writeFileAtomic(path.join(dir, 'indices.i32'), toBytes(poolIndices));
  await writeFileAtomic(path.join(dir, 'clean.f32'), toBytes(clean));
  const header: EntryHeader = { format: CACHE_FORMAT, settings, count: poolIndices.length, numClasses, createdAt: new Date().toISOString() };
  await writeJsonAtomic(path.join(dir, 'header.json'), header);
  return { dir, key: path.basename(dir), poolIndices, clean, numClasses };
}

function sideFiles(entry: CachedPosteriors, sideInfoKey: string): { data: string; header: string } {
  const key = stableKey({ format: CACHE_FORMAT, sideInfoKey });
  return { data: path.join(entry.dir, `side-${key}.f32`), header: path.join(entry.dir, `side-${key}.json`) };
}

interface SideHeader {
  format: number;
  sideInfoKey: string;
  rowShape: number[];
  count: number;
}

/** Cached side rows for this entry and side-information source, or null. */
export async function loadCachedSide(entry: CachedPosteriors, sideInfoKey: string): Promise<SideRows | null> {
  const files = sideFiles(entry, sideInfoKey);
  const headerBytes = await readOptional(files.header);
  if (!headerBytes) return null;
  const header = JSON.parse(headerBytes.toString('utf8')) as SideHeader;
  if (header.sideInfoKey !== sideInfoKey || header.count !== entry.poolIndices.length) {
    throw new RuntimeFailure(`${files.header} does not describe the side information its name says: delete it and rerun`);
  }
  const data = await readFloat32(files.data, header.count * rowLength(header.rowShape));
  return data ? { rowShape: header.rowShape, data } : null;
}

export async function storeCachedSide(entry: CachedPosteriors, sideInfoKey: string, side: SideRows): Promise<void> {
  const files = sideFiles(entry, sideInfoKey);
  await writeFileAtomic(files.data, toBytes(side.data));
  const header: SideHeader = { format: CACHE_FORMAT, sideInfoKey, rowShape: side.rowShape, count: entry.poolIndices.length };
  await writeJsonAtomic(files.header, header);
}
