/**
 * One seeded random source for everything a run does (data order, initialisers, noise,
 * sampling). Math.random is never used: the same --seed must give the same numbers.
 *
 * Generator: xoshiro128** (128-bit state). A root stream (`new Rng(seed)`) is seeded through
 * splitmix32; a child (`fork(name)`) takes its whole 128-bit state from sha256(parent's seed
 * material, name), so its stream depends on the parent's seed and the name only: never on how
 * many draws or other forks the parent made before, and two children never share a 32-bit seed.
 */
import { createHash } from 'node:crypto';

/** Bump when the derivation of child streams changes (every forked stream moves). */
export const RNG_FORK_VERSION = 2;

/** Passed to the constructor by fork() only: a child's seed material (a sha256 digest). */
const CHILD = Symbol('rng-child');
interface ChildSeed {
  readonly [CHILD]: Buffer;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** What the stream was seeded from: a root's seed, or a child's digest. Children derive from it. */
  private readonly material: Buffer;
  /** Names already forked from this stream: a second child of one name would repeat the first. */
  private readonly forked = new Set<string>();

  constructor(seed: number | ChildSeed) {
    if (typeof seed !== 'number') {
      const digest = seed[CHILD];
      this.material = digest;
      this.s0 = digest.readUInt32LE(0);
      this.s1 = digest.readUInt32LE(4);
      this.s2 = digest.readUInt32LE(8);
      this.s3 = digest.readUInt32LE(12);
      if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
      return;
    }
    this.material = Buffer.from(`poison-rng/${RNG_FORK_VERSION}/root/${seed}`, 'utf8');
    let x = seed >>> 0 ^ Math.floor(seed / 2 ** 32) >>> 0;
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Rng.int needs a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * A positive 31-bit integer seed for a library that takes one (tfjs initialisers, tf.random*).
   * Never 0: tfjs treats a seed of 0 as "unseeded".
   */
  seed(): number {
    return 1 + (this.nextUint32() % 0x7ffffffe);
  }

  /**
   * The child stream named `name`: a function of this stream's seed material and the name alone
   * (it draws nothing from this stream), so adding draws or reordering forks in one place never
   * shifts another. A name can be forked once per stream (a second child of the same name would
   * silently repeat the first's numbers): name each by what it is for, e.g. `round-${i}`.
   */
  fork(name: string): Rng {
    if (this.forked.has(name)) {
      throw new Error(`Rng.fork: '${name}' was already forked from this stream; give each child its own name (e.g. with an index)`);
    }
    this.forked.add(name);
    // Length-prefixed, so (material, name) pairs never concatenate to the same bytes.
    const nameBytes = Buffer.from(name, 'utf8');
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32LE(this.material.length, 0);
    lengths.writeUInt32LE(nameBytes.length, 4);
    const digest = createHash('sha256').update(lengths).update(this.material).update(nameBytes).digest();
    return new Rng({ [CHILD]: digest });
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** k distinct indices from 0..n-1, in draw order (partial Fisher–Yates). */
  sampleWithoutReplacement(n: number, k: number): Int32Array {
    if (k > n) throw new RangeError(`cannot draw ${k} distinct items from ${n}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const tmp = p[i]!;
      p[i] = p[j]!;
      p[j] = tmp;
    }
    return p.slice(0, k);
  }
}

/**
 * An independent stream named by a path of labels, derived from the run's seed alone:
 * namedStream(seed, 'a', 'b') = new Rng(seed).fork('a').fork('b'). Draws from one stream never
 * shift another, however many each consumer makes.
 */
export function namedStream(runSeed: number, ...names: string[]): Rng {
  let rng = new Rng(runSeed);
  for (const name of names) rng = rng.fork(name);
  return rng;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
