/**
 * `npm run bench:serve`: `wav2vec2 serve` (a child process, so its memory is its own) under autocannon on
 * loopback, with many clients sending 1–15 s WAV clips of speech. Reports throughput (seconds of audio answered
 * per second), p50/p99 latency of the answered requests, the batch-size histogram from the server's /metrics,
 * the server's event-loop lag p99 (its /metrics: wav2vec2_event_loop_lag_seconds) and peak RSS, for dynamic batching off and on (one replica of
 * --threads threads), batching on with the replicas the server picks itself (lib/model/replicas.ts), then an overload
 * run (small queue, many clients) that must end with the server alive, answering /health, exiting 0 on SIGTERM,
 * and with bounded memory; last, the model alone on the same clips in batches of 8 (modelAlone), which the best
 * server run is compared with. Every load run is bounded in time and in requests.
 *   --seconds N      length of each load run (default 30; the overload run takes 2/3 of it)
 *   --connections N  concurrent clients of the normal runs (default 16; overload: 8×)
 *   --model FILE     model to serve (default: the embedded model)
 *   --threads N      intra-op threads of the server's model and of the model alone (default 2)
 *   --quick          5 s runs (a smoke test of the bench itself)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadAudio } from '../lib/audio';
import { binding } from '../lib/model/native';
import { loadModel } from '../lib/model/load';
import { DEFAULT_MODEL_PATH } from '../lib/paths';
import { machine, table, wav16, writeResults } from './stats';

const ROOT = join(__dirname, '..');
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' }, connections: { type: 'string', default: '16' }, model: { type: 'string' },
    threads: { type: 'string', default: '2' }, quick: { type: 'boolean', default: false },
  },
});
const SECONDS = args.quick ? 5 : Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const THREADS = Number(args.threads);
const DURATIONS = [1, 2, 3, 4, 6, 8, 10, 12, 15];
const RATE = 16000;

interface Clip { seconds: number; body: Buffer; samples: Float32Array }

/** Clips of 1–15 s cut from the shipped speech samples (all four, resampled to 16 kHz and joined end to end). */
async function makeClips(): Promise<Clip[]> {
  const files = ['curiosity-16k.wav', 'question-16k.wav', 'telephone-8k.wav', 'curiosity-44k.wav'];
  const parts = await Promise.all(files.map(async (f) => (await loadAudio(join(ROOT, 'samples', f), { mono: true, sampleRate: RATE })).channels[0]!));
  const total = parts.reduce((s, p) => s + p.length, 0);
  const speech = new Float32Array(Math.max(total, 15 * RATE));
  for (let o = 0; o < speech.length;) for (const p of parts) { speech.set(p.subarray(0, Math.min(p.length, speech.length - o)), o); o += p.length; if (o >= speech.length) break; }
  return DURATIONS.map((s, i) => {
    const n = s * RATE;
    const start = (i * 7919) % Math.max(1, speech.length - n);
    const samples = speech.slice(start, start + n);
    return { seconds: s, body: wav16(samples, RATE), samples };
  });
}

interface Server { child: ChildProcess; url: string; pid: number; exited: Promise<number | null>; output: () => string }

/** The server with `flags`; with `threads`, one replica of THREADS threads, else the replicas it picks itself (lib/model/replicas.ts). */
async function startServer(flags: string[], threads: boolean): Promise<Server> {
  const cli = join(ROOT, 'lib', 'cli', 'index.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--port', '0', ...(threads ? ['--threads', String(THREADS)] : []), ...(args.model ? ['--model', args.model] : []), ...flags], { cwd: ROOT });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60000);
    child.stdout!.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    child.on('exit', () => { clearTimeout(timer); reject(new Error(`server exited: ${out}`)); });
  });
  return { child, url, pid: child.pid!, exited, output: () => out };
}

/** Peak resident memory of a process so far (VmHWM), in MiB. */
function peakRssMiB(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? +(Number(m[1]) / 1024).toFixed(1) : null;
  } catch {
    return null;
  }
}

/** Requests per batch size, from the server's cumulative wav2vec2_batch_size histogram. */
async function batchHistogram(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const cumulative: Array<[string, number]> = [];
  for (const m of text.matchAll(/^wav2vec2_batch_size_bucket\{le="([^"]+)",(?:model="[^"]*",)?kind="transcribe"\} (\d+)$/gm)) cumulative.push([m[1]!, Number(m[2])]);
  const out: Record<string, number> = {};
  let prev = 0;
  for (const [le, n] of cumulative) {
    if (n - prev > 0) out[le] = n - prev;
    prev = n;
  }
  return out;
}

function mean(h: Record<string, number>): number {
  const n = Object.values(h).reduce((a, b) => a + b, 0);
  return n ? Object.entries(h).reduce((s, [k, v]) => s + Number(k) * v, 0) / n : 0;
}

