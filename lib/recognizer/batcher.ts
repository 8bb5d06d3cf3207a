/**
 * The dynamic batcher: a FIFO of waiting requests and one batch running at a time per slot (a model replica).
 * One at a time on purpose: a replica runs its calls one after another anyway, and while a batch runs the next
 * requests pile up and form the next batch, which is where batching pays off under load.
 *
 * A batch is the oldest request plus the queued requests that may share its batch (same operation, a length
 * the grouping policy accepts), up to maxBatchSize. It leaves when it is full, when its oldest request has
 * waited maxWaitMs, or at once while draining. Always starting from the oldest request means no request waits
 * behind later ones for ever.
 */
import type { GroupingPolicy } from './policy';

/** What the batcher needs to know about a request. */
export interface Queued {
  /** Requests with different keys never share a batch (e.g. emissions vs 4-layer features). */
  readonly key: string;
  /** Samples, for grouping by length. */
  readonly length: number;
  /** performance.now() when it was queued. */
  readonly enqueuedAt: number;
}

export interface BatcherOptions {
  maxBatchSize: number;
  /** Most padded samples per batch (items × longest item): bounds a batch's memory whatever its lengths. */
  maxBatchSamples: number;
  maxWaitMs: number;
  grouping: GroupingPolicy;
  /** Batches that may run at once, one per model replica (default 1). */
  slots?: number;
}

/**
 * The requests that go with `queue[0]` under `policy`, oldest first: at most `max`, and at most `maxSamples`
 * padded samples (items × longest) unless the oldest alone is longer.
 */
export function pickGroup<J extends Queued>(queue: readonly J[], policy: GroupingPolicy, max: number, maxSamples = Infinity): J[] {
  const head = queue[0];
  if (!head) return [];
  if (policy.kind === 'single') return [head];
  const same = queue.filter((j) => j.key === head.key);
  if (policy.kind === 'equal-length') {
    return same.filter((j) => j.length === head.length).slice(0, Math.max(1, Math.min(max, Math.floor(maxSamples / head.length))));
  }
  // Nearest lengths first, as long as the longest stays within (1 + maxPadding) × the shortest.
  const byDistance = same.slice(1).sort((a, b) => Math.abs(a.length - head.length) - Math.abs(b.length - head.length));
  let lo = head.length;
  let hi = head.length;
  const group = [head];
  for (const j of byDistance) {
    if (group.length >= max) break;
    const nlo = Math.min(lo, j.length);
    const nhi = Math.max(hi, j.length);
    if (nhi > nlo * (1 + policy.maxPadding) || (group.length + 1) * nhi > maxSamples) continue;
    lo = nlo;
    hi = nhi;
    group.push(j);
  }
  // Keep arrival order inside the batch (callers see no difference; it keeps logs and tests readable).
  const order = new Map(queue.map((j, i) => [j, i]));
  return group.sort((a, b) => order.get(a)! - order.get(b)!);
}

export class Batcher<J extends Queued> {
  readonly #options: BatcherOptions;
  readonly #run: (batch: J[], slot: number) => Promise<void>;
  readonly #queue: J[] = [];
  /** Slots with no batch running. */
  readonly #free: number[];
  #running = 0;
  #timer: NodeJS.Timeout | null = null;
  #draining = false;
  #idleWaiters: Array<() => void> = [];

  /** `run` executes one batch on `slot`; it must settle every request itself and should not reject. */
  constructor(options: BatcherOptions, run: (batch: J[], slot: number) => Promise<void>) {
    this.#options = options;
    this.#run = run;
    this.#free = Array.from({ length: options.slots ?? 1 }, (_, i) => i).reverse();
  }

  /** Requests waiting for a batch. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Requests in the batches running now (0 when idle). */
  get running(): number {
    return this.#running;
  }

  push(job: J): void {
    this.#queue.push(job);
    this.#schedule();
  }

  /** Takes a waiting request out of the queue; false when it is not waiting (running, or already gone). */
  remove(job: J): boolean {
    const i = this.#queue.indexOf(job);
    if (i < 0) return false;
    this.#queue.splice(i, 1);
    return true;
  }

  /** Empties the queue and returns what was waiting (to reject it). */
  takeAll(): J[] {
    this.#clearTimer();
    return this.#queue.splice(0, this.#queue.length);
  }

  /** From now on batches leave as soon as the model is free, without waiting to fill up. */
  drain(): void {
    this.#draining = true;
    this.#schedule();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #schedule(): void {
    if (this.#queue.length === 0) {
      this.#clearTimer();
      if (this.#running === 0) for (const w of this.#idleWaiters.splice(0)) w();
      return;
    }
    const { maxBatchSize, maxBatchSamples, maxWaitMs, grouping } = this.#options;
    while (this.#free.length > 0 && this.#queue.length > 0) {
      const group = pickGroup(this.#queue, grouping, maxBatchSize, maxBatchSamples);
      const waited = performance.now() - group[0]!.enqueuedAt;
      // Full: no more requests fit (by count or by padded size), so waiting would gain nothing.
      const full = group.length >= maxBatchSize || group.reduce((m, j) => Math.max(m, j.length), 0) * (group.length + 1) > maxBatchSamples;
      if (!(full || waited >= maxWaitMs || this.#draining)) {
        this.#timer ??= setTimeout(() => {
          this.#timer = null;
          this.#schedule();
        }, Math.max(0, Math.ceil(maxWaitMs - waited)));
        return;
      }
      this.#dispatch(group, this.#free.pop()!);
    }
  }

  #dispatch(group: J[], slot: number): void {
    this.#clearTimer();
    for (const j of group) this.#queue.splice(this.#queue.indexOf(j), 1);
    this.#running += group.length;
    // run() settles its requests; a rejection here would be a bug in it, and must not stop the queue.
    this.#run(group, slot).catch(() => undefined).finally(() => {
      this.#running -= group.length;
      this.#free.push(slot);
      this.#schedule();
    });
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
