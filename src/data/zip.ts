/**
 * A small zip reader, enough to take single members out of EMNIST's official gzip.zip without
 * unpacking the whole 560 MB: it reads the central directory at the end of the file, then only
 * the members asked for (stored or deflated, Zip64 sizes included), and checks each one's CRC-32.
 */
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { RuntimeFailure } from '../errors.js';
import { describeFsError } from './bytes.js';

const inflateRawAsync = promisify(zlib.inflateRaw);

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_MIN = 22;
const MAX_COMMENT = 0xffff;

interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

async function readAt(handle: fs.FileHandle, position: number, length: number, archive: string): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buf, 0, length, position);
  if (bytesRead < length) {
    throw new RuntimeFailure(`${archive}: truncated: the zip archive ends before byte ${position + length}`);
  }
  return buf;
}

async function openArchive(archive: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(archive, 'r');
  } catch (err) {
    throw new RuntimeFailure(`${archive}: cannot read it (${describeFsError(err)})`);
  }
}

/** Every entry of the archive's central directory. */
export async function readZipDirectory(archive: string): Promise<ZipEntry[]> {
  const handle = await openArchive(archive);
  try {
    return await readDirectory(handle, archive);
  } finally {
    await handle.close();
  }
}

async function readDirectory(handle: fs.FileHandle, archive: string): Promise<ZipEntry[]> {
  const { size } = await handle.stat();
  if (size < EOCD_MIN) throw new RuntimeFailure(`${archive}: not a zip archive (${size} bytes is too short)`);
  const tailLength = Math.min(size, EOCD_MIN + MAX_COMMENT);
  const tailStart = size - tailLength;
  const tail = await readAt(handle, tailStart, tailLength, archive);
  let eocd = -1;
  for (let i = tail.length - EOCD_MIN; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new RuntimeFailure(`${archive}: not a zip archive, or truncated (no end-of-central-directory record)`);
  }
  let entries = tail.readUInt16LE(eocd + 10);
  let dirSize = tail.readUInt32LE(eocd + 12);
  let dirOffset = tail.readUInt32LE(eocd + 16);
  if (entries === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    // Zip64: a locator just before the EOCD points at the 64-bit directory record.
    const loc = eocd - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== ZIP64_LOCATOR_SIG) {
      throw new RuntimeFailure(`${archive}: damaged zip archive (Zip64 locator missing)`);
    }
    const rec = await readAt(handle, Number(tail.readBigUInt64LE(loc + 8)), 56, archive);
    if (rec.readUInt32LE(0) !== ZIP64_EOCD_SIG) throw new RuntimeFailure(`${archive}: damaged zip archive (bad Zip64 record)`);
    entries = Number(rec.readBigUInt64LE(32));
    dirSize = Number(rec.readBigUInt64LE(40));
    dirOffset = Number(rec.readBigUInt64LE(48));
  }
  if (dirOffset + dirSize > size) {
    throw new RuntimeFailure(`${archive}: truncated: its central directory lies beyond the end of the file`);
  }
  const dir = await readAt(handle, dirOffset, dirSize, archive);
  const out: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < entries; i++) {
    if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL_SIG) {
      throw new RuntimeFailure(`${archive}: damaged zip archive (bad central directory entry ${i})`);
    }
    const nameLen = dir.readUInt16LE(p + 28);
    const extraLen = dir.readUInt16LE(p + 30);
    const commentLen = dir.readUInt16LE(p + 32);
    const entry: ZipEntry = {
      name: dir.subarray(p + 46, p + 46 + nameLen).toString('utf8'),
      method: dir.readUInt16LE(p + 10),
      crc32: dir.readUInt32LE(p + 16),
      compressedSize: dir.readUInt32LE(p + 20),
      uncompressedSize: dir.readUInt32LE(p + 24),
      localHeaderOffset: dir.readUInt32LE(p + 42),
    };
    applyZip64Extra(entry, dir.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
    out.push(entry);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Zip64 extra field (id 1): 64-bit values for exactly those fields that hold 0xffffffff. */
function applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
  let q = 0;
  while (q + 4 <= extra.length) {
    const id = extra.readUInt16LE(q);
    const len = extra.readUInt16LE(q + 2);
    if (id === 0x0001) {
      let v = q + 4;
      const next = (): number => {
        const n = Number(extra.readBigUInt64LE(v));
        v += 8;
        return n;
      };
      if (entry.uncompressedSize === 0xffffffff) entry.uncompressedSize = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
      return;
    }
    q += 4 + len;
  }
}

/** The inflated, CRC-checked bytes of the named members, reading the directory once. */
export async function readZipMembers(archive: string, memberNames: readonly string[]): Promise<Map<string, Buffer>> {
  const handle = await openArchive(archive);
  try {
    const entries = await readDirectory(handle, archive);
    const out = new Map<string, Buffer>();
    for (const name of memberNames) {
      const entry = entries.find((e) => e.name === name);
      if (!entry) throw new RuntimeFailure(`${archive}: the archive has no member ${name}: it is not the expected archive`);
      out.set(name, await readEntry(handle, archive, entry));
    }
    return out;
  } finally {
    await handle.close();
  }
}

async function readEntry(handle: fs.FileHandle, archive: string, entry: ZipEntry): Promise<Buffer> {
  const local = await readAt(handle, entry.localHeaderOffset, 30, archive);
  if (local.readUInt32LE(0) !== LOCAL_SIG) {
    throw new RuntimeFailure(`${archive}: damaged zip archive (bad local header for ${entry.name})`);
  }
  // Sizes are taken from the central directory: the local copy may be zero when a data descriptor follows.
  const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  const packed = await readAt(handle, dataStart, entry.compressedSize, archive);
  let data: Buffer;
  if (entry.method === 0) {
    data = packed;
  } else if (entry.method === 8) {
    try {
      data = await inflateRawAsync(packed);
    } catch (err) {
      throw new RuntimeFailure(`${archive}: bad deflate data in member ${entry.name} (${(err as Error).message})`);
    }
  } else {
    throw new RuntimeFailure(`${archive}: member ${entry.name} uses zip compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
  }
  if (data.length !== entry.uncompressedSize || zlib.crc32(data) !== entry.crc32) {
    throw new RuntimeFailure(`${archive}: member ${entry.name} fails its CRC-32/size check: the archive is corrupt`);
  }
  return data;
}