interface RunResult {
  name: string; connections: number; seconds: number; serverFlags: string[];
  answered: number; overloaded503: number; otherStatus: Record<string, number>; errors: number; timeouts: number;
  audioSeconds: number; audioSecondsPerSecond: number; latencyMs: { p50: number; p99: number; max: number };
  batchSizes: Record<string, number>; meanBatchSize: number; peakRssMiB: number | null;
  /**
   * The server's event-loop lag over the run, ms: wav2vec2_event_loop_lag_seconds (how late a due timer ran; reset by
   * the scrape before the run). nodeP99: prom-client's nodejs_eventloop_lag_p99_seconds of the same scrape, which
   * counts the monitor's 10 ms sampling interval too (lib/process-metrics.ts).
   */
  eventLoopMs: { p99: number | null; max: number | null; nodeP99: number | null };
  healthAfter: number | null; exitCode: number | null;
}

/** A gauge of the server's /metrics (the event-loop ones: scraping resets their histogram). */
async function gauge(url: string, name: string): Promise<number | null> {
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text());
  return m ? Number(m[1]) : null;
}

async function run(name: string, flags: string[], connections: number, seconds: number, clips: Clip[], threads = true): Promise<RunResult> {
  const server = await startServer(flags, threads);
  let audio = 0;
  const statuses: Record<string, number> = {};
  let rnd = 12345;
  const next = () => ((rnd = (Math.imul(rnd, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  // A short warm-up so the first timed requests do not pay for lazy initialisation.
  await fetch(`${server.url}/v1/transcribe`, { method: 'POST', body: new Uint8Array(clips[0]!.body) });
  await gauge(server.url, 'nodejs_eventloop_lag_p99_seconds'); // resets the lag histograms
  const t0 = performance.now();
  const result = await autocannon({
    url: `${server.url}/v1/transcribe?timestamps=false`,
    connections,
    duration: seconds,
    // Bounded in count too: at most 40 requests per client and second.
    maxOverallRequests: connections * seconds * 40,
    timeout: 120,
    excludeErrorStats: true,
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'audio/wav' },
      setupRequest: (req) => ({ ...req, body: clips[Math.floor(next() * clips.length)]!.body }),
      onResponse: (status, body) => {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 200) audio += (JSON.parse(body) as { duration: number }).duration;
      },
    }],
  });
  const elapsed = (performance.now() - t0) / 1000;
  // One scrape sets every event-loop gauge from the histogram of the run, then resets it: read them all from the
  // first scrape after the run, before the batch histogram's.
  const lagText = await (await fetch(`${server.url}/metrics`)).text();
  const lag = (n: string) => { const m = new RegExp(`^${n.replace(/[{}]/g, '\\$&')} ([0-9.e+-]+)$`, 'm').exec(lagText); return m ? +(Number(m[1]) * 1000).toFixed(1) : null; };
  const eventLoopMs = {
    p99: lag('wav2vec2_event_loop_lag_seconds{quantile="0.99"}'), max: lag('wav2vec2_event_loop_lag_seconds{quantile="1"}'),
    nodeP99: lag('nodejs_eventloop_lag_p99_seconds'),
  };
  const batchSizes = await batchHistogram(server.url);
  let healthAfter: number | null = null;
  try {
    healthAfter = (await fetch(`${server.url}/health`)).status;
  } catch {
    healthAfter = null;
  }
  const peak = peakRssMiB(server.pid);
  server.child.kill('SIGTERM');
  const exitCode = await Promise.race([server.exited, new Promise<number | null>((r) => setTimeout(() => r(-1), 30000))]);
  if (exitCode === -1) server.child.kill('SIGKILL');
  const { 200: ok = 0, 503: busy = 0, ...other } = statuses;
  const r: RunResult = {
    name, connections, seconds, serverFlags: flags, answered: ok, overloaded503: busy, otherStatus: other, errors: result.errors, timeouts: result.timeouts,
    audioSeconds: +audio.toFixed(1), audioSecondsPerSecond: +(audio / elapsed).toFixed(1),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    batchSizes, meanBatchSize: +mean(batchSizes).toFixed(2), peakRssMiB: peak, eventLoopMs, healthAfter, exitCode,
  };
  console.log(`${name}: ${ok} answered (${busy} × 503, other ${JSON.stringify(other)}, ${result.errors} errors), ${r.audioSecondsPerSecond} audio s/s, ` +
    `p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, event loop lag p99 ${eventLoopMs.p99} ms (Node's monitor ${eventLoopMs.nodeP99}), batches ${JSON.stringify(batchSizes)}, peak RSS ${peak} MiB, health ${healthAfter}, exit ${exitCode}`);
  return r;
}

