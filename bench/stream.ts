/**
 * `npm run bench:stream`: live streams (GET /v1/stream).
 *
 * 1. Accuracy. The default model's held-out set (scripts/make_default_model/text/heldout.tsv, synthesised with
 *    espeak-ng + sox exactly as `npm run eval` does, cached in test/fixtures/generated/heldout) is joined into
 *    recordings of 1–3 minutes (0.7 s of silence between utterances). Each recording is transcribed offline by
 *    runBatchJob (what `wav2vec2 batch` does with a long file) in its 30 s windows and cut on speech
 *    (`segment: 'speech'`: the stream's segmenter, each piece whole), and streamed (a StreamSession, the server's
 *    window layout). WER of each against the held-out text, and the word disagreement of each with both batch jobs.
 * 2. Capacity. `wav2vec2 serve` in a child process; N clients each stream a recording at real time in 100 ms PCM16
 *    chunks. Partial latency: from the moment the audio sample at a word's end was sent to the first message that
 *    shows that word as it ends up in the final. Final latency: from the moment the audio at the segment's end (its
 *    last committed frame, where the segmenter ended it) was sent to the final. The most streams whose p95s meet
 *    1 s and 0.5 s (and no stream failed) is reported, for the default model as it was when streaming was added
 *    (a copy kept in bench/stream-model/) and for base-size random weights (bench/models/base.pt, built by
 *    scripts/make_bench_models.py as bench:core does).
 *
 *   --utterances N   held-out utterances joined into recordings (default 120)
 *   --levels LIST    stream counts for the default model (default 2,4,8,16,24,32,48)
 *   --window L,C,A   the server's stream window in ms (left, chunk, look-ahead; default the server's 1600,480,960)
 *   --skip-accuracy  capacity only
 *   --accuracy-only  no capacity runs (both models); bench/results is left as it is, the accuracy goes to
 *                    bench/results/tmp/stream-accuracy.json (for tuning, or for --accuracy-from)
 *   --accuracy-from F  take the accuracy from F (an --accuracy-only run) instead of measuring it: the capacity run
 *                    can then wait for the benchmark lock without the accuracy run holding it
 *   --offset K       take the held-out utterances from the K-th on (default 0; tune on K ≥ 1, report on 0)
 *   --base-levels L  stream counts for base random weights (default 1,2,4,8; 'none' skips)
 *   --seconds N      audio each client streams per level (default 30)
 *   --threads N      intra-op threads of the server's model (default 2)
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { GreedyCTCDecoder } from '../lib/decode';
import { runBatchJob, type SegmentMode } from '../lib/jobs';
import { type Model } from '../lib/model/model';
import { loadModel } from '../lib/model/load';
import { StreamSession, streamPlan, type FinalEvent } from '../lib/stream/session';
import { loadForModel } from '../lib/pipeline/transcribe';
import { findPython } from '../scripts/python';
import { wavBytes } from '../test/helpers/audio-corpus';
import { connect, pcm16, wordEdits, type Received } from '../test/helpers/ws-client';
import { machine, table, writeResults } from './stats';

const ROOT = join(__dirname, '..');
const CACHE = join(ROOT, 'test', 'fixtures', 'generated', 'heldout');
const STREAM_MODEL = join(ROOT, 'bench', 'stream-model', 'default.pt');
const run = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    utterances: { type: 'string', default: '120' }, levels: { type: 'string', default: '2,4,8,16,24,32,48' },
    window: { type: 'string' }, 'skip-accuracy': { type: 'boolean', default: false }, 'accuracy-only': { type: 'boolean', default: false },
    'accuracy-from': { type: 'string' },
    offset: { type: 'string', default: '0' },
    'base-levels': { type: 'string', default: '1,2,4,8' }, seconds: { type: 'string', default: '30' }, threads: { type: 'string', default: '2' },
  },
});
const RATE = 16000;
const GAP_S = 0.7;

interface Utterance { id: string; voice: string; speed: string; pitch: string; gap: string; sox_effects: string; text: string }
interface Recording { samples: Float32Array; text: string; utterances: number; parts: Float32Array[] }

function readTsv(path: string): Utterance[] {
  const [head, ...lines] = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim());
  const keys = head!.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [keys[i], v])) as unknown as Utterance);
}

/** espeak-ng -> sox as bench/eval.ts (and data.py's synth) does it, into the same cache. */
async function synth(u: Utterance): Promise<string> {
  const spec = createHash('sha256').update([u.voice, u.speed, u.pitch, u.gap, u.sox_effects, u.text].join('\t')).digest('hex').slice(0, 10);
  const out = join(CACHE, `${u.id}-${spec}.wav`);
  if (existsSync(out)) return out;
  const espeak = await run('espeak-ng', ['-v', u.voice, '-s', u.speed, '-p', u.pitch, '-g', u.gap, '--stdout', u.text], { encoding: 'buffer', maxBuffer: 1 << 28 });
  await new Promise<void>((resolve, reject) => {
    const child = execFile('sox', ['-R', '-D', '-t', 'wav', '-', '-t', 'wav', '-e', 'signed', '-b', '16', '-c', '1', '-r', '16000', out + '.tmp.wav', ...u.sox_effects.split(' ')], (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(espeak.stdout);
  });
  await run('mv', [out + '.tmp.wav', out]);
  return out;
}

/** Held-out utterances joined into recordings of about 1.5 minutes (never over 3). */
async function recordings(model: Model, count: number): Promise<Recording[]> {
  mkdirSync(CACHE, { recursive: true });
  const all = readTsv(join(ROOT, 'scripts', 'make_default_model', 'text', 'heldout.tsv'));
  // Every fifth: all four subsets (unseen sentences, voices, both, training sample) in order.
  // --offset shifts every pick by the same amount: a disjoint set of the same make-up to tune on.
  const step = Math.max(1, Math.floor(all.length / count));
  const offset = Number(args.offset) % step;
  const picked = all.filter((_, i) => i % step === offset).slice(0, count);
  const files: string[] = [];
  for (let i = 0; i < picked.length; i += 2) files.push(...await Promise.all(picked.slice(i, i + 2).map(synth)));
  const out: Recording[] = [];
  let parts: Float32Array[] = [];
  let texts: string[] = [];
  let length = 0;
  const flush = () => {
    const x = new Float32Array(length + Math.round(GAP_S * RATE));
    let o = Math.round(GAP_S * RATE);
    for (const p of parts) { x.set(p, o); o += p.length + Math.round(GAP_S * RATE); }
    out.push({ samples: x, text: texts.join(' '), utterances: parts.length, parts });
    parts = []; texts = []; length = 0;
  };
  for (let i = 0; i < files.length; i++) {
    const { samples } = await loadForModel(model, files[i]!);
    parts.push(samples);
    texts.push(picked[i]!.text.toUpperCase());
    length += samples.length + Math.round(GAP_S * RATE);
    if (length > 90 * RATE) flush();
  }
  if (parts.length) flush();
  // A short tail joins the recording before it (every recording 1–3 minutes).
  if (out.length > 1 && out.at(-1)!.samples.length < 60 * RATE) {
    const tail = out.pop()!;
    const prev = out.pop()!;
    const x = new Float32Array(prev.samples.length + tail.samples.length);
    x.set(prev.samples);
    x.set(tail.samples, prev.samples.length);
    out.push({ samples: x, text: `${prev.text} ${tail.text}`, utterances: prev.utterances + tail.utterances, parts: [...prev.parts, ...tail.parts] });
  }
  return out;
}

const words = (s: string) => s.split(' ').filter(Boolean);

async function emissionsOf(model: Model, x: Float32Array) {
  const { emissions } = await model.forward(x);
  return { data: emissions.data, shape: emissions.shape.slice(1) };
}

/** Transcripts of the recordings by runBatchJob, as `wav2vec2 batch` makes them: 30 s windows, or cut on speech. */
async function batchJob(model: Model, recs: Recording[], segment: SegmentMode): Promise<string[]> {
  const dir = join(ROOT, 'bench', 'results', 'tmp', `stream-${process.pid}-${segment}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = recs.map((r, i) => {
    const file = join(dir, `r${i}.wav`);
    writeFileSync(file, wavBytes(r.samples, RATE));
    return file;
  });
  await runBatchJob({ inputs: files, out: join(dir, 'out'), model, segment });
  const text = new Map<string, string>();
  for (const l of readFileSync(join(dir, 'out', 'transcripts.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const r = JSON.parse(l) as { file: string; text: string };
    text.set(r.file, r.text);
  }
  rmSync(dir, { recursive: true, force: true });
  return files.map((f) => text.get(f)!);
}

async function streamed(model: Model, decoder: GreedyCTCDecoder, x: Float32Array): Promise<string> {
  const finals: string[] = [];
  const w = args.window?.split(',').map(Number);
  const plan = streamPlan(model, w ? { leftMs: w[0], chunkMs: w[1], lookaheadMs: w[2] } : {});
  const s = new StreamSession({ plan, decoder, infer: (w) => emissionsOf(model, w), onEvent: (e) => { if (e.type === 'final') finals.push(e.text); } });
  for (let i = 0; i < x.length; i += 1600) { s.push(x.subarray(i, i + 1600)); await s.idle(); }
  await s.end();
  return finals.join(' ');
}

async function accuracy(model: Model, recs: Recording[]) {
  const decoder = new GreedyCTCDecoder(model.labels!, { wordDelimiter: '|' });
  const [windowed, speech] = [await batchJob(model, recs, 'windows'), await batchJob(model, recs, 'speech')];
  const err = { utterances: 0, offline: 0, streamed: 0, segmented: 0, streamVsOffline: 0, segmentedVsOffline: 0, streamVsSegmented: 0, utterancesVsSegmented: 0 };
  let refWords = 0;
  let offWords = 0;
  let segWords = 0;
  for (const [i, r] of recs.entries()) {
    const [o, s, g] = [windowed[i]!, await streamed(model, decoder, r.samples), speech[i]!];
    const ref = words(r.text);
    refWords += ref.length;
    // The model's own regime (what `npm run eval` scores): each utterance alone, whole.
    const alone: string[] = [];
    for (const p of r.parts) alone.push(decoder.decode(await emissionsOf(model, p)).text);
    err.utterances += wordEdits(words(alone.join(' ')), ref);
    offWords += words(o).length;
    segWords += words(g).length;
    err.offline += wordEdits(words(o), ref);
    err.streamed += wordEdits(words(s), ref);
    err.segmented += wordEdits(words(g), ref);
    err.streamVsOffline += wordEdits(words(s), words(o));
    err.segmentedVsOffline += wordEdits(words(g), words(o));
    err.streamVsSegmented += wordEdits(words(s), words(g));
    err.utterancesVsSegmented += wordEdits(words(alone.join(' ')), words(g));
    const pc = (w: string[]) => (wordEdits(w, ref) / ref.length * 100).toFixed(2);
    console.log(`recording ${(r.samples.length / RATE).toFixed(0)} s, ${r.utterances} utterances: WER each utterance alone ${pc(words(alone.join(' ')))} %, offline ${pc(words(o))} %, streamed ${pc(words(s))} %, cut on speech ${pc(words(g))} %`);
  }
  const pct = (n: number, d: number) => +((n / d) * 100).toFixed(2);
  return {
    recordings: recs.length, seconds: +(recs.reduce((n, r) => n + r.samples.length, 0) / RATE).toFixed(1), words: refWords,
    werUtterances: pct(err.utterances, refWords), werOffline: pct(err.offline, refWords), werStreamed: pct(err.streamed, refWords), werSegmented: pct(err.segmented, refWords),
    streamVsOffline: pct(err.streamVsOffline, offWords), segmentedVsOffline: pct(err.segmentedVsOffline, offWords),
    streamVsSegmented: pct(err.streamVsSegmented, segWords), utterancesVsSegmented: pct(err.utterancesVsSegmented, segWords),
  };
}

interface Server { child: ChildProcess; url: string; exited: Promise<number | null> }

async function startServer(model: string): Promise<Server> {
  const cli = join(ROOT, 'lib', 'cli', 'index.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--port', '0', '--threads', args.threads!, '--model', model, '--max-streams', '256', '--max-queue', '512', ...(args.window ? ['--stream-window', args.window] : [])], { cwd: ROOT });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 120000);
    child.stdout!.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!.replace(/^http/, 'ws') + '/v1/stream'); }
    });
    child.on('exit', () => { clearTimeout(timer); reject(new Error(`server exited: ${out}`)); });
  });
  return { child, url, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** One client: streams `x` at real time; returns its latencies (ms) and whether it ended cleanly. */
async function client(url: string, x: Float32Array, delayMs: number) {
  await sleep(delayMs);
  const c = connect(url);
  await c.opened;
  await c.send({ type: 'start', sampleRate: RATE, encoding: 'pcm16' });
  const n = RATE / 10;
  const sentAt: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < x.length; i += n) {
    await sleep(Math.max(0, t0 + (i / RATE) * 1000 - performance.now()));
    sentAt.push(performance.now());
    await c.send(pcm16(x.subarray(i, i + n)));
  }
  await c.send({ type: 'stop' });
  const closed = await c.closed;
  /** When the chunk holding the sample at `t` seconds was sent. */
  const sent = (t: number) => sentAt[Math.min(sentAt.length - 1, Math.floor((t * RATE) / n))]!;
  const partial: number[] = [];
  const final: number[] = [];
  const finals = c.received.filter((r) => r.m.type === 'final') as Array<Received & { m: FinalEvent }>;
  for (const f of finals) {
    if (f.m.reason !== 'end') final.push(f.at - sent(f.m.end));
    f.m.words.forEach((w, i) => {
      const shown = c.received.find((r) => (r.m.type === 'partial' || r.m.type === 'final') && r.m.segment === f.m.segment && words(r.m.text as string)[i] === w.word);
      partial.push(shown!.at - sent(w.end));
    });
  }
  return { partial, final, ok: closed.code === 1000, code: closed.code };
}

async function capacity(modelFile: string, levels: number[], recs: Recording[], seconds: number) {
  const server = await startServer(modelFile);
  const rows = [];
  try {
    for (const n of levels) {
      const jobs = Array.from({ length: n }, (_, i) => {
        const r = recs[i % recs.length]!;
        const start = Math.round(((i * 7.3) % Math.max(1, r.samples.length / RATE - seconds)) * RATE);
        return client(server.url, r.samples.subarray(start, start + seconds * RATE), (i * 1000) / n);
      });
      const results = await Promise.allSettled(jobs);
      const ok = results.filter((r) => r.status === 'fulfilled' && r.value.ok).length;
      const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const row = {
        streams: n, ok, partialP50: Math.round(percentile(done.flatMap((d) => d.partial), 0.5)), partialP95: Math.round(percentile(done.flatMap((d) => d.partial), 0.95)),
        finalP50: Math.round(percentile(done.flatMap((d) => d.final), 0.5)), finalP95: Math.round(percentile(done.flatMap((d) => d.final), 0.95)), finals: done.reduce((s, d) => s + d.final.length, 0),
        closes: [...new Set(done.map((d) => d.code))].join(','),
      };
      const meets = row.ok === n && row.partialP95 <= 1000 && row.finalP95 <= 500;
      rows.push({ ...row, meets });
      console.log(`${modelFile}: ${n} streams: ${JSON.stringify({ ...row, meets })}`);
      // Saturated (latencies of several seconds): more streams only take longer to say so.
      if (row.partialP95 > 5000 || row.ok < n) break;
      await sleep(1000);
    }
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  return rows;
}

function ensureBase(): string | null {
  const pt = join(ROOT, 'bench', 'models', 'base.pt');
  if (existsSync(pt)) return pt;
  const py = findPython(['torch', 'transformers']);
  if (!py) { console.log('no Python with torch + transformers: skipping base-size random weights'); return null; }
  console.log('building bench/models/base.pt (random weights) with scripts/make_bench_models.py ...');
  const r = spawnSync(py, [join(ROOT, 'scripts', 'make_bench_models.py'), 'base', '--no-onnx'], { stdio: 'inherit' });
  return r.status === 0 && existsSync(pt) ? pt : null;
}

function load(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

async function main() {
  const model = await loadModel(STREAM_MODEL, { threads: Number(args.threads) });
  const recs = await recordings(model, Number(args.utterances));
  const loadBefore = load();
  const from = args['accuracy-from'];
  const acc = args['skip-accuracy'] ? null : from ? JSON.parse(readFileSync(from, 'utf8')) as Awaited<ReturnType<typeof accuracy>> : await accuracy(model, recs);
  model.dispose();
  console.log(JSON.stringify(acc));
  if (args['accuracy-only']) {
    mkdirSync(join(ROOT, 'bench', 'results', 'tmp'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'tmp', 'stream-accuracy.json'), JSON.stringify({ ...acc, offset: Number(args.offset), load: { before: loadBefore, after: load() } }, null, 2) + '\n');
    return;
  }
  const seconds = Number(args.seconds);
  const levels = args.levels === 'none' ? [] : args.levels!.split(',').map(Number);
  const defaultRows = levels.length ? await capacity(STREAM_MODEL, levels, recs, seconds) : [];
  let baseRows: Awaited<ReturnType<typeof capacity>> = [];
  if (args['base-levels'] !== 'none') {
    const base = ensureBase();
    if (base) baseRows = await capacity(base, args['base-levels']!.split(',').map(Number), recs, seconds);
  }
  const loadAfter = load();
  const best = (rows: typeof defaultRows) => rows.filter((r) => r.meets).reduce((m, r) => Math.max(m, r.streams), 0);
  const w = args.window?.split(',').map(Number);
  const plan = streamPlan({ sampleRate: RATE, frameStride: 320, receptiveField: 400 }, w ? { leftMs: w[0], chunkMs: w[1], lookaheadMs: w[2] } : {});
  const accLoad = (acc as { load?: { before: string; after: string } } | null)?.load;
  const head = `bench:stream — ${new Date().toISOString().slice(0, 10)}, ${machine().cpu}, ${machine().cores} cores, server threads ${args.threads}; ` +
    `windows: left ${plan.left / 16} ms, chunk ${plan.chunk / 16} ms, look-ahead ${plan.lookahead / 16} ms; load average before ${loadBefore}, after ${loadAfter} (the machine is shared: figures are lower bounds)` +
    (from && acc ? `; accuracy from a separate run (${from}${accLoad ? `, load average before ${accLoad.before}, after ${accLoad.after}` : ''})` : '');
  const rowsOf = (rows: typeof defaultRows) => rows.map((r) => [r.streams, `${r.ok}/${r.streams}`, r.partialP50, r.partialP95, r.finalP50, r.finalP95, r.finals, r.closes, r.meets ? 'yes' : 'no']);
  const header = ['streams', 'ended cleanly', 'partial p50 ms', 'partial p95 ms', 'final p50 ms', 'final p95 ms', 'finals', 'close codes', 'meets 1 s / 0.5 s'];
  const md = [
    head, '',
    ...(acc ? [`Accuracy on ${acc.recordings} recordings of the held-out set (${acc.seconds} s, ${acc.words} words; 0.7 s between utterances), greedy, against the held-out text:`, '',
    table(['transcription', 'WER %', 'WER − each utterance alone, points', 'word disagreement with the batch job in windows %', 'word disagreement with the batch job cut on speech %'], [
      ['each utterance alone, whole (as `npm run eval`)', acc.werUtterances, 0, '—', acc.utterancesVsSegmented],
      ['the recording offline: batch job, 30 s windows (default)', acc.werOffline, +(acc.werOffline - acc.werUtterances).toFixed(2), 0, '—'],
      ['the recording offline: batch job cut on speech (`segment: \'speech\'`)', acc.werSegmented, +(acc.werSegmented - acc.werUtterances).toFixed(2), acc.segmentedVsOffline, 0],
      ['streamed (/v1/stream session)', acc.werStreamed, +(acc.werStreamed - acc.werUtterances).toFixed(2), acc.streamVsOffline, acc.streamVsSegmented],
    ]), ''] : []),
    `Default model (bench/stream-model/default.pt, 2M parameters): most real-time streams meeting the targets: **${best(defaultRows)}**`, '',
    table(header, rowsOf(defaultRows)), '',
    ...(baseRows.length ? [`Base-size random weights (94M): most real-time streams meeting the targets: **${best(baseRows)}**`, '', table(header, rowsOf(baseRows))] : []),
  ].join('\n');
  console.log(md);
  const name = ['stream', ...(args.window ? [`window-${args.window.replace(/,/g, '-')}`] : []), ...(args.threads !== '2' ? [`threads${args.threads}`] : [])].join('-');
  writeResults(name, { machine: machine(), threads: Number(args.threads), load: { before: loadBefore, after: loadAfter }, plan, accuracy: acc, default: defaultRows, base: baseRows }, md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
