/**
 * `node --import dist/scripts/shuffle/register.js <test file>`: the file's top-level tests run in
 * an order drawn from POISON_TEST_SHUFFLE_SEED (see scripts/shuffled-test.ts). Node 20's test
 * runner has no shuffle option of its own.
 */
import { register } from 'node:module';

register('./hooks.js', import.meta.url);
