/**
 * One job per output folder: `DIR/.lock` holds the pid, host, start time and a random nonce of the job that owns it.
 *
 * Taking it is atomic: the content is written whole to a file of our own, which is then hard-linked to `.lock`
 * (link fails with EEXIST when the name is taken), so a reader never sees a lock half-written and never mistakes a
 * lock being created for an empty, stale one. A stale lock (its process gone, on this host) is removed by whoever
 * first claims it: the claim is a second link, to `.lock.takeover-<hash of the stale content>`, and the claimant
 * removes `.lock` only if it still holds that same content. Nobody else may remove that content meanwhile, and a
 * new lock can only appear once it is gone, so a live lock is never removed in place of a stale one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, open, readFile, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import { writeFailed } from './write';

interface Holder {
  pid?: number;
  host?: string;
  start?: string | null;
  nonce?: string;
}

/** A claim or a lock file older than this was left by a process killed in the middle of a takeover. */
const ABANDONED_MS = 60_000;

/** Nonces of the locks this process holds or is taking (several jobs of one process may race for one folder). */
const MINE = new Set<string>();

export class FolderLock {
  readonly file: string;
  readonly #nonce: string;

  private constructor(file: string, nonce: string) {
    this.file = file;
    this.#nonce = nonce;
  }

  static async acquire(dir: string): Promise<FolderLock> {
    const file = join(dir, '.lock');
    const nonce = randomUUID();
    const content = JSON.stringify({ pid: process.pid, host: hostname(), start: await processStart(process.pid), nonce });
    const mine = join(dir, `.lock-${process.pid}-${nonce}`);
    MINE.add(nonce);
    try {
      await writeMine(mine, content);
      for (let attempt = 0; attempt < 10; attempt++) {
        if (await linkOrWrite(mine, file, content)) {
          await sweep(dir, file);
          return new FolderLock(file, nonce);
        }
        const raw = await readFile(file, 'utf8').catch(() => null);
        if (raw === null) continue; // released meanwhile: try again
        await refuseLive(dir, file, raw);
        await takeOver(file, raw, mine);
      }
      throw new Wav2Vec2Error('BATCH_OUTPUT_LOCKED', `Cannot lock ${dir}: other jobs took it at the same moment. Wait for them, or choose another --out.`);
    } catch (err) {
      MINE.delete(nonce);
      throw err;
    } finally {
      await unlink(mine).catch(() => undefined);
    }
  }

  /** Removes the lock, if it is still ours. */
  async release(): Promise<void> {
    const raw = await readFile(this.file, 'utf8').catch(() => null);
    if (raw !== null && parse(raw).nonce === this.#nonce) await unlink(this.file).catch(() => undefined);
    MINE.delete(this.#nonce);
  }
}

async function writeMine(path: string, content: string): Promise<void> {
  try {
    const fh = await open(path, 'wx');
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw writeFailed(`the lock file ${path}`, err);
  }
}

/** Takes the lock name; false when it is taken. */
async function linkOrWrite(mine: string, file: string, content: string): Promise<boolean> {
  try {
    await link(mine, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw writeFailed(`the lock file ${file}`, err);
  }
  // A file system without hard links (FAT, some network shares): exclusive create, then one small write. A reader
  // can see it empty for that moment; an empty lock counts as held until it is old (see refuseLive).
  try {
    await writeFile(file, content, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw writeFailed(`the lock file ${file}`, err);
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

/** Throws BATCH_OUTPUT_LOCKED unless the lock holding `raw` is stale. */
async function refuseLive(dir: string, file: string, raw: string): Promise<void> {
  const holder = parse(raw);
  const clear = `If no job runs on this folder, delete ${file} and rerun.`;
  if (raw === '') {
    // Being written by a process on a file system without hard links, unless it has been empty for long.
    const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => Infinity);
    if (age < ABANDONED_MS) throw new Wav2Vec2Error('BATCH_OUTPUT_LOCKED', `${dir} is being locked by another batch job. ${clear}`);
    return;
  }
  if (holder.host && holder.host !== hostname()) {
    throw new Wav2Vec2Error('BATCH_OUTPUT_LOCKED', `${dir} is locked by a batch job on ${holder.host} (process ${holder.pid}). ${clear}`);
  }
  if (holder.host === hostname() && typeof holder.pid === 'number' && await holds(holder)) {
    throw new Wav2Vec2Error('BATCH_OUTPUT_LOCKED', `${dir} is in use by another batch job (process ${holder.pid}). Wait for it, stop it, or choose another --out. ${clear}`);
  }
}

/**
 * Removes the stale lock holding `raw`, unless another process is doing so (it then holds the claim; the caller
 * tries again). A claim whose owner was killed mid-takeover would block the folder for good: one older than
 * ABANDONED_MS is removed.
 */
async function takeOver(file: string, raw: string, mine: string): Promise<void> {
  const claim = `${file}.takeover-${createHash('sha1').update(raw).digest('hex').slice(0, 16)}`;
  try {
    await link(mine, claim);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw writeFailed(`the lock file ${claim}`, err);
    const age = await stat(claim).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > ABANDONED_MS) await unlink(claim).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    return;
  }
  try {
    // Only the claimant may remove this content, and no new lock appears while it is there: check, then remove.
    if ((await readFile(file, 'utf8').catch(() => null)) === raw) await unlink(file);
  } catch (err) {
    throw writeFailed(`the stale lock file ${file}`, err);
  } finally {
    await unlink(claim).catch(() => undefined);
  }
}

/** Once the lock is ours: claims left by killed takeovers are moot, and our own files of killed takers are litter. */
async function sweep(dir: string, file: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    if (name.startsWith('.lock.takeover-')) await unlink(path).catch(() => undefined);
    else if (name.startsWith('.lock-') && path !== file) {
      // A taker's own file lives for milliseconds; an old one's process was killed between writing and removing it.
      const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > ABANDONED_MS) await unlink(path).catch(() => undefined);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What tells a process from a later one with the same pid: the boot id and the start time in clock ticks since boot
 * (/proc/<pid>/stat field 22). Null where /proc is missing (not Linux); the pid alone decides there.
 */
async function processStart(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself hold spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[22 - 3];
    if (!start) return null;
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
    return `${boot}:${start}`;
  } catch {
    return null;
  }
}

/**
 * Whether the process that wrote a lock of this host still holds it. A lock with our own pid that we did not take
 * was left by an earlier process that had the same pid: a container restarted (its job runs as pid 1 again), or a
 * recycled pid.
 */
async function holds(holder: Holder): Promise<boolean> {
  const pid = holder.pid!;
  if (pid === process.pid) return typeof holder.nonce === 'string' && MINE.has(holder.nonce);
  if (!alive(pid)) return false;
  // Written by an older version (no start time), or start time unknown here: a live pid is taken as the holder.
  if (typeof holder.start !== 'string') return true;
  const now = await processStart(pid);
  return now === null || now === holder.start;
}
