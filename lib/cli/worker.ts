/**
 * `wav2vec2 worker --queue redis://HOST:PORT`: takes batch jobs from the queue (`wav2vec2 batch --queue`) and runs
 * them; SIGTERM or Ctrl-C drains (the running batches finish and are saved, the other held jobs go back to the queue),
 * a second one exits at once. Exit status 0 once drained, 1 and 2 as every command.
 */
import { Command } from 'commander';
import { runWorker } from '../jobs';
import type { Device } from '../model/model';
import { intWithin, positiveInt, UsageError } from './options';

interface WorkerCliOptions {
  queue: string;
  queueName?: string;
  concurrency?: number;
  threads?: number;
  device: string;
  audioWorkers?: number;
  prefetch?: number;
  lockDurationMs?: number;
  metricsPort?: number;
  metricsHost?: string;
  quiet: boolean;
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('take batch jobs from a Redis queue (batch --queue) and run them; SIGTERM drains')
    .requiredOption('--queue <url>', 'the Redis of the queue: redis://host:port[/db]')
    .option('--queue-name <name>', 'the queue in that Redis (default wav2vec2-batch)')
    .option('--concurrency <n>', 'model replicas, each on its own inference thread (default 1)', positiveInt('--concurrency'))
    .option('--threads <n>', 'intra-op threads per replica (default: physical cores)', positiveInt('--threads'))
    .option('--device <device>', "'cpu', 'cuda' or 'cuda:N'", (v: string) => {
      if (!/^(cpu|cuda(:\d+)?)$/.test(v)) throw new UsageError(`--device: expected cpu, cuda or cuda:N, got "${v}".`);
      return v;
    }, 'cpu')
    .option('--audio-workers <n>', 'threads that decode and resample the inputs (default: one per four cores, 1 to 4)', positiveInt('--audio-workers'))
    .option('--prefetch <n>', 'jobs held at once, so batches can form (default 16 per replica)', positiveInt('--prefetch'))
    .option('--lock-duration-ms <ms>', "a held job's lease in ms, renewed every half of it (default 30000)", intWithin('--lock-duration-ms', 1000, 3_600_000))
    .option('--metrics-port <port>', 'serve Prometheus metrics on GET /metrics at this port', intWithin('--metrics-port', 0, 65535))
    .option('--metrics-host <host>', 'address for --metrics-port (default 0.0.0.0)')
    .option('--quiet', 'no line per file', false)
    .action(async (o: WorkerCliOptions) => {
      const handle = await runWorker({
        queue: o.queue, ...(o.queueName ? { queueName: o.queueName } : {}),
        ...(o.concurrency ? { concurrency: o.concurrency } : {}), ...(o.threads ? { threads: o.threads } : {}),
        device: o.device as Device, ...(o.audioWorkers ? { audioWorkers: o.audioWorkers } : {}),
        ...(o.prefetch ? { prefetch: o.prefetch } : {}), ...(o.lockDurationMs ? { lockDurationMs: o.lockDurationMs } : {}),
        ...(o.metricsPort !== undefined ? { metricsPort: o.metricsPort } : {}), ...(o.metricsHost ? { metricsHost: o.metricsHost } : {}),
        log: (line) => {
          if (!o.quiet || line.includes('warning')) process.stderr.write(line + '\n');
        },
      });
      process.stderr.write(`worker: ready (pid ${process.pid}${handle.metricsPort !== null ? `, metrics on port ${handle.metricsPort}` : ''})\n`);
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        if (++signals > 1) process.exit(130);
        process.stderr.write(`worker: ${sig}: draining (the running batches finish; the other jobs go back to the queue)\n`);
        void handle.drain();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        await handle.closed;
        process.stderr.write('worker: drained\n');
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });
}
