/**
 * What the merge makes of finished cells: error amplification against the undefended cell of the
 * same attack, budget and seed; a fixed CSV column order and a deterministic row order; the
 * summary's "lowest attacker accuracy within 1 / 5 points of defender accuracy"; and SVG plots
 * rendered by vega from vega-lite specs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSweepConfig } from '../src/sweep/config/parse-config.js';
import { attackLabels, expandGrid } from '../src/sweep/plan/grid.js';
import type { Cell } from '../src/sweep/plan/cell.js';
import { CELL_FORMAT, type CellRecord } from '../src/sweep/run/cell-record.js';
import { buildRows } from '../src/sweep/report/rows.js';
import { CSV_COLUMNS, FAKE_CSV_FIRST_LINE, sweepCsv } from '../src/sweep/report/sweep-csv.js';
import { aggregate } from '../src/sweep/report/aggregate.js';
import { lowestAttacker, sweepSummary } from '../src/sweep/report/summary.js';
import { operatingPointLabel, panelSpec, renderSvg } from '../src/sweep/report/plots.js';
import { parse } from 'csv-parse/sync';

const CONFIG = `
victim:
  train: {dataset: mnist, arch: lenet, epochs: 2}
attacks:
  - {name: knockoff, queryset: emnist-letters}
defenses:
  none: {}
  mad: {eps: [0.5, 1.0, 2.0]}
  top-k: {k: 1}
budgets: [100]
seeds: [1, 2]
`;

const config = parseSweepConfig(CONFIG, 'c.yaml');
const cells = expandGrid(config, { dataset: 'mnist', arch: 'lenet', train: config.victim.kind === 'train' ? config.victim.train : undefined });

/** Made-up results: defender and attacker accuracy per defense point and seed. */
function outcome(c: Cell): { defender: number; attacker: number } {
  const d = c.settings.defense;
  const seedShift = c.settings.seed === 1 ? 0 : 0.02;
  if (d.name === 'none') return { defender: 0.99, attacker: 0.9 + seedShift };
  if (d.name === 'top-k') return { defender: 0.99, attacker: 0.85 + seedShift };
  const eps = d.eps;
  // eps 0.5: −0.5 pt, attacker 0.7; eps 1: −3 pt, attacker 0.5; eps 2: −20 pt, attacker 0.2.
  if (eps === 0.5) return { defender: 0.985, attacker: 0.7 + seedShift };
  if (eps === 1) return { defender: 0.96, attacker: 0.5 + seedShift };
  return { defender: 0.79, attacker: 0.2 + seedShift };
}

function record(c: Cell): CellRecord {
  const o = outcome(c);
  const dist = { count: 10000, l1: { mean: 0.1, std: 0.01 }, l2: { mean: 0.05, std: 0.01 }, kl: { mean: 0.2, std: 0.02 }, top1ChangeRate: 0, invariantViolations: 0, simplexViolations: 0, epsBallViolations: null };
  return {
    format: CELL_FORMAT,
    id: c.id,
    settings: c.settings,
    metrics: {
      defender: { accuracyDefended: o.defender, accuracyUndefended: 0.99, test: dist, queries: { ...dist, count: 100 } },
      attacker: { accuracy: o.attacker, bestEpochAccuracy: o.attacker + 0.01, bestEpoch: 3, fidelity: o.attacker },
      queries: 100,
    },
    seconds: { transfer: 1.23456, train: 2, evaluate: 0.5, total: 3.73456 },
    provenance: {
      runner: 'fake', backend: 'fake', backendVersion: null, tfjsVersion: '4.22.0', poisonVersion: '0.1.0', packages: {}, gitCommit: 'abc',
      node: 'v20', host: 'h', startedAt: '', finishedAt: '',
    },
  };
}

function rowsOf(subset: readonly Cell[]): ReturnType<typeof buildRows> {
  const labels = attackLabels(config.attacks);
  const order = new Map<string, number>([...labels].map(([i, l]) => [l, i]));
  return buildRows(cells, new Map(subset.map((c) => [c.id, record(c)])), config.defenses, order);
}

