/**
 * The unused-export check (`npm run check:exports`; test/unused-exports.test.ts runs it in
 * `npm test`): src/ holds production code only, so
 *   1. every file of src/ must be reachable by imports (static, type-only or `import('literal')`)
 *      from the production entries: src/cli/main.ts, src/sweep/run/worker.ts (forked by path) and
 *      bench/*.ts. A src/ file that only tests reach is reported. bench/*.sh scripts count as
 *      production too: each `import { a, b } from './dist/src/m.js'` in them imports a and b.
 *   2. every export of a reachable src/ file (types and interfaces included; a re-export counts as
 *      an export of the file that re-exports it) must be imported by another reachable src/ or
 *      bench/ file, resolved through re-exports (`export { x } from`, index.ts files) to the
 *      declaration. One exception, so tests can reach a piece of production code directly: an
 *      export only tests import passes if its own file also uses it (production runs it; the
 *      test exercises production behaviour). An export that only tests use and production never
 *      runs is dead code; one that nothing outside its file uses should lose its `export`.
 * Written on the TypeScript compiler API (already a devDependency) rather than a published tool:
 * knip needs Node ^20.19, and the rule above is short.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface UnusedReport {
  /** src/ files no production entry reaches, relative to the root. */
  unreachableFiles: string[];
  /** `file: name (why)` for each export that breaks the rule. */
  unusedExports: string[];
}

export interface CheckLayout {
  root: string;
  tsconfig: string;
  /** Production entry files, absolute. */
  entries: string[];
  /** The folder whose files and exports are checked (src/), absolute. */
  checkedDir: string;
  /** Shell scripts that import compiled modules (`./dist/src/m.js`, relative to the root) inline. */
  shellScripts?: string[];
}

const SHELL_IMPORT = /import\s*\{([^}]*)\}\s*from\s*['"]\.\/dist\/([^'"]+)\.js['"]/g;

/** The modules (absolute .ts paths) and names the shell scripts import. */
function shellImports(layout: CheckLayout): { file: string; names: string[] }[] {
  return (layout.shellScripts ?? []).flatMap((script) =>
    [...(ts.sys.readFile(script) ?? '').matchAll(SHELL_IMPORT)].map((m) => ({
      file: path.join(layout.root, `${m[2]!}.ts`),
      names: m[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, '')).filter((n) => n !== ''),
    })),
  );
}

export function findUnused(layout: CheckLayout): UnusedReport {
  const config = ts.getParsedCommandLineOfConfigFile(layout.tsconfig, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!config) throw new Error(`cannot read ${layout.tsconfig}`);
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  const checker = program.getTypeChecker();
  const own = program.getSourceFiles().filter((f) => !f.isDeclarationFile && !f.fileName.includes('/node_modules/'));
  const byName = new Map(own.map((f) => [path.resolve(f.fileName), f]));
  const inChecked = (file: string): boolean => path.resolve(file).startsWith(layout.checkedDir + path.sep);

  // 1. Reachability over the import graph.
  const reachable = new Set<string>();
  const fromShell = shellImports(layout);
  const queue = [...layout.entries, ...fromShell.map((i) => i.file)].map((e) => path.resolve(e));
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    const source = byName.get(file);
    if (!source || reachable.has(file)) continue;
    reachable.add(file);
    for (const spec of moduleSpecifiers(source)) {
      const resolved = ts.resolveModuleName(spec, file, config.options, ts.sys).resolvedModule;
      if (resolved && !resolved.isExternalLibraryImport) queue.push(path.resolve(resolved.resolvedFileName));
    }
  }

  // 2. Who uses each declaration: a reachable production file, another file (tests), its own file.
  const uses = new Map<ts.Node, { production: boolean; other: boolean; local: boolean }>();
  const mark = (symbol: ts.Symbol, from: ts.SourceFile | 'shell'): void => {
    for (const decl of symbol.declarations ?? []) {
      const use = uses.get(decl) ?? { production: false, other: false, local: false };
      if (from === 'shell') use.production = true;
      else if (decl.getSourceFile() === from) use.local = true;
      else if (reachable.has(path.resolve(from.fileName))) use.production = true;
      else use.other = true;
      uses.set(decl, use);
    }
  };
  for (const source of own) {
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node)) {
        for (const symbol of aliasChain(checker, referencedSymbol(checker, node))) mark(symbol, source);
      } else if (isEscapingImport(node)) {
        // `return import('./m.js')` hands the whole module on (as an interface): all of it is used.
        const moduleSymbol = checker.getSymbolAtLocation(node.arguments[0]!);
        for (const exported of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) mark(exported, source);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  for (const { file, names } of fromShell) {
    const source = byName.get(path.resolve(file));
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    for (const exported of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      if (names.includes(exported.name)) for (const symbol of aliasChain(checker, exported)) mark(symbol, 'shell');
    }
  }

  const unreachableFiles: string[] = [];
  const unusedExports: string[] = [];
  for (const source of own) {
    if (!inChecked(source.fileName)) continue;
    const relative = path.relative(layout.root, source.fileName);
    if (!reachable.has(path.resolve(source.fileName))) {
      unreachableFiles.push(relative);
      continue;
    }
    const moduleSymbol = checker.getSymbolAtLocation(source);
    for (const exported of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      const decls = (exported.declarations ?? []).filter((d) => d.getSourceFile() === source);
      if (decls.length === 0) continue; // `export *` of another file: checked there
      const use = decls.map((d) => uses.get(d) ?? { production: false, other: false, local: false });
      if (use.some((u) => u.production)) continue;
      const local = use.some((u) => u.local);
      const byTests = use.some((u) => u.other);
      if (byTests && local) continue;
      const why = byTests ? 'only tests import it and production never runs it' : local ? 'used only in its own file: drop `export`' : 'used nowhere';
      unusedExports.push(`${relative}: ${exported.name} (${why})`);
    }
  }
  return { unreachableFiles: unreachableFiles.sort(), unusedExports: unusedExports.sort() };
}

