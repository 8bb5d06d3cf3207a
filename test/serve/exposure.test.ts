/**
 * Who may call the server, over real sockets on loopback with the headers a browser or an attacker would send:
 * the bearer API key, the Host allow-list (DNS rebinding), Origin and CORS, the audio-only Content-Type; and every
 * error status in the documented shape `{ error: { code, message } }`, Node's own refusals included.
 */
import assert from 'node:assert/strict';
import { createServer } from '../../lib/serve';
import { wavBytes } from '../helpers/audio-corpus';
import { codedError, exchange, rawHttp, type RawRequest, type RawResponse } from '../helpers/http-socket';
import { loopbackServer } from '../helpers/loopback-server';
import { clip } from '../recognizer/models';

const wav = (n: number) => Buffer.from(wavBytes(Int16Array.from(clip(n), (v) => Math.round(v * 32767)), 16000));
const KEY = 'test-key-0123456789abcdef';
const BOUNDARY = '----w2vexposure';
const form = (bytes: Buffer) => Buffer.concat([
  Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
  bytes, Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
]);

describe('serve: exposure (loopback sockets)', function () {
  this.timeout(30000);
  const server = loopbackServer();
  const { listen } = server;

  /** A POST of a 1 s WAV (or `body`) with the given headers. */
  const send = (port: number, headers: Record<string, string | number>, r: Partial<RawRequest> = {}) => {
    const body = r.body ?? wav(16000);
    return rawHttp(port, { ...r, body, headers: { 'content-type': 'audio/wav', 'content-length': body.length, ...headers } });
  };
  const refused = (r: RawResponse, status: number, code: string) => {
    assert.equal(r.status, status, r.body);
    assert.equal(codedError(r).code, code);
  };

  describe('API key', () => {
    it('every route but /health needs "Authorization: Bearer KEY": 401 UNAUTHORIZED (WWW-Authenticate) without it or with a wrong one', async () => {
      const port = await listen({ apiKey: KEY });
      const none = await send(port, {});
      refused(none, 401, 'UNAUTHORIZED');
      assert.equal(none.headers['www-authenticate'], 'Bearer');
      assert.match(codedError(none).message, /missing/);
      refused(await send(port, { authorization: `Bearer ${KEY}x` }), 401, 'UNAUTHORIZED');
      refused(await send(port, { authorization: `Bearer ${KEY.slice(0, -1)}` }), 401, 'UNAUTHORIZED');
      refused(await send(port, { authorization: `Basic ${Buffer.from(`u:${KEY}`).toString('base64')}` }), 401, 'UNAUTHORIZED');
      refused(await rawHttp(port, { method: 'GET', path: '/metrics' }), 401, 'UNAUTHORIZED');
      refused(await rawHttp(port, { method: 'GET', path: '/nowhere' }), 401, 'UNAUTHORIZED');
      const ok = await send(port, { authorization: `Bearer ${KEY}` });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(typeof JSON.parse(ok.body).text, 'string');
      assert.equal((await rawHttp(port, { method: 'GET', path: '/metrics', headers: { authorization: `bearer ${KEY}` } })).status, 200);
      assert.equal((await rawHttp(port, { method: 'GET', path: '/health' })).status, 200, '/health stays open');
    });

    it('a key that is too short or has spaces is refused at startup', async () => {
      await assert.rejects(createServer({ recognizer: { model: server.model() }, apiKey: 'short' }), /apiKey: expected at least 16 printable ASCII characters/);
      await assert.rejects(createServer({ recognizer: { model: server.model() }, apiKey: 'a key with spaces in it' }), /apiKey/);
    });
  });

  describe('Host allow-list', () => {
    it('on loopback, by default only localhost, 127.0.0.1 and [::1] are accepted as Host (a rebound DNS name is 403)', async () => {
      const port = await listen();
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
        assert.equal((await send(port, { host })).status, 200, host);
      }
      for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, 'localhost.evil.example']) {
        const r = await send(port, { host });
        refused(r, 403, 'HOST_NOT_ALLOWED');
        assert.match(codedError(r).message, /--allowed-hosts/);
      }
      refused(await rawHttp(port, { method: 'GET', path: '/health', headers: { host: 'evil.example' } }), 403, 'HOST_NOT_ALLOWED');
    });

    it('--allowed-hosts replaces the default; * accepts any Host', async () => {
      let port = await listen({ allowedHosts: ['api.example', '[::1]'] });
      assert.equal((await send(port, { host: `api.example:${port}` })).status, 200);
      assert.equal((await send(port, { host: `[::1]:${port}` })).status, 200);
      refused(await send(port, { host: `localhost:${port}` }), 403, 'HOST_NOT_ALLOWED');
      await server.close();
      port = await listen({ allowedHosts: ['*'] });
      assert.equal((await send(port, { host: 'anything.example' })).status, 200);
      await assert.rejects(createServer({ recognizer: { model: server.model() }, allowedHosts: ['api.example:443'] }), /allowedHosts/);
    });
  });

  describe('Origin and CORS', () => {
    it('CORS off (default): a request from a web page (any Origin) is 403, even the form POST a page sends without preflight', async () => {
      const port = await listen();
      const r = await send(port, { origin: 'http://evil.example', 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, { body: form(wav(16000)) });
      refused(r, 403, 'ORIGIN_NOT_ALLOWED');
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      const preflight = await rawHttp(port, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
      assert.equal(preflight.status, 403);
      assert.equal(preflight.headers['access-control-allow-origin'], undefined);
      // The same upload without an Origin (curl, a backend) is answered.
      assert.equal((await send(port, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, { body: form(wav(16000)) })).status, 200);
    });

    it('--cors ORIGIN: its preflight gets 204 with the allowed methods and headers; its requests and their errors carry Access-Control-Allow-Origin', async () => {
      const port = await listen({ cors: ['http://app.example:3000'], apiKey: KEY });
      const origin = 'http://app.example:3000';
      const preflight = await rawHttp(port, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
      assert.equal(preflight.status, 204, preflight.body);
      assert.equal(preflight.headers['access-control-allow-origin'], origin);
      assert.match(preflight.headers['access-control-allow-headers']!, /authorization/);
      assert.match(preflight.headers['access-control-allow-methods']!, /POST/);
      const ok = await send(port, { origin, authorization: `Bearer ${KEY}` });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.headers['access-control-allow-origin'], origin);
      assert.equal(ok.headers.vary, 'Origin');
      assert.equal((await rawHttp(port, { method: 'GET', path: '/health' })).headers.vary, 'Origin', 'answers without an Origin vary by it too');
      assert.match(ok.headers['access-control-expose-headers']!, /retry-after/);
      const err = await send(port, { origin, authorization: `Bearer ${KEY}`, 'content-type': 'text/plain' });
      refused(err, 415, 'UNSUPPORTED_MEDIA_TYPE');
      assert.equal(err.headers['access-control-allow-origin'], origin, 'the page can read the coded error');
      refused(await send(port, { origin: 'http://other.example', authorization: `Bearer ${KEY}` }), 403, 'ORIGIN_NOT_ALLOWED');
      await assert.rejects(createServer({ recognizer: { model: server.model() }, cors: ['http://app.example/path'] }), /cors/);
    });
  });

  describe('Content-Type', () => {
    it('the types a page may POST without preflight, and JSON, are 415 UNSUPPORTED_MEDIA_TYPE before the body is read', async () => {
      const port = await listen();
      for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/json']) {
        // A body announced and never sent: only an answer on arrival comes back.
        const r = await exchange(port, (socket) => {
          socket.write(`POST /v1/transcribe HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${type}\r\nContent-Length: 100000\r\n\r\n`);
          return () => {};
        });
        refused(r, 415, 'UNSUPPORTED_MEDIA_TYPE');
        assert.equal(r.headers.connection, 'close');
        assert.match(codedError(r).message, /audio\/wav/);
      }
    });

    it('audio/*, application/octet-stream, application/ogg, multipart/form-data and no Content-Type are accepted', async () => {
      const port = await listen();
      for (const type of ['audio/wav', 'audio/x-wav', 'AUDIO/WAVE', 'application/octet-stream', 'application/ogg']) {
        assert.equal((await send(port, { 'content-type': type })).status, 200, type);
      }
      assert.equal((await send(port, { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, { body: form(wav(16000)) })).status, 200);
      const body = wav(16000);
      const untyped = await rawHttp(port, { body, headers: { 'content-length': body.length } });
      assert.equal(untyped.status, 200, untyped.body);
    });
  });

  it('every error status comes as { error: { code, message } }, those Node answers itself included', async () => {
    const port = await listen({
      apiKey: KEY, maxBodyBytes: 200_000, maxDuration: 4, requestTimeoutMs: 1500, uploadGraceMs: 400, minUploadBytesPerSec: 0,
      recognizer: { maxQueue: 1, maxWaitMs: 60000 },
    });
    const auth = { authorization: `Bearer ${KEY}` };
    const seen = new Map<number, string>();
    const expect = (r: RawResponse, status: number, code: string) => {
      refused(r, status, code);
      seen.set(status, code);
    };
    expect(await send(port, auth, { body: Buffer.alloc(0) }), 400, 'AUDIO_EMPTY');
    expect(await exchange(port, (s) => (s.write('NOT HTTP AT ALL\r\n\r\n'), () => {})), 400, 'BAD_REQUEST');
    expect(await send(port, {}), 401, 'UNAUTHORIZED');
    expect(await send(port, { ...auth, host: 'evil.example' }), 403, 'HOST_NOT_ALLOWED');
    expect(await rawHttp(port, { method: 'GET', path: '/v2/transcribe', headers: auth }), 404, 'NOT_FOUND');
    const body = wav(16000);
    expect(await rawHttp(port, { headers: { ...auth, 'content-type': 'audio/wav', 'content-length': body.length }, trickle: { bytes: body, everyMs: 100 } }), 408, 'REQUEST_TIMEOUT');
    expect(await exchange(port, (s) => (s.write('POST /v1/transcribe HTTP/1.1\r\nHost: localhost\r\n'), () => {})), 408, 'REQUEST_TIMEOUT');
    expect(await send(port, auth, { body: Buffer.alloc(300_000) }), 413, 'BODY_TOO_LARGE');
    expect(await send(port, { ...auth, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, { body: form(Buffer.alloc(300_000)) }), 413, 'BODY_TOO_LARGE');
    expect(await send(port, auth, { body: Buffer.from(wavBytes(new Int16Array(16000 * 5))) }), 413, 'INPUT_TOO_LONG');
    expect(await exchange(port, (s) => (s.write(`GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`), () => {})), 431, 'HEADERS_TOO_LARGE');
    expect(await send(port, { ...auth, 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await send(port, { ...auth, 'content-type': 'application/octet-stream' }, { body: Buffer.from('{"not": "audio"}') }), 415, 'AUDIO_UNSUPPORTED_FORMAT');
    // One request waits in the queue (maxWaitMs: 60 s) until the request timeout: 504; meanwhile the queue is full: 503.
    const waiting = send(port, auth);
    while (!/^wav2vec2_queue_depth\{model="ta_tiny_lv60k"\} 1$/m.test(await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: auth })).text())) await new Promise((r) => setTimeout(r, 10));
    const full = await send(port, auth);
    expect(full, 503, 'OVERLOADED');
    assert.equal(full.headers['retry-after'], '1');
    expect(await waiting, 504, 'TIMEOUT');
    assert.deepEqual([...seen.keys()].sort(), [400, 401, 403, 404, 408, 413, 415, 431, 503, 504]);
  });
});
