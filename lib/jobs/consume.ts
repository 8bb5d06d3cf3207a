/**
 * The consumer, the middle stage of a batch job (see run.ts): one per model replica, it takes batches of pieces from
 * the queue into the model on the replica's inference thread, and hands the outputs to the committer. It submits the
 * next batch before the committer decodes the previous one, so the model never waits on decoding. A batch that
 * fails is run again one piece at a time, so that one bad input fails alone (lib/pipeline/batch-items.ts, the rule
 * the Recognizer follows too).
 */
import { settleBatch } from '../pipeline/batch-items';
import type { Model } from '../model/model';
import type { Tensor } from '../tensor';
import { type Committer, type QueuedPiece, stopsJob } from './commit';
import { crashPoint } from './faults';
import type { PieceOutput } from './file-task';
import type { CheckedOptions } from './options';
import type { BatchQueue } from './queue';
import type { JobStore } from './store';
import type { Piece } from './windows';

/** What the consumers share: the queue they take from, where outputs go, and how the job stops on a fatal error. */
export interface ConsumerContext {
  o: CheckedOptions;
  /** Highest transformer layer written (0: text only). */
  maxLayer: number;
  store: JobStore;
  queue: BatchQueue<QueuedPiece>;
  committer: Committer;
  stopOnFatal(err: unknown): void;
}

/** Model outputs of one piece (row `b` of a batch), cut to the frames it keeps. */
function cut(t: Tensor, b: number, frames: number, keep: Piece['keep']): Tensor {
  const [, F, C] = t.shape as [number, number, number];
  const to = Math.min(keep.to ?? frames, frames);
  const from = Math.min(keep.from, to);
  return { data: t.data.slice((b * F + from) * C, (b * F + to) * C), shape: [to - from, C] };
}

/** Runs one batch through `m` (emissions, features or both); its inputs' attempts are on disk first. */
async function runBatch(ctx: ConsumerContext, m: Model, batch: QueuedPiece[]): Promise<PieceOutput[]> {
  const { o, maxLayer } = ctx;
  // Before the model sees an input, its attempt is on disk: a crash from here on counts against it.
  const unmarked = [...new Set(batch.map((p) => p.task))].filter((t) => !t.marked);
  for (const t of unmarked) t.marked = true;
  await Promise.all(unmarked.map((t) => ctx.store.markAttempt(t.input)));
  for (const p of batch) crashPoint('before-forward', false, p.task.input.path);
  const x = batch.map((p) => p.samples);
  const started = performance.now();
  let emissions: Tensor | undefined;
  let layers: Tensor[] | undefined;
  let lengths: Int32Array;
  if (o.text) {
    const r = await m.forward(x);
    emissions = r.emissions;
    lengths = r.lengths;
  }
  if (maxLayer > 0) {
    const r = await m.extractFeatures(x, { numLayers: maxLayer });
    layers = o.features.map((l) => r.features[l - 1]!);
    lengths = r.lengths;
  }
  const ms = performance.now() - started;
  const total = x.reduce((s, a) => s + a.length, 0);
  return batch.map((p, b) => {
    p.task.modelMs += (ms * p.samples.length) / total;
    const frames = lengths![b]!;
    return {
      ...(p.wordBreak ? { wordBreak: true } : {}),
      ...(emissions ? { emission: cut(emissions, b, frames, p.keep) } : {}),
      ...(layers ? { features: layers.map((t) => cut(t, b, frames, p.keep)) } : {}),
    };
  });
}

/** Waits for a submitted batch and commits it; a failed batch of several is retried piece by piece (batch-items.ts). */
async function settle(ctx: ConsumerContext, m: Model, batch: QueuedPiece[], running: Promise<PieceOutput[]>): Promise<void> {
  await settleBatch(batch, running, {
    alone: async (p) => (await runBatch(ctx, m, [p]))[0]!,
    settle: (p, out) => (out.ok ? ctx.committer.deliver([p], [out.value]) : ctx.committer.fail(p.task, out.error)),
    skip: (p) => p.task.failed,
    fatal: stopsJob,
  });
}

/** Feeds model replica `m` from the queue until it closes or stops. */
export async function consume(ctx: ConsumerContext, m: Model): Promise<void> {
  let previous: Promise<void> | null = null;
  for (;;) {
    const batch = await ctx.queue.take();
    if (!batch) break;
    // Submitted before the previous batch's emissions are decoded: the inference thread stays busy meanwhile.
    const running = runBatch(ctx, m, batch);
    running.catch(() => undefined);
    if (previous) await previous;
    // A rejection is the job's end (a write failure): recorded at once, so it is never left unhandled meanwhile.
    previous = settle(ctx, m, batch, running).catch((err) => ctx.stopOnFatal(err));
  }
  if (previous) await previous;
}
