/** The black-box layer: what attacks query, and what defenders measure. */
export type { BlackBox, BlackBoxOptions, BatchObserver } from './types.js';
export { BudgetExceededError } from './types.js';
export { DefendedBlackBox } from './defended.js';
export { victimBlackBox, victimShape } from './victim.js';
export { QueryRecorder, type QueryCache, type CachedSideInfo } from './cache.js';
export { replayBlackBox, type ReplayOptions } from './replay.js';
export type { QueryStatsReport, Summary } from './stats.js';
