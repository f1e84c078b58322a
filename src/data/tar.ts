/**
 * Reads members of a (gzipped) tar archive, such as the official CIFAR archives, as a stream
 * through the `tar` package's Parser: nothing is unpacked to disk, only the members asked for
 * are kept, and reading stops once it has them all. This file only maps the package's errors to
 * messages that name the archive.
 */
import { createReadStream } from 'node:fs';
import { Parser, type ReadEntry } from 'tar';
import { RuntimeFailure } from '../errors.js';
import { describeFsError } from './bytes.js';

/** tar's entry types that hold a regular file's bytes. */
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Read the named members (paths as stored in the archive, e.g. 'cifar-10-batches-bin/test_batch.bin')
 * out of a .tar.gz (or plain .tar) file. Missing members, a damaged gzip stream, a bad header
 * checksum or a truncated archive are RuntimeFailures naming the archive.
 */
export async function readTarMembers(archive: string, wanted: readonly string[]): Promise<Map<string, Buffer>> {
  const want = new Set(wanted);
  const found = new Map<string, Buffer>();
  const file = createReadStream(archive);
  try {
    await new Promise<void>((resolve, reject) => {
      // strict: every problem the parser notices is an error, never a warning skipped over.
      const parser = new Parser({
        strict: true,
        filter: (member, entry) => want.has(member) && !found.has(member) && 'type' in entry && FILE_TYPES.has(entry.type),
        onReadEntry: (entry: ReadEntry) => {
          const chunks: Buffer[] = [];
          entry.on('data', (chunk: Buffer) => chunks.push(chunk));
          entry.on('end', () => {
            found.set(entry.path, Buffer.concat(chunks));
            if (found.size === want.size) resolve();
          });
        },
      });
      parser.on('error', reject);
      parser.on('end', resolve);
      file.on('error', reject);
      file.pipe(parser);
    });
  } catch (err) {
    throw asTarFailure(err, archive);
  } finally {
    file.destroy();
  }
  const missing = wanted.filter((m) => !found.has(m));
  if (missing.length > 0) {
    throw new RuntimeFailure(`${archive}: the archive has no member ${missing.join(', ')}: it is not the expected archive`);
  }
  return found;
}

function asTarFailure(err: unknown, archive: string): unknown {
  const e = err as NodeJS.ErrnoException & { tarCode?: string };
  // zlib errors (through tar, which keeps their code) are Z_DATA_ERROR (damaged) or Z_BUF_ERROR (cut short).
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) {
    return new RuntimeFailure(`${archive}: bad gzip data (${e.message}): the archive is corrupt or truncated`);
  }
  if (e?.tarCode === 'TAR_ENTRY_INVALID' && /checksum/.test(e.message)) {
    return new RuntimeFailure(`${archive}: not a valid tar archive (header checksum mismatch)`);
  }
  if (e?.tarCode === 'TAR_BAD_ARCHIVE' && /Truncated/.test(e.message)) {
    return new RuntimeFailure(`${archive}: truncated: the archive ends inside a member`);
  }
  if (typeof e?.tarCode === 'string') {
    return new RuntimeFailure(`${archive}: not a valid tar archive (${e.message.replace(/^TAR_\w+: /, '')})`);
  }
  if (e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR' || e?.code === 'EPERM') {
    return new RuntimeFailure(`${archive}: cannot read it (${describeFsError(err)})`);
  }
  return err;
}
