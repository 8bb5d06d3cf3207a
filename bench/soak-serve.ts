/**
 * `npm run soak:serve`: hostile load against the real server, on loopback, bounded in time. `wav2vec2 serve` runs
 * as a child process with its default settings (the embedded model, 2 threads), twice: a control run with the
 * well-behaved load alone, then the attack run, each on a fresh server and in two phases:
 *   (a) well-behaved clients only: 8 clients posting 3–10 s espeak-ng clips back to back;
 *   (b) the same clients, plus in the attack run, all at once (the slow uploads 250 ms after the rest): FLAC
 *       decompression bombs (with and without a STREAMINFO total), a WAV whose header claims 37 h, WAVs at
 *       1,300,001 Hz and 383,999 Hz, a JSON features request over the answer cap, malformed multipart bodies, and 80
 *       slow uploads (a byte a second over raw sockets).
 * Reports every attack request's status, code and time to answer; the well-behaved requests' latencies (and their
 * worst once the slow uploads are cut); the server's peak RSS in each phase (VmHWM, reset between phases; the
 * target compares (b) under attack with (b) of the control: the same well-behaved load without the attack); the
 * event-loop lag p99 of each phase (from /metrics); whether the server is alive and /health 200 at the end. Writes
 * bench/results/soak-serve-<date>-<host>.json and soak-serve-latest.md; exits 1 when a target is missed.
 *   --seconds N   length of each run, both phases (default 60: 24 s + 36 s)
 *   --clients N   well-behaved clients (default 8)
 *   --slow N      slow uploads (default 80)
 *   --threads N   intra-op threads of the server's model (default 2)
 *   --solo        instead: each hostile request alone against an idle server (one slow upload too), with the
 *                 event-loop lag and peak RSS it causes: which input costs what
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, table, writeResults } from './stats';
import { attackInputs, speechClips, type AttackInput, type Clip } from './soak-inputs';

const ROOT = join(__dirname, '..');
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' }, clients: { type: 'string', default: '8' },
    slow: { type: 'string', default: '80' }, threads: { type: 'string', default: '2' }, solo: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
const CLIENTS = Number(args.clients);
const SLOW = Number(args.slow);
const THREADS = Number(args.threads);
/** Never any other address: the server is told to listen here and every request goes here. */
const HOST = '127.0.0.1';
/** The server's defaults that the report refers to. */
const UPLOAD_GRACE_MS = 5000;
const TARGETS = { attackMs: 3000, wellBehavedMs: 3000, rssGrowth: 0.10, lagP99Ms: 50 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

interface Server { child: ChildProcess; port: number; pid: number; exited: Promise<number | null> }

async function startServer(): Promise<Server> {
  const cli = join(ROOT, 'lib', 'cli', 'index.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--host', HOST, '--port', '0', '--threads', String(THREADS)], { cwd: ROOT });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60000);
    child.stdout!.on('data', () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on('exit', () => { clearTimeout(timer); reject(new Error(`server exited: ${out}`)); });
  });
  return { child, port, pid: child.pid!, exited };
}

// ---- the server's memory and event loop ----

