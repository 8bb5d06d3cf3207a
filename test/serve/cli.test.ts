/** `wav2vec2 serve`: listens, answers, and on SIGTERM finishes the request in flight before exiting 0. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../lib/model/load';
import { createDecoder, transcribe } from '../../lib/pipeline/transcribe';
import { requireAddon } from '../helpers/native';

const ROOT = join(__dirname, '..', '..');

interface Served {
  child: ChildProcess;
  url: string;
  /** What the process printed so far. */
  out: () => string;
  err: () => string;
}

/** Starts `wav2vec2 serve --port 0 ARGS` from source and resolves once it prints the address it listens on. */
async function serve(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib', 'cli', 'index.ts'), 'serve', '--port', '0', ...args], { cwd: ROOT, env });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', () => reject(new Error(`serve exited early: ${out}${err}`)));
  });
  return { child, url, out: () => out, err: () => err };
}

describe('serve: command line', function () {
  this.timeout(60000);
  before(function () {
    requireAddon(this);
  });

  it('SIGTERM: stops accepting, answers the request in flight, exits 0', async () => {
    // The default model; a long batch wait keeps the request in flight while the signal arrives.
    const { child, url, out, err } = await serve(['--max-wait-ms', '1500', '--threads', '1']);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      const body = new Uint8Array(readFileSync(join(ROOT, 'samples', 'curiosity-16k.wav')));
      const inFlight = fetch(`${url}/v1/transcribe?timestamps=false`, { method: 'POST', body });
      // Signal once the request is queued (it waits up to 1.5 s there for a batch).
      for (let i = 0; i < 200; i++) {
        const m = await (await fetch(`${url}/metrics`)).text();
        if (/^wav2vec2_queue_depth\{model="default"\} 1$/m.test(m)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill('SIGTERM');
      const res = await inFlight;
      assert.equal(res.status, 200);
      const model = await loadModel(join(ROOT, 'models', 'default.pt'));
      try {
        assert.equal((await res.json()).text, (await transcribe(model, body, createDecoder(model))).text);
      } finally {
        model.dispose();
      }
      assert.equal(await exited, 0, err());
      assert.match(out(), /SIGTERM, finishing in-flight requests[\s\S]*stopped/);
      await assert.rejects(fetch(`${url}/health`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes the API key from WAV2VEC2_API_KEY, and the upload, exposure and features-cap flags', async () => {
    const key = 'cli-test-key-0123456789';
    const { child, url } = await serve(['--threads', '1',
      '--max-uploads', '3', '--min-upload-bytes-per-sec', '1000', '--upload-grace-ms', '2000', '--max-connections', '50', '--max-feature-bytes', '1M',
      '--allowed-hosts', 'localhost,127.0.0.1', '--cors', 'http://app.example'], { ...process.env, WAV2VEC2_API_KEY: key });
    try {
      assert.deepEqual((await (await fetch(`${url}/health`)).json()).uploads, { count: 0, limit: 3 });
      const body = new Uint8Array(readFileSync(join(ROOT, 'samples', 'curiosity-16k.wav')));
      const none = await fetch(`${url}/v1/transcribe`, { method: 'POST', body });
      assert.equal(none.status, 401);
      assert.equal((await none.json()).error.code, 'UNAUTHORIZED');
      const typed = await fetch(`${url}/v1/transcribe`, { method: 'POST', body: 'text', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' } });
      assert.equal((await typed.json()).error.code, 'UNSUPPORTED_MEDIA_TYPE');
      const page = await fetch(`${url}/health`, { headers: { origin: 'http://app.example' } });
      assert.equal(page.headers.get('access-control-allow-origin'), 'http://app.example');
      assert.equal((await fetch(`${url}/v1/transcribe?timestamps=false`, { method: 'POST', body, headers: { authorization: `Bearer ${key}` } })).status, 200);
      // The clip's (3 s) features: 0.4 MiB as f32, up to 2.8 MiB as JSON; the cap is 1 MiB.
      const json = await fetch(`${url}/v1/features`, { method: 'POST', body, headers: { authorization: `Bearer ${key}` } });
      assert.equal(json.status, 413);
      assert.match((await json.json()).error.message, /at most 1\.0 MiB \(maxFeatureBytes, --max-feature-bytes\)/);
      assert.equal((await fetch(`${url}/v1/features?format=f32`, { method: 'POST', body, headers: { authorization: `Bearer ${key}` } })).status, 200);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('--max-sample-rate and --audio-workers reach the audio stage: a rate above the range is 415 AUDIO_UNSUPPORTED_RATE', async () => {
    const { child, url } = await serve(['--threads', '1', '--max-sample-rate', '22050', '--audio-workers', '1']);
    try {
      const post = (file: string) => fetch(`${url}/v1/transcribe`, { method: 'POST', body: new Uint8Array(readFileSync(join(ROOT, 'samples', file))), headers: { 'content-type': 'audio/wav' } });
      const high = await post('curiosity-44k.wav');
      assert.equal(high.status, 415);
      const body = await high.json();
      assert.equal(body.error.code, 'AUDIO_UNSUPPORTED_RATE');
      assert.match(body.error.message, /44100/);
      assert.equal((await post('curiosity-16k.wav')).status, 200);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a bad option is one line and status 2 (a usage error)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib', 'cli', 'index.ts'), 'serve', '--port', '70000'], { cwd: ROOT });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 2);
    assert.match(err, /--port: expected an integer within \[0, 65535\]/);
  });

  it('takes the decoder flags of transcribe and batch, checked before the model loads', async () => {
    // --hotword and --word-score were transcribe/batch-only before: commander would have called them unknown
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib', 'cli', 'index.ts'), 'serve', '--port', '0', '--word-score', '2', '--hotword', 'CURIOSITY:lots'], { cwd: ROOT });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 2);
    assert.equal(err.trim().split('\n').length, 1, err);
    assert.match(err, /--hotword: expected WORD or WORD:BOOST, got "CURIOSITY:lots"/);
  });

  it('--model repeated as [NAME=]PATH serves each model by name, the first by default; --strict-models refuses other names', async () => {
    // A copy of the default model (and its manifest) under another name: a second model file.
    const dir = mkdtempSync(join(tmpdir(), 'w2v-serve-models-'));
    copyFileSync(join(ROOT, 'models', 'default.pt'), join(dir, 'copy.pt'));
    copyFileSync(join(ROOT, 'models', 'default.json'), join(dir, 'copy.json'));
    const { child, url, out } = await serve(['--threads', '1',
      '--model', join(ROOT, 'models', 'default.pt'), '--model', `other=${join(dir, 'copy.pt')}`, '--strict-models']);
    try {
      assert.match(out(), /default \(default\): .*default\.pt.*; other: .*copy\.pt.*unknown model names refused/);
      const health = await (await fetch(`${url}/health`)).json();
      assert.deepEqual(Object.keys(health.models), ['default', 'other']);
      assert.equal(health.models.other.model.file, join(dir, 'copy.pt'));
      const body = new Uint8Array(readFileSync(join(ROOT, 'samples', 'curiosity-16k.wav')));
      const texts: string[] = [];
      for (const [query, name] of [['', 'default'], ['?model=other', 'other'], ['?model=default', 'default']]) {
        const res = await fetch(`${url}/v1/transcribe${query}`, { method: 'POST', body });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-model'), name);
        texts.push((await res.json()).text);
      }
      // The same weights: the same transcript from either name.
      assert.equal(new Set(texts).size, 1);
      const unknown = await fetch(`${url}/v1/transcribe?model=whisper-1`, { method: 'POST', body });
      assert.equal(unknown.status, 404);
      assert.equal((await unknown.json()).error.code, 'MODEL_NOT_FOUND');
      assert.match(await (await fetch(`${url}/metrics`)).text(), /wav2vec2_audio_seconds_total\{model="other",kind="transcribe"\} [1-9]/);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--model: one name twice is a usage error (status 2)', async () => {
    const file = join(ROOT, 'models', 'default.pt');
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib', 'cli', 'index.ts'), 'serve', '--port', '0', '--model', file, '--model', `default=${file}`], { cwd: ROOT });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 2, err);
    assert.match(err, /--model: the name "default" is given twice/);
  });
});
