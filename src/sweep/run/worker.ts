/**
 * Entry of a sweep worker process (forked by worker-pool.ts). It loads its runner (and so
 * TensorFlow.js) once, then answers one request at a time. When the sweep process goes away
 * (killed, even with SIGKILL, closes the IPC channel) the worker exits at once: a cell it was
 * running is simply not finished, and the next run does it again.
 */
import * as os from 'node:os';
import { installedVersion, packageVersion } from '../../util/package-info.js';
import { gitCommit, TRACKED_PACKAGES } from '../../util/provenance.js';
import { loadExtensions } from '../../extensions.js';
import { prepareDefense } from '../../defenses/create.js';
import { writeLineBesideProgress } from '../../util/progress.js';
import type { CellSettings } from '../plan/cell.js';
import { CELL_FORMAT, type CellRecord } from './cell-record.js';
import { loadRunnerModule } from './runner-module.js';
import type { CellRunner, RunnerEnvironment } from './runner.js';
import { serializeError, type WorkerReply, type WorkerRequest } from './worker-protocol.js';

let runner: CellRunner | null = null;
let environment: RunnerEnvironment | null = null;
let quiet = false;

process.on('disconnect', () => process.exit(0));

process.on('message', (message: WorkerRequest) => {
  handle(message).then(
    (reply) => send(reply),
    (err: unknown) => send({ type: 'error', error: serializeError(err) }),
  );
});

function send(reply: WorkerReply): void {
  if (process.connected) process.send?.(reply);
}

async function handle(message: WorkerRequest): Promise<WorkerReply> {
  if (message.type === 'init') {
    quiet = message.quiet;
    // The cells may name attacks an extension declares (the sweep process loaded them too).
    await loadExtensions();
    runner = (await loadRunnerModule(message.runnerModule)).createRunner();
    environment = await runner.init(message.backend);
    return { type: 'ok' };
  }
  if (!runner || !environment) throw new Error('sweep worker: request before init');
  if (message.type === 'train-victim') {
    await runner.trainVictim(message.settings, message.dir, message.dataDirs, quiet);
    return { type: 'ok' };
  }
  if (message.type === 'prepare-defense') {
    await prepare(message.settings, message.victimDir);
    return { type: 'ok' };
  }
  const startedAt = new Date();
  // Usually built already by a prepare task (then this finds it and returns); the scheduler lets
  // only one cell or task at a time build it.
  await prepare(message.cell.settings, message.context.victimDir);
  const outcome = await runner.runCell(message.cell, message.context);
  const packages: Record<string, string | null> = {};
  for (const p of TRACKED_PACKAGES) packages[p] = installedVersion(p);
  const record: CellRecord = {
    format: CELL_FORMAT,
    id: message.cell.id,
    settings: message.cell.settings,
    metrics: outcome.metrics,
    seconds: outcome.seconds,
    provenance: {
      runner: runner.kind,
      backend: environment.backend,
      backendVersion: environment.backendVersion,
      tfjsVersion: environment.tfjsVersion,
      poisonVersion: packageVersion(),
      packages,
      gitCommit: gitCommit(),
      node: process.version,
      host: os.hostname(),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
    },
  };
  return { type: 'ok', record };
}

/** What the defense builds beside the victim, idempotently; its report lines go to stderr unless quiet. */
async function prepare(settings: Pick<CellSettings, 'defense' | 'seed'>, victimDir: string): Promise<void> {
  // The sweep process may be drawing a progress bar on the stderr this worker shares.
  await prepareDefense(settings.defense, { victimDir, seed: settings.seed, ...(quiet ? {} : { reporter: { line: writeLineBesideProgress } }) });
}
