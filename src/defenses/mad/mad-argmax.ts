/**
 * MAD-argmax: MAD whose candidate vertices are the uniform distributions over class subsets that
 * contain the top-1 class (vertex-oracles.ts: subsetOracle), so argmax ỹ = argmax y for every α.
 * Parameters and the rest of the declaration are MAD's (mad-family.ts).
 */
import { madDefinition } from './mad-family.js';

export const madArgmax = madDefinition({
  name: 'mad-argmax',
  summary: 'MAD over uniform distributions on class subsets containing the top-1 (exhaustive for K ≤ 10, greedy beyond): the top-1 never changes',
  oracle: async (K) => (await import('./vertex-oracles.js')).subsetOracle(K),
});
