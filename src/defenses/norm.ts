/** The two norms defenses measure a budget or a ball in (MAD's ydist, random noise's ball). */
export const NORMS = ['l1', 'l2'] as const;
export type Norm = (typeof NORMS)[number];
