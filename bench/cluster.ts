/**
 * npm run bench:cluster [-- --files 200 --cores 2 --workers 1,2,4 --rounds 1]
 *
 * The batch job on a queue against the single-process batch job, on this machine, on the same files (bench:batch's
 * corpus: espeak-ng speech of 2-60 s, log-uniform), in one run so that the ratios share the machine's load:
 *   single      `wav2vec2 batch FILES --threads CORES`, one process
 *   N workers   N `wav2vec2 worker --threads CORES/N` processes (at least 1 thread each) on a redis-server of its own,
 *               fed by enqueueBatchJob (which follows and merges transcripts.jsonl)
 * Every run is timed from its processes' start to the merged output (model loads included in both). Reported:
 * wall seconds, x real time, throughput against single, and the queue's cost per file: (1 worker's wall - single's)
 * / files, the same threads doing the same work. Default 40 files (a few minutes); --files 200 for the full run.
 * With --rounds N every run is repeated N times, interleaved (single, 1, 2, 4, single, 1, ...), and the fastest of
 * each is reported: on a shared machine the others' load comes and goes, and the fastest is the least disturbed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { enqueueBatchJob } from '../lib/jobs';
import { corpus } from './batch';
import { startRedis } from './redis-server';
import { machine, table, writeResults } from './stats';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const FILES = Number(arg('files', '40'));
const CORES = Number(arg('cores', String(Math.min(2, cpus().length))));
const WORKERS = arg('workers', '1,2,4').split(',').map(Number);
const ROUNDS = Number(arg('rounds', '1'));
const CLI = join(__dirname, '..', 'lib', 'cli', 'index.ts');

function cli(argv: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => p.once('exit', (code) => resolve(code)));
}

function lines(file: string): number {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
}

/**
 * Commands Redis has processed so far (those inside BullMQ's Lua scripts included) and the CPU seconds it has used
 * (redis-cli INFO), or null without redis-cli. CPU per file is what bounds one Redis: 1 / it = files a second per core.
 */
function redisCounters(port: number): { commands: number; cpuSeconds: number } | null {
  const r = spawnSync('redis-cli', ['-p', String(port), 'INFO'], { encoding: 'utf8' });
  const num = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(r.stdout ?? '')?.[1] ?? NaN);
  const commands = num('total_commands_processed');
  const cpuSeconds = num('used_cpu_user') + num('used_cpu_sys');
  return Number.isFinite(commands) && Number.isFinite(cpuSeconds) ? { commands, cpuSeconds } : null;
}

async function single(files: string[]): Promise<number> {
  const out = mkdtempSync(join(tmpdir(), 'w2v-bench-cluster-single-'));
  const t = performance.now();
  const code = await exited(cli(['batch', ...files, '--out', out, '--threads', String(CORES), '--progress', 'none']));
  const s = (performance.now() - t) / 1000;
  if (code !== 0 || lines(join(out, 'transcripts.jsonl')) !== files.length) throw new Error(`the single-process job failed (exit ${code})`);
  rmSync(out, { recursive: true, force: true });
  return s;
}

