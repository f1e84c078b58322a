/**
 * The defense contract. A defense is split in two so that attacks can cache a query once and
 * replay it under any defense without running the victim again:
 *   - sideInfo(x): per-input information computed from x alone, never from the victim
 *     (MAD: the surrogate posterior p, or the surrogate's Jacobian Gram matrices; most: nothing);
 *   - apply(y, side): ỹ from the clean posterior y and that side information.
 * perturb(x, y) = apply(y, sideInfo(x)) is the one-call form the black box uses.
 */
import type * as tf from '@tensorflow/tfjs';
import type { CacheInput } from '../cache/key.js';
import type { ArchName } from '../models/types.js';
import type { DefenseSpec } from './definition.js';
import type { Norm } from './norm.js';
import type { Surrogate } from './mad/surrogate.js';

export interface Defense {
  readonly spec: DefenseSpec;
  readonly numClasses: number;
  /**
   * Names the side information apply() needs and what it is computed from (which surrogate by
   * content hash, never by path; which Jacobian), so cached side information is only ever reused
   * for the same source; null = none. Cache keys of answers that depend on the defense hold it.
   */
  readonly sideInfoKey: string | null;
  /** The helper models the defense reads (f̂, a saved surrogate), hashed: cache headers record them. */
  readonly inputs?: readonly CacheInput[];
  /** The L_p ball every output row must stay in around y (MAD), for invariant checks; null = none. */
  readonly ball: { eps: number; norm: Norm } | null;
  /** Side information for a batch [B, H, W, C]; null when sideInfoKey is null. The caller disposes it. */
  sideInfo(x: tf.Tensor4D): tf.Tensor | null;
  /**
   * ỹ [B, K] for clean posteriors y [B, K] and their side information (B rows). Leaves y and side
   * alone; the caller disposes the result. Random defenses advance their seeded stream once per
   * call, so the same seed and batch order give the same outputs.
   */
  apply(y: tf.Tensor2D, side: tf.Tensor | null): tf.Tensor2D;
  /** apply(y, sideInfo(x)) in one call; the caller disposes the result. */
  perturb(x: tf.Tensor4D, y: tf.Tensor2D): tf.Tensor2D;
  /** Frees what the defense holds (its surrogate, constant tensors); safe to call twice. */
  dispose(): void;
}

/** What every defense may need to know about the victim and the run. */
export interface DefenseContext {
  numClasses: number;
  /** The victim's input [H, W, C]. */
  inputShape: [number, number, number];
  /** The victim's architecture: MAD's default surrogate is a fresh network of it. */
  arch: ArchName;
  /** The run's seed: noise, random vertices and the default surrogate's weights derive from it. */
  seed: number;
  /**
   * Which consumer this instance answers (see DEFENSE_STREAMS). Random defenses draw from a
   * stream derived from (seed, their purpose, this name), so the answers one consumer gets never
   * depend on how many draws another consumer made (e.g. the test-set evaluation's size).
   * Absent: the stream derived from (seed, purpose) alone, for one-off library use.
   */
  stream?: string;
  /**
   * A surrogate to share between several MAD defenses (a sweep over ε and oracles builds it once);
   * it must be the one the spec names (checked by id) and the caller disposes it.
   */
  surrogate?: Surrogate;
  /** The victim's directory, where prepare() put what the defense builds beside the victim. */
  victimDir?: string;
}

/** The consumers of a defense's randomness inside one run, each with its own stream. */
export const DEFENSE_STREAMS = {
  /** The defense answering the victim's test set (defender utility), in `poison eval` and `poison attack`. */
  defenderEval: 'defender-eval',
  /** The defense answering the attacker's queries. */
  attacker: 'attacker',
} as const;
