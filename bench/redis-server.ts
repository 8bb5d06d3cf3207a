/**
 * A redis-server of one's own for the queue benchmark and tests: a free port, a temporary folder for its files,
 * stopped by the caller. Needs redis-server on the PATH (Debian: apt-get install redis-server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port free on `host` now (the kernel's choice). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something answers PING on host:port with PONG (or rejects after `ms`). */
async function waitForPong(host: string, port: number, ms = 10000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ host, port }, () => sock.write('PING\r\n'));
      sock.setTimeout(500, () => sock.destroy());
      sock.once('data', (d) => {
        resolve(d.toString().startsWith('+PONG'));
        sock.destroy();
      });
      sock.once('error', () => resolve(false));
      sock.once('close', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server on ${host}:${port} did not answer within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface TestRedis {
  url: string;
  host: string;
  port: number;
  dir: string;
  /** SIGKILL (what a crash leaves), or SIGTERM (a clean shutdown); resolves once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and folder (with AOF on, it reloads the queue). */
  start(): Promise<void>;
}

/**
 * Starts redis-server on `host` (default loopback) at a free port. `aof`: append-only file, fsync'd at every write
 * (so a SIGKILL loses nothing acknowledged); else no persistence. Extra `args` are passed on.
 */
export async function startRedis(o: { host?: string; aof?: boolean; args?: string[] } = {}): Promise<TestRedis> {
  const host = o.host ?? '127.0.0.1';
  const port = await freePort(host);
  const dir = mkdtempSync(join(tmpdir(), 'w2v-redis-'));
  let child: ChildProcess | null = null;
  const args = ['--port', String(port), '--bind', host, '--dir', dir, '--save', '', '--maxmemory-policy', 'noeviction',
    '--appendonly', o.aof ? 'yes' : 'no', '--appendfsync', 'always', '--protected-mode', 'no', ...(o.args ?? [])];
  const r: TestRedis = {
    url: `redis://${host}:${port}`, host, port, dir,
    async start() {
      child = spawn('redis-server', args, { stdio: 'ignore' });
      await waitForPong(host, port);
    },
    async stop(signal = 'SIGKILL') {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill(signal);
      });
    },
  };
  await r.start();
  return r;
}
