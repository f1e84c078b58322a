/**
 * The IDX format of MNIST, Fashion-MNIST and EMNIST: a big-endian header (two zero bytes, a type
 * byte 0x08 for unsigned bytes, the number of dimensions, then one uint32 per dimension) followed
 * by the data. Images are 3-dimensional (magic 0x00000803), labels 1-dimensional (0x00000801).
 */
import { RuntimeFailure } from '../errors.js';
import { peekMaybeGzip, readMaybeGzip, type ByteSource } from './bytes.js';

const IDX_IMAGES_MAGIC = 0x00000803;
const IDX_LABELS_MAGIC = 0x00000801;

type IdxKind = 'images' | 'labels';

interface IdxArray {
  dims: number[];
  /** A view on the data after the header (no copy). */
  data: Uint8Array;
}

function expectedMagic(kind: IdxKind): number {
  return kind === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
}

function hex32(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

/** Parse a whole IDX file already in memory; `name` is used in error messages. */
function parseIdx(buf: Uint8Array, name: string, kind: IdxKind): IdxArray {
  const header = parseIdxHeader(buf, name, kind);
  const headerBytes = 4 + 4 * header.dims.length;
  const want = header.dims.reduce((a, b) => a * b, 1);
  const have = buf.length - headerBytes;
  if (have !== want) {
    const what = header.dims.join('×');
    throw new RuntimeFailure(
      `${name}: wrong length: the header announces ${what} bytes of data but the file holds ${have}` +
        (have < want ? ' (truncated)' : ' (trailing bytes)'),
    );
  }
  return { dims: header.dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerBytes, want) };
}

/** Check the magic number and read the dimensions; needs only the header bytes. */
function parseIdxHeader(buf: Uint8Array, name: string, kind: IdxKind): { dims: number[] } {
  const magicWanted = expectedMagic(kind);
  const ndims = magicWanted & 0xff;
  if (buf.length < 4) throw new RuntimeFailure(`${name}: truncated: ${buf.length} bytes is shorter than an IDX header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const magic = view.getUint32(0, false);
  if (magic !== magicWanted) {
    throw new RuntimeFailure(
      `${name}: bad magic number ${hex32(magic)} (an IDX ${kind} file starts with ${hex32(magicWanted)})`,
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) {
    throw new RuntimeFailure(`${name}: truncated: ${buf.length} bytes is shorter than its ${headerBytes}-byte IDX header`);
  }
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  return { dims };
}

/** The item count of an IDX file (first dimension), reading only its header. */
export async function peekIdxCount(file: string, kind: IdxKind): Promise<number> {
  const ndims = expectedMagic(kind) & 0xff;
  const head = await peekMaybeGzip(file, 4 + 4 * ndims);
  return parseIdxHeader(head, file, kind).dims[0]!;
}

export interface IdxExpectation {
  height: number;
  width: number;
  numClasses: number;
  /** Subtracted from every stored label (EMNIST letters store 1..26). */
  labelOffset: number;
}

interface DecodedIdxPair {
  /** count·height·width bytes. */
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
}

/**
 * Read an images file and its labels file, check that they agree with each other and with the
 * dataset, and keep the first `limit` items.
 */
export async function readIdxPair(
  images: ByteSource,
  labels: ByteSource,
  expect: IdxExpectation,
  limit?: number,
): Promise<DecodedIdxPair> {
  const img = parseIdx(await readMaybeGzip(images), images.name, 'images');
  const lab = parseIdx(await readMaybeGzip(labels), labels.name, 'labels');
  const [n, h, w] = img.dims as [number, number, number];
  if (h !== expect.height || w !== expect.width) {
    throw new RuntimeFailure(`${images.name}: images are ${h}×${w}, this dataset's are ${expect.height}×${expect.width}`);
  }
  const nLabels = lab.dims[0]!;
  if (nLabels !== n) {
    throw new RuntimeFailure(
      `${labels.name}: count mismatch: it holds ${nLabels} labels but ${images.name} holds ${n} images`,
    );
  }
  const count = limit === undefined ? n : Math.min(n, limit);
  const imageBytes = h * w;
  // A limited read copies its part so the whole decoded file can be freed.
  const pixels = count === n ? img.data : img.data.slice(0, count * imageBytes);
  const out = new Int32Array(count);
  out.set(lab.data.subarray(0, count));
  checkAndShiftLabels(out, expect, labels.name);
  return { pixels, labels: out, count };
}

function checkAndShiftLabels(labels: Int32Array, expect: IdxExpectation, name: string): void {
  const lo = expect.labelOffset;
  const hi = expect.labelOffset + expect.numClasses - 1;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (v < lo || v > hi) {
      throw new RuntimeFailure(`${name}: label ${v} at index ${i} is outside ${lo}..${hi}`);
    }
    labels[i] = v - lo;
  }
}
