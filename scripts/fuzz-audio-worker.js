// Decodes the inputs scripts/fuzz-audio.ts sends, one at a time, and reports what happened. It runs in a worker
// thread so that the parent can time each input out and terminate a decoder that hangs (WASM loops included).
'use strict';
const { parentPort } = require('node:worker_threads');

require('tsx/cjs'); // the worker has its own module registry: register the TypeScript loader here too
const { loadAudio } = require('../lib/audio/load');
const { Wav2Vec2Error } = require('../lib/errors');

parentPort.on('message', async ({ id, bytes }) => {
  const t0 = performance.now();
  try {
    const a = await loadAudio(new Uint8Array(bytes));
    parentPort.postMessage({ id, ok: true, channels: a.channels.length, samples: a.channels[0].length, ms: performance.now() - t0 });
  } catch (err) {
    parentPort.postMessage({
      id,
      ok: false,
      coded: err instanceof Wav2Vec2Error,
      code: err && err.code,
      name: err && err.name,
      message: String(err && err.message).slice(0, 400),
      ms: performance.now() - t0,
    });
  }
});
parentPort.postMessage({ ready: true });
