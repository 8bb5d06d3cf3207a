/**
 * The batch job reads its inputs through the audio stage: its budget (maxDuration, the rate range) fails a bomb or an
 * odd rate as that input's own coded failure, the other inputs are transcribed, and the JS thread (which renews the
 * output folder's lock and feeds the models) is never held by the decoding.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runBatchJob } from '../../../lib/jobs';
import { wavBytes } from '../../helpers/audio-corpus';
import { flacBomb, wavDeclaring } from '../../helpers/bombs';
import { frameLocalModel, labelSignal } from '../../helpers/frame-local-model';
import { watch } from '../../helpers/load-watch';
import { rejectsCode } from '../../helpers/errors';

function jsonl(file: string): Array<Record<string, any>> {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('pipeline/audio: hostile inputs to a batch job', function () {
  this.timeout(60000);

  it('bombs and odd rates fail alone with their codes; the good input is transcribed; the event loop stays free', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'w2v-stage-batch-'));
    const files: Record<string, Uint8Array> = {
      'good.wav': wavBytes(labelSignal(3, 5), 16000),
      'bomb-declared.flac': flacBomb({ seconds: 8 * 3600 }),
      'bomb-undeclared.flac': flacBomb({ seconds: 3600, declareTotal: false }),
      'claims-3h.wav': wavDeclaring({ seconds: 5, declaredSeconds: 3 * 3600 }),
      'rate.wav': wavDeclaring({ seconds: 0.001, declaredSeconds: 0.001, sampleRate: 1300001 }),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const out = join(dir, 'out');
    const cost = await watch(() => runBatchJob({ inputs: Object.keys(files).map((f) => join(dir, f)), out, model: frameLocalModel(), maxDuration: 60 }));
    assert.equal(cost.error, undefined, String(cost.error));
    const said = `${cost.ms.toFixed(0)} ms, event loop p99 ${cost.lagP99.toFixed(1)} ms, max ${cost.lagMax.toFixed(1)} ms, RSS +${cost.rssMiB.toFixed(0)} MiB`;
    assert.ok(cost.lagP99 < 50 && cost.lagMax < 400, said);
    assert.ok(cost.rssMiB < 128, said);
    assert.equal(cost.result!.done, 1);
    assert.equal(cost.result!.failed, 4);
    const codes = Object.fromEntries(jsonl(join(out, 'failures.jsonl')).map((r) => [basename(r.file), r.code]));
    assert.deepEqual(codes, {
      'bomb-declared.flac': 'INPUT_TOO_LONG', 'bomb-undeclared.flac': 'INPUT_TOO_LONG', 'claims-3h.wav': 'INPUT_TOO_LONG', 'rate.wav': 'AUDIO_UNSUPPORTED_RATE',
    });
  });

  it('checks its audio options before anything is read', async () => {
    const base = { inputs: ['x.wav'], out: join(tmpdir(), 'never'), model: frameLocalModel() };
    await rejectsCode(runBatchJob({ ...base, maxDuration: 0 }), 'INVALID_INPUT', /maxDuration/);
    await rejectsCode(runBatchJob({ ...base, minSampleRate: 16000, maxSampleRate: 8000 }), 'INVALID_INPUT', /maxSampleRate/);
    await rejectsCode(runBatchJob({ ...base, audioWorkers: 0 }), 'INVALID_INPUT', /audioWorkers/);
  });
});