test('error amplification = (1 − acc) / (1 − acc undefended) of the same attack, budget and seed', () => {
  const rows = rowsOf(cells);
  for (const r of rows) {
    const o = outcome(r.cell);
    const base = r.cell.settings.seed === 1 ? 0.9 : 0.92;
    assert.ok(r.amplification !== null);
    assert.ok(Math.abs(r.amplification - (1 - o.attacker) / (1 - base)) < 1e-12, `${r.cell.id}: ${r.amplification}`);
  }
  // Without its undefended cell a row has no amplification (and the rest is unaffected).
  const noNone = rowsOf(cells.filter((c) => !(c.settings.defense.name === 'none' && c.settings.seed === 2)));
  for (const r of noNone) assert.equal(r.amplification === null, r.cell.settings.seed === 2);
});

test('sweep.csv: fixed columns, one row per cell, deterministic order whatever the input order', () => {
  const csv = sweepCsv(rowsOf(cells));
  assert.equal(csv, sweepCsv(rowsOf([...cells].reverse())));
  const table = parse<Record<string, string>>(csv, { columns: true });
  assert.deepEqual(csv.split('\n')[0]!.split(','), [...CSV_COLUMNS]);
  assert.equal(table.length, cells.length);
  // Seed 1 first, then seed 2; within a seed: none, then mad by ε, then top-k.
  assert.deepEqual(
    table.map((r) => `${r.seed}:${r.defense}:${r.defense_value}`),
    ['1:none:', '1:mad:0.5', '1:mad:1', '1:mad:2', '1:top-k:1', '2:none:', '2:mad:0.5', '2:mad:1', '2:mad:2', '2:top-k:1'],
  );
  const mad = table.find((r) => r.defense === 'mad' && r.defense_value === '1' && r.seed === '1')!;
  assert.equal(mad.defense_param, 'eps');
  assert.equal(mad.attacker_acc, '0.5');
  assert.equal(mad.defender_acc, '0.96');
  assert.equal(mad.error_amplification, String((1 - 0.5) / (1 - 0.9)));
  assert.equal(mad.query_pool, 'emnist-letters/train');
  assert.equal(mad.label_mode, 'probs');
  assert.equal(mad.seconds_transfer, '1.235');
  assert.equal(mad.defense_settings, 'eps=1 ydist=l1 jacobian=closed ablation=none surrogate=null');
});

