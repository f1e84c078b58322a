/**
 * Runs test files in a shuffled order, each file's top-level tests shuffled too, to find tests
 * that depend on state another test left behind:
 *
 *   node dist/scripts/shuffled-test.js [--seed N] [dist/test/x.test.js …]
 *
 * (default: every dist/test/*.test.js; default seed: drawn and printed). Each file runs in its
 * own process, like `node --test` does, through scripts/shuffle/register.js (Node 20's test
 * runner cannot shuffle). Exit status 1 when any file fails; the seed reproduces the order.
 * Run it in the git checkout itself: the sweep tests compare the commit recorded in provenance.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? Number(args.splice(seedAt, 2)[1]) : randomInt(1, 2 ** 31);
if (!Number.isInteger(seed) || seed <= 0) {
  process.stderr.write('shuffled-test: --seed takes a whole number > 0\n');
  process.exit(2);
}
const testDir = path.join(here, '..', 'test');
const files = args.length > 0 ? args : readdirSync(testDir).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(testDir, f));

// The file order from the seed (xorshift32, as in shuffle/node-test.ts; each file then gets seed + its position).
let state = seed >>> 0;
const order = [...files];
for (let i = order.length - 1; i > 0; i--) {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  const j = Math.floor((state / 2 ** 32) * (i + 1));
  [order[i], order[j]] = [order[j]!, order[i]!];
}

process.stdout.write(`shuffled-test: seed ${seed}, ${order.length} files\n`);
const failed: string[] = [];
order.forEach((file, position) => {
  process.stdout.write(`\n# ${position + 1}/${order.length} ${path.basename(file)}\n`);
  const r = spawnSync(process.execPath, ['--import', path.join(here, 'shuffle', 'register.js'), '--test-reporter=dot', file], {
    stdio: 'inherit',
    env: { ...process.env, POISON_TEST_SHUFFLE_SEED: String(seed + position) },
  });
  if (r.status !== 0) failed.push(`${path.basename(file)} (exit ${r.status ?? r.signal})`);
});
process.stdout.write(`\nshuffled-test: seed ${seed}: ${order.length - failed.length} of ${order.length} files passed${failed.length ? `; failed: ${failed.join(', ')}` : ''}\n`);
process.exit(failed.length ? 1 : 0);
