/** The inputs of a queue worker's pipeline, pushed as jobs arrive (run.ts pulls them through InputFeed). */
import type { JobInput } from '../inputs';
import type { InputFeed } from '../run';

export class PushFeed implements InputFeed {
  readonly #items: JobInput[] = [];
  #waiting: ((input: JobInput | null) => void) | null = null;
  #closed = false;

  push(input: JobInput): void {
    if (this.#closed) return;
    const wake = this.#waiting;
    this.#waiting = null;
    if (wake) wake(input);
    else this.#items.push(input);
  }

  /** No more inputs: a waiting next() resolves null. Inputs pushed but not yet taken are dropped (given back). */
  close(): void {
    this.#closed = true;
    this.#items.length = 0;
    this.#waiting?.(null);
    this.#waiting = null;
  }

  ready(): boolean {
    return this.#items.length > 0 || this.#closed;
  }

  next(): Promise<JobInput | null> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiting = resolve));
  }
}
