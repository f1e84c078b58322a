/**
 * ModelGuard-W (Tang et al., USENIX Security 2024; SPEC-ADAPTIVE §4): per query, the answer inside
 * the L1 ball ‖ỹ − y‖₁ ≤ ε that maximises the cross-entropy −Σ_k ỹ_k·log(y_k + 1e-6), i.e. the
 * substitute's loss if it already equalled the victim, with the victim's top-1 kept. One linear
 * program per query, in the variables ỹ and z = |ỹ − y| (2K columns):
 *   min Σ_k log(y_k + 1e-6)·ỹ_k
 *   s.t. Σ_k ỹ_k = Σ_k y_k,  0 ≤ ỹ_k ≤ 1,  z_k ≥ ỹ_k − y_k,  z_k ≥ y_k − ỹ_k,  Σ_k z_k ≤ ε,
 *        ỹ_{k*} − ỹ_j ≥ min(1e-4, y_{k*} − y_j) for j ≠ k*  (k* = argmax y, the first on a tie).
 * Solved exactly by HiGHS (the `highs` package: HiGHS compiled to WebAssembly). A greedy
 * "lower the top, fill the smallest" is not exact: the optimum may also drain mid-ranked classes.
 * An LP may have many optima (classes whose y are equal, e.g. posteriors that underflowed to 0):
 * the answer is the lexicographically smallest optimum (ỹ_0 first, then ỹ_1, …), found by one
 * further warm-started solve per tied coordinate, so it depends on neither the solver's path nor
 * the query's batch. (Without equal coefficients the optimum is unique but for coincidences of
 * measure zero, where the answer is still the solver's deterministic vertex.)
 * Departures from the reference (docs/spec.md): the simplex sum is the row's own (a float32 row
 * sums to 1 ± 1e-7) and the margin is capped by y's own, so ỹ = y is always feasible: a near-tie
 * at the top cannot make the LP infeasible.
 */
import type { Highs } from 'highs';
import type { DefenseDefinition, DefenseSpec } from './definition.js';
import { checkDeclaredRanges, l1EpsParam, numberField } from './declared-ranges.js';

/** The reference's budget (SPEC-ADAPTIVE §4). */
const DEFAULT_EPS = 1;
/** Added inside the log so a zero posterior has a finite (very attractive) coefficient, as in the reference. */
const LOG_FLOOR = 1e-6;
/** The reference's top-1 margin. */
const TOP_MARGIN = 1e-4;
/** How far each lexicographic stage may give up on the stages before it. */
const LEX_TOLERANCE = 1e-9;

/**
 * A HiGHS runtime. The package's declarations sit in a CommonJS package, so TypeScript types its ES
 * module's default export (the loader) as the whole module: the loader is typed here by hand.
 */
export async function loadHighs(): Promise<Highs> {
  const loaded = (await import('highs')) as unknown as { default: () => Promise<Highs> };
  return loaded.default();
}

/** The constraint rows in compressed-row form, with their bounds. */
interface Rows {
  lower: number[];
  upper: number[];
  starts: number[];
  indices: number[];
  values: number[];
}

function addRow(rows: Rows, lower: number, upper: number, entries: [number, number][]): void {
  rows.lower.push(lower);
  rows.upper.push(upper);
  // HiGHS wants each row's columns without repeats; sorted keeps the model canonical.
  for (const [col, value] of [...entries].sort((a, b) => a[0] - b[0])) {
    rows.indices.push(col);
    rows.values.push(value);
  }
  rows.starts.push(rows.indices.length);
}

/** The index of y's largest entry, the first on a tie (as tf.argMax). */
function argmaxOf(y: ArrayLike<number>): number {
  let top = 0;
  for (let k = 1; k < y.length; k++) if (y[k]! > y[top]!) top = k;
  return top;
}

/**
 * ModelGuard-W's answer to one clean posterior y (K entries) under budget ε: the lexicographically
 * smallest optimum of the LP above. `highs` is a loaded HiGHS runtime (loadHighs).
 */
