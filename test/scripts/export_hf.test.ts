/**
 * scripts/export_hf.py end to end: a tiny randomly initialised Wav2Vec2ForCTC and processor are made here with
 * Python, exported, and the traced file run through loadModel; its logits must match the eager Python model's on
 * the same inputs, at batch sizes and lengths other than the tracing example's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateManifest } from '../../lib/model/manifest';
import { loadModel } from '../../lib/model/load';
import { maxAbsDiff } from '../../lib/tensor';
import { requirePython } from '../helpers/python';
import { requireAddon } from '../helpers/native';

const ROOT = join(__dirname, '..', '..');

// The model under test: 32 labels in a fixed order, 2 layers, the real conv layout (320-sample stride).
const MAKE_MODEL = `
import json, sys, torch
from pathlib import Path
from transformers import Wav2Vec2Config, Wav2Vec2ForCTC, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2Processor
d = Path(sys.argv[1]); d.mkdir(parents=True, exist_ok=True)
vocab = json.loads(sys.argv[2])
(d / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
tok = Wav2Vec2CTCTokenizer(str(d / "vocab.json"), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|")
fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False)
Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(d)
torch.manual_seed(1234)
cfg = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                     conv_dim=[16] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, pad_token_id=0)
Wav2Vec2ForCTC(cfg).eval().save_pretrained(d)
`;

// Then reference logits from the eager model (not the trace), reloaded from disk, on seeded inputs of two shapes.
const REFERENCE = `
model = Wav2Vec2ForCTC.from_pretrained(sys.argv[1]).eval()
out = []
g = torch.Generator().manual_seed(99)
for i, shape in enumerate(json.loads(sys.argv[4])):
    x = (torch.randn(*shape, generator=g) * 0.1).float()
    with torch.no_grad():
        y = model(x).logits
        hidden = model.wav2vec2(x, output_hidden_states=True).hidden_states[1:]
    (open(f"{sys.argv[3]}/in{i}.bin", "wb")).write(x.numpy().astype("<f4").tobytes())
    (open(f"{sys.argv[3]}/out{i}.bin", "wb")).write(y.numpy().astype("<f4").tobytes())
    for layer, h in enumerate(hidden):
        (open(f"{sys.argv[3]}/feat{i}_{layer}.bin", "wb")).write(h.numpy().astype("<f4").tobytes())
    out.append({"input": list(x.shape), "output": list(y.shape)})
print(json.dumps(out))
`;

const VOCAB = ['<pad>', '<s>', '</s>', '<unk>', '|', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "'"];
const SHAPES = [[1, 12345], [3, 20800]]; // the tracing example is [2, 20000]

const f32 = (file: string) => {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};

describe('scripts/export_hf.py', function () {
  let py: string;
  let dir: string;
  let exported: { status: number | null; stdout: string; stderr: string };
  let manifest: any;
  let reference: Array<{ input: number[]; output: number[] }>;

  before(function () {
    py = requirePython(this, ['torch', 'transformers']);
    this.timeout(300000);
    dir = mkdtempSync(join(tmpdir(), 'w2v-hf-'));
    const run = (args: string[]) => spawnSync(py, args, { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error' } });
    const made = run(['-c', MAKE_MODEL + REFERENCE, join(dir, 'model'), JSON.stringify(VOCAB), dir, JSON.stringify(SHAPES)]);
    assert.equal(made.status, 0, made.stderr);
    reference = JSON.parse(made.stdout.trim().split('\n').pop()!);
    exported = run([join(ROOT, 'scripts', 'export_hf.py'), join(dir, 'model'), join(dir, 'out', 'tiny.pt')]);
    if (exported.status === 0) manifest = JSON.parse(readFileSync(join(dir, 'out', 'tiny.json'), 'utf8'));
  });

  it('exports and checks the trace on other shapes', () => {
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /traced model within .* of eager on 4 shapes/);
  });

  it('writes a valid manifest with the vocabulary, blank = pad id, "|" and the conv layout', () => {
    validateManifest(manifest, 'tiny.json');
    assert.deepEqual(manifest.labels, VOCAB);
    assert.equal(manifest.blank, 0);
    assert.equal(manifest.wordDelimiter, '|');
    assert.equal(manifest.sampleRate, 16000);
    assert.equal(manifest.normalizeWaveform, true);
    assert.equal(manifest.normalizeEps, 1e-7);
    assert.deepEqual(manifest.convLayers, [[10, 5], [3, 2], [3, 2], [3, 2], [3, 2], [2, 2], [2, 2]]);
    assert.equal(manifest.frameStride, 320);
    assert.equal(manifest.receptiveField, 400);
    assert.equal(manifest.convention, 'torchaudio');
    assert.equal(manifest.paddedBatchExact, true);
    assert.deepEqual([manifest.numLayers, manifest.numHeads, manifest.embedDim], [2, 2, 32]);
    assert.equal(manifest.source.kind, 'huggingface');
    assert.equal(manifest.source.modelClass, 'Wav2Vec2ForCTC');
    // the positional convolution's weight norm is stored as one weight, not recomputed per call
    assert.equal(manifest.source.trace.foldedWeightNorms, 1);
  });

  describe('through loadModel', function () {
    before(function () {
      requireAddon(this);
      if (exported?.status !== 0) this.skip();
    });

    it('reads labels and sample rate from the manifest and matches Python\'s logits (<= 1e-4)', async () => {
      const model = await loadModel(join(dir, 'out', 'tiny.pt'));
      try {
        assert.deepEqual(model.labels, VOCAB);
        assert.equal(model.sampleRate, 16000);
        for (let i = 0; i < SHAPES.length; i++) {
          const { input, output } = reference[i]!;
          // normalize: false — the reference ran the model on these exact samples.
          const r = await model.forward({ data: f32(join(dir, `in${i}.bin`)), shape: input as [number, number] }, { normalize: false });
          assert.deepEqual(r.emissions.shape, output);
          const d = maxAbsDiff(r.emissions.data, f32(join(dir, `out${i}.bin`)));
          // eslint-disable-next-line no-console
          console.log(`        shape [${input.join(', ')}]: max |node - python| = ${d.toExponential(2)}`);
          assert.ok(d <= 1e-4, `max abs diff ${d}`);
        }
      } finally {
        model.dispose();
      }
    });

    it('serves per-layer features through the traced extract_features (<= 1e-4 of hidden_states[1:])', async () => {
      const model = await loadModel(join(dir, 'out', 'tiny.pt'));
      try {
        assert.equal(model.info.hasExtractFeatures, true);
        for (let i = 0; i < SHAPES.length; i++) {
          const input = { data: f32(join(dir, `in${i}.bin`)), shape: reference[i]!.input as [number, number] };
          const all = await model.extractFeatures(input, { normalize: false });
          assert.equal(all.features.length, 2);
          all.features.forEach((f, layer) => {
            const d = maxAbsDiff(f.data, f32(join(dir, `feat${i}_${layer}.bin`)));
            assert.ok(d <= 1e-4, `layer ${layer}: ${d}`);
          });
          const first = await model.extractFeatures(input, { normalize: false, numLayers: 1 });
          assert.equal(first.features.length, 1);
          assert.ok(maxAbsDiff(first.features[0]!.data, all.features[0]!.data) === 0);
        }
        await assert.rejects(model.extractFeatures(f32(join(dir, 'in0.bin')), { numLayers: 3 }),
          (e: any) => e.code === 'INVALID_INPUT' && e.message === '`num_layers` must be between [1, 2]');
      } finally {
        model.dispose();
      }
    });

    it('refuses a device or dtype other than the one it was traced for, saying how to export for it', async () => {
      const file = join(dir, 'out', 'tiny.pt');
      assert.deepEqual([manifest.source.trace.device, manifest.source.trace.dtype], ['cpu', 'float32']);
      await assert.rejects(loadModel(file, { dtype: 'bfloat16' }), (e: any) => e.code === 'UNSUPPORTED_DTYPE' && /--dtype bfloat16/.test(e.message));
      await assert.rejects(loadModel(file, { device: 'cuda' }), (e: any) => e.code === 'UNSUPPORTED_DEVICE' && /--device cuda/.test(e.message));
    });

    it('runs items of different lengths as one padded batch, each item as it runs alone (<= 1e-4, same frames)', async () => {
      const model = await loadModel(join(dir, 'out', 'tiny.pt'));
      try {
        assert.equal(model.info.convention, 'torchaudio');
        // Reference item 1's rows at three lengths: the shorter ones are padded in the batch.
        const row = f32(join(dir, 'in1.bin')).subarray(0, 20800);
        const items = [row.slice(0, 20800), row.slice(0, 6001), row.slice(0, 13337)];
        for (const method of ['forward', 'extractFeatures'] as const) {
          const batch = method === 'forward' ? await model.forward(items) : await model.extractFeatures(items);
          const outs = method === 'forward' ? [(batch as any).emissions] : (batch as any).features;
          for (let b = 0; b < items.length; b++) {
            const alone = method === 'forward' ? [(await model.forward(items[b]!)).emissions] : (await model.extractFeatures(items[b]!)).features;
            assert.equal(batch.lengths![b], alone[0].shape[1], `item ${b}: frames`);
            outs.forEach((t: any, k: number) => {
              const [, F, C] = t.shape;
              const n = alone[k].shape[1] * C;
              const d = maxAbsDiff(t.data.subarray(b * F * C, b * F * C + n), alone[k].data);
              assert.ok(d <= 1e-4, `${method} item ${b} output ${k}: ${d}`);
            });
          }
        }
      } finally {
        model.dispose();
      }
    });
  });
});

describe('scripts/export_hf.py: bad calls', function () {
  it('fails with a message for a directory that holds no model', function () {
    const py = requirePython(this, ['torch', 'transformers']);
    this.timeout(120000);
    const empty = mkdtempSync(join(tmpdir(), 'w2v-hf-empty-'));
    writeFileSync(join(empty, 'README'), 'nothing here');
    const r = spawnSync(py!, [join(ROOT, 'scripts', 'export_hf.py'), empty, join(empty, 'x.pt')], { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /error: cannot load a CTC model .* from/);
  });
});
