/**
 * Between the reader (audio decoding and resampling on the JS thread) and the model (its own inference thread):
 * a bounded queue that forms batches. Full windows of long files all have the same length, so they batch as they
 * come; whole files and last windows wait in a pool and leave it in batches of similar length (length bucketing),
 * which keeps padding small for models that take lengths. The queue holds at most `budget` samples of memory, so a fast
 * reader cannot fill memory; when the reader waits on that limit, or is done, batches leave as they are.
 */
export interface Sized {
  samples: Float32Array;
}

/**
 * The samples an item keeps in memory: its whole buffer, which may be longer than the item (a file's last piece is
 * handed over in the buffer it was read into, grown by doubling: lib/jobs/windows.ts `takeAll`).
 */
function held(item: Sized): number {
  return item.samples.buffer.byteLength / Float32Array.BYTES_PER_ELEMENT;
}

/** Clips pooled before the pool is sorted into batches: more gives better buckets and longer waits. */
const BUCKET_FACTOR = 4;

export class BatchQueue<T extends Sized> {
  readonly #batchSize: number;
  readonly #budget: number;
  readonly #window: number;
  readonly #full: T[] = [];
  readonly #pool: T[] = [];
  #queued = 0;
  #closed = false;
  #stopped = false;
  #producerWaiting = false;
  #flushing = false;
  #wakeProducer: (() => void) | null = null;
  #wakeConsumers: Array<() => void> = [];

  constructor(batchSize: number, budgetSamples: number, windowSamples: number) {
    this.#batchSize = batchSize;
    this.#budget = budgetSamples;
    this.#window = windowSamples;
  }

  get queuedSamples(): number {
    return this.#queued;
  }

  /** Adds an item; waits while the queue holds its budget (an empty queue always takes one, however long). */
  async put(item: T): Promise<void> {
    while (!this.#stopped && this.#queued > 0 && this.#queued + held(item) > this.#budget) {
      this.#producerWaiting = true;
      this.#notify();
      await new Promise<void>((resolve) => (this.#wakeProducer = resolve));
      this.#producerWaiting = false;
    }
    if (this.#stopped) return;
    this.#flushing = false;
    (item.samples.length === this.#window ? this.#full : this.#pool).push(item);
    this.#queued += held(item);
    this.#notify();
  }

  /** Hands out what is queued now, in whatever batches it makes, rather than wait for more (the reader pauses). */
  flush(): void {
    this.#flushing = true;
    this.#notify();
  }

  /** No more items will come. */
  close(): void {
    this.#closed = true;
    this.#notify();
  }

  /** Stops handing out batches (what is queued is dropped) and releases a waiting producer. */
  stop(): T[] {
    this.#stopped = true;
    const dropped = [...this.#full.splice(0), ...this.#pool.splice(0)];
    this.#queued = 0;
    this.#notify();
    this.#wakeProducer?.();
    return dropped;
  }

  /** The next batch, or null when the queue is closed and empty, or stopped. */
  async take(): Promise<T[] | null> {
    for (;;) {
      if (this.#stopped) return null;
      const batch = this.#ready();
      if (batch) {
        this.#queued -= batch.reduce((s, x) => s + held(x), 0);
        this.#wakeProducer?.();
        this.#wakeProducer = null;
        return batch;
      }
      if (this.#closed && this.#full.length === 0 && this.#pool.length === 0) return null;
      await new Promise<void>((resolve) => this.#wakeConsumers.push(resolve));
    }
  }

  #ready(): T[] | null {
    const B = this.#batchSize;
    if (this.#full.length >= B) return this.#full.splice(0, B);
    if (this.#pool.length >= B * BUCKET_FACTOR) return this.#bucket(B);
    // Nothing more is coming soon: the reader is done, pauses, or waits for room.
    if (this.#closed || this.#flushing || this.#producerWaiting) {
      if (this.#full.length > 0) return this.#full.splice(0, B);
      if (this.#pool.length > 0) return this.#bucket(Math.min(B, this.#pool.length));
    }
    return null;
  }

  /** The `n` pooled items of closest lengths (the run of n with the smallest longest/shortest ratio). */
  #bucket(n: number): T[] {
    this.#pool.sort((a, b) => a.samples.length - b.samples.length);
    let best = 0;
    let bestRatio = Infinity;
    for (let i = 0; i + n <= this.#pool.length; i++) {
      const ratio = this.#pool[i + n - 1]!.samples.length / this.#pool[i]!.samples.length;
      if (ratio < bestRatio) {
        bestRatio = ratio;
        best = i;
      }
    }
    return this.#pool.splice(best, n);
  }

  #notify(): void {
    const waiting = this.#wakeConsumers;
    this.#wakeConsumers = [];
    for (const wake of waiting) wake();
  }
}
