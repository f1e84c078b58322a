/**
 * Everything wrong with a sweep config, collected before anything runs: each problem names the
 * YAML path, the line and column, what was expected and what was found, so one run of
 * `poison sweep` shows the user every fix at once instead of one per attempt.
 */
import { UsageError } from '../../errors.js';

export interface ConfigProblem {
  /** Dotted YAML path, e.g. `defenses.mad.eps[2]`; '' for the document itself. */
  path: string;
  /** 1-based; 0 when the problem has no place in the file (e.g. the file is empty). */
  line: number;
  col: number;
  expected: string;
  found: string;
}

function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line > 0 ? `${file}:${p.line}:${p.col}` : file;
  const what = p.path === '' ? '' : `${p.path}: `;
  return `${where}: ${what}expected ${p.expected}, found ${p.found}`;
}

/** One UsageError listing every problem, one per line, in file order. */
export function configError(file: string, problems: readonly ConfigProblem[]): UsageError {
  const sorted = [...problems].sort((a, b) => a.line - b.line || a.col - b.col || a.path.localeCompare(b.path));
  if (sorted.length === 1) return new UsageError(`invalid sweep config ${formatProblem(file, sorted[0]!)}`);
  const lines = sorted.map((p) => `  ${formatProblem(file, p)}`);
  return new UsageError(`invalid sweep config ${file}: ${sorted.length} problems\n${lines.join('\n')}`);
}
