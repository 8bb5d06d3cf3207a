/**
 * `npm run eval`: CER and WER of a model on the default model's held-out set, with greedy decoding and with
 * beam search + a 3-gram LM built from the training text (Kneser-Ney, scripts/build-arpa.ts).
 *
 * The held-out audio is made again from scripts/make_default_model/text/heldout.tsv with the same espeak-ng and
 * sox commands as the training data (scripts/make_default_model/data.py `synth`), so this needs no Python:
 * only Debian's espeak-ng and sox. Items run one at a time (the conv feature extractor's group norm would see
 * padding in a batch). Prints a table and writes bench/results/eval-*.json and eval-latest.md.
 *
 *   --model FILE   (default models/default.pt)    --limit N   first N utterances of each subset
 *   --beam-size N  (default 50)                   --jobs N    synthesis processes (default 2)
 *   --dtype T      float32 (default), bfloat16, float16, int8 or auto: the accuracy cost of reduced precision (int8
 *                  and a native bfloat16 need the model as a Hugging Face folder: for the default model,
 *                  scripts/make_default_model/hf_folder.py makes one from models/default.pt)
 *                  and say on how many frames the emissions' argmax is float32's (the model run again in float32)
 *   --greedy-only  skip the beam-search decoders
 *   --set S        gen1 (default): text/heldout.tsv, LM from text/train.txt.gz; gen2: the second generation's set
 *                  (text/gen2/heldout.tsv: unseen words, the held-out voice source) followed by gen1's 600 utterances
 *                  as gen1_* subsets, LM from text/gen2/train.txt.gz; it also needs flite, festival and pico2wave
 *                  (scripts/make_default_model/install_deps.sh) and makes the audio as synth.py does
 *
 * Without a lexicon, a word LM's weight and the per-word score need tuning (the defaults, torchaudio's, suit a
 * lexicon-constrained search). The lexicon-free decoder is also run with weights chosen by 2-fold
 * cross-validation on the held-out set: each half is decoded with the grid point that scored the lowest CER on the
 * other half, so no utterance is scored with weights tuned on itself.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { CTCBeamSearchDecoder, GreedyCTCDecoder, Lexicon, NGramLanguageModel } from '../lib/decode';
import { loadModel } from '../lib/model/load';
import type { DTypeOption } from '../lib/model/model';
import { loadForModel } from '../lib/pipeline/transcribe';
import { maxAbsDiff } from '../lib/tensor';
import { machine, sameArgmax, table, writeResults } from './stats';
import { buildArpa, readText, sentencesOf } from '../scripts/build-arpa';

const ROOT = join(__dirname, '..');
const DATA = join(ROOT, 'scripts', 'make_default_model');
const CACHE = join(ROOT, 'test', 'fixtures', 'generated', 'heldout');
const run = promisify(execFile);

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: join(ROOT, 'models', 'default.pt') },
    limit: { type: 'string' },
    'beam-size': { type: 'string', default: '50' },
    jobs: { type: 'string', default: '2' },
    dtype: { type: 'string', default: 'float32' },
    'greedy-only': { type: 'boolean', default: false },
    set: { type: 'string', default: 'gen1' },
  },
});
if (args.set !== 'gen1' && args.set !== 'gen2') throw new Error(`--set must be gen1 or gen2, got ${args.set}`);
const TEXT = args.set === 'gen2' ? join(DATA, 'text', 'gen2') : join(DATA, 'text');

/** eval-latest.md for the default model in float32; other models and dtypes get their own name. */
function resultName(): string {
  const model = args.model === join(ROOT, 'models', 'default.pt') ? '' : `-${basename(args.model!.replace(/\/+$/, ''), '.pt')}`;
  return `eval${model}${args.set === 'gen2' ? '-gen2' : ''}${args.dtype === 'float32' ? '' : `-${args.dtype}`}`;
}

/** engine: espeak-ng when absent (gen1's rows); flite, festival and pico only in gen2's. */
interface Utterance { id: string; subset: string; voice: string; speed: string; pitch: string; gap: string; sox_effects: string; text: string; engine?: string }

function readTsv(path: string): Utterance[] {
  const [head, ...lines] = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim());
  const keys = head!.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [keys[i], v])) as unknown as Utterance);
}