export function modelguardWRow(highs: Highs, y: ArrayLike<number>, eps: number): Float64Array {
  const K = y.length;
  const out = Float64Array.from(y);
  if (eps === 0) return out;
  const top = argmaxOf(y);
  const inf = highs.infinity;
  const rows: Rows = { lower: [], upper: [], starts: [0], indices: [], values: [] };
  let total = 0;
  for (let k = 0; k < K; k++) total += y[k]!;
  addRow(rows, total, total, Array.from({ length: K }, (_, k): [number, number] => [k, 1]));
  addRow(rows, -inf, eps, Array.from({ length: K }, (_, k): [number, number] => [K + k, 1]));
  for (let k = 0; k < K; k++) {
    addRow(rows, -y[k]!, inf, [[k, -1], [K + k, 1]]); // z_k ≥ ỹ_k − y_k
    addRow(rows, y[k]!, inf, [[k, 1], [K + k, 1]]); // z_k ≥ y_k − ỹ_k
  }
  for (let j = 0; j < K; j++) {
    if (j !== top) addRow(rows, Math.min(TOP_MARGIN, y[top]! - y[j]!), inf, [[top, 1], [j, -1]]);
  }
  const numCols = 2 * K;
  const cost = new Float64Array(numCols);
  for (let k = 0; k < K; k++) cost[k] = Math.log(y[k]! + LOG_FLOOR);
  const model = highs.createModel({
    numCols,
    numRows: rows.lower.length,
    colCost: cost,
    colLower: new Float64Array(numCols),
    colUpper: Float64Array.from({ length: numCols }, (_, c) => (c < K ? 1 : inf)),
    rowLower: rows.lower,
    rowUpper: rows.upper,
    matrix: { format: 'csr', numRows: rows.lower.length, numCols, starts: rows.starts, indices: rows.indices, values: rows.values },
  });
  try {
    model.options.set({ output_flag: false, presolve: 'off' }); // presolve costs more than it saves on 2K columns
    const solved = (): boolean => model.run().modelStatus === highs.constants.modelStatus.optimal;
    if (!solved()) {
      // ỹ = y is feasible by construction, so this is the solver failing, not the input.
      throw new Error(`modelguard-w: HiGHS found no optimum for y = [${Array.from(y).join(', ')}], ε = ${eps}`);
    }
    // Then ỹ_0, ỹ_1, … each minimised among the optima so far (warm-started from the last basis);
    // ỹ_{K−1} follows from the sum. HiGHS's own lexicographic objectives were tried and did not
    // hold the earlier objectives (highs 1.15.3), so the stages are written out here.
    const best = model.getObjectiveValue();
    let solution = model.getSolution().colValue; // read before the row below changes the model
    model.addRow(-inf, best + LEX_TOLERANCE, { indices: Array.from({ length: K }, (_, k) => k), values: Array.from(cost.subarray(0, K)) });
    for (let k = 0; k < K; k++) model.changeColCost(k, 0);
    // Optima differ only along directions that keep the objective, i.e. between classes of equal
    // coefficient (equal y): only those coordinates need a stage (none, in the usual case).
    const tied = Array.from({ length: K - 1 }, (_, k) => k).filter((k) => cost.subarray(0, K).some((c, j) => j !== k && c === cost[k]));
    let previous = -1;
    for (const k of tied) {
      if (previous >= 0) model.changeColCost(previous, 0);
      previous = k;
      model.changeColCost(k, 1);
      // A stage the solver calls infeasible (a flat posterior leaves the optima within the solver's
      // tolerances of each other) ends the refinement: the last solution is still an optimum.
      if (!solved()) break;
      solution = model.getSolution().colValue; // read before the bound below changes the model
      model.changeColBounds(k, 0, Math.min(1, solution[k]! + LEX_TOLERANCE));
    }
    // The solver's feasibility tolerance (1e-7) may leave an entry a hair outside [0, 1].
    for (let k = 0; k < K; k++) out[k] = Math.min(1, Math.max(0, solution[k]!));
    return out;
  } finally {
    model.dispose();
  }
}

export const modelguardW: DefenseDefinition = {
  name: 'modelguard-w',
  summary: 'ModelGuard-W: within ‖ỹ − y‖₁ ≤ ε and the top-1 kept, the answer maximising the cross-entropy −Σ ỹ log y (one exact LP per query, HiGHS)',
  params: [
    l1EpsParam(DEFAULT_EPS),
  ],
  operatingAxis: 'eps',
  check(spec, ctx) {
    checkDeclaredRanges(modelguardW, spec, ctx);
  },
  drawsRandomness: () => false,
  sideInfoIdentity: () => null,
  slug: (spec: DefenseSpec) => `${spec.name}-eps${numberField(spec, 'eps')}`,
  async create(spec, ctx) {
    modelguardW.check?.(spec, { numClasses: ctx.numClasses });
    const eps = numberField(spec, 'eps');
    const { defineDefense } = await import('./base.js');
    const highs = await loadHighs();
    const K = ctx.numClasses;
    return defineDefense({
      spec,
      numClasses: K,
      ball: { eps, norm: 'l1' },
      hostTransform: (clean, rows) => {
        if (eps === 0) return Float32Array.from(clean);
        const released = new Float32Array(rows * K);
        for (let r = 0; r < rows; r++) released.set(modelguardWRow(highs, clean.subarray(r * K, (r + 1) * K), eps), r * K);
        return released;
      },
    });
  },
};
