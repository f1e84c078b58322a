/**
 * What MAD and MAD-argmax declare alike: their parameters, checks, randomness, side-information
 * identity, description and slug. Each of the two files (mad.ts, mad-argmax.ts) passes its name,
 * summary and vertex oracle; nothing here knows either name.
 */
import { UsageError } from '../../errors.js';
import type { DefenseDefinition, DefenseParam, DefenseSpec } from '../definition.js';
import { NORMS, type Norm } from '../norm.js';
import type { Defense, DefenseContext } from '../types.js';
import type { MadOracle } from './mad-defense.js';

/**
 * How MAD gets the attacker's gradient geometry G:
 * - closed: from the surrogate posterior p alone (docs/spec.md closed form, no backward pass);
 * - autodiff: real per-class gradients of the surrogate's log-softmax w.r.t. its last dense
 *   layer's kernel (what the reference code does);
 * - autodiff-all: the same w.r.t. every trainable parameter (what the paper's text says).
 */
const JACOBIAN_MODES = ['closed', 'autodiff', 'autodiff-all'] as const;

/**
 * The paper's two ablations of MAD: G = I (no surrogate: the angular deviation of ỹ from y itself)
 * and a random vertex for y* (seeded).
 */
const MAD_ABLATIONS = ['none', 'identity', 'random-vertex'] as const;
const NO_ABLATION = MAD_ABLATIONS[0];

export interface MadSpec extends DefenseSpec {
  readonly eps: number;
  readonly ydist: Norm;
  readonly jacobian: (typeof JACOBIAN_MODES)[number];
  readonly ablation: (typeof MAD_ABLATIONS)[number];
  /** A saved model directory to use as surrogate; null = randomly initialised (seeded) victim architecture. */
  readonly surrogate: string | null;
}

/**
 * MAD's ε when none is given, so a bare `poison attack --defense mad` runs: 0.5 (L1), the middle
 * of the paper's MNIST sweep, where MAD already lowers a query-pool attacker while the victim's
 * top-1 mostly stands.
 */
const DEFAULT_MAD_EPS = 0.5;

const MAD_PARAMS: readonly DefenseParam[] = [
  { key: 'eps', field: 'eps', flag: '--eps <x>', kind: 'number', range: { min: 0 }, default: DEFAULT_MAD_EPS, help: 'budget ε ≥ 0 on ‖ỹ − y‖' },
  { key: 'ydist', field: 'ydist', flag: '--ydist <norm>', kind: 'choice', choices: NORMS, default: 'l1', help: 'norm of the budget, l1 | l2' },
  {
    key: 'jacobian', field: 'jacobian', flag: '--jacobian <mode>', kind: 'choice', choices: JACOBIAN_MODES, default: 'closed',
    help: 'closed | autodiff (last layer, reference code) | autodiff-all (all parameters, paper text)',
  },
  {
    key: 'ablation', field: 'ablation', flag: '--ablation <kind>', kind: 'choice', choices: MAD_ABLATIONS, default: NO_ABLATION,
    help: 'none | identity (G = I) | random-vertex (seeded random y*)',
  },
  {
    key: 'surrogate', field: 'surrogate', flag: '--surrogate <dir>', kind: 'path', default: null,
    help: "saved model used as surrogate (default: the victim's architecture, randomly initialised from --seed)",
  },
];

interface MadMember {
  name: string;
  summary: string;
  /** The set of vertices y* is searched in, for K classes (loads TensorFlow.js). */
  oracle(numClasses: number): Promise<MadOracle>;
}

export function madDefinition(member: MadMember): DefenseDefinition {
  return {
    name: member.name,
    summary: member.summary,
    params: MAD_PARAMS,
    operatingAxis: 'eps',
    check(spec: MadSpec, ctx) {
      if (spec.ablation === NO_ABLATION) return;
      // The ablations replace the surrogate's geometry: a surrogate or Jacobian mode would be ignored.
      const set = { jacobian: ctx.given ? ctx.given.has('jacobian') : spec.jacobian !== 'closed', surrogate: ctx.given ? ctx.given.has('surrogate') : spec.surrogate !== null };
      for (const key of ['jacobian', 'surrogate'] as const) {
        if (set[key]) throw new UsageError(`--${key} does not apply with --ablation ${spec.ablation} (that ablation uses no surrogate)`);
      }
    },
    drawsRandomness: (spec: MadSpec) => spec.ablation === 'random-vertex',
    sideInfoIdentity: (spec: MadSpec) => (spec.ablation === NO_ABLATION ? { surrogate: spec.surrogate, jacobian: spec.jacobian } : null),
    describe(spec: MadSpec) {
      const parts = [`eps=${spec.eps}`, `ydist=${spec.ydist}`];
      if (spec.ablation === NO_ABLATION) {
        parts.push(`jacobian=${spec.jacobian}`);
        parts.push(`surrogate=${spec.surrogate ?? 'random-init'}`);
      } else {
        parts.push(`ablation=${spec.ablation}`);
      }
      return `${spec.name}(${parts.join(', ')})`;
    },
    slug(spec: MadSpec) {
      let slug = `${spec.name}-eps${spec.eps}-${spec.ydist}`;
      if (spec.ablation !== NO_ABLATION) return `${slug}-${spec.ablation}`;
      if (spec.jacobian !== 'closed') slug += `-${spec.jacobian}`;
      if (spec.surrogate !== null) slug += `-sur-${spec.surrogate.replace(/\/+$/, '').split(/[\\/]/).pop() ?? 'dir'}`;
      return slug;
    },
    async create(spec: MadSpec, ctx: DefenseContext): Promise<Defense> {
      const { createMadDefense } = await import('./mad-defense.js');
      return createMadDefense(spec, ctx, await member.oracle(ctx.numClasses));
    },
  };
}
