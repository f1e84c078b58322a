/**
 * Typed reading of a YAML document that keeps every node's place in the file. Readers never
 * throw: each mismatch is recorded as a ConfigProblem (path, line, column, expected, found) and
 * reading goes on, so validation reports every problem of the file in one pass. Maps report
 * keys nobody asked for, so a misspelt key is an error instead of a silently used default.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import type { ConfigProblem } from './problems.js';
import type { NumberRange } from '../../util/parse.js';


interface ParsedYaml {
  doc: Document.Parsed;
  reader: YamlReader;
}

/** Parse YAML text; syntax errors become problems with the line and column the parser gives. */
export function parseYaml(text: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const reader = new YamlReader(doc, lines);
  for (const err of doc.errors) {
    const pos = err.linePos?.[0];
    reader.problems.push({
      path: '',
      line: pos?.line ?? 0,
      col: pos?.col ?? 0,
      expected: 'valid YAML',
      found: `${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')} (${err.code})`,
    });
  }
  return { doc, reader };
}

export class YamlReader {
  readonly problems: ConfigProblem[] = [];

  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /** An alias (`*name`) stands for the node it points to. */
  deref(node: unknown): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return node as Node;
  }

  position(node: Node | null | undefined): { line: number; col: number } {
    const offset = node?.range?.[0];
    if (offset === undefined) return { line: 0, col: 0 };
    return this.lines.linePos(offset);
  }

  report(node: Node | null | undefined, path: string, expected: string, found?: string): void {
    const { line, col } = this.position(node);
    this.problems.push({ path, line, col, expected, found: found ?? describe(node) });
  }

  map(raw: unknown, path: string, expected = 'a mapping (key: value lines)'): MapView | undefined {
    const node = this.deref(raw);
    if (!isMap(node)) {
      this.report(node, path, expected);
      return undefined;
    }
    return new MapView(this, node, path);
  }

  /** The items of a list, or undefined (and a problem) when the node is not one. */
  list(raw: unknown, path: string, expected = 'a list'): (Node | null)[] | undefined {
    const node = this.deref(raw);
    if (!isSeq(node)) {
      this.report(node, path, expected);
      return undefined;
    }
    return node.items.map((item) => this.deref(item));
  }

  number(raw: unknown, path: string, range: NumberRange = {}): number | undefined {
    const node = this.deref(raw);
    const expected = describeRange(range);
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isFinite(node.value)) {
      this.report(node, path, expected);
      return undefined;
    }
    const v = node.value;
    const ok =
      (!range.integer || Number.isInteger(v)) &&
      (range.min === undefined || v >= range.min) &&
      (range.gt === undefined || v > range.gt) &&
      (range.max === undefined || v <= range.max);
    if (!ok) {
      this.report(node, path, expected);
      return undefined;
    }
    return v;
  }

  string(raw: unknown, path: string, expected = 'a string'): string | undefined {
    const node = this.deref(raw);
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') {
      this.report(node, path, expected);
      return undefined;
    }
    return node.value;
  }

  choice<T extends string>(raw: unknown, path: string, choices: readonly T[]): T | undefined {
    const node = this.deref(raw);
    const expected = `one of ${choices.join(', ')}`;
    if (!isScalar(node) || typeof node.value !== 'string') {
      this.report(node, path, expected);
      return undefined;
    }
    if (!(choices as readonly string[]).includes(node.value)) {
      this.report(node, path, expected, `${describe(node)}${suggestion(node.value, choices)}`);
      return undefined;
    }
    return node.value as T;
  }

  /**
   * A grid axis: a scalar is one fixed value, a list is an axis of values. An empty list is a
   * problem (an empty axis would silently make the whole grid empty), and so are repeats (two
   * identical cells).
   */
  grid<T>(raw: unknown, path: string, item: (node: Node | null, path: string) => T | undefined): T[] | undefined {
    const node = this.deref(raw);
    if (!isSeq(node)) {
      const v = item(node, path);
      return v === undefined ? undefined : [v];
    }
    if (node.items.length === 0) {
      this.report(node, path, 'a value or a non-empty list of values', 'an empty list');
      return undefined;
    }
    const values: T[] = [];
    let failed = false;
    const seen = new Set<string>();
    node.items.forEach((itemNode, i) => {
      const n = this.deref(itemNode);
      const v = item(n, `${path}[${i}]`);
      if (v === undefined) {
        failed = true;
        return;
      }
      const key = JSON.stringify(v);
      if (seen.has(key)) {
        this.report(n, `${path}[${i}]`, 'each value once', `${describe(n)} again`);
        failed = true;
        return;
      }
      seen.add(key);
      values.push(v);
    });
    return failed ? undefined : values;
  }
}

