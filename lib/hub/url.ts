/**
 * Plain files by URL (torchaudio's bundle checkpoints at download.pytorch.org), with the hub downloads' guarantees:
 * received beside the destination, resumed with Range, size-checked, renamed in whole, one process at a time.
 */
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { Wav2Vec2Error } from '../errors';
import { fetchFile, normalizeEtag, type ByteProgress } from './blob';
import { header, request, type HttpContext, type Subject } from './fetch';

/**
 * torch.hub's checkpoint folder (`$TORCH_HOME/hub/checkpoints`, TORCH_HOME defaulting to `$XDG_CACHE_HOME/torch`,
 * then `~/.cache/torch`): where `torchaudio.pipelines.X.get_model()` keeps the same files, so neither downloads
 * what the other already has.
 */
export function torchHubCheckpoints(env: NodeJS.ProcessEnv = process.env): string {
  const torchHome = env.TORCH_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'torch');
  return join(torchHome, 'hub', 'checkpoints');
}

export interface UrlDownloadOptions {
  /** Only what is already on disk; no request (default: HF_HUB_OFFLINE). */
  offline?: boolean;
  timeoutMs?: number;
  onProgress?: (p: ByteProgress) => void;
}

/** `url`'s body at `dest` (fetched unless already there); resolves to `dest`. */
export async function downloadUrl(url: URL, dest: string, o: UrlDownloadOptions = {}): Promise<string> {
  if (await stat(dest).then((s) => s.isFile(), () => false)) return dest;
  const subject: Subject = { repo: url.origin, revision: '', file: basename(url.pathname) };
  if (o.offline) {
    throw new Wav2Vec2Error('HUB_OFFLINE_MISS', `${subject.file} is not at ${dest} and downloads are off (offline). ` +
      `Fetch it once on a connected machine (or copy it there), then run again.`);
  }
  const ctx: HttpContext = { hubHost: '', timeoutMs: o.timeoutMs ?? 10_000 };
  const { res, url: last } = await request('HEAD', url, ctx, subject, { crossHost: 'follow' });
  res.resume();
  const length = header(res.headers, 'content-length');
  const size = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
  // The etag only names the lock here; S3's is an MD5, so the sha256 check of hub blobs does not apply.
  const etag = normalizeEtag(header(res.headers, 'etag')) ?? '';
  await fetchFile(dest, `${dest}.node.lock`, { commit: '', etag, ...(size !== undefined ? { size } : {}), url: last }, ctx, subject, o.onProgress);
  return dest;
}
