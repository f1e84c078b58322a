/**
 * The restorer (D-DAE, SPEC-ADAPTIVE.md §2): the attacker simulates the defense with its own
 * stand-in (it knows the defense's type and parameters) on a table of candidate clean posteriors
 * u, trains a small network R to map each simulated answer D(u) back to u, and answers the attack
 * R(ỹ) instead of the defended ỹ. A detector first decides from the answers whether the black box
 * is defended at all (candidates: no defense, or the stand-in); if not, answers pass unchanged.
 *
 * Priors of u: `shadow` (poison's default, what a real attacker can compute): softmax outputs of S
 * shadow models of the victim's architecture trained on a small labelled share of the victim's
 * training split, evaluated on that share; `answer`: Dir(K·c·ỹ) around each answer received;
 * `oracle`: Dir(K·c·y) around the victim's clean posterior (an upper bound, no real attacker).
 * One query per image. The TensorFlow.js part is in restorer-oracle.ts, loaded by wrap only.
 */
import type { AdaptationDefinition, AdaptationSettings } from './types.js';
import { CONCENTRATION_PARAM } from './dirichlet.js';

const RESTORER_PRIORS = ['shadow', 'answer', 'oracle'] as const;
export type RestorerPrior = (typeof RESTORER_PRIORS)[number];

const numberOf = (settings: AdaptationSettings, key: string): number => {
  const v = settings[key];
  if (typeof v !== 'number') throw new Error(`restorer: ${key} must be a number, got ${String(v)}`);
  return v;
};

export const restorer: AdaptationDefinition = {
  name: 'restorer',
  summary: 'D-DAE: a detector picks no defense or the stand-in; a network R trained on (D(u), u) pairs maps each answer back to a clean posterior',
  params: [
    {
      key: 'restorerPrior', flag: '--restorer-prior <name>', kind: 'choice', choices: RESTORER_PRIORS, default: 'shadow',
      help: "where the table's clean posteriors u come from: shadow models on an in-domain sample, Dir around the answer received, or Dir around the victim's clean posterior (oracle: an upper bound)",
    },
    { key: 'shadows', flag: '--shadows <n>', help: 'S: shadow models of the victim\'s architecture (prior shadow)', kind: 'number', range: { integer: true, min: 1, max: 1000 }, default: 8 },
    {
      key: 'shadowFraction', flag: '--shadow-fraction <f>', kind: 'number', range: { gt: 0, max: 1 }, default: 0.02,
      help: "share of the victim's training split the attacker holds labelled; the shadows train on it and the table is S × its size (prior shadow)",
    },
    { key: 'shadowEpochs', flag: '--shadow-epochs <n>', help: 'epochs each shadow model trains (prior shadow)', kind: 'number', range: { integer: true, min: 1, max: 1000 }, default: 5 },
    {
      key: 'restorerSamples', flag: '--restorer-samples <n>', kind: 'number', range: { integer: true, min: 1, max: 100_000 }, default: 8,
      help: 'table rows u drawn per answer (priors answer and oracle)',
    },
    { key: 'restorerEpochs', flag: '--restorer-epochs <n>', help: "epochs R trains on the table (answer and oracle priors: spread over the answer batches)", kind: 'number', range: { integer: true, min: 1, max: 100_000 }, default: 200 },
    CONCENTRATION_PARAM,
  ],
  attackerKnows: (settings) => (settings.restorerPrior === 'oracle' ? 'oracle' : 'defense-params'),
  queriesPerImage: () => 1,
  async wrap(blackBox, ctx) {
    const { RestorerOracle, shadowTable } = await import('./restorer-oracle.js');
    const prior = ctx.settings.restorerPrior as RestorerPrior;
    const standIn = await ctx.standInDefense();
    const shadow =
      prior === 'shadow'
        ? await shadowTable(ctx, numberOf(ctx.settings, 'shadows'), numberOf(ctx.settings, 'shadowFraction'), numberOf(ctx.settings, 'shadowEpochs'))
        : null;
    return new RestorerOracle(blackBox, standIn, ctx, {
      prior,
      shadow,
      samples: numberOf(ctx.settings, 'restorerSamples'),
      epochs: numberOf(ctx.settings, 'restorerEpochs'),
      concentration: numberOf(ctx.settings, 'concentration'),
    });
  },
};
