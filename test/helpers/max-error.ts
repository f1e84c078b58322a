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
