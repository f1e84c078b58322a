/**
 * One rule for a test that needs something this machine may lack (webgpu with a Vulkan driver,
 * Debian's dataset packages, …): it skips with one line saying why, unless the matching
 * POISON_REQUIRE_<NAME>=1 is set (CI sets them after installing what they name), and then it
 * fails with that same line. So CI cannot pass without running it.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';

/** The name in POISON_REQUIRE_<name>. */
export type Requirement = 'WEBGPU' | 'DATASETS';

/** Whether POISON_REQUIRE_<requirement>=1 makes a missing `requirement` a failure. */
export function required(requirement: Requirement): boolean {
  return process.env[`POISON_REQUIRE_${requirement}`] === '1';
}

/** The one line shown for a missing requirement, the same whether the test skips or fails. */
export function missingLine(requirement: Requirement, why: string): string {
  return `${why} (POISON_REQUIRE_${requirement}=1 turns this skip into a failure)`;
}

/** Ends test `t` for a missing requirement: skipped, or failed when it is required. */
export function skipOrFail(t: TestContext, requirement: Requirement, why: string): void {
  const line = missingLine(requirement, why);
  if (required(requirement)) throw new Error(line);
  t.skip(line);
}

/** Where Debian's dataset-fashion-mnist puts the official files. */
export const DEBIAN_FASHION = '/usr/share/datasets/fashion-mnist';

/** Why Debian's Fashion-MNIST `file` cannot be used here, or null when it is there. */
export function debianFashionMissing(file: string): string | null {
  return existsSync(path.join(DEBIAN_FASHION, file)) ? null : `${DEBIAN_FASHION}/${file} absent (apt-get install dataset-fashion-mnist)`;
}
