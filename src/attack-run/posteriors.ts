/**
 * Rows read back from the victim, the defense's side information and the defense, batch by
 * batch: clean y on a list of images, side rows on the same images, and ỹ from (y, side).
 */
import * as tf from '@tensorflow/tfjs';
import { toModelInput, type BatchIndices } from '../data/convert.js';
import type { ImageSet, InputSpec } from '../data/types.js';
import type { Defense } from '../defenses/types.js';
import { inferencePosterior } from '../defenses/forward.js';
import { rowLength, sideTensor, type SideRows } from './side-rows.js';
import { victimShape } from '../blackbox/victim.js';

export const ROWS_PER_BATCH = 256;

/** The selected images: a list of indices, or the first `n` when a number. */
type ImageSelection = Int32Array | number;

function selectionSize(selection: ImageSelection): number {
  return typeof selection === 'number' ? selection : selection.length;
}

function* batches(selection: ImageSelection): Generator<{ at: number; end: number; select: BatchIndices }> {
  const total = selectionSize(selection);
  for (let at = 0; at < total; at += ROWS_PER_BATCH) {
    const end = Math.min(total, at + ROWS_PER_BATCH);
    yield { at, end, select: typeof selection === 'number' ? { start: at, end } : selection.subarray(at, end) };
  }
}

/**
 * y = softmax(F_V(x)) of the selected images, one row of the model's K outputs each (a query
 * pool may have another class count than the model, e.g. EMNIST-letters' 26).
 */
export async function cleanRows(victim: tf.LayersModel, set: ImageSet, selection: ImageSelection, input: InputSpec): Promise<Float32Array> {
  const K = victimShape(victim).numClasses;
  const out = new Float32Array(selectionSize(selection) * K);
  for (const b of batches(selection)) {
    const y = tf.tidy(() => inferencePosterior(victim, toModelInput(set, b.select, input)));
    out.set((await y.data()) as Float32Array, b.at * K);
    y.dispose();
  }
  return out;
}

/** The defense's side rows of the selected images, or null when it needs none. */
export async function sideRows(defense: Defense, set: ImageSet, selection: ImageSelection, input: InputSpec): Promise<SideRows | null> {
  if (defense.sideInfoKey === null) return null;
  const total = selectionSize(selection);
  let out: SideRows | null = null;
  for (const b of batches(selection)) {
    const x = toModelInput(set, b.select, input);
    const side = defense.sideInfo(x);
    x.dispose();
    if (!side) throw new Error(`defense ${defense.spec.name} names side information but computed none`);
    const rowShape = side.shape.slice(1);
    out ??= { rowShape, data: new Float32Array(total * rowLength(rowShape)) };
    out.data.set((await side.data()) as Float32Array, b.at * rowLength(rowShape));
    side.dispose();
  }
  return out;
}

/** ỹ for clean rows and their side rows (same order). */
export async function releasedRows(defense: Defense, clean: Float32Array, side: SideRows | null, numClasses: number): Promise<Float32Array> {
  const count = clean.length / numClasses;
  const out = new Float32Array(clean.length);
  for (const b of batches(count)) {
    const y = tf.tensor2d(clean.subarray(b.at * numClasses, b.end * numClasses), [b.end - b.at, numClasses]);
    const sideRows = side ? sideTensor(side, b.at, b.end) : null;
    try {
      const yt = await defense.applyAsync(y, sideRows);
      out.set((await yt.data()) as Float32Array, b.at * numClasses);
      yt.dispose();
    } finally {
      y.dispose();
      sideRows?.dispose();
    }
  }
  return out;
}
