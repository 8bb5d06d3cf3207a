/**
 * enqueueBatchJob: the batch job on a queue. Every input not yet done in the output folder becomes one BullMQ job
 * (id: a hash of the folder and the input's key, so enqueuing again adds nothing new); then progress is followed
 * from the folder itself until every input is done or failed, and transcripts.jsonl and failures.jsonl are made
 * from results/ and failed/ once (JobStore.merge). The folder's lock is held meanwhile: one follower per folder.
 * Stopped (the signal), it leaves the jobs to the workers; rerun it to follow again and merge.
 */
import { readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Queue, type Job } from 'bullmq';
import { invalid } from '../../errors';
import { expandInputs, type JobInput } from '../inputs';
import { checkJobOptions, type BatchJobOptions, type BatchProgress, type BatchSummary } from '../options';
import { JobStore } from '../store';
import { writeDurable } from '../write';
import { checkRedis, connectionOf, DEFAULT_QUEUE_NAME } from './redis';
import { jobIdOf, specOf, type QueueJobData } from './spec';

export interface QueueBatchOptions extends Omit<BatchJobOptions, 'model' | 'device' | 'threads' | 'concurrency' | 'audioWorkers'> {
  /** redis://host:port[/db] */
  queue: string;
  queueName?: string;
  /** A model file at the same path on every worker (default: the embedded model); or `bundle`. */
  model?: string;
  bundle?: string;
  modelsDir?: string;
  /** Follow progress until every input is done or failed, then merge (default true). False: enqueue and return. */
  follow?: boolean;
  /** How often the output folder is read for progress, ms (default 1000). */
  pollMs?: number;
  /** Retries of a job whose worker threw (the pipeline stopped: a full disk, a model missing there), default 3. */
  jobAttempts?: number;
  onWarning?: (message: string) => void;
  /** Called once the jobs are in the queue: how many were added, and how many were there already. */
  onEnqueued?: (e: { added: number; queued: number; skipped: number }) => void;
}

/** Written beside job.json for `batch --status`: what was asked of the queue, and when. */
export interface QueueRecord {
  queue: string;
  queueName: string;
  inputs: number;
  finishedBefore: number;
  enqueuedAt: string;
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(done, ms);
  function done() {
    clearTimeout(t);
    signal?.removeEventListener('abort', done);
    resolve();
  }
  signal?.addEventListener('abort', done, { once: true });
});

