/**
 * `npm run bench:serve`: `wav2vec2 serve` (a child process, so its memory is its own) under autocannon on
 * loopback, with many clients sending 1–15 s WAV clips of speech. Reports throughput (seconds of audio answered
 * per second), p50/p99 latency of the answered requests, the batch-size histogram from the server's /metrics,
 * and the server's peak RSS, for dynamic batching off and on in one run, then an overload run (small queue,
 * many clients) that must end with the server alive, answering /health, exiting 0 on SIGTERM, and with
 * bounded memory. Every load run is bounded in time and in requests.
 *   --seconds N      length of each load run (default 30; the overload run takes 2/3 of it)
 *   --connections N  concurrent clients of the normal runs (default 16; overload: 8×)
 *   --model FILE     model to serve (default: the embedded model)
 *   --threads N      intra-op threads of the server's model (default 2)
 *   --quick          5 s runs (a smoke test of the bench itself)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadAudio } from '../lib/audio';
import { binding } from '../lib/native';
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

interface Clip { seconds: number; body: Buffer }

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
    return { seconds: s, body: wav16(speech.subarray(start, start + n), RATE) };
  });
}

interface Server { child: ChildProcess; url: string; pid: number; exited: Promise<number | null>; output: () => string }

async function startServer(flags: string[]): Promise<Server> {
  const cli = join(ROOT, 'lib', 'cli', 'index.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--port', '0', '--threads', String(THREADS), ...(args.model ? ['--model', args.model] : []), ...flags], { cwd: ROOT });
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
  healthAfter: number | null; exitCode: number | null;
}

async function run(name: string, flags: string[], connections: number, seconds: number, clips: Clip[]): Promise<RunResult> {
  const server = await startServer(flags);
  let audio = 0;
  const statuses: Record<string, number> = {};
  let rnd = 12345;
  const next = () => ((rnd = (Math.imul(rnd, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  // A short warm-up so the first timed requests do not pay for lazy initialisation.
  await fetch(`${server.url}/v1/transcribe`, { method: 'POST', body: new Uint8Array(clips[0]!.body) });
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
    batchSizes, meanBatchSize: +mean(batchSizes).toFixed(2), peakRssMiB: peak, healthAfter, exitCode,
  };
  console.log(`${name}: ${ok} answered (${busy} × 503, other ${JSON.stringify(other)}, ${result.errors} errors), ${r.audioSecondsPerSecond} audio s/s, ` +
    `p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, batches ${JSON.stringify(batchSizes)}, peak RSS ${peak} MiB, health ${healthAfter}, exit ${exitCode}`);
  return r;
}

async function main(): Promise<void> {
  const clips = await makeClips();
  console.log(`clips: ${clips.map((c) => `${c.seconds} s`).join(', ')}; ${SECONDS} s per run, ${CONNECTIONS} clients`);
  const runs: RunResult[] = [];
  runs.push(await run('batching off', ['--batch-size', '1', '--max-wait-ms', '0', '--max-queue', '256'], CONNECTIONS, SECONDS, clips));
  runs.push(await run('batching on', ['--batch-size', '8', '--max-wait-ms', '20', '--max-queue', '256'], CONNECTIONS, SECONDS, clips));
  const overloadSeconds = Math.max(5, Math.round((SECONDS * 2) / 3));
  runs.push(await run('overload', ['--batch-size', '8', '--max-wait-ms', '20', '--max-queue', '16', '--request-timeout-ms', '30000'], CONNECTIONS * 8, overloadSeconds, clips));

  const overload = runs[2]!;
  const survived = overload.healthAfter === 200 && overload.exitCode === 0;
  const m = machine();
  const md = [
    `bench:serve — ${new Date().toISOString().slice(0, 10)}, ${m.cpu}, ${m.cores} cores, model ${args.model ?? 'models/default.pt'}, ${THREADS} threads, ` +
      `LibTorch ${binding().torchVersion}; clips of ${DURATIONS.join(', ')} s (WAV, 16 kHz), autocannon on loopback`,
    '',
    table(['run', 'clients', 's', 'answered', '503', 'audio s / s', 'p50 ms', 'p99 ms', 'batch sizes (size: count)', 'mean batch', 'peak RSS MiB'], runs.map((r) => [
      r.name, r.connections, r.seconds, r.answered, r.overloaded503, r.audioSecondsPerSecond, r.latencyMs.p50, r.latencyMs.p99,
      Object.entries(r.batchSizes).map(([k, v]) => `${k}: ${v}`).join(', ') || '-', r.meanBatchSize, r.peakRssMiB ?? '-',
    ])),
    '',
    `Overload run: ${survived ? 'the server stayed up' : 'THE SERVER DID NOT SURVIVE'} (GET /health ${overload.healthAfter}, exit status on SIGTERM ${overload.exitCode}), ` +
      `${overload.errors} client errors, ${overload.timeouts} timeouts, other statuses ${JSON.stringify(overload.otherStatus)}. Latencies are of answered (2xx) requests.`,
  ].join('\n');
  console.log('\n' + md);
  const file = writeResults('serve', { machine: m, torch: binding().torchVersion, threads: THREADS, clipSeconds: DURATIONS, runs }, md);
  console.log(`\nwrote ${file.replace(ROOT + '/', '')}`);
  if (!survived) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