export class MapView {
  private readonly asked = new Set<string>();

  constructor(
    readonly reader: YamlReader,
    readonly node: YAMLMap,
    readonly path: string,
  ) {
    for (const pair of node.items) {
      const key = reader.deref(pair.key);
      if (!isScalar(key) || typeof key.value !== 'string') {
        reader.report(key, this.path, 'string keys', `the key ${describe(key)}`);
      }
    }
  }

  /** Path of a child key, for problems and for the readers. */
  child(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  keys(): string[] {
    const out: string[] = [];
    for (const pair of this.node.items) {
      const key = this.reader.deref(pair.key);
      if (isScalar(key) && typeof key.value === 'string') out.push(key.value);
    }
    return out;
  }

  has(key: string): boolean {
    return this.keys().includes(key);
  }

  /** The value node of `key` (null for `key:` with nothing after it), or undefined when absent. */
  get(key: string): Node | null | undefined {
    this.asked.add(key);
    for (const pair of this.node.items) {
      const k = this.reader.deref(pair.key);
      if (isScalar(k) && k.value === key) return this.reader.deref(pair.value);
    }
    return undefined;
  }

  keyNode(key: string): Node | null {
    for (const pair of this.node.items) {
      const k = this.reader.deref(pair.key);
      if (isScalar(k) && k.value === key) return k;
    }
    return null;
  }

  /** The value of a key that must be there; a missing key is reported at the map. */
  required(key: string, expected: string): Node | null | undefined {
    const v = this.get(key);
    if (v === undefined) this.reader.report(this.node, this.path, `a key '${key}' (${expected})`, 'no such key');
    return v;
  }

  number(key: string, range: NumberRange, fallback: number): number | undefined;
  number(key: string, range: NumberRange): number | undefined;
  number(key: string, range: NumberRange, fallback?: number): number | undefined {
    const v = this.get(key);
    if (v === undefined) return fallback;
    return this.reader.number(v, this.child(key), range);
  }

  string(key: string, fallback?: string): string | undefined {
    const v = this.get(key);
    if (v === undefined) return fallback;
    return this.reader.string(v, this.child(key));
  }

  choice<T extends string>(key: string, choices: readonly T[], fallback?: T): T | undefined {
    const v = this.get(key);
    if (v === undefined) return fallback;
    return this.reader.choice(v, this.child(key), choices);
  }

  /**
   * Report every key that no reader asked for, naming the keys this place accepts and the
   * closest one. Call after all reads of this map.
   */
  finish(): void {
    const allowed = [...this.asked];
    for (const key of this.keys()) {
      if (this.asked.has(key)) continue;
      this.reader.report(
        this.keyNode(key),
        this.child(key),
        allowed.length > 0 ? `one of the keys ${allowed.join(', ')}` : 'no keys here',
        `unknown key '${key}'${suggestion(key, allowed)}`,
      );
    }
  }
}

/** What a node holds, for the "found" half of a problem. */
export function describe(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'an empty value';
    if (typeof v === 'string') return `'${v}' (text)`;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return JSON.stringify(v) ?? 'an unreadable value';
  }
  return 'an unreadable value';
}

export function describeRange(range: NumberRange): string {
  const kind = range.integer ? 'a whole number' : 'a number';
  const parts: string[] = [];
  if (range.min !== undefined) parts.push(`≥ ${range.min}`);
  if (range.gt !== undefined) parts.push(`> ${range.gt}`);
  if (range.max !== undefined) parts.push(`≤ ${range.max}`);
  return parts.length > 0 ? `${kind} ${parts.join(' and ')}` : kind;
}

/** " (did you mean 'epochs'?)" when a known word is within a small edit distance. */
export function suggestion(word: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean '${best}'?)` : '';
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
