/**
 * Progress on stderr: a cli-progress bar on a terminal, plain lines (at most one every few
 * seconds, plus the final one) when stderr is a file or a pipe, nothing when quiet.
 *
 * A long command is several stages (epochs, query rounds, attackers); each stage's bar shows its
 * own ETA and, beside it, the whole run's elapsed time and ETA from a RunClock shared by all its
 * stages, so "epoch 1/30 … eta 65s" never hides a half-hour run. Its first line (planLine) says
 * what will run.
 */
import cliProgress from 'cli-progress';

/** A line on stderr, starting on a clean line: a progress bar (this process's or its parent's) may be drawn on the current one. */
export function writeLineBesideProgress(line: string): void {
  process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${line}\n`);
}

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * Seconds the whole run still needs, at the rate so far: elapsed × (total − done) / done.
 * null before any work is done (no rate yet) or when the total is unknown.
 */
export function wholeRunEta(elapsedSeconds: number, done: number, total: number): number | null {
  if (!(done > 0) || !(total > 0) || !Number.isFinite(elapsedSeconds)) return null;
  if (done >= total) return 0;
  return (elapsedSeconds * (total - done)) / done;
}

/** 42s, 3m05s, 1h02m: short enough to sit beside a bar. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The whole run's progress in units of work (training batches, queries), shared by the bars of
 * its stages: each stage says how many units of the run are done, the clock turns that into the
 * run's share, elapsed time and ETA.
 */
export class RunClock {
  private readonly started: number;
  private doneUnits = 0;

  constructor(
    private totalUnits: number,
    private readonly now: () => number = () => performance.now() / 1000,
  ) {
    this.started = now();
  }

  /** Units of the whole run done so far. */
  set done(units: number) {
    this.doneUnits = Math.min(units, this.totalUnits);
  }

  get done(): number {
    return this.doneUnits;
  }

  /** Work found only while running (a Jacobian round's substitute training): the total grows. */
  extend(units: number): void {
    this.totalUnits += units;
  }

  /** `run 12% 3m05s eta 21m40s`: the whole run, beside a stage's own bar. */
  summary(): string {
    const elapsed = this.now() - this.started;
    const eta = wholeRunEta(elapsed, this.doneUnits, this.totalUnits);
    const share = this.totalUnits > 0 ? Math.floor((100 * this.doneUnits) / this.totalUnits) : 0;
    return `run ${share}% ${formatDuration(elapsed)} eta ${eta === null ? '-' : formatDuration(eta)}`;
  }
}

/**
 * A command's first line: what will run, how much of it, on which backend, e.g.
 * `train lenet on mnist: 30 epochs × 60000 images (28140 batches of 64), backend wasm`.
 */
export function planLine(command: string, what: string, amounts: readonly string[], backend: string): string {
  return `${command} ${what}: ${amounts.join(', ')}, backend ${backend}`;
}

interface ProgressOptions {
  label: string;
  total: number;
  /** Extra fields shown after the bar, e.g. loss and samples/s, as "{name}" in the format. */
  fields?: string[];
  quiet?: boolean;
  /** Plain-line interval in ms when not on a terminal. */
  lineIntervalMs?: number;
  /** The whole run this bar is a stage of: its summary is shown after the stage's ETA. */
  run?: RunClock;
}

export function startProgress(opts: ProgressOptions): Progress {
  if (opts.quiet) return { update: () => undefined, stop: () => undefined };
  const extra = (opts.fields ?? []).map((f) => ` ${f} {${f}}`).join('');
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} |{bar}| {value}/{total}${extra} | {duration_formatted} ETA {eta_formatted}${opts.run ? ' | {run}' : ''}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const initial: Record<string, string> = {};
    for (const f of opts.fields ?? []) initial[f] = '-';
    if (opts.run) initial.run = opts.run.summary();
    bar.start(opts.total, 0, initial);
    return {
      update: (done, fields) => bar.update(done, opts.run ? { ...fields, run: opts.run.summary() } : (fields ?? {})),
      stop: () => bar.stop(),
    };
  }
  const interval = opts.lineIntervalMs ?? 5000;
  const started = Date.now();
  let last = 0;
  let lastDone = -1;
  let lastFields: Record<string, string | number> = {};
  const line = (done: number): void => {
    const elapsed = (Date.now() - started) / 1000;
    const eta = done > 0 ? (elapsed * (opts.total - done)) / done : NaN;
    const f = Object.entries(lastFields)
      .map(([k, v]) => ` ${k} ${v}`)
      .join('');
    process.stderr.write(
      `${opts.label} ${done}/${opts.total}${f} elapsed ${elapsed.toFixed(0)}s${Number.isFinite(eta) ? ` eta ${eta.toFixed(0)}s` : ''}${opts.run ? ` | ${opts.run.summary()}` : ''}\n`,
    );
    lastDone = done;
  };
  return {
    update: (done, fields) => {
      if (fields) lastFields = fields;
      const now = Date.now();
      if (now - last >= interval || done === opts.total) {
        last = now;
        if (done !== lastDone) line(done);
      }
    },
    stop: () => undefined,
  };
}
