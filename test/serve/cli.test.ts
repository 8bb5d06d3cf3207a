/** `wav2vec2 serve`: listens, answers, and on SIGTERM finishes the request in flight before exiting 0. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../lib/model';
import { createDecoder, transcribe } from '../../lib/transcribe';
import { requireAddon } from '../helpers/native';

const ROOT = join(__dirname, '..', '..');

describe('serve: command line', function () {
  this.timeout(60000);
  before(function () {
    requireAddon(this);
  });

  it('SIGTERM: stops accepting, answers the request in flight, exits 0', async () => {
    // The default model; a long batch wait keeps the request in flight while the signal arrives.
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib', 'cli', 'index.ts'), 'serve', '--port', '0', '--max-wait-ms', '1500', '--threads', '1'], { cwd: ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const check = () => {
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        };
        child.stdout.on('data', check);
        child.on('exit', () => reject(new Error(`serve exited early: ${out}${err}`)));
      });
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      const body = new Uint8Array(readFileSync(join(ROOT, 'samples', 'curiosity-16k.wav')));
      const inFlight = fetch(`${url}/v1/transcribe?timestamps=false`, { method: 'POST', body });
      // Signal once the request is queued (it waits up to 1.5 s there for a batch).
      for (let i = 0; i < 200; i++) {
        const m = await (await fetch(`${url}/metrics`)).text();
        if (/^wav2vec2_queue_depth 1$/m.test(m)) break;
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
      assert.equal(await exited, 0, err);
      assert.match(out, /SIGTERM, finishing in-flight requests[\s\S]*stopped/);
      await assert.rejects(fetch(`${url}/health`));
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
});
