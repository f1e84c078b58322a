/**
 * Errors a user can act on. The CLI maps them to one line on stderr and an exit code;
 * anything else is a bug and keeps its stack trace.
 */
export class PoisonError extends Error {
  constructor(
    message: string,
    /** 2 = the user asked for something wrong (usage), 1 = it failed while running. */
    readonly exitCode: 1 | 2,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags, bad config, unknown names, out-of-range numbers: exit code 2. */
export class UsageError extends PoisonError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** Missing or corrupt data, unwritable output, failed downloads: exit code 1. */
export class RuntimeFailure extends PoisonError {
  constructor(message: string) {
    super(message, 1);
  }
}

export function isPoisonError(err: unknown): err is PoisonError {
  return err instanceof PoisonError;
}
