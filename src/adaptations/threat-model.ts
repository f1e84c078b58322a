/**
 * The threat model of a run or a sweep entry in words, for the human-readable outputs (the
 * `poison attack` summary on stdout, the sweep's summary.md and plots): the naive attacker, or an
 * adaptation with its settings and what its attacker knows. An attacker that knows `oracle` reads
 * the defender's private data, which no real attacker has: its accuracy is an upper bound on what
 * an adaptive attacker reaches, and every output says so.
 */
import { adaptationDefinition } from './registry.js';
import type { AdaptationSpec, AttackerKnows } from './types.js';

export interface ThreatModel {
  /** null: the naive attacker, which takes the defended answers as they come. */
  adaptation: AdaptationSpec | null;
  /** null with no adaptation. */
  attackerKnows: AttackerKnows | null;
  /** attackerKnows `oracle`: an upper bound, not a realistic attacker. */
  upperBound: boolean;
}

/** What outputs append to an oracle attacker's name (legend entries, labels). */
export const UPPER_BOUND_MARK = '(oracle: upper bound)';

const KNOWS_TEXT: Record<AttackerKnows, string> = {
  nothing: 'nothing of the defense',
  'defense-type': "the defense's type",
  'defense-params': "the defense's type and parameters",
  oracle: "the defender's private models and clean posteriors, which no real attacker has",
};

export function threatModelOf(adaptation: AdaptationSpec | null): ThreatModel {
  if (!adaptation) return { adaptation: null, attackerKnows: null, upperBound: false };
  const attackerKnows = adaptationDefinition(adaptation.name).attackerKnows(adaptation.settings);
  return { adaptation, attackerKnows, upperBound: attackerKnows === 'oracle' };
}

/**
 * One line: "naive attacker (no adaptation: …)", or "adapts with bayes (bayesSamples=1000, …);
 * attackerKnows defense-params (…)", an oracle one ending with its upper-bound mark.
 */
export function threatModelLine(t: ThreatModel): string {
  if (!t.adaptation || !t.attackerKnows) return 'naive attacker (no adaptation: it trains on the defended answers as they come)';
  const settings = Object.entries(t.adaptation.settings).map(([k, v]) => `${k}=${String(v)}`);
  const adapts = `adapts with ${t.adaptation.name}${settings.length > 0 ? ` (${settings.join(', ')})` : ''}`;
  const knows = `attackerKnows ${t.attackerKnows} (${KNOWS_TEXT[t.attackerKnows]})`;
  return `${adapts}; ${knows}${t.upperBound ? ` ${UPPER_BOUND_MARK}` : ''}`;
}
