/**
 * `downloadModel`: a repo's model files into the huggingface_hub cache, or found there when offline. The revision is
 * resolved to a commit once (the repo listing, as `snapshot_download` does), and every file is fetched at that
 * commit, so a push to the branch in the middle cannot mix two versions in one snapshot.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Wav2Vec2Error, checkOptionKeys, invalid, optionKeys } from '../errors';
import { isObject } from '../is';
import { fetchBlob, fileMeta, type ByteProgress } from './blob';
import { checkRepoPath, hubCacheDir, hubToken, offlineFromEnv, RepoCache } from './cache';
import { getJson, type HttpContext, type Subject } from './fetch';
import { chooseFiles, shardsOf } from './files';
import { COMMIT_HASH, parseRepoId } from './id';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface DownloadOptions {
  /** A branch, tag or commit (default: the one after '@' in the id, else `main`). */
  revision?: string;
  /** The hub or a mirror (default: HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** Bearer token (default: HF_TOKEN, else the token file under HF_HOME); false sends none. */
  token?: string | false;
  /** The hub cache (default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Only the cache, no request at all (default: HF_HUB_OFFLINE). */
  offline?: boolean;
  /** Idle time in ms before a silent connection counts as down (default: HF_HUB_DOWNLOAD_TIMEOUT s, else 10 s). */
  timeoutMs?: number;
  /** Bytes received so far of the file being fetched (files already cached report nothing). */
  onProgress?: (p: ByteProgress) => void;
}

export interface HubSnapshot {
  /** `<cache>/models--org--name/snapshots/<commit>`: a folder in the hub layout, for the model loader. */
  dir: string;
  repo: string;
  revision: string;
  commit: string;
  /** The repo paths fetched (or found), configs first; each is `join(dir, file)`. */
  files: string[];
}

const DOWNLOAD_OPTION_KEYS = optionKeys<DownloadOptions>({ revision: true, endpoint: true, token: true, cacheDir: true, offline: true, timeoutMs: true, onProgress: true });

