/**
 * runWorker: takes jobs (one input each) from a BullMQ queue and runs them through the local batch job's pipeline
 * (run.ts runInputs), one pipeline per output folder and settings, fed as jobs arrive, so inputs of many jobs still
 * share batches. Results go into the shared output folder by rename only (JobStore.openShared); a job is acknowledged
 * once its result (or its failure record) is there. See docs/cluster.md for why the output holds each input once.
 *
 * Leases: BullMQ renews each held job's lock on a timer of the JS thread. Inference runs on the model's own
 * inference thread and decoding on the audio stage's worker threads, so the JS thread only hands out batches and
 * writes results: a long file never holds it, and its lease is renewed however long the model takes.
 *
 * Deaths: before an input first reaches the model, its job's `marks` count goes up (in Redis, with the job), and it
 * comes down if the worker stops without dying. A job found with marks > 0 was in flight when a worker died: it
 * runs alone, as in the local job, and after maxAttempts deaths it is recorded as BATCH_INPUT_CRASHED.
 *
 * Drain (drain(), SIGTERM in the CLI): no new job is taken, the batches already on the model finish and are
 * committed, and every other held job is moved back to waiting for another worker.
 */
import type { Server } from 'node:http';
import { Queue, Worker, WaitingError, type Job } from 'bullmq';
import { invalid } from '../../errors';
import type { Device, Model } from '../../model/model';
import { keyOf } from '../inputs';
import { checkJobOptions } from '../options';
import { jobSettings, prepareJob, runInputs } from '../run';
import { checkConcurrency, loadReplicas } from '../../model/replicas';
import { JobStore } from '../store';
import { PushFeed } from './feed';
import { createWorkerMetrics, serveMetrics, type WorkerMetrics } from './metrics';
import { checkRedis, connectionOf, DEFAULT_QUEUE_NAME } from './redis';
import { jobOptionsOf, loadSpecModel, runnerKeyOf, type QueueJobData } from './spec';

export interface WorkerOptions {
  /** redis://host:port[/db] */
  queue: string;
  queueName?: string;
  /** Model replicas, each on its own inference thread (default: with neither this nor `threads`, the model's size decides, lib/model/replicas.ts). */
  concurrency?: number;
  /** Intra-op threads per replica. */
  threads?: number;
  device?: Device;
  audioWorkers?: number;
  /** Jobs held at once, so the pipeline always has inputs to batch (default 16 per replica). */
  prefetch?: number;
  /** A held job's lease, ms (default 30000; renewed every half of it). */
  lockDurationMs?: number;
  /** Serve Prometheus metrics on this port (0: any free port; see metricsPort). */
  metricsPort?: number;
  metricsHost?: string;
  /** Lines worth telling the operator: warnings about Redis, each file done or failed. */
  log?: (line: string) => void;
}

export interface WorkerHandle {
  /** Stops taking jobs, lets the running batches finish, gives the other held jobs back; resolves when closed. */
  drain(): Promise<void>;
  /** Resolves once the worker is closed (by drain()). */
  readonly closed: Promise<void>;
  /** The port /metrics listens on, or null. */
  readonly metricsPort: number | null;
  readonly metrics: WorkerMetrics;
}

type Outcome = 'done' | 'failed' | 'given-back';

interface Pending {
  job: Job<QueueJobData>;
  resolve: (o: Outcome) => void;
  reject: (err: unknown) => void;
}

/** One pipeline: the jobs of one output folder with one set of settings. */
class Runner {
  readonly store: JobStore;
  readonly #feed = new PushFeed();
  readonly #pending: Map<string, Pending>;
  readonly #controller = new AbortController();
  readonly ended: Promise<void>;

  private constructor(store: JobStore, pending: Map<string, Pending>, run: (feed: PushFeed, signal: AbortSignal) => Promise<unknown>, cleanup: () => Promise<void>) {
    this.store = store;
    this.#pending = pending;
    this.ended = run(this.#feed, this.#controller.signal).then(
      () => this.#settleAll(null),
      (err: unknown) => this.#settleAll(err ?? new Error('the pipeline stopped')),
    ).finally(cleanup);
  }

  static async start(data: QueueJobData, o: WorkerOptions, metrics: WorkerMetrics, log: (l: string) => void): Promise<Runner> {
    const models: Model[] = [];
    const load = { ...(o.device ? { device: o.device } : {}), ...(data.spec.dtype ? { dtype: data.spec.dtype } : {}), ...(o.threads ? { threads: o.threads } : {}) };
    const pending = new Map<string, Pending>();
    // Deaths are counted in the job (Redis), not in attempts/ of the folder: see the file comment.
    const bump = async (key: string, by: number) => {
      const p = pending.get(key);
      if (!p) return;
      const marks = Math.max(0, (p.job.data.marks ?? 0) + by);
      await p.job.updateData({ ...p.job.data, marks });
    };
    try {
      models.push(...await loadReplicas((threads) => loadSpecModel(data.spec.model, { ...load, ...(threads ? { threads } : {}) }), { concurrency: o.concurrency, threads: o.threads }));
      const options = jobOptionsOf(data, models, o.audioWorkers);
      const checked = checkJobOptions(options);
      const job = prepareJob(options, checked, models);
      const store = await JobStore.openShared(data.out, await jobSettings(options, checked, job), { mark: (k) => bump(k, 1), unmark: (k) => bump(k, -1) });
      const run = (feed: PushFeed, signal: AbortSignal) => runInputs({
        ...options, signal,
        onFile: (e) => {
          const p = pending.get(keyOf(e.id));
          if (!p) return;
          pending.delete(keyOf(e.id));
          if (e.status === 'done') metrics.audioSeconds.inc(e.duration ?? 0);
          log(`worker: ${e.status} ${e.file}${e.code ? ` [${e.code}] ${e.message}` : ''}`);
          p.resolve(e.status);
        },
      }, checked, job, models, store, feed, { files: 0, skipped: 0, sizes: new Map() });
      return new Runner(store, pending, run, async () => {
        await store.close().catch(() => undefined);
        for (const m of models) m.dispose();
      });
    } catch (err) {
      for (const m of models) m.dispose();
      throw err;
    }
  }

