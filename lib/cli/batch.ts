/**
 * `wav2vec2 batch <inputs...> --out DIR`: runBatchJob from the command line, with a progress bar on a terminal,
 * plain lines elsewhere (logs, CI), and Ctrl-C that stops cleanly. Exit status: 0 all done, 3 some inputs failed
 * (see failures.jsonl), 130 interrupted (rerun the same command to resume), 1 and 2 as every command.
 */
import { Command, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { batchStatus, enqueueBatchJob, runBatchJob } from '../jobs';
import { loadReplicas } from '../model/replicas';
import type { BatchProgress, SegmentMode, SubtitleFormat } from '../jobs';
import type { Model } from '../model/model';
import { addDecoderOptions, addModelOptions, decoderOptionsFrom, nonNegative, openModel, positiveInt, positiveNumber, UsageError, type DecoderCliOptions, type ModelCliOptions } from './options';

interface BatchCliOptions extends ModelCliOptions, DecoderCliOptions {
  out: string;
  batchSize?: number;
  concurrency?: number;
  windowSeconds?: number;
  strideSeconds?: number;
  segment?: SegmentMode;
  minSilenceMs?: number;
  maxSegmentMs?: number;
  txt: boolean;
  srt: boolean;
  vtt: boolean;
  features?: number[];
  text: boolean;
  retryFailed: boolean;
  maxAttempts?: number;
  maxDuration?: number;
  audioWorkers?: number;
  progress: 'auto' | 'bar' | 'lines' | 'none';
  progressInterval: number;
  queue?: string;
  queueName?: string;
  status: boolean;
}

/** Highest layer number taken (runBatchJob's bound too). */
const MAX_LAYER = 1000;

/** "4", "1,4,6", "1-4,8": transformer layers, 1-based. */
export function parseLayers(value: string): number[] {
  const layers = new Set<number>();
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const a = m ? Number(m[1]) : NaN;
    const b = m?.[2] !== undefined ? Number(m[2]) : a;
    // Bounded here, before the range is expanded: "1-999999999" would otherwise fill a Set of a billion numbers.
    if (!m || a < 1 || b < a || b > MAX_LAYER) {
      throw new UsageError(`--features: expected layer numbers like 4, 1,4,6 or 1-4 (1 = the first layer, at most ${MAX_LAYER}), got "${value}".`);
    }
    for (let l = a; l <= b; l++) layers.add(l);
  }
  return [...layers].sort((x, y) => x - y);
}

