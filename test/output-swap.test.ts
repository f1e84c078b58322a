/**
 * The output swap (util/outdir.ts's commit) under a crash at each of its steps: a child process
 * replaces an old output with a new one and kills itself with SIGKILL at the step named by the
 * test-only POISON_FAULT hook. Whatever the step, nothing is lost (the complete old or new output
 * is on disk), and the next start (reserveOutputDir) leaves the complete old or new output at
 * the target and no leftovers beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { reserveOutputDir } from '../src/util/outdir.js';
import { hostTag, removeStaleTemporaries } from '../src/util/safe-fs.js';
import { tempDir } from './fixtures/data-builders.js';
import { REPO_ROOT } from './helpers/cli.js';

type Output = Record<string, string>;

/** Different file sets, so a mix of the two is told apart from either. */
const OLD: Output = { 'a.txt': 'old a', 'b.txt': 'old b', 'sub/c.txt': 'old c' };
const NEW: Output = { 'a.txt': 'new a', 'd.txt': 'new d', 'sub/e.txt': 'new e' };

function writeOutput(dir: string, files: Output): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
}

/** Every file under `dir` with its content; null when `dir` does not exist. */
function readOutput(dir: string): Output | null {
  try {
    statSync(dir);
  } catch {
    return null;
  }
  const files: Output = {};
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(name);
      else files[name] = readFileSync(path.join(dir, name), 'utf8');
    }
  };
  walk('');
  return files;
}

function which(files: Output | null): 'old' | 'new' | 'neither' {
  const json = JSON.stringify(files);
  if (json === JSON.stringify(OLD)) return 'old';
  if (json === JSON.stringify(NEW)) return 'new';
  return 'neither';
}

/** A child process that replaces `target`'s output with NEW through reserveOutputDir's commit. */
function swapInChild(target: string, fault: string): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const outdir = pathToFileURL(path.join(REPO_ROOT, 'dist', 'src', 'util', 'outdir.js')).href;
  const script = `
    import { mkdirSync, writeFileSync } from 'node:fs';
    import * as path from 'node:path';
    import { reserveOutputDir } from ${JSON.stringify(outdir)};
    const files = JSON.parse(process.env.SWAP_FILES);
    const out = await reserveOutputDir(process.env.SWAP_TARGET, true);
    await out.commit(async (dir) => {
      for (const [name, content] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        writeFileSync(path.join(dir, name), content);
      }
    });
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, SWAP_TARGET: target, SWAP_FILES: JSON.stringify(NEW), POISON_FAULT: fault },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

/** Each step of the swap, and what the next start must find at the target. */
const STEPS: { fault: string; after: 'old' | 'new' }[] = [
  { fault: 'swap:start', after: 'old' }, // the new output is complete, nothing renamed yet
  { fault: 'swap:old-moved', after: 'old' }, // old moved aside, new not yet in place
  { fault: 'swap:new-moved', after: 'new' }, // new in place, old not yet removed
  { fault: 'swap:done', after: 'new' }, // old removed, before the process goes on
];

for (const { fault, after } of STEPS) {
  test(`output swap killed (SIGKILL) at ${fault}: nothing lost, the next start finds the ${after} output and no leftovers`, async () => {
    const tmp = tempDir('swap');
    try {
      const target = path.join(tmp.dir, 'out');
      writeOutput(target, OLD);
      const child = swapInChild(target, fault);
      assert.equal(child.signal, 'SIGKILL', `the child stopped itself at ${fault} (status ${child.status}): ${child.stderr}`);

      // Right after the crash: the target holds old or new, or (between the two renames) it is
      // missing while a complete old output waits beside it under its `-old` name.
      const atTarget = which(readOutput(target));
      const beside = readdirSync(tmp.dir).filter((n) => n !== 'out');
      if (atTarget === 'neither') {
        assert.equal(fault, 'swap:old-moved', `the target lost its output at ${fault}`);
        const old = beside.filter((n) => n.endsWith('-old'));
        assert.equal(old.length, 1, beside.join(', '));
        assert.equal(which(readOutput(path.join(tmp.dir, old[0]!))), 'old');
      } else {
        assert.equal(atTarget, fault === 'swap:start' ? 'old' : 'new');
      }

      // The next start: restores a `-old` whose target is missing, removes the rest.
      const next = await reserveOutputDir(target, true);
      assert.equal(which(readOutput(target)), after);
      assert.deepEqual(readdirSync(tmp.dir).sort(), ['out', path.basename(next.tmp)].sort(), 'no leftovers beside the target');
      await next.abandon();
      assert.equal(which(readOutput(target)), after);
    } finally {
      tmp.cleanup();
    }
  });
}

test('output swap without a fault: the new output replaces the old one, nothing left beside it', () => {
  const tmp = tempDir('swap');
  try {
    const target = path.join(tmp.dir, 'out');
    writeOutput(target, OLD);
    const child = swapInChild(target, '');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(which(readOutput(target)), 'new');
    assert.deepEqual(readdirSync(tmp.dir), ['out']);
  } finally {
    tmp.cleanup();
  }
});

test('a second rename that fails puts the old output back before the error goes on', async () => {
  const tmp = tempDir('swap');
  const saved = process.env.POISON_FAULT;
  try {
    const target = path.join(tmp.dir, 'out');
    writeOutput(target, OLD);
    const out = await reserveOutputDir(target, true);
    // Fails after the old output was moved aside, where a process that survives must undo the first rename.
    process.env.POISON_FAULT = 'swap:new-rename-fails';
    await assert.rejects(out.commit((dir) => Promise.resolve(writeOutput(dir, NEW))), /swap:new-rename-fails/);
    assert.equal(which(readOutput(target)), 'old');
    assert.deepEqual(readdirSync(tmp.dir), ['out'], 'the new output and the -old name are gone');
  } finally {
    if (saved === undefined) delete process.env.POISON_FAULT;
    else process.env.POISON_FAULT = saved;
    tmp.cleanup();
  }
});

test("a dead process's `-old` is removed (not restored) when its target holds an output", async () => {
  const tmp = tempDir('swap');
  try {
    const target = path.join(tmp.dir, 'out');
    writeOutput(target, NEW);
    // pid 2^22 + 1 is above Linux's pid_max limit, so no process has it.
    const old = path.join(tmp.dir, `.out.tmp-${hostTag()}-4194305-0123abcd-old`);
    writeOutput(old, OLD);
    assert.deepEqual(await removeStaleTemporaries(tmp.dir), [path.basename(old)]);
    assert.equal(which(readOutput(target)), 'new');
    assert.deepEqual(readdirSync(tmp.dir), ['out']);
  } finally {
    tmp.cleanup();
  }
});