test('summary: the lowest attacker accuracy while the defender stays within 1 and 5 points', () => {
  const panels = aggregate(rowsOf(cells), 10);
  assert.equal(panels.length, 1);
  const panel = panels[0]!;
  assert.ok(panel.undefended);
  assert.ok(Math.abs(panel.undefended.attackerAccuracy - 0.91) < 1e-12, 'mean over seeds');
  const mad = panel.points.filter((p) => p.defense === 'mad');
  // Within 1 pt: only ε = 0.5 (−0.5 pt); within 5 pt: ε = 1 (−3 pt); ε = 2 costs 20 pt.
  assert.equal(lowestAttacker(mad, panel.undefended, 0.01)?.axisValue, 0.5);
  assert.equal(lowestAttacker(mad, panel.undefended, 0.05)?.axisValue, 1);
  const md = sweepSummary({ name: 's', victim: 'v', finished: 10, total: 10 }, panels);
  assert.match(md, /## knockoff, budget 100/);
  assert.match(md, /\| mad \| 71\.00% \(3\.22× error\) \| eps = 0\.5: defender 98\.50% \| 51\.00% \(5\.44× error\) \| eps = 1: defender 96\.00% \|/);
  assert.match(md, /\| top-k \| 86\.00% \(1\.56× error\) \| k = 1: defender 99\.00% \|/);
});

test('plots: vega-lite compiled and rendered by vega to SVG, with the undefended and ideal points', async () => {
  const panel = aggregate(rowsOf(cells), 10)[0]!;
  const spec = panelSpec(panel);
  const svg = await renderSvg(spec);
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  for (const text of ['knockoff, budget 100', 'Defender accuracy (%)', 'Attacker accuracy (%)', 'undefended', 'ideal', 'mad', 'top-k']) {
    assert.ok(svg.includes(text), `the SVG shows '${text}'`);
  }
  // One line per defense: the mad line passes through its three operating points, in ε order.
  const layer = (spec as { hconcat: { layer: { data: { values: { series: string; axis: number; defender: number }[] } }[] }[] }).hconcat[0]!.layer[1]!;
  const madPoints = layer.data.values.filter((v) => v.series === 'mad');
  assert.deepEqual(madPoints.map((v) => v.axis), [0.5, 1, 2]);
  assert.deepEqual(madPoints.map((v) => v.defender), [98.5, 96, 79]);
});

test('plots a reader can use without the CSV: operating points written in the SVG, ±1 sd bars over seeds, fake marked', async () => {
  const panel = aggregate(rowsOf(cells), 10)[0]!;
  const mad05 = panel.points.find((p) => p.series === 'mad' && p.axisValue === 0.5)!;
  assert.equal(mad05.seeds, 2);
  // Attacker 0.70 (seed 1) and 0.72 (seed 2): mean 0.71, sample sd 0.02/√2.
  assert.ok(Math.abs(mad05.spread.attackerAccuracy - 0.02 / Math.SQRT2) < 1e-12);
  assert.equal(mad05.spread.defenderAccuracy, 0);
  const svg = await renderSvg(panelSpec(panel));
  for (const label of ['ε=0.5', 'ε=1', 'ε=2', 'k=1']) {
    // Text marks, not tooltips: each label is drawn in both panels.
    const drawn = svg.split(`>${label}</text>`).length - 1;
    assert.equal(drawn, 2, `'${label}' is written next to its point in both panels`);
  }
  assert.equal(operatingPointLabel({ axisKey: 'beta', axisValue: 0.2, series: 'reverse-sigmoid' }), 'β=0.2');
  assert.equal(operatingPointLabel({ axisKey: 'decimals', axisValue: 2, series: 'rounding' }), 'decimals=2');
  assert.equal(operatingPointLabel({ axisKey: null, axisValue: null, series: 'argmax' }), 'argmax');
  // Error bars: rule marks holding one line per multi-seed point and direction, 4 points × 2 panels × 2.
  const ruleLines = [...svg.matchAll(/<g class="mark-rule role-mark[^"]*"[^>]*>(.*?)<\/g>/gs)].map((m) => (m[1]!.match(/<line/g) ?? []).length);
  assert.equal(ruleLines.reduce((a, b) => a + b, 0) - ruleLines.filter((n) => n === 1).length, 4 * 2 * 2, `error bar lines per rule group: ${ruleLines.join(', ')}`);
  assert.match(svg, /bars ±1 sd/);
  assert.ok(!svg.includes('NOT A MEASUREMENT'));

  const fake = await renderSvg(panelSpec(panel, { fake: true }));
  assert.ok(fake.includes('NOT A MEASUREMENT (fake runner): knockoff, budget 100'), 'the fake figure says so in its title');
  const md = sweepSummary({ name: 's', victim: 'v', finished: 10, total: 10, fake: true }, [panel]);
  assert.match(md.split('\n')[0]!, /^# Sweep s: NOT A MEASUREMENT \(fake runner\)$/);
  const csv = sweepCsv(rowsOf(cells), { fake: true });
  assert.equal(csv.split('\n')[0], FAKE_CSV_FIRST_LINE);
  assert.deepEqual(parse(csv.slice(csv.indexOf('\n') + 1), { columns: true }).length, cells.length);
  assert.ok(!sweepCsv(rowsOf(cells)).startsWith('#'), 'a real sweep.csv starts with its header');
});
