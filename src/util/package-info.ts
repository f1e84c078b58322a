import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

/** The package root (the folder holding package.json), from dist/src/util or src/util. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'poison') return dir;
    } catch {
      // keep climbing
    }
    dir = path.dirname(dir);
  }
  throw new Error('poison: cannot find its own package.json');
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Installed version of a dependency, or null when it is not installed. */
export function installedVersion(name: string): string | null {
  try {
    const p = path.join(packageRoot(), 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}
