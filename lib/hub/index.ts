/**
 * Models named by a Hugging Face hub repo id: `resolveModelSource` is what `loadModel` calls with whatever the user
 * wrote (a path or `org/name[@revision]`); `downloadModel` fetches ahead of time (the `download` command).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { downloadModel, type DownloadOptions, type HubSnapshot } from './download';
import { parseRepoId } from './id';

export { downloadModel, DEFAULT_ENDPOINT, type DownloadOptions, type HubSnapshot } from './download';
export { isRepoId, parseRepoId, repoFolderName, type RepoRef } from './id';
export { hubCacheDir, hubToken, offlineFromEnv } from './cache';
export type { ByteProgress } from './blob';

export type ModelSource = { kind: 'path'; path: string } | ({ kind: 'hub' } & HubSnapshot);

/**
 * What reads as a file name, not a repo id: `./x`, `/x`, `~/x`, `a/b/c`, or a model file's extension. A repo
 * id with such a spelling is still reachable as `name@main`.
 */
export function looksLikePath(spec: string): boolean {
  return /^(\.{1,2}|~)?[/\\]/.test(spec) || spec.includes('\\') || spec.split('/').length > 2 ||
    (!spec.includes('@') && /\.(pt|pth|ts|zip|bin|safetensors|json|onnx)$/i.test(spec));
}

/**
 * An existing file or folder always wins over a repo id of the same spelling; then a spelling that reads as a path
 * stays a path (the loader reports it missing); anything else must be a repo id (HUB_INVALID_ID otherwise), and is
 * fetched into (or, offline, found in) the hub cache.
 */
export async function resolveModelSource(spec: string, opts: DownloadOptions = {}): Promise<ModelSource> {
  if (existsSync(spec) || looksLikePath(spec)) return { kind: 'path', path: resolve(spec) };
  parseRepoId(spec, opts.revision);
  return { kind: 'hub', ...(await downloadModel(spec, opts)) };
}