  /** Runs one job's input; resolves with what became of it. */
  submit(job: Job<QueueJobData>): Promise<Outcome> {
    const { key } = job.data.input;
    return new Promise<Outcome>((resolve, reject) => {
      // The same input twice in one worker (a lease lost and the job taken again): the first run answers both.
      const earlier = this.#pending.get(key);
      if (earlier) {
        const first = earlier.resolve;
        earlier.resolve = (o) => { first(o); resolve(o); };
        const firstReject = earlier.reject;
        earlier.reject = (e) => { firstReject(e); reject(e); };
        return;
      }
      this.#pending.set(key, { job, resolve, reject });
      const marks = job.data.marks ?? 0;
      if (marks > 0) this.store.deaths.set(key, marks);
      this.#feed.push({ ...job.data.input });
    });
  }

  stop(): void {
    this.#controller.abort();
    this.#feed.close();
  }

  /** The pipeline ended: what it did not finish is given back (a drain) or fails with its error (retried by the queue). */
  #settleAll(err: unknown): void {
    for (const p of this.#pending.values()) {
      if (err) p.reject(err);
      else p.resolve('given-back');
    }
    this.#pending.clear();
  }
}

export async function runWorker(o: WorkerOptions): Promise<WorkerHandle> {
  const connection = connectionOf(o.queue);
  const name = o.queueName ?? DEFAULT_QUEUE_NAME;
  if (o.prefetch !== undefined && !(Number.isInteger(o.prefetch) && o.prefetch >= 1)) throw invalid('INVALID_INPUT', 'prefetch', 'a positive integer', o.prefetch);
  checkConcurrency(o.concurrency);
  const log = o.log ?? (() => undefined);
  // Checked before any job is taken: a Redis that evicts keys is refused here, with the reason.
  const probe = new Queue(name, { connection });
  probe.on('error', () => undefined);
  try {
    for (const w of (await checkRedis(probe, o.queue)).warnings) log(`worker: warning: ${w}`);
  } finally {
    await probe.close().catch(() => undefined);
  }

  const metrics = createWorkerMetrics();
  const runners = new Map<string, Promise<Runner>>();
  let draining = false;

  const runnerFor = (data: QueueJobData): Promise<Runner> => {
    const k = runnerKeyOf(data);
    let r = runners.get(k);
    if (!r) {
      r = Runner.start(data, o, metrics, log);
      runners.set(k, r);
      // A runner that could not start (a model missing here) or whose pipeline stopped is made anew for the next job.
      r.then((runner) => runner.ended.finally(() => runners.get(k) === r && runners.delete(k)), () => runners.get(k) === r && runners.delete(k));
    }
    return r;
  };

  const processJob = async (job: Job<QueueJobData>, token?: string): Promise<{ status: string }> => {
    const started = Date.now();
    metrics.active.inc();
    try {
      let outcome: Outcome | 'already-done';
      if (draining) outcome = 'given-back';
      else {
        const runner = await runnerFor(job.data);
        // Committed by an earlier run of this job (its worker died between the commit and the acknowledgement).
        if (await runner.store.isDone(job.data.input.key)) {
          outcome = 'already-done';
          log(`worker: already done ${job.data.input.path} (committed by an earlier run of its job)`);
        } else outcome = draining ? 'given-back' : await runner.submit(job);
      }
      metrics.files.inc({ status: outcome.replace('-', '_') });
      if (outcome === 'given-back') {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      metrics.fileSeconds.observe((Date.now() - started) / 1000);
      return { status: outcome };
    } catch (err) {
      if (!(err instanceof WaitingError)) {
        metrics.files.inc({ status: 'error' });
        log(`worker: ${job.data.input.path}: ${(err as Error)?.message ?? String(err)} (the queue retries it)`);
      }
      throw err;
    } finally {
      metrics.active.dec();
    }
  };

  const worker = new Worker<QueueJobData>(name, processJob, {
    connection,
    concurrency: o.prefetch ?? 16 * (o.concurrency ?? 1),
    lockDuration: o.lockDurationMs ?? 30000,
    // A dead worker's jobs go back once their lease lapses, checked as often as a lease lasts.
    stalledInterval: Math.min(30000, o.lockDurationMs ?? 30000),
    // Deaths are counted by marks (above), which only count runs that reached the model; BullMQ's own limit is a
    // backstop for a job that kills its worker before that (while decoding, say): it fails the job, and the
    // enqueuer records it as QUEUE_JOB_FAILED.
    maxStalledCount: 20,
    autorun: true,
  });
  worker.on('error', (err) => log(`worker: queue error: ${err.message}`));

  let server: Server | null = null;
  if (o.metricsPort !== undefined) server = await serveMetrics(metrics.registry, o.metricsPort, o.metricsHost ?? '0.0.0.0');
  const address = server?.address();

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let draining$: Promise<void> | null = null;
  const drain = () => {
    draining$ ??= (async () => {
      draining = true;
      const closing = worker.close();
      const started = await Promise.allSettled([...runners.values()]);
      for (const s of started) if (s.status === 'fulfilled') s.value.stop();
      await closing;
      for (const s of started) if (s.status === 'fulfilled') await s.value.ended;
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      resolveClosed();
    })();
    return draining$;
  };
  return { drain, closed, metrics, metricsPort: address && typeof address === 'object' ? address.port : null };
}
