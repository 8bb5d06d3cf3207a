/** Batch jobs: many files, long files, resumable output folders. */
export { runBatchJob } from './run';
export type { BatchJobOptions, BatchSummary, BatchProgress, BatchFileEvent, SubtitleFormat, SegmentMode } from './options';
export { expandInputs, type JobInput } from './inputs';
export { StreamResampler } from './stream-resampler';
export { StreamingGreedyDecoder } from './greedy-stream';
export { windowPlan, readPieces, type WindowPlan, type Piece } from './windows';
export { enqueueBatchJob, runWorker, batchStatus, DEFAULT_QUEUE_NAME, type QueueBatchOptions, type WorkerOptions, type WorkerHandle, type QueueStatus } from './queue/index';
