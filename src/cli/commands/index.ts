import type { Command } from 'commander';
import { registerTrain } from './train.js';
import { registerData } from './data.js';
import { registerAttack } from './attack.js';
import { registerEval } from './eval.js';
import { registerSweep } from './sweep.js';
import { registerCache } from './cache.js';

/** Set by --offline; read by the data library and inherited by sweep workers. */
const OFFLINE_ENV = 'POISON_OFFLINE';

/** One line per command; each command file declares its flags and nothing heavier. */
export function registerCommands(program: Command): void {
  registerTrain(program);
  registerData(program);
  registerAttack(program);
  registerEval(program);
  registerSweep(program);
  registerCache(program);
  // Every command that reads data may fetch a missing dataset; --offline forbids it, for the
  // whole process and its workers alike.
  for (const cmd of program.commands) {
    // `data` has its own; `cache` never downloads (a dataset it cannot find is reported unchecked).
    if (cmd.name() === 'data' || cmd.name() === 'cache') continue;
    cmd.option('--offline', `never download a missing dataset (also: ${OFFLINE_ENV}=1); say which command brings it instead`, false);
  }
  program.hook('preAction', (_program, action) => {
    if (action.opts<{ offline?: boolean }>().offline === true) process.env[OFFLINE_ENV] = '1';
  });
}
