/**
 * Progress on stderr: a cli-progress bar on a terminal, plain lines (at most one every few
 * seconds, plus the final one) when stderr is a file or a pipe, nothing when quiet.
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

interface ProgressOptions {
  label: string;
  total: number;
  /** Extra fields shown after the bar, e.g. loss and samples/s, as "{name}" in the format. */
  fields?: string[];
  quiet?: boolean;
  /** Plain-line interval in ms when not on a terminal. */
  lineIntervalMs?: number;
}

export function startProgress(opts: ProgressOptions): Progress {
  if (opts.quiet) return { update: () => undefined, stop: () => undefined };
  const extra = (opts.fields ?? []).map((f) => ` ${f} {${f}}`).join('');
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} |{bar}| {value}/{total}${extra} | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const initial: Record<string, string> = {};
    for (const f of opts.fields ?? []) initial[f] = '-';
    bar.start(opts.total, 0, initial);
    return {
      update: (done, fields) => bar.update(done, fields ?? {}),
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
      `${opts.label} ${done}/${opts.total}${f} elapsed ${elapsed.toFixed(0)}s${Number.isFinite(eta) ? ` eta ${eta.toFixed(0)}s` : ''}\n`,
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
