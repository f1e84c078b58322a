/**
 * Kernels of the project for the webgpu backend, registered the same way as the wasm ones
 * (wasm-kernels.ts): built from stock kernels at the backend level, falling back to the stock
 * kernel for cases they do not cover, and tested against the cpu backend
 * (test/webgpu.test.ts).
 *
 * Conv2DBackpropFilter: the stock kernel is 77% of the GPU time of a VGG16-BN training step on
 * an H200 (../shared/gpu/README.md). As im2col + one matrix product:
 *   cols[n·OH·OW, (kh·KW + kw)·Ci + ci] = xpad[n, oh·s + kh, ow·s + kw, ci]
 *   dW = colsᵀ · dy[n·OH·OW, Co], reshaped to [KH, KW, Ci, Co]
 * — one pad, KH·KW strided slices, one concat and one large matMul, which the GPU runs far
 * better than the stock kernel's one thread per filter element looping over the batch.
 *
 * int32 workaround: tfjs-backend-webgpu 4.22's TransposeProgram does not compile when its input
 * buffer holds int32 (or bool) on the GPU — also after a cast to float32, which only relabels the
 * buffer ("type mismatch … setOutputAtIndex, expected 'f32', got 'i32'") — and the failed
 * dispatch leaves its output buffer holding stale data: wrong results, no error.
 * Reductions over a non-innermost axis and cumulative sums transpose internally (top-k's
 * sum(oneHot(indices), 1) hit it). Those kernels run here on a float32 copy and cast back:
 * exact for integers of magnitude below 2^24.
 */
import * as tf from '@tensorflow/tfjs';
import { registerFusedKernels } from './webgpu-fused/kernels.js';

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelFunc;
type NamedAttrMap = tf.NamedAttrMap;

interface WebGpuBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): TensorInfo;
  tensorMap?: { get(dataId: object): { dtype: string } | undefined };
  device?: { limits?: { maxStorageBufferBindingSize?: number } };
}

/**
 * `im2col` (default): the project's kernels, incl. the fused training step (webgpu-fused/);
 * `stock`: tfjs's own kernels and autodiff (benchmarks compare the two).
 */
export type WebGpuKernelSet = 'im2col' | 'stock';

const stock = new Map<string, tf.KernelConfig>();
let installed: WebGpuKernelSet | null = null;

function stockKernel(name: string): KernelFunc {
  const config = stock.get(name) ?? tf.getKernel(name, 'webgpu');
  if (!config) throw new Error(`webgpu backend has no ${name} kernel`);
  return config.kernelFunc;
}

function run(name: string, backend: unknown, inputs: Record<string, TensorInfo> | TensorInfo[], attrs: object): TensorInfo {
  return stockKernel(name)({ inputs: inputs as tf.NamedTensorInfoMap, backend: backend as tf.KernelBackend, attrs: attrs as NamedAttrMap }) as TensorInfo;
}

/** Reference-counted release (never forced: a Reshape output shares its input's buffer). */
function dispose(backend: unknown, ...infos: TensorInfo[]): void {
  for (const info of infos) (backend as WebGpuBackendLike).disposeData(info.dataId);
}

interface FilterGradAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

