/**
 * node:test with the top-level `test()` calls of a file held back and registered in a shuffled
 * order: the calls made in one turn of the event loop (a file's top level, or the part after a
 * top-level await) are shuffled together. Hooks, describe and subtests (t.test) are the real ones.
 * The order is drawn from POISON_TEST_SHUFFLE_SEED and printed, so a failing order can be rerun.
 */
import * as real from 'node:test';

export const { after, afterEach, before, beforeEach, describe, it, mock, suite } = real;

const seed = Number(process.env.POISON_TEST_SHUFFLE_SEED ?? '1') >>> 0;
let state = seed || 1;
/** xorshift32: a tiny seeded generator, independent of the project's Rng under test. */
function nextUnit(): number {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 2 ** 32;
}

const held: unknown[][] = [];
let flushing = false;

export function test(...args: unknown[]): Promise<void> {
  held.push(args);
  if (!flushing) {
    flushing = true;
    setImmediate(flush);
  }
  return Promise.resolve();
}

function flush(): void {
  flushing = false;
  const batch = held.splice(0);
  for (let i = batch.length - 1; i > 0; i--) {
    const j = Math.floor(nextUnit() * (i + 1));
    [batch[i], batch[j]] = [batch[j]!, batch[i]!];
  }
  const names = batch.map((args) => (typeof args[0] === 'string' ? args[0] : '(unnamed)'));
  process.stderr.write(`# shuffled order (seed ${seed}): ${names.map((n) => JSON.stringify(n.slice(0, 60))).join(', ')}\n`);
  const register = real.test as (...a: unknown[]) => unknown;
  for (const args of batch) void register(...args);
}
