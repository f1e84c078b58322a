/**
 * `poison sweep FILE`: plan the grid, claim the output directory, train the victim (once), run
 * this shard's unfinished cells on `jobs` worker processes, write each finished cell atomically,
 * then merge everything finished into sweep.csv, plots and summary.md.
 *
 * Killed at any moment (even SIGKILL) and rerun, it does only the cells that were not written
 * and ends with the same CSV: a cell file is the only record of a finished cell, it is written
 * whole or not at all, and the merge reads nothing else.
 */
import * as path from 'node:path';
import { isPoisonError, RuntimeFailure, UsageError } from '../errors.js';
import type { BackendName } from '../engine/backend-names.js';
import { planLine, startProgress, writeLineBesideProgress as warn } from '../util/progress.js';
import type { Cell } from './plan/cell.js';
import { CELLS_DIR, cellPath, clearFailure, listCellFiles, recordFailure, writeCell } from './run/cell-store.js';
import * as os from 'node:os';
import { ensureSweepData } from './plan/data-check.js';
import { OUTPUT_PROBE_MS } from '../util/outdir.js';
import { proveWritableDir, removeStaleTemporaries, withDeadline } from '../util/safe-fs.js';
import { describeCell, finishedLine } from './run/cell-line.js';
import { dryRunListing } from './plan/dry-run.js';
import { mergeSweep, readFinishedCells, type MergeReport } from './report/merge.js';
import { planSweep, type SweepPlan } from './plan/plan.js';
import { loadRunnerModule, runnerModuleFromEnv } from './run/runner-module.js';
import type { RunContext } from './run/runner.js';
import { CellScheduler, prepareTasksOf, type PrepareTask } from './run/scheduler.js';
import { FileGate } from './run/shared-work.js';
import { shardOf, type Shard } from './plan/shard.js';
import { claimSweepDir, inspectSweepDir, QUERIES_DIR } from './run/sweep-dir.js';
import { withoutCache } from './plan/grid.js';
import { prepareVictim } from './run/victim-stage.js';
import { WorkerPool } from './run/worker-pool.js';
import type { SlurmOptions } from './slurm/sbatch.js';
import { promises as fs } from 'node:fs';

interface SweepRequest {
  file: string;
  /** prepare: the victim and what the defenses build beside it, no cell; status: report only; slurm: write (and submit) the batch scripts. */
  mode: 'run' | 'dry-run' | 'merge' | 'prepare' | 'status' | 'slurm';
  /** With merge: list the cells not finished and fail when there are any (the Slurm merge job). */
  requireAll?: boolean;
  /** With status: JSON instead of text. */
  json?: boolean;
  slurm?: { options: SlurmOptions; submit: boolean; wait: boolean };
  jobs: number;
  shard: Shard;
  /** `--shard auto`: this process is one of an array's tasks pulling from every cell (shard: its place, for the log). */
  pullAll?: boolean;
  force: boolean;
  quiet: boolean;
  out?: string;
  cacheDir?: string;
  backend?: BackendName;
}

/** How long to wait before looking again when every remaining cell waits on another process. */
const POLL_MS = 2000;