/** Keys of results/ and failed/ (without .json). */
export async function finishedKeys(out: string): Promise<{ done: Set<string>; failed: Set<string> }> {
  const names = async (d: string) => new Set((await readdir(join(out, d)).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
  const done = await names('results');
  const failed = await names('failed');
  for (const k of done) failed.delete(k);
  return { done, failed };
}

export async function enqueueBatchJob(options: QueueBatchOptions): Promise<BatchSummary> {
  if (typeof options?.queue !== 'string') throw invalid('INVALID_INPUT', 'queue', 'a Redis URL such as redis://host:6379', options?.queue);
  const connection = connectionOf(options.queue);
  const { queue: url, queueName, model, bundle, modelsDir, follow, pollMs, jobAttempts, onWarning, onEnqueued, ...rest } = options;
  if (model !== undefined && bundle !== undefined) throw invalid('INVALID_INPUT', 'model', 'a model file or a bundle, not both', model);
  // The same checks as the local job (the model is the workers' to load: a placeholder stands for it here).
  const o = checkJobOptions({ ...rest, model: model ?? 'default' });
  const spec = specOf({ ...rest, ...(model ? { model } : {}), ...(bundle ? { bundle } : {}), ...(modelsDir ? { modelsDir } : {}) });
  const out = resolve(options.out);
  const inputs = await expandInputs(options.inputs);
  const name = queueName ?? DEFAULT_QUEUE_NAME;
  const queue = new Queue<QueueJobData>(name, { connection });
  queue.on('error', () => undefined);
  let store: JobStore | null = null;
  try {
    for (const w of (await checkRedis(queue, url)).warnings) onWarning?.(w);
    // The lock: one follower per folder, and no local run into it meanwhile. Settings (job.json) are the workers' to
    // write and check, since they load the model; null takes what is there.
    store = await JobStore.open(out, null);
    const crashed = (k: string) => store!.failed.get(k)?.code === 'BATCH_INPUT_CRASHED';
    // A crashed input would only take a worker down again: not retried (remove failed/<key>.json to retry it).
    const todo = inputs.filter((i) => !store!.done.has(i.key) && !crashed(i.key) && (o.retryFailed || !store!.failed.has(i.key)));
    // A retried failure's record goes (as a local rerun replaces it): the follower would count it as finished already.
    for (const i of todo) if (store.failed.delete(i.key)) await unlink(join(out, 'failed', `${i.key}.json`)).catch(() => undefined);
    const t0 = Date.now();
    const added = await addJobs(queue, out, todo, spec, jobAttempts ?? 3);
    onEnqueued?.({ added, queued: todo.length - added, skipped: inputs.length - todo.length });
    const record: QueueRecord = { queue: url.replace(/\/\/[^@/]*@/, '//***@'), queueName: name, inputs: inputs.length, finishedBefore: inputs.length - todo.length, enqueuedAt: new Date(t0).toISOString() };
    const tmp = store.tmpPath('queue.json');
    await writeDurable(tmp, JSON.stringify(record, null, 2) + '\n');
    await rename(tmp, join(out, 'queue.json'));
    const progress: BatchProgress = { files: inputs.length, skipped: inputs.length - todo.length, done: 0, failed: 0, audioSeconds: 0, elapsedSeconds: 0, realTime: 0, etaSeconds: null };
    let interrupted = false;
    if (follow !== false) interrupted = !(await followJobs(queue, out, todo, progress, t0, options));
    await store.merge();
    const remaining = todo.length - progress.done - progress.failed;
    return { ...progress, remaining, interrupted: interrupted && remaining > 0, out, transcripts: store.transcriptsFile, failures: store.failuresFile };
  } finally {
    await store?.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
  }
}

/** Adds a job per input unless one with its id is waiting or running; a finished one (a retried failure) is replaced. */
async function addJobs(queue: Queue<QueueJobData>, out: string, todo: JobInput[], spec: QueueJobData['spec'], attempts: number): Promise<number> {
  let added = 0;
  const CHUNK = 500;
  for (let i = 0; i < todo.length; i += CHUNK) {
    const part = todo.slice(i, i + CHUNK);
    const ids = part.map((input) => jobIdOf(out, input.key));
    const existing = await Promise.all(ids.map((id) => queue.getJob(id)));
    const states = await Promise.all(existing.map((j) => j?.getState() ?? Promise.resolve(null)));
    // Left in Redis from a run that is over for it (failed for good, or completed while its result was since removed).
    await Promise.all(existing.map((j, k) => (j && (states[k] === 'failed' || states[k] === 'completed') ? j.remove() : undefined)));
    const jobs = part.map((input, k) => ({ input, id: ids[k]!, present: states[k] !== null && states[k] !== 'failed' && states[k] !== 'completed' && states[k] !== 'unknown' }))
      .filter((j) => !j.present);
    await queue.addBulk(jobs.map(({ input, id }) => ({
      name: 'input',
      data: { out, input: { id: input.id, path: input.path, key: input.key }, spec },
      opts: { jobId: id, attempts, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: true, removeOnFail: { count: 100000 } },
    })));
    added += jobs.length;
  }
  return added;
}

/**
 * Reads the folder every pollMs until every input of `todo` is done or failed (true), or the signal aborts (false).
 * A job the queue gave up on (its retries spent, or stalled too often) leaves no record of a worker: it is recorded
 * here as QUEUE_JOB_FAILED with the queue's reason.
 */
async function followJobs(queue: Queue<QueueJobData>, out: string, todo: JobInput[], progress: BatchProgress, t0: number, o: QueueBatchOptions): Promise<boolean> {
  const keys = new Set(todo.map((i) => i.key));
  const byId = new Map(todo.map((i) => [jobIdOf(out, i.key), i]));
  // Durations of the results seen so far: each record is read once, when it first appears.
  const counted = new Set<string>();
  let polls = 0;
  for (;;) {
    const { done, failed } = await finishedKeys(out);
    progress.done = [...keys].filter((k) => done.has(k)).length;
    progress.failed = [...keys].filter((k) => failed.has(k)).length;
    for (const k of keys) {
      if (!done.has(k) || counted.has(k)) continue;
      counted.add(k);
      const record = await readFile(join(out, 'results', `${k}.json`), 'utf8').then((t) => JSON.parse(t) as { duration?: unknown }, () => null);
      if (typeof record?.duration === 'number') progress.audioSeconds += record.duration;
    }
    progress.elapsedSeconds = (Date.now() - t0) / 1000;
    progress.realTime = progress.elapsedSeconds > 0 ? progress.audioSeconds / progress.elapsedSeconds : 0;
    const finished = progress.done + progress.failed;
    progress.etaSeconds = finished > 0 ? (progress.elapsedSeconds * (keys.size - finished)) / finished : null;
    o.onProgress?.({ ...progress });
    if (finished >= keys.size) return true;
    if (o.signal?.aborted) return false;
    if (++polls % 5 === 0) await recordGivenUp(queue, out, byId, done, failed);
    await sleep(o.pollMs ?? 1000, o.signal);
  }
}

async function recordGivenUp(queue: Queue<QueueJobData>, out: string, byId: Map<string, JobInput>, done: Set<string>, failed: Set<string>): Promise<void> {
  const jobs: Array<Job<QueueJobData> | undefined> = await queue.getJobs(['failed'], 0, -1);
  for (const job of jobs) {
    const input = job?.id ? byId.get(job.id) : undefined;
    if (!job || !input || done.has(input.key) || failed.has(input.key)) continue;
    const record = {
      id: input.id, key: input.key, file: input.path, code: 'QUEUE_JOB_FAILED',
      message: `The queue gave up on this input after ${job.attemptsMade} attempts: ${job.failedReason}`, time: new Date().toISOString(),
    };
    const tmp = join(out, 'failed', `.${input.key}.queue.tmp`);
    await writeFile(tmp, JSON.stringify(record) + '\n');
    await rename(tmp, join(out, 'failed', `${input.key}.json`));
  }
}

