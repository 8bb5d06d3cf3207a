/**
 * torchaudio bundles built natively: torchaudio-named state dicts (test/fixtures/torchaudio-state, saved from the
 * scripted fixture models by scripts/make_torchaudio_state_fixtures.py) converted to a Hugging Face folder and built
 * by the native builder, against the outputs torchaudio itself stored for those models (test/fixtures/outputs).
 * The bundle path end to end: the checkpoint served over HTTP as torchaudio's URL serves it, fetched into
 * torch.hub's folder, converted once, then loaded again offline from the cache.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bundle, type BundleFacts } from '../../lib/model/bundles';
import { readTorchArchive } from '../../lib/checkpoint';
import { convertBundleCheckpoint } from '../../lib/checkpoint/torchaudio';
import { loadModel } from '../../lib/model/load';
import type { Model } from '../../lib/model/model';
import { maxAbsDiff } from '../../lib/tensor';
import { rejectsCode } from '../helpers/errors';
import { FIXTURES, manifest as fixtures, readEntry } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

const STATE = join(FIXTURES, 'torchaudio-state');
type F32 = { data: Float32Array; shape: number[] };

/** Bundle facts for a fixture model, from the torchaudio factory arguments it was built with. */
function factsFor(name: string): BundleFacts {
  const k = JSON.parse(readFileSync(join(STATE, `${name}.json`), 'utf8')).factory_kwargs;
  return {
    name, kind: 'asr', modelType: 'Wav2Vec2', factory: 'wav2vec2_model', sampleRate: 16000, normalizeWaveform: false,
    labels: fixtures.labels, blank: 0, wordDelimiter: '|', frameStride: 320, receptiveField: 400, checkpoint: `${name}.pth`,
    params: {
      extractorMode: k.extractor_mode, extractorConvLayerConfig: k.extractor_conv_layer_config, extractorConvBias: k.extractor_conv_bias,
      encoderEmbedDim: k.encoder_embed_dim, encoderProjectionDropout: 0, encoderPosConvKernel: k.encoder_pos_conv_kernel,
      encoderPosConvGroups: k.encoder_pos_conv_groups, encoderNumLayers: k.encoder_num_layers, encoderNumHeads: k.encoder_num_heads,
      encoderAttentionDropout: 0, encoderFfIntermFeatures: k.encoder_ff_interm_features, encoderFfIntermDropout: 0, encoderDropout: 0,
      encoderLayerNormFirst: k.encoder_layer_norm_first, encoderLayerDrop: 0, auxNumOut: k.aux_num_out,
    },
    architecture: 'tiny', pretrainingData: '-', finetuningData: null, license: '-', licenseUrl: '-',
  } as unknown as BundleFacts;
}

/** forward and extract_features on the fixture input against torchaudio's stored outputs: the largest difference. */
async function diffToTorchaudio(model: Model, name: string): Promise<number> {
  const cases = fixtures.models[name].cases;
  const input = readEntry(fixtures.inputs.single) as F32;
  const { emissions } = await model.forward({ data: input.data, shape: input.shape });
  let worst = maxAbsDiff(emissions.data, (readEntry(cases.single_forward.outputs.emissions) as F32).data);
  const { features } = await model.extractFeatures({ data: input.data, shape: input.shape });
  const expected = cases.single_extract_features_all.outputs.features as Array<{ file: string; dtype: string; shape: number[] }>;
  assert.equal(features.length, expected.length);
  features.forEach((f, i) => (worst = Math.max(worst, maxAbsDiff(f.data, (readEntry(expected[i]!) as F32).data))));
  return worst;
}

describe('checkpoint/torchaudio: bundles from torchaudio checkpoints', function () {
  let tmp: string;
  before(function () {
    requireAddon(this);
  });
  beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), 'ta-state-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  for (const name of ['ta_tiny_base', 'ta_tiny_lv60k']) {
    it(`${name}: converted and built natively, matches torchaudio's outputs within 1e-4`, async () => {
      // Saved from a torchaudio model, which has no fairseq rows left to remove.
      await convertBundleCheckpoint(await readTorchArchive(join(STATE, `${name}.pth`)), factsFor(name), join(tmp, 'hf'), { removeAuxRows: [] });
      const model = await loadModel(join(tmp, 'hf'), { threads: 1 });
      try {
        const diff = await diffToTorchaudio(model, name);
        console.log(`      max abs diff vs torchaudio (forward and every layer): ${diff.toExponential(1)}`);
        assert.ok(diff < 1e-4);
      } finally {
        model.dispose();
      }
    });
  }

  describe('Bundle.getModel without an exported file', () => {
    let server: Server;
    let baseUrl: string;
    let served = 0;
    const torchHome = process.env.TORCH_HOME;
    before(async () => {
      // As torchaudio's URL serves it: the fairseq checkpoint with the CTC head's unused rows 1-3 still in.
      const body = readFileSync(join(STATE, 'ta_tiny_base_fairseq.pth'));
      server = createServer((req, res) => {
        if (req.url !== '/models/ta_tiny_base.pth') return void res.writeHead(404).end();
        if (req.method === 'GET') served++;
        res.writeHead(200, { 'Content-Length': body.length }).end(req.method === 'HEAD' ? undefined : body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    beforeEach(() => (process.env.TORCH_HOME = join(tmp, 'torch')));
    afterEach(() => (torchHome === undefined ? delete process.env.TORCH_HOME : (process.env.TORCH_HOME = torchHome)));

    it("fetches torchaudio's checkpoint into torch.hub's folder, drops the unused rows, and matches torchaudio", async () => {
      const bundle = new Bundle(factsFor('ta_tiny_base'));
      const cacheDir = join(tmp, 'bundles');
      const model = await bundle.getModel({ baseUrl, cacheDir, threads: 1 });
      try {
        assert.ok(existsSync(join(tmp, 'torch', 'hub', 'checkpoints', 'ta_tiny_base.pth')));
        assert.equal(model.info.convention, 'native');
        assert.deepEqual(model.labels, fixtures.labels);
        assert.deepEqual(model.manifest?.source, { kind: 'torchaudio', bundle: 'ta_tiny_base', checkpoint: 'ta_tiny_base.pth', dir: join(cacheDir, 'ta_tiny_base'),
          modelClass: 'Wav2Vec2ForCTC', builder: 'native' });
        assert.ok(await diffToTorchaudio(model, 'ta_tiny_base') < 1e-4);
      } finally {
        model.dispose();
      }
      const fetched = served;
      const again = await bundle.getModel({ baseUrl: 'http://127.0.0.1:9/nowhere', cacheDir, offline: true });
      again.dispose();
      assert.equal(served, fetched, 'the second load came from the converted folder');
    });

    it('offline with nothing on disk is HUB_OFFLINE_MISS; an unknown file is a coded error', async () => {
      const bundle = new Bundle(factsFor('ta_tiny_base'));
      await rejectsCode(bundle.getModel({ baseUrl, cacheDir: join(tmp, 'b'), offline: true }), 'HUB_OFFLINE_MISS');
      await rejectsCode(new Bundle({ ...factsFor('ta_tiny_base'), checkpoint: 'missing.pth' }).getModel({ baseUrl, cacheDir: join(tmp, 'b') }),
        'HUB_FILE_NOT_FOUND');
    });
  });
});
