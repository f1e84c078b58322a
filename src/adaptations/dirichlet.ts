/**
 * Drawing candidate clean posteriors u from a Dirichlet prior around a centre (an answer received,
 * or the victim's clean posterior), shared by the adaptations that simulate the defense on a table
 * of (u, D(u)) pairs: Partial Bayes and the restorer. Also their shared `--concentration`
 * declaration (one key, one declaration: the registry refuses two that differ).
 */
import type { Rng } from '../util/rng.js';
import type { AdaptationParam } from './types.js';

/** c of the prior Dir(K·c·centre), declared once for every adaptation that takes it. */
export const CONCENTRATION_PARAM: AdaptationParam = {
  key: 'concentration',
  flag: '--concentration <c>',
  help: "c: the answer prior Dir(K·c·ỹ)'s concentration per class",
  kind: 'number',
  range: { gt: 0 },
  default: 8,
};

/** Gamma(shape, 1) by Marsaglia–Tsang; shape < 1 through Gamma(shape + 1)·U^(1/shape). */
function gamma(shape: number, rng: Rng): number {
  if (shape < 1) return gamma(shape + 1, rng) * Math.pow(1 - rng.next(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const v = Math.pow(1 + c * x, 3);
    if (v <= 0) continue;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * `draws` rows u ~ Dir(K·c·centre) written into `out` from `at` (row-major, K = centre.length),
 * each from `rng` in turn.
 */
export function drawDirichlet(centre: ArrayLike<number>, concentration: number, draws: number, rng: Rng, out: Float32Array, at: number): void {
  const K = centre.length;
  for (let s = 0; s < draws; s++) {
    const row = at + s * K;
    let sum = 0;
    for (let k = 0; k < K; k++) {
      // A zero entry (top-k, rounding) still gets a tiny shape: Dir needs every α > 0.
      const alpha = Math.max(K * concentration * centre[k]!, 1e-3);
      sum += out[row + k] = gamma(alpha, rng);
    }
    for (let k = 0; k < K; k++) out[row + k] = sum > 0 ? out[row + k]! / sum : 1 / K;
  }
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k]! > row[best]!) best = k;
  return best;
}
