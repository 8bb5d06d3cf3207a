/** runBatchJob: outputs, failures, resume, stop, features; window stitching checked exactly on a frame-local model. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH as DEFAULT_MODEL } from '../../lib/paths';
import { GreedyCTCDecoder } from '../../lib/decode';
import { Wav2Vec2Error } from '../../lib/errors';
import { runBatchJob } from '../../lib/jobs';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { maxAbsDiff } from '../../lib/tensor';
import { createDecoder, transcribe, loadForModel } from '../../lib/pipeline/transcribe';
import { wavBytes } from '../helpers/audio-corpus';
import { frameLocalModel, labelSignal } from '../helpers/frame-local-model';
import { readNpy } from '../helpers/npy';
import { rejectsCode } from '../helpers/errors';
import { requireAddon } from '../helpers/native';
import { requireSpeechTools, sentences, speak } from '../helpers/speech';

function jsonl(file: string): Array<Record<string, any>> {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('batch: runBatchJob', function () {
  this.timeout(60000);

  describe('window stitching on a frame-local model', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'w2v-stitch-'));
    });

    it('gives exactly the unchunked words and features for files of 1 to 6 windows', async () => {
      const model = frameLocalModel();
      const files = [1.5, 2, 3.3, 7, 11.1].map((sec, i) => {
        const x = labelSignal(Math.ceil(sec), i + 1).subarray(0, Math.round(sec * 16000));
        const file = join(dir, `s${i}.wav`);
        writeFileSync(file, wavBytes(x, 16000));
        return { file, x };
      });
      const out = join(dir, 'out');
      const summary = await runBatchJob({ inputs: files.map((f) => f.file), out, model, windowSeconds: 2, strideSeconds: 0.4, batchSize: 3, features: [1, 2], text: true });
      assert.equal(summary.done, files.length);
      const records = jsonl(join(out, 'transcripts.jsonl'));
      const decoder = new GreedyCTCDecoder(model.labels!, { frameStride: 320, sampleRate: 16000 });
      for (const { file, x } of files) {
        const rec = records.find((r) => r.file === file)!;
        const whole = await model.forward([x]);
        const ref = decoder.decode({ data: whole.emissions.data, shape: whole.emissions.shape.slice(1) });
        assert.equal(rec.text, ref.text, file);
        assert.deepEqual(rec.words.map((w: any) => [w.word, w.start, w.end]), ref.words.map((w) => [w.word, +w.start.toFixed(3), +w.end.toFixed(3)]));
        for (const w of rec.words) assert.deepEqual(Object.keys(w), ['word', 'start', 'end', 'confidence']);
        assert.equal(rec.pieces, x.length <= 32000 ? 1 : Math.ceil((x.length - 32000) / 19200) + 1);
        const feats = await model.extractFeatures([x], { numLayers: 2 });
        rec.features.files.forEach((rel: string, l: number) => {
          const npy = readNpy(join(out, rel));
          assert.deepEqual(npy.shape, feats.features[l]!.shape.slice(1));
          assert.equal(maxAbsDiff(npy.data, feats.features[l]!.data), 0);
        });
      }
    });
  });

  describe('several replicas', () => {
    it('commits every file exactly once, with its features, when two replicas deliver pieces of one file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'w2v-replicas-'));
      // Files of several windows, one piece per batch: pieces of one file go to both replicas, and a replica's step
      // can still be queued on the file after the other one's step completed it.
      const files = [5, 7, 6, 9].map((sec, i) => {
        const file = join(dir, `r${i}.wav`);
        writeFileSync(file, wavBytes(labelSignal(sec, i + 7), 16000));
        return file;
      });
      const out = join(dir, 'out');
      const models = [frameLocalModel(), frameLocalModel()];
      const events: string[] = [];
      const summary = await runBatchJob({
        inputs: files, out, model: models, windowSeconds: 2, strideSeconds: 0.4, batchSize: 1, features: [1, 2], text: true,
        onFile: (e) => events.push(`${e.status} ${e.file}`),
      });
      assert.deepEqual({ done: summary.done, failed: summary.failed }, { done: files.length, failed: 0 });
      assert.deepEqual(events.sort(), files.map((f) => `done ${f}`).sort(), 'one event per file');
      const records = jsonl(join(out, 'transcripts.jsonl'));
      assert.deepEqual(records.map((r) => r.file).sort(), [...files].sort(), 'one line per file');
      assert.equal(readdirSync(join(out, 'results')).length, files.length);
      for (const r of records) {
        for (const rel of r.features.files) assert.deepEqual(readNpy(join(out, rel)).shape, [r.features.frames, 3]);
      }
    });
  });

  describe('attempt markers', () => {
    it('an abort or a stop is no death: inputs it interrupts keep no attempt marker', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'w2v-attempts-'));
      // Files of several windows, one piece per batch: when the abort comes, the next file has reached the model.
      const files = [5, 6, 7].map((sec, i) => {
        const file = join(dir, `a${i}.wav`);
        writeFileSync(file, wavBytes(labelSignal(sec, i + 3), 16000));
        return file;
      });
      const out = join(dir, 'out');
      const ac = new AbortController();
      const job = { inputs: files, out, model: frameLocalModel(), windowSeconds: 2, strideSeconds: 0.4, batchSize: 1 };
      const first = await runBatchJob({ ...job, signal: ac.signal, onProgress: (p) => { if (p.audioSeconds > 6) ac.abort(); } });
      assert.ok(first.interrupted && first.remaining > 0, JSON.stringify(first));
      assert.deepEqual(readdirSync(join(out, 'attempts')), []);
      const second = await runBatchJob(job);
      assert.equal(first.done + second.done, files.length);
      assert.deepEqual(readdirSync(join(out, 'attempts')), []);
    });
  });

  describe('layers the model lacks', () => {
    let dir: string;
    let file: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'w2v-depth-'));
      file = join(dir, 'a.wav');
      writeFileSync(file, wavBytes(labelSignal(3, 3), 16000));
      writeFileSync(join(dir, 'b.wav'), wavBytes(labelSignal(2, 4), 16000));
    });

    it('are refused before the folder is touched, so the corrected rerun runs', async () => {
      const model = frameLocalModel();
      (model.info as { numLayers: number }).numLayers = 2;
      const out = join(dir, 'out-known');
      await rejectsCode(runBatchJob({ inputs: [file], out, model, features: [1, 3] }), 'INVALID_INPUT', /features: expected layer numbers within \[1, 2\]/);
      assert.ok(!existsSync(join(out, 'job.json')), 'no job state written');
      assert.equal((await runBatchJob({ inputs: [file], out, model, features: [1, 2] })).done, 1);
    });

    it('stop the job when the model says so (depth unknown up front) instead of failing each input', async () => {
      const model = frameLocalModel();
      const extract = model.extractFeatures.bind(model);
      model.extractFeatures = async (x, o) => {
        if (o!.numLayers! > 2) throw new Wav2Vec2Error('INVALID_INPUT', '`num_layers` must be between [1, 2]');
        return extract(x, o);
      };
      const out = join(dir, 'out-unknown');
      await rejectsCode(runBatchJob({ inputs: [file, join(dir, 'b.wav')], out, model, features: [3] }), 'INVALID_INPUT', /num_layers/);
      assert.deepEqual(readdirSync(join(out, 'failed')), [], 'no input recorded as failed');
    });
  });

  describe('with the default model', () => {
    let dir: string;
    let model: Model;
    const good: string[] = [];
    before(async function () {
      requireAddon(this);
      requireSpeechTools(this);
      dir = mkdtempSync(join(tmpdir(), 'w2v-job-'));
      mkdirSync(join(dir, 'in', 'sub'), { recursive: true });
      const text = sentences(3, 10);
      good.push(speak(text[0]!, join(dir, 'in', 'a.wav')), speak(text[1]!, join(dir, 'in', 'sub', 'b.wav')));
      speak(text[2]!, join(dir, 'c.wav'));
      execFileSync('sox', [join(dir, 'c.wav'), '-r', '16000', join(dir, 'in', 'c.flac')]);
      good.push(join(dir, 'in', 'c.flac'));
      writeFileSync(join(dir, 'in', 'broken.wav'), 'not audio at all');
      writeFileSync(join(dir, 'in', 'empty.wav'), '');
      model = await loadModel(DEFAULT_MODEL);
    });
    after(() => model?.dispose());

    it('writes one record per file (what transcribe() gives alone), subtitles, and coded failures; a rerun skips', async () => {
      const out = join(dir, 'out');
      const seen: string[] = [];
      const summary = await runBatchJob({ inputs: [join(dir, 'in')], out, model, formats: ['txt', 'srt', 'vtt'], batchSize: 2, onFile: (e) => seen.push(e.status) });
      assert.deepEqual({ done: summary.done, failed: summary.failed, skipped: summary.skipped, interrupted: summary.interrupted }, { done: 3, failed: 2, skipped: 0, interrupted: false });
      assert.equal(seen.length, 5);
      const records = jsonl(join(out, 'transcripts.jsonl'));
      assert.deepEqual(records.map((r) => r.file).sort(), [...good].sort());
      const decoder = createDecoder(model);
      for (const r of records) {
        const alone = await transcribe(model, r.file, decoder);
        assert.equal(r.text, alone.text);
        assert.equal(r.duration, +alone.duration.toFixed(3));
        assert.equal(r.model, DEFAULT_MODEL);
        assert.ok(r.words.length > 0 && r.timing.modelMs >= 0);
        for (let i = 1; i < r.words.length; i++) assert.ok(r.words[i].start >= r.words[i - 1].end);
        assert.equal(readFileSync(join(out, r.outputs.txt), 'utf8'), r.text + '\n');
        assert.match(readFileSync(join(out, r.outputs.srt), 'utf8'), /^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n[A-Z' ]+\n/);
        assert.match(readFileSync(join(out, r.outputs.vtt), 'utf8'), /^WEBVTT\n\n00:00:\d\d\.\d{3} --> /);
      }
      const failures = jsonl(join(out, 'failures.jsonl'));
      assert.deepEqual(failures.map((f) => [f.file.slice(dir.length + 1), f.code]).sort(), [['in/broken.wav', 'AUDIO_UNSUPPORTED_FORMAT'], ['in/empty.wav', 'AUDIO_EMPTY']]);

      const again = await runBatchJob({ inputs: [join(dir, 'in')], out, model, formats: ['txt', 'srt', 'vtt'], batchSize: 2 });
      assert.deepEqual({ done: again.done, failed: again.failed, skipped: again.skipped }, { done: 0, failed: 2, skipped: 3 });
      assert.equal(jsonl(join(out, 'transcripts.jsonl')).length, 3);
      assert.equal(jsonl(join(out, 'failures.jsonl')).length, 2);
      const skipFailed = await runBatchJob({ inputs: [join(dir, 'in')], out, model, formats: ['txt', 'srt', 'vtt'], retryFailed: false });
      assert.equal(skipFailed.skipped, 5);
    });

    it('an abort stops after the running batch and leaves a folder that a rerun completes, each file once', async () => {
      const out = join(dir, 'out-abort');
      const inputs = good;
      const ac = new AbortController();
      const first = await runBatchJob({ inputs, out, model, batchSize: 1, signal: ac.signal, onFile: () => ac.abort() });
      assert.ok(first.interrupted);
      assert.ok(first.done >= 1 && first.remaining >= 1, JSON.stringify(first));
      assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('.')), [], 'no lock or temporary files left');
      const second = await runBatchJob({ inputs, out, model, batchSize: 1 });
      assert.equal(second.skipped, first.done);
      assert.equal(first.done + second.done, good.length);
      assert.deepEqual(jsonl(join(out, 'transcripts.jsonl')).map((r) => r.file).sort(), [...good].sort());
    });

    it('--features writes the layers extractFeatures gives, with or without text; settings changes are refused', async () => {
      const out = join(dir, 'out-feat');
      const s = await runBatchJob({ inputs: [good[0]!], out, model, features: [1, 4] });
      assert.equal(s.done, 1);
      const [rec] = jsonl(join(out, 'transcripts.jsonl'));
      assert.equal(rec!.text, undefined);
      const { samples } = await loadForModel(model, good[0]!);
      const { features } = await model.extractFeatures(samples, { numLayers: 4 });
      [0, 3].forEach((l, i) => {
        const npy = readNpy(join(out, rec!.features.files[i]));
        assert.deepEqual(npy.shape, features[l]!.shape.slice(1));
        assert.ok(maxAbsDiff(npy.data, features[l]!.data) < 1e-5);
      });
      await assert.rejects(runBatchJob({ inputs: [good[0]!], out, model, features: [1, 4], text: true }), (e: any) => e.code === 'BATCH_OPTIONS_CHANGED');
      await assert.rejects(runBatchJob({ inputs: [good[0]!], out, model, batchSize: 0 }), (e: any) => e.code === 'INVALID_INPUT' && /batchSize/.test(e.message));
      // The default model has 4 layers: a 5th is refused before its folder gets a job.json.
      const deep = join(dir, 'out-feat-deep');
      await rejectsCode(runBatchJob({ inputs: [good[0]!], out: deep, model, features: [1, 5] }), 'INVALID_INPUT', /within \[1, 4\]/);
      assert.ok(!existsSync(join(deep, 'job.json')));
    });
  });
});
