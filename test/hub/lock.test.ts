import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { withFileLock } from '../../lib/hub/lock';

describe('hub/lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hub-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs one holder at a time within a process, and leaves no file behind', async () => {
    const file = join(dir, 'x.node.lock');
    const order: string[] = [];
    const job = (name: string) => withFileLock(file, async () => {
      order.push(`${name}+`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      order.push(`${name}-`);
    });
    await Promise.all([job('a'), job('b')]);
    assert.ok(order.join() === 'a+,a-,b+,b-' || order.join() === 'b+,b-,a+,a-', order.join());
    assert.deepEqual(readdirSync(dir), []);
  });

  it('takes over a lock whose process is gone, and one nobody has touched for long', async () => {
    const file = join(dir, 'x.node.lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(file, JSON.stringify({ pid: Number(dead), host: hostname(), nonce: 'old' }));
    assert.equal(await withFileLock(file, async () => 'ran'), 'ran');
    // Another host's lock (a shared cache): stale once its holder stopped touching it.
    writeFileSync(file, JSON.stringify({ pid: 1, host: 'elsewhere', nonce: 'old' }));
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(file, old, old);
    assert.equal(await withFileLock(file, async () => 'ran'), 'ran');
    assert.ok(!existsSync(file));
  });

  it('waits for a live holder on another host while it keeps its lock fresh', async () => {
    const file = join(dir, 'x.node.lock');
    writeFileSync(file, JSON.stringify({ pid: 1, host: 'elsewhere', nonce: 'live' }));
    let ran = false;
    const waiting = withFileLock(file, async () => {
      ran = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(ran, false);
    rmSync(file);
    await waiting;
    assert.equal(ran, true);
  });
});
