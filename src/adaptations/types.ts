/**
 * How an attacker adapts to the defense (docs/spec.md, "Attackers that adapt"): a layer between
 * an attack and the black box that may change what the black box is asked (smoothing asks several
 * augmented views of each image) and what the attack is answered (their mean), and may change how
 * the attacker trains on the answers (S4L: attackerTraining). Declared like an
 * attack: a name, parameters, what the attacker knows; the command line, the sweep config and the
 * query stage read only this declaration, so a new adaptation is one file plus one registry line.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ImageSet, InputSpec, NormalisationFamily } from '../data/types.js';
import type { Rng } from '../util/rng.js';
import type { QueryOracle } from '../attacks/types.js';
import type { TrainSettings, TrainingExtension } from '../train/loop.js';
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

export interface AdaptationContext {
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
  /**
   * A labelled in-domain sample the attacker holds: round(fraction · N) images of the victim's
   * training split (N images), drawn without replacement with `rng` (shadow models train on it).
   * Absent where the run has none to give (a synthetic black box in tests).
   */
  inDomainSample?(fraction: number, rng: Rng): Promise<ImageSet>;
  /** A fresh model of the victim's architecture for its input, initialised from `rng` (shadow models). */
  victimArchitecture?(rng: Rng): tf.LayersModel;
}

/** The oracle an adaptation hands the attack. */
export interface AdaptedOracle extends QueryOracle {
  /**
   * What the adaptation decided during the query phase (a detector's choice, table sizes), read
   * once the phase ends and written into result.json as `adaptationReport`.
   */
  report?(): Record<string, unknown>;
  /** Frees what it holds (a trained network's weights); called once the query phase ends. */
  dispose?(): void;
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
  wrap(blackBox: QueryOracle, ctx: AdaptationContext): Promise<AdaptedOracle>;
  /**
   * True when it learns from images the attacker holds but has not asked about (S4L), so it adapts
   * only attacks whose query source declares such a pool (a Jacobian attack's seed set is not one).
   */
  needsUnlabelledPool?: boolean;
  /**
   * Changes how each attacker trains (S4L adds a self-supervised objective on the query pool):
   * called once per attacker, before its first step; the run calls dispose() when it is trained.
   * Absent: the naive attacker's training. Loads TensorFlow.js code only here.
   */
  attackerTraining?(ctx: AttackerTrainingContext): Promise<AttackerTraining>;
}

/** What an adaptation sees of one attacker about to train. */
export interface AttackerTrainingContext {
  settings: AdaptationSettings;
  /** Its own stream for this attacker (the naive attacker's initialisation and data order do not move). */
  rng: Rng;
  /** The attacker being trained: the model saved and scored afterwards. */
  model: tf.LayersModel;
  input: InputSpec;
  numClasses: number;
  /** The attack's whole query pool (pool attacks; unlabelled: the attacker has not asked about most of it). */
  pool: ImageSet | undefined;
  training: TrainSettings;
}

/** The training loop's extension, plus the release of what it made (its variables). */
export interface AttackerTraining extends TrainingExtension {
  dispose(): void;
}