async function cluster(files: string[], workers: number, url: string, queueName: string): Promise<number> {
  const out = mkdtempSync(join(tmpdir(), 'w2v-bench-cluster-'));
  const threads = Math.max(1, Math.floor(CORES / workers));
  const t = performance.now();
  const procs = Array.from({ length: workers }, () => cli(['worker', '--queue', url, '--queue-name', queueName, '--threads', String(threads), '--quiet']));
  try {
    const summary = await enqueueBatchJob({ inputs: files, out, queue: url, queueName, pollMs: 100 });
    const s = (performance.now() - t) / 1000;
    if (summary.done !== files.length || lines(summary.transcripts) !== files.length) throw new Error(`${workers} workers: ${summary.done} of ${files.length} done`);
    return s;
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map(exited));
    rmSync(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const { files, seconds } = corpus(FILES);
  console.log(`corpus: ${files.length} files, ${(seconds / 60).toFixed(1)} min of audio; ${CORES} cores' worth of threads per run`);
  const redis = await startRedis();
  try {
    const singles: number[] = [];
    const runs = WORKERS.map((n) => ({ workers: n, threads: Math.max(1, Math.floor(CORES / n)), seconds: Infinity, all: [] as number[], redisCommandsPerFile: null as number | null, redisCpuMsPerFile: null as number | null }));
    for (let round = 0; round < ROUNDS; round++) {
      singles.push(await single(files));
      console.log(`round ${round + 1}: single: ${singles.at(-1)!.toFixed(1)} s`);
      for (const r of runs) {
        const before = redisCounters(redis.port);
        const s = await cluster(files, r.workers, redis.url, `bench-${r.workers}-${round}`);
        const after = redisCounters(redis.port);
        // Everything the run sent: enqueueing, fetching, lease renewals, stalled checks, acks, and the workers' idle waits.
        const perFile = before && after ? (after.commands - before.commands) / files.length : null;
        const cpuMs = before && after ? ((after.cpuSeconds - before.cpuSeconds) * 1000) / files.length : null;
        r.all.push(s);
        if (s < r.seconds) {
          r.seconds = s;
          r.redisCommandsPerFile = perFile;
          r.redisCpuMsPerFile = cpuMs;
        }
        console.log(`round ${round + 1}: ${r.workers} worker(s): ${s.toFixed(1)} s, ${perFile?.toFixed(1) ?? '?'} Redis commands and ${cpuMs?.toFixed(2) ?? '?'} ms of Redis CPU per file`);
      }
    }
    const singleSeconds = Math.min(...singles);
    const one = runs.find((r) => r.workers === 1 && r.threads === CORES);
    const overheadMs = one ? ((one.seconds - singleSeconds) * 1000) / files.length : null;
    const json = {
      date: new Date().toISOString(), machine: machine(), loadAverage1m: { before: loadBefore, after: loadavg()[0]! },
      files: files.length, audioSeconds: seconds, cores: CORES, rounds: ROUNDS,
      single: { seconds: singleSeconds, all: singles, realTime: seconds / singleSeconds },
      cluster: runs.map((r) => ({ ...r, realTime: seconds / r.seconds, throughputVsSingle: singleSeconds / r.seconds })),
      queueOverheadMsPerFile: overheadMs,
    };
    const md = [
      `# bench:cluster, ${json.date.slice(0, 10)}, ${json.machine.cpu}, ${json.machine.cores} cores`,
      '',
      `${files.length} files, ${(seconds / 60).toFixed(1)} min of espeak-ng speech (2-60 s, log-uniform), default model; every run from process start ` +
        `to merged output; Redis on loopback; 1-minute load average ${loadBefore.toFixed(1)} before, ${json.loadAverage1m.after.toFixed(1)} after ` +
        `(a shared machine: the ratios, measured in one run, are what to read); ${ROUNDS > 1 ? `fastest of ${ROUNDS} interleaved rounds` : 'one round'}.`,
      '',
      table(['run', 'processes × threads', 'wall s', 'x real time', 'throughput vs single', 'Redis commands per file', 'Redis CPU ms per file'], [
        ['single-process batch job', `1 × ${CORES}`, singleSeconds.toFixed(1), (seconds / singleSeconds).toFixed(1), '1.00', '-', '-'],
        ...runs.map((r) => [`queue, ${r.workers} worker${r.workers > 1 ? 's' : ''}`, `${r.workers} × ${r.threads}`, r.seconds.toFixed(1), (seconds / r.seconds).toFixed(1),
          (singleSeconds / r.seconds).toFixed(2), r.redisCommandsPerFile?.toFixed(1) ?? '-', r.redisCpuMsPerFile?.toFixed(2) ?? '-']),
      ]),
      '',
      overheadMs === null ? '' : `Queue overhead (1 worker × ${CORES} threads against the single process, same threads): ${overheadMs.toFixed(0)} ms per file.`,
    ].join('\n');
    const file = writeResults(FILES === 200 ? 'cluster' : `cluster-files${FILES}`, json, md);
    console.log('\n' + md + `\n\n${file}`);
  } finally {
    await redis.stop();
    rmSync(redis.dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