function clock(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function line(p: BatchProgress): string {
  const total = p.files - p.skipped;
  return `${p.done + p.failed}/${total} files${p.skipped ? ` (+${p.skipped} skipped)` : ''}, ${(p.audioSeconds / 3600).toFixed(3)} h audio, ` +
    `${p.realTime.toFixed(1)}x real time, ${p.failed} failed, ETA ${clock(p.etaSeconds)}`;
}

/** Progress on stderr (`stream`, for tests): a bar on a terminal, a line every `interval` seconds otherwise. */
export function progressView(mode: BatchCliOptions['progress'], interval: number, stream: NodeJS.WriteStream = process.stderr): { update(p: BatchProgress): void; stop(): void } {
  const tty = stream.isTTY === true;
  if (mode === 'none') return { update() {}, stop() {} };
  if (mode === 'bar' || (mode === 'auto' && tty)) {
    const bar = new SingleBar({
      stream,
      format: '{bar} {value}/{total} files | {hours} h audio | {xrt}x real time | ETA {eta2} | {failed} failed',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    }, Presets.shades_classic);
    let started = false;
    // Once stopped (Ctrl-C), later progress must not start the bar again over the "stopping" message.
    let stopped = false;
    return {
      update(p) {
        if (stopped) return;
        const payload = { hours: (p.audioSeconds / 3600).toFixed(3), xrt: p.realTime.toFixed(1), eta2: clock(p.etaSeconds), failed: p.failed };
        if (!started) {
          bar.start(p.files - p.skipped, 0, payload);
          started = true;
        }
        bar.update(p.done + p.failed, payload);
      },
      stop() {
        if (started) bar.stop();
        started = false;
        stopped = true;
      },
    };
  }
  let last = 0;
  let printedComplete = false;
  return {
    update(p) {
      const now = Date.now();
      const complete = p.done + p.failed >= p.files - p.skipped;
      // Every `interval` seconds, and once when the last file is done.
      if (complete ? printedComplete : now - last < interval * 1000) return;
      printedComplete = complete;
      last = now;
      stream.write(`batch: ${line(p)}\n`);
    },
    stop() {},
  };
}

/** --segment and its settings as the job's options (runBatchJob checks the values; flags that do not go together are usage errors here). */
function segmentSettings(o: BatchCliOptions): { segment?: SegmentMode; segmenter?: { minSilenceMs?: number; maxSegmentMs?: number } } {
  const segmenter = {
    ...(o.minSilenceMs !== undefined ? { minSilenceMs: o.minSilenceMs } : {}),
    ...(o.maxSegmentMs !== undefined ? { maxSegmentMs: o.maxSegmentMs } : {}),
  };
  if (Object.keys(segmenter).length && o.segment !== 'speech') throw new UsageError(`--${o.minSilenceMs !== undefined ? 'min-silence-ms' : 'max-segment-ms'}: only used with --segment speech.`);
  if (o.segment === 'speech' && (o.windowSeconds !== undefined || o.strideSeconds !== undefined)) {
    throw new UsageError(`--${o.windowSeconds !== undefined ? 'window-seconds' : 'stride-seconds'}: not used with --segment speech (pieces end in pauses; --max-segment-ms bounds them).`);
  }
  return { ...(o.segment ? { segment: o.segment } : {}), ...(Object.keys(segmenter).length ? { segmenter } : {}) };
}

async function printStatus(o: BatchCliOptions): Promise<void> {
  const s = await batchStatus({ queue: o.queue!, out: o.out, ...(o.queueName ? { queueName: o.queueName } : {}) });
  const of = s.inputs === null ? '' : ` of ${s.inputs}`;
  process.stdout.write(`done ${s.done}${of}, running ${s.running}, failed ${s.failed}, waiting ${s.waiting}, ETA ${clock(s.etaSeconds)}\n`);
}

export function batchCommand(): Command {
  const cmd = new Command('batch')
    .description('transcribe (or featurise) many files into an output folder; rerun the same command to resume')
    .argument('[inputs...]', 'audio files, directories (searched recursively), globs, or manifests (.csv/.jsonl: path[,id])');
  addModelOptions(cmd)
    .requiredOption('--out <dir>', 'output folder: transcripts.jsonl, failures.jsonl, results/, and the optional outputs')
    .option('--batch-size <n>', 'most pieces per model call (default 1 on a CPU, 8 on CUDA)', positiveInt('--batch-size'))
    .option('--concurrency <n>', 'model replicas running at once, each with --threads threads (default: with neither flag, one 1-thread replica per core for a CPU model under 16 M parameters, else 1)', positiveInt('--concurrency'))
    .option('--window-seconds <s>', 'files longer than this are transcribed in overlapping windows of this length (default 30)', positiveNumber('--window-seconds'))
    .option('--stride-seconds <s>', 'context dropped at each inner edge of a window (default window/6)', nonNegative('--stride-seconds'))
    .addOption(new Option('--segment <how>', 'cut long files in fixed windows, or in the pauses of speech (each piece transcribed whole)').choices(['windows', 'speech']))
    .option('--min-silence-ms <ms>', 'with --segment speech: a pause at least this long is cut (default 500)', positiveNumber('--min-silence-ms'))
    .option('--max-segment-ms <ms>', 'with --segment speech: a piece longer than this is cut at its quietest point (default 30000)', positiveNumber('--max-segment-ms'));
  addDecoderOptions(cmd)
    .option('--txt', 'also write txt/<key>.txt per file (<key>: the file name, "-", a hash of its id; docs/batch.md)', false)
    .option('--srt', 'also write srt/<key>.srt subtitles per file', false)
    .option('--vtt', 'also write vtt/<key>.vtt (WebVTT) subtitles per file', false)
    .option('--features <layers>', 'write these transformer layers per file as features/<key>/layerNN.npy (e.g. 4, 1,4 or 1-4) instead of text', parseLayers)
    .option('--text', 'with --features: transcribe too', false)
    .option('--no-retry-failed', 'do not retry inputs that failed in an earlier run')
    .option('--max-duration <seconds>', 'inputs longer than this fail with INPUT_TOO_LONG, refused from the header where it declares the length (default: no limit)', positiveNumber('--max-duration'))
    .option('--audio-workers <n>', 'threads that decode and resample the inputs (default: one per four cores, 1 to 4)', positiveInt('--audio-workers'))
    .option('--max-attempts <n>', 'an input in flight when the process died this many times is recorded as failed (BATCH_INPUT_CRASHED) instead of run again (default 3)', positiveInt('--max-attempts'))
    .addOption(new Option('--progress <mode>', 'progress on stderr').choices(['auto', 'bar', 'lines', 'none']).default('auto'))
    .option('--progress-interval <seconds>', 'seconds between progress lines when not on a terminal', positiveNumber('--progress-interval'), 10)
    .option('--queue <url>', 'run on a Redis queue (redis://host:port[/db]): enqueue the inputs, follow the workers (wav2vec2 worker), merge (docs/cluster.md)')
    .option('--queue-name <name>', 'the queue in that Redis (default wav2vec2-batch)')
    .option('--status', 'with --queue: print done / running / failed / waiting and the ETA of the job in --out, and exit', false)
    .action(async (inputs: string[], o: BatchCliOptions) => {
      if (o.status && !o.queue) throw new UsageError('--status: only used with --queue URL.');
      if (o.status) return printStatus(o);
      if (inputs.length === 0) throw new UsageError("missing required argument 'inputs'");
      const decoder = decoderOptionsFrom(o);
      if (o.text && !o.features) throw new UsageError('--text: only used with --features (without it, text is what the job writes).');
      const formats = (['txt', 'srt', 'vtt'] as SubtitleFormat[]).filter((f) => o[f]);
      if (o.features && !o.text && formats.length) throw new UsageError(`--${formats[0]}: needs text; with --features add --text.`);

      // Replicas are loaded here (openModel knows --bundle and the embedded default) and handed to the job.
      const models: Model[] = [];
      const view = progressView(o.progress, o.progressInterval);
      const controller = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        interrupts++;
        if (interrupts === 1) {
          view.stop();
          process.stderr.write('\nbatch: stopping: the running batch finishes and is saved (Ctrl-C again to quit at once; rerun to resume)\n');
          controller.abort();
        } else {
          // Everything committed so far is safe: results are written atomically, a rerun resumes from them.
          process.exit(130);
        }
      };
      process.on('SIGINT', onSigint);
      try {
        const settings = {
          ...(o.batchSize ? { batchSize: o.batchSize } : {}),
          ...(o.windowSeconds !== undefined ? { windowSeconds: o.windowSeconds } : {}),
          ...(o.strideSeconds !== undefined ? { strideSeconds: o.strideSeconds } : {}),
          ...segmentSettings(o),
          ...(o.features ? { features: o.features, text: o.text } : {}),
          ...((!o.features || o.text) ? { decoder } : {}),
          formats,
          retryFailed: o.retryFailed,
          ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
          ...(o.maxDuration !== undefined ? { maxDuration: o.maxDuration } : {}),
        };
        if (o.queue) {
          for (const flag of ['concurrency', 'threads', 'audioWorkers'] as const) {
            if (o[flag] !== undefined) throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: with --queue, each worker chooses its own (wav2vec2 worker --${flag === 'audioWorkers' ? 'audio-workers' : flag}).`);
          }
          if (o.device !== 'cpu') throw new UsageError('--device: with --queue, each worker chooses its own (wav2vec2 worker --device).');
          if (o.dtype !== 'float32') throw new UsageError('--dtype: with --queue, each worker loads the model in float32 (bfloat16 workers are not supported yet).');
          const summary = await enqueueBatchJob({
            inputs, out: o.out, queue: o.queue, ...(o.queueName ? { queueName: o.queueName } : {}),
            ...(o.model ? { model: o.model } : {}), ...(o.bundle ? { bundle: o.bundle } : {}), ...(o.modelsDir ? { modelsDir: o.modelsDir } : {}),
            ...settings,
            signal: controller.signal,
            onWarning: (w) => process.stderr.write(`batch: warning: ${w}\n`),
            onEnqueued: (e) => process.stderr.write(`batch: ${e.added} inputs enqueued, ${e.queued} already in the queue, ${e.skipped} done or failed before\n`),
            onProgress: (p) => view.update(p),
          });
          view.stop();
          process.stderr.write(`batch: ${summary.files} files: ${summary.done} done, ${summary.failed} failed, ${summary.skipped} skipped${summary.remaining ? `, ${summary.remaining} left` : ''}; ` +
            `${(summary.audioSeconds / 3600).toFixed(3)} h audio in ${clock(summary.elapsedSeconds)}, ${summary.realTime.toFixed(1)}x real time\n` +
            `batch: results in ${summary.transcripts}${summary.failed ? `; failures in ${summary.failures}` : ''}\n`);
          if (summary.interrupted) {
            process.stderr.write('batch: stopped following; the workers go on: rerun the same command to follow again and merge\n');
            process.exitCode = 130;
          } else if (summary.failed > 0) {
            process.exitCode = 3;
          }
          return;
        }
        models.push(...await loadReplicas((threads) => openModel({ ...o, ...(threads ? { threads } : {}) }), { concurrency: o.concurrency, threads: o.threads }));
        const summary = await runBatchJob({
          inputs, out: o.out, model: models,
          ...settings,
          ...(o.audioWorkers !== undefined ? { audioWorkers: o.audioWorkers } : {}),
          signal: controller.signal,
          onProgress: (p) => view.update(p),
        });
        view.stop();
        const hours = (summary.audioSeconds / 3600).toFixed(3);
        process.stderr.write(
          `batch: ${summary.files} files: ${summary.done} done, ${summary.failed} failed, ${summary.skipped} skipped` +
          `${summary.remaining ? `, ${summary.remaining} left` : ''}; ${hours} h audio in ${clock(summary.elapsedSeconds)}, ` +
          `${summary.realTime.toFixed(1)}x real time\n` +
          `batch: results in ${summary.transcripts}${summary.failed ? `; failures in ${summary.failures}` : ''}\n`);
        if (summary.interrupted) {
          process.stderr.write('batch: interrupted: rerun the same command to resume\n');
          process.exitCode = 130;
        } else if (summary.failed > 0) {
          process.exitCode = 3;
        }
      } finally {
        view.stop();
        process.off('SIGINT', onSigint);
        for (const m of models) m.dispose();
      }
    });
  return cmd;
}
