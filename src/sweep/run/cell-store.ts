/**
 * The cells/ folder of a sweep: one JSON file per finished cell, written atomically, so a file
 * that exists is a finished cell and a killed run leaves nothing half-written. A file is trusted
 * only if its id is the hash of the settings it holds.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeJsonAtomic } from '../../util/atomic.js';
import { shortHash } from '../plan/hash.js';
import { CELL_FORMAT, type CellRecord } from './cell-record.js';

export const CELLS_DIR = 'cells';
const CELL_FILE = /^([0-9a-f]{12})\.json$/;

export function cellPath(out: string, id: string): string {
  return path.join(out, CELLS_DIR, `${id}.json`);
}

/** Ids of every cell file present (finished cells, of this grid or an earlier version of it). */
export async function listCellFiles(out: string): Promise<Set<string>> {
  let names: string[];
  try {
    names = await fs.readdir(path.join(out, CELLS_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
    throw err;
  }
  const ids = new Set<string>();
  for (const name of names) {
    const m = CELL_FILE.exec(name);
    if (m) ids.add(m[1]!);
  }
  return ids;
}

type CellReadResult = { ok: true; record: CellRecord } | { ok: false; problem: string };

export async function readCell(out: string, id: string): Promise<CellReadResult> {
  const file = cellPath(out, id);
  let record: CellRecord;
  try {
    record = JSON.parse(await fs.readFile(file, 'utf8')) as CellRecord;
  } catch (err) {
    return { ok: false, problem: `${file} is unreadable (${(err as Error).message})` };
  }
  const format: unknown = record.format;
  if (format !== CELL_FORMAT) return { ok: false, problem: `${file} has format ${String(format)}, not ${CELL_FORMAT}` };
  if (record.id !== id || shortHash(record.settings) !== id) {
    return { ok: false, problem: `${file} holds the settings of another cell (edited or damaged)` };
  }
  return { ok: true, record };
}

export async function writeCell(out: string, record: CellRecord): Promise<void> {
  await writeJsonAtomic(cellPath(out, record.id), record);
}

/** Cells that failed, one small JSON file each (the reason's first line), for `--status`; removed once the cell succeeds. */
const FAILED_DIR = 'failed';

interface FailureNote {
  id: string;
  reason: string;
  host: string;
  at: string;
}

export async function recordFailure(out: string, id: string, err: unknown): Promise<void> {
  const text = err instanceof Error ? err.message : String(err);
  const note: FailureNote = { id, reason: text.split('\n')[0]!.slice(0, 300), host: os.hostname(), at: new Date().toISOString() };
  await writeJsonAtomic(path.join(out, FAILED_DIR, `${id}.json`), note);
}

export async function clearFailure(out: string, id: string): Promise<void> {
  await fs.rm(path.join(out, FAILED_DIR, `${id}.json`), { force: true });
}

export async function readFailures(out: string): Promise<Map<string, FailureNote>> {
  const notes = new Map<string, FailureNote>();
  for (const name of await fs.readdir(path.join(out, FAILED_DIR)).catch(() => [] as string[])) {
    try {
      const note = JSON.parse(await fs.readFile(path.join(out, FAILED_DIR, name), 'utf8')) as FailureNote;
      if (typeof note.id === 'string') notes.set(note.id, note);
    } catch {
      // Being replaced, or damaged: the cell shows as pending.
    }
  }
  return notes;
}
