/**
 * The short version of `npm run fuzz:audio` (5000 inputs): 200 mutated and truncated real files, each decoded in
 * a worker thread with a timeout. Every input must decode or fail with a coded audio error.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runFuzz } from '../../scripts/fuzz-audio';
import { requireCorpus } from '../helpers/audio-corpus';

describe('audio/fuzz: 200 damaged files', function () {
  before(function () {
    requireCorpus(this);
  });

  it('gives 0 crashes, 0 hangs and only coded errors', async function () {
    this.timeout(300000);
    const r = await runFuzz({
      count: 200,
      seed: 20240601,
      timeoutMs: 20000,
      workers: 1,
      saveDir: join(__dirname, '..', 'fixtures', 'generated', 'fuzz-failures'),
    });
    assert.equal(r.total, 200);
    assert.deepEqual(r.problems, [], r.problems.map((p) => `${p.kind} on ${p.seed} (${p.mutation}): ${p.detail}`).join('\n'));
    // A fuzzer whose inputs all fail the same way tests nothing: the mix must reach the decoders and the error paths.
    assert.ok(r.decoded > 20, `${r.decoded} inputs decoded`);
    assert.ok((r.coded.AUDIO_DECODE_FAILED ?? 0) > 20, `coded: ${JSON.stringify(r.coded)}`);
    assert.ok((r.coded.AUDIO_UNSUPPORTED_FORMAT ?? 0) > 5, `coded: ${JSON.stringify(r.coded)}`);
  });
});
