/**
 * `--model REPO_ID` wherever a model is named: transcribe, features and batch fetch a Hugging Face repo from a
 * local server in the hub's layout, build it natively and run; `download` ahead of time, then HF_HUB_OFFLINE=1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliAsync } from '../helpers/cli';
import { HUB_FIXTURES } from '../helpers/hub-checkpoint';
import { startMockHub, type MockHub } from '../helpers/mock-hub';
import { requireAddon } from '../helpers/native';
import { readNpy } from '../helpers/npy';
import { maxAbsDiff } from '../../lib/tensor';

const SAMPLE = join(__dirname, '..', '..', 'samples', 'question-16k.wav');

describe('cli: --model REPO_ID', function () {
  this.timeout(120_000);
  let hub: MockHub;
  let tmp: string;
  let env: Record<string, string>;
  before(async function () {
    requireAddon(this);
    hub = await startMockHub({ repos: { 'org/base': { dir: join(HUB_FIXTURES, 'wav2vec2-base') } } });
  });
  after(() => hub?.close());
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cli-hub-'));
    env = { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: join(tmp, 'cache') };
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('transcribe and features fetch the repo once, then run from the cache offline', async () => {
    const t = await runCliAsync(['transcribe', SAMPLE, '--model', 'org/base', '--json'], env);
    assert.equal(t.status, 0, t.stderr);
    assert.equal(typeof JSON.parse(t.stdout).text, 'string');
    const asked = hub.requests.length;
    const f = await runCliAsync(['features', SAMPLE, '--model', 'org/base', '--out', join(tmp, 'feat')], { ...env, HF_HUB_OFFLINE: '1' });
    assert.equal(f.status, 0, f.stderr);
    assert.equal(readdirSync(join(tmp, 'feat')).filter((n) => n.endsWith('.npy')).length, 2, 'one file per layer of the 2-layer model');
    assert.equal(hub.requests.length, asked, 'offline: no request');
  });

  it('batch takes a repo id; download fetches ahead of time', async () => {
    const d = await runCliAsync(['download', 'org/base'], env);
    assert.equal(d.status, 0, d.stderr);
    assert.ok(existsSync(join(d.stdout.trim(), 'model.safetensors')));
    const b = await runCliAsync(['batch', SAMPLE, '--model', 'org/base', '--out', join(tmp, 'out')], { ...env, HF_HUB_OFFLINE: '1' });
    assert.equal(b.status, 0, b.stderr);
    assert.ok(existsSync(join(tmp, 'out', 'transcripts.jsonl')));
  });

  it('--dtype bfloat16 and int8 run the model in that precision (features near float32\'s, not equal); a dtype it lacks is a usage error', async () => {
    const layer = async (dtype: string): Promise<Float32Array> => {
      const out = join(tmp, dtype);
      const r = await runCliAsync(['features', SAMPLE, '--model', 'org/base', '--dtype', dtype, '--out', out], env);
      assert.equal(r.status, 0, r.stderr);
      return readNpy(join(out, readdirSync(out).filter((n) => n.endsWith('.npy')).sort().at(-1)!)).data;
    };
    const f32 = await layer('float32');
    const scale = f32.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (const dtype of ['bfloat16', 'int8']) {
      const d = maxAbsDiff(await layer(dtype), f32);
      assert.ok(d > 0 && d < 0.05 * scale, `${dtype}: max abs difference ${d} against a largest value of ${scale}`);
    }
    const bad = await runCliAsync(['transcribe', SAMPLE, '--model', 'org/base', '--dtype', 'int4'], env);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--dtype: expected float32 or bfloat16 or float16 or int8 or auto, got "int4"/);
  });

  it('an unknown repo is one line with its code', async () => {
    const r = await runCliAsync(['transcribe', SAMPLE, '--model', 'org/missing'], env);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\[HUB_REPO_NOT_FOUND\]\n$/);
  });
});
