/**
 * `poison data fetch`: bring a dataset's official files into its folder, verified.
 * Files already there with the pinned SHA-256 are kept; others are (re)downloaded through
 * downloadVerified, so the folder never holds a partial or unverified file. Zip members to
 * extract (EMNIST) are CRC-checked and written atomically beside the archive.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { RuntimeFailure, UsageError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { crc32 } from 'node:zlib';
import { downloadVerified } from './download.js';
import { defaultDatasetDir, defaultLocations, type DataLocations } from './locations.js';
import { officialManifest, type DatasetManifest, type ManifestFile } from './manifest.js';
import type { DatasetName } from './types.js';
import { readZipDirectory, readZipMembers } from './zip.js';
import { makeDirs } from '../util/safe-fs.js';

export type FetchEvent =
  | { type: 'skip'; file: string; reason: string }
  | { type: 'download'; file: string; url: string; size: number }
  | { type: 'progress'; file: string; received: number; total: number }
  | { type: 'verified'; file: string }
  | { type: 'extract'; file: string; from: string };

export interface FetchOptions {
  /** Target folder; default `<datasets dir>/<name>`. */
  dir?: string;
  /** Download from `<urlBase>/<official file name>` instead of the official URL (mirrors, tests). */
  urlBase?: string;
  /** Files and hashes to fetch; default the pinned official manifest (tests inject small ones). */
  manifest?: DatasetManifest;
  onEvent?: (event: FetchEvent) => void;
  locations?: DataLocations;
  idleTimeoutMs?: number;
}

interface FetchReport {
  dataset: DatasetName;
  dir: string;
  downloaded: string[];
  skipped: string[];
  extracted: string[];
}

export async function fetchDataset(name: DatasetName, opts: FetchOptions = {}): Promise<FetchReport> {
  const manifest = opts.manifest ?? officialManifest(name);
  if (manifest.dataset !== name) throw new Error(`manifest for ${manifest.dataset} given to fetch ${name}`);
  const dir = path.resolve(opts.dir ?? defaultDatasetDir(name, opts.locations ?? defaultLocations()));
  const urlBase = opts.urlBase === undefined ? undefined : parseUrlBase(opts.urlBase);
  const emit = opts.onEvent ?? (() => undefined);
  const report: FetchReport = { dataset: name, dir, downloaded: [], skipped: [], extracted: [] };
  await makeDirs(dir, 'dataset folder');

  for (const f of manifest.files) {
    const target = path.join(dir, f.name);
    const present = await verifiedAlready(target, f);
    if (present) {
      emit({ type: 'skip', file: f.name, reason: 'already present, SHA-256 verified' });
      report.skipped.push(f.name);
    } else {
      const url = urlBase ? new URL(path.posix.basename(new URL(f.url).pathname), urlBase).toString() : f.url;
      emit({ type: 'download', file: f.name, url, size: f.size });
      await downloadVerified(url, target, f, {
        onProgress: (received, total) => emit({ type: 'progress', file: f.name, received, total }),
        idleTimeoutMs: opts.idleTimeoutMs,
      });
      emit({ type: 'verified', file: f.name });
      report.downloaded.push(f.name);
    }
    if (f.extract) report.extracted.push(...(await extractMembers(target, f, dir, emit)));
  }
  return report;
}

function parseUrlBase(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw.endsWith('/') ? raw : raw + '/');
  } catch {
    throw new UsageError(`--url-base must be an http(s) URL, got '${raw}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UsageError(`--url-base must be an http(s) URL, got '${raw}'`);
  }
  return u;
}

/** True when `target` exists with the pinned size and SHA-256. */
async function verifiedAlready(target: string, f: ManifestFile): Promise<boolean> {
  let size: number;
  try {
    const st = await fs.stat(target);
    if (!st.isFile()) throw new RuntimeFailure(`${target} exists but is not a file: move it away and fetch again`);
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (size !== f.size) return false;
  return (await sha256OfFile(target)) === f.sha256;
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Extract the listed members unless an identical copy (same size and CRC-32) is already there. */
async function extractMembers(
  archive: string,
  f: ManifestFile,
  dir: string,
  emit: (e: FetchEvent) => void,
): Promise<string[]> {
  const entries = await readZipDirectory(archive);
  const done: string[] = [];
  for (const x of f.extract ?? []) {
    const entry = entries.find((e) => e.name === x.member);
    if (!entry) throw new RuntimeFailure(`${archive}: the archive has no member ${x.member}: it is not the expected archive`);
    const target = path.join(dir, x.to);
    if (await sameAsEntry(target, entry.uncompressedSize, entry.crc32)) {
      emit({ type: 'skip', file: x.to, reason: `already extracted from ${f.name}` });
      continue;
    }
    emit({ type: 'extract', file: x.to, from: f.name });
    const data = (await readZipMembers(archive, [x.member])).get(x.member)!;
    await writeFileAtomic(target, data);
    done.push(x.to);
  }
  return done;
}

async function sameAsEntry(file: string, size: number, crc: number): Promise<boolean> {
  try {
    const data = await fs.readFile(file);
    return data.length === size && crc32(data) === crc;
  } catch {
    return false;
  }
}
