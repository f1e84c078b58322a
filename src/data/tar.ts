/**
 * A small streaming reader for (gzipped) tar archives, enough for the official CIFAR archives:
 * ustar/GNU/pax headers, regular files, long names. It keeps only the members asked for and
 * stops reading once it has them all.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { RuntimeFailure } from '../errors.js';
import { describeFsError } from './bytes.js';
import { ChunkReader } from './stream-reader.js';

const BLOCK = 512;

interface TarHeader {
  name: string;
  size: number;
  type: string;
}

/**
 * Read the named members (paths as stored in the archive, e.g. 'cifar-10-batches-bin/test_batch.bin')
 * out of a .tar.gz (or plain .tar) file. Missing members, a damaged gzip stream, a bad header
 * checksum or a truncated archive are RuntimeFailures naming the archive.
 */
export async function readTarMembers(archive: string, wanted: readonly string[]): Promise<Map<string, Buffer>> {
  const want = new Set(wanted);
  const found = new Map<string, Buffer>();
  const file = createReadStream(archive);
  const isGz = archive.endsWith('.gz') || archive.endsWith('.tgz');
  const gunzip = isGz ? createGunzip() : undefined;
  const stream = gunzip ? file.pipe(gunzip) : file;
  // Errors of the file stream do not travel through pipe(): forward them.
  if (gunzip) file.on('error', (err) => gunzip.destroy(err));
  const reader = new ChunkReader(stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  try {
    await walk(reader, archive, want, found);
  } catch (err) {
    throw asTarFailure(err, archive);
  } finally {
    file.destroy();
    gunzip?.destroy();
  }
  const missing = wanted.filter((m) => !found.has(m));
  if (missing.length > 0) {
    throw new RuntimeFailure(`${archive}: the archive has no member ${missing.join(', ')}: it is not the expected archive`);
  }
  return found;
}

async function walk(reader: ChunkReader, archive: string, want: Set<string>, found: Map<string, Buffer>): Promise<void> {
  let longName: string | undefined;
  while (found.size < want.size) {
    const at = reader.position;
    const block = await reader.read(BLOCK);
    if (block.length === 0) return; // end without the two zero blocks: tolerated like GNU tar
    if (block.length < BLOCK) throw new RuntimeFailure(`${archive}: truncated: the archive ends inside a tar header at byte ${at}`);
    if (block.every((b) => b === 0)) return;
    const header = parseHeader(block, archive, at);
    const padded = Math.ceil(header.size / BLOCK) * BLOCK;
    if (header.type === 'L' || header.type === 'x') {
      // GNU long name, or pax extended header: both carry the next member's real path.
      const body = await readExactly(reader, header.size, archive, header.name);
      await skipExactly(reader, padded - header.size, archive, header.name);
      longName = header.type === 'L' ? body.toString('utf8').replace(/\0+$/, '') : paxPath(body) ?? longName;
      continue;
    }
    const name = longName ?? header.name;
    longName = undefined;
    const isFile = header.type === '0' || header.type === '\0' || header.type === '7';
    if (isFile && want.has(name) && !found.has(name)) {
      found.set(name, await readExactly(reader, header.size, archive, name));
      await skipExactly(reader, padded - header.size, archive, name);
    } else {
      await skipExactly(reader, padded, archive, name);
    }
  }
}

function parseHeader(block: Buffer, archive: string, at: number): TarHeader {
  const stored = parseOctal(block.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (stored === undefined || stored !== sum) {
    throw new RuntimeFailure(`${archive}: not a valid tar archive (header checksum mismatch at byte ${at})`);
  }
  const name = cString(block.subarray(0, 100));
  const magic = block.subarray(257, 262).toString('latin1');
  const prefix = magic === 'ustar' ? cString(block.subarray(345, 500)) : '';
  const size = parseSize(block.subarray(124, 136));
  if (size === undefined) throw new RuntimeFailure(`${archive}: not a valid tar archive (bad size field at byte ${at})`);
  return { name: prefix ? `${prefix}/${name}` : name, size, type: String.fromCharCode(block[156]!) };
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('utf8');
}

function parseOctal(b: Buffer): number | undefined {
  const text = b.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return undefined;
  return parseInt(text, 8);
}

/** Sizes are octal, or (GNU, for ≥ 8 GiB) big-endian binary flagged by the top bit. */
function parseSize(b: Buffer): number | undefined {
  if ((b[0]! & 0x80) !== 0) {
    let v = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    return v;
  }
  return parseOctal(b);
}

/** The `path` record of a pax extended header ("<len> path=<value>\n" records). */
function paxPath(body: Buffer): string | undefined {
  const text = body.toString('utf8');
  const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text);
  return m?.[1];
}

async function readExactly(reader: ChunkReader, n: number, archive: string, member: string): Promise<Buffer> {
  const buf = await reader.read(n);
  if (buf.length < n) throw new RuntimeFailure(`${archive}: truncated: the archive ends inside member ${member}`);
  return buf;
}

async function skipExactly(reader: ChunkReader, n: number, archive: string, member: string): Promise<void> {
  if ((await reader.skip(n)) < n) throw new RuntimeFailure(`${archive}: truncated: the archive ends inside member ${member}`);
}

function asTarFailure(err: unknown, archive: string): unknown {
  if (err instanceof RuntimeFailure) return err;
  const e = err as NodeJS.ErrnoException;
  // zlib stream errors carry codes like Z_DATA_ERROR (damaged) or Z_BUF_ERROR (cut short).
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) {
    return new RuntimeFailure(`${archive}: bad gzip data (${e.message}): the archive is corrupt or truncated`);
  }
  if (e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR' || e?.code === 'EPERM') {
    return new RuntimeFailure(`${archive}: cannot read it (${describeFsError(err)})`);
  }
  return err;
}