/** Every module a file names: imports, re-exports, `import type`, and `import('literal')`. */
function moduleSpecifiers(source: ts.SourceFile): string[] {
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) specs.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specs.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specs;
}

/**
 * An `import('literal')` whose module object is passed on whole, not read name by name
 * (`(await import(m)).x`, `const { x } = await import(m)`, `const lib = await import(m); lib.x`).
 */
function isEscapingImport(node: ts.Node): node is ts.CallExpression {
  if (!ts.isCallExpression(node) || node.expression.kind !== ts.SyntaxKind.ImportKeyword) return false;
  const [arg] = node.arguments;
  if (!arg || !ts.isStringLiteralLike(arg)) return false;
  let outer: ts.Node = node;
  while (ts.isAwaitExpression(outer.parent) || ts.isParenthesizedExpression(outer.parent)) outer = outer.parent;
  return !ts.isPropertyAccessExpression(outer.parent) && !ts.isVariableDeclaration(outer.parent);
}

/** The symbol an identifier uses, if it is a use: `{ x } = await import(...)` uses the module's x. */
function referencedSymbol(checker: ts.TypeChecker, node: ts.Identifier): ts.Symbol | undefined {
  const parent = node.parent;
  // A re-export is not a use: the files importing through it are.
  if (ts.isExportSpecifier(parent)) return undefined;
  if (ts.isBindingElement(parent) && ts.isObjectBindingPattern(parent.parent) && (parent.propertyName ?? parent.name) === node) {
    return checker.getTypeAtLocation(parent.parent).getProperty(node.text);
  }
  if (ts.isShorthandPropertyAssignment(parent)) return checker.getShorthandAssignmentValueSymbol(parent);
  const symbol = checker.getSymbolAtLocation(node);
  // Declaring a name (an import specifier included) is not using it.
  if (symbol?.declarations?.some((d) => ts.getNameOfDeclaration(d) === node)) return undefined;
  return symbol;
}

/** A symbol and, through imports and re-exports, every alias down to the declaration. */
function aliasChain(checker: ts.TypeChecker, symbol: ts.Symbol | undefined): ts.Symbol[] {
  const chain: ts.Symbol[] = [];
  for (let s = symbol; s !== undefined && !chain.includes(s); ) {
    chain.push(s);
    s = s.flags & ts.SymbolFlags.Alias ? checker.getImmediateAliasedSymbol(s) : undefined;
  }
  return chain;
}

/** This repository's layout: the entries named in the header. */
export function repositoryLayout(root: string): CheckLayout {
  const bench = ts.sys.readDirectory(path.join(root, 'bench'), ['.ts'], undefined, undefined, 1);
  const shellScripts = ts.sys.readDirectory(path.join(root, 'bench'), ['.sh'], undefined, undefined, 1);
  return {
    root,
    tsconfig: path.join(root, 'tsconfig.json'),
    entries: [path.join(root, 'src/cli/main.ts'), path.join(root, 'src/sweep/run/worker.ts'), ...bench],
    checkedDir: path.join(root, 'src'),
    shellScripts,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const report = findUnused(repositoryLayout(root));
  for (const file of report.unreachableFiles) console.log(`${file}: reachable only from tests (or from nothing)`);
  for (const line of report.unusedExports) console.log(line);
  process.exitCode = report.unreachableFiles.length + report.unusedExports.length > 0 ? 1 : 0;
}
