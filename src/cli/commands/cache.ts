/**
 * `poison cache ls|prune [dir...]`: what the caches hold (kind, key, size, what each entry was
 * computed from) and which entries are stale, and removing the stale ones. A thin layer over
 * src/cache/inventory.ts, imported inside the actions so `--help` loads nothing heavy.
 */
import type { Command } from 'commander';
import type { CacheEntryInfo } from '../../cache/inventory.js';

/** `poison attack` and `poison sweep` cache here unless told otherwise. */
const DEFAULT_CACHE_DIR = 'results/cache';

interface CacheFlags {
  json?: boolean;
  dryRun?: boolean;
}

export function registerCache(program: Command): void {
  const cache = program
    .command('cache')
    .description('list cached posteriors, side rows and query phases, and which are stale; prune the stale ones');
  cache
    .command('ls')
    .description('list every entry (kind, key, size, inputs) and say which are stale and why')
    .argument('[dirs...]', `cache folders: a --cache-dir, or a sweep's queries/ folder (default: ${DEFAULT_CACHE_DIR})`)
    .option('--json', 'one JSON array instead of the table', false)
    .action(async (dirs: string[], flags: CacheFlags) => {
      const entries = await listAll(dirs);
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
        return;
      }
      for (const entry of entries) process.stdout.write(describeEntry(entry));
      process.stdout.write(`${summary(entries)}\n`);
    });
  cache
    .command('prune')
    .description('remove the stale entries (old format, or inputs whose content changed); current ones stay')
    .argument('[dirs...]', `cache folders (default: ${DEFAULT_CACHE_DIR})`)
    .option('--dry-run', 'say what would be removed, remove nothing', false)
    .action(async (dirs: string[], flags: CacheFlags) => {
      const { pruneStale } = await import('../../cache/inventory.js');
      const entries = await listAll(dirs);
      const removed = flags.dryRun === true ? entries.filter((e) => e.stale.length > 0) : await pruneStale(entries);
      for (const entry of removed) {
        process.stdout.write(`${flags.dryRun === true ? 'would remove' : 'removed'} ${entry.kind} ${entry.key} (${formatBytes(entry.bytes)}): ${entry.stale.join('; ')}\n`);
      }
      const bytes = removed.reduce((sum, e) => sum + e.bytes, 0);
      process.stdout.write(`${flags.dryRun === true ? 'would remove' : 'removed'} ${removed.length} stale entries (${formatBytes(bytes)}); ${entries.length - removed.length} kept\n`);
    });
}

async function listAll(dirs: string[]): Promise<CacheEntryInfo[]> {
  const { listCache } = await import('../../cache/inventory.js');
  const roots = dirs.length > 0 ? dirs : [DEFAULT_CACHE_DIR];
  const entries: CacheEntryInfo[] = [];
  for (const root of roots) entries.push(...(await listCache(root)));
  return entries;
}

function describeEntry(entry: CacheEntryInfo): string {
  const status = entry.stale.length > 0 ? 'STALE' : 'ok';
  const lines = [`${status} ${entry.kind} ${entry.key} ${formatBytes(entry.bytes)} ${entry.createdAt ?? ''} ${entry.location}`.trimEnd()];
  for (const input of entry.inputs ?? []) {
    const where = input.kind === 'model' ? input.dir : `${input.dataset}/${input.split}${input.limit !== null ? ` first ${input.limit}` : ''}${input.dataDir !== null ? ` from ${input.dataDir}` : ''}`;
    lines.push(`    from ${input.role}: ${where} (sha256 ${input.sha256.slice(0, 12)}…)`);
  }
  for (const reason of entry.stale) lines.push(`    stale: ${reason}`);
  for (const reason of entry.unchecked) lines.push(`    not checked: ${reason}`);
  return `${lines.join('\n')}\n`;
}

function summary(entries: readonly CacheEntryInfo[]): string {
  const stale = entries.filter((e) => e.stale.length > 0);
  const total = entries.reduce((sum, e) => sum + e.bytes, 0);
  const staleBytes = stale.reduce((sum, e) => sum + e.bytes, 0);
  return `${entries.length} entries (${formatBytes(total)}), ${stale.length} stale (${formatBytes(staleBytes)}): \`poison cache prune\` removes the stale ones`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
