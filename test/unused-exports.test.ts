/**
 * The unused-export check (scripts/unused-exports.ts): on a tiny project it finds each kind of
 * dead code and passes each kind of use; on this repository it finds nothing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findUnused, repositoryLayout } from '../scripts/unused-exports.js';
import { REPO_ROOT } from './helpers/cli.js';

const roots: string[] = [];
after(() => Promise.all(roots.map((r) => fs.rm(r, { recursive: true, force: true }))));

const TINY_PROJECT: Record<string, string> = {
  'package.json': '{ "type": "module" }',
  'tsconfig.json': JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [] },
    include: ['src/**/*.ts', 'test/**/*.ts'],
  }),
  'src/main.ts': [
    "import { used } from './lib/index.js';",
    "import type { Shape } from './lib/a.js';",
    "const { lazy } = await import('./lazy.js');",
    "const ns = await import('./namespace.js');",
    'const s: Shape = { n: used() + lazy() + ns.read() };',
    "const loadWhole = (): Promise<unknown> => import('./whole.js');",
    'console.log(s, loadWhole);',
  ].join('\n'),
  'src/lib/index.ts': "export { used, onlyTests, neverImported } from './a.js';",
  'src/lib/a.ts': [
    'export interface Shape { n: number }',
    'export const localOnly = 1;',
    'export function used(): number { return helper() + localOnly; }',
    '/** Run by used(), imported by a test: passes. */',
    'export function helper(): number { return 1; }',
    'export function onlyTests(): number { return 2; }',
    'export function neverImported(): number { return 3; }',
  ].join('\n'),
  'src/lazy.ts': 'export function lazy(): number { return 0; }\nexport function lazyUnused(): number { return 0; }',
  'src/namespace.ts': 'export function read(): number { return 0; }\nexport function unread(): number { return 0; }',
  'src/whole.ts': 'export const handedOn = 1;\nexport function alsoHandedOn(): number { return 0; }',
  'src/shell-only.ts': 'export const fromShell = 1;\nexport const notFromShell = 2;',
  'bench/check.sh': "node --input-type=module -e \"import { fromShell } from './dist/src/shell-only.js'; console.log(fromShell);\"",
  'src/orphan.ts': 'export const orphan = 1;',
  'test/a.test.ts': "import { helper, onlyTests } from '../src/lib/a.js';\nimport { orphan } from '../src/orphan.js';\nconsole.log(helper(), onlyTests(), orphan);",
};

test('a tiny project: unreachable files, exports used by nobody, by tests only, or only in their own file are reported; a bench shell script\'s imports count', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-unused-'));
  roots.push(root);
  for (const [file, text] of Object.entries(TINY_PROJECT)) {
    await fs.mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await fs.writeFile(path.join(root, file), text);
  }
  const report = findUnused({ root, tsconfig: path.join(root, 'tsconfig.json'), entries: [path.join(root, 'src/main.ts')], checkedDir: path.join(root, 'src'), shellScripts: [path.join(root, 'bench/check.sh')] });
  assert.deepEqual(report.unreachableFiles, ['src/orphan.ts']);
  assert.deepEqual(report.unusedExports, [
    'src/lazy.ts: lazyUnused (used nowhere)',
    'src/lib/a.ts: localOnly (used only in its own file: drop `export`)',
    'src/lib/a.ts: neverImported (used nowhere)',
    'src/lib/a.ts: onlyTests (only tests import it and production never runs it)',
    'src/lib/index.ts: neverImported (used nowhere)',
    'src/lib/index.ts: onlyTests (used nowhere)',
    'src/namespace.ts: unread (used nowhere)',
    'src/shell-only.ts: notFromShell (used nowhere)',
  ]);
});

test('src/ holds no file reachable only from tests and no unused export (npm run check:exports lists them)', () => {
  const report = findUnused(repositoryLayout(REPO_ROOT));
  assert.deepEqual(report, { unreachableFiles: [], unusedExports: [] });
});
