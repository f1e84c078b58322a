/**
 * The paper's figures 3 and 4 for each (attack, budget): attacker accuracy against defender
 * accuracy, and against the mean L1 distortion of what the attacker received, one line per
 * defense along its operating point, the undefended point and the ideal corner marked.
 * Specs are vega-lite, compiled to vega and rendered to SVG by vega's headless View: no canvas,
 * no browser.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { AttackPanel, OperatingPoint } from './aggregate.js';
import { UPPER_BOUND_MARK } from '../../adaptations/threat-model.js';

export const PLOTS_DIR = 'plots';

const PANEL_WIDTH = 330;
const PANEL_HEIGHT = 260;

interface Mark {
  x: number;
  y: number;
  label: string;
}

/** Greek letters for the operating points a reader knows from the paper: ε, β, ε_z. */
const AXIS_SYMBOL: Record<string, string> = { eps: 'ε', beta: 'β', 'noise-eps': 'ε_z' };

/** The label drawn next to a point: "ε=0.5", "k=1", "decimals=2"; the defense's name when it has no axis. */
export function operatingPointLabel(point: Pick<OperatingPoint, 'axisKey' | 'axisValue' | 'series'>): string {
  if (point.axisKey === null) return point.series;
  return `${AXIS_SYMBOL[point.axisKey] ?? point.axisKey}=${point.axisValue ?? ''}`;
}

/** What the title says of a figure that holds no measurement (the fake runner's). */
const FAKE_TITLE_PREFIX = 'NOT A MEASUREMENT (fake runner): ';

interface PanelOptions {
  /** Made from the fake runner's cells: say so in the title. */
  fake?: boolean;
}

/** The vega-lite spec of one attack's figure (two panels side by side). */
export function panelSpec(panel: AttackPanel, options: PanelOptions = {}): TopLevelSpec {
  // An oracle attacker (attackerKnows oracle) is no real attacker: each of its lines says it is an
  // upper bound in the legend and is drawn dashed, so a figure set side by side with a realistic
  // attacker's is not misread.
  const upperBound = panel.threatModel.upperBound;
  const lines = panel.points.map((p) => ({
    series: upperBound ? `${p.series} ${UPPER_BOUND_MARK}` : p.series,
    axis: p.axisValue ?? 0,
    point: p.axisKey === null ? p.series : `${p.axisKey}=${p.axisValue}`,
    label: operatingPointLabel(p),
    defender: 100 * p.defenderAccuracy,
    attacker: 100 * p.attackerAccuracy,
    l1: p.l1,
    seeds: p.seeds,
    // ±1 standard deviation over seeds, drawn only where a point has several seeds.
    attackerLo: 100 * (p.attackerAccuracy - p.spread.attackerAccuracy),
    attackerHi: 100 * (p.attackerAccuracy + p.spread.attackerAccuracy),
    defenderLo: 100 * (p.defenderAccuracy - p.spread.defenderAccuracy),
    defenderHi: 100 * (p.defenderAccuracy + p.spread.defenderAccuracy),
    l1Lo: p.l1 - p.spread.l1,
    l1Hi: p.l1 + p.spread.l1,
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
  const several = panel.points.some((p) => p.seeds > 1);
  const seedsText =
    panel.seeds.length === 1 ? `seed ${panel.seeds[0]}` : `mean over seeds ${panel.seeds.join(', ')}${several ? ', bars ±1 sd' : ''}`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: `${options.fake ? FAKE_TITLE_PREFIX : ''}${panel.attackLabel}, budget ${panel.budget}`,
      subtitle: `${panel.dataset} victim (${panel.victimArch}), ${seedsText}; points labelled with their operating point${upperBound ? `; dashed: attacker ${UPPER_BOUND_MARK}` : ''}`,
      anchor: 'start',
      ...(options.fake ? { color: '#b00000' } : {}),
    },
    background: 'white',
    // labelLimit: vega cuts legend labels at 160 px, which "mad (ydist=l2) (oracle: upper bound)" passes.
    config: { view: { stroke: '#ddd' }, axis: { grid: true, gridColor: '#eee' }, legend: { orient: 'right', labelLimit: 320 } },
    hconcat: [
      chart(lines, 'defender', 'Defender accuracy (%)', accuracyMarks, chance, upperBound),
      chart(lines, 'l1', 'Mean L1 ‖y − ỹ‖ on attacker queries', l1Marks, chance, upperBound),
    ],
    resolve: { scale: { color: 'shared' } },
  } as TopLevelSpec;
}

/** An upper bound's lines: dashed, unlike the solid lines of a realistic attacker and the dotted chance rule. */
const UPPER_BOUND_DASH = [7, 3];

function chart(lines: object[], x: 'defender' | 'l1', xTitle: string, marks: Mark[], chance: number, upperBound: boolean): object {
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
        mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 1.8, ...(upperBound ? { strokeDash: UPPER_BOUND_DASH } : {}) },
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
        // Spread over seeds: vertical bars (attacker) and horizontal bars (x), ±1 sd.
        data: { values: lines },
        transform: [{ filter: 'datum.seeds > 1' }],
        mark: { type: 'rule', strokeWidth: 1.2 },
        encoding: {
          x: { field: x, type: 'quantitative' },
          y: { field: 'attackerLo', type: 'quantitative' },
          y2: { field: 'attackerHi' },
          color: { field: 'series', type: 'nominal', title: 'defense' },
        },
      },
      {
        data: { values: lines },
        transform: [{ filter: 'datum.seeds > 1' }],
        mark: { type: 'rule', strokeWidth: 1.2 },
        encoding: {
          x: { field: `${x}Lo`, type: 'quantitative' },
          x2: { field: `${x}Hi` },
          y: { field: 'attacker', type: 'quantitative' },
          color: { field: 'series', type: 'nominal', title: 'defense' },
        },
      },
      {
        // The operating point (ε, β, k, decimals) written next to each point, so the SVG reads without the CSV.
        data: { values: lines },
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -3, fontSize: 9 },
        encoding: {
          x: { field: x, type: 'quantitative' },
          y: { field: 'attacker', type: 'quantitative' },
          text: { field: 'label' },
          color: { field: 'series', type: 'nominal', title: 'defense' },
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

/** A file name for an attack's figure: `<attack>-labelmode-argmax-b1000.svg`. */
export function plotFileName(panel: AttackPanel): string {
  const slug = panel.attackLabel
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${slug}-b${panel.budget}.svg`;
}
