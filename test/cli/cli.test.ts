/** The `wav2vec2` command line: outputs that tools can read, and one clear line for every user mistake. */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../lib/model/load';
import { loadAudio } from '../../lib/audio';
import { CTCBeamSearchDecoder, GreedyCTCDecoder } from '../../lib/decode';
import { maxAbsDiff } from '../../lib/tensor';
import { wavBytes } from '../helpers/audio-corpus';
import { runCli } from '../helpers/cli';
import { FIXTURES, manifest, readF32 } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';
import { DEFAULT_MODEL_PATH } from '../../lib/paths';
import { readNpy } from '../helpers/npy';

describe('cli', function () {
  this.timeout(120000);
  let dir: string;
  let wav: string;
  let model: string;
  let empty: string;
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  before(function () {
    requireAddon(this);
    dir = mkdtempSync(join(tmpdir(), 'w2v-cli-'));
    // The fixture's speech-like input as a float WAV: the samples torchaudio's reference outputs were made from.
    wav = join(dir, 'single.wav');
    writeFileSync(wav, wavBytes(readF32(manifest.inputs.single.file)));
    // The fixture model with a manifest (labels) beside it, as an exported model would have.
    model = join(dir, 'tiny.pt');
    copyFileSync(join(FIXTURES, 'models', 'ta_tiny_base.pt'), model);
    empty = join(dir, 'empty.pt');
    writeFileSync(empty, '');
    writeFileSync(join(dir, 'tiny.json'), JSON.stringify({ format: 'wav2vec2-node-model/1', labels: manifest.labels, sampleRate: 16000, blank: 0, wordDelimiter: '|', normalizeWaveform: false, frameStride: 320, receptiveField: 400 }));
  });

  it('transcribe prints the reference greedy transcript of the fixture (torchaudio\'s, words split at |)', () => {
    const r = runCli(['transcribe', wav, '--model', model]);
    assert.equal(r.status, 0, r.stderr);
    const reference = (manifest.models.ta_tiny_base.greedy_ctc.single.transcript as string).split('|').filter(Boolean).join(' ');
    assert.ok(reference.length > 0);
    assert.equal(r.stdout.trim(), reference);
  });

  it('transcribe --json prints what the library decodes, one object per file', async () => {
    const r = runCli(['transcribe', wav, wav, '--model', model, '--json', '--timestamps']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    const m = await loadModel(model);
    try {
      const audio = await loadAudio(wav, { mono: true });
      const out = await m.forward(audio.channels[0]!);
      const expected = new GreedyCTCDecoder(manifest.labels).decode({ data: out.emissions.data, shape: out.emissions.shape.slice(1) });
      assert.equal(lines[0].text, expected.text);
      assert.equal(lines[0].duration, 2.2);
      assert.equal(lines[0].decoder, 'greedy');
      assert.equal(lines[0].words.length, expected.words.length);
      // The one word shape (lib/output): seconds to the millisecond, as the decoder reports them.
      lines[0].words.forEach((w: Record<string, unknown>, i: number) => {
        assert.deepEqual(Object.keys(w), ['word', 'start', 'end', 'confidence']);
        assert.deepEqual([w.word, w.start, w.end], [expected.words[i]!.word, +expected.words[i]!.start.toFixed(3), +expected.words[i]!.end.toFixed(3)]);
      });
      assert.deepEqual(lines[1].text, lines[0].text);
      const plain = JSON.parse(runCli(['transcribe', wav, '--model', model, '--json']).stdout);
      assert.equal(plain.words, undefined, 'words only with --timestamps');
    } finally {
      m.dispose();
    }
  });

  it('--hotword WORD:BOOST implies beam search and reaches the decoder as { words, weight }', async () => {
    const m = await loadModel(model);
    let withBoost: string;
    try {
      const out = await m.forward((await loadAudio(wav, { mono: true })).channels[0]!);
      const emission = { data: out.emissions.data, shape: out.emissions.shape.slice(1) };
      const beam = (hotwords?: { words: string[]; weight: number }) => new CTCBeamSearchDecoder(manifest.labels, { silToken: '|', ...(hotwords ? { hotwords } : {}) }).decode(emission).text;
      withBoost = beam({ words: ['TEA', 'EAT'], weight: 30 });
      // the boost must change this transcript, or the comparison below would not show that it arrived
      assert.notEqual(withBoost, beam());
    } finally {
      m.dispose();
    }
    const r = runCli(['transcribe', wav, '--model', model, '--json', '--hotword', 'TEA:30', '--hotword', 'EAT']);
    assert.equal(r.status, 0, r.stderr);
    const line = JSON.parse(r.stdout);
    assert.equal(line.decoder, 'beam');
    assert.equal(line.text, withBoost);
  });

  it('features writes one .npy per layer, equal to extractFeatures', async () => {
    const out = join(dir, 'feat');
    const r = runCli(['features', wav, '--model', model, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const m = await loadModel(model);
    try {
      const audio = await loadAudio(wav, { mono: true });
      const { features } = await m.extractFeatures(audio.channels[0]!);
      features.forEach((f, i) => {
        const npy = readNpy(join(out, `layer0${i + 1}.npy`));
        assert.deepEqual(npy.shape, f.shape.slice(1));
        assert.ok(maxAbsDiff(npy.data, f.data) === 0);
      });
      assert.ok(!existsSync(join(out, 'layer03.npy')));
    } finally {
      m.dispose();
    }
  });

  it('features --num-layers 1 writes only the first layer', () => {
    const out = join(dir, 'feat1');
    const r = runCli(['features', wav, '--model', model, '--out', out, '--num-layers', '1']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(out, 'layer01.npy')));
    assert.ok(!existsSync(join(out, 'layer02.npy')));
  });

  it('plot writes the feature and emission pictures as PNG', () => {
    const out = join(dir, 'plot');
    const r = runCli(['plot', wav, '--model', model, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['features.png', 'emission.png']) {
      const png = readFileSync(join(out, name));
      assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], `${name} is a PNG`);
      assert.ok(png.readUInt32BE(16) >= 400 && png.readUInt32BE(20) >= 200, `${name} has a sensible size`);
    }
  });

  describe('user mistakes: one line on stderr, no stack, non-zero status', () => {
    const cases: Array<[string, () => string[], number, RegExp]> = [
      ['a missing audio file', () => ['transcribe', join(dir, 'nope.wav'), '--model', model], 1, /AUDIO_READ_FAILED/],
      ['a file that is not audio', () => ['transcribe', join(dir, 'tiny.json'), '--model', model], 1, /AUDIO_UNSUPPORTED_FORMAT/],
      ['--models-dir without --bundle', () => ['transcribe', wav, '--model', model, '--models-dir', dir], 2, /only used with --bundle/],
      // the resolved path, and where the embedded model is
      ['a missing model', () => ['transcribe', wav, '--model', 'nope.pt'], 1, new RegExp(`Model file ${escape(join(process.cwd(), 'nope.pt'))} not found\\. The embedded default model is ${escape(DEFAULT_MODEL_PATH)}.*\\[MODEL_NOT_FOUND\\]`)],
      ['a manifest given as the model', () => ['transcribe', wav, '--model', join(dir, 'tiny.json')], 1, /tiny\.json is not a TorchScript archive \(.*starts with the text "\{\\"fo"\)\. \[MODEL_LOAD_FAILED\]/],
      ['an empty model file', () => ['transcribe', wav, '--model', empty], 1, /empty\.pt is not a TorchScript archive .*it is empty.*\[MODEL_LOAD_FAILED\]/],
      ['a directory as the model', () => ['transcribe', wav, '--model', dir], 1, /is a folder without a config\.json: .* \[MODEL_LOAD_FAILED\]/],
      ['an unknown bundle', () => ['transcribe', wav, '--bundle', 'WAV2VEC3'], 1, /UNKNOWN_BUNDLE/],
      // the command-line flag, not only the API's option
      ['a bundle whose model was not exported', () => ['transcribe', wav, '--bundle', 'WAV2VEC2_ASR_BASE_960H', '--models-dir', dir], 1, /export_torchaudio\.py.*--models-dir DIR on the command line/],
      ['--model with --bundle', () => ['transcribe', wav, '--model', model, '--bundle', 'WAV2VEC2_ASR_BASE_960H'], 2, /^wav2vec2: option .* cannot be used with .* \[INVALID_INPUT\]/],
      ['a bad device', () => ['transcribe', wav, '--model', model, '--device', 'gpu'], 2, /--device: expected cpu, cuda or cuda:N, got "gpu"\. \[INVALID_INPUT\]/],
      ['a bad thread count', () => ['transcribe', wav, '--model', model, '--threads', 'two'], 2, /--threads: expected a positive integer, got "two"/],
      ['zero threads', () => ['transcribe', wav, '--model', model, '--threads', '0'], 2, /--threads: expected a positive integer, got "0"\. \[INVALID_INPUT\]/],
      ['a bad decoder', () => ['transcribe', wav, '--model', model, '--decoder', 'beamz'], 2, /--decoder: expected greedy or beam, got "beamz"\. \[DECODE_INVALID_INPUT\]/],
      ['a bad beam size', () => ['transcribe', wav, '--model', model, '--beam-size', '0'], 2, /--beam-size: expected a positive integer, got "0"\. \[DECODE_INVALID_INPUT\]/],
      ['a language model with --decoder greedy', () => ['transcribe', wav, '--model', model, '--decoder', 'greedy', '--lm', 'lm.arpa'], 2, /--lm: beam-search option, ignored by --decoder greedy.* \[DECODE_INVALID_INPUT\]/],
      ['beam flags with --decoder greedy', () => ['transcribe', wav, '--model', model, '--decoder', 'greedy', '--beam-size', '5', '--hotword', 'A'], 2, /--hotword, --beam-size: beam-search options/],
      ['a malformed hotword', () => ['transcribe', wav, '--model', model, '--hotword', 'WORD:x'], 2, /--hotword/],
      ['hotwords with different boosts', () => ['transcribe', wav, '--model', model, '--hotword', 'A:5', '--hotword', 'B:6'], 2, /--hotword: all hotwords share one boost, got 5 and 6/],
      ['no files', () => ['transcribe'], 2, /^wav2vec2: missing required argument 'files' \[INVALID_INPUT\]/],
      ['features without --out', () => ['features', wav, '--model', model], 2, /--out/],
      // a file system error keeps its code
      ['features --out onto an existing file', () => ['features', wav, '--model', model, '--out', join(dir, 'tiny.json')], 1, /^wav2vec2: file already exists, mkdir '.*tiny\.json' \[EEXIST\]/],
      ['an unknown command', () => ['transcribbe', wav], 2, /unknown command/],
      // server-level values, checked before any model loads, name their flag
      ['a short serve --api-key', () => ['serve', '--api-key', 'short'], 2, /^wav2vec2: --api-key: expected at least 16 printable ASCII characters/],
      ['a serve --cors origin with a path', () => ['serve', '--cors', 'http://app.example/page'], 2, /^wav2vec2: --cors: expected/],
      ['a serve rate range upside down', () => ['serve', '--min-sample-rate', '48000', '--max-sample-rate', '16000'], 2, /--min-sample-rate 48000 is above --max-sample-rate 16000/],
      ['too many audio workers', () => ['serve', '--audio-workers', '65'], 2, /--audio-workers: expected an integer within \[1, 64\], got "65"/],
      ['a negative serve --warmup', () => ['serve', '--warmup', '-1'], 2, /--warmup: expected a number of seconds within \[0, 120\], got "-1"/],
      ['a port that is not a number', () => ['serve', '--port', 'abc'], 2, /--port: expected an integer within \[0, 65535\], got "abc"/],
      ['a batch window of 0 s', () => ['batch', wav, '--out', join(dir, 'never'), '--window-seconds', '0'], 2, /--window-seconds: expected a number > 0, got "0"/],
      ['the old --layers of features', () => ['features', wav, '--out', join(dir, 'never'), '--layers', '1'], 2, /unknown option '--layers'/],
      ['a serve --max-body-bytes that is not a size', () => ['serve', '--max-body-bytes', '25MB'], 2, /--max-body-bytes: expected a number of bytes, such as 65536 or 25M/],
    ];
    for (const [what, args, status, pattern] of cases) {
      it(what, () => {
        const r = runCli(args());
        assert.equal(r.status, status, r.stderr);
        assert.match(r.stderr, pattern);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.ok(r.stderr.trim().split('\n').length <= 3, r.stderr); // message, maybe a suggestion, the --help hint
      });
    }
  });
});
