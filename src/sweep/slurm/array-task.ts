/**
 * `--shard auto` and `--shard auto/N`: which task of a job array this process is, from the
 * scheduler's environment. With cells pulled (scheduler.ts) the place only names the task in logs
 * and `--status`; every task works from the same list of unclaimed cells.
 */
import { UsageError } from '../../errors.js';
import type { Shard } from '../plan/shard.js';

/** The task's 1-based place and the array's size (0 when the environment does not say). */
interface ArrayTask extends Shard {
  /** Where the place came from, for the log. */
  source: string;
}

const AUTO = /^\s*auto\s*(?:\/\s*(\d+)\s*)?$/;

export function isAutoShard(raw: string): boolean {
  return AUTO.test(raw);
}

export function resolveAutoShard(raw: string, env: NodeJS.ProcessEnv = process.env): ArrayTask {
  const m = AUTO.exec(raw);
  if (!m) throw new UsageError(`--shard takes i/n, auto or auto/N; got '${raw}'`);
  const given = m[1] === undefined ? null : Number(m[1]);
  if (given !== null && given < 1) throw new UsageError(`--shard ${raw}: N must be at least 1`);
  const int = (name: string): number | null => {
    const v = env[name];
    if (v === undefined || v === '') return null;
    if (!/^\d+$/.test(v)) throw new UsageError(`--shard auto: ${name}='${v}' is not a task index`);
    return Number(v);
  };
  const slurmId = int('SLURM_ARRAY_TASK_ID');
  if (slurmId !== null) {
    const min = int('SLURM_ARRAY_TASK_MIN') ?? 0;
    const count = given ?? int('SLURM_ARRAY_TASK_COUNT') ?? 0;
    return { index: slurmId - min + 1, count, source: `Slurm array task ${slurmId}` };
  }
  const k8s = int('JOB_COMPLETION_INDEX');
  if (k8s !== null) {
    if (given === null) throw new UsageError('--shard auto in a Kubernetes indexed Job needs the number of completions: --shard auto/N');
    if (k8s >= given) throw new UsageError(`--shard ${raw}: JOB_COMPLETION_INDEX=${k8s} is not below N=${given}`);
    return { index: k8s + 1, count: given, source: `Kubernetes completion index ${k8s}` };
  }
  const aws = int('AWS_BATCH_JOB_ARRAY_INDEX');
  if (aws !== null) return { index: aws + 1, count: given ?? 0, source: `AWS Batch array index ${aws}` };
  throw new UsageError(
    '--shard auto: this process is not a job-array task (none of SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX is set): ' +
      'use --shard i/n, or run without --shard',
  );
}
