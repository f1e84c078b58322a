/**
 * Entry point of the `poison` executable. Commands only declare flags, validate them into a
 * typed spec and call the library; the library (and so TensorFlow.js) is imported lazily inside
 * each action, so `--help` stays fast and never loads tfjs.
 * Errors are mapped to exit codes here and only here.
 */
import { Command, CommanderError } from 'commander';
import { isPoisonError } from '../errors.js';
import { registerCommands } from './commands/index.js';
import { packageVersion } from '../util/package-info.js';
import { describeFsError } from '../util/safe-fs.js';
import { dawnLoaded } from '../engine/dawn-state.js';
import { loadExtensions } from '../extensions.js';

async function main(argv: string[]): Promise<number> {
  try {
    // Before the commands declare their flags: an extension's attack brings its own.
    await loadExtensions();
  } catch (err) {
    return exitCodeFor(err);
  }
  const program = new Command();
  program
    .name('poison')
    .description(
      'Model-stealing attacks and prediction-poisoning defenses (Orekondy et al., ICLR 2020) on TensorFlow.js',
    )
    .version(packageVersion())
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      // commander prints its own one-line errors; keep them on stderr.
      writeErr: (s) => process.stderr.write(s),
    });
  registerCommands(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    return exitCodeFor(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version end with exit code 0; commander already printed usage errors.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      return 0;
    }
    return 2;
  }
  if (isPoisonError(err)) {
    process.stderr.write(`poison: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  // Any error of a filesystem call (it names its syscall and an E… code) is the machine's state,
  // not a bug: one line, exit 1.
  if (e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code) && typeof e.syscall === 'string') {
    const where = e.path ?? 'a file';
    process.stderr.write(`poison: ${e.syscall} ${where} failed: ${describeFsError(e)}: check the location, its permissions and free space\n`);
    return 1;
  }
  // A bug, not a user mistake: keep the stack so it can be reported.
  process.stderr.write(`poison: internal error (please report): ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}

// `poison … | head` closes the pipe early: stop quietly instead of crashing on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// Dawn (the webgpu backend) keeps the event loop alive: a run that loaded it exits explicitly.
const finish = (code: number): void => {
  process.exitCode = code;
  if (dawnLoaded()) process.exit(code);
};
main(process.argv).then(finish, (err: unknown) => finish(exitCodeFor(err)));
