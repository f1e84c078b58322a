/**
 * The sweep's worker processes: up to `size` forked children of dist/src/sweep/worker.js, each
 * doing one request at a time. Processes (not threads) because TensorFlow.js backends keep
 * process-wide state and a crash or out-of-memory in one cell must not take the sweep down: a
 * worker that dies fails its current request and is replaced on the next one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../../engine/backend-names.js';
import { deserializeError, type WorkerReply, type WorkerRequest } from './worker-protocol.js';

const WORKER_ENTRY = fileURLToPath(new URL('./worker.js', import.meta.url));

interface WorkerInit {
  /** The runner module's path; null for the attack library's. */
  runnerModule: string | null;
  backend: BackendName | null;
  quiet: boolean;
  /** Extra environment for the workers (e.g. thread counts). */
  env?: NodeJS.ProcessEnv;
}

class Worker {
  private readonly child: ChildProcess;
  private pending: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void } | null = null;
  private exited = false;
  private readonly ready: Promise<void>;

  constructor(init: WorkerInit) {
    this.child = fork(WORKER_ENTRY, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...init.env },
    });
    this.child.on('message', (reply: WorkerReply) => {
      const p = this.pending;
      this.pending = null;
      p?.resolve(reply);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      const p = this.pending;
      this.pending = null;
      p?.reject(new Error(`sweep worker ${this.child.pid ?? '?'} died (${signal ? `signal ${signal}` : `exit code ${String(code)}`}): out of memory, or a crash in the backend`));
    });
    this.child.on('error', (err) => {
      const p = this.pending;
      this.pending = null;
      p?.reject(err);
    });
    // A worker that fails its start-up (a backend that cannot load, say) reports that error to
    // every request and is retired, never asked to run a cell it was not set up for.
    this.ready = this.call({ type: 'init', runnerModule: init.runnerModule, backend: init.backend, quiet: init.quiet }).then((reply) => {
      if (reply.type === 'error') {
        this.initFailed = true;
        this.kill();
        throw deserializeError(reply.error);
      }
    });
    this.ready.catch(() => undefined);
  }

  private initFailed = false;

  get alive(): boolean {
    return !this.exited && !this.initFailed;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private call(request: WorkerRequest): Promise<WorkerReply> {
    if (this.exited) return Promise.reject(new Error('sweep worker is not running'));
    if (this.pending) return Promise.reject(new Error('sweep worker is busy'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.send(request, (err) => {
        if (err && this.pending) {
          this.pending = null;
          reject(err);
        }
      });
    });
  }

  async request(request: WorkerRequest): Promise<WorkerReply & { type: 'ok' }> {
    await this.ready;
    const reply = await this.call(request);
    if (reply.type === 'error') throw deserializeError(reply.error);
    return reply;
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();

  constructor(
    readonly size: number,
    private readonly init: WorkerInit,
  ) {}

  /** Workers not busy, counting those not started yet. */
  get available(): number {
    return this.size - (this.all.size - this.idle.length);
  }

  /** Run one request on a free worker (starting one if needed); the worker is returned after. */
  async run(request: WorkerRequest): Promise<WorkerReply & { type: 'ok' }> {
    const worker = this.take();
    try {
      return await worker.request(request);
    } finally {
      if (worker.alive) this.idle.push(worker);
      else this.all.delete(worker);
    }
  }

  private take(): Worker {
    for (;;) {
      const w = this.idle.pop();
      if (!w) break;
      if (w.alive) return w;
      this.all.delete(w);
    }
    if (this.all.size >= this.size) throw new Error('WorkerPool.run called with every worker busy');
    const w = new Worker(this.init);
    this.all.add(w);
    return w;
  }

  /** Pids of the live workers (for a signal handler that must stop them). */
  pids(): number[] {
    return [...this.all].filter((w) => w.alive && w.pid !== undefined).map((w) => w.pid!);
  }

  close(): void {
    for (const w of this.all) w.kill();
    this.all.clear();
    this.idle.length = 0;
  }
}
