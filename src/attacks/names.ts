/**
 * Attack names, label modes and which flags each attack takes, kept free of TensorFlow.js so
 * the command file can validate flags (and print --help) without loading it.
 */
export const ATTACK_NAMES = ['knockoff', 'jbda', 'jbself', 'jbtop'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

/** probs: train on the released posterior ỹ; argmax: keep only its top-1, as one-hot. */
export const LABEL_MODES = ['probs', 'argmax'] as const;
export type LabelMode = (typeof LABEL_MODES)[number];

/** Knockoff needs a query pool; the Jacobian family grows a seed set from the victim's own data. */
export function attackFamily(name: AttackName): 'pool' | 'jacobian' {
  return name === 'knockoff' ? 'pool' : 'jacobian';
}

/** Settings of the Jacobian family (reference defaults in JACOBIAN_DEFAULTS). */
export interface JacobianSettings {
  /** Images drawn (seeded) from the victim dataset's train split to start D; each is one query. */
  seedSize: number;
  /** Reservoir size once round ≥ sigma; null = augment all of D every round. */
  kappa: number | null;
  sigma: number;
  /** Step sign flips with period tau: λ_ρ = lambda·(−1)^round(ρ/τ). */
  tau: number;
  lambda: number;
  /** Substitute training inside each round (reference: 20 epochs, SGD lr 0.1, momentum 0.9). */
  roundEpochs: number;
  roundLr: number;
  roundMomentum: number;
  /** jbtop only: how many runner-up classes per image, PGD steps and step size. */
  topK: number;
  pgdSteps: number;
  pgdStepSize: number;
}

/**
 * Reference defaults (prediction-poisoning's jacobian.py): seed 100, σ = 3, τ = 5, λ = 0.1,
 * 20 epochs at lr 0.1 momentum 0.9 per round; κ = 400 (the JacobianAdversary default, as in
 * Papernot et al.; its command line leaves κ unset, which `--kappa none` reproduces);
 * jbtop: k = 3, 8 PGD steps of 0.01.
 */
export const JACOBIAN_DEFAULTS: JacobianSettings = {
  seedSize: 100,
  kappa: 400,
  sigma: 3,
  tau: 5,
  lambda: 0.1,
  roundEpochs: 20,
  roundLr: 0.1,
  roundMomentum: 0.9,
  topK: 3,
  pgdSteps: 8,
  pgdStepSize: 0.01,
};

/** Flags (commander attribute names) that only some attacks take, with who takes them. */
export const ATTACK_ONLY_FLAGS: Record<string, { flag: string; attacks: readonly AttackName[] }> = {
  queryset: { flag: '--queryset', attacks: ['knockoff'] },
  querysetSplit: { flag: '--queryset-split', attacks: ['knockoff'] },
  seedSize: { flag: '--seed-size', attacks: ['jbda', 'jbself', 'jbtop'] },
  kappa: { flag: '--kappa', attacks: ['jbda', 'jbself', 'jbtop'] },
  sigma: { flag: '--sigma', attacks: ['jbda', 'jbself', 'jbtop'] },
  tau: { flag: '--tau', attacks: ['jbda', 'jbself', 'jbtop'] },
  lambda: { flag: '--lambda', attacks: ['jbda', 'jbself', 'jbtop'] },
  roundEpochs: { flag: '--round-epochs', attacks: ['jbda', 'jbself', 'jbtop'] },
  roundLr: { flag: '--round-lr', attacks: ['jbda', 'jbself', 'jbtop'] },
  roundMomentum: { flag: '--round-momentum', attacks: ['jbda', 'jbself', 'jbtop'] },
  topK: { flag: '--top-k', attacks: ['jbtop'] },
  pgdSteps: { flag: '--pgd-steps', attacks: ['jbtop'] },
  pgdStepSize: { flag: '--pgd-step-size', attacks: ['jbtop'] },
};
