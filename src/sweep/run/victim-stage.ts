/**
 * The victim of a `victim: {train: …}` sweep is trained once, before any cell runs, into
 * `<out>/victim/`, and reused by every cell, every rerun and every shard. Shards starting
 * together agree through a lock file: one trains, the others wait for it.
 * Training runs in a worker process, so this process stays responsive (lock heartbeats,
 * signals) while it runs.
 * What the defenses build beside the victim (their prepare()) is not built here but by the
 * workers, as tasks of their own beside the cells (scheduler.ts).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { FileLock } from './file-lock.js';
import { LOCKS_DIR } from './shared-work.js';
import type { SweepPlan } from '../plan/plan.js';
import type { WorkerPool } from './worker-pool.js';
import { VICTIM_SUBDIR, describeVictim } from '../plan/victim-identity.js';
import { hasSavedModel, PARAMS_FILE } from '../../models/files.js';
import { removeStaleTemporaries } from '../../util/safe-fs.js';


export async function prepareVictim(plan: SweepPlan, pool: WorkerPool, log: (line: string) => void): Promise<void> {
  const victim = plan.victim;
  const source = plan.config.victim;
  if (!victim.trained || source.kind !== 'train') return;
  if (await hasSavedModel(victim.dir)) return;
  const lock = await FileLock.acquire(path.join(plan.out, LOCKS_DIR, 'victim.lock'), {
    onWait: (holder) => log(`waiting for the victim, being trained by ${holder.host} (pid ${holder.pid}) since ${holder.since}`),
  });
  try {
    // First put back a victim a killed retraining had moved aside: removeLeftovers would delete it.
    await removeStaleTemporaries(plan.out);
    if (await hasSavedModel(victim.dir)) return;
    await removeLeftovers(plan.out);
    log(`training the victim: ${describeVictim(victim.identity)} → ${victim.dir}`);
    const started = performance.now();
    await pool.run({ type: 'train-victim', settings: source.train, dir: victim.dir, dataDirs: plan.config.dataDirs });
    const accuracy = await testAccuracy(victim.dir);
    log(`victim trained in ${((performance.now() - started) / 1000).toFixed(0)} s${accuracy !== null ? `: test accuracy ${(100 * accuracy).toFixed(2)}%` : ''}`);
  } finally {
    await lock.release();
  }
}

async function testAccuracy(dir: string): Promise<number | null> {
  try {
    const params = JSON.parse(await fs.readFile(path.join(dir, PARAMS_FILE), 'utf8')) as { metrics?: { testAccuracy?: number } };
    return params.metrics?.testAccuracy ?? null;
  } catch {
    return null;
  }
}

/** Half-built victim directories of a killed training (reserveOutputDir's temporaries). We hold the lock: nobody else writes them. */
async function removeLeftovers(out: string): Promise<void> {
  const prefix = `.${VICTIM_SUBDIR}.tmp-`;
  for (const name of await fs.readdir(out).catch(() => [] as string[])) {
    if (name.startsWith(prefix)) await fs.rm(path.join(out, name), { recursive: true, force: true });
  }
}
