/**
 * MAD's surrogate F_sur: the defender's stand-in for the attacker's model. By default a randomly
 * initialised network of the victim's architecture (seeded from the run's seed, never trained:
 * the paper's best choice), or a saved model. It provides what MAD's objective needs:
 *   - posterior(x): p = softmax(F_sur(x)), all the closed form needs;
 *   - jacobianGram(x, scope): M = G Gᵀ per input, where row k of G is the real gradient
 *     ∇_w log softmax(F_sur(x))_k computed by autodiff, for w = the last dense layer's kernel
 *     ('last', the reference code) or every trainable parameter ('all', the paper's text).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { modelInput, type CacheInput } from '../../cache/key.js';
import { UsageError } from '../../errors.js';
import { buildModel } from '../../models/registry.js';
import { loadModelMatching } from '../../models/io.js';
import { LOGITS_LAYER, type ArchName } from '../../models/types.js';
import { Rng } from '../../util/rng.js';
import { inferenceLogits, inferencePosterior } from '../forward.js';

type JacobianScope = 'last' | 'all';

/**
 * What a surrogate is built from: the victim's shape and the run's seed (a DefenseContext has all
 * of it; named here so this file does not import the defense contract, which names Surrogate).
 */
interface SurrogateBasis {
  numClasses: number;
  inputShape: [number, number, number];
  arch: ArchName;
  seed: number;
}

export class Surrogate {
  private disposed = false;

  private constructor(
    /**
     * Names what the surrogate is, so cached side information is matched to it: a random init by
     * its architecture and seed (the streams' version is in every cache key), a saved model by
     * the content hash of its files, never by its path.
     */
    readonly id: string,
    /** Where it came from (the spec's `surrogate` field resolved), to check a shared surrogate against a spec. */
    readonly origin: string,
    /** A saved surrogate's files, hashed (cache headers record them); none for a random init. */
    readonly inputs: readonly CacheInput[],
    private readonly model: tf.LayersModel,
  ) {
    const last = model.layers[model.layers.length - 1];
    const activation = (last?.getConfig() as { activation?: string } | undefined)?.activation;
    if (!last || last.name !== LOGITS_LAYER || last.getClassName() !== 'Dense' || activation !== 'linear') {
      model.dispose();
      throw new UsageError(`surrogate ${origin}: its last layer must be a linear dense layer named '${LOGITS_LAYER}' (a model written by \`poison train\`)`);
    }
  }

  /** The origin a surrogate gets from a spec's `surrogate` field (null = random init) and the context. */
  static originFor(dir: string | null, ctx: Pick<SurrogateBasis, 'arch' | 'seed'>): string {
    return dir === null ? `random-init:${ctx.arch}:seed=${ctx.seed}` : `saved:${path.resolve(dir)}`;
  }

  /** A fresh network of the victim's architecture, weights from `new Rng(seed).fork('surrogate')`. */
  static randomInit(ctx: SurrogateBasis): Surrogate {
    const model = buildModel(ctx.arch, {
      inputShape: ctx.inputShape,
      numClasses: ctx.numClasses,
      rng: new Rng(ctx.seed).fork('surrogate'),
    });
    const origin = Surrogate.originFor(null, ctx);
    return new Surrogate(origin, origin, [], model);
  }

  /** A saved model directory; its input shape and class count must be the victim's. */
  static async load(dir: string, ctx: SurrogateBasis): Promise<Surrogate> {
    const { model } = await loadModelMatching(dir, '--surrogate', ctx);
    const input = await modelInput('MAD surrogate', dir).catch((err: unknown) => {
      model.dispose();
      throw err;
    });
    return new Surrogate(`saved:sha256=${input.sha256}`, Surrogate.originFor(dir, ctx), [input], model);
  }

  /** p = softmax(F_sur(x)) [B, K]; the caller disposes it. */
  posterior(x: tf.Tensor4D): tf.Tensor2D {
    this.alive();
    return inferencePosterior(this.model, x);
  }

