/**
 * What a cache folder holds, and which of it is stale: `poison cache ls|prune` as a library.
 *
 * An entry is stale when its format version is not the current one (the code computing it has
 * changed since), when its name is not the key of its recorded identity, or when one of its
 * recorded inputs no longer holds the bytes it was computed from (a model retrained in place, a
 * dataset file replaced) or is gone. A stale entry is never read (its key cannot come up again),
 * so pruning it only frees disk. Free of TensorFlow.js: models are hashed from their files, image
 * sets loaded as bytes.
 */
import { promises as fs, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { loadImageSet } from '../data/load.js';
import { hashImageSet, hashModelDir } from './content-hash.js';
import { CACHE_FORMATS, type CacheKind } from './formats.js';
import { cacheKey, type CacheInput } from './key.js';

export interface CacheEntryInfo {
  kind: CacheKind;
  key: string;
  /** The entry's folder (transfer, test, queries) or header file (side rows). */
  location: string;
  /** What prune removes: the folder, or the side rows' two files. */
  paths: string[];
  bytes: number;
  /** What it was computed from, as recorded (null: no readable header). */
  inputs: CacheInput[] | null;
  /** The recorded identity the key hashes (null: no readable header, or an old format). */
  identity: unknown;
  createdAt: string | null;
  /** Why it is stale; empty when it is current. */
  stale: string[];
  /** Inputs that could not be checked (a dataset that cannot be loaded here): neither fresh nor stale. */
  unchecked: string[];
}

/**
 * Folders of entries: `<kind>-<key>`, each with a header.json once complete. Keys have 32 hex
 * digits (24 before format 2); a sweep's own work folders (`queries-<16 digits>/`) hold entries.
 */
const ENTRY_DIR = /^(transfer|test|queries)-([0-9a-f]{24}(?:[0-9a-f]{8})?)$/;
const SIDE_HEADER = /^side-([0-9a-f]{24}(?:[0-9a-f]{8})?)\.json$/;
/** How deep below a root entries are looked for (a sweep keeps query phases in queries/<key>/). */
const MAX_DEPTH = 3;

interface Header {
  kind?: string;
  format?: number;
  key?: string;
  identity?: unknown;
  inputs?: CacheInput[];
  createdAt?: string;
}

/** Memo of one listing: each model and image set is hashed once however many entries name it. */
class InputChecker {
  private readonly models = new Map<string, Promise<string>>();
  private readonly sets = new Map<string, Promise<string>>();

  async check(input: CacheInput): Promise<{ stale?: string; unchecked?: string }> {
    if (input.kind === 'model') {
      let now: string;
      try {
        now = await this.memo(this.models, input.dir, () => hashModelDir(input.dir));
      } catch {
        return { stale: `${input.role} ${input.dir} is gone or unreadable` };
      }
      return now === input.sha256 ? {} : { stale: `${input.role} ${input.dir} changed (sha256 ${short(input.sha256)} → ${short(now)})` };
    }
    const what = `${input.role} ${input.dataset}/${input.split}${input.limit !== null ? ` (first ${input.limit})` : ''}`;
    let now: string;
    try {
      const memoKey = JSON.stringify([input.dataset, input.split, input.dataDir, input.limit]);
      now = await this.memo(this.sets, memoKey, async () => {
        // Checking a cache never downloads: a dataset missing here is reported as not checked.
        const set = await loadImageSet(input.dataset, input.split, {
          download: false,
          ...(input.dataDir !== null ? { dataDir: input.dataDir } : {}),
          ...(input.limit !== null ? { limit: input.limit } : {}),
        });
        return hashImageSet(set);
      });
    } catch (err) {
      return { unchecked: `${what}: ${(err as Error).message.split('\n')[0]}` };
    }
    return now === input.sha256 ? {} : { stale: `${what} changed (sha256 ${short(input.sha256)} → ${short(now)})` };
  }

  private memo(map: Map<string, Promise<string>>, key: string, compute: () => Promise<string>): Promise<string> {
    let p = map.get(key);
    if (!p) {
      p = compute();
      map.set(key, p);
    }
    return p;
  }
}

function short(sha: string): string {
  return `${sha.slice(0, 12)}…`;
}

/** Every entry under `root` (missing root: none), with what makes each stale. */
export async function listCache(root: string): Promise<CacheEntryInfo[]> {
  const checker = new InputChecker();
  const out: CacheEntryInfo[] = [];
  for (const dir of await entryDirs(root, 0)) {
    const match = ENTRY_DIR.exec(path.basename(dir))!;
    const kind = match[1] as CacheKind;
    const key = match[2]!;
    const files = await fs.readdir(dir);
    const header = await readHeader(path.join(dir, 'header.json'));
    const sideFiles = new Set(files.filter((f) => f.startsWith('side-')));
    const bytes = await sizeOf(dir, files.filter((f) => !sideFiles.has(f)));
    out.push(await describe(kind, key, dir, [dir], bytes, header, checker));
    for (const file of files) {
      const side = SIDE_HEADER.exec(file);
      if (!side) continue;
      const sideKey = side[1]!;
      const data = `side-${sideKey}.f32`;
      const paths = [path.join(dir, file), ...(sideFiles.has(data) ? [path.join(dir, data)] : [])];
      const sideHeader = await readHeader(path.join(dir, file));
      const info = await describe('side', sideKey, path.join(dir, file), paths, await sizeOf(dir, paths.map((p) => path.basename(p))), sideHeader, checker);
      out.push(info);
    }
  }
  return out;
}

async function entryDirs(dir: string, depth: number): Promise<string[]> {
  let names: Dirent[];
  try {
    names = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found: string[] = [];
  for (const d of names.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!d.isDirectory()) continue;
    const full = path.join(dir, d.name);
    if (ENTRY_DIR.test(d.name)) found.push(full);
    else if (depth < MAX_DEPTH) found.push(...(await entryDirs(full, depth + 1)));
  }
  return found;
}

async function readHeader(file: string): Promise<Header | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Header;
  } catch {
    return null;
  }
}

