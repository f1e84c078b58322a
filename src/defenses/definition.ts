/**
 * How a defense declares itself: one object per defense (src/defenses/<name>.ts), listed once in
 * registry.ts. Its parameters drive the `poison eval` / `poison attack` flags, the sweep config's
 * keys and errors, validation, --help, the CSV columns and the operating axis; nothing else in
 * src/ is written per defense. Free of TensorFlow.js: the CLI reads it for --help without loading it.
 */
import type { ParamContext, ParamDeclaration } from '../params/declaration.js';
import type { ArchName } from '../models/types.js';
import type { Defense, DefenseContext } from './types.js';

/** A validated defense: its name and one value per declared parameter, by field. */
export interface DefenseSpec { readonly name: string; readonly [field: string]: string | number | boolean | null }

/**
 * One parameter of a defense: the one declaration type (src/params/declaration.ts) with the spec
 * field it fills (`noise-eps` fills `epsZ`). Its key is its flag without dashes; the sweep config
 * spells it camelCase (`noiseEps`). A number without a default is required.
 */
export type DefenseParam = ParamDeclaration & { field: string };

export interface DefenseParseContext extends ParamContext {
  /**
   * The parameter keys the user set (flags or config keys), when parsing them; absent when a
   * spec is checked on its own (e.g. before create()). Lets check() refuse a parameter that was
   * given but does not apply, even at its default value.
   */
  given?: ReadonlySet<string>;
  /** The victim's architecture, when known (a defense whose default depends on it). */
  arch?: ArchName;
}

/** What prepare() may use: artifacts go beside the victim directory. */
export interface DefensePrepareContext {
  victimDir: string;
  seed: number;
  reporter?: { line?(text: string): void };
}

export interface DefenseDefinition {
  name: string;
  /** One line for --help and docs. */
  summary: string;
  params: readonly DefenseParam[];
  /** The param key a sweep varies to trace the defense's line in plots; null = single point. */
  operatingAxis: string | null;
  /** Cross-field and class-count checks after parsing; throws UsageError. */
  check?(spec: DefenseSpec, ctx: DefenseParseContext): void;
  drawsRandomness(spec: DefenseSpec): boolean;
  /**
   * Whether an answer depends on the queries answered before it (ModelGuard-S's codebook): then,
   * as for a random defense, every consumer of a run gets its own instance. Default: false.
   */
  keepsState?(spec: DefenseSpec): boolean;
  /** Identity of per-image side information (two runs with equal identity may share it); null = none. */
  sideInfoIdentity(spec: DefenseSpec): Record<string, unknown> | null;
  /** Optional overrides; the defaults are derived from params (`mad(eps=0.5, ydist=l1)`, `mad-eps0.5-l1`). */
  describe?(spec: DefenseSpec): string;
  slug?(spec: DefenseSpec): string;
  /**
   * Builds what the defense needs beside the victim (e.g. a trained model) once, before any query;
   * idempotent (a second call finds it and returns). Called by `poison eval` / `poison attack` before
   * create(), and by a sweep's worker before each cell of the defense: the sweep's scheduler lets
   * one cell per prepared identity (below) build it while cells needing it wait and the other
   * workers run other cells, so two workers or shards never build the same thing at once.
   */
  prepare?(spec: DefenseSpec, ctx: DefensePrepareContext): Promise<void>;
  /**
   * Identity of what prepare() builds for this spec: specs with equal identities share one build
   * (every τ of adaptive misinformation shares one f̂), null = this spec needs nothing built (it
   * names a model of the user's). Only read when prepare() exists; default: the spec and the run
   * seed, i.e. one build per distinct spec and seed.
   */
  preparedIdentity?(spec: DefenseSpec): Record<string, unknown> | null;
  /** Imports its TensorFlow.js code lazily (dynamic import inside), so declaring it stays cheap. */
  create(spec: DefenseSpec, ctx: DefenseContext): Promise<Defense>;
}
