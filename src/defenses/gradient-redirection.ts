/**
 * The tensor side of GRAD² (Mazeika et al. 2022; SPEC-EXTENSIONS §3): gradient redirection under an
 * L1 budget ε. The attacker's step direction for answers v is g(v) = ∇_θ (1/n)Σ_i Σ_k v_ik log p_ik
 * (p = the surrogate's posterior); the defender picks ỹ maximising ⟨g(ỹ), t⟩ for a target direction
 * t with ỹ_i ∈ Δ_K and ‖ỹ_i − y_i‖₁ ≤ ε. The objective is linear in ỹ, so per example it is
 * cᵀỹ_i with c_ik = ⟨∂ log p_ik/∂θ, t⟩, solved exactly by the greedy (redirect()).
 *
 * c per target (all x-only, hence side information cached per query image):
 *   - all parameters (finite differences): c_i ≈ [log p_i(θ + δt) − log p_i(θ − δt)] / (2δ), two
 *     extra surrogate forwards per batch. TF.js has no gradient of Conv2DBackpropFilter or
 *     MaxPoolGrad, so the double backprop the reference uses is not available; this JVP is.
 *     δ is fixed once per surrogate and target so that max |Δlogit| ≈ 1e-2 on a seeded probe batch:
 *     the same δ for every query, so c never depends on which images share a batch.
 *   - last layer only (z = Wh + b, closed form): c_ik = a_ik − p_iᵀa_i with a_i = T_W h_i + t_b.
 *     WATERMARK: a_i = (h_wᵀh_i + 1)(e_w − p_w). MIN-IP: see the defense's declaration (side
 *     information p, c = p − y in apply).
 */
import * as tf from '@tensorflow/tfjs';
import { hashImageSet } from '../cache/content-hash.js';
import { modelInput } from '../cache/key.js';
import { UsageError } from '../errors.js';
import { loadModelMatching, readParams } from '../models/io.js';
import { LOGITS_LAYER } from '../models/types.js';
import { loadImageSet } from '../data/load.js';
import { toModelInput } from '../data/convert.js';
import { Rng } from '../util/rng.js';
import { defineDefense } from './base.js';
import { inferenceLogits, inferencePosterior } from './forward.js';
import type { DefenseSpec } from './definition.js';
import type { Defense, DefenseContext } from './types.js';

/**
 * The exact maximiser of cᵀỹ over {ỹ ∈ Δ_K : ‖ỹ − y‖₁ ≤ ε}, row by row: j* = argmax_k c_k gains
 * m = min(ε/2, 1 − y_j*), taken from the other classes in ascending order of c, each emptied in
 * turn (moving mass δ from k to j* gains δ(c_j* − c_k) at an L1 cost of 2δ, so the cheapest
 * sources go first). ‖ỹ − y‖₁ = 2m exactly and only entry j* increases. Vectorised (no loop to
 * bound, no read-back): the ascending order is a one-hot permutation P, the removal from the
 * k-th cheapest class is min(y_(k), max(0, m − Σ_{l<k} y_(l))), and Pᵀ puts it back in place.
 */
export function redirect(y: tf.Tensor2D, c: tf.Tensor2D, eps: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, K] = y.shape;
    const top = tf.argMax(c, 1);
    const topOneHot = tf.cast(tf.oneHot(top, K), 'float32') as tf.Tensor2D;
    const gain = tf.minimum(eps / 2, tf.sub(1, tf.sum(tf.mul(y, topOneHot), 1, true)));
    // Ascending c: the top-K of −c. j* itself is excluded by zeroing its mass in the sorted copy.
    const order = tf.topk(tf.neg(c), K).indices;
    const P = tf.cast(tf.oneHot(order, K), 'float32') as tf.Tensor3D; // P[b, pos, k] = [order[b, pos] = k]
    const others = tf.mul(y, tf.sub(1, topOneHot));
    const sorted = tf.reshape(tf.matMul(P, tf.reshape(others, [B, K, 1])), [B, K]);
    const before = tf.cumsum(sorted, 1, true);
    const removedSorted = tf.minimum(sorted, tf.relu(tf.sub(gain, before)));
    const removed = tf.reshape(tf.matMul(P, tf.reshape(removedSorted, [B, K, 1]), true), [B, K]);
    const moved = tf.add(tf.sub(y, removed), tf.mul(gain, topOneHot));
    return tf.div(moved, tf.sum(moved, 1, true));
  });
}

