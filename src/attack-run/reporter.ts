/**
 * Progress of `poison attack` on stderr: one bar at a time (queries, a Jacobian round's
 * substitute training, the attacker's epochs), switching bars when the stage changes. Every bar
 * also shows the whole run (RunClock) in units of work: the queries, each attacker's training
 * batches, and each Jacobian round's substitute batches (known only when the round starts, so
 * the run's total grows then).
 */
import { planLine, RunClock, startProgress, type Progress } from '../util/progress.js';
import type { AttackReporter } from '../attacks/types.js';

/** What the attack will do, for its first line and its whole-run clock. */
interface AttackPlan {
  attack: string;
  defense: string;
  /** Queries the black box answers (the transfer set's length). */
  queries: number;
  /** Budgets in the order their attackers train; each trains `epochs` epochs of ⌈B / batchSize⌉ batches. */
  budgets: readonly number[];
  epochs: number;
  batchSize: number;
  backend: string;
}

/** `attack knockoff vs MAD (…): 60 queries, attackers for budgets 30, 60: 2 epochs each (…)`, backend wasm`. */
export function attackPlanLine(plan: AttackPlan): string {
  const batches = plan.budgets.map((b) => plan.epochs * Math.ceil(b / plan.batchSize));
  return planLine(
    'attack',
    `${plan.attack} vs ${plan.defense}`,
    [`${plan.queries} queries`, `attackers for budget${plan.budgets.length > 1 ? 's' : ''} ${plan.budgets.join(', ')}: ${plan.epochs} epochs each (${batches.reduce((a, b) => a + b, 0)} batches of ${plan.batchSize})`],
    plan.backend,
  );
}

export class StageProgress implements AttackReporter {
  private bar: Progress | null = null;
  private stage = '';
  private readonly run: RunClock | undefined;
  /** Whole-run units: queries answered, substitute batches of finished rounds and of the current one. */
  private queryUnits = 0;
  private roundUnitsBefore = 0;
  private roundUnits = 0;

  constructor(
    private readonly quiet: boolean,
    private readonly plan?: AttackPlan,
  ) {
    if (!plan) return;
    this.run = new RunClock(plan.queries + plan.budgets.reduce((sum, b) => sum + plan.epochs * Math.ceil(b / plan.batchSize), 0));
    this.line(attackPlanLine(plan));
  }

  private switchTo(stage: string, total: number, fields: string[] = []): Progress {
    if (this.stage !== stage || !this.bar) {
      this.bar?.stop();
      this.bar = startProgress({ label: stage, total, fields, quiet: this.quiet, run: this.run });
      this.stage = stage;
    }
    return this.bar;
  }

  private tick(): void {
    if (this.run) this.run.done = this.queryUnits + this.roundUnitsBefore + this.roundUnits;
  }

  queried(done: number, total: number): void {
    this.queryUnits = done;
    this.tick();
    this.switchTo('queries', total).update(done);
  }

  roundStart(round: number, datasetSize: number, settings: { epochs: number; batchSize: number }): void {
    this.done();
    this.line(`round ${round}: training a fresh substitute on |D| = ${datasetSize} (${settings.epochs} epochs)`);
    const units = settings.epochs * Math.ceil(datasetSize / settings.batchSize);
    this.roundUnitsBefore += this.roundUnits;
    this.roundUnits = 0;
    this.run?.extend(units);
    this.switchTo(`round ${round} substitute`, units, ['loss']);
  }

  roundEpoch(_round: number, epoch: number, batch: number, batches: number, loss: number): void {
    this.roundUnits = (epoch - 1) * batches + batch;
    this.tick();
    if (batch % 5 === 0 || batch === batches) this.bar?.update((epoch - 1) * batches + batch, { loss: loss.toFixed(4) });
  }

  /** The attacker's training for one budget: one bar per epoch, like `poison train`. */
  attackerBatch(budget: number, epoch: number, batch: number, batches: number, loss: number): void {
    if (this.run && this.plan) {
      // Every query is in by now (a cached transfer set reports none); earlier budgets' attackers are done.
      const earlier = this.plan.budgets.slice(0, Math.max(0, this.plan.budgets.indexOf(budget)));
      const before = earlier.reduce((sum, b) => sum + this.plan!.epochs * Math.ceil(b / this.plan!.batchSize), 0);
      this.run.done = this.plan.queries + this.roundUnitsBefore + this.roundUnits + before + (epoch - 1) * batches + batch;
    }
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