export async function sweep(req: SweepRequest): Promise<void> {
  const plan = await planSweep(req.file, { out: req.out, backend: req.backend, cacheDir: req.cacheDir });
  const state = await inspectSweepDir(plan.out, plan.fingerprint, plan.victim.identity, req.force);
  if (req.mode === 'dry-run') {
    process.stdout.write(await dryRunListing(plan, state, req.shard));
    return;
  }
  if (req.mode === 'merge') {
    if (state.kind !== 'resume') throw new UsageError(`${plan.out} holds no cells of this sweep: nothing to merge (run \`poison sweep ${req.file}\` first)`);
    printMerge(await mergeSweep(plan), plan);
    if (req.requireAll) await failUnlessComplete(plan, req.file);
    return;
  }
  if (req.mode === 'status') {
    if (state.kind !== 'resume') throw new UsageError(`${plan.out} holds no cells of this sweep: nothing to report (run \`poison sweep ${req.file}\` first)`);
    const { sweepStatus, statusText } = await import('./slurm/status.js');
    const status = await sweepStatus(plan);
    process.stdout.write(req.json ? JSON.stringify(status, null, 2) + '\n' : statusText(status));
    return;
  }
  if (req.mode === 'slurm') {
    await slurmJobs(req, plan.out, plan.cacheDir);
    return;
  }
  const log = (line: string): void => {
    if (!req.quiet) warn(line);
  };
  // The output location is proven usable (bounded in time) before the data is checked or
  // fetched, and the data before anything is claimed or trained.
  const undoProbe = await withDeadline(proveWritableDir(plan.out, 'sweep output directory'), OUTPUT_PROBE_MS, `sweep output directory ${plan.out}`);
  const runnerModule = runnerModuleFromEnv();
  try {
    // A stand-in runner that reads no data needs none checked or fetched.
    if ((await loadRunnerModule(runnerModule)).readsData) await ensureSweepData(plan, log);
  } catch (err) {
    await undoProbe();
    throw err;
  }
  await withDeadline(claimSweepDir(plan.out, state, {
    fingerprint: plan.fingerprint,
    name: plan.config.name,
    config: req.file,
    victim: plan.victim.identity,
  }), OUTPUT_PROBE_MS, `sweep output directory ${plan.out}`);
  for (const dir of [plan.out, path.join(plan.out, CELLS_DIR), path.join(plan.out, 'runs'), path.join(plan.out, 'plots')]) {
    await removeStaleTemporaries(dir);
  }
  const pool = new WorkerPool(req.jobs, { runnerModule, backend: plan.backend, quiet: req.quiet });
  const gate = new FileGate(plan.out, (id) => fs.access(cellPath(plan.out, id)).then(() => true, () => false));
  // SIGTERM (preemption, scancel, a requeue) and SIGUSR1 (Slurm's --signal warning before the time
  // limit): the cells running here are left unfinished for another process or the requeued task.
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    // Synchronous on purpose: the process is going away. Locks go first (only those still ours) so
    // other tasks can take the cells at once.
    gate.releaseAllSync();
    pool.close();
    process.stderr.write(`\npoison: sweep stopped by ${signal}; finished cells are saved, its running cells are left to the other tasks (or a rerun)\n`);
    process.exit(128 + (os.constants.signals[signal] ?? 15));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  process.once('SIGUSR1', stopOnSignal);
  let outcome: CellsOutcome;
  try {
    // First, what will run: the victim may take a long training before the first cell.
    log(planLine('sweep', plan.config.name, [`${plan.cells.length} cells`, `up to ${req.jobs} worker${req.jobs > 1 ? 's' : ''}`], plan.backend ?? 'automatic (each worker chooses)'));
    await prepareVictim(plan, pool, log);
    const finished = await readFinishedCells(plan);
    for (const d of finished.damaged) {
      log(`${d.problem}: running that cell again`);
      await fs.rm(cellPath(plan.out, d.id), { force: true });
    }
    // Locks a killed process left (on a cell or a shared key it had finished, killed between the two writes).
    await gate.dropDeadHolders();
    const mine = req.pullAll || req.mode === 'prepare' ? [...plan.cells] : shardOf(plan.cells, req.shard);
    // Without a cache no transfer set is shared between cells; adaptive query phases still are.
    const todo = mine.filter((c) => !finished.records.has(c.id)).map((c) => (plan.cacheDir === null ? withoutCache(c) : c));
    const workers = Math.min(req.jobs, Math.max(1, todo.length));
    const shardText = req.pullAll
      ? ` (task ${req.shard.index}${req.shard.count > 0 ? ` of ${req.shard.count}` : ''}, pulling unclaimed cells)`
      : req.shard.count > 1 ? ` (shard ${req.shard.index}/${req.shard.count}: ${mine.length})` : '';
    log(
      `sweep ${plan.config.name}: ${plan.cells.length} cells${shardText}, ${mine.length - todo.length} already finished, ` +
        `${todo.length} to run on ${workers} worker${workers > 1 ? 's' : ''} → ${plan.out}`,
    );
    const context: RunContext = {
      victimDir: plan.victim.dir,
      runsDir: path.join(plan.out, 'runs'),
      queriesDir: path.join(plan.out, QUERIES_DIR),
      cacheDir: plan.cacheDir,
      dataDirs: plan.config.dataDirs,
      queryBatchSize: plan.config.queryBatchSize,
    };
    // prepare: only the tasks the cells' defenses need built beside the victim, no cell.
    outcome = await runCells(req.mode === 'prepare' ? [] : todo, prepareTasksOf(todo), plan, pool, gate, context, log, req.quiet);
  } finally {
    pool.close();
    await gate.releaseAll();
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    process.off('SIGUSR1', stopOnSignal);
  }

  const finishedNow = (await readFinishedCells(plan)).records.size;
  if (req.mode === 'prepare') {
    if (outcome.fatal) throw outcome.fatal;
    log(`prepared: the victim and what the defenses build beside it are ready (${plan.cells.length - finishedNow} cells to run)`);
    return;
  }
  if ((req.shard.count === 1 && !req.pullAll) || finishedNow === plan.cells.length) {
    printMerge(await mergeSweep(plan), plan);
  } else {
    log(
      req.pullAll
        ? `task ${req.shard.index} done: nothing left to pull; ${plan.cells.length - finishedNow} cells held by other tasks not finished yet. ` +
            `The last task to finish merges; or run \`poison sweep ${req.file} --merge\``
        : `shard ${req.shard.index}/${req.shard.count} done; ${plan.cells.length - finishedNow} cells of other shards not finished yet. ` +
            `The last shard to finish merges; or run \`poison sweep ${req.file} --merge\``,
    );
  }
  if (outcome.fatal) throw outcome.fatal;
  if (outcome.failed.length > 0) {
    const ids = outcome.failed.map((f) => f.cell.id);
    throw new RuntimeFailure(
      `${ids.length} cell${ids.length > 1 ? 's' : ''} failed (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}); ` +
        'the other cells are saved: rerun the same command to retry the failed ones',
    );
  }
}

