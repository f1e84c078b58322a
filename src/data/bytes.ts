/**
 * Reading the bytes of one data file, wherever it lives (a plain file, a member of a zip), and
 * undoing gzip when the bytes are gzip. Every failure is a RuntimeFailure that names the file.
 */
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { RuntimeFailure } from '../errors.js';

const gunzipAsync = promisify(zlib.gunzip);

/** A named thing that yields bytes: `name` is what error messages and provenance show. */
export interface ByteSource {
  name: string;
  read(): Promise<Buffer>;
}

export function fileSource(file: string): ByteSource {
  return { name: file, read: () => readWholeFile(file) };
}

export async function readWholeFile(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new RuntimeFailure(`${file}: cannot read it (${describeFsError(err)})`);
  }
}

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * The bytes of a source with gzip undone. Gzip is recognised by its magic bytes, not by the
 * name, so a raw file named .gz and a gzip file without .gz both read correctly; a .gz name on
 * bytes that are not gzip is reported, since it means a damaged or mislabelled download.
 */
export async function readMaybeGzip(source: ByteSource): Promise<Buffer> {
  const raw = await source.read();
  if (isGzip(raw)) return gunzipNamed(raw, source.name);
  if (source.name.endsWith('.gz')) {
    throw new RuntimeFailure(`${source.name}: not a gzip file (it does not start with the gzip magic bytes 1f 8b)`);
  }
  return raw;
}

async function gunzipNamed(buf: Buffer, name: string): Promise<Buffer> {
  try {
    return await gunzipAsync(buf);
  } catch (err) {
    throw new RuntimeFailure(`${name}: bad gzip data (${(err as Error).message}): the file is corrupt or truncated`);
  }
}

/** The first bytes of a possibly gzipped file, without reading or inflating all of it. */
export async function peekMaybeGzip(file: string, count: number): Promise<Buffer> {
  let head: Buffer;
  try {
    const handle = await fs.open(file, 'r');
    try {
      // 64 KiB of deflate data always holds more than a few dozen inflated header bytes.
      const buf = Buffer.alloc(65536);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new RuntimeFailure(`${file}: cannot read it (${describeFsError(err)})`);
  }
  if (!isGzip(head)) return head.subarray(0, count);
  try {
    // Z_SYNC_FLUSH makes zlib hand back what it decoded instead of failing on the cut-off end.
    return zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, count);
  } catch (err) {
    throw new RuntimeFailure(`${file}: bad gzip data (${(err as Error).message}): the file is corrupt or truncated`);
  }
}

export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file';
  if (e?.code === 'EISDIR') return 'it is a folder';
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return 'permission denied';
  return e?.code ?? e?.message ?? String(err);
}

/** True when `p` exists and is a regular file. */
export async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

/** The first of `candidates` that is a file, or undefined. */
export async function firstFile(candidates: readonly string[]): Promise<string | undefined> {
  for (const c of candidates) if (await isFile(c)) return c;
  return undefined;
}
