/**
 * MAD (Orekondy et al. 2020), docs/spec.md's closed-form solver: score the K one-hot vertices e_k by the
 * angular deviation H (mad-objective.ts), take the best as y*, then ỹ = (1 − α)y + αy* with
 * α = min(1, ε/‖y − y*‖_p). With a large ε the top-1 class may flip (expected, docs/spec.md).
 * Parameters and the rest of the declaration are shared with its argmax-preserving sibling (mad-family.ts).
 */
import { madDefinition } from './mad-family.js';

export const mad = madDefinition({
  name: 'mad',
  summary: 'maximizing angular deviation over the K one-hot vertices (the top-1 may flip)',
  oracle: async (K) => (await import('./vertex-oracles.js')).oneHotOracle(K),
});
