/**
 * Slow clients, over real sockets on loopback: uploads trickled a byte at a time are cut with a coded 408 at the
 * configured rate or time, hold no place in the recognizer's queue meanwhile, and are capped (--max-uploads), as
 * are connections. Timeouts are small so the suite runs in seconds.
 */
import assert from 'node:assert/strict';
import { wavBytes } from '../helpers/audio-corpus';
import { codedError, exchange, head, rawHttp, type RawResponse } from '../helpers/http-socket';
import { loopbackServer } from '../helpers/loopback-server';
import { clip } from '../recognizer/models';

const wav = (n: number) => Buffer.from(wavBytes(Int16Array.from(clip(n), (v) => Math.round(v * 32767)), 16000));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('serve: slow clients (loopback sockets)', function () {
  this.timeout(30000);
  const server = loopbackServer();
  const { listen } = server;

  /** A client that sends its headers (Content-Length of a whole WAV) and then the body a byte every `everyMs`. */
  const trickler = (port: number, everyMs: number) => {
    const body = wav(16000);
    return rawHttp(port, { headers: { 'content-type': 'audio/wav', 'content-length': body.length }, trickle: { bytes: body, everyMs } });
  };

  const gauge = async (port: number, name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
  };

  it('with 80 uploads trickling, a prompt client gets 200 at once; each trickler is cut with 408 UPLOAD_TOO_SLOW after the grace', async () => {
    // A queue of 2: were uploads counted in it, as they were, the prompt client would get 503 OVERLOADED.
    const grace = 3000;
    const port = await listen({ recognizer: { maxQueue: 2 }, maxUploads: 100, minUploadBytesPerSec: 1000, uploadGraceMs: grace, requestTimeoutMs: 20000 });
    const slow: RawResponse[] = [];
    const pending = Array.from({ length: 80 }, () => trickler(port, 100).then((r) => (slow.push(r), r)));
    while ((await gauge(port, 'wav2vec2_uploads')) < 80) await sleep(20);
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/v1/transcribe?timestamps=false`, { method: 'POST', body: new Uint8Array(wav(16000)), headers: { 'content-type': 'audio/wav' } });
    const promptMs = Date.now() - t0;
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(typeof (await res.json()).text, 'string');
    assert.equal(slow.length, 0, 'answered while all 80 slow uploads were still connected');
    const cut = await Promise.all(pending);
    for (const r of cut) {
      assert.equal(r.status, 408, r.body);
      assert.equal(codedError(r).code, 'UPLOAD_TOO_SLOW');
      assert.equal(r.headers.connection, 'close');
      // ~10 bytes/s against 1000 bytes/s: cut once the grace is spent (a few bytes buy a few ms more).
      assert.ok(r.answeredMs >= grace - 50 && r.answeredMs < grace + 2500, `cut after ${r.answeredMs} ms`);
      assert.ok(r.closedMs - r.answeredMs < 500, `connection closed ${r.closedMs - r.answeredMs} ms after the answer`);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /wav2vec2_uploads_cut_total\{code="UPLOAD_TOO_SLOW"\} 80/);
    assert.equal(await gauge(port, 'wav2vec2_uploads'), 0);
    // eslint-disable-next-line no-console
    console.log(`      prompt client: 200 in ${promptMs} ms beside 80 tricklers; tricklers cut after ${Math.min(...cut.map((r) => r.answeredMs))}–${Math.max(...cut.map((r) => r.answeredMs))} ms (grace ${grace} ms)`);
  });

  it('a fast start buys time (grace + bytes / rate), a stall spends it', async () => {
    const port = await listen({ minUploadBytesPerSec: 1000, uploadGraceMs: 300, requestTimeoutMs: 20000 });
    const body = wav(16000);
    // 1000 bytes at once: allowed 300 ms + 1 s, then nothing more arrives.
    const r = await exchange(port, (socket) => {
      socket.write(head({ headers: { 'content-type': 'audio/wav', 'content-length': body.length } }, port));
      socket.write(body.subarray(0, 1000));
      return () => {};
    });
    assert.equal(codedError(r).code, 'UPLOAD_TOO_SLOW');
    assert.ok(r.answeredMs >= 1250 && r.answeredMs < 2500, `cut after ${r.answeredMs} ms`);
    assert.match(codedError(r).message, /\(1\d\d\d bytes in \d+ ms\)/, 'the 1000 bytes of body and the headers');
  });

  it('a multipart upload (read by the handler, not the body parser) trickled is cut the same way, and the server carries on', async () => {
    const port = await listen({ minUploadBytesPerSec: 1000, uploadGraceMs: 300, requestTimeoutMs: 20000 });
    const b = '----w2vslow';
    const form = Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`), wav(16000), Buffer.from(`\r\n--${b}--\r\n`)]);
    const r = await rawHttp(port, {
      headers: { 'content-type': `multipart/form-data; boundary=${b}`, 'content-length': form.length },
      body: form.subarray(0, 200), trickle: { bytes: form.subarray(200), everyMs: 50 },
    });
    assert.equal(r.status, 408, r.body);
    assert.equal(codedError(r).code, 'UPLOAD_TOO_SLOW');
    assert.ok(r.answeredMs >= 450 && r.answeredMs < 2000, `cut after ${r.answeredMs} ms`);
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    assert.deepEqual(health.uploads, { count: 0, limit: 64 });
  });

  it('an upload still arriving at the request timeout is cut with 408 REQUEST_TIMEOUT, whatever its rate', async () => {
    const port = await listen({ minUploadBytesPerSec: 0, uploadGraceMs: 200, requestTimeoutMs: 800 });
    const r = await trickler(port, 50);
    assert.equal(r.status, 408);
    assert.equal(codedError(r).code, 'REQUEST_TIMEOUT');
    assert.ok(r.answeredMs >= 750 && r.answeredMs < 2000, `cut after ${r.answeredMs} ms`);
    assert.equal((await fetch(`http://127.0.0.1:${port}/v1/transcribe`, { method: 'POST', body: new Uint8Array(wav(16000)) })).status, 200, 'a prompt request still succeeds');
  });

  it('uploads beyond maxUploads get 503 OVERLOADED with Retry-After on arrival, body unread', async () => {
    const port = await listen({ maxUploads: 2, retryAfterS: 7, minUploadBytesPerSec: 1, uploadGraceMs: 5000, requestTimeoutMs: 2500 });
    const slow = [trickler(port, 200), trickler(port, 200)];
    while ((await gauge(port, 'wav2vec2_uploads')) < 2) await sleep(20);
    // Headers only, with a body announced that never comes: only an answer given on arrival can come back.
    const r = await exchange(port, (socket) => {
      socket.write(head({ headers: { 'content-type': 'audio/wav', 'content-length': 100000 } }, port));
      return () => {};
    });
    assert.equal(r.status, 503);
    assert.equal(codedError(r).code, 'OVERLOADED');
    assert.match(codedError(r).message, /maxUploads/);
    assert.equal(r.headers['retry-after'], '7');
    assert.ok(r.answeredMs < 1000, `answered after ${r.answeredMs} ms`);
    for (const r of await Promise.all(slow)) assert.equal(codedError(r).code, 'REQUEST_TIMEOUT');
  });

  it('headers trickled: 408 REQUEST_TIMEOUT in the coded shape once the headers timeout (the grace) is spent', async () => {
    const port = await listen({ uploadGraceMs: 400, requestTimeoutMs: 20000 });
    const r = await exchange(port, (socket) => {
      const text = Buffer.from('POST /v1/transcribe HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(200));
      let i = 0;
      const timer = setInterval(() => socket.destroyed || socket.write(text.subarray(i, ++i)), 50);
      return () => clearInterval(timer);
    });
    assert.equal(r.status, 408, r.body);
    assert.equal(codedError(r).code, 'REQUEST_TIMEOUT');
    assert.ok(r.answeredMs >= 380 && r.answeredMs < 1500, `cut after ${r.answeredMs} ms`);
  });

  it('connections beyond maxConnections are closed at once; the first ones still get answers', async () => {
    const port = await listen({ maxConnections: 3, uploadGraceMs: 5000 });
    const { connect } = await import('node:net');
    const open = await Promise.all(Array.from({ length: 3 }, () => new Promise<import('node:net').Socket>((resolve) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
    })));
    await sleep(50);
    const extra = await rawHttp(port, { method: 'GET', path: '/health' });
    assert.equal(extra.status, 0, 'no answer: closed by the server');
    assert.ok(extra.closedMs < 1000);
    const answered = await new Promise<string>((resolve) => {
      let text = '';
      open[0]!.on('data', (d) => (text += d));
      open[0]!.on('close', () => resolve(text));
      open[0]!.write(head({ method: 'GET', path: '/health' }, port));
    });
    assert.match(answered, /^HTTP\/1.1 200/);
    for (const s of open) s.destroy();
  });
});
