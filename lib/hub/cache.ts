/**
 * huggingface_hub's cache layout, byte for byte, so that Python and Node share one download:
 *
 *   <cache>/models--org--name/blobs/<etag>                 the file, named by its etag (LFS: sha256; else git oid)
 *   <cache>/models--org--name/snapshots/<commit>/<path>    a relative symlink to ../../blobs/<etag>
 *   <cache>/models--org--name/refs/<revision>              the commit the revision pointed at, no newline
 *   <cache>/.locks/models--org--name/<etag>.lock           Python's lock (flock); ours, <etag>.node.lock, beside it
 *
 * Only blobs are ever written in place of a download: a file is trusted once it is under blobs/ with its own name.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import { COMMIT_HASH, repoFolderName } from './id';

type Env = NodeJS.ProcessEnv;

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` (constants.py). */
export function hfHome(env: Env = process.env): string {
  if (env.HF_HOME) return expandHome(env.HF_HOME);
  return join(env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'huggingface');
}

/** `HF_HUB_CACHE`, else the legacy `HUGGINGFACE_HUB_CACHE`, else `<HF_HOME>/hub`. */
export function hubCacheDir(env: Env = process.env): string {
  const dir = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  return dir ? expandHome(dir) : join(hfHome(env), 'hub');
}

/** The token sent as `Authorization: Bearer`: `HF_TOKEN`, else the file `huggingface-cli login` writes. */
export function hubToken(env: Env = process.env): string | undefined {
  const fromEnv = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  if (fromEnv) return fromEnv.trim();
  const file = env.HF_TOKEN_PATH ? expandHome(env.HF_TOKEN_PATH) : join(hfHome(env), 'token');
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** huggingface_hub's truth test for HF_HUB_OFFLINE (and the older TRANSFORMERS_OFFLINE). */
export function offlineFromEnv(env: Env = process.env): boolean {
  const v = (env.HF_HUB_OFFLINE || env.TRANSFORMERS_OFFLINE || '').toUpperCase();
  return ['1', 'ON', 'YES', 'TRUE'].includes(v);
}

/**
 * A file name from a repo listing or a shard index, as a safe relative path. The cache joins it under
 * `snapshots/<commit>/`, so an absolute path or a `..` part would write outside the cache.
 */
export function checkRepoPath(path: string, where: string): string {
  const parts = path.split('/');
  if (path.length === 0 || path.length > 1024 || path.includes('\\') || path.includes('\0') ||
      parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Wav2Vec2Error('HUB_NETWORK', `${where} names the file ${JSON.stringify(path)}, which is not a relative path inside the repo; refusing it.`);
  }
  return path;
}

export class RepoCache {
  readonly root: string;

  constructor(readonly cacheDir: string, readonly repo: string) {
    this.root = join(cacheDir, repoFolderName(repo));
  }

  blob(etag: string): string {
    return join(this.root, 'blobs', etag);
  }

  snapshot(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }

  lockFile(etag: string): string {
    return join(this.cacheDir, '.locks', repoFolderName(this.repo), `${etag}.node.lock`);
  }

  /** The commit a revision resolved to last time (a commit hash is its own), or null. */
  async readRef(revision: string): Promise<string | null> {
    if (COMMIT_HASH.test(revision)) return revision;
    const raw = await readFile(join(this.root, 'refs', revision), 'utf8').catch(() => null);
    const commit = raw?.trim() ?? '';
    return COMMIT_HASH.test(commit) ? commit : null;
  }

  /** Written through a temporary name and renamed, so a reader never sees half a hash (as huggingface_hub does). */
  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const file = join(this.root, 'refs', revision);
    if ((await readFile(file, 'utf8').catch(() => null)) === commit) return;
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, commit);
    await rename(tmp, file);
  }

  /** Whether `snapshots/<commit>/<path>` resolves to a file (a symlink whose blob is gone does not count). */
  async has(commit: string, path: string): Promise<boolean> {
    return stat(join(this.snapshot(commit), path)).then((s) => s.isFile(), () => false);
  }

  /**
   * Points `snapshots/<commit>/<path>` at the blob with a relative symlink, so the cache survives being moved.
   * Made under a temporary name and renamed over the old one: a reader sees the old link or the new, never none.
   */
  async link(commit: string, path: string, etag: string): Promise<string> {
    const pointer = join(this.snapshot(commit), path);
    await mkdir(dirname(pointer), { recursive: true });
    const target = relative(dirname(pointer), this.blob(etag));
    const tmp = `${pointer}.${randomBytes(4).toString('hex')}.tmp`;
    await symlink(target, tmp);
    try {
      await rename(tmp, pointer);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return pointer;
  }

  /** Every file under `snapshots/<commit>/`, as repo paths with '/' (what a repo listing would say). */
  async listSnapshot(commit: string): Promise<string[]> {
    const base = this.snapshot(commit);
    if (!existsSync(base)) return [];
    const entries = await readdir(base, { recursive: true, withFileTypes: true });
    const files: string[] = [];
    for (const e of entries) {
      if (e.isDirectory()) continue;
      const full = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
      if (e.name.endsWith('.tmp')) continue;
      files.push(relative(base, full).split(sep).join('/'));
    }
    return files.sort();
  }
}
