/**
 * A toy defense declared in one file outside src/ and registered through
 * POISON_EXTENSION_MODULES, as an experiment of one's own would be: it sharpens or softens the
 * posterior, ỹ ∝ y^(1/T), T its one numeric parameter and operating axis. Its prepare() stands
 * in for a defense that builds something beside the victim (a trained model): it writes a marker
 * per spec into the victim's directory, idempotently, and logs every call, so a test can count
 * them; create() refuses to run before the marker of its spec exists.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DefenseDefinition, DefenseSpec } from '../../src/defenses/definition.js';

/** This module's compiled path, for POISON_EXTENSION_MODULES. */
export const TOY_DEFENSE_MODULE = fileURLToPath(import.meta.url);
export const TOY_DEFENSE = 'toy-temper';
/** One line per prepare() call, in the victim's directory: `<T> built` or `<T> found`. */
export const TOY_PREPARE_LOG = 'toy-temper-prepare.log';

interface ToySpec extends DefenseSpec {
  readonly temperature: number;
}

function marker(victimDir: string, spec: ToySpec): string {
  return path.join(victimDir, `toy-temper-T${spec.temperature}.marker`);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

const toy: DefenseDefinition = {
  name: TOY_DEFENSE,
  summary: 'ỹ ∝ y^(1/T): a toy that sharpens (T < 1) or softens (T > 1) the posterior',
  params: [
    { key: 'toy-temperature', field: 'temperature', flag: '--toy-temperature <t>', kind: 'number', range: { gt: 0, max: 100 }, default: 1, help: 'temperature T in (0, 100]' },
  ],
  operatingAxis: 'toy-temperature',
  drawsRandomness: () => false,
  sideInfoIdentity: () => null,
  async prepare(spec: ToySpec, ctx) {
    const file = marker(ctx.victimDir, spec);
    const found = await exists(file);
    if (!found) await fs.writeFile(file, `seed ${ctx.seed}\n`);
    await fs.appendFile(path.join(ctx.victimDir, TOY_PREPARE_LOG), `${spec.temperature} ${found ? 'found' : 'built'}\n`);
    ctx.reporter?.line?.(`${TOY_DEFENSE}: marker for T=${spec.temperature} ${found ? 'found' : 'built'}`);
  },
  async create(spec: ToySpec, ctx) {
    if (ctx.victimDir === undefined) throw new Error(`${TOY_DEFENSE}: the defense context names no victim directory`);
    if (!(await exists(marker(ctx.victimDir, spec)))) throw new Error(`${TOY_DEFENSE}: created before prepare() built its marker for T=${spec.temperature}`);
    const tf = await import('@tensorflow/tfjs');
    const { defineDefense } = await import('../../src/defenses/base.js');
    return defineDefense({
      spec,
      numClasses: ctx.numClasses,
      transform: (y) => {
        const powered = tf.pow(y, 1 / spec.temperature);
        return tf.div(powered, tf.sum(powered, 1, true));
      },
    });
  },
};

export const defenses = [toy];
