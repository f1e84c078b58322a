/** A black box in front of a live victim model. */
import type * as tf from '@tensorflow/tfjs';
import { inferencePosterior } from '../defenses/forward.js';
import type { Defense } from '../defenses/types.js';
import { DefendedBlackBox, type PosteriorSource } from './defended.js';
import type { BlackBoxOptions } from './types.js';

/** The victim's input [H, W, C] and class count, read from the model. */
export function victimShape(victim: tf.LayersModel): { inputShape: [number, number, number]; numClasses: number } {
  const input = victim.inputs[0]?.shape;
  const output = victim.outputs[0]?.shape;
  const [h, w, c, k] = [input?.[1], input?.[2], input?.[3], output?.[1]];
  if (input?.length !== 4 || output?.length !== 2 || !h || !w || !c || !k) {
    throw new Error(`a victim maps images [B, H, W, C] to logits [B, K]; this model has input [${input?.join(', ')}] and output [${output?.join(', ')}]`);
  }
  return { inputShape: [h, w, c], numClasses: k };
}

/**
 * y = softmax(F_V(x)) from the victim, side information from x, ỹ = defense.apply(y, side).
 * The box keeps the victim to itself: an attacker holding it can only call query().
 * The caller keeps ownership of the victim and the defense and disposes them after use.
 */
export function victimBlackBox(victim: tf.LayersModel, defense: Defense, opts: BlackBoxOptions = {}): DefendedBlackBox {
  const { inputShape, numClasses } = victimShape(victim);
  if (numClasses !== defense.numClasses) {
    throw new Error(`the victim has ${numClasses} classes, the defense was made for ${defense.numClasses}`);
  }
  return new DefendedBlackBox(defense, inputShape, livePosteriorSource(victim, defense), opts);
}

/** Runs the victim and the defense's side computation on each query batch. */
export function livePosteriorSource(victim: tf.LayersModel, defense: Defense): PosteriorSource {
  return (x) => {
    const clean = inferencePosterior(victim, x);
    try {
      return Promise.resolve({ clean, side: defense.sideInfo(x) });
    } catch (err) {
      clean.dispose();
      return Promise.reject(err as Error);
    }
  };
}
