/**
 * A redis-server of the test's own (bench/redis-server.ts: a free port, a temporary folder, killed after). Tests that
 * need one call requireRedis in before() (skipped with the reason where redis-server is not installed).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { TestRedis } from '../../bench/redis-server';

export { freePort, startRedis, type TestRedis } from '../../bench/redis-server';

export function requireRedis(ctx: Mocha.Context): void {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    // eslint-disable-next-line no-console
    console.log('      (skipped: needs redis-server: apt-get install redis-server)');
    ctx.skip();
  }
}

/** Stops it and removes its folder. */
export async function removeRedis(r: TestRedis | undefined): Promise<void> {
  if (!r) return;
  await r.stop();
  rmSync(r.dir, { recursive: true, force: true });
}