/** The target direction t: one tensor per trainable variable of the surrogate, in model.trainableWeights order. */
type Direction = tf.Tensor[];

/** ∇_θ log p_w(x_w): the attacker's step direction for the answer e_w at one image (WATERMARK). */
export function watermarkDirection(model: tf.LayersModel, image: tf.Tensor4D, label: number): Direction {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const logProb = tf.logSoftmax(inferenceLogits(model, image));
    return tf.reshape(tf.slice(logProb, [0, label], [1, 1]), []) as tf.Scalar;
  }, variables);
  value.dispose();
  return variables.map((v) => grads[v.name]!);
}

/** t = 1 on every trainable parameter (ALL-ONES, the paper's main target). */
export function allOnesDirection(model: tf.LayersModel): Direction {
  return model.trainableWeights.map((w) => tf.onesLike(w.read()));
}

/** Target size of the largest logit change θ ± δt causes on the probe batch. */
const LOGIT_STEP = 1e-2;
const PROBE_IMAGES = 8;
/** A constant, not the run's seed: δ (hence c) depends on the surrogate and target only. */
const PROBE_SEED = 0x67d2;

/**
 * Central finite differences of log p along t over all parameters: c(x) [B, K]. The surrogate's
 * weights are swapped to θ ± δt for the two extra forwards and restored after (the model belongs
 * to this object alone, and JS runs one call at a time).
 */
export class DirectionalDerivative {
  private readonly plus: tf.Tensor[];
  private readonly minus: tf.Tensor[];
  private readonly original: tf.Tensor[];

  private constructor(
    private readonly model: tf.LayersModel,
    direction: Direction,
    readonly delta: number,
  ) {
    const trainable = new Set(model.trainableWeights.map((w) => w.originalName));
    let d = 0;
    this.original = model.weights.map((w) => tf.clone(w.read()));
    this.plus = [];
    this.minus = [];
    model.weights.forEach((w, i) => {
      const base = this.original[i]!;
      if (!trainable.has(w.originalName)) {
        this.plus.push(base);
        this.minus.push(base);
        return;
      }
      const t = direction[d++]!;
      this.plus.push(tf.tidy(() => tf.add(base, tf.mul(delta, t))));
      this.minus.push(tf.tidy(() => tf.sub(base, tf.mul(delta, t))));
    });
    if (d !== direction.length) throw new Error(`direction has ${direction.length} parts, the model ${d} trainable variables`);
  }

  /**
   * Picks δ so that max |logit(θ + δt) − logit(θ)| ≈ LOGIT_STEP on a seeded N(0, 1) probe batch
   * (inputs are normalised, so that is their scale): a first step δ₀ = 1e-3/max|t| measures the
   * logits' sensitivity, and δ scales it linearly.
   */
  static async calibrate(model: tf.LayersModel, direction: Direction, inputShape: [number, number, number]): Promise<DirectionalDerivative> {
    // Asynchronous reads throughout: synchronous ones throw on webgpu in Node.
    const maxT = Math.max(...(await Promise.all(direction.map(async (t) => readScalar(tf.tidy(() => tf.max(tf.abs(t))))))));
    if (!(maxT > 0)) throw new UsageError('the GRAD² target direction is zero for this surrogate: every answer would be equally good');
    const delta0 = 1e-3 / maxT;
    const probe = new DirectionalDerivative(model, direction, delta0);
    const rng = new Rng(PROBE_SEED);
    let change: number;
    try {
      change = await readScalar(
        tf.tidy(() => {
          const x = tf.randomNormal([PROBE_IMAGES, ...inputShape], 0, 1, 'float32', rng.seed()) as tf.Tensor4D;
          const base = inferenceLogits(model, x);
          const moved = probe.withWeights(probe.plus, () => inferenceLogits(model, x));
          return tf.max(tf.abs(tf.sub(moved, base)));
        }),
      );
    } finally {
      probe.dispose();
    }
    const delta = change > 0 && Number.isFinite(change) ? (delta0 * LOGIT_STEP) / change : delta0;
    return new DirectionalDerivative(model, direction, delta);
  }

