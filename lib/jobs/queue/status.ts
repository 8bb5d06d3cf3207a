/**
 * batchStatus: where a queued batch job stands, from its output folder (done, failed: what the workers committed)
 * and its queue (running, waiting: for the whole queue, which several folders may share), with an ETA from the rate
 * since it was enqueued.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { finishedKeys, type QueueRecord } from './enqueue';
import { checkRedis, connectionOf, DEFAULT_QUEUE_NAME } from './redis';

export interface QueueStatus {
  /** Inputs of the job (as last enqueued), or null when the folder has no queue.json. */
  inputs: number | null;
  done: number;
  failed: number;
  /** Jobs held by workers now (whole queue). */
  running: number;
  /** Jobs waiting, delayed (a retry's backoff) or prioritized (whole queue). */
  waiting: number;
  /** Seconds left at the rate since enqueuing, or null (nothing finished yet, or nothing known). */
  etaSeconds: number | null;
}

export async function batchStatus(o: { queue: string; out: string; queueName?: string }): Promise<QueueStatus> {
  const out = resolve(o.out);
  const record = await readFile(join(out, 'queue.json'), 'utf8').then((t) => JSON.parse(t) as QueueRecord, () => null);
  const queue = new Queue(o.queueName ?? record?.queueName ?? DEFAULT_QUEUE_NAME, { connection: connectionOf(o.queue) });
  queue.on('error', () => undefined);
  try {
    await checkRedis(queue, o.queue);
    const counts = await queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'paused');
    const { done, failed } = await finishedKeys(out);
    let etaSeconds: number | null = null;
    if (record) {
      const finishedNow = done.size + failed.size - record.finishedBefore;
      const elapsed = (Date.now() - Date.parse(record.enqueuedAt)) / 1000;
      const left = Math.max(0, record.inputs - done.size - failed.size);
      etaSeconds = left === 0 ? 0 : finishedNow > 0 ? (elapsed * left) / finishedNow : null;
    }
    return {
      inputs: record?.inputs ?? null, done: done.size, failed: failed.size,
      running: counts.active ?? 0, waiting: (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0) + (counts.paused ?? 0),
      etaSeconds,
    };
  } finally {
    await queue.close().catch(() => undefined);
  }
}