/** The held-out rows: gen1's, or gen2's followed by gen1's as gen1_* subsets (as data_gen2.py's audio stage). */
function readUtterances(): Utterance[] {
  const gen1 = readTsv(join(DATA, 'text', 'heldout.tsv'));
  if (args.set === 'gen1') return gen1;
  return [...readTsv(join(TEXT, 'heldout.tsv')), ...gen1.map((u) => ({ ...u, subset: `gen1_${u.subset}` }))];
}

/** A non-espeak engine's plain synthesis into a WAV file at its own rate, as scripts/make_default_model/synth.py. */
async function engineWav(u: Utterance, wav: string): Promise<void> {
  if (u.engine === 'flite') await run('flite', ['-voice', u.voice, '-t', u.text, '-o', wav]);
  else if (u.engine === 'pico') await run('pico2wave', ['-l', u.voice, '-w', wav, u.text]);
  else if (u.engine === 'festival') {
    // the text is [a-zA-Z' ] only (data_gen2.py), safe in a Scheme string; festival reads its script from a file
    writeFileSync(wav + '.scm', `(voice_${u.voice})\n(utt.save.wave (SynthText "${u.text}") "${wav}" 'riff)\n`);
    await run('festival', ['-b', wav + '.scm']);
    await run('rm', [wav + '.scm']);
  } else throw new Error(`unknown engine ${u.engine} in ${u.id}`);
}

