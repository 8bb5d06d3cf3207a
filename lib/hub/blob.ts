/**
 * One file into the cache, as huggingface_hub's `hf_hub_download` does it: a HEAD (redirects not followed across
 * hosts) gives the commit, the etag that names the blob and its size; the body goes to `blobs/<etag>.incomplete`,
 * is checked, and only then renamed to `blobs/<etag>`. A partial `.incomplete` is kept and resumed with Range; it is
 * never read as the file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { dirname } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import type { RepoCache } from './cache';
import { header, request, type HttpContext, type Subject } from './fetch';
import { withFileLock } from './lock';

export interface FileMeta {
  commit: string;
  /** The blob's name: the LFS sha256 (X-Linked-Etag) or the git object id (ETag), quotes and W/ removed. */
  etag: string;
  /** X-Linked-Size, or Content-Length of a direct answer; undefined when the server gives neither. */
  size?: number;
  /** Where the body is: the CDN URL of an LFS file, else the resolve URL (after same-host redirects). */
  url: URL;
}

export interface ByteProgress {
  file: string;
  bytes: number;
  total?: number;
}

const SHA256 = /^[0-9a-f]{64}$/;
// The etag becomes a file name: refuse anything that could leave blobs/ or clash with our own suffixes.
const SAFE_ETAG = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

