/**
 * loadModel's sources end to end: a Hugging Face repo id fetched from a local server in the hub's URL layout
 * (test/helpers/mock-hub.ts) and built natively, a checkpoint folder, and what must fail with a code. Expected
 * logits are transformers' (test/fixtures/hub, scripts/make_hub_fixtures.py).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../lib/model/load';
import type { HubOptions } from '../../lib/model/model';
import { maxAbsDiff } from '../../lib/tensor';
import { createDecoder } from '../../lib/pipeline/transcribe';
import { rejectsCode } from '../helpers/errors';
import { HUB_FIXTURES } from '../helpers/hub-checkpoint';
import { startMockHub, type MockHub } from '../helpers/mock-hub';
import { requireAddon } from '../helpers/native';
import { readNpy } from '../helpers/npy';

const BASE = join(HUB_FIXTURES, 'wav2vec2-base');

/** Item 0 of the fixture's inputs and transformers' logits for it alone. */
function reference(dir: string): { input: Float32Array; logits: Float32Array; frames: number } {
  const waves = readNpy(join(dir, 'expected', 'waveforms.npy'));
  const logits = readNpy(join(dir, 'expected', 'logits_0.npy'));
  const T = waves.shape[1]!;
  return { input: waves.data.slice(0, T), logits: logits.data, frames: logits.shape[0]! };
}

describe('loadModel: hub repo ids and checkpoint folders', function () {
  let hub: MockHub;
  let cacheDir: string;
  const hubOpts = (o: HubOptions = {}): HubOptions => ({ endpoint: hub.endpoint, cacheDir, token: false, offline: false, ...o });

  before(async function () {
    requireAddon(this);
    hub = await startMockHub({ repos: { 'org/base': { dir: BASE }, 'org/lm': { dir: join(HUB_FIXTURES, 'wav2vec2-lm') } } });
  });
  after(() => hub?.close());
  beforeEach(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'load-hub-'));
    hub.requests.length = 0;
  });
  afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

  async function logitsOf(source: string, hubOptions: HubOptions): Promise<number> {
    const ref = reference(BASE);
    const model = await loadModel(source, { hub: hubOptions, threads: 1 });
    try {
      assert.equal(model.info.convention, 'native');
      const { emissions } = await model.forward(ref.input);
      assert.equal(emissions.shape[1], ref.frames);
      return maxAbsDiff(emissions.data, ref.logits);
    } finally {
      model.dispose();
    }
  }

  it('fetches a repo id, builds it natively and matches transformers', async () => {
    assert.ok(await logitsOf('org/base', hubOpts()) < 1e-4);
    assert.ok(hub.requests.some((r) => r.path.endsWith('/model.safetensors')));
  });

  it('loads again from the cache with the server gone and offline on', async () => {
    await logitsOf('org/base', hubOpts());
    await hub.close();
    try {
      assert.ok(await logitsOf('org/base@main', hubOpts({ offline: true })) < 1e-4);
    } finally {
      hub = await startMockHub({ repos: { 'org/base': { dir: BASE }, 'org/lm': { dir: join(HUB_FIXTURES, 'wav2vec2-lm') } } });
    }
  });

  it('a truncated download is a coded error and leaves nothing a later load trusts', async () => {
    hub.fault('model.safetensors', 'truncate');
    await rejectsCode(loadModel('org/base', { hub: hubOpts() }), 'HUB_DOWNLOAD_INCOMPLETE');
    await rejectsCode(loadModel('org/base', { hub: hubOpts({ offline: true }) }), 'HUB_OFFLINE_MISS');
    const blobs = readdirSync(join(cacheDir, 'models--org--base', 'blobs'));
    assert.ok(blobs.some((b) => b.endsWith('.incomplete')), 'the partial file is kept for the resume, under its own name');
    assert.ok(await logitsOf('org/base', hubOpts()) < 1e-4, 'the next load resumes and succeeds');
  });

  it('an unknown repo is HUB_REPO_NOT_FOUND', async () => {
    await rejectsCode(loadModel('org/nothing-here', { hub: hubOpts() }), 'HUB_REPO_NOT_FOUND');
  });

  it('builds a checkpoint folder given by path, and an existing path wins over a repo id of the same spelling', async () => {
    assert.ok(await logitsOf(BASE, hubOpts()) < 1e-4);
    const cwd = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), 'load-cwd-'));
    try {
      cpSync(BASE, join(dir, 'org', 'base'), { recursive: true });
      process.chdir(dir);
      hub.requests.length = 0;
      assert.ok(await logitsOf('org/base', hubOpts()) < 1e-4);
      assert.deepEqual(hub.requests, [], 'the local folder was used; the hub was not asked');
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a folder without config.json, and a manifest option for a checkpoint folder', async () => {
    await rejectsCode(loadModel(join(BASE, 'expected')), 'MODEL_LOAD_FAILED', /config\.json/);
    await rejectsCode(loadModel(BASE, { manifest: false }), 'INVALID_INPUT', /manifest/);
    await rejectsCode(loadModel('org/base', { hub: { endpoint: 'not a url' } }), 'INVALID_INPUT', /hub\.endpoint/);
  });

  it("takes a repo's language_model/ folder as the beam decoder's LM, with its alpha and beta", async () => {
    const model = await loadModel('org/lm', { hub: hubOpts() });
    try {
      const attrs = JSON.parse(readFileSync(join(HUB_FIXTURES, 'wav2vec2-lm', 'language_model', 'attrs.json'), 'utf8'));
      const lm = model.manifest!.languageModel!;
      assert.equal(lm.lmWeight, attrs.alpha);
      assert.equal(lm.wordScore, attrs.beta);
      assert.match(lm.arpa, /models--org--lm\/snapshots\/[0-9a-f]{40}\/language_model\/.+\.arpa$/);
      const { input } = reference(join(HUB_FIXTURES, 'wav2vec2-lm'));
      const { emissions } = await model.forward(input);
      const withDefault = createDecoder(model, { type: 'beam' }).decode(emissions);
      const explicit = createDecoder(model, { type: 'beam', lm: lm.arpa, lmWeight: lm.lmWeight, wordScore: lm.wordScore }).decode(emissions);
      assert.deepEqual(withDefault, explicit);
    } finally {
      model.dispose();
    }
  });
});
