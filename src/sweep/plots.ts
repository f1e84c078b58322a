/**
 * The paper's figures 3 and 4 for each (attack, budget): attacker accuracy against defender
 * accuracy, and against the mean L1 distortion of what the attacker received, one line per
 * defense along its operating point, the undefended point and the ideal corner marked.
 * Specs are vega-lite, compiled to vega and rendered to SVG by vega's headless View: no canvas,
 * no browser.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { AttackPanel } from './aggregate.js';

export const PLOTS_DIR = 'plots';

const PANEL_WIDTH = 330;
const PANEL_HEIGHT = 260;

interface Mark {
  x: number;
  y: number;
  label: string;
}

/** The vega-lite spec of one attack's figure (two panels side by side). */
export function panelSpec(panel: AttackPanel): TopLevelSpec {
  const lines = panel.points.map((p) => ({
    series: p.series,
    axis: p.axisValue ?? 0,
    point: p.axisKey === null ? p.series : `${p.axisKey}=${p.axisValue}`,
    defender: 100 * p.defenderAccuracy,
    attacker: 100 * p.attackerAccuracy,
    l1: p.l1,
    seeds: p.seeds,
  }));
  const chance = 100 * panel.numClassesChance;
  const undef = panel.undefended;
  const accuracyMarks: Mark[] = [];
  const l1Marks: Mark[] = [];
  if (undef) {
    accuracyMarks.push({ x: 100 * undef.defenderAccuracy, y: 100 * undef.attackerAccuracy, label: 'undefended' });
    l1Marks.push({ x: 0, y: 100 * undef.attackerAccuracy, label: 'undefended' });
    // Ideal: the defender keeps its accuracy, the attacker learns nothing (chance), at no distortion.
    accuracyMarks.push({ x: 100 * undef.defenderAccuracy, y: chance, label: 'ideal' });
  }
  l1Marks.push({ x: 0, y: chance, label: 'ideal' });
  const seedsText = panel.seeds.length === 1 ? `seed ${panel.seeds[0]}` : `mean over seeds ${panel.seeds.join(', ')}`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: `${panel.attackLabel}, budget ${panel.budget}`,
      subtitle: `${panel.dataset} victim (${panel.victimArch}), ${seedsText}`,
      anchor: 'start',
    },
    background: 'white',
    config: { view: { stroke: '#ddd' }, axis: { grid: true, gridColor: '#eee' }, legend: { orient: 'right' } },
    hconcat: [
      chart(lines, 'defender', 'Defender accuracy (%)', accuracyMarks, chance),
      chart(lines, 'l1', 'Mean L1 ‖y − ỹ‖ on attacker queries', l1Marks, chance),
    ],
    resolve: { scale: { color: 'shared' } },
  } as TopLevelSpec;
}

function chart(lines: object[], x: 'defender' | 'l1', xTitle: string, marks: Mark[], chance: number): object {
  const xScale = x === 'l1' ? { domainMin: 0, nice: true } : { zero: false, nice: true };
  return {
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    layer: [
      {
        data: { values: [{ chance }] },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#999' },
        encoding: { y: { field: 'chance', type: 'quantitative' } },
      },
      {
        data: { values: lines },
        mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 1.8 },
        encoding: {
          x: { field: x, type: 'quantitative', title: xTitle, scale: xScale },
          y: { field: 'attacker', type: 'quantitative', title: 'Attacker accuracy (%)', scale: { zero: false, nice: true } },
          color: { field: 'series', type: 'nominal', title: 'defense' },
          // Lines follow the operating point (ε, β, …), not the x value, as in the paper.
          order: { field: 'axis', type: 'quantitative' },
          tooltip: [
            { field: 'series', title: 'defense' },
            { field: 'point', title: 'operating point' },
            { field: 'defender', title: 'defender %', format: '.2f' },
            { field: 'attacker', title: 'attacker %', format: '.2f' },
            { field: 'l1', title: 'mean L1', format: '.3f' },
          ],
        },
      },
      {
        data: { values: marks },
        mark: { type: 'point', filled: true, size: 160, opacity: 1 },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'y', type: 'quantitative' },
          shape: { field: 'label', type: 'nominal', scale: { domain: ['undefended', 'ideal'], range: ['cross', 'diamond'] }, legend: null },
          fill: { field: 'label', type: 'nominal', scale: { domain: ['undefended', 'ideal'], range: ['black', '#e8a200'] }, legend: null },
          stroke: { value: 'black' },
        },
      },
      {
        data: { values: marks },
        mark: { type: 'text', align: 'left', dx: 9, dy: -7, fontSize: 10 },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

/** Render a vega-lite spec to SVG text, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vl, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A file name for an attack's figure: `knockoff-labelmode-argmax-b1000.svg`. */
export function plotFileName(panel: AttackPanel): string {
  const slug = panel.attackLabel
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${slug}-b${panel.budget}.svg`;
}
