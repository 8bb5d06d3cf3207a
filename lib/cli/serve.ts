import { Command, Option } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { Model } from '../model/model';
import { Wav2Vec2Error } from '../errors';
import type { ServerOptions } from '../serve';
import { isModelName, modelNameOf } from '../serve/models';
import { loadReplicas } from '../model/replicas';
import { MAX_WARMUP_SECONDS } from '../model/warmup';
import type { RecognizerOptions } from '../recognizer';
import { DEFAULT_MAX_BATCH_SECONDS } from '../recognizer/defaults';
import { addDecoderOptions, addModelOptions, byteSize, decoderOptionsFrom, intWithin, nonNegative, nonNegativeInt, openModel, positiveInt, positiveNumber, UsageError, type DecoderCliOptions, type ModelCliOptions } from './options';

interface ServeCliOptions extends Omit<ModelCliOptions, 'model'>, DecoderCliOptions {
  /** `[NAME=]PATH` each, in the order given. */
  model?: string[];
  strictModels: boolean;
  drainDelay?: number;
  host: string;
  port: number;
  batchSize: number;
  maxBatchSeconds: number;
  maxWaitMs: number;
  warmup: number;
  maxQueue: number;
  maxBodyBytes: number;
  maxDuration: number;
  minSampleRate: number;
  maxSampleRate: number;
  audioWorkers?: number;
  concurrency?: number;
  requestTimeoutMs: number;
  maxUploads: number;
  minUploadBytesPerSec: number;
  uploadGraceMs: number;
  maxConnections: number;
  maxFeatureBytes: number;
  apiKey?: string;
  allowedHosts?: string[];
  cors?: string[];
  page: boolean;
  maxStreams: number;
  maxStreamSeconds: number;
  streamWindow?: number[];
  log: boolean;
}

/** --stream-window LEFT,CHUNK,LOOKAHEAD: three numbers of ms (createServer checks their ranges). */
function streamWindow(value: string): number[] {
  const ms = value.split(',').map((s) => Number(s.trim()));
  if (ms.length !== 3 || ms.some((n) => !Number.isFinite(n))) throw new UsageError(`--stream-window: expected LEFT,CHUNK,LOOKAHEAD in ms (e.g. 1600,320,640), got "${value}".`);
  return ms;
}

/** A comma-separated list (createServer checks each item). */
function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * `--model [NAME=]PATH`: NAME= when what comes before the first `=` is a model name (no `/`, so `runs/lr=0.1/m.pt` is a
 * path; write `./a=b.pt` for a file named so in this folder). The name defaults to the file's base name.
 */
export function modelSpec(value: string): { name: string; path: string } {
  const eq = value.indexOf('=');
  const name = eq > 0 ? value.slice(0, eq) : '';
  if (isModelName(name)) {
    if (eq === value.length - 1) throw new UsageError(`--model: expected [NAME=]PATH, got "${value}" (no path after "=").`);
    return { name, path: value.slice(eq + 1) };
  }
  return { name: modelNameOf(value), path: value };
}

/** The server (fastify and its plugins, ~120 ms to import), loaded when `serve` runs rather than with every command. */
function serverModule(): typeof import('../serve') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../serve') as typeof import('../serve');
}

function warmupSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > MAX_WARMUP_SECONDS) throw new UsageError(`--warmup: expected a number of seconds within [0, ${MAX_WARMUP_SECONDS}], got "${value}".`);
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** One model's replicas (lib/model/replicas.ts: --concurrency and --threads, or the model's size). */
function openReplicas(o: ServeCliOptions, model: string | undefined): Promise<Model[]> {
  return loadReplicas((threads) => openModel({ ...o, model, ...(threads ? { threads } : {}) }), { concurrency: o.concurrency, threads: o.threads });
}

