/**
 * The contract between the checkpoint readers (lib/checkpoint: safetensors, sharded index, torch.save zip
 * archives) and the native model builder (lib/builder, native/builder). Readers parse untrusted files in
 * TypeScript, where a malformed header can only throw; they hand the builder byte ranges, which C++ checks
 * again against the file before it reads them.
 */

/** Element types a checkpoint may store; the builder converts to the model's dtype at load. */
export type WeightDType = 'float32' | 'float16' | 'bfloat16' | 'float64';

/** One tensor of a checkpoint: where its elements are in which file, and how they are laid out. */
export interface TensorRef {
  /** The name as stored (Hugging Face parameter names; torchaudio's are mapped to them before building). */
  name: string;
  dtype: WeightDType;
  shape: number[];
  /** In elements, one per dimension; row-major contiguous for safetensors. */
  strides: number[];
  /** Absolute path of the file that holds the elements. */
  file: string;
  /** Byte offset in `file` of element [0, ..., 0]. */
  offset: number;
  /** Bytes from `offset` that the strided elements span (checked to lie inside the file). */
  byteLength: number;
}

/** Every tensor of a checkpoint by name (a sharded checkpoint's shards together). */
export type WeightSet = Map<string, TensorRef>;
