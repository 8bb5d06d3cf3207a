/** Batch jobs across machines: a BullMQ queue on Redis, workers sharing the output folder (docs/cluster.md). */
export { enqueueBatchJob, type QueueBatchOptions } from './enqueue';
export { runWorker, type WorkerOptions, type WorkerHandle } from './worker';
export { batchStatus, type QueueStatus } from './status';
export { DEFAULT_QUEUE_NAME } from './redis';