export async function downloadModel(id: string, o: DownloadOptions = {}): Promise<HubSnapshot> {
  if (!isObject(o as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', o);
  checkOptionKeys('downloadModel options', o, DOWNLOAD_OPTION_KEYS);
  const { repo, revision } = parseRepoId(id, o.revision);
  const cache = new RepoCache(o.cacheDir ?? hubCacheDir(), repo);
  if (o.offline ?? offlineFromEnv()) return fromCache(cache, revision, true);
  // A commit's snapshot never changes: when it is complete, there is nothing to ask (hf_hub_download does the same).
  if (COMMIT_HASH.test(revision)) {
    const cached = await fromCache(cache, revision, false).catch(() => null);
    if (cached) return cached;
  }
  try {
    return await fetchSnapshot(cache, repo, revision, o);
  } catch (err) {
    throw await withOfflineHint(err, cache, revision);
  }
}

function httpContext(endpoint: string, o: DownloadOptions): HttpContext {
  const token = o.token === false ? undefined : o.token ?? hubToken();
  const fromEnv = Number(process.env.HF_HUB_DOWNLOAD_TIMEOUT) * 1000;
  return { hubHost: new URL(endpoint).host, ...(token ? { token } : {}), timeoutMs: o.timeoutMs ?? (fromEnv > 0 ? fromEnv : 10_000) };
}

async function fetchSnapshot(cache: RepoCache, repo: string, revision: string, o: DownloadOptions): Promise<HubSnapshot> {
  const endpoint = (o.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const ctx = httpContext(endpoint, o);
  const { commit, files: listing } = await listRepo(endpoint, ctx, repo, revision);
  const where = `${repo}@${revision}`;
  const plan = chooseFiles(listing, where);
  const get = (file: string) => fetchFile(cache, endpoint, ctx, { repo, revision, file }, commit, o.onProgress);
  for (const file of plan.files) await get(file);
  const files = [...plan.files];
  if (plan.index) {
    const shards = shardsOf(await readFile(join(cache.snapshot(commit), plan.index), 'utf8'), plan.index, where);
    const missing = shards.filter((s) => !listing.includes(s));
    if (missing.length) throw new Wav2Vec2Error('HUB_FILE_NOT_FOUND', `${plan.index} of ${where} names shards the repo does not have: ${missing.slice(0, 3).join(', ')}.`);
    for (const shard of shards) await get(shard);
    files.push(...shards);
  }
  // Last, so a ref never points at a snapshot this process left unfinished.
  await cache.writeRef(revision, commit);
  return { dir: cache.snapshot(commit), repo, revision, commit, files };
}

/** `/api/models/{repo}/revision/{revision}`: the commit the revision is at, and the repo's file names. */
async function listRepo(endpoint: string, ctx: HttpContext, repo: string, revision: string): Promise<{ commit: string; files: string[] }> {
  const url = new URL(`${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`);
  const info = await getJson(url, ctx, { repo, revision }) as { sha?: unknown; siblings?: unknown };
  const siblings = Array.isArray(info?.siblings) ? info.siblings as Array<{ rfilename?: unknown }> : null;
  if (typeof info?.sha !== 'string' || !COMMIT_HASH.test(info.sha) || !siblings) {
    throw new Wav2Vec2Error('HUB_NETWORK', `${url.href} did not answer a repo listing (a "sha" and "siblings"); is HF_ENDPOINT a Hugging Face hub or a mirror of one?`);
  }
  const files = siblings.map((s) => (typeof s?.rfilename === 'string' ? s.rfilename : ''));
  return { commit: info.sha, files: files.filter((f) => f !== '').map((f) => checkRepoPath(f, url.href)) };
}

async function fetchFile(cache: RepoCache, endpoint: string, ctx: HttpContext, subject: Subject & { file: string }, commit: string,
  onProgress?: (p: ByteProgress) => void): Promise<void> {
  if (await cache.has(commit, subject.file)) return;
  const path = subject.file.split('/').map(encodeURIComponent).join('/');
  const meta = await fileMeta(new URL(`${endpoint}/${subject.repo}/resolve/${commit}/${path}`), ctx, subject);
  if (meta.commit !== commit) {
    throw new Wav2Vec2Error('HUB_NETWORK', `${endpoint} answered for ${subject.file} at commit ${meta.commit}, asked for ${commit}; a mirror out of date? Try again.`);
  }
  await fetchBlob(cache, meta, ctx, subject, onProgress);
  await cache.link(commit, subject.file, meta.etag);
}

/** The snapshot a revision points at in the cache, when it has every file the model needs. */
async function fromCache(cache: RepoCache, revision: string, offline: boolean): Promise<HubSnapshot> {
  const where = `${cache.repo}@${revision}`;
  const fix = `Fetch it ahead of time on a machine online with \`npx wav2vec2 download ${where}\` (with the same HF_HUB_CACHE), ` +
    `or ${offline ? 'unset HF_HUB_OFFLINE' : 'go online'}.`;
  const miss = (what: string) => new Wav2Vec2Error('HUB_OFFLINE_MISS', `${what} in the cache ${cache.cacheDir}${offline ? ' (HF_HUB_OFFLINE is set)' : ''}. ${fix}`);
  const commit = await cache.readRef(revision);
  if (!commit) throw miss(`No download of ${where}`);
  const listing = await cache.listSnapshot(commit);
  if (listing.length === 0) throw miss(`No snapshot of ${where} (commit ${commit})`);
  let files: string[];
  try {
    const plan = chooseFiles(listing, where);
    files = [...plan.files];
    if (plan.index && await cache.has(commit, plan.index)) {
      files.push(...shardsOf(await readFile(join(cache.snapshot(commit), plan.index), 'utf8'), plan.index, where));
    }
  } catch (err) {
    throw miss(`An incomplete snapshot of ${where} (${(err as Error).message})`);
  }
  const absent: string[] = [];
  for (const f of files) if (!(await cache.has(commit, f))) absent.push(f);
  if (absent.length) throw miss(`${where} lacks ${absent.slice(0, 3).join(', ')}${absent.length > 3 ? ` and ${absent.length - 3} more` : ''}`);
  return { dir: cache.snapshot(commit), repo: cache.repo, revision, commit, files };
}

/** A network error says HF_HUB_OFFLINE=1 would work, when the cache holds this revision complete. */
async function withOfflineHint(err: unknown, cache: RepoCache, revision: string): Promise<unknown> {
  if (!(err instanceof Wav2Vec2Error) || err.code !== 'HUB_NETWORK') return err;
  const cached = await fromCache(cache, revision, true).catch(() => null);
  if (!cached) return err;
  return new Wav2Vec2Error('HUB_NETWORK', `${err.message} The cache has ${cache.repo}@${revision} (commit ${cached.commit.slice(0, 8)}): ` +
    'set HF_HUB_OFFLINE=1 to use it without the network.', { cause: err, ...(err.detail ? { detail: err.detail } : {}) });
}