  /**
   * Gram matrices M_b = G_b G_bᵀ [B, K, K] of the per-class gradients of log softmax(F_sur(x_b)).
   * Per input and per class, one tf.variableGrads call over the surrogate's own variables, as
   * the reference computes G one query at a time; the caller disposes the result.
   * Memory: K gradients of the chosen scope per input at a time (scope 'all' on vgg16_bn:
   * K × 15 M floats, too much for wasm; use 'last' there).
   */
  jacobianGram(x: tf.Tensor4D, scope: JacobianScope): tf.Tensor3D {
    this.alive();
    const rows = x.shape[0];
    const grams: tf.Tensor2D[] = [];
    try {
      if (scope === 'last') {
        const layer = this.model.getLayer(LOGITS_LAYER);
        const kernel = layer.trainableWeights.find((v) => /kernel$/.test(v.originalName))?.read() as tf.Variable | undefined;
        if (!kernel) throw new Error(`surrogate ${this.origin}: layer '${LOGITS_LAYER}' has no kernel`);
        // The kernel's gradient depends on the layers below only through h, the logits layer's input.
        const h = this.features(x);
        try {
          for (let b = 0; b < rows; b++) {
            grams.push(
              tf.tidy(() => {
                const hb = tf.slice(h, [b, 0], [1, h.shape[1]]);
                return gramOf(this.classGradients([kernel], (k) => classLogProb(layer.apply(hb) as tf.Tensor2D, k)));
              }),
            );
          }
        } finally {
          h.dispose();
        }
      } else {
        const variables = this.model.trainableWeights.map((v) => v.read() as tf.Variable);
        const [, hh, ww, cc] = x.shape;
        for (let b = 0; b < rows; b++) {
          grams.push(
            tf.tidy(() => {
              const xb = tf.slice(x, [b, 0, 0, 0], [1, hh, ww, cc]);
              return gramOf(this.classGradients(variables, (k) => classLogProb(inferenceLogits(this.model, xb), k)));
            }),
          );
        }
      }
      return tf.stack(grams) as tf.Tensor3D;
    } finally {
      grams.forEach((g) => g.dispose());
    }
  }

  /** Row k of G: ∇ log softmax_k w.r.t. `variables`, flattened and concatenated. */
  private classGradients(variables: tf.Variable[], logProb: (k: number) => tf.Scalar): tf.Tensor1D[] {
    const K = this.model.outputs[0]!.shape[1]!;
    const rows: tf.Tensor1D[] = [];
    for (let k = 0; k < K; k++) {
      const { value, grads } = tf.variableGrads(() => logProb(k), variables);
      value.dispose();
      rows.push(tf.concat(variables.map((v) => tf.reshape(grads[v.name]!, [-1]))) as tf.Tensor1D);
    }
    return rows;
  }

  /** h = the input of the logits layer [B, H], layer by layer (the zoo's models are sequential chains). */
  private features(x: tf.Tensor4D): tf.Tensor2D {
    if (this.model.getClassName() !== 'Sequential') {
      throw new UsageError(`surrogate ${this.origin}: --jacobian autodiff needs a sequential model`);
    }
    return tf.tidy(() => {
      let t: tf.Tensor = x;
      for (const layer of this.model.layers) {
        if (layer.name === LOGITS_LAYER) break;
        t = layer.apply(t, { training: false }) as tf.Tensor;
      }
      return t as tf.Tensor2D;
    });
  }

  private alive(): void {
    if (this.disposed) throw new Error(`surrogate ${this.origin} was used after dispose()`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

function classLogProb(logits: tf.Tensor2D, k: number): tf.Scalar {
  return tf.reshape(tf.slice(tf.logSoftmax(logits), [0, k], [1, 1]), []) as tf.Scalar;
}

/** G Gᵀ for the rows of G. */
function gramOf(rows: tf.Tensor1D[]): tf.Tensor2D {
  const G = tf.stack(rows) as tf.Tensor2D;
  return tf.matMul(G, G, false, true);
}
