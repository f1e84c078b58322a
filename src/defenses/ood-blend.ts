/**
 * The tensor side of adaptive misinformation (SPEC-EXTENSIONS §2): an out-of-distribution-gated blend
 * of the victim's posterior y with a misinformation model's posterior ŷ,
 *   s = max_k y_k,  α = sigmoid(ν(τ − s)),  ỹ = (1 − α)·y + α·ŷ,  ŷ = softmax(f̂(x)).
 * ŷ depends on x alone, so it is the side information (cached per query image and shared by
 * every τ and ν); α and the blend need y and happen in apply().
 */
import * as tf from '@tensorflow/tfjs';
import { modelInput } from '../cache/key.js';
import { loadModelMatching } from '../models/io.js';
import { defineDefense } from './base.js';
import { inferencePosterior } from './forward.js';
import type { DefenseSpec } from './definition.js';
import type { Defense, DefenseContext } from './types.js';

/**
 * α = sigmoid(ν(τ − s)) [B, 1] for the rows' top probabilities s [B, 1]. tf.sigmoid evaluates
 * 1/(1 + e^−z) and saturates cleanly to exactly 0 or 1 in float32 (e^±1000 → ∞ or 0, never NaN),
 * so the AM code's hard-coded ν = 10⁴ is safe too.
 */
export function blendWeight(topProb: tf.Tensor, tau: number, nu: number): tf.Tensor {
  return tf.tidy(() => tf.sigmoid(tf.mul(nu, tf.sub(tau, topProb))));
}

/** ỹ = (1 − α)y + αŷ with α from y's top probability; y and ŷ are [B, K] rows on the simplex. */
export function oodBlend(y: tf.Tensor2D, misinformation: tf.Tensor2D, tau: number, nu: number): tf.Tensor2D {
  return tf.tidy(() => {
    const alpha = blendWeight(tf.max(y, 1, true), tau, nu);
    // y + α(ŷ − y): exactly y where α underflows to 0 (τ = 0 with ν = 1000).
    return tf.add(y, tf.mul(alpha, tf.sub(misinformation, y)));
  });
}

interface VictimShape {
  numClasses: number;
  inputShape: [number, number, number];
}

/** Loads f̂ and checks it takes the victim's inputs and has its classes (else one UsageError line). */
async function loadMisinformationModel(dir: string, victim: VictimShape): Promise<tf.LayersModel> {
  return (await loadModelMatching(dir, '--misinformation', victim)).model;
}

export async function createOodBlendDefense(
  spec: DefenseSpec,
  ctx: DefenseContext,
  settings: { tau: number; nu: number; modelDir: string },
): Promise<Defense> {
  const model = await loadMisinformationModel(settings.modelDir, ctx);
  // f̂ replaced in place (`poison train --misinformation --force`) gets a new key: named by content.
  const input = await modelInput('misinformation model f̂', settings.modelDir).catch((err: unknown) => {
    model.dispose();
    throw err;
  });
  return defineDefense({
    spec,
    numClasses: ctx.numClasses,
    sideInfoKey: `misinformation-posterior:sha256=${input.sha256}`,
    inputs: [input],
    sideRowShape: [ctx.numClasses],
    computeSideInfo: (x) => inferencePosterior(model, x),
    transform: (y, yHat) => oodBlend(y, yHat as tf.Tensor2D, settings.tau, settings.nu),
    release: () => model.dispose(),
  });
}
