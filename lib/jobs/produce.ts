/**
 * The producer, the first stage of a batch job (see run.ts): takes the inputs in order, has the audio stage decode,
 * downmix and resample them on its worker threads, cuts long ones into windows and puts the pieces on the bounded
 * queue, which waits while it holds its budget (so reading runs ahead of the model by at most that much). An input
 * that a crash interrupted in an earlier run runs alone, so that a second death is its own.
 */
import { Wav2Vec2Error } from '../errors';
import { type Committer, type QueuedPiece } from './commit';
import { FileTask, WholeEmissionSink, type TextSink } from './file-task';
import { StreamingGreedyDecoder } from './greedy-stream';
import type { JobInput } from './inputs';
import type { CheckedOptions } from './options';
import type { BatchQueue } from './queue';
import type { JobStore } from './store';
import { readPieces, type Piece, type PieceAudio, type PieceSource, type WindowPlan } from './windows';
import { readSpeechPieces, type SpeechPlan } from './speech-pieces';
import type { PreparedJob } from './run';

/** The pieces of one input, cut as the job's plan says. */
function piecesOf(file: string, rate: number, plan: WindowPlan | SpeechPlan, source: PieceSource, audio: PieceAudio): AsyncGenerator<Piece> {
  return 'window' in plan ? readPieces(file, rate, plan, source, audio) : readSpeechPieces(file, rate, plan, source, audio);
}

/** The inputs of a run, in order: a fixed list (the local job) or a queue worker's jobs as they come. */
export interface InputFeed {
  /** Whether next() would resolve at once (if not, the batches formed so far leave rather than wait for more). */
  ready(): boolean;
  /** The next input, or null when no more will come. */
  next(): Promise<JobInput | null>;
}

export interface ProducerContext {
  o: CheckedOptions;
  job: PreparedJob;
  store: JobStore;
  queue: BatchQueue<QueuedPiece>;
  committer: Committer;
  audio: PieceAudio;
  /** True once the job is aborted or has failed: the producer reads no further. */
  stopped(): boolean;
}

function crashed(file: string, deaths: number): Wav2Vec2Error {
  return new Wav2Vec2Error('BATCH_INPUT_CRASHED',
    `The process died ${deaths} times while ${file} was being processed (a native crash, a kill, or running out of memory), ` +
    'so it is not run again. To try it once more, rerun with a higher maxAttempts (--max-attempts).');
}

/** Lets the queue hand out what it holds and waits until every input read so far is done or failed. */
async function settle(ctx: ProducerContext): Promise<void> {
  ctx.queue.flush();
  await ctx.committer.untilIdle(ctx.stopped);
}

function newTask(ctx: ProducerContext, input: JobInput): FileTask {
  const { o, job } = ctx;
  const text: TextSink | null = !o.text ? null : job.greedy ? new StreamingGreedyDecoder(job.greedy) : new WholeEmissionSink(job.bound!);
  return new FileTask(input, text, o.features, job.maxLayer > 0 ? ctx.store.tmpPath(`${input.key}.features`) : null);
}

/** Reads one input into the queue, piece by piece; a failure to read fails the input alone. */
async function readInput(ctx: ProducerContext, task: FileTask, deaths: number): Promise<void> {
  const { model, plan } = ctx.job;
  try {
    if (deaths >= ctx.o.maxAttempts) throw crashed(task.input.path, deaths);
    if (task.input.error) throw task.input.error;
    for await (const piece of piecesOf(task.input.path, model.sampleRate, plan, task.source, ctx.audio)) {
      if (piece.last) task.lastIndex = piece.index;
      await ctx.queue.put({ ...piece, task });
      if (ctx.stopped() || task.failed) break;
    }
  } catch (err) {
    await ctx.committer.fail(task, err);
  }
}

/** Reads every input `feed` gives into the queue, then closes it. */
export async function produce(ctx: ProducerContext, feed: InputFeed): Promise<void> {
  for (;;) {
    if (ctx.stopped()) break;
    // Nothing more at hand (a queue worker waiting for jobs): what is queued leaves now instead of waiting.
    if (!feed.ready()) ctx.queue.flush();
    const input = await feed.next();
    if (!input || ctx.stopped()) break;
    const deaths = ctx.store.deaths.get(input.key) ?? 0;
    // In flight when an earlier run died: it runs alone, once everything before it is done, and the next input
    // waits for it, so that a death now is its own and counts against nothing else.
    const alone = deaths > 0 && deaths < ctx.o.maxAttempts;
    if (alone) await settle(ctx);
    const task = newTask(ctx, input);
    ctx.committer.live.add(task);
    await readInput(ctx, task, deaths);
    if (alone) await settle(ctx);
  }
  ctx.queue.close();
}
