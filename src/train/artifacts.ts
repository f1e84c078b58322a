/**
 * Where the models a defense trains for a victim live, and their recipes' constants. Free of
 * TensorFlow.js: `poison train --help` and the defense declarations read it without loading tfjs.
 *
 * Both live INSIDE the victim's directory, so they travel with it, are replaced when the victim
 * is retrained with --force (a stale helper model can never outlive its victim), and never look
 * like another victim to anything that lists a folder of victims.
 */
import * as path from 'node:path';

/** The misinformation model f̂ of adaptive misinformation, trained by `poison train --misinformation`. */
export function misinformationDirOf(victimDir: string): string {
  return path.join(victimDir, 'misinformation');
}

/** GRAD²'s surrogate, distilled from the victim on its default query pool. */
export function distilledSurrogateDirOf(victimDir: string): string {
  return path.join(victimDir, 'distilled-surrogate');
}

/**
 * The G2 recipe (mmazeika/model-stealing-defenses, train_teacher.py / train_surrogate.py):
 * SGD lr 0.1, Nesterov momentum 0.9, weight decay 5e-4, cosine schedule.
 */
export const G2_OPTIMISER = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 } as const;

/** The distilled surrogate: a cosine schedule laid out for 50 epochs, stopped after 10 (SPEC-EXTENSIONS §3). */
export const SURROGATE_SCHEDULE = { period: 50, epochs: 10, batchSize: 128 } as const;
