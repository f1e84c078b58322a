/**
 * Before a sweep trains anything: every dataset split it will read must be loadable, fetched on
 * demand where it is missing (and downloads are allowed). Done once, here in the sweep process,
 * so parallel workers never race to download the same files, and a missing dataset is one clear
 * line at the start instead of a failure after the victim trained.
 */
import { ensureSplit } from '../../data/load.js';
import type { DatasetName, Split } from '../../data/types.js';
import { attackDefinition } from '../../attacks/registry.js';
import { querySourceOf } from '../../attacks/query-sources.js';
import type { SweepPlan } from './plan.js';

export async function ensureSweepData(plan: SweepPlan, log: (line: string) => void): Promise<void> {
  const victimDataset = plan.victim.identity.dataset;
  const needed = new Map<string, { name: DatasetName; split: Split }>();
  const need = (name: DatasetName, split: Split): void => {
    needed.set(`${name}/${split}`, { name, split });
  };
  // A victim trained by the sweep reads its train and test splits; every cell scores on the test split.
  if (plan.victim.trained) need(victimDataset, 'train');
  need(victimDataset, 'test');
  for (const attack of plan.config.attacks) {
    for (const { name, split } of querySourceOf(attackDefinition(attack.name)).splits(victimDataset, attack.params)) need(name, split);
  }
  for (const { name, split } of needed.values()) {
    const source = await ensureSplit(name, split, { dataDir: plan.config.dataDirs[name] });
    log(`data: ${name}/${split} from ${source}`);
  }
}
