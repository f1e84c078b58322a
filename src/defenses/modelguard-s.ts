/**
 * ModelGuard-S (Tang et al., USENIX Security 2024; SPEC-ADAPTIVE §4, the reference's `quantize=1,
 * optim=0, strat=none`): an online ε-cover codebook, one ordered list of centroids per top-1 class.
 * Each query y, in the order the instance answers them:
 *   c = argmax y; the answer is the FIRST centroid of class c (in creation order) with
 *   ‖centroid − y‖₁ ≤ ε; when none qualifies, y itself becomes class c's newest centroid and is
 *   released as is.
 * So ‖ỹ − y‖₁ ≤ ε, the top-1 is kept (every centroid of class c has argmax c), and every answer is
 * a past clean posterior: the attacker sees few distinct vectors. Deterministic but stateful: the
 * answer to a query depends on the queries before it, so every consumer of a run (the test-set
 * evaluation, the attacker) gets its own instance with its own codebook, as in the reference where
 * they run in separate processes. A run answers its queries in a fixed order from an empty
 * codebook, so a resumed or replayed run rebuilds the same codebook from the same clean answers.
 */
import type { DefenseDefinition, DefenseSpec } from './definition.js';
import { checkDeclaredRanges, l1EpsParam, numberField } from './declared-ranges.js';

/** The reference's budget (SPEC-ADAPTIVE §4). */
const DEFAULT_EPS = 1;

/** The codebook of one ModelGuard-S instance: per top-1 class, its centroids in creation order. */
export class EpsCoverCodebook {
  private readonly centroids: Float32Array[][];

  constructor(
    private readonly numClasses: number,
    private readonly eps: number,
  ) {
    this.centroids = Array.from({ length: numClasses }, () => []);
  }

  /** The answer to y (K entries): the first centroid of y's class within ε, else y itself, appended. */
  answer(y: Float32Array): Float32Array {
    const K = this.numClasses;
    let top = 0;
    for (let k = 1; k < K; k++) if (y[k]! > y[top]!) top = k;
    const list = this.centroids[top]!;
    for (const centroid of list) {
      let l1 = 0;
      for (let k = 0; k < K && l1 <= this.eps; k++) l1 += Math.abs(centroid[k]! - y[k]!);
      if (l1 <= this.eps) return centroid;
    }
    const added = Float32Array.from(y);
    list.push(added);
    return added;
  }

  /** Centroids per class, in class order: how many distinct answers the instance has released. */
  sizes(): number[] {
    return this.centroids.map((list) => list.length);
  }
}

export const modelguardS: DefenseDefinition = {
  name: 'modelguard-s',
  summary: 'ModelGuard-S: an online ε-cover codebook per top-1 class; each answer is the first past posterior within ‖ỹ − y‖₁ ≤ ε (stateful, one codebook per consumer)',
  params: [
    l1EpsParam(DEFAULT_EPS),
  ],
  operatingAxis: 'eps',
  check(spec, ctx) {
    checkDeclaredRanges(modelguardS, spec, ctx);
  },
  drawsRandomness: () => false,
  keepsState: () => true,
  sideInfoIdentity: () => null,
  slug: (spec: DefenseSpec) => `${spec.name}-eps${numberField(spec, 'eps')}`,
  async create(spec, ctx) {
    modelguardS.check?.(spec, { numClasses: ctx.numClasses });
    const eps = numberField(spec, 'eps');
    const { defineDefense } = await import('./base.js');
    const K = ctx.numClasses;
    const codebook = new EpsCoverCodebook(K, eps);
    return defineDefense({
      spec,
      numClasses: K,
      ball: { eps, norm: 'l1' },
      hostTransform: (clean, rows) => {
        const released = new Float32Array(rows * K);
        for (let r = 0; r < rows; r++) released.set(codebook.answer(clean.subarray(r * K, (r + 1) * K)), r * K);
        return released;
      },
    });
  },
};
