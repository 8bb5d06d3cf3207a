/**
 * Batch jobs cut on speech (`segment: 'speech'`): pieces tile the file's frames exactly (checked on a frame-local
 * model against the whole file), words keep file time (checked on real espeak-ng speech against where each sentence
 * was placed and what it says), the pieces stay bounded, and the options are checked.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH as DEFAULT_MODEL } from '../../lib/paths';
import { GreedyCTCDecoder } from '../../lib/decode';
import { runBatchJob } from '../../lib/jobs';
import { readSpeechPieces, speechPlan } from '../../lib/jobs/speech-pieces';
import { type Model } from '../../lib/model/model';
import { loadModel } from '../../lib/model/load';
import { maxAbsDiff } from '../../lib/tensor';
import { SEGMENTER_DEFAULTS } from '../../lib/stream/segmenter';
import { loadForModel } from '../../lib/pipeline/transcribe';
import { wavBytes } from '../helpers/audio-corpus';
import { frameLocalModel, labelSignal } from '../helpers/frame-local-model';
import { readNpy } from '../helpers/npy';
import { rejectsCode } from '../helpers/errors';
import { requireAddon } from '../helpers/native';
import { lcs, requireSpeechTools, sentences, speak } from '../helpers/speech';

const CLI = join(__dirname, '..', '..', 'lib', 'cli', 'index.ts');

function jsonl(file: string): Array<Record<string, any>> {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** A stretch of labelSignal that begins and ends on a word delimiter (value 0.1), so a cut beside it splits no word. */
function words(seconds: number, seed: number): Float32Array {
  const edge = new Float32Array(640).fill(0.1);
  return concat([edge, labelSignal(seconds, seed), edge]);
}

