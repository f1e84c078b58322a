/**
 * Sweep config file → SweepConfig. Every problem in the file is collected (see problems.ts) and
 * reported at once, with its YAML path, line and column; nothing is written and nothing heavy is
 * loaded, so this also runs for `--dry-run` and before any worker starts.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { UsageError } from '../../errors.js';
import { DATASET_NAMES, type DatasetName } from '../../data/types.js';
import { datasetInfo } from '../../data/catalog.js';
import { ARCH_NAMES, type ArchName } from '../../models/types.js';
import { BACKEND_NAMES } from '../../engine/backend-names.js';
import { adaptationParams, attackNames, attackParams, type AttackName } from './attack-catalog.js';
import { adaptationDefinition, adaptationMismatch, adaptationNames, adaptationOfAttackSettings, adaptationsFor } from '../../adaptations/registry.js';
import { attackSettingsOf, jacobianSettingsOf } from '../../attacks/names.js';
import { querySourceOf } from '../../attacks/query-sources.js';
import { attackDefinition } from '../../attacks/registry.js';
import { parseDefenseSpec } from '../../defenses/params.js';
import { defenseKeys, defenseNames, defenseParams, isDefenseName, keyHelp, UNDEFENDED } from './defense-catalog.js';
import { readParamValue } from './param-schema.js';
import { defaultOf, describeTakes, oldYamlKey, yamlKey, type ParamDeclaration } from '../../params/declaration.js';
import { configError } from './problems.js';
import { describe, parseYaml, suggestion, type MapView, type YamlReader } from './yaml-reader.js';
import { TRAIN_SETTING_KEYS, TRAIN_SETTING_RANGES, TRAINING_PRESETS, victimTrainingDefaults } from '../../train/defaults.js';
import type { TrainSettings } from '../../train/loop.js';
import type {
  AttackEntry,
  AttackerTrainConfig,
  DefenseEntry,
  ParamValue,
  SweepConfig,
  VictimSource,
  VictimTrainSettings,
} from './config-types.js';

/** What the config needs to know about a saved victim: read from its params.json. */
type VictimDirInfo = { dataset: DatasetName; arch: ArchName } | { problem: string };

export interface ParseOptions {
  /** Reads a victim directory's params.json (injectable for tests). */
  victimDirInfo?: (dir: string) => VictimDirInfo;
  /** Where a deprecation line goes (default: stderr). */
  warn?: (line: string) => void;
}

/**
 * Parameter keys spelt the old way (`noise-eps` before one camelCase spelling, `noiseEps`):
 * still read, as the same parameter (so cells keep their ids), with one line per old key.
 */
class Deprecations {
  private readonly warned = new Set<string>();
  constructor(
    private readonly file: string,
    private readonly warn: (line: string) => void,
  ) {}

  /** The node of a declared parameter: under its key, or under its old spelling (then warned about, once per key). */
  node(m: MapView, param: Pick<ParamDeclaration, 'key'>): { node: Node | null | undefined; key: string } {
    const key = yamlKey(param);
    const old = oldYamlKey(param);
    // has() does not mark the old key as accepted, so error messages list only the new spelling.
    if (old === null || !m.has(old)) return { node: m.get(key), key };
    if (m.has(key)) {
      m.get(old);
      m.reader.report(m.keyNode(old), m.child(old), `'${key}' once (it is '${old}' spelt the current way)`, 'both spellings');
      return { node: undefined, key };
    }
    if (!this.warned.has(old)) {
      this.warned.add(old);
      this.warn(`poison: ${this.file}: key '${old}' is deprecated, write '${key}' (same parameter, same cells)`);
    }
    return { node: m.get(old), key: old };
  }
}

const TOP_LEVEL_EXPECTED =
  'a mapping with the keys victim, attacks, defenses, budgets (and optionally seeds, attacker, testLimit, queryBatchSize, backend, out, cacheDir, data)';

