/**
 * Partial Bayes (ModelGuard's `bayes` attacker, SPEC-ADAPTIVE §3): for every answer ỹ the attacker
 * draws a table of N candidate clean posteriors u from a prior, passes each through its own
 * stand-in of the defense (it knows the defense's type and parameters), and answers the attack the
 * ABC estimate of E[u | ỹ]: the mean of the u whose D(u) lies within τ of ỹ in L1,
 * τ = max(0.01, min ‖ỹ − D(u)‖₁). When the stand-in kept the top-1 of every u of the table, only
 * the u with ỹ's top-1 are candidates (the reference's top-1-preserving flag, measured instead of
 * listed). Prior `answer` (poison's default, computable by the attacker): Dir(K·c·ỹ), c =
 * `--concentration`; prior `oracle` (the reference's, an upper bound): Dir(K·c·y) around the
 * victim's clean posterior y, which no real attacker sees. One query per image.
 */
import type { QueryBatch, QueryOracle } from '../attacks/types.js';
import type { Rng } from '../util/rng.js';
import type { AdaptationDefinition, AdaptationSettings, StandInDefense } from './types.js';
import { argmax, CONCENTRATION_PARAM, drawDirichlet } from './dirichlet.js';

const PRIORS = ['answer', 'oracle'] as const;

const numberOf = (settings: AdaptationSettings, key: string): number => {
  const v = settings[key];
  if (typeof v !== 'number') throw new Error(`bayes: ${key} must be a number, got ${String(v)}`);
  return v;
};

export const bayes: AdaptationDefinition = {
  name: 'bayes',
  summary: 'the ABC estimate of E[u | ỹ] from a table of (u, D(u)) simulated with a stand-in defense',
  params: [
    { key: 'bayesSamples', flag: '--bayes-samples <n>', help: 'N: prior draws u per answer, each passed through the stand-in defense', kind: 'number', range: { integer: true, min: 1, max: 1_000_000 }, default: 1000 },
    { key: 'bayesPrior', flag: '--bayes-prior <name>', help: "centre of the Dirichlet prior: the answer received, or the victim's clean posterior (oracle: an upper bound)", kind: 'choice', choices: PRIORS, default: 'answer' },
    CONCENTRATION_PARAM,
  ],
  attackerKnows: (settings) => (settings.bayesPrior === 'oracle' ? 'oracle' : 'defense-params'),
  queriesPerImage: () => 1,
  async wrap(blackBox, ctx) {
    const standIn = await ctx.standInDefense();
    const centres = ctx.settings.bayesPrior === 'oracle' ? (from: number, count: number) => ctx.cleanAnswers(from, count) : null;
    return new BayesOracle(blackBox, standIn, ctx.rng, numberOf(ctx.settings, 'bayesSamples'), numberOf(ctx.settings, 'concentration'), centres);
  },
};

class BayesOracle implements QueryOracle {
  private answered = 0;

  constructor(
    private readonly blackBox: QueryOracle,
    private readonly standIn: StandInDefense,
    private readonly rng: Rng,
    private readonly samples: number,
    private readonly concentration: number,
    /** The oracle prior's centres (the clean posteriors of queries from..from+count); null: the answers. */
    private readonly cleanAnswers: ((from: number, count: number) => Float32Array) | null,
  ) {}

  get numClasses(): number {
    return this.blackBox.numClasses;
  }

  get budget(): number {
    return this.blackBox.budget;
  }

  get queriesUsed(): number {
    return this.answered;
  }

  async query(batch: QueryBatch): Promise<Float32Array> {
    const answers = await this.blackBox.query(batch);
    const K = this.numClasses;
    const n = answers.length / K;
    const N = this.samples;
    const centres = this.cleanAnswers ? this.cleanAnswers(this.blackBox.queriesUsed - n, n) : answers;
    // Every answer's table in one stand-in pass: n·N rows u, drawn from the answer's own stream
    // (named by its place in the query phase, so prefixes of a larger budget are the same).
    const table = new Float32Array(n * N * K);
    for (let i = 0; i < n; i++) {
      drawDirichlet(centres.subarray(i * K, (i + 1) * K), this.concentration, N, this.rng.fork(`image-${this.answered + i}`), table, i * N * K);
    }
    const simulated = await this.standIn.apply(table);
    let keepsTop1 = true;
    for (let r = 0; r < n * N && keepsTop1; r++) {
      keepsTop1 = argmax(table.subarray(r * K, (r + 1) * K)) === argmax(simulated.subarray(r * K, (r + 1) * K));
    }
    const out = new Float32Array(n * K);
    const distance = new Float64Array(N);
    for (let i = 0; i < n; i++) {
      const answer = answers.subarray(i * K, (i + 1) * K);
      const top = argmax(answer);
      const candidate = (s: number): boolean => !keepsTop1 || argmax(table.subarray((i * N + s) * K, (i * N + s + 1) * K)) === top;
      let any = false;
      for (let s = 0; s < N; s++) any ||= candidate(s);
      let nearest = Infinity;
      for (let s = 0; s < N; s++) {
        let d = 0;
        for (let k = 0; k < K; k++) d += Math.abs(answer[k]! - simulated[(i * N + s) * K + k]!);
        distance[s] = d;
        if ((!any || candidate(s)) && d < nearest) nearest = d;
      }
      const tolerance = Math.max(0.01, nearest);
      const mean = new Float64Array(K);
      let count = 0;
      for (let s = 0; s < N; s++) {
        if ((any && !candidate(s)) || distance[s]! > tolerance) continue;
        for (let k = 0; k < K; k++) mean[k] = mean[k]! + table[(i * N + s) * K + k]!;
        count++;
      }
      for (let k = 0; k < K; k++) out[i * K + k] = mean[k]! / count;
    }
    this.answered += n;
    return out;
  }
}
