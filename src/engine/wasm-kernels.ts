/**
 * Gradient kernels for the wasm backend, built from its fast forward ops.
 *
 * The stock wasm backend has no Conv2DBackpropFilter (CNN training fails without it), its
 * Conv2DBackpropInput is several times slower than a forward convolution of the same size, and
 * its BatchMatMul is ~12× slower when transposeA/transposeB is set (dense-layer gradients use
 * exactly those forms). Every kernel here is rewritten in terms of stock Conv2D / Transpose /
 * Reverse / Slice / BatchMatMul calls and falls back to the stock kernel for cases it does not
 * cover. Tests compare each against the cpu backend on random tensors.
 */
import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelFunc;
type NamedAttrMap = tf.NamedAttrMap;

interface WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Which kernels to install: `all` (default) or only the missing filter gradient (for benchmarks). */
export type WasmKernelSet = 'all' | 'filter-only';

const stock = new Map<string, tf.KernelConfig>();
let installed: WasmKernelSet | null = null;

function stockKernel(name: string): KernelFunc {
  const config = stock.get(name) ?? tf.getKernel(name, 'wasm');
  if (!config) throw new Error(`wasm backend has no ${name} kernel`);
  return config.kernelFunc;
}

function run(name: string, backend: unknown, inputs: Record<string, TensorInfo>, attrs: object): TensorInfo {
  return stockKernel(name)({ inputs, backend: backend as tf.KernelBackend, attrs: attrs as NamedAttrMap }) as TensorInfo;
}

/** Reference-counted release (never forced: a Reshape output would share its input's buffer). */
function dispose(backend: unknown, ...infos: TensorInfo[]): void {
  for (const info of infos) (backend as WasmBackendLike).disposeData(info.dataId);
}

interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function isChannelsLast(dataFormat: string | undefined): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

/**
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s + kh − padTop, ow·s + kw − padLeft, ci] · dy[n,oh,ow,co]
 * is a forward convolution of x with batch and channels swapped ([Ci,H,W,N]) by dy used as a
 * filter ([OH,OW,N,Co]) dilated by the stride, which the wasm Conv2D supports.
 */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvGradAttrs & { filterShape: [number, number, number, number] };
  if (!isChannelsLast(a.dataFormat)) throw new Error('poison wasm Conv2DBackpropFilter supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const { top, left } = info.padInfo;
  // Rows (columns) of the padded input the forward pass touched: the rest must be cut off or
  // padded so the "valid" output of the swapped convolution is exactly kh × kw.
  const neededH = (info.outHeight - 1) * sh + kh;
  const neededW = (info.outWidth - 1) * sw + kw;
  const keepH = Math.min(h, neededH - top);
  const keepW = Math.min(w, neededW - left);
  const bottom = neededH - top - keepH;
  const right = neededW - left - keepW;

  const xT = run('Transpose', backend, { x }, { perm: [3, 1, 2, 0] }); // [Ci,H,W,N]
  let xCropped = xT;
  if (keepH < h || keepW < w) {
    xCropped = run('Slice', backend, { x: xT }, { begin: [0, 0, 0, 0], size: [ci, keepH, keepW, n] });
  }
  const dyT = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] }); // [OH,OW,N,Co]
  const out = run(
    'Conv2D',
    backend,
    { x: xCropped, filter: dyT },
    {
      strides: [1, 1],
      dilations: [sh, sw],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
  ); // [Ci,KH,KW,Co]
  const result = run('Transpose', backend, { x: out }, { perm: [1, 2, 0, 3] });
  dispose(backend, xT, dyT, out);
  if (xCropped !== xT) dispose(backend, xCropped);
  return result;
};

/**
 * For stride 1: dx = conv(dy, W'), W'[a,b,co,ci] = W[KH−1−a, KW−1−b, ci, co], padded so the
 * output is H × W (pad KH−1−padTop above and KH−1−padBottom below). Other strides: stock kernel.
 */
const conv2DBackpropInput: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvGradAttrs & { inputShape: [number, number, number, number] };
  const info = tf.backend_util.computeConv2DInfo(
    a.inputShape,
    filter.shape as [number, number, number, number],
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  if (!isChannelsLast(a.dataFormat) || info.strideHeight !== 1 || info.strideWidth !== 1) {
    return stockKernel('Conv2DBackpropInput')(args);
  }
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  const { top, bottom, left, right } = info.padInfo;
  if (top > kh - 1 || bottom > kh - 1 || left > kw - 1 || right > kw - 1) {
    return stockKernel('Conv2DBackpropInput')(args);
  }
  const flipped = run('Reverse', backend, { x: filter }, { dims: [0, 1] });
  const swapped = run('Transpose', backend, { x: flipped }, { perm: [0, 1, 3, 2] }); // [KH,KW,Co,Ci]
  const result = run(
    'Conv2D',
    backend,
    { x: dy, filter: swapped },
    {
      strides: [1, 1],
      dilations: [1, 1],
      pad: [
        [0, 0],
        [kh - 1 - top, kh - 1 - bottom],
        [kw - 1 - left, kw - 1 - right],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
  );
  dispose(backend, flipped, swapped);
  return result;
};

/** A transposed operand is transposed explicitly first: the plain product is ~12× faster. */
const batchMatMul: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (!transposeA && !transposeB) return stockKernel('BatchMatMul')(args);
  const swapLast = (t: TensorInfo): TensorInfo => {
    const perm = t.shape.map((_, i) => i);
    const r = perm.length;
    perm[r - 1] = r - 2;
    perm[r - 2] = r - 1;
    return run('Transpose', backend, { x: t }, { perm });
  };
  const aT = transposeA ? swapLast(a) : a;
  const bT = transposeB ? swapLast(b) : b;
  const result = run('BatchMatMul', backend, { a: aT, b: bT }, { transposeA: false, transposeB: false });
  if (aT !== a) dispose(backend, aT);
  if (bT !== b) dispose(backend, bT);
  return result;
};

function install(kernelName: string, kernelFunc: KernelFunc): void {
  const existing = tf.getKernel(kernelName, 'wasm');
  if (existing && !stock.has(kernelName)) stock.set(kernelName, existing);
  if (existing) tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
}

function restore(kernelName: string): void {
  const original = stock.get(kernelName);
  if (!original) return; // never replaced: the stock kernel is still in place
  if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel(original);
}

/**
 * Install the project's kernels on the wasm backend (after it is initialised, so the stock
 * kernels' setup has run). `filter-only` adds just the missing filter gradient and keeps the
 * stock Conv2DBackpropInput and BatchMatMul: the baseline the benchmark compares against.
 */
export function registerWasmKernels(set: WasmKernelSet = 'all'): void {
  if (installed === set) return;
  install('Conv2DBackpropFilter', conv2DBackpropFilter);
  if (set === 'all') {
    install('Conv2DBackpropInput', conv2DBackpropInput);
    install('BatchMatMul', batchMatMul);
  } else {
    restore('Conv2DBackpropInput');
    restore('BatchMatMul');
  }
  installed = set;
}
