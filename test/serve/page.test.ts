/**
 * The browser page (serve --page) in Debian's headless Chromium, a WAV as its microphone: it streams to /v1/stream and
 * shows the transcript, which must match the offline transcripts of the WAV's utterances.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { createRecognizer } from '../../lib/recognizer';
import { createServer } from '../../lib/serve';
import { loadForModel } from '../../lib/pipeline/transcribe';
import { wavBytes } from '../helpers/audio-corpus';
import { CHROMIUM, hasChromium, openPage, type Browser } from '../helpers/chromium';
import { requireAddon } from '../helpers/native';
import { wordEdits } from '../helpers/ws-client';

const ROOT = join(__dirname, '..', '..');

describe('serve: the browser page (--page)', function () {
  this.timeout(120000);
  let model: Model;
  let app: FastifyInstance | undefined;
  let browser: Browser | undefined;
  let dir: string;

  before(async function () {
    requireAddon(this);
    if (!hasChromium()) {
      // eslint-disable-next-line no-console
      console.log(`      (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium, or set CHROMIUM)`);
      this.skip();
    }
    model = await loadModel(join(ROOT, 'models', 'default.pt'));
    dir = mkdtempSync(join(tmpdir(), 'w2v-page-'));
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    model?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is off by default', async () => {
    const a = await createServer({ recognizer: { model } });
    assert.equal((await a.inject({ method: 'GET', url: '/' })).statusCode, 404);
    await a.close();
  });

  it('records the (fake) microphone and shows the live transcript', async () => {
    const files = ['curiosity-16k.wav', 'telephone-8k.wav'].map((f) => join(ROOT, 'samples', f));
    const utterances = await Promise.all(files.map(async (f) => (await loadForModel(model, f)).samples));
    const rec = await createRecognizer({ model });
    const offline = await Promise.all(utterances.map(async (u) => (await rec.transcribe({ samples: u, sampleRate: 16000 })).text));
    await rec.close();
    // 1 s of silence around each utterance, 2 s at the end (the page keeps recording silence after the file ends).
    const gap = 16000;
    const x = new Float32Array(utterances.reduce((n, u) => n + u.length + gap, 2 * gap));
    let o = gap;
    for (const u of utterances) { x.set(u, o); o += u.length + gap; }
    const wav = join(dir, 'mic.wav');
    writeFileSync(wav, wavBytes(Int16Array.from(x, (v) => Math.round(v * 32767)), 16000));

    app = await createServer({ recognizer: { model }, page: true });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
    browser = await openPage(url, wav);
    for (let i = 0; i < 50 && !(await browser.evaluate<boolean>('!!document.getElementById("start")').catch(() => false)); i++) await new Promise((r) => setTimeout(r, 200));
    await browser.evaluate('document.getElementById("start").click()');
    let finals: string[] = [];
    let sawPartial = false;
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline && finals.length < utterances.length) {
      await new Promise((r) => setTimeout(r, 250));
      sawPartial ||= await browser.evaluate<boolean>('document.getElementById("partial").textContent.trim().length > 0');
      finals = await browser.evaluate<string[]>('[...document.querySelectorAll("#transcript .final")].map((p) => p.textContent)');
    }
    const status = await browser.evaluate<string>('document.getElementById("status").textContent');
    assert.equal(finals.length, utterances.length, `finals ${JSON.stringify(finals)}; status: ${status}`);
    assert.ok(sawPartial, 'the page showed a partial transcript before the final');
    const words = (s: string) => s.split(' ').filter(Boolean);
    const errors = finals.reduce((n, f, i) => n + wordEdits(words(f), words(offline[i]!)), 0);
    const total = offline.reduce((n, t) => n + words(t).length, 0);
    // The browser captures at its own rate (48 kHz here) and the server resamples: a little more margin than 16 kHz PCM.
    assert.ok(errors / total <= 0.15, `${errors} word errors in ${total}: ${JSON.stringify(finals)} vs offline ${JSON.stringify(offline)}`);
    await browser.evaluate('document.getElementById("stop").click()');
  });
});