function procStatus(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resets the process's peak RSS (VmHWM) to its current RSS (Linux: "5" to /proc/PID/clear_refs); false where refused. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Peak RSS of one phase: VmHWM since the phase's reset, and the highest VmRSS sampled every 100 ms (a cross-check). */
function watchMemory(pid: number) {
  const reset = resetPeak(pid);
  let sampled = 0;
  const timer = setInterval(() => (sampled = Math.max(sampled, procStatus(pid, 'VmRSS') ?? 0)), 100);
  return () => {
    clearInterval(timer);
    const hwm = reset ? procStatus(pid, 'VmHWM') : null;
    return { peakMiB: +Math.max(hwm ?? 0, sampled).toFixed(1), vmHwmMiB: hwm === null ? null : +hwm.toFixed(1), sampledMiB: +sampled.toFixed(1) };
  };
}

async function metrics(port: number): Promise<string> {
  return (await fetch(`http://${HOST}:${port}/metrics`, { signal: AbortSignal.timeout(30000) })).text();
}

/**
 * The event-loop lag since the previous scrape: wav2vec2_event_loop_lag_seconds (lib/process-metrics.ts: how late a
 * due timer ran) is read from a perf_hooks histogram that is reset at every scrape, so scraping at a phase's start and
 * end gives the phase's.
 */
async function eventLoopLag(port: number): Promise<{ p99Ms: number; maxMs: number; p50Ms: number }> {
  const text = await metrics(port);
  const ms = (q: string) => +(Number(new RegExp(`^wav2vec2_event_loop_lag_seconds\\{quantile="${q}"\\} ([\\d.e+-]+)$`, 'm').exec(text)?.[1]) * 1000).toFixed(1);
  return { p99Ms: ms('0.99'), maxMs: ms('1'), p50Ms: ms('0.5') };
}

// ---- well-behaved clients ----

interface Answer { startMs: number; ms: number; status: number; retries: number; audioSeconds: number }

/**
 * A client that posts clips back to back until `until()` says stop, as a well-behaved client does: on 503 it waits
 * Retry-After and tries again (its latency is then from the first try).
 */
async function wellBehaved(port: number, clips: Clip[], seed: number, stop: () => boolean, t0: number, out: Answer[]): Promise<void> {
  let rnd = seed;
  const next = () => ((rnd = (Math.imul(rnd, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  while (!stop()) {
    const clip = clips[Math.floor(next() * clips.length)]!;
    const start = now();
    let retries = 0;
    let status = 0;
    for (;;) {
      try {
        const res = await fetch(`http://${HOST}:${port}/v1/transcribe?timestamps=false`, {
          method: 'POST', body: new Uint8Array(clip.body), headers: { 'content-type': 'audio/wav' }, signal: AbortSignal.timeout(60000),
        });
        status = res.status;
        await res.arrayBuffer();
        if (status !== 503 || retries >= 30 || stop()) break;
        retries++;
        await sleep(1000 * Number(res.headers.get('retry-after') ?? 1));
      } catch {
        // No answer (a dead server, a 60 s timeout): counted as failed; pause so a dead server is no busy loop.
        status = 0;
        await sleep(200);
        break;
      }
    }
    out.push({ startMs: start - t0, ms: now() - start, status, retries, audioSeconds: status === 200 ? clip.seconds : 0 });
  }
}

// ---- attacks ----

interface AttackResult { kind: string; expect: string; status: number; code: string | null; ms: number; startMs: number }

async function attack(port: number, a: AttackInput, t0: number): Promise<AttackResult> {
  const start = now();
  let status = 0;
  let code: string | null = null;
  try {
    const res = await fetch(`http://${HOST}:${port}${a.path}`, { method: 'POST', body: new Uint8Array(a.body), headers: a.headers, signal: AbortSignal.timeout(65000) });
    status = res.status;
    const body = Buffer.from(await res.arrayBuffer());
    if (status !== 200) code = (JSON.parse(body.toString()) as { error?: { code?: string } }).error?.code ?? null;
  } catch (err) {
    code = `client: ${(err as Error).name}`;
  }
  return { kind: a.kind, expect: a.expect, status, code, ms: +(now() - start).toFixed(0), startMs: +(start - t0).toFixed(0) };
}

/**
 * An upload that sends its headers, then one byte a second over a raw socket, until the server answers or closes
 * (bounded: it gives up after `maxMs`). Its time to answer is from connecting.
 */
function slowUpload(port: number, maxMs: number, t0: number): Promise<AttackResult> {
  return new Promise((resolve) => {
    const start = now();
    const socket = connect(port, HOST);
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearInterval(timer);
      clearTimeout(limit);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
      const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? null;
      resolve({ kind: `slow upload (1 byte/s)`, expect: '408 UPLOAD_TOO_SLOW, or 503 OVERLOADED beyond --max-uploads', status, code, ms: +(now() - start).toFixed(0), startMs: +(start - t0).toFixed(0) });
    };
    const limit = setTimeout(finish, maxMs);
    socket.on('connect', () => {
      socket.write(`POST /v1/transcribe HTTP/1.1\r\nHost: ${HOST}:${port}\r\nContent-Type: audio/wav\r\nContent-Length: 100000\r\n\r\n`);
      timer = setInterval(() => socket.write('R'), 1000);
    });
    socket.on('data', (d) => {
      text += d.toString('latin1');
      // The whole answer (a small JSON error) has arrived once its body closes.
      if (/\r\n\r\n.*\}\}$/s.test(text)) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}

// ---- the run ----

interface PhaseStats {
  requests: number; answered200: number; failed: number; retries: number; audioSecondsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number }; memory: ReturnType<ReturnType<typeof watchMemory>>; lag: Awaited<ReturnType<typeof eventLoopLag>>;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!);
}

function phaseStats(answers: Answer[], seconds: number, memory: PhaseStats['memory'], lag: PhaseStats['lag']): PhaseStats {
  const ok = answers.filter((x) => x.status === 200);
  const ms = ok.map((x) => x.ms);
  return {
    requests: answers.length, answered200: ok.length, failed: answers.length - ok.length, retries: answers.reduce((s, x) => s + x.retries, 0),
    audioSecondsPerSecond: +(ok.reduce((s, x) => s + x.audioSeconds, 0) / seconds).toFixed(1),
    latencyMs: { p50: percentile(ms, 50), p99: percentile(ms, 99), max: percentile(ms, 100) }, memory, lag,
  };
}

async function health(port: number): Promise<number> {
  try {
    return (await fetch(`http://${HOST}:${port}/health`, { signal: AbortSignal.timeout(10000) })).status;
  } catch {
    return 0;
  }
}

interface Soak {
  a: PhaseStats; b: PhaseStats; attacks: AttackResult[]; slowCutAtMs: number; wellBehavedAfterCut: { requests: number; maxMs: number; failed: number };
  alive: boolean; healthAfter: number; exitCode: number | null;
  /** The machine's load average (1 min) at the start and the end: other work on it slows the server too. */
  loadAverage: [number, number];
}

/** Phase (b)'s attacks, all at once. The hostile requests go first: once the slow uploads hold --max-uploads (64)
 * places, every other upload gets 503 OVERLOADED until they are cut, and the hostile bodies would only show that. */
async function attackWave(port: number, inputs: AttackInput[], t0: number): Promise<{ hostile: Promise<AttackResult[]>; slow: AttackResult[] }> {
  const hostile = Promise.all(inputs.map((x) => attack(port, x, t0)));
  await sleep(250);
  return { hostile, slow: await Promise.all(Array.from({ length: SLOW }, () => slowUpload(port, 60000, t0))) };
}

/** Whether the server is still up and healthy, then SIGTERM and its exit status (SIGKILL after 30 s). */
async function stopServer(server: Server): Promise<{ alive: boolean; healthAfter: number; exitCode: number | null }> {
  const alive = server.child.exitCode === null && server.child.signalCode === null;
  const healthAfter = await health(server.port);
  server.child.kill('SIGTERM');
  const exitCode = await Promise.race([server.exited, sleep(30000).then(() => null)]);
  if (exitCode === null) server.child.kill('SIGKILL');
  return { alive, healthAfter, exitCode };
}

/** One run on a fresh server: phase (a), then phase (b) with the attack wave, or without it (`inputs` null: the control). */
async function soak(clips: Clip[], inputs: AttackInput[] | null): Promise<Soak> {
  const load0 = loadavg()[0]!;
  const server = await startServer();
  const port = server.port;
  await fetch(`http://${HOST}:${port}/v1/transcribe`, { method: 'POST', body: new Uint8Array(clips[0]!.body), headers: { 'content-type': 'audio/wav' }, signal: AbortSignal.timeout(60000) });
  const [aSeconds, bSeconds] = [Math.round(SECONDS * 0.4), SECONDS - Math.round(SECONDS * 0.4)];
  const t0 = now();
  let stopping = false;
  const answers: Answer[] = [];
  await eventLoopLag(port);
  let mem = watchMemory(server.pid);
  const clients = Array.from({ length: CLIENTS }, (_, i) => wellBehaved(port, clips, 1000 + i, () => stopping, t0, answers));
  await sleep(aSeconds * 1000);
  const [lagA, memA] = [await eventLoopLag(port), mem()];
  console.log(`phase (a) done: ${answers.length} requests; peak RSS ${memA.peakMiB} MiB; event-loop lag p99 ${lagA.p99Ms} ms`);

  const tb = now() - t0;
  mem = watchMemory(server.pid);
  const wave = inputs ? await attackWave(port, inputs, t0) : { hostile: Promise.resolve([]), slow: [] };
  const slowCutAtMs = inputs ? Math.max(...wave.slow.map((r) => r.startMs + r.ms)) : tb;
  if (inputs) console.log(`slow uploads all answered or closed ${((slowCutAtMs - tb) / 1000).toFixed(1)} s into phase (b)`);
  await sleep(Math.max(0, bSeconds * 1000 - (now() - t0 - tb)));
  stopping = true;
  const attacks = [...(await wave.hostile), ...wave.slow];
  await Promise.all(clients);
  const [lagB, memB] = [await eventLoopLag(port), mem()];
  const end = await stopServer(server);

  // A request belongs to (a) if it was answered before (b) began: one still running then met the attacks.
  const inA = (x: Answer) => x.startMs + x.ms < tb;
  const after = answers.filter((x) => x.startMs >= slowCutAtMs);
  return {
    a: phaseStats(answers.filter(inA), aSeconds, memA, lagA),
    b: phaseStats(answers.filter((x) => !inA(x)), bSeconds, memB, lagB),
    attacks, slowCutAtMs: +(slowCutAtMs - tb).toFixed(0),
    wellBehavedAfterCut: { requests: after.length, maxMs: percentile(after.map((x) => x.ms), 100), failed: after.filter((x) => x.status !== 200).length },
    ...end, loadAverage: [+load0.toFixed(2), +loadavg()[0]!.toFixed(2)],
  };
}

// ---- the report ----

const isCoded4xx = (r: AttackResult) => r.status >= 400 && r.status < 500 && r.code !== null;

/** Whether one attack request got what the target asks: a coded 4xx within 3 s (slow uploads: after the grace). */
function attackOk(r: AttackResult): boolean {
  if (r.kind.startsWith('slow upload')) {
    return (r.status === 408 || (r.status === 503 && r.code === 'OVERLOADED')) && r.ms <= UPLOAD_GRACE_MS + TARGETS.attackMs;
  }
  if (r.expect.startsWith('200')) return r.status === 200 && r.ms <= TARGETS.attackMs;
  return isCoded4xx(r) && r.ms <= TARGETS.attackMs;
}

function attackTable(attacks: AttackResult[]): string {
  const groups = new Map<string, AttackResult[]>();
  for (const r of attacks) groups.set(r.kind, [...(groups.get(r.kind) ?? []), r]);
  return table(['attack', 'n', 'expected', 'status code (count)', 'time to answer ms (min–max)', 'target met'], [...groups].map(([kind, rs]) => {
    const answers = new Map<string, number>();
    for (const r of rs) answers.set(`${r.status} ${r.code ?? ''}`.trim(), (answers.get(`${r.status} ${r.code ?? ''}`.trim()) ?? 0) + 1);
    const ms = rs.map((r) => r.ms);
    const ok = rs.filter(attackOk).length;
    return [kind, rs.length, rs[0]!.expect, [...answers].map(([k, v]) => `${k} (${v})`).join(', '), `${Math.min(...ms)}–${Math.max(...ms)}`, ok === rs.length ? 'yes' : `NO (${rs.length - ok} of ${rs.length})`];
  }));
}

/** Peak RSS of (b) under attack against (b) of the control run: the same well-behaved load, without the attack. */
const rssGrowth = (s: Soak, control: Soak) => s.b.memory.peakMiB / control.b.memory.peakMiB - 1;

function misses(s: Soak, control: Soak): string[] {
  const out: string[] = [];
  const badAttacks = s.attacks.filter((r) => !attackOk(r));
  if (badAttacks.length) out.push(`${badAttacks.length} attack requests without a coded 4xx within ${TARGETS.attackMs} ms: ${[...new Set(badAttacks.map((r) => r.kind))].join('; ')}`);
  const failed = s.a.failed + s.b.failed;
  if (failed) out.push(`${failed} well-behaved requests not answered 200`);
  if (s.wellBehavedAfterCut.requests === 0) out.push('no well-behaved request started after the slow uploads were cut: not measured (run longer, --seconds)');
  if (s.wellBehavedAfterCut.maxMs > TARGETS.wellBehavedMs) out.push(`well-behaved worst latency once slow uploads were cut: ${s.wellBehavedAfterCut.maxMs} ms > ${TARGETS.wellBehavedMs} ms`);
  const growth = rssGrowth(s, control);
  if (!(growth <= TARGETS.rssGrowth)) {
    out.push(`server peak RSS ${s.b.memory.peakMiB} MiB under attack vs ${control.b.memory.peakMiB} MiB without: +${(growth * 100).toFixed(1)} % > +${TARGETS.rssGrowth * 100} %`);
  }
  if (!(s.b.lag.p99Ms <= TARGETS.lagP99Ms)) out.push(`event-loop lag p99 under attack ${s.b.lag.p99Ms} ms > ${TARGETS.lagP99Ms} ms`);
  if (!s.alive || s.healthAfter !== 200) out.push(`the server did not survive (alive ${s.alive}, /health ${s.healthAfter})`);
  return out;
}

function report(s: Soak, control: Soak, clips: Clip[]): string {
  const m = machine();
  const row = (name: string, p: PhaseStats) => [name, p.requests, p.answered200, p.failed, p.retries, p.audioSecondsPerSecond, p.latencyMs.p50, p.latencyMs.p99, p.latencyMs.max, p.memory.peakMiB, p.lag.p99Ms, p.lag.maxMs];
  const growth = `${rssGrowth(s, control) >= 0 ? '+' : ''}${(rssGrowth(s, control) * 100).toFixed(1)}`;
  const missed = misses(s, control);
  return [
    `soak:serve — ${new Date().toISOString().slice(0, 16)}Z, ${m.cpu}, ${m.cores} cores, default settings, the embedded model, ${THREADS} threads; ` +
      `${CLIENTS} well-behaved clients (espeak-ng clips of ${Math.min(...clips.map((c) => c.seconds)).toFixed(1)}–${Math.max(...clips.map((c) => c.seconds)).toFixed(1)} s), ` +
      `${SLOW} slow uploads; phase (a) ${Math.round(SECONDS * 0.4)} s, phase (b) ${SECONDS - Math.round(SECONDS * 0.4)} s; two runs, each on a fresh server: ` +
      'the control (the well-behaved load alone in both phases), then the attack run; loopback only',
    '',
    table(['run, phase', 'requests', '200', 'failed', '503 retries', 'audio s / s', 'p50 ms', 'p99 ms', 'max ms', 'peak RSS MiB', 'loop lag p99 ms', 'loop lag max ms'],
      [row('control (a) well-behaved', control.a), row('control (b) well-behaved', control.b), row('attack run (a) well-behaved', s.a), row('attack run (b) + attacks', s.b)]),
    '',
    attackTable(s.attacks),
    '',
    `Slow uploads all answered or closed ${(s.slowCutAtMs / 1000).toFixed(1)} s into (b); well-behaved requests started after that: ${s.wellBehavedAfterCut.requests}, ` +
      `worst ${s.wellBehavedAfterCut.maxMs} ms (target ≤ ${TARGETS.wellBehavedMs}), ${s.wellBehavedAfterCut.failed} not 200. Peak RSS in (b), attack run vs control: ${growth} % (target ≤ +${TARGETS.rssGrowth * 100} %). ` +
      `Event-loop lag p99 in (b): ${s.b.lag.p99Ms} ms (target ≤ ${TARGETS.lagP99Ms}). End: server ${s.alive ? 'alive' : 'DEAD'}, /health ${s.healthAfter}, exit status on SIGTERM ${s.exitCode}. ` +
      `Machine load average (1 min) ${s.loadAverage[0]} at the start, ${s.loadAverage[1]} at the end (${m.cores} cores).`,
    '',
    missed.length ? `Targets missed:\n${missed.map((x) => `- ${x}`).join('\n')}` : 'All targets met.',
  ].join('\n');
}

interface Solo { result: AttackResult; lagMaxMs: number; peakRssMiB: number; rssBeforeMiB: number }

/** Each hostile request alone against an idle server: its answer, and the event-loop lag and memory it costs. */
async function solo(inputs: AttackInput[], clips: Clip[]): Promise<Solo[]> {
  const server = await startServer();
  const port = server.port;
  await fetch(`http://${HOST}:${port}/v1/transcribe`, { method: 'POST', body: new Uint8Array(clips[0]!.body), headers: { 'content-type': 'audio/wav' } });
  const out: Solo[] = [];
  const t0 = now();
  for (const send of [...inputs.map((x) => () => attack(port, x, t0)), () => slowUpload(port, 60000, t0)]) {
    await eventLoopLag(port);
    const rssBeforeMiB = +(procStatus(server.pid, 'VmRSS') ?? 0).toFixed(1);
    const mem = watchMemory(server.pid);
    const result = await send();
    out.push({ result, lagMaxMs: (await eventLoopLag(port)).maxMs, peakRssMiB: mem().peakMiB, rssBeforeMiB });
    console.log(`${result.kind}: ${result.status} ${result.code ?? ''} in ${result.ms} ms`);
  }
  server.child.kill('SIGTERM');
  await Promise.race([server.exited, sleep(30000)]);
  return out;
}

async function mainSolo(inputs: AttackInput[], clips: Clip[]): Promise<void> {
  const runs = await solo(inputs, clips);
  const m = machine();
  const md = [
    `soak:serve --solo — ${new Date().toISOString().slice(0, 16)}Z, ${m.cpu}, ${m.cores} cores, default settings, the embedded model, ${THREADS} threads; ` +
      `each request alone; load average (1 min) ${loadavg()[0]!.toFixed(2)} at the end`,
    '',
    table(['request', 'status code', 'ms to answer', 'event-loop lag max ms', 'RSS before MiB', 'peak RSS MiB'], runs.map((r) => [
      r.result.kind, `${r.result.status} ${r.result.code ?? ''}`.trim(), r.result.ms, r.lagMaxMs, r.rssBeforeMiB, r.peakRssMiB,
    ])),
  ].join('\n');
  console.log('\n' + md);
  const file = writeResults('soak-serve-solo', { machine: m, threads: THREADS, runs }, md);
  console.log(`\nwrote ${file.replace(ROOT + '/', '')}`);
}

async function main(): Promise<void> {
  const clips = speechClips(12);
  const inputs = attackInputs(clips);
  if (args.solo) return mainSolo(inputs, clips);
  console.log(`soak:serve: ${clips.length} clips, ${inputs.length} hostile requests + ${SLOW} slow uploads, two runs of ${SECONDS} s`);
  console.log('control run (no attack):');
  const control = await soak(clips, null);
  console.log('attack run:');
  const s = await soak(clips, inputs);
  const md = report(s, control, clips);
  console.log('\n' + md);
  const missed = misses(s, control);
  const file = writeResults('soak-serve', { machine: machine(), threads: THREADS, seconds: SECONDS, clients: CLIENTS, slowUploads: SLOW, targets: TARGETS, missed, control, ...s }, md);
  console.log(`\nwrote ${file.replace(ROOT + '/', '')}`);
  if (missed.length) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
