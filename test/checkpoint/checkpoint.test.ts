import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../../lib/checkpoint';
import { rejectsCode } from '../helpers/errors';
import { requirePython } from '../helpers/python';
import { tensorValues } from '../helpers/tensor-ref';
import { FIXTURES, HUB_FIXTURES, reference, type ReferenceTensor } from './reference';

describe('checkpoint: readCheckpoint(dir) on transformers-saved folders', function () {
  it('reads every fixture: weights as torch/safetensors read them, tokenizer, preprocessor, language model', async function () {
    this.timeout(120_000);
    const py = requirePython(this, ['torch', 'safetensors']);
    const files = HUB_FIXTURES.flatMap((n) => readdirSync(join(FIXTURES, n)).filter((f) => /\.(safetensors|bin)$/.test(f)).map((f) => join(FIXTURES, n, f)));
    const theirs = reference<Record<string, Record<string, ReferenceTensor>>>(py, 'tensors', ...files);
    for (const name of HUB_FIXTURES) {
      const c = await readCheckpoint(join(FIXTURES, name));
      const expected = new Map(files.filter((f) => f.startsWith(join(FIXTURES, name) + '/')).flatMap((f) => Object.entries(theirs[f]!)));
      assert.deepEqual([...c.weights.keys()].sort(), [...expected.keys()].sort(), `${name}: tensor names`);
      for (const [k, t] of expected) {
        assert.deepEqual(c.weights.get(k)!.shape, t.shape, `${name} ${k}`);
        assert.deepEqual([...tensorValues(c.weights.get(k)!)], t.values, `${name} ${k}`);
      }
      assert.equal((c.config.architectures as string[])[0], name.endsWith('-bare') ? (name.startsWith('wavlm') ? 'WavLMModel' : 'Wav2Vec2Model') : (c.config.architectures as string[])[0]);
      assert.equal(c.tokenizer === undefined, name.endsWith('-bare'), `${name}: a tokenizer exactly when it has a CTC head`);
      assert.equal(c.languageModel === undefined, name !== 'wav2vec2-lm', `${name}: language model`);
    }
  });

  describe('weight file choice and missing pieces (no Python needed)', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'w2v-checkpoint-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('prefers model.safetensors over pytorch_model.bin, as transformers does', async () => {
      cpSync(join(FIXTURES, 'wav2vec2-base'), dir, { recursive: true });
      cpSync(join(FIXTURES, 'wav2vec2-bin', 'pytorch_model.bin'), join(dir, 'pytorch_model.bin'));
      const c = await readCheckpoint(dir);
      assert.ok([...c.weights.values()].every((r) => r.file.endsWith('model.safetensors')));
    });

    it('falls back to pytorch_model.bin, and names every file it looked for when there are no weights', async () => {
      cpSync(join(FIXTURES, 'wav2vec2-bin'), dir, { recursive: true });
      assert.ok([...(await readCheckpoint(dir)).weights.values()].every((r) => r.file.endsWith('pytorch_model.bin')));
      unlinkSync(join(dir, 'pytorch_model.bin'));
      await rejectsCode(readCheckpoint(dir), 'CHECKPOINT_INVALID', /no weights: looked for model\.safetensors, model\.safetensors\.index\.json, pytorch_model\.bin, pytorch_model\.bin\.index\.json/);
    });

    it('needs config.json as a JSON object, and a folder', async () => {
      cpSync(join(FIXTURES, 'wav2vec2-bare'), dir, { recursive: true });
      writeFileSync(join(dir, 'config.json'), '[1, 2]');
      await rejectsCode(readCheckpoint(dir), 'CHECKPOINT_INVALID', /config\.json: expected a JSON object, found an array/);
      writeFileSync(join(dir, 'config.json'), '{"a": ');
      await rejectsCode(readCheckpoint(dir), 'CHECKPOINT_INVALID', /config\.json: not valid JSON/);
      unlinkSync(join(dir, 'config.json'));
      await rejectsCode(readCheckpoint(dir), 'CHECKPOINT_INVALID', /config\.json: no such file/);
      await rejectsCode(readCheckpoint(join(dir, 'nope')), 'MODEL_NOT_FOUND', /no such folder/);
    });

    it('refuses a config.json over the size cap before parsing it', async () => {
      cpSync(join(FIXTURES, 'wav2vec2-bare'), dir, { recursive: true });
      writeFileSync(join(dir, 'config.json'), `{"x": "${'a'.repeat(5 * 1024 * 1024)}"}`);
      await rejectsCode(readCheckpoint(dir), 'CHECKPOINT_INVALID', /the limit for this file is/);
    });

    it('uses the no-op preprocessor for a folder without one (bare models often have none)', async () => {
      cpSync(join(FIXTURES, 'wavlm-bare'), dir, { recursive: true });
      unlinkSync(join(dir, 'preprocessor_config.json'));
      assert.deepEqual((await readCheckpoint(dir)).preprocessor, { sampleRate: 16000, normalize: false, attentionMask: false });
    });
  });
});
