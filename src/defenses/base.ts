/**
 * Builds a Defense from its two pure parts, adding what every defense needs the same way:
 * shape checks, tf.tidy around the tensor code, perturb = apply ∘ sideInfo, idempotent dispose.
 */
import * as tf from '@tensorflow/tfjs';
import type { CacheInput } from '../cache/key.js';
import type { DefenseSpec } from './definition.js';
import type { Norm } from './norm.js';
import type { Defense } from './types.js';

interface DefenseParts {
  spec: DefenseSpec;
  numClasses: number;
  sideInfoKey?: string | null;
  /** Helper models read (see Defense.inputs). */
  inputs?: readonly CacheInput[];
  ball?: { eps: number; norm: Norm } | null;
  /** Runs inside tf.tidy; must return a tensor with one row per input. */
  computeSideInfo?: (x: tf.Tensor4D) => tf.Tensor;
  /** Shape of one row of side information ([K] for p, [K, K] for Gram matrices), checked in apply. */
  sideRowShape?: number[];
  /** Runs inside tf.tidy: intermediate tensors are freed, only the result escapes. */
  transform: (y: tf.Tensor2D, side: tf.Tensor | null) => tf.Tensor2D;
  /** Frees what the defense owns (surrogate, constant tensors). */
  release?: () => void;
}

export function defineDefense(parts: DefenseParts): Defense {
  const { spec, numClasses } = parts;
  const sideInfoKey = parts.sideInfoKey ?? null;
  if ((sideInfoKey === null) !== (parts.computeSideInfo === undefined)) {
    throw new Error(`defense ${spec.name}: a side-information key and its computation go together`);
  }
  let disposed = false;
  const alive = (): void => {
    if (disposed) throw new Error(`defense ${spec.name} was used after dispose()`);
  };

  const sideInfo = (x: tf.Tensor4D): tf.Tensor | null => {
    alive();
    const compute = parts.computeSideInfo;
    if (!compute) return null;
    if (x.rank !== 4) throw new Error(`defense ${spec.name}: inputs must be [B, H, W, C], got shape [${x.shape.join(', ')}]`);
    const side = tf.tidy(() => compute(x));
    if (side.shape[0] !== x.shape[0]) {
      side.dispose();
      throw new Error(`defense ${spec.name}: side information has ${side.shape[0]} rows for ${x.shape[0]} inputs`);
    }
    return side;
  };

  const apply = (y: tf.Tensor2D, side: tf.Tensor | null): tf.Tensor2D => {
    alive();
    if (y.rank !== 2 || y.shape[1] !== numClasses) {
      throw new Error(`defense ${spec.name}: posteriors must be [B, ${numClasses}], got shape [${y.shape.join(', ')}]`);
    }
    if (sideInfoKey !== null) {
      if (side === null) throw new Error(`defense ${spec.name} needs side information '${sideInfoKey}'`);
      const rowShape = parts.sideRowShape;
      if (side.shape[0] !== y.shape[0] || (rowShape && side.shape.slice(1).join(',') !== rowShape.join(','))) {
        const want = `[${[y.shape[0], ...(rowShape ?? ['…'])].join(', ')}]`;
        throw new Error(`defense ${spec.name}: side information '${sideInfoKey}' must be ${want}, got [${side.shape.join(', ')}]`);
      }
    }
    return tf.tidy(() => parts.transform(y, side));
  };

  return {
    spec,
    numClasses,
    sideInfoKey,
    inputs: parts.inputs ?? [],
    ball: parts.ball ?? null,
    sideInfo,
    apply,
    perturb(x: tf.Tensor4D, y: tf.Tensor2D): tf.Tensor2D {
      if (x.shape[0] !== y.shape[0]) {
        throw new Error(`defense ${spec.name}: ${x.shape[0]} inputs but ${y.shape[0]} posteriors`);
      }
      const side = sideInfo(x);
      try {
        return apply(y, side);
      } finally {
        side?.dispose();
      }
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      parts.release?.();
    },
  };
}
