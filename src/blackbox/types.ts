/**
 * The attacker's view of a defended victim: query(x) → ỹ and a budget, nothing else. Every image
 * sent counts once against the budget; asking past it is an error, never a silent truncation.
 */
import type * as tf from '@tensorflow/tfjs';
import { RuntimeFailure } from '../errors.js';

export interface BlackBox {
  readonly numClasses: number;
  /** [H, W, C] of the images the victim takes. */
  readonly inputShape: readonly [number, number, number];
  /** Total queries allowed (Infinity = unlimited). */
  readonly budget: number;
  /** Queries answered so far. */
  readonly used: number;
  readonly remaining: number;
  /** ỹ [B, K] for images x [B, H, W, C]; the caller disposes it. */
  query(x: tf.Tensor4D): Promise<tf.Tensor2D>;
}

export class BudgetExceededError extends RuntimeFailure {
  constructor(asked: number, used: number, budget: number) {
    super(`query budget exceeded: ${asked} more queries asked with ${used} of ${budget} already used (${budget - used} left)`);
  }
}

/** Defender-side hook: sees each batch's clean and released posteriors before they are freed. */
export type BatchObserver = (clean: tf.Tensor2D, released: tf.Tensor2D) => void | Promise<void>;

export interface BlackBoxOptions {
  /** Queries allowed; default unlimited. A whole number ≥ 0 or Infinity. */
  budget?: number;
  observe?: BatchObserver;
}
