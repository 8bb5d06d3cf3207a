/**
 * `wav2vec2 download REPO_ID[@REV]`: fetches a hub model into the hub cache ahead of time (offline machines, container
 * images) and prints its snapshot folder. A bar per file on a terminal; nothing on stderr otherwise.
 */
import { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { downloadModel, type ByteProgress } from '../hub';
import { UsageError } from './options';

function endpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--endpoint: expected an http(s) URL such as https://huggingface.co, got "${value}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--endpoint: expected an http(s) URL, got "${value}".`);
  return value;
}

/** A bar for the file being fetched, restarted for each file; stop() leaves the last one drawn. */
export function downloadBar(stream: NodeJS.WriteStream = process.stderr): { update(p: ByteProgress): void; stop(): void } {
  if (stream.isTTY !== true) return { update() {}, stop() {} };
  const bar = new SingleBar({ stream, format: '{file} {bar} {percentage}% | {mb}/{totalMb} MB', hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
  let file: string | undefined;
  const mb = (n: number | undefined) => (n === undefined ? '?' : (n / 1e6).toFixed(1));
  return {
    update(p) {
      const payload = { file: p.file, mb: mb(p.bytes), totalMb: mb(p.total) };
      if (p.file !== file) {
        if (file !== undefined) bar.stop();
        file = p.file;
        bar.start(p.total ?? 0, p.bytes, payload);
      }
      bar.update(p.bytes, payload);
    },
    stop() {
      if (file !== undefined) bar.stop();
      file = undefined;
    },
  };
}

export function downloadCommand(): Command {
  return new Command('download')
    .description('fetch a Hugging Face hub model (configs, weights, language model) into the hub cache ahead of time; prints its folder')
    .argument('<repo>', 'a repo id, optionally with @revision: facebook/wav2vec2-base-960h, org/name@v1.0')
    .option('--revision <rev>', 'branch, tag or commit (default: main; or give it after @)')
    .option('--cache-dir <dir>', 'the hub cache (default: $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)')
    .option('--endpoint <url>', 'the hub or a mirror (default: $HF_ENDPOINT or https://huggingface.co)', endpoint)
    .action(async (repo: string, o: { revision?: string; cacheDir?: string; endpoint?: string }) => {
      const bar = downloadBar();
      try {
        const snap = await downloadModel(repo, {
          ...(o.revision ? { revision: o.revision } : {}),
          ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
          ...(o.endpoint ? { endpoint: o.endpoint } : {}),
          onProgress: (p) => bar.update(p),
        });
        bar.stop();
        process.stdout.write(`${snap.dir}\n`);
      } finally {
        bar.stop();
      }
    });
}
