/**
 * What every defense answers about a spec, from its declaration (definition.ts): whether consumers share an instance,
 * side-information and prepared-artifact identities, a readable description and a file-name-safe slug. Free of
 * TensorFlow.js so the CLI can describe defenses without loading it (`--help` stays fast).
 */
import type { DefenseSpec } from './definition.js';
import { defenseDefinition } from './registry.js';

export type { DefenseSpec } from './definition.js';
export type { Norm } from './norm.js';

/**
 * Whether each consumer of the defense's answers (the test-set evaluation, the attacker) needs an
 * instance of its own: a random defense draws from a stream per consumer, a stateful one keeps
 * a history per consumer.
 */
export function needsInstancePerConsumer(spec: DefenseSpec): boolean {
  const definition = defenseDefinition(spec.name);
  return definition.drawsRandomness(spec) || definition.keepsState?.(spec) === true;
}

/**
 * Identity of the side information a defense computes per query image (MAD's surrogate
 * posteriors or gradients), or null when it needs none. Two runs with the same images and the
 * same identity may share it.
 */
export function sideInfoIdentity(spec: DefenseSpec): Record<string, unknown> | null {
  return defenseDefinition(spec.name).sideInfoIdentity(spec);
}

/**
 * Identity of what the defense's prepare() builds for a run with this seed (equal identities share
 * one build), or null when it builds nothing: no prepare(), or a spec that names its own artifact.
 */
export function preparedIdentity(spec: DefenseSpec, seed: number): Record<string, unknown> | null {
  const definition = defenseDefinition(spec.name);
  if (definition.prepare === undefined) return null;
  if (definition.preparedIdentity === undefined) return { spec, seed };
  const identity = definition.preparedIdentity(spec);
  return identity === null ? null : { defense: spec.name, ...identity };
}

/** The declared parameters' values, in declaration order. */
function values(spec: DefenseSpec): { key: string; value: string }[] {
  return defenseDefinition(spec.name).params.map((p) => ({ key: p.key, value: String(spec[p.field]) }));
}

/** One short human-readable line: `top-k(k=3)`, `mad(eps=0.5, ydist=l1, jacobian=closed, …)`. */
export function describeDefense(spec: DefenseSpec): string {
  const definition = defenseDefinition(spec.name);
  if (definition.describe) return definition.describe(spec);
  const parts = values(spec);
  return parts.length === 0 ? spec.name : `${spec.name}(${parts.map((p) => `${p.key}=${p.value}`).join(', ')})`;
}

/** A file-name-safe tag of a defense and its parameters: `top-k-k3`, `mad-eps0.5-l1`. */
export function defenseSlug(spec: DefenseSpec): string {
  const definition = defenseDefinition(spec.name);
  if (definition.slug) return definition.slug(spec);
  return [spec.name, ...values(spec).map((p) => `${p.key}${p.value}`)].join('-').replace(/[^A-Za-z0-9._-]+/g, '_');
}
