/**
 * The batch job on a queue, end to end with a real redis-server and workers in processes of their own: every input
 * ends up exactly once in transcripts.jsonl (with the same text and failure codes as the local batch job on the same
 * files) whatever is killed when: a worker in the middle of a file, a worker between its commit and its
 * acknowledgement, a worker on every run of one input, Redis itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireAddon } from '../../helpers/native';
import { runBatch, jsonl, linesPerFile, startBatch, startWorker, waitForLog, type WorkerProcess } from '../../helpers/queue';
import { removeRedis, requireRedis, startRedis, type TestRedis } from '../../helpers/redis';
import { requireSpeechTools, sentences, speak } from '../../helpers/speech';

const CLI = join(__dirname, '..', '..', '..', 'lib', 'cli', 'index.ts');

/** n spoken inputs and one that is not audio, in a fresh folder. */
function corpus(n: number, from: number): { dir: string; inputs: string; files: string[]; bad: string } {
  const dir = mkdtempSync(join(tmpdir(), 'w2v-queue-'));
  const inputs = join(dir, 'in');
  mkdirSync(inputs);
  const files = sentences(n, from).map((text, i) => speak(text, join(inputs, `u${i}.wav`)));
  const bad = join(inputs, 'bad.wav');
  writeFileSync(bad, Buffer.from('RIFF\x10\x00\x00\x00WAVEjunk that is not a wav file at all'));
  return { dir, inputs, files, bad };
}

/** The local batch job on the same inputs: what the queue must produce. */
function localRun(inputs: string, out: string): { texts: Map<string, string>; failures: Map<string, string> } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'batch', inputs, '--out', out, '--progress', 'none'], { encoding: 'utf8', timeout: 120000 });
  assert.ok(r.status === 0 || r.status === 3, r.stderr);
  return {
    texts: new Map(jsonl(join(out, 'transcripts.jsonl')).map((r) => [r.file, r.text])),
    failures: new Map(jsonl(join(out, 'failures.jsonl')).map((f) => [f.file, f.code])),
  };
}

function assertSameAsLocal(out: string, local: ReturnType<typeof localRun>): void {
  const per = linesPerFile(join(out, 'transcripts.jsonl'));
  assert.deepEqual([...per.keys()].sort(), [...local.texts.keys()].sort(), 'every input the local job transcribes, no other');
  for (const [file, n] of per) assert.equal(n, 1, `${file} once in transcripts.jsonl`);
  for (const r of jsonl(join(out, 'transcripts.jsonl'))) assert.equal(r.text, local.texts.get(r.file), `the text of ${r.file}`);
  assert.deepEqual(new Map(jsonl(join(out, 'failures.jsonl')).map((f) => [f.file, f.code])), local.failures, 'the same failures, with the same codes');
  assert.equal(readdirSync(join(out, 'results')).length, local.texts.size);
}

