/**
 * Progress of `poison attack` on stderr: one bar at a time (queries, a Jacobian round's
 * substitute training, the attacker's epochs), switching bars when the stage changes.
 */
import { startProgress, type Progress } from '../util/progress.js';
import type { AttackReporter } from '../attacks/types.js';

export class StageProgress implements AttackReporter {
  private bar: Progress | null = null;
  private stage = '';

  constructor(private readonly quiet: boolean) {}

  private switchTo(stage: string, total: number, fields: string[] = []): Progress {
    if (this.stage !== stage || !this.bar) {
      this.bar?.stop();
      this.bar = startProgress({ label: stage, total, fields, quiet: this.quiet });
      this.stage = stage;
    }
    return this.bar;
  }

  queried(done: number, total: number): void {
    this.switchTo('queries', total).update(done);
  }

  roundStart(round: number, datasetSize: number, settings: { epochs: number; batchSize: number }): void {
    this.done();
    this.line(`round ${round}: training a fresh substitute on |D| = ${datasetSize} (${settings.epochs} epochs)`);
    this.switchTo(`round ${round} substitute`, settings.epochs * Math.ceil(datasetSize / settings.batchSize), ['loss']);
  }

  roundEpoch(_round: number, epoch: number, batch: number, batches: number, loss: number): void {
    if (batch % 5 === 0 || batch === batches) this.bar?.update((epoch - 1) * batches + batch, { loss: loss.toFixed(4) });
  }

  /** The attacker's training for one budget: one bar per epoch, like `poison train`. */
  attackerBatch(budget: number, epoch: number, batch: number, batches: number, loss: number): void {
    const bar = this.switchTo(`budget ${budget} epoch ${epoch}`, batches, ['loss']);
    if (batch % 5 === 0 || batch === batches) bar.update(batch, { loss: loss.toFixed(4) });
  }

  line(text: string): void {
    if (this.quiet) return;
    this.done();
    process.stderr.write(`${text}\n`);
  }

  done(): void {
    this.bar?.stop();
    this.bar = null;
    this.stage = '';
  }
}
