/**
 * GRAD² (Mazeika et al., "How to Steer Your Adversary", 2022; SPEC-EXTENSIONS §3): answer each query with
 * the posterior within an L1 budget ε of y that turns the attacker's training gradient, as seen
 * through a surrogate distilled from the victim, most towards a target direction:
 *   all-ones  — t = 1 (the paper's main method, GRAD² = ALL-ONES),
 *   watermark — t = the gradient for a random label at one fixed test image,
 *   min-ip    — t = −(the gradient of the clean answers): anti-align the attacker's step.
 * The surrogate is distilled beside the victim by prepare(); the tensor code (greedy solver,
 * finite-difference and last-layer forms of c) is in gradient-redirection.ts, loaded when used.
 */
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import { hasSavedModel } from '../models/files.js';
import { distilledSurrogateDirOf } from '../train/artifacts.js';
import { checkDeclaredRanges, choiceField, l1EpsParam, numberField, pathField } from './declared-ranges.js';
import type { DefenseDefinition, DefenseSpec } from './definition.js';

const TARGETS = ['all-ones', 'min-ip', 'watermark'] as const;
type Target = (typeof TARGETS)[number];
const LAYERS = ['auto', 'all', 'last'] as const;

/** The L1 budget when none is given: the middle of the paper's grid {0, 0.1, …, 1}. */
const DEFAULT_EPS = 0.5;

function targetOf(spec: DefenseSpec): Target {
  const t = choiceField(spec, 'target');
  if (!(TARGETS as readonly string[]).includes(t)) throw new UsageError(`--grad2-target: unknown value '${t}' (choose one of: ${TARGETS.join(', ')})`);
  return t as Target;
}

/**
 * auto: min-ip on the last layer (its per-example closed form is the only x-only form of a target
 * that depends on y), every other target over all parameters.
 */
function layersOf(spec: DefenseSpec): 'all' | 'last' {
  const l = choiceField(spec, 'layers');
  if (l === 'auto') return targetOf(spec) === 'min-ip' ? 'last' : 'all';
  return l === 'last' ? 'last' : 'all';
}

export const grad2: DefenseDefinition = {
  name: 'grad2',
  summary: 'gradient redirection: within ‖ỹ − y‖₁ ≤ ε, the answer that turns the attacker\'s gradient (through a distilled surrogate) most towards a target',
  params: [
    l1EpsParam(DEFAULT_EPS),
    {
      key: 'grad2-target',
      field: 'target',
      flag: '--grad2-target <t>',
      help: 'target direction: all-ones (the paper\'s GRAD²) | min-ip (anti-align with the clean gradient) | watermark (a random label at one test image)',
      kind: 'choice',
      choices: TARGETS,
      default: 'all-ones',
    },
    {
      key: 'grad2-layers',
      field: 'layers',
      flag: '--grad2-layers <scope>',
      help: 'parameters the gradient is taken over: all (finite differences) | last (closed form; not for all-ones, where it is identically 0) | auto (min-ip: last, others: all)',
      kind: 'choice',
      choices: LAYERS,
      default: 'auto',
    },
    {
      key: 'grad2-surrogate',
      field: 'grad2Surrogate',
      flag: '--grad2-surrogate <dir>',
      help: 'saved surrogate model (default: <victim>/distilled-surrogate, distilled there from the victim on its default query pool on first use)',
      kind: 'path',
      default: null,
    },
  ],
  operatingAxis: 'eps',
  check(spec, ctx) {
    checkDeclaredRanges(grad2, spec, ctx);
    const target = targetOf(spec);
    const layers = choiceField(spec, 'layers');
    if (target === 'all-ones' && layers === 'last') {
      throw new UsageError('--grad2-target all-ones with --grad2-layers last is degenerate: on the last layer alone c ≡ 0 (softmax is shift-invariant), use --grad2-layers all');
    }
    if (target === 'min-ip' && layers === 'all') {
      throw new UsageError('--grad2-target min-ip depends on the answers y, so only its per-example last-layer form can be computed from the query alone: use --grad2-layers last (or auto)');
    }
  },
  drawsRandomness: () => false,
  // What apply() needs from x: c for all-ones and watermark, the surrogate posterior for min-ip; ε never.
  sideInfoIdentity(spec) {
    const target = targetOf(spec);
    return { grad2Surrogate: pathField(spec, 'grad2Surrogate'), side: target === 'min-ip' ? 'posterior' : target, layers: layersOf(spec) };
  },
  describe(spec) {
    const dir = pathField(spec, 'grad2Surrogate');
    return `grad2(eps=${numberField(spec, 'eps')}, target=${targetOf(spec)}, layers=${layersOf(spec)}, surrogate=${dir ?? 'distilled beside the victim'})`;
  },
  slug(spec) {
    let slug = `grad2-eps${numberField(spec, 'eps')}-${targetOf(spec)}`;
    const layers = layersOf(spec);
    if (layers !== (targetOf(spec) === 'min-ip' ? 'last' : 'all')) slug += `-${layers}`;
    const dir = pathField(spec, 'grad2Surrogate');
    if (dir !== null) slug += `-sur-${path.basename(dir.replace(/[\\/]+$/, '')) || 'dir'}`;
    return slug;
  },
  // One distilled surrogate per victim, from the victim's seed: every ε, target and run seed shares it.
  preparedIdentity: (spec) => (pathField(spec, 'grad2Surrogate') === null ? { model: 'GRAD² surrogate beside the victim' } : null),
  async prepare(spec, ctx) {
    if (pathField(spec, 'grad2Surrogate') !== null) return;
    const out = distilledSurrogateDirOf(ctx.victimDir);
    if (await hasSavedModel(out)) return;
    const { readParams } = await import('../models/io.js');
    const { distillSurrogate } = await import('../train/distill.js');
    const victim = await readParams(ctx.victimDir);
    const line = ctx.reporter?.line?.bind(ctx.reporter);
    line?.(`distilling the GRAD² surrogate from ${ctx.victimDir} → ${out}`);
    // Seeded from the victim's seed: the surrogate belongs to the victim, so every run seed shares it.
    const result = await distillSurrogate({ victimDir: ctx.victimDir, out, seed: victim.seed, ...(line ? { report: line } : {}) });
    line?.(`GRAD² surrogate: agrees with the victim's top-1 on ${(100 * result.agreement).toFixed(2)}% of its training pool`);
  },
  async create(spec, ctx) {
    grad2.check?.(spec, { numClasses: ctx.numClasses });
    let surrogateDir = pathField(spec, 'grad2Surrogate');
    if (surrogateDir === null) {
      if (ctx.victimDir === undefined) throw new UsageError('grad2 needs --grad2-surrogate <dir> when the victim directory is not known');
      surrogateDir = distilledSurrogateDirOf(ctx.victimDir);
      if (!(await hasSavedModel(surrogateDir))) {
        throw new UsageError(`no GRAD² surrogate in ${surrogateDir}: it is distilled there before the first query (prepare), or pass --grad2-surrogate <dir>`);
      }
    }
    const { createRedirectionDefense } = await import('./gradient-redirection.js');
    return createRedirectionDefense(spec, ctx, { eps: numberField(spec, 'eps'), target: targetOf(spec), layers: layersOf(spec), surrogateDir, surrogateFlag: '--grad2-surrogate', keyPrefix: spec.name });
  },
};
