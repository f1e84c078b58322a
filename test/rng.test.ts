import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { namedStream, Rng, RNG_FORK_VERSION } from '../src/util/rng.js';

function take(rng: Rng, n = 4): number[] {
  return Array.from({ length: n }, () => rng.nextUint32());
}

test('known answers: the first outputs of a root stream and of named forks are pinned', () => {
  // Root streams are xoshiro128** seeded through splitmix32 (unchanged since the first session).
  assert.deepEqual(take(new Rng(42)), [2837322924, 544945897, 479756282, 3500138142]);
  assert.deepEqual(take(new Rng(42).fork('attack')), [653062700, 2446079894, 3747777144, 2870507484]);
  assert.deepEqual(take(new Rng(42).fork('attack').fork('init')), [3971187139, 2476541926, 4026269937, 1616839336]);
  assert.deepEqual(take(namedStream(42, 'attack', 'init')), [3971187139, 2476541926, 4026269937, 1616839336]);
  assert.deepEqual(take(new Rng(7).fork('surrogate')), [3305751253, 4157248112, 527658016, 791974705]);
  assert.equal(new Rng(42).fork('attack').next(), 0.15205301023663842);
});

test("a fork's state is sha256(lengths, parent's seed material, name): its first output follows from the digest alone", () => {
  // xoshiro128**'s first output is rotl(s1·5, 7)·9, with s1 the digest's second 32-bit word.
  const material = Buffer.from(`poison-rng/${RNG_FORK_VERSION}/root/42`, 'utf8');
  const name = Buffer.from('attack', 'utf8');
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32LE(material.length, 0);
  lengths.writeUInt32LE(name.length, 4);
  const s1 = createHash('sha256').update(lengths).update(material).update(name).digest().readUInt32LE(4);
  const x = Math.imul(s1, 5) >>> 0;
  const expected = Math.imul(((x << 7) | (x >>> 25)) >>> 0, 9) >>> 0;
  assert.equal(new Rng(42).fork('attack').nextUint32(), expected);
});

test('forks do not depend on call order or on draws from the parent', () => {
  const a = new Rng(5);
  const first = take(a.fork('refits'), 8);
  const second = take(a.fork('bandit'), 8);
  const b = new Rng(5);
  b.next();
  b.permutation(17);
  const secondReordered = take(b.fork('bandit'), 8);
  const firstReordered = take(b.fork('refits'), 8);
  assert.deepEqual(firstReordered, first);
  assert.deepEqual(secondReordered, second);
  assert.notDeepEqual(first, second);
  // Forking draws nothing from the parent either.
  const c = new Rng(5);
  c.fork('x');
  assert.deepEqual(take(c), take(new Rng(5)));
});

test('forking one name twice from one stream throws (the second child would repeat the first)', () => {
  const rng = new Rng(3);
  rng.fork('round');
  assert.throws(() => rng.fork('round'), /'round' was already forked/);
  // Fresh parents of the same seed may fork the name again: that is the same stream on purpose.
  assert.deepEqual(take(new Rng(3).fork('round')), take(new Rng(3).fork('round')));
});

test('child seeds do not collide like 32-bit seeds would (200,000 named forks, 64-bit fingerprints)', () => {
  // With 32-bit child seeds about n²/2³³ ≈ 4.7 pairs of these children would share a stream.
  const parent = new Rng(1);
  const seen = new Set<string>();
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const child = parent.fork(`child-${i}`);
    seen.add(`${child.nextUint32()}:${child.nextUint32()}`);
  }
  assert.equal(seen.size, n);
  // Seeds 0 and 2³² + 1 fold to one 32-bit root state (the same root stream), yet their children
  // differ: a child derives from the whole seed.
  assert.deepEqual(take(new Rng(0)), take(new Rng(2 ** 32 + 1)));
  assert.notDeepEqual(take(new Rng(0).fork('a')), take(new Rng(2 ** 32 + 1).fork('a')));
});