describe('batch: long files cut on speech', function () {
  this.timeout(120000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'w2v-speech-seg-'));
  });

  describe('on a frame-local model', () => {
    it('cuts in the pauses and gives the whole file\'s words, times and features exactly', async () => {
      const model = frameLocalModel();
      const x = concat([words(3, 1), new Float32Array(16000), words(2, 2), new Float32Array(12800), words(2, 3)]);
      const file = join(dir, 'pauses.wav');
      writeFileSync(file, wavBytes(x, 16000));
      const out = join(dir, 'out-pauses');
      const s = await runBatchJob({ inputs: [file], out, model, segment: 'speech', batchSize: 2, features: [1, 2], text: true });
      assert.equal(s.done, 1);
      const [rec] = jsonl(join(out, 'transcripts.jsonl'));
      // Two pauses over minSilenceMs: three pieces.
      assert.equal(rec!.pieces, 3);
      const whole = await model.forward([x]);
      const decoder = new GreedyCTCDecoder(model.labels!, { frameStride: 320, sampleRate: 16000 });
      const ref = decoder.decode({ data: whole.emissions.data, shape: whole.emissions.shape.slice(1) });
      assert.equal(rec!.text, ref.text);
      assert.deepEqual(rec!.words.map((w: any) => [w.word, w.start, w.end]), ref.words.map((w) => [w.word, +w.start.toFixed(3), +w.end.toFixed(3)]));
      const feats = await model.extractFeatures([x], { numLayers: 2 });
      rec!.features.files.forEach((rel: string, l: number) => {
        const npy = readNpy(join(out, rel));
        assert.deepEqual(npy.shape, feats.features[l]!.shape.slice(1));
        assert.equal(maxAbsDiff(npy.data, feats.features[l]!.data), 0);
      });
    });

    it('cuts speech without pauses at its longest, holding no piece longer, frames still exact', async () => {
      const model = frameLocalModel();
      const x = labelSignal(9, 7);
      const file = join(dir, 'no-pause.wav');
      writeFileSync(file, wavBytes(x, 16000));
      const plan = speechPlan({ ...SEGMENTER_DEFAULTS, maxSegmentMs: 2000 }, 16000, 320, 400);
      const source = { sourceRate: null, samples: 0 };
      let next = 0;
      let pieces = 0;
      for await (const p of readSpeechPieces(file, 16000, plan, source)) {
        assert.ok(p.samples.length <= plan.longest, `piece of ${p.samples.length} samples, longest ${plan.longest}`);
        assert.equal(p.offset, next, 'pieces follow each other');
        next = p.offset + p.samples.length - (p.last ? 0 : 80);
        pieces++;
      }
      assert.equal(next, x.length);
      assert.ok(pieces >= 5, `${pieces} pieces of at most 2 s for 9 s`);
      const out = join(dir, 'out-no-pause');
      await runBatchJob({ inputs: [file], out, model, segment: 'speech', segmenter: { maxSegmentMs: 2000 }, features: [1] });
      const [rec] = jsonl(join(out, 'transcripts.jsonl'));
      assert.equal(rec!.pieces, pieces);
      const feats = await model.extractFeatures([x], { numLayers: 1 });
      assert.equal(maxAbsDiff(readNpy(join(out, rec!.features.files[0])).data, feats.features[0]!.data), 0);
    });
  });

  describe('options', () => {
    it('are checked before anything is read, one mistake one message', async () => {
      const model = frameLocalModel();
      const job = { inputs: [join(dir, 'none.wav')], out: join(dir, 'out-bad'), model };
      await rejectsCode(runBatchJob({ ...job, segment: 'words' as never }), 'INVALID_INPUT', /segment: expected 'windows' or 'speech'/);
      await rejectsCode(runBatchJob({ ...job, segmenter: { minSilenceMs: 300 } }), 'INVALID_INPUT', /segmenter: expected no segmenter settings unless segment is 'speech'/);
      await rejectsCode(runBatchJob({ ...job, segment: 'speech', windowSeconds: 20 }), 'INVALID_INPUT', /windowSeconds: expected none with segment 'speech'/);
      await rejectsCode(runBatchJob({ ...job, segment: 'speech', strideSeconds: 2 }), 'INVALID_INPUT', /strideSeconds: expected none/);
      await rejectsCode(runBatchJob({ ...job, segment: 'speech', segmenter: 500 as never }), 'INVALID_INPUT', /segmenter: expected an object/);
      await rejectsCode(runBatchJob({ ...job, segment: 'speech', segmenter: { minSilenceMs: 5 } }), 'INVALID_INPUT', /segmenter\.minSilenceMs: expected a number within \[100, 10000\]/);
      await rejectsCode(runBatchJob({ ...job, segment: 'speech', segmenter: { maxSegmentMs: 400, minSilenceMs: 500 } }), 'INVALID_INPUT', /segmenter\.maxSegmentMs/);
    });

    it('are part of the job\'s settings: a folder cut on windows is not resumed on speech', async () => {
      const model = frameLocalModel();
      const file = join(dir, 'settings.wav');
      writeFileSync(file, wavBytes(words(1, 4), 16000));
      const out = join(dir, 'out-settings');
      await runBatchJob({ inputs: [file], out, model });
      await rejectsCode(runBatchJob({ inputs: [file], out, model, segment: 'speech' }), 'BATCH_OPTIONS_CHANGED', /segment/);
    });

    it('on the command line: flags that do not go together are usage errors (status 2, one line)', () => {
      const cases: Array<[string[], RegExp]> = [
        [['--min-silence-ms', '400'], /--min-silence-ms: only used with --segment speech/],
        [['--segment', 'windows', '--max-segment-ms', '20000'], /--max-segment-ms: only used with --segment speech/],
        [['--segment', 'speech', '--window-seconds', '20'], /--window-seconds: not used with --segment speech/],
        [['--segment', 'words'], /--segment.*words.*windows, speech/],
        [['--segment', 'speech', '--min-silence-ms', '50'], /segmenter\.minSilenceMs: expected a number within \[100, 10000\]/],
      ];
      for (const [flags, pattern] of cases) {
        const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'batch', join(dir, 'none.wav'), '--out', join(dir, 'out-cli'), ...flags], { encoding: 'utf8', timeout: 60000 });
        assert.match(r.stderr, pattern, flags.join(' '));
        assert.equal(r.stderr.trim().split('\n').length <= 2, true, r.stderr);
        // A bad value reaches runBatchJob's check (exit 1, INVALID_INPUT); the rest stop at the command line.
        assert.equal(r.status, flags.includes('50') ? 1 : 2, `${flags.join(' ')}: ${r.stderr}`);
      }
    });
  });

  describe('on real speech through the default model', () => {
    let model: Model;
    before(async function () {
      requireAddon(this);
      requireSpeechTools(this);
      model = await loadModel(DEFAULT_MODEL);
    });
    after(() => model?.dispose());

    it('transcribes each sentence where it was placed, with what was said, in file time', async () => {
      // Sentences spoken one by one and placed at known times with pauses of 0.8 to 2.6 s: the ground truth.
      const text = sentences(16, 40);
      const placed: Array<{ start: number; end: number; voiced: [number, number]; words: string[] }> = [];
      const parts: Float32Array[] = [new Float32Array(16000)];
      let t = 1;
      for (let i = 0; i < text.length; i++) {
        const { samples } = await loadForModel(model, speak(text[i]!, join(dir, `s${i}.wav`)));
        // Where the voice is, by the samples themselves: espeak-ng pads each sentence with up to half a second of silence.
        const loud = (v: number) => Math.abs(v) > 0.01;
        let last = samples.length - 1;
        while (last > 0 && !loud(samples[last]!)) last--;
        const voiced: [number, number] = [t + samples.findIndex(loud) / 16000, t + last / 16000];
        placed.push({ start: t, end: t + samples.length / 16000, voiced, words: text[i]!.toUpperCase().split(' ') });
        const pause = new Float32Array(Math.round((0.8 + (i % 4) * 0.6) * 16000));
        parts.push(samples, pause);
        t += (samples.length + pause.length) / 16000;
      }
      const x = concat(parts);
      assert.ok(x.length / 16000 > 60, `a long file: ${x.length / 16000} s`);
      const file = join(dir, 'sentences.wav');
      writeFileSync(file, wavBytes(x, 16000));
      const out = join(dir, 'out-sentences');
      const s = await runBatchJob({ inputs: [file], out, model, segment: 'speech', formats: ['srt'] });
      assert.equal(s.done, 1);
      const [rec] = jsonl(join(out, 'transcripts.jsonl'));
      // Every pause is longer than minSilenceMs and espeak-ng pauses under 0.3 s between words: a piece per sentence.
      assert.equal(rec!.pieces, text.length);
      let agree = 0;
      let total = 0;
      for (const u of placed) {
        const inside = rec!.words.filter((w: any) => w.start >= u.start - 0.05 && w.end <= u.end + 0.05);
        assert.ok(inside.length > 0, `words for the sentence at ${u.start.toFixed(2)} s`);
        // The words span the voice: the first starts within 0.1 s of it (a drift of one frame per piece would pass
        // that by the sixth sentence); the last ends up to 0.25 s before its end (CTC's last letter is a short spike,
        // the voice decays after it).
        const [on, off] = u.voiced;
        assert.ok(Math.abs(inside[0].start - on) < 0.1 && off - inside.at(-1).end < 0.25 && inside.at(-1).end - off < 0.1, `${JSON.stringify(inside)}: voice in [${on}, ${off}]`);
        agree += lcs(inside.map((w: any) => w.word), u.words);
        total += u.words.length;
      }
      const outside = rec!.words.filter((w: any) => !placed.some((u) => w.start >= u.start - 0.05 && w.end <= u.end + 0.05));
      assert.deepEqual(outside, [], 'no words in the pauses');
      // The model gets about nine words in ten of the held-out set right (each utterance alone).
      assert.ok(agree / total >= 0.8, `${agree} of ${total} words in order`);
      const srt = readFileSync(join(out, rec!.outputs.srt), 'utf8');
      assert.match(srt, /^1\r?\n00:00:01,/, 'the first subtitle starts with the first sentence, at 1 s');
    });
  });
});
