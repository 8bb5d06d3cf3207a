/**
 * Batch jobs across machines: a BullMQ queue on Redis, workers sharing the output folder (docs/cluster.md).
 * Loaded on first use: BullMQ and ioredis take a fifth of a second to load, which every other command would pay.
 */
import type { BatchSummary } from '../options';
import type { QueueBatchOptions } from './enqueue';
import type { QueueStatus } from './status';
import type { WorkerHandle, WorkerOptions } from './worker';

export type { QueueBatchOptions, QueueStatus, WorkerHandle, WorkerOptions };
export { DEFAULT_QUEUE_NAME } from './redis';

/** Enqueues every input not done in `out`, follows the workers until each is done or failed, merges. */
export async function enqueueBatchJob(options: QueueBatchOptions): Promise<BatchSummary> {
  // require(), not import(): the package is CommonJS, and import() would need the compiled file's extension.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./enqueue') as typeof import('./enqueue')).enqueueBatchJob(options);
}

/** Takes jobs from the queue and runs them until drain(). */
export async function runWorker(options: WorkerOptions): Promise<WorkerHandle> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./worker') as typeof import('./worker')).runWorker(options);
}

/** Done, failed (from the folder), running, waiting (from the queue) and the ETA. */
export async function batchStatus(options: { queue: string; out: string; queueName?: string }): Promise<QueueStatus> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./status') as typeof import('./status')).batchStatus(options);
}