interface CellsOutcome {
  failed: { cell: Cell; error: unknown }[];
  /** An error the user must act on (bad data, a usage error inside a cell): no further cell is started. */
  fatal: Error | null;
}

async function runCells(
  todo: Cell[],
  prepares: PrepareTask[],
  plan: SweepPlan,
  pool: WorkerPool,
  gate: FileGate,
  context: RunContext,
  log: (line: string) => void,
  quiet: boolean,
): Promise<CellsOutcome> {
  const scheduler = new CellScheduler(todo, gate, prepares);
  const progress = startProgress({ label: 'sweep', total: todo.length, quiet });
  const outcome: CellsOutcome = { failed: [], fatal: null };
  const running = new Set<Promise<void>>();
  let done = 0;

  // An error the user must act on (bad data, a usage error) ends the sweep: nothing further starts.
  const stopIfUserError = async (err: unknown): Promise<void> => {
    if (!isPoisonError(err) || outcome.fatal) return;
    outcome.fatal = err;
    await scheduler.abort();
  };

  const runOne = async (cell: Cell): Promise<void> => {
    let succeeded = false;
    try {
      const reply = await pool.run({ type: 'cell', cell, context });
      if (!reply.record) throw new Error('the worker sent no cell record');
      await writeCell(plan.out, { ...reply.record, provenance: { ...reply.record.provenance, task: taskName() } });
      await clearFailure(plan.out, cell.id);
      succeeded = true;
      done++;
      log(`[${done}/${todo.length}] ${finishedLine(cell, reply.record)}`);
    } catch (err) {
      outcome.failed.push({ cell, error: err });
      // Said even with --quiet: a failure is not progress.
      warn(`cell ${cell.id} (${describeCell(cell)}) failed: ${failureText(err)}`);
      await recordFailure(plan.out, cell.id, err).catch(() => undefined);
      await stopIfUserError(err);
    } finally {
      await scheduler.finished(cell, succeeded);
      progress.update(done);
    }
    if (succeeded && cell.queryStore) {
      await dropFinishedQueries(plan, cell.queryStore, gate).catch((err: unknown) => {
        warn(`could not delete ${path.join(plan.out, QUERIES_DIR, cell.queryStore!)} (${err instanceof Error ? err.message : String(err)}): it is only needed until its cells finish`);
      });
    }
  };

  // What a defense builds beside the victim runs in a worker of its own while the others run cells.
  const prepareOne = async (task: PrepareTask): Promise<void> => {
    let succeeded = false;
    const started = performance.now();
    try {
      await pool.run({ type: 'prepare-defense', settings: task.settings, victimDir: context.victimDir });
      succeeded = true;
      log(`${task.settings.defense.name}: what its cells need beside the victim is ready (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    } catch (err) {
      // Said even with --quiet. Not a cell: the first cell needing it tries again, and fails or succeeds for itself.
      warn(`${task.settings.defense.name}: building what its cells need beside the victim failed: ${failureText(err)}`);
      await stopIfUserError(err);
    } finally {
      await scheduler.prepared(task, succeeded);
    }
  };

  for (;;) {
    while (!outcome.fatal && pool.available > 0) {
      const task = await scheduler.nextPrepare();
      if (task) {
        const p: Promise<void> = prepareOne(task).finally(() => running.delete(p));
        running.add(p);
        continue;
      }
      if (scheduler.remaining === 0) break;
      const cell = await scheduler.next();
      if (!cell) break;
      const p: Promise<void> = runOne(cell).finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size === 0) {
      if (outcome.fatal || scheduler.remaining === 0) break;
      // Every cell left is being run by another live process: nothing to pull here any more.
      if (scheduler.onlyClaimedElsewhere) break;
      // Every remaining cell waits on shared work another process (shard) is doing.
      await sleep(POLL_MS);
      continue;
    }
    await Promise.race(scheduler.blockedElsewhere ? [...running, sleep(POLL_MS)] : [...running]);
  }
  progress.stop();
  return outcome;
}

/**
 * An adaptive query phase is kept only while a cell of its group (on any shard) is unfinished:
 * once every one has its cell file, the folder (images of every query: large for big budgets)
 * and its ready marker go.
 */
async function dropFinishedQueries(plan: SweepPlan, key: string, gate: FileGate): Promise<void> {
  const finished = await listCellFiles(plan.out);
  if (!plan.cells.every((c) => c.queryStore !== key || finished.has(c.id))) return;
  await gate.forget(key);
  await fs.rm(path.join(plan.out, QUERIES_DIR, key), { recursive: true, force: true });
}

/** A user's mistake is its message; anything else keeps its stack for a bug report. */
function failureText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return isPoisonError(err) ? err.message : (err.stack ?? err.message);
}


/** This process, as `--status` shows who ran a cell: host, pid and the Slurm job (array job_task) if any. */
function taskName(): string {
  const job = process.env.SLURM_ARRAY_JOB_ID ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID ?? '?'}` : process.env.SLURM_JOB_ID;
  return `${os.hostname()} pid ${process.pid}${job ? ` slurm ${job}` : ''}`;
}

/** The merge of a Slurm sweep: every cell must be finished, else they are listed and the job fails. */
async function failUnlessComplete(plan: SweepPlan, file: string): Promise<void> {
  const finished = await listCellFiles(plan.out);
  const missing = plan.cells.filter((c) => !finished.has(c.id));
  if (missing.length === 0) return;
  for (const c of missing) warn(`not finished: cell ${c.id} (${describeCell(c)})`);
  throw new RuntimeFailure(
    `${missing.length} of ${plan.cells.length} cells did not finish (listed above): submit the array again (\`poison sweep ${file} --slurm --submit\`); finished cells are kept`,
  );
}

/** `--slurm`: write OUT/slurm/*.sbatch; with `--submit`, submit them; with `--wait`, wait for the merge. */
async function slurmJobs(req: SweepRequest, out: string, cacheDir: string | null): Promise<void> {
  const { submit, writeScripts } = await import('./slurm/sbatch.js');
  const opts = req.slurm!;
  const files = await writeScripts(
    { config: path.resolve(req.file), out: path.resolve(out), cacheDir: req.cacheDir !== undefined && cacheDir !== null ? path.resolve(cacheDir) : undefined, backend: req.backend, force: req.force },
    opts.options,
    process.cwd(),
  );
  const say = (line: string): void => void process.stdout.write(line + '\n');
  if (!opts.submit) {
    say(`wrote ${files.prepare}, ${files.cells}, ${files.merge}`);
    say(`submit them with --submit, or by hand: p=$(sbatch --parsable ${files.prepare}); a=$(sbatch --parsable --dependency=afterany:$p ${files.cells}); sbatch --dependency=afterany:$a ${files.merge}`);
    return;
  }
  const { jobs, mergeStatus } = await submit(files, opts.wait, say);
  if (!opts.wait) {
    say(`submitted: prepare ${jobs.prepare}, cells ${jobs.cells} (array of ${opts.options.tasks}), merge ${jobs.merge}`);
    say(`follow it with: poison sweep ${req.file}${req.out ? ` --out ${req.out}` : ''} --status`);
    return;
  }
  if (mergeStatus !== 0) {
    throw new RuntimeFailure(`the merge job ${jobs.merge} ended with exit status ${String(mergeStatus)}: see ${path.join(out, 'slurm', 'logs', `merge-${jobs.merge}.log`)}`);
  }
  say(`merge job ${jobs.merge} finished: ${path.join(out, 'sweep.csv')}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function printMerge(report: MergeReport, plan: SweepPlan): void {
  const lines = [`${report.csv}: ${report.finished} of ${report.total} cells`];
  if (report.finished < report.total) lines[0] += ` (${report.total - report.finished} not finished: rerun to complete)`;
  lines.push(`${report.summary}`);
  for (const p of report.plots) lines.push(p);
  if (report.orphans > 0) lines.push(`(${report.orphans} cell files in ${path.join(plan.out, 'cells')} belong to no cell of this grid: kept, not merged)`);
  for (const d of report.damaged) lines.push(`(skipped ${d.problem})`);
  process.stdout.write(lines.join('\n') + '\n');
}