async function drainAll(workers: WorkerProcess[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

describe('batch --queue and worker (real Redis, workers in processes of their own)', function () {
  this.timeout(300000);
  let redis: TestRedis | undefined;
  const workers: WorkerProcess[] = [];

  before(function () {
    requireAddon(this);
    requireSpeechTools(this);
    requireRedis(this);
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await removeRedis(redis);
    redis = undefined;
  });

  it('two workers: each input once, as the local job has it; a rerun enqueues nothing; --status; SIGTERM drains', async () => {
    const c = corpus(6, 40);
    const local = localRun(c.inputs, join(c.dir, 'local'));
    assert.equal(local.failures.size, 1, 'the corrupt input fails locally');
    redis = await startRedis();
    const out = join(c.dir, 'out');
    workers.push(startWorker(redis.url, ['--prefetch', '2']), startWorker(redis.url, ['--prefetch', '2']));
    const r = await runBatch(redis.url, [c.inputs, '--out', out]);
    assert.equal(r.code, 3, `exit 3: one input failed: ${r.stderr}`);
    assertSameAsLocal(out, local);
    assert.ok(workers.every((w) => /worker: done /.test(w.log())), `both workers took jobs:\n${workers.map((w) => w.log()).join('\n')}`);

    const again = await runBatch(redis.url, [c.inputs, '--out', out, '--no-retry-failed']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /batch: 0 inputs enqueued, 0 already in the queue, 7 done or failed before/);
    assertSameAsLocal(out, local);

    const status = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'batch', '--out', out, '--queue', redis.url, '--status'], { encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    assert.equal(status.stdout, 'done 6 of 7, running 0, failed 1, waiting 0, ETA 0s\n');

    // The corrupt file fixed, a rerun retries it (its old failure record must not count as its end) and merges it in.
    speak('a file made good', c.bad);
    const retried = await runBatch(redis.url, [c.inputs, '--out', out]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stderr, /batch: 1 inputs enqueued, 0 already in the queue, 6 done or failed before/);
    const per = linesPerFile(join(out, 'transcripts.jsonl'));
    assert.deepEqual([...per.keys()].sort(), [...c.files, c.bad].sort());
    assert.ok([...per.values()].every((n) => n === 1));
    assert.equal(readFileSync(join(out, 'failures.jsonl'), 'utf8'), '');

    await drainAll(workers);
    for (const w of workers) assert.match(w.log(), /worker: drained/);
    assert.deepEqual((await workers[0]!.exited).code, 0);
  });

  it('SIGTERM drains a worker: its running batch is saved, its other jobs go back (not counted as deaths) and another worker finishes them', async () => {
    // 30 inputs: far more than the worker holds (--prefetch 6) and can finish while SIGTERM reaches it on a busy machine.
    const c = corpus(30, 100);
    redis = await startRedis();
    const out = join(c.dir, 'out');
    // --max-attempts 1: a job given back that were counted as a death would be recorded as crashed.
    const follower = startBatch(redis.url, [c.inputs, '--out', out, '--max-attempts', '1']);
    const first = startWorker(redis.url, ['--prefetch', '6', '--audio-workers', '1']);
    workers.push(first);
    await waitForLog(first, /worker: done /);
    first.child.kill('SIGTERM');
    assert.equal((await first.exited).code, 0, first.log());
    assert.match(first.log(), /worker: drained/);
    const doneByFirst = readdirSync(join(out, 'results')).length;
    assert.ok(doneByFirst < c.files.length, `jobs were left to give back (${doneByFirst} done)`);
    const second = startWorker(redis.url, ['--prefetch', '6']);
    workers.push(second);
    const { code, stderr } = await follower.done;
    assert.equal(code, 3, stderr);
    const per = linesPerFile(join(out, 'transcripts.jsonl'));
    assert.deepEqual([...per.keys()].sort(), [...c.files].sort(), 'every spoken input done, none recorded as crashed');
    assert.ok([...per.values()].every((n) => n === 1));
    assert.match(second.log(), /worker: done /, 'the second worker took what the first gave back');
    assert.deepEqual(jsonl(join(out, 'failures.jsonl')).map((f) => f.file), [c.bad]);
  });

  it('a folder with results of other settings: each worker refuses it, and the queue gives up on the job as QUEUE_JOB_FAILED with the reason', async () => {
    const c = corpus(2, 110);
    const out = join(c.dir, 'out');
    const first = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'batch', c.files[0]!, '--out', out, '--progress', 'none'], { encoding: 'utf8', timeout: 120000 });
    assert.equal(first.status, 0, first.stderr);
    redis = await startRedis();
    workers.push(startWorker(redis.url));
    const r = await runBatch(redis.url, [c.files[0]!, c.files[1]!, '--out', out, '--window-seconds', '20']);
    assert.equal(r.code, 3, r.stderr);
    const failures = jsonl(join(out, 'failures.jsonl'));
    assert.deepEqual(failures.map((f) => [f.file, f.code]), [[c.files[1], 'QUEUE_JOB_FAILED']]);
    assert.match(failures[0]!.message, /after 3 attempts: .*holds results made with other settings \(windowSamples/);
    assert.deepEqual([...linesPerFile(join(out, 'transcripts.jsonl')).keys()], [c.files[0]], 'the local result stays, once');
  });

  it('a worker killed in the middle of a file, another between commit and ack: each input once, the corrupt one failed with its code', async () => {
    const c = corpus(8, 50);
    const local = localRun(c.inputs, join(c.dir, 'local'));
    redis = await startRedis();
    const out = join(c.dir, 'out');
    const lease = ['--prefetch', '2', '--lock-duration-ms', '2000'];
    const follower = startBatch(redis.url, [c.inputs, '--out', out]);
    // A: SIGKILL when it hands its second batch to the model (inputs in flight, nothing of theirs committed).
    const a = startWorker(redis.url, lease, { WAV2VEC2_BATCH_FAULT: 'before-forward:2' });
    // B: SIGKILL right after its second result is renamed into results/, before the queue hears of it.
    const b = startWorker(redis.url, lease, { WAV2VEC2_BATCH_FAULT: 'after-commit:2' });
    workers.push(a, b);
    assert.equal((await a.exited).signal, 'SIGKILL');
    assert.equal((await b.exited).signal, 'SIGKILL');
    const c2 = startWorker(redis.url, lease);
    workers.push(c2);
    const { code, stderr } = await follower.done;
    assert.equal(code, 3, stderr);
    assertSameAsLocal(out, local);
    // B's committed job comes back once its lease lapses, and is acknowledged without running again.
    await waitForLog(c2, /worker: already done /, 30000);
    // Each input reported once by the workers that lived to report it: run to the end once, or found done once.
    const logs = workers.map((w) => w.log()).join('');
    for (const f of c.files) {
      const reports = logs.split('\n').filter((l) => l === `worker: done ${f}` || l.startsWith(`worker: already done ${f} `));
      assert.equal(reports.length, 1, `${f}: ${reports.join('; ')}`);
    }
  });

  it('an input that kills every worker that runs it is recorded as BATCH_INPUT_CRASHED after --max-attempts, and the job finishes', async () => {
    const c = corpus(5, 60);
    const local = localRun(c.inputs, join(c.dir, 'local'));
    redis = await startRedis();
    const out = join(c.dir, 'out');
    const follower = startBatch(redis.url, [c.inputs, '--out', out, '--max-attempts', '2']);
    const crash = { WAV2VEC2_BATCH_FAULT: 'before-forward:1', WAV2VEC2_BATCH_FAULT_INPUT: 'u2.wav' };
    let exited = false;
    void follower.done.then(() => (exited = true));
    // One worker at a time, replaced whenever it dies (as a supervisor would).
    let deaths = 0;
    while (!exited) {
      const w = startWorker(redis.url, ['--prefetch', '2', '--lock-duration-ms', '1500'], crash);
      workers.push(w);
      const end = await Promise.race([w.exited, follower.done.then(() => null)]);
      if (end?.signal === 'SIGKILL') deaths++;
    }
    const { code, stderr } = await follower.done;
    assert.equal(code, 3, stderr);
    assert.equal(deaths, 2, 'two deaths, then it is not run again');
    const failures = jsonl(join(out, 'failures.jsonl'));
    assert.deepEqual(failures.map((f) => [f.file, f.code]).sort(), [[c.bad, local.failures.get(c.bad)], [join(c.inputs, 'u2.wav'), 'BATCH_INPUT_CRASHED']].sort());
    const per = linesPerFile(join(out, 'transcripts.jsonl'));
    assert.deepEqual([...per.keys()].sort(), c.files.filter((f) => !f.endsWith('u2.wav')).sort());
    assert.ok([...per.values()].every((n) => n === 1));
  });

  it('Redis killed and restarted (AOF) in the middle of a run: the job completes, nothing lost or doubled', async () => {
    const c = corpus(10, 70);
    const local = localRun(c.inputs, join(c.dir, 'local'));
    redis = await startRedis({ aof: true });
    const out = join(c.dir, 'out');
    const follower = startBatch(redis.url, [c.inputs, '--out', out]);
    workers.push(startWorker(redis.url, ['--prefetch', '2']));
    const until = Date.now() + 60000;
    while ((existsSync(join(out, 'results')) ? readdirSync(join(out, 'results')).length : 0) < 2) {
      assert.ok(Date.now() < until, 'two results within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    await redis.stop('SIGKILL');
    assert.ok(readdirSync(join(out, 'results')).length < c.files.length, 'killed with inputs still to do');
    await new Promise((r) => setTimeout(r, 1000));
    await redis.start();
    const { code, stderr } = await follower.done;
    assert.equal(code, 3, stderr);
    assertSameAsLocal(out, local);
  });

  it('a file whose inference outlasts the lock several times over is run once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'w2v-queue-long-'));
    const parts = sentences(12, 80).map((t, i) => speak(t, join(dir, `p${i}.wav`)));
    const long = join(dir, 'long.wav');
    // About twelve minutes of speech: several seconds of inference (the job ran four minutes in 2.8 s on a quiet
    // machine), against the shortest lease the worker takes, one second.
    assert.equal(spawnSync('sox', [...Array(24).fill(parts).flat(), long]).status, 0);
    redis = await startRedis();
    const out = join(dir, 'out');
    const leaseMs = 1000;
    const lease = ['--lock-duration-ms', String(leaseMs)];
    workers.push(startWorker(redis.url, lease), startWorker(redis.url, lease));
    const r = await runBatch(redis.url, [long, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const [record] = jsonl(join(out, 'transcripts.jsonl'));
    assert.ok(record!.timing.wallMs > 3 * leaseMs, `inference took ${record!.timing.wallMs} ms, over three leases of ${leaseMs} ms`);
    const runs = workers.map((w) => w.log()).join('').match(/worker: (already )?done .*long\.wav/g) ?? [];
    assert.deepEqual(runs, [`worker: done ${long}`], 'one run, by one worker');
  });
});
