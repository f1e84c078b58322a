/**
 * How an attacker adapts to the defense (docs/spec.md, "Attackers that adapt"): a layer between
 * an attack and the black box that may change what the black box is asked (smoothing asks several
 * augmented views of each image) and what the attack is answered (their mean). Declared like an
 * attack: a name, parameters, what the attacker knows; the command line, the sweep config and the
 * query stage read only this declaration, so a new adaptation is one file plus one registry line.
 */
import type { InputSpec, NormalisationFamily } from '../data/types.js';
import type { Rng } from '../util/rng.js';
import type { QueryOracle } from '../attacks/types.js';
import type { PlainParam } from '../params/declaration.js';

/**
 * What the adapting attacker knows of the defense (SPEC-ADAPTIVE.md): nothing; its type (a
 * detector picks it); its type and parameters (simulated with the attacker's own stand-ins); or
 * the defender's private models and clean posteriors (`oracle`: an upper bound, no real attacker).
 */
export type AttackerKnows = 'nothing' | 'defense-type' | 'defense-params' | 'oracle';

/** One parameter of an adaptation: the one declaration type (src/params/declaration.ts), a plain default. */
export type AdaptationParam = PlainParam;

/** An adaptation's parameter values by key, defaults filled in. */
export type AdaptationSettings = Record<string, number | string | null>;

/** An adaptation chosen for a run: its name and settings, checked against its declaration. */
export interface AdaptationSpec {
  name: string;
  settings: AdaptationSettings;
}

/**
 * The attacker's own instance of the defense, built from its type and parameters (what an
 * attacker that knows `defense-params` can build): D applied to posterior rows alone.
 */
export interface StandInDefense {
  /** D(u) for count × numClasses rows u, row-major. */
  apply(rows: Float32Array): Promise<Float32Array>;
}

interface AdaptationContext {
  settings: AdaptationSettings;
  /** Its own stream, forked from the run's seed (the attack's draws do not move). */
  rng: Rng;
  input: InputSpec;
  /** The victim dataset's family (which augmentation fits its images). */
  family: NormalisationFamily;
  numClasses: number;
  /**
   * Builds the attacker's stand-in for the defense (fresh, from its own random stream; disposed
   * when the query phase ends); refused (a UsageError) for a defense that needs the query images
   * or the defender's private models.
   */
  standInDefense(): Promise<StandInDefense>;
  /**
   * The victim's clean posteriors of black-box queries from..from+count (row-major): an oracle no
   * real attacker has, for the variants that record attackerKnows `oracle` (upper bounds).
   */
  cleanAnswers(from: number, count: number): Float32Array;
}

export interface AdaptationDefinition {
  name: string;
  /** One line for help and docs. */
  summary: string;
  params: readonly AdaptationParam[];
  attackerKnows(settings: AdaptationSettings): AttackerKnows;
  /**
   * Black-box queries it spends per image the attack asks about. Budgets count queries, so an
   * attack with budget B asks about floor(B / this) images.
   */
  queriesPerImage(settings: AdaptationSettings): number;
  /**
   * The oracle the attack talks to, on top of the black box's: its budget is in images, each
   * image costing queriesPerImage queries of `blackBox`. Loads TensorFlow.js code only here.
   */
  wrap(blackBox: QueryOracle, ctx: AdaptationContext): Promise<QueryOracle>;
}
