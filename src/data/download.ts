/**
 * Downloading one file so that it is either complete and verified in place, or absent: bytes
 * go to a temporary sibling while being hashed; only a full-length body with the pinned SHA-256
 * is renamed into place; on any failure the temporary file is deleted.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RuntimeFailure } from '../errors.js';
import { makeDirs, temporaryName } from '../util/safe-fs.js';

interface DownloadExpectation {
  sha256: string;
  size: number;
}

interface DownloadOptions {
  /** Called as bytes arrive. */
  onProgress?: (received: number, total: number) => void;
  /** Give up when the server sends nothing for this long (ms). */
  idleTimeoutMs?: number;
}

const MAX_REDIRECTS = 5;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export async function downloadVerified(
  url: string,
  target: string,
  expect: DownloadExpectation,
  opts: DownloadOptions = {},
): Promise<void> {
  const dir = path.dirname(target);
  await makeDirs(dir, 'download folder');
  const tmp = temporaryName(target);
  const name = path.basename(target);
  try {
    const response = await request(url, opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
    const hash = createHash('sha256');
    let received = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done: TransformCallback) {
        received += chunk.length;
        if (received > expect.size) {
          done(new RuntimeFailure(`${name}: download from ${url} is longer than the pinned ${expect.size} bytes: not the official file`));
          return;
        }
        hash.update(chunk);
        opts.onProgress?.(received, expect.size);
        done(null, chunk);
      },
    });
    try {
      await pipeline(response, meter, createWriteStream(tmp, { flags: 'wx' }));
    } catch (err) {
      if (err instanceof RuntimeFailure) throw err;
      // Disk errors (full, read-only, no permission) are not network trouble: keep them as they are.
      const syscall = (err as NodeJS.ErrnoException).syscall;
      if (syscall === 'open' || syscall === 'write' || syscall === 'close') throw err;
      throw new RuntimeFailure(
        `${name}: download from ${url} broke off after ${received} of ${expect.size} bytes (${describeNetError(err)}); nothing was kept, run the fetch again`,
      );
    }
    if (received !== expect.size) {
      throw new RuntimeFailure(
        `${name}: download from ${url} ended after ${received} of ${expect.size} bytes; nothing was kept, run the fetch again`,
      );
    }
    const got = hash.digest('hex');
    if (got !== expect.sha256) {
      throw new RuntimeFailure(
        `${name}: SHA-256 mismatch for ${url}: got ${got}, expected ${expect.sha256}; the file is corrupt or not the official one, nothing was kept`,
      );
    }
    await fsyncFile(tmp);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A 200 response for `url`, following redirects. */
function request(url: string, idleTimeoutMs: number, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new RuntimeFailure(`cannot download ${url}: not a valid URL`));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
    if (!client) {
      reject(new RuntimeFailure(`cannot download ${url}: only http and https URLs are supported`));
      return;
    }
    const req = client.get(parsed, { headers: { 'user-agent': 'poison-data-fetch' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new RuntimeFailure(`cannot download ${url}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        const next = new URL(res.headers.location, parsed).toString();
        request(next, idleTimeoutMs, redirects + 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new RuntimeFailure(`cannot download ${url}: the server answered HTTP ${status}`));
        return;
      }
      resolve(res);
    });
    // A stalled connection is an error too, not an endless wait.
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no data for ${idleTimeoutMs / 1000} s`)));
    req.on('error', (err) => reject(new RuntimeFailure(`cannot download ${url}: ${describeNetError(err)}`)));
  });
}

function describeNetError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ECONNRESET' || e?.message === 'aborted') return 'connection closed by the server';
  if (e?.code === 'ERR_STREAM_PREMATURE_CLOSE') return 'connection closed before the end';
  if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') return `cannot resolve the host (${e.code}): check the network`;
  if (e?.code === 'ECONNREFUSED') return 'connection refused';
  return e?.code ? `${e.code}: ${e.message}` : e?.message ?? String(err);
}
