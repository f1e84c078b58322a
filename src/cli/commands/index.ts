import type { Command } from 'commander';
import { registerTrain } from './train.js';
import { registerData } from './data.js';
import { registerAttack } from './attack.js';
import { registerEval } from './eval.js';
import { registerSweep } from './sweep.js';

/** One line per command; each command file declares its flags and nothing heavier. */
export function registerCommands(program: Command): void {
  registerTrain(program);
  registerData(program);
  registerAttack(program);
  registerEval(program);
  registerSweep(program);
}
