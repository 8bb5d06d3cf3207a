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

/** What the tokenizer files (vocab.json, tokenizer_config.json, special_tokens_map.json) say about the CTC head. */
export interface TokenizerInfo {
  /** Label of each class index, in index order (vocab.json inverted; added tokens included). */
  labels: string[];
  /** The pad token's index: Hugging Face CTC heads use it as the blank. */
  blank: number;
  /** The word delimiter token (usually "|") when it is one of the labels. */
  wordDelimiter?: string;
  /** tokenizer_config.json `do_lower_case`: transcripts are lower case. */
  lowerCase: boolean;
}

/** What preprocessor_config.json says about the waveform the model expects. */
export interface PreprocessorInfo {
  sampleRate: number;
  /** Zero-mean unit-variance per item before the model (Wav2Vec2FeatureExtractor `do_normalize`). */
  normalize: boolean;
  /** The model takes an attention mask (Wav2Vec2FeatureExtractor `return_attention_mask`). */
  attentionMask: boolean;
}

/** A Wav2Vec2ProcessorWithLM `language_model/` folder. */
export interface LanguageModelInfo {
  /** The ARPA file to load into the beam decoder. */
  arpa: string;
  /** attrs.json: LM weight and word insertion bonus (pyctcdecode's alpha and beta). */
  alpha: number;
  beta: number;
  /** unigrams.txt, when present: the LM's vocabulary. */
  unigrams?: string;
}

/** A checkpoint folder in the Hugging Face layout, read and checked but not yet built. */
export interface Checkpoint {
  dir: string;
  /** config.json as parsed (untrusted: lib/builder/config.ts turns it into a checked spec). */
  config: Record<string, unknown>;
  weights: WeightSet;
  /** Absent for checkpoints without a tokenizer (bare models used for features). */
  tokenizer?: TokenizerInfo;
  preprocessor: PreprocessorInfo;
  languageModel?: LanguageModelInfo;
}