export function loadSweepConfig(file: string, opts: ParseOptions = {}): SweepConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`sweep config ${file} does not exist`);
    if (code === 'EISDIR') throw new UsageError(`sweep config ${file} is a directory, not a YAML file`);
    throw new UsageError(`sweep config ${file} cannot be read: ${code ?? String(err)}`);
  }
  return parseSweepConfig(text, file, opts);
}

function sweepNameOf(file: string): string {
  return path.basename(file).replace(/\.(ya?ml)$/i, '');
}

export function parseSweepConfig(text: string, file: string, opts: ParseOptions = {}): SweepConfig {
  const { doc, reader } = parseYaml(text);
  const deprecations = new Deprecations(file, opts.warn ?? ((line) => process.stderr.write(`${line}\n`)));
  // Syntax errors first and alone: reading a half-parsed tree would only add noise.
  if (reader.problems.length > 0) throw configError(file, reader.problems);
  if (doc.contents === null) {
    reader.problems.push({ path: '', line: 0, col: 0, expected: TOP_LEVEL_EXPECTED, found: 'an empty file' });
    throw configError(file, reader.problems);
  }
  const root = reader.map(doc.contents, '', TOP_LEVEL_EXPECTED);
  if (!root) throw configError(file, reader.problems);

  const victimNode = root.required('victim', 'a mapping with dir or train');
  const victim = victimNode === undefined ? undefined : readVictim(reader, victimNode, opts);
  const victimDataset = victim?.dataset ?? null;

  const attacksNode = root.required('attacks', 'a list of attacks, each a mapping with a name');
  const attacks = attacksNode === undefined ? undefined : readAttacks(reader, attacksNode, victimDataset, deprecations);

  const defensesNode = root.required('defenses', 'a mapping from defense names to their parameters');
  const defenses = defensesNode === undefined ? undefined : readDefenses(reader, defensesNode, victimDataset, deprecations);

  // Top-level budgets apply to every attack entry without its own `budgets`.
  const everyAttackHasBudgets = attacks !== undefined && attacks.entries.length > 0 && attacks.ok && attacks.entries.every((a) => a.budgets !== null);
  const budgetsNode = everyAttackHasBudgets ? root.get('budgets') : root.required('budgets', 'a list of query budgets (or budgets in every attack entry)');
  const budgets = budgetsNode === undefined ? (everyAttackHasBudgets ? [] : undefined) : readBudgets(reader, budgetsNode, 'budgets');

  const seedsNode = root.get('seeds');
  const seeds =
    seedsNode === undefined ? [1] : reader.grid(seedsNode, 'seeds', (n, p) => reader.number(n, p, { integer: true, min: 1, max: 2 ** 31 - 1 }));

  const attackerNode = root.get('attacker');
  const attacker = readAttacker(reader, attackerNode);

  const testLimitNode = root.get('testLimit');
  const testLimit = isNullish(testLimitNode) ? null : reader.number(testLimitNode, 'testLimit', { integer: true, min: 1 });
  const queryBatchSize = root.number('queryBatchSize', { integer: true, min: 1 }, 128);
  const backend = root.choice('backend', BACKEND_NAMES) ?? null;
  const name = sweepNameOf(file);
  const out = root.string('out') ?? path.join('results', name);
  const cacheNode = root.get('cacheDir');
  const cacheDir = cacheNode === undefined ? 'results/cache' : isNullish(cacheNode) ? null : reader.string(cacheNode, 'cacheDir', 'a folder, or null for no cache');
  const dataNode = root.get('data');
  const dataDirs = dataNode === undefined ? {} : readDataDirs(reader, dataNode);
  root.finish();

  if (attacks && budgets) checkBudgets(reader, budgetsNode ?? null, budgets, attacks.entries);
  if (attacks && defenses) checkAttackDefenses(reader, attacks.entries, defenses);

  if (attacks && victim) checkAttackLimits(reader, attacks.entries, items(reader, attacksNode), victim.dataset);

  if (
    reader.problems.length > 0 || !victim || !attacks?.ok || !defenses || !budgets || !seeds || !attacker ||
    testLimit === undefined || queryBatchSize === undefined || cacheDir === undefined || !dataDirs
  ) {
    throw configError(file, reader.problems);
  }
  return {
    file,
    name,
    victim: victim.source,
    attacks: attacks.entries,
    defenses,
    budgets,
    seeds,
    attacker,
    testLimit,
    queryBatchSize,
    backend,
    out,
    cacheDir,
    dataDirs,
  };
}

