import { Command } from 'commander';
import { createServer } from '../serve';
import { addDecoderOptions, addModelOptions, decoderOptionsFrom, nonNegative, openModel, positiveInt, UsageError, type DecoderCliOptions, type ModelCliOptions } from './options';

interface ServeCliOptions extends ModelCliOptions, DecoderCliOptions {
  host: string;
  port: number;
  maxBatchSize: number;
  maxBatchSeconds: number;
  maxWaitMs: number;
  maxQueue: number;
  maxBodyMb: number;
  maxDuration: number;
  timeoutMs: number;
  log: boolean;
}

function port(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port: expected an integer within [0, 65535], got "${value}".`);
  return n;
}

export function serveCommand(): Command {
  const cmd = new Command('serve').description('HTTP server: POST /v1/transcribe, POST /v1/features, GET /health, GET /metrics (Prometheus)');
  addDecoderOptions(addModelOptions(cmd))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', port, 8080)
    .option('--max-batch-size <n>', 'most requests per model call (1: no batching)', positiveInt('--max-batch-size'), 8)
    .option('--max-batch-seconds <s>', 'most padded audio per model call (batch size × longest clip)', positiveInt('--max-batch-seconds'), 120)
    .option('--max-wait-ms <ms>', 'longest a request waits for others to fill its batch', nonNegative('--max-wait-ms'), 10)
    .option('--max-queue <n>', 'requests waiting beyond which the server answers 503', positiveInt('--max-queue'), 64)
    .option('--max-body-mb <n>', 'largest request body or upload, in MiB', positiveInt('--max-body-mb'), 25)
    .option('--max-duration <s>', 'longest audio per request, in seconds', positiveInt('--max-duration'), 120)
    .option('--timeout-ms <ms>', 'per-request time limit (504 beyond it)', positiveInt('--timeout-ms'), 60000)
    .option('--log', 'log every request (JSON lines on stdout)', false)
    .action(async (o: ServeCliOptions) => {
      // the decoder flags of `transcribe` and `batch`, checked before the model loads
      const decoder = decoderOptionsFrom(o);
      const model = await openModel(o);
      try {
        const app = await createServer({
          recognizer: {
            model,
            maxBatchSize: o.maxBatchSize,
            maxBatchSeconds: o.maxBatchSeconds,
            maxWaitMs: o.maxWaitMs,
            maxQueue: o.maxQueue,
            maxDuration: o.maxDuration,
            decoder,
          },
          maxBodyBytes: o.maxBodyMb * 2 ** 20,
          requestTimeoutMs: o.timeoutMs,
          logger: o.log,
        });
        let resolveClosed = () => {};
        const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
        const address = await app.listen({ host: o.host, port: o.port });
        // Graceful shutdown: stop accepting, finish in-flight requests and the recognizer's queue, then exit.
        // A second signal exits at once.
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) process.exit(130);
          stopping = true;
          process.stdout.write(`wav2vec2 serve: ${signal}, finishing in-flight requests\n`);
          app.close().catch((err) => process.stderr.write(`wav2vec2 serve: error while closing: ${(err as Error).message}\n`)).finally(resolveClosed);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        const g = app.recognizer.grouping;
        process.stdout.write(`wav2vec2 serve: listening on ${address} (model ${model.info.file}, batches of up to ${o.maxBatchSize}, ` +
          `${g.kind === 'single' ? 'one request at a time: a quantised model' : g.kind === 'equal-length' ? 'equal lengths only' : `lengths within ${Math.round(g.maxPadding * 100)} %`})\n`);
        await closed;
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        process.stdout.write('wav2vec2 serve: stopped\n');
      } finally {
        model.dispose();
      }
    });
  return cmd;
}