const conv2DBackpropFilter: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as FilterGradAttrs;
  if (a.dataFormat !== undefined && a.dataFormat !== 'NHWC') return stockKernel('Conv2DBackpropFilter')(args);
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const rows = n * oh * ow;
  const depth = kh * kw * ci;
  // The column matrix must fit one storage binding; beyond that the stock kernel is used.
  const limit = (backend as WebGpuBackendLike).device?.limits?.maxStorageBufferBindingSize ?? 128 * 1024 * 1024;
  if (rows * depth * 4 > limit) return stockKernel('Conv2DBackpropFilter')(args);

  // Rows/columns of the padded input that the forward pass read: pad, or crop what was never read.
  const { top, left } = info.padInfo;
  const neededH = (oh - 1) * sh + kh;
  const neededW = (ow - 1) * sw + kw;
  const bottom = Math.max(0, neededH - top - h);
  const right = Math.max(0, neededW - left - w);
  const padded =
    top > 0 || bottom > 0 || left > 0 || right > 0
      ? run(
          'PadV2',
          backend,
          { x },
          {
            paddings: [
              [0, 0],
              [top, bottom],
              [left, right],
              [0, 0],
            ],
            constantValue: 0,
          },
        )
      : x;
  const patches: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      patches.push(
        sh === 1 && sw === 1
          ? run('Slice', backend, { x: padded }, { begin: [0, i, j, 0], size: [n, oh, ow, ci] })
          : run(
              'StridedSlice',
              backend,
              { x: padded },
              {
                begin: [0, i, j, 0],
                end: [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, ci],
                strides: [1, sh, sw, 1],
                beginMask: 0,
                endMask: 0,
                ellipsisMask: 0,
                newAxisMask: 0,
                shrinkAxisMask: 0,
              },
            ),
      );
    }
  }
  const cols4 = patches.length === 1 ? patches[0]! : run('Concat', backend, patches, { axis: 3 });
  const cols = run('Reshape', backend, { x: cols4 }, { shape: [1, rows, depth] });
  const dy3 = run('Reshape', backend, { x: dy }, { shape: [1, rows, co] });
  const product = run('BatchMatMul', backend, { a: cols, b: dy3 }, { transposeA: true, transposeB: false }); // [1, depth, co]
  const result = run('Reshape', backend, { x: product }, { shape: [kh, kw, ci, co] });
  if (padded !== x) dispose(backend, padded);
  if (cols4 !== patches[0]) dispose(backend, ...patches);
  dispose(backend, cols4, cols, dy3, product);
  return result;
};

/** Kernels that transpose int32 inputs internally (or are Transpose itself). */
const INT_VIA_FLOAT = ['Transpose', 'Sum', 'Prod', 'Max', 'Min', 'ArgMax', 'ArgMin', 'Cumsum', 'Cumprod'] as const;

function intViaFloat(kernelName: string): KernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const x = (inputs as { x?: TensorInfo }).x;
    // The buffer's type, not the tensor's: a float32 cast of an int32 tensor shares its buffer.
    const held = x ? ((backend as WebGpuBackendLike).tensorMap?.get(x.dataId)?.dtype ?? x.dtype) : 'float32';
    if (!x || (held !== 'int32' && held !== 'bool')) return stockKernel(kernelName)(args);
    // Not Cast: the webgpu Cast from int32 to float32 only relabels the int32 buffer (the bug
    // again). Adding a float32 zero converts every element.
    const zero = (backend as WebGpuBackendLike).makeTensorInfo([], 'float32', new Float32Array(1));
    const xf = run('Add', backend, { a: x, b: zero }, {});
    const out = stockKernel(kernelName)({ ...args, inputs: { ...inputs, x: xf } }) as TensorInfo;
    dispose(backend, xf, zero);
    // Arg* return int32 indices either way; the others keep the input's dtype (as on cpu).
    if (out.dtype === x.dtype || kernelName === 'ArgMax' || kernelName === 'ArgMin') return out;
    const back = run('Cast', backend, { x: out }, { dtype: x.dtype });
    dispose(backend, out);
    return back;
  };
}

function install(kernelName: string, kernelFunc: KernelFunc): void {
  const existing = tf.getKernel(kernelName, 'webgpu');
  if (existing && !stock.has(kernelName)) stock.set(kernelName, existing);
  if (existing) tf.unregisterKernel(kernelName, 'webgpu');
  tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
}

function restore(kernelName: string): void {
  const original = stock.get(kernelName);
  if (!original) return;
  if (tf.getKernel(kernelName, 'webgpu')) tf.unregisterKernel(kernelName, 'webgpu');
  tf.registerKernel(original);
}

/** Install (or, with `stock`, remove) the project's webgpu kernels; after the backend loaded. */
export function registerWebGpuKernels(set: WebGpuKernelSet = 'im2col'): void {
  if (installed === set) return;
  // A correctness fix, installed with either set.
  for (const name of INT_VIA_FLOAT) if (!stock.has(name)) install(name, intViaFloat(name));
  // The fused training-step kernels have names of their own; loop.ts uses them with this set only.
  registerFusedKernels();
  if (set === 'im2col') install('Conv2DBackpropFilter', conv2DBackpropFilter);
  else restore('Conv2DBackpropFilter');
  installed = set;
}

export function installedWebGpuKernels(): WebGpuKernelSet | null {
  return installed;
}
