/**
 * The precision a model runs in: one name, `dtype`, in the API and the CLI. 'float32', 'bfloat16', 'float16', 'int8'
 * (natively built models: every matrix product in int8, native/builder/int8.h; a TorchScript file exported with
 * `scripts/export_hf.py --quantize int8` is also named 'int8'), or 'auto': the precision that runs fastest on CPUs
 * with the instructions for it (measured costs in docs/performance.md: no greedy CER cost on the default model), and
 * `model.info.dtypeReason` says why.
 */
import type { Device, DType } from './model';

export type DTypeOption = DType | 'auto';

/** The CPU's instruction sets as LibTorch sees them (cpuinfo): name -> present. */
export type CpuFeatures = Readonly<Record<string, boolean>>;

// The GEMM peaks measured on a CPU with AVX-512 VNNI and BF16 (npm run bench): int8 1,566, bfloat16 811, float32
// 399 GFLOP/s. Without those instructions oneDNN runs int8 and bfloat16 on longer instruction sequences; that case
// is unmeasured (no such CPU here), so 'auto' stays with float32 there.
const INT8_FEATURES = ['amx_int8', 'avx512_vnni', 'avx_vnni'];
const BF16_FEATURES = ['amx_bf16', 'avx512_bf16'];

export interface DTypeChoice {
  dtype: DType;
  reason: string;
}

/** What 'auto' runs a natively built model in on `device`, given the CPU's features. */
export function autoDtypeFor(device: Device, features: CpuFeatures): DTypeChoice {
  if (device !== 'cpu') return { dtype: 'float32', reason: "auto on CUDA: float32 (pass 'float16' or 'bfloat16' for tensor cores)" };
  const has = (names: string[]) => names.filter((n) => features[n] === true);
  const int8 = has(INT8_FEATURES);
  if (int8.length > 0) return { dtype: 'int8', reason: `auto: int8, this CPU has int8 dot products (${int8.join(', ')})` };
  const bf16 = has(BF16_FEATURES);
  if (bf16.length > 0) return { dtype: 'bfloat16', reason: `auto: bfloat16, this CPU has bfloat16 dot products (${bf16.join(', ')})` };
  return { dtype: 'float32', reason: 'auto: float32, this CPU has neither int8 nor bfloat16 dot products' };
}

/**
 * What a TorchScript file runs in: the dtype it was traced in, or 'int8' for a dynamically quantised export (its
 * manifest says so); a file without a manifest, float32.
 */
export function scriptDtypeOf(manifest: { source?: unknown } | undefined): DType {
  const source = manifest?.source as { quantization?: unknown; trace?: { dtype?: unknown } } | undefined;
  if (source?.quantization) return 'int8';
  const traced = source?.trace?.dtype;
  return traced === 'bfloat16' || traced === 'float16' ? traced : 'float32';
}
