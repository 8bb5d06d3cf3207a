/**
 * One downloader per blob: `<cache>/.locks/models--org--name/<etag>.node.lock`, beside huggingface_hub's
 * `<etag>.lock`. Python locks its file with flock(2), which Node cannot take, and leaves the empty file behind, so
 * a lock of ours on the same name would read as held forever; with our own name, Python and Node do not exclude
 * each other, and need not: both write a temporary file and rename it into blobs/ whole (Python's temporary name
 * is unique per process), so a race costs bandwidth, never a corrupt blob.
 *
 * Taken as lib/jobs/lock.ts takes a folder: the content (pid, host, nonce) is written to a file of our own and
 * hard-linked to the lock name, so nobody sees it half-written. Unlike a batch folder, a busy blob is waited for.
 * A holder touches its lock every HEARTBEAT_MS; a lock whose process is gone (this host) or that has not been
 * touched for STALE_MS (any host: a shared cache on NFS) is stale, and removed through a claim so that two waiters
 * cannot both remove it and one of them a live lock.
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

const HEARTBEAT_MS = 10_000;
const STALE_MS = 120_000;
const POLL_MS = 100;

interface Holder {
  pid?: number;
  host?: string;
  nonce?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` holding the lock `file`, waiting while another process holds it. */
export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(file), { recursive: true });
  const nonce = randomUUID();
  const content = JSON.stringify({ pid: process.pid, host: hostname(), nonce });
  await take(file, content);
  const beat = setInterval(() => void utimes(file, new Date(), new Date()).catch(() => undefined), HEARTBEAT_MS);
  beat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(beat);
    if ((await readFile(file, 'utf8').catch(() => null)) === content) await unlink(file).catch(() => undefined);
  }
}

async function take(file: string, content: string): Promise<void> {
  const mine = `${file}.${process.pid}.${randomUUID().slice(0, 8)}`;
  await writeFile(mine, content, { flag: 'wx' });
  try {
    for (;;) {
      try {
        await link(mine, file);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const raw = await readFile(file, 'utf8').catch(() => null);
      if (raw === null) continue; // released meanwhile
      if (await stale(file, raw)) await takeOver(file, raw, mine);
      else await sleep(POLL_MS);
    }
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

function parse(raw: string): Holder {
  try {
    const v = JSON.parse(raw) as unknown;
    return v !== null && typeof v === 'object' ? (v as Holder) : {};
  } catch {
    return {};
  }
}

async function stale(file: string, raw: string): Promise<boolean> {
  const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
  if (age > STALE_MS) return true;
  const holder = parse(raw);
  return holder.host === hostname() && typeof holder.pid === 'number' && !alive(holder.pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the stale lock holding `raw`, unless another waiter is doing so (then it waits and tries again). */
async function takeOver(file: string, raw: string, mine: string): Promise<void> {
  const claim = `${file}.takeover-${createHash('sha1').update(raw).digest('hex').slice(0, 16)}`;
  try {
    await link(mine, claim);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A claimant killed mid-takeover would block the blob for good.
    const age = await stat(claim).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > STALE_MS) await unlink(claim).catch(() => undefined);
    await sleep(POLL_MS);
    return;
  }
  try {
    if ((await readFile(file, 'utf8').catch(() => null)) === raw) await unlink(file);
  } finally {
    await unlink(claim).catch(() => undefined);
  }
}