/** espeak-ng (or gen2's other engines) -> sox, exactly as data.py's synth(); cached by id and a hash of the spec. */
async function synth(u: Utterance): Promise<string> {
  const espeakNg = (u.engine ?? 'espeak-ng') === 'espeak-ng';
  // gen1's hash, unchanged for espeak-ng rows (their cached files stay valid); other engines add theirs and 'to16k'
  // (files made before the 8 kHz rule below differ for flite's kal)
  const fields = [...(espeakNg ? [] : [u.engine!, 'to16k']), u.voice, u.speed, u.pitch, u.gap, u.sox_effects, u.text];
  const spec = createHash('sha256').update(fields.join('\t')).digest('hex').slice(0, 10);
  const out = join(CACHE, `${u.id}-${spec}.wav`);
  if (existsSync(out)) return out;
  let input: Buffer;
  if (espeakNg) {
    input = (await run('espeak-ng', ['-v', u.voice, '-s', u.speed, '-p', u.pitch, '-g', u.gap, '--stdout', u.text], { encoding: 'buffer', maxBuffer: 1 << 28 })).stdout;
  } else {
    await engineWav(u, out + '.engine.wav');
    input = readFileSync(out + '.engine.wav');
    await run('rm', [out + '.engine.wav']);
  }
  // as synth.py's to_16k(): a source below 16 kHz (flite's kal, 8 kHz) is brought up to it before the chain, whose
  // equaliser at 4 kHz would otherwise sit at its Nyquist frequency (the rate is the RIFF header's, bytes 24-27)
  const up = !espeakNg && input.readUInt32LE(24) < 16000 ? ['rate', '-h', '16000'] : [];
  const sox = ['-R', '-D', '-t', 'wav', '-', '-t', 'wav', '-e', 'signed', '-b', '16', '-c', '1', '-r', '16000', out + '.tmp.wav', ...up, ...u.sox_effects.split(' ')];
  await new Promise<void>((resolve, reject) => {
    const child = execFile('sox', sox, (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(input);
  });
  await run('mv', [out + '.tmp.wav', out]);
  return out;
}

/** Levenshtein distance between two sequences. */
function edits<T>(a: readonly T[], b: readonly T[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

class Score {
  charErr = 0; chars = 0; wordErr = 0; words = 0; n = 0;
  add(ref: string, hyp: string): void {
    this.charErr += edits([...ref], [...hyp]);
    this.chars += ref.length;
    const rw = ref.split(' ').filter(Boolean);
    this.wordErr += edits(rw, hyp.split(' ').filter(Boolean));
    this.words += rw.length;
    this.n++;
  }
  get cer(): number { return this.charErr / this.chars; }
  get wer(): number { return this.wordErr / this.words; }
}

async function main(): Promise<void> {
  for (const tool of ['espeak-ng', 'sox']) {
    try { await run(tool, ['--version']); } catch { throw new Error(`${tool} is needed to make the held-out audio (apt-get install espeak-ng sox)`); }
  }
  for (const tool of args.set === 'gen2' ? ['flite', 'festival', 'pico2wave'] : []) {
    try { await run('which', [tool]); } catch { throw new Error(`${tool} is needed for --set gen2 (bash scripts/make_default_model/install_deps.sh)`); }
  }
  let utts = readUtterances();
  if (args.limit) {
    const per = new Map<string, number>();
    utts = utts.filter((u) => { const k = (per.get(u.subset) ?? 0) + 1; per.set(u.subset, k); return k <= Number(args.limit); });
  }
  mkdirSync(CACHE, { recursive: true });
  const t0 = performance.now();
  const files: string[] = new Array(utts.length);
  let next = 0;
  await Promise.all(Array.from({ length: Number(args.jobs) }, async () => {
    while (next < utts.length) { const i = next++; files[i] = await synth(utts[i]!); }
  }));
  console.log(`held-out audio: ${utts.length} utterances (${((performance.now() - t0) / 1000).toFixed(0)} s to make or find)`);

  const model = await loadModel(args.model!, { dtype: args.dtype as DTypeOption });
  const reference = args.dtype === 'float32' ? null : await loadModel(args.model!, { dtype: 'float32' });
  const agreement = { frames: 0, same: 0, maxAbsDiff: 0 };
  const labels = model.labels!;
  // The LM and lexicon come from the training text only.
  // The same text, read the same way, as `npm run build:lm` writes models/default.arpa and its lexicon from.
  const trainText = readText(join(TEXT, 'train.txt.gz'));
  const sentences = sentencesOf(trainText, true);
  const t1 = performance.now();
  const { arpa, stats } = buildArpa(sentences, 3);
  const lm = NGramLanguageModel.fromArpa(arpa);
  const vocabulary = [...new Set(sentences.flat())];
  const lexicon = Lexicon.from(vocabulary.map((w) => [w, [...w, '|']] as [string, string[]]));
  console.log(`3-gram LM from ${sentences.length} training sentences: ${stats.counts.join(' / ')} n-grams, ${vocabulary.length} words (${((performance.now() - t1) / 1000).toFixed(1)} s)`);

  const common = { blankToken: labels[model.manifest?.blank ?? 0]!, silToken: model.manifest?.wordDelimiter ?? '|', beamSize: Number(args['beam-size']) };
  const decoders: Array<[string, (e: { data: Float32Array; shape: number[] }) => string]> = [];
  const greedy = new GreedyCTCDecoder(labels, { blank: model.manifest?.blank ?? 0 });
  decoders.push(['greedy', (e) => greedy.decode(e).text]);
  // The lexicon-free grid for cross-validation: [lmWeight, wordScore] -> decoder.
  const grid: Array<{ lmWeight: number; wordScore: number; decode: (e: { data: Float32Array; shape: number[] }) => string }> = [];
  const tunedName = `beam ${common.beamSize} + 3-gram LM, weights cross-validated`;
  if (!args['greedy-only']) {
    const beamLm = new CTCBeamSearchDecoder(labels, { ...common, lm });
    decoders.push([`beam ${common.beamSize} + 3-gram LM, default weights`, (e) => beamLm.decode(e).text]);
    const beamLex = new CTCBeamSearchDecoder(labels, { ...common, lm, lexicon });
    decoders.push([`beam ${common.beamSize} + lexicon + 3-gram LM`, (e) => beamLex.decode(e).text]);
    for (const lmWeight of [0.3, 0.5, 0.8]) {
      for (const wordScore of [2, 4, 6]) {
        const d = new CTCBeamSearchDecoder(labels, { ...common, lm, lmWeight, wordScore });
        grid.push({ lmWeight, wordScore, decode: (e) => d.decode(e).text });
      }
    }
  }

  const scores = new Map<string, Score>();
  const score = (decoder: string, subset: string) => {
    const k = `${decoder}\t${subset}`;
    if (!scores.has(k)) scores.set(k, new Score());
    return scores.get(k)!;
  };
  const t2 = performance.now();
  let audioSeconds = 0;
  let referenceMs = 0;
  const hyps: string[][] = []; // per utterance, per grid point
  for (let i = 0; i < utts.length; i++) {
    const { samples, duration } = await loadForModel(model, files[i]!);
    audioSeconds += duration;
    const { emissions } = await model.forward(samples);
    const e = { data: emissions.data, shape: emissions.shape.slice(1) };
    const ref = utts[i]!.text.toUpperCase();
    for (const [name, decode] of decoders) {
      const hyp = decode(e);
      score(name, utts[i]!.subset).add(ref, hyp);
      score(name, 'all').add(ref, hyp);
    }
    hyps.push(grid.map((g) => g.decode(e)));
    if (reference) {
      const t = performance.now();
      const ref = (await reference.forward(samples)).emissions.data;
      agreement.frames += ref.length / labels.length;
      agreement.same += sameArgmax(e.data, ref, labels.length);
      agreement.maxAbsDiff = Math.max(agreement.maxAbsDiff, maxAbsDiff(e.data, ref));
      referenceMs += performance.now() - t;  // not the model's time: taken out of it below
    }
  }
  model.dispose();
  reference?.dispose();
  const seconds = (performance.now() - t2 - referenceMs) / 1000;

  // 2-fold cross-validation of the lexicon-free weights: folds by utterance index parity (every subset in both).
  const folds: Array<{ fold: number; lmWeight: number; wordScore: number; tunedOnCer: number }> = [];
  if (grid.length) {
    for (const fold of [0, 1]) {
      const other = utts.map((_, i) => i).filter((i) => i % 2 !== fold);
      const cerOf = (k: number) => { const sc = new Score(); for (const i of other) sc.add(utts[i]!.text.toUpperCase(), hyps[i]![k]!); return sc.cer; };
      const cers = grid.map((_, k) => cerOf(k));
      const best = cers.indexOf(Math.min(...cers));
      folds.push({ fold, lmWeight: grid[best]!.lmWeight, wordScore: grid[best]!.wordScore, tunedOnCer: cers[best]! });
      for (let i = fold; i < utts.length; i += 2) {
        const ref = utts[i]!.text.toUpperCase();
        score(tunedName, utts[i]!.subset).add(ref, hyps[i]![best]!);
        score(tunedName, 'all').add(ref, hyps[i]![best]!);
      }
    }
  }

  const subsets = [...new Set(utts.map((u) => u.subset)), 'all'];
  // the cross-validated rows were scored above, from the grid's hypotheses
  const names = [...decoders.map(([name]) => name), ...(folds.length ? [tunedName] : [])];
  const rows = names.flatMap((name) => subsets.map((s) => {
    const sc = score(name, s);
    return [name, s, sc.n, `${(sc.cer * 100).toFixed(2)} %`, `${(sc.wer * 100).toFixed(2)} %`];
  }));
  const md = [
    `eval — ${args.model!.replace(ROOT + '/', '')}${args.dtype === 'float32' ? '' : ` (${args.dtype})`} on the held-out set (${utts.length} utterances, ${(audioSeconds / 60).toFixed(1)} min of audio; ` +
      `model + all decoders ${seconds.toFixed(0)} s), ${new Date().toISOString().slice(0, 10)}`,
    '',
    table(['decoder', 'subset', 'utterances', 'CER', 'WER'], rows),
    ...(folds.length ? ['', `Cross-validated lexicon-free weights (grid lmWeight ${[...new Set(grid.map((g) => g.lmWeight))].join(' / ')} × wordScore ` +
      `${[...new Set(grid.map((g) => g.wordScore))].join(' / ')}; each half of the utterances (by index parity) decoded with the best on the other half): ` +
      folds.map((f) => `half ${f.fold}: lmWeight ${f.lmWeight}, wordScore ${f.wordScore}`).join('; ') + '.'] : []),
    ...(reference ? ['', `Against the same model in float32: ${(100 * agreement.same / agreement.frames).toFixed(2)} % of ${agreement.frames} frames ` +
      `with float32's argmax label; max abs difference of the emissions ${agreement.maxAbsDiff.toExponential(2)}.`] : []),
  ].join('\n');
  console.log('\n' + md);
  const json = {
    machine: machine(), model: args.model, dtype: args.dtype, utterances: utts.length, audioSeconds, lm: stats, crossValidation: folds,
    ...(reference ? { againstFloat32: { frames: agreement.frames, sameArgmax: agreement.same / agreement.frames, maxAbsDiff: agreement.maxAbsDiff } } : {}),
    results: Object.fromEntries([...scores].map(([k, s]) => [k, { n: s.n, cer: s.cer, wer: s.wer, chars: s.chars, words: s.words }])),
  };
  console.log(`\nwrote ${writeResults(resultName(), json, md).replace(ROOT + '/', '')}`);
}

main().catch((err) => {
  console.error(`eval: ${err.message ?? err}`);
  process.exit(1);
});