/** Absent, or written as null (`~`, `null` or nothing after the colon). */
function isNullish(node: Node | null | undefined): boolean {
  return node === undefined || node === null || (isScalar(node) && node.value === null);
}

function items(reader: YamlReader, node: Node | null | undefined): (Node | null)[] {
  return isSeq(node) ? node.items.map((n) => reader.deref(n)) : [];
}

function readDataDirs(reader: YamlReader, node: Node | null): Partial<Record<DatasetName, string>> | undefined {
  const m = reader.map(node, 'data', `a mapping from dataset names (${DATASET_NAMES.join(', ')}) to the folders holding their files`);
  if (!m) return undefined;
  const out: Partial<Record<DatasetName, string>> = {};
  let failed = false;
  for (const name of DATASET_NAMES) {
    const dir = m.string(name);
    if (dir !== undefined) out[name] = dir;
    else if (m.has(name)) failed = true;
  }
  m.finish();
  return failed ? undefined : out;
}

// ---------------------------------------------------------------------------------------------
// victim

interface ReadVictim {
  source: VictimSource;
  dataset: DatasetName;
  arch: ArchName;
  train: VictimTrainSettings | null;
}

function readVictim(reader: YamlReader, node: Node | null, opts: ParseOptions): ReadVictim | undefined {
  const m = reader.map(node, 'victim', 'a mapping with either dir (a saved model) or train (settings to train one)');
  if (!m) return undefined;
  const dirNode = m.get('dir');
  const trainNode = m.get('train');
  m.finish();
  if (dirNode !== undefined && trainNode !== undefined) {
    reader.report(m.node, 'victim', 'either dir or train', 'both');
    return undefined;
  }
  if (dirNode === undefined && trainNode === undefined) {
    reader.report(m.node, 'victim', 'dir (a saved model directory) or train (settings to train one)', 'neither');
    return undefined;
  }
  if (dirNode !== undefined) {
    const dir = reader.string(dirNode, 'victim.dir', 'a model directory written by `poison train`');
    if (dir === undefined) return undefined;
    const info = (opts.victimDirInfo ?? readVictimDirInfo)(dir);
    if ('problem' in info) {
      reader.report(dirNode, 'victim.dir', 'a model directory written by `poison train`', info.problem);
      return undefined;
    }
    return { source: { kind: 'dir', dir }, dataset: info.dataset, arch: info.arch, train: null };
  }
  const t = reader.map(trainNode, 'victim.train', 'a mapping of `poison train` settings (dataset, arch, epochs, …)');
  if (!t) return undefined;
  const dataset = requiredChoice(t, 'dataset', DATASET_NAMES);
  const arch = requiredChoice(t, 'arch', ARCH_NAMES);
  // `poison train`'s defaults for the architecture (src/train/defaults.ts), so a train block
  // means what the same flags would.
  const d = victimTrainingDefaults(arch ?? 'lenet');
  const epochs = t.number('epochs', TRAIN_SETTING_RANGES.epochs, d.epochs);
  const lr = t.number('lr', TRAIN_SETTING_RANGES.lr, d.lr);
  const momentum = t.number('momentum', TRAIN_SETTING_RANGES.momentum, d.momentum);
  const batchSize = t.number('batchSize', TRAIN_SETTING_RANGES.batchSize, d.batchSize);
  const lrStep = t.number('lrStep', TRAIN_SETTING_RANGES.lrStep, d.lrStep);
  const weightDecay = t.number('weightDecay', TRAIN_SETTING_RANGES.weightDecay, d.weightDecay);
  const limitNode = t.get('limit');
  const limit =
    limitNode === undefined || (limitNode !== null && 'value' in limitNode && limitNode.value === null)
      ? null
      : reader.number(limitNode, t.child('limit'), { integer: true, min: 1 });
  const seed = t.number('seed', { integer: true, min: 1, max: 2 ** 31 - 1 }, 1);
  t.finish();
  if (
    dataset === undefined || arch === undefined || epochs === undefined || lr === undefined || momentum === undefined ||
    batchSize === undefined || lrStep === undefined || weightDecay === undefined || limit === undefined || seed === undefined
  ) {
    return undefined;
  }
  const train: VictimTrainSettings = { dataset, arch, epochs, lr, momentum, batchSize, lrStep, weightDecay, limit, seed };
  return { source: { kind: 'train', train }, dataset, arch, train };
}

