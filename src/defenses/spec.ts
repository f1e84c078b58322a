/**
 * What a defense is, as data: names and typed, validated parameters. Free of TensorFlow.js so
 * the CLI can parse and describe defenses without loading it (`--help` stays fast).
 */

export const DEFENSE_NAMES = [
  'none',
  'top-k',
  'argmax',
  'rounding',
  'reverse-sigmoid',
  'random-noise',
  'mad',
  'mad-argmax',
] as const;
export type DefenseName = (typeof DEFENSE_NAMES)[number];

export const NORMS = ['l1', 'l2'] as const;
export type Norm = (typeof NORMS)[number];

export const NOISE_DISTS = ['uniform', 'gaussian'] as const;
type NoiseDist = (typeof NOISE_DISTS)[number];

/**
 * How MAD gets the attacker's gradient geometry G:
 * - closed: from the surrogate posterior p alone (docs/spec.md closed form, no backward pass);
 * - autodiff: real per-class gradients of the surrogate's log-softmax w.r.t. its last dense
 *   layer's kernel (what the reference code does);
 * - autodiff-all: the same w.r.t. every trainable parameter (what the paper's text says).
 */
export const JACOBIAN_MODES = ['closed', 'autodiff', 'autodiff-all'] as const;
type JacobianMode = (typeof JACOBIAN_MODES)[number];

/**
 * The paper's two ablations of MAD: G = I (no surrogate: the angular deviation of ỹ from y itself)
 * and a random vertex for y* (seeded).
 */
export const MAD_ABLATIONS = ['none', 'identity', 'random-vertex'] as const;
type MadAblation = (typeof MAD_ABLATIONS)[number];

export interface NoneSpec {
  name: 'none';
}
/** Keep the k largest entries and renormalise (the reference does not renormalise). */
export interface TopKSpec {
  name: 'top-k';
  k: number;
}
export interface ArgmaxSpec {
  name: 'argmax';
}
/** Round to `decimals` decimals, then renormalise (the reference does not renormalise). */
export interface RoundingSpec {
  name: 'rounding';
  decimals: number;
}
export interface ReverseSigmoidSpec {
  name: 'reverse-sigmoid';
  beta: number;
  gamma: number;
}
/** δ in logit space, projected onto the ε_z ball of `norm`. */
export interface RandomNoiseSpec {
  name: 'random-noise';
  epsZ: number;
  norm: Norm;
  dist: NoiseDist;
}
export interface MadSpec<N extends 'mad' | 'mad-argmax' = 'mad' | 'mad-argmax'> {
  name: N;
  eps: number;
  ydist: Norm;
  jacobian: JacobianMode;
  ablation: MadAblation;
  /** A saved model directory to use as surrogate; null = randomly initialised (seeded) victim architecture. */
  surrogate: string | null;
}

export type DefenseSpec =
  | NoneSpec
  | TopKSpec
  | ArgmaxSpec
  | RoundingSpec
  | ReverseSigmoidSpec
  | RandomNoiseSpec
  | MadSpec<'mad'>
  | MadSpec<'mad-argmax'>;

export type SpecOf<N extends DefenseName> = Extract<DefenseSpec, { name: N }>;

/**
 * Whether the defense draws from a seeded random stream (defenseRng): then every consumer of its
 * answers needs its own instance. Exhaustive over the specs, so a new defense must answer here.
 */
export function drawsRandomness(spec: DefenseSpec): boolean {
  switch (spec.name) {
    case 'random-noise':
      return spec.epsZ > 0;
    case 'mad':
    case 'mad-argmax':
      return spec.ablation === 'random-vertex';
    case 'none':
    case 'top-k':
    case 'argmax':
    case 'rounding':
    case 'reverse-sigmoid':
      return false;
  }
}

/**
 * Identity of the side information a defense computes per query image (MAD's surrogate
 * posteriors or gradients), or null when it needs none. Two runs with the same images and the
 * same identity may share it. Exhaustive over the specs, so a new defense must answer here.
 */
export function sideInfoIdentity(spec: DefenseSpec): Record<string, unknown> | null {
  switch (spec.name) {
    case 'mad':
    case 'mad-argmax':
      return spec.ablation === 'none' ? { surrogate: spec.surrogate, jacobian: spec.jacobian } : null;
    case 'none':
    case 'top-k':
    case 'argmax':
    case 'rounding':
    case 'reverse-sigmoid':
    case 'random-noise':
      return null;
  }
}

/** One short human-readable line: `mad(eps=0.5, ydist=l1, jacobian=closed)`. */
export function describeDefense(spec: DefenseSpec): string {
  switch (spec.name) {
    case 'none':
    case 'argmax':
      return spec.name;
    case 'top-k':
      return `top-k(k=${spec.k})`;
    case 'rounding':
      return `rounding(decimals=${spec.decimals})`;
    case 'reverse-sigmoid':
      return `reverse-sigmoid(beta=${spec.beta}, gamma=${spec.gamma})`;
    case 'random-noise':
      return `random-noise(eps_z=${spec.epsZ}, ${spec.norm}, ${spec.dist})`;
    case 'mad':
    case 'mad-argmax': {
      const parts = [`eps=${spec.eps}`, `ydist=${spec.ydist}`];
      if (spec.ablation === 'none') {
        parts.push(`jacobian=${spec.jacobian}`);
        parts.push(`surrogate=${spec.surrogate ?? 'random-init'}`);
      } else {
        parts.push(`ablation=${spec.ablation}`);
      }
      return `${spec.name}(${parts.join(', ')})`;
    }
  }
}

/** A file-name-safe tag of a defense and its parameters: `mad-eps0.5-l1`, `top-k-k3`. */
export function defenseSlug(spec: DefenseSpec): string {
  switch (spec.name) {
    case 'none':
    case 'argmax':
      return spec.name;
    case 'top-k':
      return `top-k-k${spec.k}`;
    case 'rounding':
      return `rounding-d${spec.decimals}`;
    case 'reverse-sigmoid':
      return `reverse-sigmoid-b${spec.beta}-g${spec.gamma}`;
    case 'random-noise':
      return `random-noise-z${spec.epsZ}-${spec.norm}-${spec.dist}`;
    case 'mad':
    case 'mad-argmax': {
      let slug = `${spec.name}-eps${spec.eps}-${spec.ydist}`;
      if (spec.ablation !== 'none') return `${slug}-${spec.ablation}`;
      if (spec.jacobian !== 'closed') slug += `-${spec.jacobian}`;
      if (spec.surrogate !== null) slug += `-sur-${spec.surrogate.replace(/\/+$/, '').split(/[\\/]/).pop() ?? 'dir'}`;
      return slug;
    }
  }
}
