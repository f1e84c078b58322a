/**
 * A ready defense for a victim, and what a defense builds beside the victim before it: the one
 * place that turns a spec into its declaration's prepare() and create().
 */
import type { DefensePrepareContext, DefenseSpec } from './definition.js';
import { checkDefenseForClasses } from './params.js';
import { defenseDefinition } from './registry.js';
import type { Defense, DefenseContext } from './types.js';

/**
 * Builds what the spec's defense needs beside the victim (nothing for most), idempotently; called
 * before createDefense by `poison eval`, `poison attack` and a sweep's workers.
 */
export async function prepareDefense(spec: DefenseSpec, ctx: DefensePrepareContext): Promise<void> {
  await defenseDefinition(spec.name).prepare?.(spec, ctx);
}

/**
 * A ready defense for a victim. MAD loads or builds its surrogate here (a saved surrogate whose
 * input shape or class count differs from the victim's is a UsageError). The caller disposes it.
 */
export async function createDefense(spec: DefenseSpec, ctx: DefenseContext): Promise<Defense> {
  checkDefenseForClasses(spec, ctx.numClasses);
  return defenseDefinition(spec.name).create(spec, ctx);
}
