/**
 * Non-adaptive attacks fix their queries in advance, so the victim only needs to answer them
 * once: a QueryRecorder runs the victim over the queries and keeps, per query, the clean
 * posterior y and any side information defenses need (MAD's surrogate posterior p, keyed by
 * surrogate). replayBlackBox (replay.ts) then applies any defense to the cache without the victim.
 * Memory: K floats per query for y plus the side information's row size, in growable
 * Float32Arrays; nothing is kept on the backend.
 */
import * as tf from '@tensorflow/tfjs';
import { inferencePosterior } from '../defenses/forward.js';
import type { Defense } from '../defenses/types.js';
import { victimShape } from './victim.js';

export interface CachedSideInfo {
  /** Shape of one query's side information, e.g. [K] for p, [K, K] for Gram matrices. */
  rowShape: number[];
  values: Float32Array;
}

export interface QueryCache {
  readonly count: number;
  readonly numClasses: number;
  readonly inputShape: readonly [number, number, number];
  /** Clean posteriors, count × K, row-major. */
  readonly clean: Float32Array;
  /** Side information by Defense.sideInfoKey. */
  readonly side: ReadonlyMap<string, CachedSideInfo>;
  /** Per query (sum, sum of squares) of the image, so a replay can check it gets the same inputs. */
  readonly fingerprints: Float32Array;
}

/** Per-image [sum, sum of squares] [B, 2]; the caller disposes it. */
export function imageFingerprints(x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const flat = tf.reshape(x, [x.shape[0], -1]);
    return tf.stack([tf.sum(flat, 1), tf.sum(tf.square(flat), 1)], 1) as tf.Tensor2D;
  });
}

class Growable {
  private buf = new Float32Array(1024);
  length = 0;

  push(values: Float32Array): void {
    if (this.length + values.length > this.buf.length) {
      let size = this.buf.length;
      while (size < this.length + values.length) size *= 2;
      const next = new Float32Array(size);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(values, this.length);
    this.length += values.length;
  }

  done(): Float32Array {
    return this.buf.slice(0, this.length);
  }
}

type SideSource = Pick<Defense, 'sideInfoKey' | 'sideInfo'>;

export class QueryRecorder {
  readonly #victim: tf.LayersModel;
  readonly #sources: SideSource[];
  readonly #inputShape: [number, number, number];
  readonly #numClasses: number;
  readonly #clean = new Growable();
  readonly #fingerprints = new Growable();
  readonly #side = new Map<string, { rowShape: number[] | null; values: Growable }>();
  #count = 0;

  /**
   * `sideSources`: defenses whose side information to keep (one entry per distinct key is
   * enough: every MAD variant with the same surrogate and Jacobian mode shares it).
   */
  constructor(victim: tf.LayersModel, sideSources: readonly SideSource[] = []) {
    this.#victim = victim;
    ({ inputShape: this.#inputShape, numClasses: this.#numClasses } = victimShape(victim));
    this.#sources = [];
    for (const s of sideSources) {
      if (s.sideInfoKey === null || this.#side.has(s.sideInfoKey)) continue;
      this.#sources.push(s);
      this.#side.set(s.sideInfoKey, { rowShape: null, values: new Growable() });
    }
  }

  get count(): number {
    return this.#count;
  }

  /** Runs the victim (and the side-information sources) on x and appends the results. */
  async record(x: tf.Tensor4D): Promise<void> {
    const [h, w, c] = this.#inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new Error(`the recorder takes images [B, ${h}, ${w}, ${c}], got shape [${x.shape.join(', ')}]`);
    }
    const clean = inferencePosterior(this.#victim, x);
    const prints = imageFingerprints(x);
    const sides: tf.Tensor[] = [];
    try {
      for (const s of this.#sources) sides.push(s.sideInfo(x)!);
      this.#clean.push((await clean.data()) as Float32Array);
      this.#fingerprints.push((await prints.data()) as Float32Array);
      for (let i = 0; i < this.#sources.length; i++) {
        const slot = this.#side.get(this.#sources[i]!.sideInfoKey!)!;
        const t = sides[i]!;
        slot.rowShape ??= t.shape.slice(1);
        slot.values.push((await t.data()) as Float32Array);
      }
      this.#count += x.shape[0];
    } finally {
      clean.dispose();
      prints.dispose();
      sides.forEach((t) => t.dispose());
    }
  }

  finish(): QueryCache {
    const side = new Map<string, CachedSideInfo>();
    for (const [key, slot] of this.#side) side.set(key, { rowShape: slot.rowShape ?? [], values: slot.values.done() });
    return {
      count: this.#count,
      numClasses: this.#numClasses,
      inputShape: this.#inputShape,
      clean: this.#clean.done(),
      side,
      fingerprints: this.#fingerprints.done(),
    };
  }
}