/** The models to serve, by name, in the order given (the first is the default); all disposed if one fails to load. */
async function openModels(o: ServeCliOptions): Promise<Array<[string, Model[]]>> {
  const specs = (o.model ?? []).map(modelSpec);
  if (specs.length === 0) return [[o.bundle ?? 'default', await openReplicas(o, undefined)]];
  const out: Array<[string, Model[]]> = [];
  try {
    for (const { name, path } of specs) {
      if (out.some(([n]) => n === name)) throw new UsageError(`--model: the name "${name}" is given twice: name them apart with NAME=PATH.`);
      out.push([name, await openReplicas(o, path)]);
    }
    return out;
  } catch (err) {
    for (const [, ms] of out) for (const m of ms) m.dispose();
    throw err;
  }
}

/** How a model's requests are grouped, for the startup line. */
function grouping(app: FastifyInstance, name: string): string {
  const g = app.models.get(name)!.recognizer.grouping;
  return g.kind === 'single' ? 'one request at a time: a quantised model' : g.kind === 'equal-length' ? 'equal lengths only' : `lengths within ${Math.round(g.maxPadding * 100)} %`;
}

/** What warming a model up took, for the startup line. */
function warmedUp(app: FastifyInstance, name: string): string {
  const { calls, ms } = app.models.get(name)!.recognizer.warmup;
  return calls > 0 ? `, warmed up in ${(ms / 1000).toFixed(1)} s (${calls} calls)` : '';
}

const LOOPBACK = /^(127\.|localhost$|::1$|\[::1\]$)/;