  private withWeights<T>(weights: tf.Tensor[], f: () => T): T {
    this.model.setWeights(weights);
    try {
      return f();
    } finally {
      this.model.setWeights(this.original);
    }
  }

  /** c [B, K] = [log p(θ + δt) − log p(θ − δt)] / (2δ). */
  derivative(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const up = this.withWeights(this.plus, () => tf.logSoftmax(inferenceLogits(this.model, x)));
      const down = this.withWeights(this.minus, () => tf.logSoftmax(inferenceLogits(this.model, x)));
      return tf.div(tf.sub(up, down), 2 * this.delta);
    });
  }

  dispose(): void {
    const own = new Set(this.original);
    tf.dispose([...this.plus, ...this.minus].filter((t) => !own.has(t)));
    tf.dispose(this.original);
  }
}

async function readScalar(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0]!;
  } finally {
    t.dispose();
  }
}

/** h: the input of the logits layer [B, H] (the zoo's models are sequential chains). */
export function logitFeatures(model: tf.LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  if (model.getClassName() !== 'Sequential') throw new UsageError('the last-layer GRAD² forms need a sequential surrogate');
  return tf.tidy(() => {
    let t: tf.Tensor = x;
    for (const layer of model.layers) {
      if (layer.name === LOGITS_LAYER) break;
      t = layer.apply(t, { training: false }) as tf.Tensor;
    }
    return tf.reshape(t, [x.shape[0], -1]) as tf.Tensor2D;
  });
}

/**
 * WATERMARK on the last layer, closed form: c_ik = a_ik − p_iᵀa_i, a_i = (h_wᵀh_i + 1)(e_w − p_w),
 * for the watermark's features h_w [1, H] and the row (e_w − p_w) [1, K].
 */
export function lastLayerWatermark(h: tf.Tensor2D, p: tf.Tensor2D, hW: tf.Tensor2D, pull: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const a = tf.mul(tf.add(tf.matMul(h, hW, false, true), 1), pull); // [B, 1] × [1, K]
    return tf.sub(a, tf.sum(tf.mul(p, a), 1, true));
  });
}

/** One fixed victim test image and a random label, drawn from a constant seed (the reference's 3). */
const WATERMARK_SEED = 3;

async function watermarkImage(victimDir: string): Promise<{ image: tf.Tensor4D; label: number; index: number; testSha256: string }> {
  const params = await readParams(victimDir);
  const test = await loadImageSet(params.dataset, 'test');
  const rng = new Rng(WATERMARK_SEED);
  const index = rng.int(test.count);
  const label = rng.int(params.numClasses);
  return { image: toModelInput(test, { start: index, end: index + 1 }, params.input), label, index, testSha256: hashImageSet(test) };
}

async function loadSurrogate(dir: string, flag: string, ctx: DefenseContext): Promise<tf.LayersModel> {
  return (await loadModelMatching(dir, flag, ctx)).model;
}

interface RedirectionSettings {
  eps: number;
  target: 'all-ones' | 'watermark' | 'min-ip';
  /** Resolved: min-ip is always 'last'. */
  layers: 'all' | 'last';
  surrogateDir: string;
  /** The flag that names the surrogate, for error messages. */
  surrogateFlag: string;
  /** Prefix of the side-information key (the defense's name). */
  keyPrefix: string;
}

