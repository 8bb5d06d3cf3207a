/**
 * A process that downloads a repo at a given moment (`node --import tsx hub-downloader.ts ENDPOINT CACHE REPO AT_MS`),
 * for the concurrency tests: prints the snapshot as JSON, or the error code. Starting several at the same moment is
 * a real race between processes for one cache.
 */
import { downloadModel } from '../../lib/hub';

async function main(): Promise<void> {
  const [endpoint, cacheDir, repo, at] = process.argv.slice(2);
  while (Date.now() < Number(at)); // spin: a timer can be late by a few ms, spreading the starts
  try {
    const snap = await downloadModel(repo!, { endpoint: endpoint!, cacheDir: cacheDir!, token: false, offline: false });
    process.stdout.write(`${JSON.stringify(snap)}\n`);
  } catch (err) {
    process.stdout.write(`${(err as { code?: string }).code ?? String(err)}\n`);
  }
}

void main();