function port(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port: expected an integer within [0, 65535], got "${value}".`);
  return n;
}

/** The flag each server-level option comes from, for messages about a bad value. */
const FLAGS: Record<string, string> = {
  maxBodyBytes: '--max-body-bytes', requestTimeoutMs: '--request-timeout-ms', maxUploads: '--max-uploads', minUploadBytesPerSec: '--min-upload-bytes-per-sec',
  uploadGraceMs: '--upload-grace-ms', maxConnections: '--max-connections', maxFeatureBytes: '--max-feature-bytes', apiKey: '--api-key',
  allowedHosts: '--allowed-hosts', cors: '--cors', 'stream.maxStreams': '--max-streams', 'stream.maxStreamSeconds': '--max-stream-seconds',
  leftMs: '--stream-window', chunkMs: '--stream-window', lookaheadMs: '--stream-window',
};

/**
 * The server-level options of the flags, checked before any model loads: a bad value (a short --api-key, a --cors
 * item with a path) is a usage error naming its flag, not a failure after the models have loaded.
 */
function serverOptions(o: ServeCliOptions): ServerOptions {
  const options: ServerOptions = {
    strictModels: o.strictModels,
    maxBodyBytes: o.maxBodyBytes,
    requestTimeoutMs: o.requestTimeoutMs,
    maxUploads: o.maxUploads,
    minUploadBytesPerSec: o.minUploadBytesPerSec,
    uploadGraceMs: o.uploadGraceMs,
    maxConnections: o.maxConnections,
    maxFeatureBytes: o.maxFeatureBytes,
    ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}),
    ...(o.allowedHosts !== undefined ? { allowedHosts: o.allowedHosts } : {}),
    ...(o.cors !== undefined ? { cors: o.cors } : {}),
    page: o.page,
    stream: {
      maxStreams: o.maxStreams, maxStreamSeconds: o.maxStreamSeconds,
      ...(o.streamWindow ? { window: { leftMs: o.streamWindow[0], chunkMs: o.streamWindow[1], lookaheadMs: o.streamWindow[2] } } : {}),
    },
    logger: o.log,
  };
  try {
    serverModule().checkServerOptions(options);
  } catch (err) {
    if (!(err instanceof Wav2Vec2Error)) throw err;
    const m = /^([\w.]+): ([\s\S]*)$/.exec(err.message);
    throw new UsageError(m && FLAGS[m[1]!] ? `${FLAGS[m[1]!]}: ${m[2]}` : err.message);
  }
  return options;
}

export function serveCommand(): Command {
  const cmd = new Command('serve').description('HTTP server: POST /v1/transcribe, POST /v1/features, POST /v1/audio/transcriptions and GET /v1/models (OpenAI-compatible), GET /health, GET /ready, GET /metrics (Prometheus)');
  const model = new Option('--model <[name=]model>', 'a model to serve (TorchScript file, checkpoint folder or hub repo id), as [NAME=]MODEL (NAME: its base name by default); repeat for several, the first is the default (default: the embedded model)')
    .argParser(collect);
  addDecoderOptions(addModelOptions(cmd, model))
    .option('--strict-models', 'refuse requests naming a model that is not loaded (404 MODEL_NOT_FOUND) instead of running the default model', false)
    .option('--host <host>', 'address to listen on (loopback: this machine only; 0.0.0.0: every interface, with --api-key and TLS at a proxy)', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', port, 8080)
    .option('--batch-size <n>', 'most requests per model call (1: no batching)', intWithin('--batch-size', 1, 1024), 8)
    .option('--max-batch-seconds <s>', 'most padded audio per model call (batch size × longest clip; a longer clip runs alone)', positiveInt('--max-batch-seconds'), DEFAULT_MAX_BATCH_SECONDS)
    .option('--drain-delay <seconds>', 'on SIGTERM, answer GET /ready with 503 for this long (still serving) before closing, so a balancer stops sending first', nonNegative('--drain-delay'))
    .option('--max-wait-ms <ms>', 'longest a request waits for others to fill its batch', nonNegative('--max-wait-ms'), 10)
    .option('--warmup <seconds>', 'before listening, run each model on silent inputs of lengths up to this, so the first requests do not pay for its first calls (0: none)', warmupSeconds, 15)
    .option('--max-queue <n>', 'requests waiting beyond which the server answers 503', positiveInt('--max-queue'), 64)
    .option('--max-body-bytes <n>', 'largest request body or upload, in bytes (K, M, G: KiB, MiB, GiB; e.g. 25M)', byteSize('--max-body-bytes'), 25 * 2 ** 20)
    .option('--max-duration <s>', 'longest audio per request, in seconds', positiveNumber('--max-duration'), 120)
    .option('--min-sample-rate <hz>', 'lowest source sample rate taken (below: 415 AUDIO_UNSUPPORTED_RATE)', positiveInt('--min-sample-rate'), 8000)
    .option('--max-sample-rate <hz>', 'highest source sample rate taken (above: 415 AUDIO_UNSUPPORTED_RATE)', positiveInt('--max-sample-rate'), 384000)
    .option('--concurrency <n>', 'replicas of each model, each running its own batches (default: with neither this nor --threads, one 1-thread replica per core for a CPU model under 16 M parameters, else 1)', intWithin('--concurrency', 1, 64))
    .option('--audio-workers <n>', 'threads that decode and resample uploads, off the event loop, per model (default: one per four cores, 1 to 4; at most 64)', intWithin('--audio-workers', 1, 64))
    .option('--request-timeout-ms <ms>', 'per-request time limit, from arrival (an upload still arriving then: 408; no answer then: 504)', positiveInt('--request-timeout-ms'), 60000)
    .option('--max-uploads <n>', 'uploads in progress at once, beyond which the server answers 503 (uploads hold no queue place)', positiveInt('--max-uploads'), 64)
    .option('--min-upload-bytes-per-sec <n>', 'an upload slower than this on average after the grace is cut with 408 (0: no minimum)', nonNegativeInt('--min-upload-bytes-per-sec'), 8192)
    .option('--upload-grace-ms <ms>', 'time an upload gets before the minimum rate counts; also the time limit on receiving headers', positiveInt('--upload-grace-ms'), 5000)
    .option('--max-connections <n>', 'open connections beyond which new ones are closed at once', positiveInt('--max-connections'), 512)
    .option('--max-feature-bytes <n>', 'largest /v1/features answer, in bytes (K, M, G: KiB, MiB, GiB; f32 as sent, JSON bounded): refused with 413 before the model runs', byteSize('--max-feature-bytes'), 64 * 2 ** 20)
    .addOption(new Option('--api-key <key>', 'require "Authorization: Bearer <key>" on every route but /health (at least 16 characters; prefer the environment variable, which ps does not show)').env('WAV2VEC2_API_KEY'))
    .option('--allowed-hosts <names>', 'comma-separated Host names accepted, * for any (default: on loopback connections only localhost, 127.0.0.1, [::1])', list)
    .option('--cors <origins>', 'comma-separated origins (scheme://host[:port]) whose web pages may call the server, * for any (default: none; requests with an Origin get 403)', list)
    .option('--page', 'serve a browser page at / that streams the microphone to /v1/stream and shows the live transcript', false)
    .option('--max-streams <n>', 'live streams (GET /v1/stream) open at once, beyond which the upgrade is answered 503', positiveInt('--max-streams'), 64)
    .option('--max-stream-seconds <s>', 'longest audio one live stream may send (then its last final, and close 4413)', positiveInt('--max-stream-seconds'), 3600)
    .option('--stream-window <ms>', 'live streams\' window: LEFT,CHUNK,LOOKAHEAD in ms (default 1600,320,640; see docs/serving.md)', streamWindow)
    .option('--log', 'log every request (JSON lines on stdout)', false)
    .action(async (o: ServeCliOptions) => {
      // the decoder flags of `transcribe` and `batch`, checked before the model loads
      const decoder = decoderOptionsFrom(o);
      if (o.minSampleRate > o.maxSampleRate) throw new UsageError(`--min-sample-rate ${o.minSampleRate} is above --max-sample-rate ${o.maxSampleRate}.`);
      const server = serverOptions(o);
      const models = await openModels(o);
      try {
        const recognizer: RecognizerOptions = { batchSize: o.batchSize, maxBatchSeconds: o.maxBatchSeconds, maxWaitMs: o.maxWaitMs, maxQueue: o.maxQueue, maxDuration: o.maxDuration, warmupSeconds: o.warmup,
          minSampleRate: o.minSampleRate, maxSampleRate: o.maxSampleRate, ...(o.audioWorkers ? { audioWorkers: o.audioWorkers } : {}), decoder };
        const app = await serverModule().createServer({
          ...server,
          // Each model gets a Recognizer of its own (its own queue, with these limits each).
          models: Object.fromEntries(models.map(([name, m]) => [name, { model: m, ...recognizer }])),
          defaultModel: models[0]![0],
        });
        let resolveClosed = () => {};
        const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
        let address: string;
        try {
          address = await app.listen({ host: o.host, port: o.port });
        } catch (err) {
          // EADDRINUSE, a host that is not ours: the recognizers and their audio workers go before the models do.
          await app.close();
          throw err;
        }
        // Graceful shutdown: stop accepting, finish in-flight requests and the recognizer's queue, then exit.
        // A second signal exits at once.
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) process.exit(130);
          stopping = true;
          // Not ready first (GET /ready: 503), still serving, so balancers take this server out before it closes.
          app.drain();
          process.stdout.write(`wav2vec2 serve: ${signal}, ${o.drainDelay ? `draining for ${o.drainDelay} s, then ` : ''}finishing in-flight requests\n`);
          setTimeout(() => {
            app.close().catch((err) => process.stderr.write(`wav2vec2 serve: error while closing: ${(err as Error).message}\n`)).finally(resolveClosed);
          }, (o.drainDelay ?? 0) * 1000);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        if (!LOOPBACK.test(o.host) && o.apiKey === undefined) {
          process.stderr.write(`wav2vec2 serve: warning: listening on ${o.host} without --api-key: anyone who can reach it can use it (see docs/serving.md, "Deployment")\n`);
        }
        const described = models.map(([name, ms]) => `${models.length > 1 ? `${name}${name === models[0]![0] ? ' (default)' : ''}: ` : ''}${ms[0]!.info.file}, ` +
          `${ms.length > 1 ? `${ms.length} replicas, ` : ''}${grouping(app, name)}${warmedUp(app, name)}`);
        if (o.page) process.stdout.write(`wav2vec2 serve: live transcription page at ${address}/\n`);
        process.stdout.write(`wav2vec2 serve: listening on ${address} (model ${described.join('; ')}; batches of up to ${o.batchSize}` +
          `${o.strictModels ? '; unknown model names refused' : ''})\n`);
        await closed;
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        process.stdout.write('wav2vec2 serve: stopped\n');
      } finally {
        for (const [, ms] of models) for (const m of ms) m.dispose();
      }
    });
  return cmd;
}
