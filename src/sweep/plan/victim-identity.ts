/**
 * The victim of a sweep as results depend on it (see VictimIdentity), and where its model lives:
 * a saved model is hashed (its weights.bin), a trained one is named by its train settings and
 * lives in `<out>/victim/`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../../errors.js';
import type { SweepConfig } from '../config/config-types.js';
import type { VictimIdentity } from './cell.js';
import { readVictimDirInfo } from '../config/parse-config.js';

export const VICTIM_SUBDIR = 'victim';

export interface ResolvedVictim {
  identity: VictimIdentity;
  /** The model directory cells load. */
  dir: string;
  /** True when the sweep trains it (into `dir`) before any cell runs. */
  trained: boolean;
}

export async function resolveVictim(config: SweepConfig, out: string): Promise<ResolvedVictim> {
  if (config.victim.kind === 'train') {
    const t = config.victim.train;
    return { identity: { dataset: t.dataset, arch: t.arch, train: t }, dir: path.join(out, VICTIM_SUBDIR), trained: true };
  }
  const dir = config.victim.dir;
  const info = readVictimDirInfo(dir);
  if ('problem' in info) throw new UsageError(`victim.dir: ${info.problem}`);
  const weights = await sha256File(path.join(dir, 'weights.bin'));
  return { identity: { dataset: info.dataset, arch: info.arch, weights }, dir, trained: false };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (err) {
    throw new UsageError(`victim.dir: ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}): the saved model is incomplete`);
  }
  return hash.digest('hex');
}

/** One line naming a victim, for messages. */
export function describeVictim(v: VictimIdentity): string {
  if (v.train) {
    const t = v.train;
    return `${t.dataset} ${t.arch} trained ${t.epochs} epochs (lr ${t.lr}, seed ${t.seed}${t.limit !== null ? `, limit ${t.limit}` : ''})`;
  }
  return `${v.dataset} ${v.arch} with weights sha256 ${v.weights?.slice(0, 12) ?? '?'}…`;
}
