/**
 * A worker on a network host of its own: a network namespace joined to this one by a veth pair, so that it reaches
 * Redis over a real network address (not loopback), as a worker on another machine would. The files it shares with
 * the enqueuer through the file system (one mount namespace, as an NFS mount would be). Root only: skipped, with
 * the reason, where namespaces cannot be made.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireAddon } from '../../helpers/native';
import { jsonl, linesPerFile, runBatch, startWorker, type WorkerProcess } from '../../helpers/queue';
import { removeRedis, requireRedis, startRedis, type TestRedis } from '../../helpers/redis';
import { requireSpeechTools, sentences, speak } from '../../helpers/speech';

const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });

describe('worker on its own network host (ip netns + veth)', function () {
  this.timeout(180000);
  const tag = `w2v${process.pid % 100000}`;
  const ns = `${tag}-ns`;
  // A /30 of 10.200.0.0/16 picked by pid: two suites on one machine do not collide.
  const net = `10.200.${process.pid % 250}`;
  const hostAddr = `${net}.1`;
  let redis: TestRedis | undefined;
  let worker: WorkerProcess | undefined;

  before(function () {
    requireAddon(this);
    requireSpeechTools(this);
    requireRedis(this);
    const steps: string[][] = [
      ['netns', 'add', ns],
      ['link', 'add', `${tag}-h`, 'type', 'veth', 'peer', 'name', `${tag}-n`],
      ['link', 'set', `${tag}-n`, 'netns', ns],
      ['addr', 'add', `${hostAddr}/30`, 'dev', `${tag}-h`],
      ['link', 'set', `${tag}-h`, 'up'],
      ['-n', ns, 'addr', 'add', `${net}.2/30`, 'dev', `${tag}-n`],
      ['-n', ns, 'link', 'set', `${tag}-n`, 'up'],
      ['-n', ns, 'link', 'set', 'lo', 'up'],
    ];
    for (const s of steps) {
      const r = ip(...s);
      if (r.status !== 0) {
        // eslint-disable-next-line no-console
        console.log(`      (skipped: cannot make a network namespace here: ip ${s.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}; needs root and CAP_NET_ADMIN)`);
        ip('netns', 'del', ns);
        ip('link', 'del', `${tag}-h`);
        this.skip();
      }
    }
  });

  after(async () => {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await removeRedis(redis);
    ip('link', 'del', `${tag}-h`);
    ip('netns', 'del', ns);
  });

  it('reaches Redis over the veth address and does every input once', async () => {
    // Not on loopback: Redis listens on the host end of the veth pair only.
    redis = await startRedis({ host: hostAddr });
    const dir = mkdtempSync(join(tmpdir(), 'w2v-netns-'));
    mkdirSync(join(dir, 'in'));
    const files = sentences(4, 90).map((t, i) => speak(t, join(dir, 'in', `u${i}.wav`)));
    const inside = ip('netns', 'exec', ns, 'ip', '-4', 'addr', 'show');
    assert.match(inside.stdout, new RegExp(`inet ${net.replace(/\./g, '\\.')}\\.2/30`), 'the worker\'s namespace has its own veth address');
    worker = startWorker(redis.url, ['--prefetch', '2'], {}, ['ip', 'netns', 'exec', ns]);
    const out = join(dir, 'out');
    const r = await runBatch(redis.url, [join(dir, 'in'), '--out', out]);
    assert.equal(r.code, 0, `${r.stderr}\n${worker.log()}`);
    const per = linesPerFile(join(out, 'transcripts.jsonl'));
    assert.deepEqual([...per.keys()].sort(), [...files].sort());
    assert.ok([...per.values()].every((n) => n === 1));
    assert.equal(worker.log().match(/worker: done /g)?.length, files.length, 'all done by the worker in the namespace');
    assert.ok(jsonl(join(out, 'transcripts.jsonl')).every((x) => typeof x.text === 'string' && x.text.length > 0));
    worker.child.kill('SIGTERM');
    assert.equal((await worker.exited).code, 0);
  });
});