function int(v: string | undefined): number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** huggingface_hub's `_normalize_etag`: `W/"abc"` and `"abc"` are both `abc`. */
export function normalizeEtag(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** HEAD `url`: the file's commit, etag, size and download location (get_hf_file_metadata). */
export async function fileMeta(url: URL, ctx: HttpContext, subject: Subject): Promise<FileMeta> {
  const { res, url: last, location } = await request('HEAD', url, ctx, subject, { crossHost: 'stop' });
  res.resume();
  const commit = header(res.headers, 'x-repo-commit');
  const etag = normalizeEtag(header(res.headers, 'x-linked-etag') ?? header(res.headers, 'etag'));
  const notHub = `${url.origin} does not look like a Hugging Face hub (or a mirror of one)`;
  if (!commit || !/^[0-9a-f]{40}$/.test(commit)) throw new Wav2Vec2Error('HUB_NETWORK', `${notHub}: its answer for ${subject.file} has no X-Repo-Commit header. Check HF_ENDPOINT and any proxy.`);
  if (!etag || !SAFE_ETAG.test(etag)) throw new Wav2Vec2Error('HUB_NETWORK', `${notHub}: its answer for ${subject.file} has no usable ETag.`);
  const size = int(header(res.headers, 'x-linked-size')) ?? (location ? undefined : int(header(res.headers, 'content-length')));
  return { commit, etag, ...(size !== undefined ? { size } : {}), url: location ?? last };
}

/** Puts the blob `meta.etag` into the cache unless it is there; waits while another process fetches it. */
export async function fetchBlob(cache: RepoCache, meta: FileMeta, ctx: HttpContext, subject: Subject,
  onProgress?: (p: ByteProgress) => void): Promise<void> {
  await fetchFile(cache.blob(meta.etag), cache.lockFile(meta.etag), meta, ctx, subject, onProgress);
}

/**
 * Puts `meta.url`'s body at `blob` unless it is there, under the lock `lock`: received into `<blob>.incomplete`
 * (resumed with Range), checked, renamed. Also used for files outside the hub cache (torchaudio's checkpoints).
 */
export async function fetchFile(blob: string, lock: string, meta: FileMeta, ctx: HttpContext, subject: Subject,
  onProgress?: (p: ByteProgress) => void): Promise<void> {
  await mkdir(dirname(blob), { recursive: true });
  await withFileLock(lock, async () => {
    if (await stat(blob).then((s) => s.isFile(), () => false)) return; // fetched by the process we waited for
    const part = `${blob}.incomplete`;
    let have = await stat(part).then((s) => s.size, () => 0);
    if (meta.size !== undefined && have > meta.size) {
      await truncate(part, 0);
      have = 0;
    }
    if (meta.size === undefined || have < meta.size) await receive(part, have, meta, ctx, subject, onProgress);
    await verify(part, meta, subject);
    await rename(part, blob);
  });
}

/** GETs the body from byte `have` on (a Range request when there is a partial file) and appends it to `part`. */
async function receive(part: string, have: number, meta: FileMeta, ctx: HttpContext, subject: Subject,
  onProgress?: (p: ByteProgress) => void): Promise<void> {
  const range = have > 0 ? { Range: `bytes=${have}-` } : undefined;
  const { res } = await request('GET', meta.url, ctx, subject, { crossHost: 'follow', ...(range ? { headers: range } : {}) });
  // 200 to a Range request: the server cannot resume, and sends the whole file again.
  const from = res.statusCode === 206 ? rangeStart(res) : 0;
  if (from !== 0 && from !== have) {
    res.destroy();
    throw new Wav2Vec2Error('HUB_NETWORK', `${meta.url.origin} answered a resume from byte ${have} with bytes from ${from}; try again.`);
  }
  const length = int(header(res.headers, 'content-length'));
  const total = meta.size ?? (length !== undefined ? from + length : undefined);
  let bytes = from;
  const fh = await open(part, from > 0 ? 'a' : 'w');
  try {
    await saveBody(res, fh, (n) => {
      bytes += n;
      onProgress?.({ file: subject.file!, bytes, ...(total !== undefined ? { total } : {}) });
    });
  } catch (err) {
    throw incomplete(subject, bytes, total, err);
  } finally {
    await fh.close();
  }
  // A server that closes cleanly but early (no Content-Length, or a proxy that trims) ends here.
  if (length !== undefined && bytes - from < length) throw incomplete(subject, bytes, total);
}

/** Above this much received but not yet written, the connection is paused until the disk catches up. */
const QUEUE_MAX = 64 << 20;

/**
 * Appends the body to `fh`, chunk by chunk, and rejects with the connection's error once every chunk that arrived
 * is written. Neither piped nor async-iterated: a response destroyed by a reset discards what it buffered, and every
 * byte that arrived is a byte the next attempt need not fetch again. So chunks are taken as they come (a queue of
 * our own) and the socket is paused only when the disk falls far behind.
 */
function saveBody(res: IncomingMessage, fh: FileHandle, wrote: (n: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // The connection can drop while the file is being opened, before these listeners exist: its 'close' is gone
    // then, and waiting for it would hang. What it had buffered is lost; the next attempt resumes from the file.
    if (res.destroyed) {
      reject(Object.assign(new Error('connection closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      return;
    }
    const queue: Buffer[] = [];
    let queued = 0;
    let writing = false;
    let ended = false;
    let failure: unknown;
    const settle = () => {
      if (writing || queue.length) return;
      if (failure !== undefined) reject(failure);
      else if (ended) resolve();
    };
    const pump = async () => {
      writing = true;
      try {
        while (queue.length) {
          const chunk = queue.shift()!;
          queued -= chunk.length;
          await fh.write(chunk);
          wrote(chunk.length);
          if (res.isPaused() && queued < QUEUE_MAX / 2) res.resume();
        }
      } catch (err) {
        failure ??= err;
        queue.length = 0;
        res.destroy();
      }
      writing = false;
      settle();
    };
    res.on('data', (chunk: Buffer) => {
      if (failure !== undefined) return;
      queue.push(chunk);
      queued += chunk.length;
      if (queued > QUEUE_MAX) res.pause();
      if (!writing) void pump();
    });
    res.on('end', () => {
      ended = true;
      settle();
    });
    res.on('error', (err) => {
      failure ??= err;
      settle();
    });
    res.on('close', () => {
      if (!ended) failure ??= Object.assign(new Error('connection closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      settle();
    });
  });
}

function rangeStart(res: IncomingMessage): number {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '');
  return m ? Number(m[1]) : -1;
}

function incomplete(subject: Subject, bytes: number, total: number | undefined, cause?: unknown): Wav2Vec2Error {
  const why = cause instanceof Error ? ` (${(cause as NodeJS.ErrnoException).code ?? cause.message})` : '';
  return new Wav2Vec2Error('HUB_DOWNLOAD_INCOMPLETE', `The download of ${subject.file} from ${subject.repo} stopped at ${bytes}` +
    `${total !== undefined ? ` of ${total}` : ''} bytes${why}. Run the same command again: it resumes where it stopped.`, cause === undefined ? undefined : { cause });
}

/** Size against the headers, sha256 against an LFS etag; a file that fails is deleted (resuming it cannot help). */
async function verify(part: string, meta: FileMeta, subject: Subject): Promise<void> {
  const size = (await stat(part)).size;
  if (meta.size !== undefined && size < meta.size) throw incomplete(subject, size, meta.size);
  const fail = async (what: string) => {
    await unlink(part).catch(() => undefined);
    return new Wav2Vec2Error('HUB_CHECKSUM_MISMATCH', `${subject.file} from ${subject.repo}: ${what}. The file was deleted; run the command again, ` +
      'and if it fails the same way, the server or a proxy between is changing the file.');
  };
  if (meta.size !== undefined && size > meta.size) throw await fail(`received ${size} bytes, the hub announced ${meta.size}`);
  if (!SHA256.test(meta.etag)) return;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(part)) hash.update(chunk as Buffer);
  const got = hash.digest('hex');
  if (got !== meta.etag) throw await fail(`sha256 ${got}, expected ${meta.etag}`);
}
