/** Runs test/checkpoint/torch_reference.py: what torch and transformers read from the same files. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'hub');
export const TORCHAUDIO_STATE = join(__dirname, '..', 'fixtures', 'torchaudio-state');
export const HUB_FIXTURES = ['wav2vec2-base', 'wav2vec2-lv60', 'wav2vec2-bin', 'wav2vec2-sharded', 'hubert', 'wavlm', 'data2vec-audio', 'wav2vec2-bare', 'wavlm-bare', 'wav2vec2-lm'];

export interface ReferenceTensor {
  dtype: string;
  shape: number[];
  values: number[];
}

export function reference<T>(py: string, ...args: string[]): T {
  const r = spawnSync(py, [join(__dirname, 'torch_reference.py'), ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`torch_reference.py ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
