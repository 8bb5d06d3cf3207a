/**
 * Every queue command checks its Redis first: one that may evict keys is refused with the reason, one that does not
 * answer is reported as such, one that does not persist is warned about. And a worker's metrics endpoint.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startWorker, waitForLog } from '../../helpers/queue';
import { freePort, removeRedis, requireRedis, startRedis, type TestRedis } from '../../helpers/redis';

const CLI = join(__dirname, '..', '..', '..', 'lib', 'cli', 'index.ts');
const wav2vec2 = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', timeout: 60000 });

describe('queue: the Redis check, and worker metrics', function () {
  this.timeout(60000);
  let redis: TestRedis | undefined;
  before(function () {
    requireRedis(this);
  });
  afterEach(async () => {
    await removeRedis(redis);
    redis = undefined;
  });

  it('refuses a Redis that may evict keys (worker and batch alike), naming the policy and the fix', async () => {
    redis = await startRedis({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    for (const args of [['worker', '--queue', redis.url], ['batch', __filename, '--out', join(redis.dir, 'out'), '--queue', redis.url]]) {
      const r = wav2vec2(args);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /maxmemory-policy allkeys-lru: it may evict the queue's keys.*Set it to noeviction.*\[QUEUE_REDIS_MISCONFIGURED\]/s);
    }
  });

  it('reports a Redis that does not answer', async () => {
    const port = await freePort();
    const r = wav2vec2(['batch', '--out', '/tmp/nowhere', '--queue', `redis://127.0.0.1:${port}`, '--status']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`(No answer from|Cannot reach) Redis at redis://127\\.0\\.0\\.1:${port}.*\\[QUEUE_REDIS_UNREACHABLE\\]`, 's'));
  });

  it('warns about a Redis that does not persist, and serves Prometheus metrics on --metrics-port', async () => {
    redis = await startRedis();
    const w = startWorker(redis.url, ['--metrics-port', '0', '--metrics-host', '127.0.0.1']);
    try {
      await waitForLog(w, /metrics on port \d+/);
      assert.match(w.log(), /worker: warning: Redis at .* does not persist \(appendonly no, no save points\)/);
      const port = Number(/metrics on port (\d+)/.exec(w.log())![1]);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      const text = await res.text();
      for (const m of ['wav2vec2_worker_files_total', 'wav2vec2_worker_active_jobs 0', 'wav2vec2_worker_job_seconds_bucket', 'nodejs_eventloop_lag_seconds']) assert.ok(text.includes(m), m);
    } finally {
      w.child.kill('SIGTERM');
      assert.equal((await w.exited).code, 0);
    }
  });

  it('a persisting Redis gets no warning', async () => {
    redis = await startRedis({ aof: true });
    const w = startWorker(redis.url);
    try {
      await waitForLog(w, /worker: ready/);
      assert.doesNotMatch(w.log(), /warning/);
    } finally {
      w.child.kill('SIGTERM');
      await w.exited;
    }
  });
});
