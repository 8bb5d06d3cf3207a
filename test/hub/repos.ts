/** Small repos for the hub tests, in memory: what matters is which files there are, their sizes and their bytes. */
import { createHash } from 'node:crypto';
import type { MockRepoSpec } from '../helpers/mock-hub';

/** `n` deterministic bytes that no two seeds share (a counter hashed: no compression, no repeats). */
export function bytes(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, block = 0; i < n; block++) i += createHash('sha256').update(`${seed}:${block}`).digest().copy(out, i);
  return out;
}

const config = JSON.stringify({ architectures: ['Wav2Vec2ForCTC'], model_type: 'wav2vec2' });
const vocab = JSON.stringify({ '<pad>': 0, '|': 1, A: 2 });

/** A repo as on the hub: one model in every framework, a README, a language model. */
export const TINY: MockRepoSpec = {
  revisions: ['v1'],
  files: {
    '.gitattributes': '*.safetensors filter=lfs diff=lfs merge=lfs -text\n',
    'README.md': '# tiny\n',
    'config.json': config,
    'preprocessor_config.json': JSON.stringify({ do_normalize: true, sampling_rate: 16000 }),
    'vocab.json': vocab,
    'tokenizer_config.json': JSON.stringify({ pad_token: '<pad>' }),
    'special_tokens_map.json': '{}',
    'model.safetensors': bytes(300_000, 'st'),
    'pytorch_model.bin': bytes(20_000, 'bin'),
    'flax_model.msgpack': bytes(20_000, 'flax'),
    'tf_model.h5': bytes(20_000, 'tf'),
    'onnx/model.onnx': bytes(20_000, 'onnx'),
    'language_model/attrs.json': JSON.stringify({ alpha: 0.5, beta: 1.0 }),
    'language_model/lm.arpa': '\\data\\\nngram 1=1\n\n\\1-grams:\n-1.0\t<s>\n\n\\end\\\n',
    'language_model/unigrams.txt': 'A\n',
  },
};

/** The files of TINY a model needs, in the order downloadModel fetches them. */
export const TINY_FILES = ['config.json', 'preprocessor_config.json', 'vocab.json', 'tokenizer_config.json', 'special_tokens_map.json',
  'model.safetensors', 'language_model/attrs.json', 'language_model/lm.arpa', 'language_model/unigrams.txt'];

export const SHARDED: MockRepoSpec = {
  files: {
    'config.json': config,
    'model.safetensors.index.json': JSON.stringify({ metadata: {}, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors', c: 'model-00001-of-00002.safetensors' } }),
    'model-00001-of-00002.safetensors': bytes(15_000, 's1'),
    'model-00002-of-00002.safetensors': bytes(15_000, 's2'),
    'pytorch_model.bin': bytes(1000, 'unused'),
  },
};

export const BIN_ONLY: MockRepoSpec = { files: { 'config.json': config, 'vocab.json': vocab, 'pytorch_model.bin': bytes(12_000, 'b') } };

export const FLAX_ONLY: MockRepoSpec = { files: { 'config.json': config, 'flax_model.msgpack': bytes(12_000, 'f') } };

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
