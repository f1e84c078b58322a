import type { Command } from 'commander';
import { registerTrain } from './train.js';
import { registerData } from './data.js';
import { registerEval } from './eval.js';

/** One line per command; each command file declares its flags and nothing heavier. */
export function registerCommands(program: Command): void {
  registerTrain(program);
  registerData(program);
  registerEval(program);
}