async function sizeOf(dir: string, files: string[]): Promise<number> {
  let total = 0;
  for (const f of files) {
    try {
      total += (await fs.stat(path.join(dir, f))).size;
    } catch {
      // Removed meanwhile (another process pruning): counts nothing.
    }
  }
  return total;
}

async function describe(
  kind: CacheKind,
  key: string,
  location: string,
  paths: string[],
  bytes: number,
  header: Header | null,
  checker: InputChecker,
): Promise<CacheEntryInfo> {
  const info: CacheEntryInfo = { kind, key, location, paths, bytes, inputs: null, identity: null, createdAt: null, stale: [], unchecked: [] };
  if (!header) {
    // Never loaded (a header is written last); a killed write, or one under way right now.
    info.stale.push('incomplete: no readable header');
    return info;
  }
  info.createdAt = header.createdAt ?? null;
  const current = CACHE_FORMATS[kind];
  if (header.format !== current || !Array.isArray(header.inputs) || header.identity === undefined) {
    info.stale.push(`format ${String(header.format)}, current ${current}`);
    return info;
  }
  info.inputs = header.inputs;
  info.identity = header.identity;
  if (cacheKey(kind, header.format, header.identity) !== key) {
    // Written by a build whose keys differed (e.g. another version of the random streams).
    info.stale.push('its name is not the key of its recorded identity (written by another version)');
  }
  for (const input of header.inputs) {
    const result = await checker.check(input);
    if (result.stale) info.stale.push(result.stale);
    if (result.unchecked) info.unchecked.push(result.unchecked);
  }
  return info;
}

/**
 * Removes the stale entries among `entries` (a listing of one root), except incomplete ones
 * younger than `keepIncompleteMs` (their writer may still be running). Returns what it removed.
 */
export async function pruneStale(entries: readonly CacheEntryInfo[], keepIncompleteMs = 60 * 60 * 1000): Promise<CacheEntryInfo[]> {
  const removed: CacheEntryInfo[] = [];
  const removedDirs = new Set<string>();
  for (const entry of entries) {
    if (entry.stale.length === 0) continue;
    if (entry.inputs === null && entry.stale[0]?.startsWith('incomplete')) {
      const age = await ageMs(entry.location);
      if (age !== null && age < keepIncompleteMs) continue;
    }
    // Side rows inside a folder already removed went with it.
    if (entry.kind === 'side' && removedDirs.has(path.dirname(entry.location))) {
      removed.push(entry);
      continue;
    }
    for (const p of entry.paths) await fs.rm(p, { recursive: true, force: true });
    if (entry.kind !== 'side') removedDirs.add(entry.location);
    removed.push(entry);
  }
  return removed;
}

async function ageMs(file: string): Promise<number | null> {
  try {
    return Date.now() - (await fs.stat(file)).mtimeMs;
  } catch {
    return null;
  }
}
