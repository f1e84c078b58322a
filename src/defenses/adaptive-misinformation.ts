/**
 * Adaptive misinformation (Kariyappa & Qureshi, CVPR 2021; SPEC-EXTENSIONS §2): queries the victim
 * is unsure about (top probability s below τ, typical of out-of-distribution attacker queries)
 * are answered by a blend with a misinformation model f̂ trained to be wrong:
 *   α = sigmoid(ν(τ − s)),  ỹ = (1 − α)·y + α·softmax(f̂(x)).
 * f̂ is trained beside the victim by prepare() (or `poison train --misinformation <victim>`); the
 * tensor code is in ood-blend.ts and src/train/misinformation.ts, loaded only when used.
 */
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import { hasSavedModel } from '../models/files.js';
import { misinformationDirOf } from '../train/artifacts.js';
import { checkDeclaredRanges, numberField, pathField } from './declared-ranges.js';
import type { DefenseDefinition, DefenseSpec } from './definition.js';

/** The authors' G2 re-implementation's ν (their own code hard-codes 10⁴). */
const DEFAULT_NU = 1000;

/** Where f̂ comes from: the spec's directory, else the one prepare() trains inside the victim's. */
function modelDirOf(spec: DefenseSpec, victimDir: string | undefined): string {
  const dir = pathField(spec, 'misinformation');
  if (dir !== null) return dir;
  if (victimDir === undefined) {
    throw new UsageError('adaptive-misinformation needs --misinformation <dir> when the victim directory is not known');
  }
  return misinformationDirOf(victimDir);
}

export const adaptiveMisinformation: DefenseDefinition = {
  name: 'adaptive-misinformation',
  summary: 'blend y with a misinformation model\'s posterior when the victim is unsure: α = sigmoid(ν(τ − max y)), ỹ = (1 − α)y + αŷ',
  params: [
    {
      key: 'am-tau',
      field: 'tau',
      flag: '--am-tau <x>',
      help: 'threshold τ in [0, 1] on the victim\'s top probability, below which answers turn to misinformation; τ = 0 releases y',
      kind: 'number',
      range: { min: 0, max: 1 },
    },
    {
      key: 'am-nu',
      field: 'nu',
      flag: '--am-nu <x>',
      help: 'sharpness ν > 0 of the gate α = sigmoid(ν(τ − max y))',
      kind: 'number',
      range: { gt: 0 },
      default: DEFAULT_NU,
    },
    {
      key: 'misinformation',
      field: 'misinformation',
      flag: '--misinformation <dir>',
      help: 'saved misinformation model f̂ (default: <victim>/misinformation, trained there on first use like `poison train --misinformation <victim>`)',
      kind: 'path',
      default: null,
    },
  ],
  operatingAxis: 'am-tau',
  check(spec, ctx) {
    checkDeclaredRanges(adaptiveMisinformation, spec, ctx);
  },
  drawsRandomness: () => false,
  // ŷ depends on f̂ and x only: every τ and ν shares one pass of f̂ over the queries.
  sideInfoIdentity: (spec) => ({ misinformation: pathField(spec, 'misinformation') }),
  describe(spec) {
    const dir = pathField(spec, 'misinformation');
    return `adaptive-misinformation(tau=${numberField(spec, 'tau')}, nu=${numberField(spec, 'nu')}, misinformation=${dir ?? 'beside the victim'})`;
  },
  slug(spec) {
    const dir = pathField(spec, 'misinformation');
    const base = `adaptive-misinformation-tau${numberField(spec, 'tau')}-nu${numberField(spec, 'nu')}`;
    return dir === null ? base : `${base}-mis-${path.basename(dir.replace(/[\\/]+$/, '')) || 'dir'}`;
  },
  // One f̂ per victim, trained from the victim's seed: every τ, ν and run seed shares it.
  preparedIdentity: (spec) => (pathField(spec, 'misinformation') === null ? { model: 'misinformation beside the victim' } : null),
  async prepare(spec, ctx) {
    if (pathField(spec, 'misinformation') !== null) return;
    const out = misinformationDirOf(ctx.victimDir);
    if (await hasSavedModel(out)) return;
    const { readParams } = await import('../models/io.js');
    const { misinformationDefaults, trainMisinformation } = await import('../train/misinformation.js');
    const victim = await readParams(ctx.victimDir);
    const { settings, limit } = misinformationDefaults(victim);
    const line = ctx.reporter?.line?.bind(ctx.reporter);
    line?.(`training the misinformation model for ${ctx.victimDir} → ${out} (${settings.epochs} epochs)`);
    // Seeded from the victim's own seed: f̂ belongs to the victim, so every run seed shares it.
    const result = await trainMisinformation({ victimDir: ctx.victimDir, out, force: true, seed: victim.seed, settings, limit, ...(line ? { report: line } : {}) });
    line?.(`misinformation model: test accuracy ${(100 * result.testAccuracy).toFixed(2)}% (chance ${(100 / victim.numClasses).toFixed(2)}%)`);
  },
  async create(spec, ctx) {
    checkDeclaredRanges(adaptiveMisinformation, spec, { numClasses: ctx.numClasses });
    const modelDir = modelDirOf(spec, ctx.victimDir);
    if (pathField(spec, 'misinformation') === null && !(await hasSavedModel(modelDir))) {
      throw new UsageError(`no misinformation model in ${modelDir}: it is trained there before the first query (prepare), or run \`poison train --misinformation ${ctx.victimDir ?? '<victim>'}\``);
    }
    const { createOodBlendDefense } = await import('./ood-blend.js');
    return createOodBlendDefense(spec, ctx, { tau: numberField(spec, 'tau'), nu: numberField(spec, 'nu'), modelDir });
  },
};
