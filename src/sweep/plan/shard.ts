/**
 * `--shard i/n`: machine i of n runs a fixed 1/n of the cells, so a Slurm job array or a
 * Kubernetes indexed Job spreads one sweep over machines sharing a filesystem. Shards are
 * 1-based ("shard 1 of 4"). Cells are dealt round-robin in order of their ids: every machine
 * computes the same split from the config alone (whatever the order of its YAML), and the
 * shards differ in size by at most one. Growing the grid may move unfinished cells to another
 * shard; finished cells are skipped wherever they fall, so that is harmless.
 */
import { UsageError } from '../../errors.js';

export interface Shard {
  index: number;
  count: number;
}

export const WHOLE: Shard = { index: 1, count: 1 };

export function parseShard(raw: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw);
  if (!m) throw new UsageError(`--shard takes i/n (this machine's shard i of n, 1 ≤ i ≤ n), e.g. --shard 2/8; got '${raw}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || !Number.isSafeInteger(count)) throw new UsageError(`--shard ${raw}: n must be at least 1`);
  if (index < 1 || index > count) {
    throw new UsageError(`--shard ${raw}: i must be between 1 and ${count} (shards are numbered from 1; in a 0-based array use $((index + 1))/${count})`);
  }
  return { index, count };
}

/** The ids this shard runs, from the full list of the grid's ids. */
export function shardOf<T extends { id: string }>(cells: readonly T[], shard: Shard): T[] {
  if (shard.count === 1) return [...cells];
  const sorted = [...cells].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted.filter((_, i) => i % shard.count === shard.index - 1);
}
