/**
 * sweep.csv: one row per finished cell, columns in a fixed order (ids and settings, defender,
 * attacker, amplification, queries, timings, provenance). Numbers are written in JavaScript's
 * shortest round-trip form, so equal results give byte-equal files.
 */
import { adaptationDefinition, adaptationOfAttackSettings } from '../../adaptations/registry.js';
import { stringify } from 'csv-stringify/sync';
import { FAKE_NOTICE } from './summary.js';
import { operatingAxis } from '../config/defense-catalog.js';
import type { Distortion } from '../run/cell-record.js';
import type { SweepRow } from './rows.js';

export const CSV_FILE = 'sweep.csv';

/** Columns that hold timings, versions or the machine: excluded when comparing runs. */
export const VOLATILE_COLUMNS = [
  'seconds_transfer',
  'seconds_train',
  'seconds_evaluate',
  'seconds_total',
  'backend',
  'backend_version',
  'tfjs_version',
  'poison_version',
  'git_commit',
] as const;

type Value = string | number | null;

/** The fixed column order of sweep.csv. */
export const CSV_COLUMNS = [
  'cell_id',
  'dataset',
  'victim_arch',
  'attack',
  'attack_label',
  'label_mode',
  'query_pool',
  'attack_settings',
  'attacker_arch',
  'attacker_epochs',
  'budget',
  'seed',
  'defense',
  'defense_param',
  'defense_value',
  'defense_settings',
  'defender_acc',
  'defender_acc_undefended',
  'l1_mean',
  'l1_std',
  'l2_mean',
  'l2_std',
  'kl_mean',
  'kl_std',
  'top1_change_rate',
  'invariant_violations',
  'query_l1_mean',
  'query_l1_std',
  'query_l2_mean',
  'query_l2_std',
  'query_kl_mean',
  'query_kl_std',
  'query_top1_change_rate',
  'query_invariant_violations',
  'attacker_acc',
  'attacker_acc_best',
  'attacker_best_epoch',
  'fidelity',
  'error_amplification',
  'queries',
  'test_images',
  // Last: the columns a comparison of two runs leaves out.
  ...VOLATILE_COLUMNS,
] as const;

type CsvColumn = (typeof CSV_COLUMNS)[number];

const ATTACK_POOL_KEYS = new Set(['name', 'labelMode', 'queryset', 'querysetSplit']);

type DistortionColumns<P extends string> = Record<`${P}${'l1' | 'l2' | 'kl'}_${'mean' | 'std'}` | `${P}top1_change_rate` | `${P}invariant_violations`, Value>;

function distortionColumns<P extends '' | 'query_'>(prefix: P, d: Distortion | null): DistortionColumns<P> {
  return {
    [`${prefix}l1_mean`]: d?.l1.mean ?? null,
    [`${prefix}l1_std`]: d?.l1.std ?? null,
    [`${prefix}l2_mean`]: d?.l2.mean ?? null,
    [`${prefix}l2_std`]: d?.l2.std ?? null,
    [`${prefix}kl_mean`]: d?.kl.mean ?? null,
    [`${prefix}kl_std`]: d?.kl.std ?? null,
    [`${prefix}top1_change_rate`]: d?.top1ChangeRate ?? null,
    [`${prefix}invariant_violations`]: d?.invariantViolations ?? null,
  } as DistortionColumns<P>;
}

function attackerKnowsOf(attack: Readonly<Record<string, unknown>>): string[] {
  const adaptation = adaptationOfAttackSettings(attack);
  return adaptation ? [`attackerKnows=${adaptationDefinition(adaptation.name).attackerKnows(adaptation.settings)}`] : [];
}

/** Every column's value for one row (the type makes sure no column is forgotten). */
function rowValues(row: SweepRow): Record<CsvColumn, Value> {
  const s = row.cell.settings;
  const m = row.record.metrics;
  const p = row.record.provenance;
  const a = s.attack;
  const queryPool = typeof a.queryset === 'string' ? `${a.queryset}/${String(a.querysetSplit ?? 'train')}` : `${s.victim.dataset}/train (seed set)`;
  const attackSettings = Object.keys(a)
    .filter((k) => !ATTACK_POOL_KEYS.has(k))
    .sort()
    .map((k) => `${k}=${String(a[k])}`)
    // What an adapting attacker knows (SPEC-ADAPTIVE), beside its adaptation: no new column, so
    // the naive attacker's rows stay as they were.
    .concat(attackerKnowsOf(a))
    .join(' ');
  const defense = s.defense as unknown as Record<string, unknown>;
  const defenseSettings = Object.keys(defense)
    .filter((k) => k !== 'name')
    .map((k) => `${k}=${String(defense[k])}`)
    .join(' ');
  return {
    cell_id: row.cell.id,
    dataset: s.victim.dataset,
    victim_arch: s.victim.arch,
    attack: a.name,
    attack_label: row.cell.attackLabel,
    label_mode: String(a.labelMode),
    query_pool: queryPool,
    attack_settings: attackSettings,
    attacker_arch: s.attacker.arch,
    attacker_epochs: s.attacker.epochs,
    budget: s.budget,
    seed: s.seed,
    defense: s.defense.name,
    defense_param: operatingAxis(s.defense.name)?.key ?? null,
    defense_value: row.axisValue,
    defense_settings: defenseSettings,
    defender_acc: m.defender.accuracyDefended,
    defender_acc_undefended: m.defender.accuracyUndefended,
    ...distortionColumns('', m.defender.test),
    ...distortionColumns('query_', m.defender.queries),
    attacker_acc: m.attacker.accuracy,
    attacker_acc_best: m.attacker.bestEpochAccuracy,
    attacker_best_epoch: m.attacker.bestEpoch,
    fidelity: m.attacker.fidelity,
    error_amplification: row.amplification,
    queries: m.queries,
    test_images: m.defender.test.count,
    seconds_transfer: round3(row.record.seconds.transfer),
    seconds_train: round3(row.record.seconds.train),
    seconds_evaluate: round3(row.record.seconds.evaluate),
    seconds_total: round3(row.record.seconds.total),
    backend: p.backend,
    backend_version: p.backendVersion,
    tfjs_version: p.tfjsVersion,
    poison_version: p.poisonVersion,
    git_commit: p.gitCommit,
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function cellText(v: Value): string {
  return v === null ? '' : typeof v === 'number' ? String(v) : v;
}

/**
 * The first line of a fake-runner sweep.csv, before the header: a reader (or a spreadsheet) sees
 * at once that nothing below is measured. Readers skip lines starting with '#' before the header.
 */
export const FAKE_CSV_FIRST_LINE = `# ${FAKE_NOTICE.replace(/,/g, ';')}`;

export function sweepCsv(rows: readonly SweepRow[], options: { fake?: boolean } = {}): string {
  const records = rows.map((r) => {
    const values = rowValues(r);
    return CSV_COLUMNS.map((c) => cellText(values[c]));
  });
  const csv = stringify(records, { header: true, columns: [...CSV_COLUMNS], eof: true, record_delimiter: 'unix' });
  return options.fake ? `${FAKE_CSV_FIRST_LINE}\n${csv}` : csv;
}
