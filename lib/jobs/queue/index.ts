/**
 * Batch jobs across machines: a BullMQ queue on Redis, workers sharing the output folder (docs/cluster.md).
 * Loaded on first use: BullMQ and ioredis take a fifth of a second to load, which every other command would pay.
 * bullmq is an optional peer dependency (with it comes ioredis and msgpackr's native extras, which a package that
 * never uses a queue should not install): without it, these say how to add it.
 */
import { Wav2Vec2Error, checkOptionKeys, optionKeys } from '../../errors';
import { isObject } from '../../is';
import { BATCH_JOB_OPTION_KEYS, type BatchJobOptions, type BatchSummary } from '../options';
import type { QueueBatchOptions } from './enqueue';
import type { QueueStatus } from './status';
import type { WorkerHandle, WorkerOptions } from './worker';

export type { QueueBatchOptions, QueueStatus, WorkerHandle, WorkerOptions };
export { DEFAULT_QUEUE_NAME } from './redis';

/** The queue's own keys, and runBatchJob's less what each worker chooses (device, threads, replicas, audio workers). */
const QUEUE_OWN_KEYS = optionKeys<Omit<QueueBatchOptions, keyof BatchJobOptions>>({
  queue: true, queueName: true, bundle: true, modelsDir: true, follow: true, pollMs: true, jobAttempts: true, onWarning: true, onEnqueued: true,
});
const WORKER_CHOSEN: readonly string[] = ['device', 'threads', 'concurrency', 'audioWorkers'];
const QUEUE_BATCH_OPTION_KEYS = [...BATCH_JOB_OPTION_KEYS.filter((k) => !WORKER_CHOSEN.includes(k)), ...QUEUE_OWN_KEYS];
const WORKER_OPTION_KEYS = optionKeys<WorkerOptions>({
  queue: true, queueName: true, concurrency: true, threads: true, device: true, audioWorkers: true, prefetch: true,
  lockDurationMs: true, metricsPort: true, metricsHost: true, log: true,
});
export interface BatchStatusOptions {
  /** redis://host:port[/db] */
  queue: string;
  /** The job's output folder. */
  out: string;
  queueName?: string;
}
const STATUS_OPTION_KEYS = optionKeys<BatchStatusOptions>({ queue: true, out: true, queueName: true });

/** Unknown keys, checked here so that they fail the same with bullmq missing. */
function checkKeys(what: string, options: unknown, keys: readonly string[]): void {
  if (isObject(options)) checkOptionKeys(what, options, keys);
}

/** Enqueues every input not done in `out`, follows the workers until each is done or failed, merges. */
export async function enqueueBatchJob(options: QueueBatchOptions): Promise<BatchSummary> {
  checkKeys('enqueueBatchJob options', options, QUEUE_BATCH_OPTION_KEYS);
  return load<typeof import('./enqueue')>('./enqueue').enqueueBatchJob(options);
}

/** A queue module, or QUEUE_NOT_INSTALLED when bullmq is missing. */
function load<T>(module: string): T {
  try {
    // require(), not import(): the package is CommonJS, and import() would need the compiled file's extension.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(module) as T;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND' && /'bullmq'/.test(e.message)) {
      throw new Wav2Vec2Error('QUEUE_NOT_INSTALLED', 'Queues need the bullmq package, an optional dependency: npm install bullmq@^5', { cause: err });
    }
    throw err;
  }
}

/** Takes jobs from the queue and runs them until drain(). */
export async function runWorker(options: WorkerOptions): Promise<WorkerHandle> {
  checkKeys('runWorker options', options, WORKER_OPTION_KEYS);
  return load<typeof import('./worker')>('./worker').runWorker(options);
}

/** Done, failed (from the folder), running, waiting (from the queue) and the ETA. */
export async function batchStatus(options: BatchStatusOptions): Promise<QueueStatus> {
  checkKeys('batchStatus options', options, STATUS_OPTION_KEYS);
  return load<typeof import('./status')>('./status').batchStatus(options);
}
