/**
 * The Redis behind a queue: `redis://[user:password@]host:port[/db]` (rediss:// for TLS) as BullMQ connection
 * options, and the check every command makes before it uses one: reachable, and configured for a queue.
 *
 * BullMQ keeps jobs, leases and counters as ordinary keys: a Redis that may evict keys under memory pressure would
 * drop jobs silently, so anything but `maxmemory-policy noeviction` is refused. A Redis that does not persist
 * (no AOF, no RDB snapshots) loses the queue on a restart: allowed (the output folder still decides what is done, and
 * rerunning `batch --queue` enqueues the rest again), but warned about.
 */
import type { ConnectionOptions, Queue } from 'bullmq';
import { invalid, Wav2Vec2Error } from '../../errors';

/** The queue's name in Redis when none is given (one Redis can hold several). */
export const DEFAULT_QUEUE_NAME = 'wav2vec2-batch';

export function connectionOf(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid('INVALID_INPUT', 'queue', 'a Redis URL such as redis://host:6379 or redis://host:6379/2', url);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw invalid('INVALID_INPUT', 'queue', 'a redis:// or rediss:// URL', url);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw invalid('INVALID_INPUT', 'queue', 'a database number after the port (redis://host:6379/2)', url);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(db ? { db: Number(db) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ's workers block on Redis; a command must wait for a reconnect rather than fail after N retries.
    maxRetriesPerRequest: null,
  };
}

/** What the check found: warnings to print (the queue works, but should be set up otherwise). */
export interface RedisCheck {
  warnings: string[];
}

/**
 * Checks the Redis of `queue` (a BullMQ Queue, already made): throws QUEUE_REDIS_UNREACHABLE when it does not answer
 * within `timeoutMs`, QUEUE_REDIS_MISCONFIGURED when it may evict keys; warns when it does not persist, or does not
 * let CONFIG be read (managed services), so nothing could be checked.
 */
export async function checkRedis(queue: Queue, url: string, timeoutMs = 5000): Promise<RedisCheck> {
  const where = url.replace(/\/\/[^@/]*@/, '//***@');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Wav2Vec2Error('QUEUE_REDIS_UNREACHABLE',
      `No answer from Redis at ${where} within ${timeoutMs / 1000} s. Start it (redis-server), or check the host, port and password in --queue.`)), timeoutMs);
  });
  try {
    // Made from connectionOf's options, the client is ioredis (BullMQ's generic type lacks PING and CONFIG).
    const client = (await Promise.race([queue.client, timeout])) as unknown as { ping(): Promise<string>; config(...args: string[]): Promise<unknown> };
    await Promise.race([client.ping(), timeout]);
    let config: Record<string, string>;
    try {
      const pairs = await Promise.race([client.config('GET', '*') as Promise<string[]>, timeout]);
      config = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) config[pairs[i]!] = pairs[i + 1]!;
    } catch (err) {
      if (err instanceof Wav2Vec2Error) throw err;
      return { warnings: [`Redis at ${where} does not allow CONFIG GET (${(err as Error).message}): make sure its maxmemory-policy is noeviction and that it persists (appendonly yes).`] };
    }
    const policy = config['maxmemory-policy'];
    if (policy !== undefined && policy !== 'noeviction') {
      throw new Wav2Vec2Error('QUEUE_REDIS_MISCONFIGURED',
        `Redis at ${where} has maxmemory-policy ${policy}: it may evict the queue's keys, and jobs would vanish. ` +
        'Set it to noeviction (redis-cli CONFIG SET maxmemory-policy noeviction, and in redis.conf).');
    }
    const warnings: string[] = [];
    if (config.appendonly !== 'yes' && !config.save) {
      warnings.push(`Redis at ${where} does not persist (appendonly no, no save points): a restart of Redis loses the queue ` +
        '(the output folder keeps what is done; rerun batch --queue to enqueue the rest). Set appendonly yes.');
    }
    return { warnings };
  } catch (err) {
    if (err instanceof Wav2Vec2Error) throw err;
    throw new Wav2Vec2Error('QUEUE_REDIS_UNREACHABLE', `Cannot reach Redis at ${where}: ${(err as Error)?.message ?? String(err)}.`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