function requiredChoice<T extends string>(m: MapView, key: string, choices: readonly T[]): T | undefined {
  const node = m.required(key, `one of ${choices.join(', ')}`);
  if (node === undefined) return undefined;
  return m.reader.choice(node, m.child(key), choices);
}

/** A victim directory's dataset and architecture from its params.json, or what is wrong with it. */
export function readVictimDirInfo(dir: string): VictimDirInfo {
  let text: string;
  try {
    text = readFileSync(path.join(dir, 'params.json'), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' || code === 'ENOTDIR' ? `no params.json in '${dir}'` : `'${dir}/params.json' unreadable (${code ?? String(err)})` };
  }
  let params: { dataset?: unknown; arch?: unknown; kind?: unknown };
  try {
    params = JSON.parse(text) as typeof params;
  } catch {
    return { problem: `'${dir}/params.json' is not valid JSON` };
  }
  if (!(DATASET_NAMES as readonly unknown[]).includes(params.dataset) || !(ARCH_NAMES as readonly unknown[]).includes(params.arch)) {
    return { problem: `'${dir}/params.json' names no known dataset and architecture` };
  }
  return { dataset: params.dataset as DatasetName, arch: params.arch as ArchName };
}

// ---------------------------------------------------------------------------------------------
// attacks

/** The valid entries (for cross-checks even when others are wrong) and whether all were valid. */
function readAttacks(reader: YamlReader, node: Node | null, dataset: DatasetName | null, deprecations: Deprecations): { entries: AttackEntry[]; ok: boolean } | undefined {
  const items = reader.list(node, 'attacks', 'a list of attacks, each a mapping with a name');
  if (!items) return undefined;
  if (items.length === 0) {
    reader.report(node, 'attacks', 'at least one attack', 'an empty list');
    return undefined;
  }
  const entries: AttackEntry[] = [];
  const seen = new Map<string, number>();
  let failed = false;
  items.forEach((itemNode, index) => {
    const p = `attacks[${index}]`;
    const m = reader.map(itemNode, p, `a mapping with a name (one of ${attackNames().join(', ')}) and its parameters`);
    if (!m) {
      failed = true;
      return;
    }
    const name = requiredChoice(m, 'name', attackNames());
    if (name === undefined) {
      // Without a known attack its parameters cannot be judged; do not pile unknown-key errors on.
      for (const k of m.keys()) m.get(k);
      failed = true;
      return;
    }
    const attackSettings = readScalarParams(m, attackParams(name), dataset, name, deprecations);
    let adapt = readAdaptation(m, deprecations);
    const mismatch = typeof adapt?.adapt === 'string' ? adaptationMismatch(adapt.adapt, name) : null;
    if (mismatch !== null) {
      reader.report(m.get('adapt'), m.child('adapt'), `an adaptation ${name} can take (${adaptationsFor(name).join(', ') || 'none'})`, mismatch);
      adapt = undefined;
    }
    const params = attackSettings && adapt !== undefined ? { ...attackSettings, ...adapt } : undefined;
    const budgetsNode = m.get('budgets');
    const budgets = budgetsNode === undefined ? null : readBudgets(reader, budgetsNode, m.child('budgets'));
    const onlyNode = m.get('defenses');
    const only = onlyNode === undefined ? null : readDefenseNames(reader, onlyNode, m.child('defenses'));
    m.finish();
    if (!params || budgets === undefined || only === undefined) {
      failed = true;
      return;
    }
    const key = JSON.stringify([name, params]);
    const first = seen.get(key);
    if (first !== undefined) {
      reader.report(itemNode, p, 'each attack once', `the same attack and parameters as attacks[${first}]`);
      failed = true;
      return;
    }
    seen.set(key, index);
    entries.push({ name, params, index, budgets, budgetsNode: budgetsNode ?? null, defenses: only });
  });
  return { entries, ok: !failed };
}

/** An attack entry's `defenses:`: a non-empty list of defense names (checked against the config's later). */
function readDefenseNames(reader: YamlReader, node: Node | null, p: string): { name: string; node: Node | null }[] | undefined {
  const items = reader.list(node, p, "a list of the config's defense names this attack runs against");
  if (!items) return undefined;
  if (items.length === 0) {
    reader.report(node, p, "at least one of the config's defenses", 'an empty list');
    return undefined;
  }
  const names: { name: string; node: Node | null }[] = [];
  items.forEach((item, i) => {
    const name = reader.string(item, `${p}[${i}]`, 'a defense name');
    if (name !== undefined) names.push({ name, node: item });
  });
  return names.length === items.length ? names : undefined;
}

/** Each attack entry's `defenses:` names defenses the config's `defenses` lists. */
function checkAttackDefenses(reader: YamlReader, attacks: AttackEntry[], defenses: DefenseEntry[]): void {
  const known = defenses.map((d) => d.name);
  for (const attack of attacks) {
    attack.defenses?.forEach(({ name, node }, i) => {
      if (!known.includes(name)) reader.report(node, `attacks[${attack.index}].defenses[${i}]`, `one of the config's defenses (${known.join(', ')})`, `'${name}'`);
    });
  }
}

/**
 * An attack entry's `adapt:`: an adaptation's name, or a mapping with its name and parameters.
 * Flattened into the entry's settings (key `adapt`, its parameters beside it, defaults filled in)
 * so cells, their ids and the CSV's attack_settings carry it; null without the key (naive).
 */
function readAdaptation(m: MapView, deprecations: Deprecations): Record<string, ParamValue | null> | null | undefined {
  const node = m.get('adapt');
  if (node === undefined) return null;
  const p = m.child('adapt');
  const expected = `an adaptation (one of ${adaptationNames().join(', ')}), or a mapping with its name and parameters`;
  if (isScalar(node)) {
    const name = m.reader.choice(node, p, adaptationNames());
    if (name === undefined) return undefined;
    const defaults = adaptationParams(name).map((param) => [param.key, param.default] as const);
    if (defaults.some(([, d]) => d === undefined)) {
      m.reader.report(node, p, `a mapping with name: ${name} and its required parameters`, name);
      return undefined;
    }
    return { adapt: name, ...(Object.fromEntries(defaults) as Record<string, ParamValue | null>) };
  }
  const am = m.reader.map(node, p, expected);
  if (!am) return undefined;
  const name = requiredChoice(am, 'name', adaptationNames());
  if (name === undefined) {
    for (const k of am.keys()) am.get(k);
    return undefined;
  }
  const settings = readScalarParams(am, adaptationParams(name), null, name, deprecations);
  am.finish();
  return settings ? { adapt: name, ...settings } : undefined;
}

/** Declared parameters' values by key (defaults filled in), each read under its YAML key. */
function readScalarParams(
  m: MapView,
  params: readonly ParamDeclaration[],
  dataset: DatasetName | null,
  attack: AttackName,
  deprecations: Deprecations,
): Record<string, ParamValue | null> | undefined {
  const out: Record<string, ParamValue | null> = {};
  let failed = false;
  for (const param of params) {
    const { node, key } = deprecations.node(m, param);
    const p = m.child(key);
    if (node === undefined) {
      const d = defaultOf(param, dataset === null ? null : { dataset });
      if (d === undefined) {
        if (dataset !== null || typeof param.default !== 'function') {
          // YAML says null where the command line says none.
          m.reader.report(m.node, m.path, `a key '${key}' (${attack}: ${param.help.replace(/\bnone\b/, 'null')})`, 'no such key');
        }
        failed = true;
        continue;
      }
      out[param.key] = d;
      continue;
    }
    if (isSeq(node)) {
      m.reader.report(node, p, `${describeTakes(param)} (one value: list several attack entries to compare settings)`, 'a list');
      failed = true;
      continue;
    }
    const v = readParamValue(m.reader, node, p, param);
    if (v === undefined) failed = true;
    else out[param.key] = v;
  }
  return failed ? undefined : out;
}

// ---------------------------------------------------------------------------------------------
// defenses

function readDefenses(reader: YamlReader, node: Node | null, dataset: DatasetName | null, deprecations: Deprecations): DefenseEntry[] | undefined {
  const m = reader.map(node, 'defenses', `a mapping from defense names (${defenseNames().join(', ')}) to their parameters`);
  if (!m) return undefined;
  const names = m.keys();
  if (names.length === 0) {
    reader.report(m.node, 'defenses', 'at least one defense', 'an empty mapping');
    return undefined;
  }
  const out: DefenseEntry[] = [];
  let failed = false;
  for (const name of names) {
    const valueNode = m.get(name);
    if (!isDefenseName(name)) {
      reader.report(m.keyNode(name), m.child(name), `a defense: one of ${defenseNames().join(', ')}`, `'${name}'${suggestion(name, defenseNames())}`);
      failed = true;
      continue;
    }
    const entry = readDefense(reader, name, valueNode ?? null, m.child(name), dataset, deprecations);
    if (!entry) failed = true;
    else out.push(entry);
  }
  m.finish();
  if (failed) return undefined;
  // The undefended reference is part of every sweep: amplification, plots and the summary need it.
  if (!out.some((d) => d.name === UNDEFENDED)) out.unshift({ name: UNDEFENDED, grid: {}, points: [parseDefenseSpec(UNDEFENDED, {})] });
  return out;
}

/** One defense's grid: each key a value or a list, every combination checked by the defense library. */
function readDefense(reader: YamlReader, name: string, node: Node | null, p: string, dataset: DatasetName | null, deprecations: Deprecations): DefenseEntry | undefined {
  // The grid is keyed by the defense's own keys (`noise-eps`, what parseDefenseSpec takes); the
  // file spells them camelCase (`noiseEps`), and errors cite the spelling the file used.
  const keys = defenseKeys(name);
  const spelt: Record<string, string> = Object.fromEntries(defenseParams(name).map((param) => [param.key, yamlKey(param)]));
  const empty = node === null || (isScalar(node) && node.value === null);
  const pm = empty
    ? undefined
    : reader.map(node, p, `a mapping of ${name}'s parameters (${keys.length > 0 ? keys.map((k) => spelt[k]).join(', ') : 'it has none: write {}'})`);
  if (!empty && !pm) return undefined;
  const grid: Record<string, ParamValue[]> = {};
  const itemNodes: Record<string, (Node | null)[]> = {};
  let failed = false;
  const valueNodes: Record<string, Node | null> = {};
  for (const param of defenseParams(name)) {
    const key = param.key;
    const found = pm ? deprecations.node(pm, param) : { node: undefined, key };
    const v = found.node;
    if (v === undefined) continue;
    spelt[key] = found.key;
    valueNodes[key] = v;
    const values = reader.grid(v, `${p}.${found.key}`, (n, path) => {
      if (isScalar(n) && (typeof n.value === 'number' || typeof n.value === 'string')) return n.value;
      reader.report(n, path, `${keyHelp(name, key)}: a number or a word`);
      return undefined;
    });
    if (!values) {
      failed = true;
      continue;
    }
    grid[key] = values;
    itemNodes[key] = isSeq(v) ? v.items.map((i) => reader.deref(i)) : [v];
  }
  pm?.finish();
  if (failed) return undefined;
  if (dataset === null) return undefined; // the victim is broken (already reported): no context to judge values in
  const context = { dataset, numClasses: datasetInfo(dataset).numClasses };

  // The library stops at its first complaint; vary one value at a time (others at their first
  // value) and blame the key its message names, so every bad value gets its own line.
  const first: Record<string, ParamValue> = {};
  for (const [key, values] of Object.entries(grid)) first[key] = values[0]!;
  const reported = new Set<string>();
  const reportOnce = (tag: string, at: Node | null | undefined, path: string, expected: string, found: string): void => {
    if (reported.has(tag)) return;
    reported.add(tag);
    reader.report(at, path, expected, found);
  };
  const check = (values: Record<string, ParamValue>, varied: { key: string; index: number } | null): void => {
    try {
      parseDefenseSpec(name, values, context);
      return;
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      failed = true;
      const flag = firstKeyNamed(err.message, keys);
      if (flag !== undefined && flag in grid) {
        // The named key's value is wrong: the varied one if it is that key, else that key's first value.
        const index = varied && varied.key === flag ? varied.index : 0;
        const at = itemNodes[flag]?.[index] ?? null;
        const path = (grid[flag]?.length ?? 0) > 1 || isSeq(valueNodes[flag]) ? `${p}.${spelt[flag]}[${index}]` : `${p}.${spelt[flag]}`;
        reportOnce(`${flag}[${index}]`, at, path, keyHelp(name, flag), `${describe(at)} (${err.message})`);
      } else if (flag !== undefined && keys.includes(flag)) {
        reportOnce(`missing ${flag}`, pm?.node ?? node, p, `a key '${spelt[flag]}' (${keyHelp(name, flag)})`, 'no such key');
      } else {
        reportOnce('*', pm?.node ?? node, p, `valid ${name} parameters`, err.message);
      }
    }
  };
  check(first, null);
  for (const [key, values] of Object.entries(grid)) {
    values.forEach((value, index) => {
      if (index > 0) check({ ...first, [key]: value }, { key, index });
    });
  }
  if (failed) return undefined;
  const points = combinations(grid, keys).map((values) => parseDefenseSpec(name, values, context));
  return { name, grid, points };
}

/**
 * The defense key whose flag (`--grad2-target`) the library's message names first, or undefined.
 * Matched against the declared keys rather than a pattern of what a key looks like, so every key
 * (digits included) is found; a longer flag that merely starts with a key's is not that key
 * (were `noise` a key, `--noise-eps` would not name it).
 */
function firstKeyNamed(message: string, keys: readonly string[]): string | undefined {
  let first: string | undefined;
  let firstAt = Infinity;
  for (const key of keys) {
    const flag = `--${key}`;
    for (let at = message.indexOf(flag); at !== -1 && at < firstAt; at = message.indexOf(flag, at + 1)) {
      if (!/[a-z0-9-]/i.test(message.charAt(at + flag.length))) {
        first = key;
        firstAt = at;
        break;
      }
    }
  }
  return first;
}

/** Every combination of the grid's values, keys in the library's order (the last key varies fastest). */
function combinations(grid: Record<string, ParamValue[]>, order: readonly string[]): Record<string, ParamValue>[] {
  let points: Record<string, ParamValue>[] = [{}];
  for (const key of order) {
    const values = grid[key];
    if (!values) continue;
    points = points.flatMap((point) => values.map((v) => ({ ...point, [key]: v })));
  }
  return points;
}

// ---------------------------------------------------------------------------------------------
// attacker training

/** The attacker block: its architecture, preset and whichever training keys the file sets. */
function readAttacker(reader: YamlReader, node: Node | null | undefined): AttackerTrainConfig | undefined {
  const m = node === undefined ? undefined : reader.map(node, 'attacker', `a mapping of attacker training settings (preset, ${TRAIN_SETTING_KEYS.join(', ')}, arch)`);
  if (node !== undefined && !m) return undefined;
  const archNode = m?.get('arch');
  const arch = archNode === undefined ? null : reader.choice(archNode, 'attacker.arch', ARCH_NAMES);
  const preset = m ? m.choice('preset', TRAINING_PRESETS, 'paper') : 'paper';
  const overrides: Partial<TrainSettings> = {};
  let failed = false;
  for (const key of TRAIN_SETTING_KEYS) {
    if (!m?.has(key)) continue;
    const v = m.number(key, TRAIN_SETTING_RANGES[key]);
    if (v === undefined) failed = true;
    else overrides[key] = v;
  }
  m?.finish();
  if (arch === undefined || preset === undefined || failed) return undefined;
  return { arch, preset, overrides };
}

// ---------------------------------------------------------------------------------------------
// cross-checks

/** Limits that depend on the victim, as `poison attack` checks them (each attack declares its own). */
function checkAttackLimits(reader: YamlReader, attacks: AttackEntry[], nodes: (Node | null)[], dataset: DatasetName): void {
  const numClasses = datasetInfo(dataset).numClasses;
  for (const attack of attacks) {
    const definition = attackDefinition(attack.name);
    const limit = definition.victimLimit?.(jacobianSettingsOf(definition.params, attack.params), numClasses, attackSettingsOf(definition.params, attack.params)) ?? null;
    if (limit !== null) {
      const m = reader.deref(nodes[attack.index]);
      const at = isMap(m) ? (m.get(limit.key, true) as Node | undefined) ?? m : m;
      reader.report(at, `attacks[${attack.index}].${limit.key}`, limit.expected, limit.got);
    }
  }
}

/**
 * Budgets every attack can spend: a pool attack draws distinct images, so a budget cannot pass its
 * pool's size; the Jacobian family's seed set is itself queried, so a budget must cover it.
 * Each attack is checked against its own budgets, or the top-level ones.
 */
function checkBudgets(reader: YamlReader, topNode: Node | null, topBudgets: number[], attacks: AttackEntry[]): void {
  for (const attack of attacks) {
    const own = attack.budgets !== null;
    const node = own ? attack.budgetsNode : topNode;
    const list = attack.budgets ?? topBudgets;
    const base = own ? `attacks[${attack.index}].budgets` : 'budgets';
    const items = isSeq(node) ? node.items.map((n) => reader.deref(n)) : list.map(() => node);
    list.forEach((budget, i) => {
      const at = items[i] ?? node;
      const p = isSeq(node) ? `${base}[${i}]` : base;
      // Budgets count queries: an adaptation spending q per image gives the attack ⌊B/q⌋ images.
      const adaptation = adaptationOfAttackSettings(attack.params);
      const perImage = adaptation ? adaptationDefinition(adaptation.name).queriesPerImage(adaptation.settings) : 1;
      if (budget < perImage) {
        reader.report(at, p, `at least ${perImage} (attacks[${attack.index}] adapts with ${adaptation!.name}, ${perImage} queries per image)`, String(budget));
      }
      // What its query source can spend (a pool's size, a seed set queried first), in its own words.
      const sourceProblem = querySourceOf(attackDefinition(attack.name)).budgetProblem(budget, perImage, attack.params, attack.name);
      if (sourceProblem) reader.report(at, p, `${sourceProblem.expected} (attacks[${attack.index}] ${sourceProblem.why})`, String(budget));
    });
  }
}

function readBudgets(reader: YamlReader, node: Node | null, path: string): number[] | undefined {
  return reader.grid(node, path, (n, p) => reader.number(n, p, { integer: true, min: 1 }));
}
