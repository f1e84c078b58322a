import assert from 'node:assert/strict';

/** The largest |expected| and the largest |actual − expected| of two equally long arrays. */
export function maxErrors(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): { maxRef: number; maxErr: number } {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let maxRef = 0;
  let maxErr = 0;
  for (let i = 0; i < expected.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
    maxErr = Math.max(maxErr, Math.abs(actual[i]! - expected[i]!));
  }
  return { maxRef, maxErr };
}

/** max |a − b| ≤ rel × max(max |b|, floor). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string, floor = 1e-3): void {
  const { maxRef, maxErr } = maxErrors(actual, expected, what);
  assert.ok(maxErr <= rel * Math.max(maxRef, floor), `${what}: max error ${maxErr} > ${rel} × ${maxRef}`);
}

/** `size` values uniform in [lo, hi) from the seeded stream. */
export function randomValues(rng: { next(): number }, size: number, lo = -1, hi = 1): Float32Array {
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) v[i] = lo + (hi - lo) * rng.next();
  return v;
}

/** The tensor's values (an awaited read: synchronous reads throw on webgpu), then disposes it. */
export async function read(t: { data(): Promise<unknown>; dispose(): void }): Promise<Float32Array> {
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}
