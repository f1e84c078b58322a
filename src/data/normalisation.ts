/**
 * The docs/spec.md's input normalisations, kept free of TensorFlow.js so listings and configs can use
 * them without loading it.
 */
import type { Normalisation, NormalisationFamily } from './types.js';

const NORMALISATIONS: Record<NormalisationFamily, Normalisation> = {
  // The usual MNIST statistics, also used for Fashion-MNIST and EMNIST inputs (docs/spec.md).
  mnist: { mean: [0.1307], std: [0.3081] },
  // CIFAR-10 statistics, also used for CIFAR-100 inputs (docs/spec.md).
  cifar: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] },
};

/** A fresh copy of the family's normalisation, so callers can never alter the shared one. */
export function normalisationFor(family: NormalisationFamily): Normalisation {
  const n = NORMALISATIONS[family];
  return { mean: [...n.mean], std: [...n.std] };
}
