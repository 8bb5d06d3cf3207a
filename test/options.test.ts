/**
 * Options objects across the public API (issue #22): every entry point rejects a key it does not know with
 * INVALID_INPUT, naming the key and the keys it takes, instead of ignoring it; one decoder shape everywhere; the
 * embedded default model wherever a model may be left out.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_MODEL_PATH, batchStatus, createDecoder, createRecognizer, createServer, downloadModel, enqueueBatchJob, getBundle,
  loadAudio, loadModel, resample, runBatchJob, runWorker, streamAudio, transcribe, type Model,
} from '../lib';
import { checkOptionKeys } from '../lib/errors';
import { wavBytes } from './helpers/audio-corpus';
import { rejectsCode, throwsCode } from './helpers/errors';
import { requireAddon } from './helpers/native';

/** The message of an unknown key: the key, and the accepted ones (`some` of them, at least). */
const unknown = (key: string, ...some: string[]) => new RegExp(`unknown option "${key}"; expected one of [^.]*${some.join('[^.]*')}`);

function tone(seconds: number, rate = 16000): Float32Array {
  const x = new Float32Array(Math.round(seconds * rate));
  for (let i = 0; i < x.length; i++) x[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / rate);
  return x;
}

describe('options', () => {
  describe('checkOptionKeys', () => {
    it('names the unknown key and lists the accepted ones', () => {
      throwsCode(() => checkOptionKeys('thing options', { a: 1, kind: 2 }, ['a', 'type']), 'INVALID_INPUT',
        /^thing options: unknown option "kind"; expected one of a, type\.$/);
    });
    it('passes known keys, whatever their values (each entry point checks those)', () => {
      checkOptionKeys('thing options', { a: undefined }, ['a']);
    });
  });

  describe('unknown keys are rejected before anything loads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'w2v-options-'));
    const wav = join(dir, 'a.wav');
    before(() => writeFileSync(wav, wavBytes(tone(0.5))));

    it('loadModel, and its hub options', async () => {
      await rejectsCode(loadModel(DEFAULT_MODEL_PATH, { devise: 'cpu' } as never), 'INVALID_INPUT', unknown('devise', 'device', 'dtype'));
      await rejectsCode(loadModel('org/name', { hub: { revison: 'main' } } as never), 'INVALID_INPUT', unknown('revison', 'revision'));
    });

    it('a bundle\'s getModel and downloadModel', async () => {
      await rejectsCode(getBundle('WAV2VEC2_ASR_BASE_960H').getModel({ modelDir: dir } as never), 'INVALID_INPUT', unknown('modelDir', 'modelsDir'));
      await rejectsCode(downloadModel('org/name', { offine: true } as never), 'INVALID_INPUT', unknown('offine', 'offline'));
    });

    it('createRecognizer, and its decoder: { kind: "beam" } no longer runs greedy', async () => {
      await rejectsCode(createRecognizer({ maxBatchSize: 8 } as never), 'INVALID_INPUT', unknown('maxBatchSize', 'batchSize'));
      await rejectsCode(createRecognizer({ decoder: { kind: 'beam' } } as never), 'INVALID_INPUT', /^decoder: unknown option "kind"; expected one of type, lm/);
      await rejectsCode(createRecognizer({ decoder: { decoder: 'beam' } } as never), 'INVALID_INPUT', unknown('decoder', 'type'));
      await rejectsCode(createRecognizer({ decoder: { beamSize: 8 } }), 'DECODE_INVALID_INPUT', /decoder\.beamSize: expected no beamSize with the greedy decoder \(add type: 'beam'\)/);
    });

    it('runBatchJob and enqueueBatchJob (before the queue\'s client loads), runWorker, batchStatus', async () => {
      await rejectsCode(runBatchJob({ inputs: [wav], out: join(dir, 'out'), window: 20 } as never), 'INVALID_INPUT', unknown('window', 'windowSeconds'));
      await rejectsCode(runBatchJob({ inputs: [wav], out: join(dir, 'out'), decoder: { decoder: 'beam' } } as never), 'INVALID_INPUT', unknown('decoder', 'type'));
      await rejectsCode(runBatchJob({ inputs: [wav], out: join(dir, 'out'), segment: 'speech', segmenter: { minSilence: 500 } } as never), 'INVALID_INPUT', unknown('minSilence', 'minSilenceMs'));
      await rejectsCode(enqueueBatchJob({ queue: 'redis://127.0.0.1:1', inputs: [wav], out: join(dir, 'out'), threads: 2 } as never), 'INVALID_INPUT', unknown('threads', 'queueName'));
      await rejectsCode(runWorker({ queue: 'redis://127.0.0.1:1', lockDuration: 1000 } as never), 'INVALID_INPUT', unknown('lockDuration', 'lockDurationMs'));
      await rejectsCode(batchStatus({ queue: 'redis://127.0.0.1:1', out: dir, name: 'q' } as never), 'INVALID_INPUT', unknown('name', 'queueName'));
    });

    it('createServer, its stream options and the window and segmenter within them', async () => {
      await rejectsCode(createServer({ maxBodyMb: 25 } as never), 'INVALID_INPUT', unknown('maxBodyMb', 'maxBodyBytes'));
      await rejectsCode(createServer({ stream: { maxStream: 2 } } as never), 'INVALID_INPUT', unknown('maxStream', 'maxStreams'));
      await rejectsCode(createServer({ stream: { window: { left: 800 } } } as never), 'INVALID_INPUT', unknown('left', 'leftMs'));
      await rejectsCode(createServer({ stream: { segmenter: { marginDB: 6 } } } as never), 'INVALID_INPUT', unknown('marginDB', 'marginDb'));
    });

    it('loadAudio, streamAudio and resample', async () => {
      await rejectsCode(loadAudio(wav, { mono: true, rate: 8000 } as never), 'INVALID_INPUT', unknown('rate', 'sampleRate'));
      await rejectsCode((async () => { for await (const _ of streamAudio(wav, { chunk: 10 } as never)) break; })(), 'INVALID_INPUT', unknown('chunk', 'chunkBytes'));
      await rejectsCode(loadAudio(wav, { sampleRate: 8000, resample: { width: 6 } } as never), 'INVALID_INPUT', unknown('width', 'lowpassFilterWidth'));
      throwsCode(() => resample(tone(0.1), 16000, 8000, { method: 'kaiser' } as never), 'INVALID_INPUT', unknown('method', 'resamplingMethod'));
    });

    it('createDecoder and transcribe take one decoder shape: a type, or options with `type`', () => {
      const model = {} as Model; // the options are checked before the model is looked at
      throwsCode(() => createDecoder(model, { kind: 'beam' } as never), 'INVALID_INPUT', /^decoder: unknown option "kind"/);
      throwsCode(() => createDecoder(model, 'viterbi' as never), 'DECODE_INVALID_INPUT', /decoder: expected 'greedy', 'beam' or decoder options/);
      throwsCode(() => createDecoder(model, { type: 'viterbi' } as never), 'DECODE_INVALID_INPUT', /decoder\.type: expected 'greedy' or 'beam'/);
      return rejectsCode(transcribe(model, wav, { kind: 'beam' } as never), 'INVALID_INPUT', /^decoder: unknown option "kind"/);
    });
  });

  describe('with a model', () => {
    let model: Model;
    const dir = mkdtempSync(join(tmpdir(), 'w2v-options-model-'));
    const wav = join(dir, 'a.wav');
    before(async function () {
      requireAddon(this);
      writeFileSync(wav, wavBytes(tone(1)));
      model = await loadModel(); // the embedded default model, without a source
    });
    after(() => model?.dispose());

    it('loadModel() without a source loads the embedded default model (DEFAULT_MODEL_PATH)', () => {
      assert.equal(model.info.file, DEFAULT_MODEL_PATH);
    });

    it('forward and extractFeatures', async () => {
      await rejectsCode(model.forward(tone(0.5), { length: [8000] } as never), 'INVALID_INPUT', unknown('length', 'lengths'));
      await rejectsCode(model.extractFeatures(tone(0.5), { layers: 2 } as never), 'INVALID_INPUT', unknown('layers', 'numLayers'));
    });

    it('a Recognizer\'s transcribe, emissions and features options', async () => {
      const rec = await createRecognizer({ model, decoder: 'greedy' });
      try {
        await rejectsCode(rec.transcribe(wav, { words: true } as never), 'INVALID_INPUT', /^transcribe options: unknown option "words"; expected one of signal, timestamps, emissions\.$/);
        await rejectsCode(rec.emissions(wav, { timestamps: true } as never), 'INVALID_INPUT', unknown('timestamps', 'signal'));
        await rejectsCode(rec.features(wav, { layers: 2 } as never), 'INVALID_INPUT', unknown('layers', 'numLayers'));
        assert.equal((await rec.transcribe(wav)).words, undefined, 'timestamps off by default');
      } finally {
        await rec.close();
      }
    });

    it('transcribe takes a decoder spec, or none (greedy), as well as a decoder from createDecoder', async () => {
      const bound = await transcribe(model, wav, createDecoder(model, { type: 'greedy' }));
      assert.deepEqual(await transcribe(model, wav), bound);
      assert.deepEqual(await transcribe(model, wav, 'greedy'), bound);
    });

    it('runBatchJob without a model runs the embedded default model', async function () {
      this.timeout(60000);
      const out = join(dir, 'job');
      const summary = await runBatchJob({ inputs: [wav], out, decoder: 'greedy' });
      assert.equal(summary.done, 1);
      const record = JSON.parse(readFileSync(summary.transcripts, 'utf8').trim());
      assert.equal(record.model, DEFAULT_MODEL_PATH);
      assert.equal(record.decoder, 'greedy');
    });
  });
});
