/**
 * The output folder's lock, raced by real processes: exactly one job may hold a folder, however many start at the
 * same moment, with or without a stale lock (its process gone) to take over.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobStore } from '../../lib/jobs/store';

const TAKER = join(__dirname, '..', 'helpers', 'lock-taker.ts');
const settings = { model: 'm.pt' };

/** Starts `n` processes that all try to take `dir` at the same moment; resolves with what each printed. */
async function race(dir: string, n: number): Promise<string[]> {
  // Far enough ahead for every process to have started and loaded its modules (2 shared cores, tsx compiling).
  const at = Date.now() + 3000 + 300 * n;
  const outs: string[] = new Array(n).fill('');
  const children = Array.from({ length: n }, () => spawn(process.execPath, ['--import', 'tsx', TAKER, dir, String(at)], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const exited: boolean[] = new Array(n).fill(false);
  const exits = children.map((c, i) => new Promise((resolve) => c.on('exit', () => resolve((exited[i] = true)))));
  // Winners hold the folder until every taker has answered (or died): only then are they let go.
  await new Promise<void>((resolve) => {
    const check = () => {
      if (outs.every((o, i) => o.endsWith('\n') || exited[i])) resolve();
    };
    children.forEach((c, i) => {
      c.stdout.on('data', (d) => {
        outs[i] += d;
        check();
      });
      c.on('exit', check);
    });
  });
  for (const c of children) c.stdin.end();
  await Promise.all(exits);
  return outs.map((o) => o.trim());
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('batch: output folder lock', function () {
  this.timeout(120000);
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'w2v-lock-'));
  });

  it('lets exactly one of many processes started at the same moment take a folder', async () => {
    for (let round = 0; round < 1; round++) {
      const dir = join(root, `fresh-${round}`);
      const got = await race(dir, 6);
      assert.deepEqual(got.filter((g) => g === 'won').length, 1, got.join(', '));
      assert.ok(got.every((g) => g === 'won' || g === 'BATCH_OUTPUT_LOCKED'), got.join(', '));
      assert.ok(!existsSync(join(dir, '.lock')), 'released by the winner');
    }
  });

  it('lets exactly one of many processes take over a stale lock (its process gone) at the same moment', async () => {
    for (let round = 0; round < 2; round++) {
      const dir = join(root, `stale-${round}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: await deadPid(), host: hostname(), start: null }));
      const got = await race(dir, 6);
      assert.deepEqual(got.filter((g) => g === 'won').length, 1, got.join(', '));
      assert.ok(got.every((g) => g === 'won' || g === 'BATCH_OUTPUT_LOCKED'), got.join(', '));
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.lock')), [], 'no lock or claim files left');
    }
  });

  it('lets exactly one of many concurrent opens in one process take a folder', async () => {
    const dir = join(root, 'in-process');
    const opens = await Promise.allSettled(Array.from({ length: 20 }, () => JobStore.open(dir, settings)));
    const won = opens.filter((o) => o.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const o of opens) if (o.status === 'rejected') assert.equal((o.reason as { code?: string }).code, 'BATCH_OUTPUT_LOCKED');
    await (won[0] as PromiseFulfilledResult<JobStore>).value.close();
    await (await JobStore.open(dir, settings)).close();
  });
});