export async function createRedirectionDefense(spec: DefenseSpec, ctx: DefenseContext, s: RedirectionSettings): Promise<Defense> {
  const model = await loadSurrogate(s.surrogateDir, s.surrogateFlag, ctx);
  // The side rows' key names the surrogate by content, never by path.
  const surrogateInput = await modelInput(`${s.keyPrefix} surrogate`, s.surrogateDir).catch((err: unknown) => {
    model.dispose();
    throw err;
  });
  const K = ctx.numClasses;
  const ball = { eps: s.eps, norm: 'l1' as const };
  const source = `sha256=${surrogateInput.sha256}`;
  const inputs = [surrogateInput];
  // The watermark target also depends on the victim's test image it pulls towards (its test set's content).
  let watermarkData = '';
  const unchanged = s.eps === 0;
  try {
    if (s.target === 'min-ip') {
      // Per example, last layer: t = −g(y_i) gives c_i ∝ p_i − y_i up to a positive factor and a
      // per-row constant, and the greedy needs only the order: side information p, c = p − y.
      return defineDefense({
        spec, numClasses: K, ball,
        // The same key as MAD's closed form with this saved surrogate: the rows are the same softmax(S(x)).
        sideInfoKey: `surrogate-posterior:saved:${source}`,
        inputs,
        sideRowShape: [K],
        computeSideInfo: (x) => inferencePosterior(model, x),
        transform: (y, p) => (unchanged ? tf.clone(y) : redirect(y, tf.sub(p as tf.Tensor2D, y), s.eps)),
        release: () => model.dispose(),
      });
    }
    let computeC: (x: tf.Tensor4D) => tf.Tensor2D;
    let releaseC: () => void;
    if (s.target === 'watermark' && s.layers === 'last') {
      if (ctx.victimDir === undefined) throw new UsageError('the GRAD² watermark target needs the victim directory (its test image)');
      const mark = await watermarkImage(ctx.victimDir);
      watermarkData = `:watermark-test=${mark.testSha256}`;
      const hW = logitFeatures(model, mark.image);
      const pull = tf.tidy(() => tf.sub<tf.Tensor2D>(tf.cast(tf.oneHot([mark.label], K), 'float32'), inferencePosterior(model, mark.image)));
      mark.image.dispose();
      computeC = (x) => lastLayerWatermark(logitFeatures(model, x), inferencePosterior(model, x), hW, pull);
      releaseC = () => tf.dispose([hW, pull]);
    } else {
      let direction: Direction;
      if (s.target === 'watermark') {
        if (ctx.victimDir === undefined) throw new UsageError('the GRAD² watermark target needs the victim directory (its test image)');
        const mark = await watermarkImage(ctx.victimDir);
        watermarkData = `:watermark-test=${mark.testSha256}`;
        direction = watermarkDirection(model, mark.image, mark.label);
        mark.image.dispose();
      } else {
        direction = allOnesDirection(model);
      }
      let fd: DirectionalDerivative;
      try {
        fd = await DirectionalDerivative.calibrate(model, direction, ctx.inputShape);
      } finally {
        tf.dispose(direction);
      }
      computeC = (x) => fd.derivative(x);
      releaseC = () => fd.dispose();
    }
    return defineDefense({
      spec, numClasses: K, ball,
      sideInfoKey: `${s.keyPrefix}-c:${s.target}:${s.layers}:${source}${watermarkData}`,
      inputs,
      sideRowShape: [K],
      computeSideInfo: computeC,
      transform: (y, c) => (unchanged ? tf.clone(y) : redirect(y, c as tf.Tensor2D, s.eps)),
      release: () => {
        releaseC();
        model.dispose();
      },
    });
  } catch (err) {
    model.dispose();
    throw err;
  }
}