/**
 * The model alone, what the server is measured against: forward() in a loop on batches of 8 copies of one clip (equal
 * lengths: the best case for batching, no padding), the clip durations in turn, THREADS threads, for `seconds` / 2.
 */
async function modelAlone(clips: Clip[], seconds: number): Promise<{ audioSecondsPerSecond: number; calls: number }> {
  const model = await loadModel(args.model ?? DEFAULT_MODEL_PATH, { threads: THREADS });
  try {
    for (const c of clips) await model.forward(new Array(8).fill(c.samples));
    let audio = 0;
    let calls = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < (seconds / 2) * 1000) {
      const c = clips[calls++ % clips.length]!;
      await model.forward(new Array(8).fill(c.samples));
      audio += 8 * c.seconds;
    }
    return { audioSecondsPerSecond: +(audio / ((performance.now() - t0) / 1000)).toFixed(1), calls };
  } finally {
    model.dispose();
  }
}

async function main(): Promise<void> {
  const clips = await makeClips();
  console.log(`clips: ${clips.map((c) => `${c.seconds} s`).join(', ')}; ${SECONDS} s per run, ${CONNECTIONS} clients`);
  const runs: RunResult[] = [];
  runs.push(await run('batching off', ['--batch-size', '1', '--max-wait-ms', '0', '--max-queue', '256'], CONNECTIONS, SECONDS, clips));
  runs.push(await run('batching on', ['--batch-size', '8', '--max-wait-ms', '20', '--max-queue', '256'], CONNECTIONS, SECONDS, clips));
  // The server's own choice of replicas and threads (no --threads: lib/model/replicas.ts decides by the model's size).
  runs.push(await run('batching on, default replicas', ['--batch-size', '8', '--max-wait-ms', '20', '--max-queue', '256'], CONNECTIONS, SECONDS, clips, false));
  const overloadSeconds = Math.max(5, Math.round((SECONDS * 2) / 3));
  runs.push(await run('overload', ['--batch-size', '8', '--max-wait-ms', '20', '--max-queue', '16', '--request-timeout-ms', '30000'], CONNECTIONS * 8, overloadSeconds, clips, false));
  const alone = await modelAlone(clips, SECONDS);
  const best = runs.filter((r) => r.name.startsWith('batching')).reduce((a, b) => (b.audioSecondsPerSecond > a.audioSecondsPerSecond ? b : a));

  const overload = runs.at(-1)!;
  const survived = overload.healthAfter === 200 && overload.exitCode === 0;
  const m = machine();
  const md = [
    `bench:serve — ${new Date().toISOString().slice(0, 10)}, ${m.cpu}, ${m.cores} cores, model ${args.model ?? 'models/default.pt'}, ${THREADS} threads, ` +
      `LibTorch ${binding().torchVersion}; clips of ${DURATIONS.join(', ')} s (WAV, 16 kHz), autocannon on loopback`,
    '',
    table(['run', 'clients', 's', 'answered', '503', 'audio s / s', 'p50 ms', 'p99 ms', 'event loop lag p99 ms', 'batch sizes (size: count)', 'mean batch', 'peak RSS MiB'], runs.map((r) => [
      r.name, r.connections, r.seconds, r.answered, r.overloaded503, r.audioSecondsPerSecond, r.latencyMs.p50, r.latencyMs.p99, r.eventLoopMs.p99 ?? '-',
      Object.entries(r.batchSizes).map(([k, v]) => `${k}: ${v}`).join(', ') || '-', r.meanBatchSize, r.peakRssMiB ?? '-',
    ])),
    '',
    `Model alone on the same clips (forward in a loop, batches of 8 of one clip, ${THREADS} threads, durations in turn): ${alone.audioSecondsPerSecond} audio s / s. ` +
      `Best server run ("${best.name}") over it: ${(best.audioSecondsPerSecond / alone.audioSecondsPerSecond).toFixed(2)}x.`,
    '',
    `Overload run: ${survived ? 'the server stayed up' : 'THE SERVER DID NOT SURVIVE'} (GET /health ${overload.healthAfter}, exit status on SIGTERM ${overload.exitCode}), ` +
      `${overload.errors} client errors, ${overload.timeouts} timeouts, other statuses ${JSON.stringify(overload.otherStatus)}. Latencies are of answered (2xx) requests.`,
  ].join('\n');
  console.log('\n' + md);
  const file = writeResults('serve', { machine: m, torch: binding().torchVersion, threads: THREADS, clipSeconds: DURATIONS, runs, modelAlone: alone, bestOverModelAlone: best.audioSecondsPerSecond / alone.audioSecondsPerSecond }, md);
  console.log(`\nwrote ${file.replace(ROOT + '/', '')}`);
  if (!survived) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
