/**
 * A batch's model call into one outcome per item, with the rule every front end shares (the Recognizer, batch jobs
 * and queue workers): when a call on several items fails, each item runs again alone, so that one bad item (a length
 * the model refuses, a batch over the attention budget) fails alone and the others get what they would get alone.
 * A disposed model is not retried (every item would fail the same way), nor is an error the caller calls fatal (a
 * batch job's write failure, which stops the job).
 */
import { Wav2Vec2Error } from '../errors';

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface SettleOptions<I, T> {
  /** Runs one item alone (after the batch failed). */
  alone(item: I): Promise<T>;
  /** Hands over an item's outcome; called in item order, each awaited before the next item runs. */
  settle(item: I, outcome: Outcome<T>): Promise<void> | void;
  /** Items answered meanwhile (aborted, or their input failed already): not run alone, not settled. */
  skip?(item: I): boolean;
  /** Errors that end everything: rethrown at once instead of settled. */
  fatal?(err: unknown): boolean;
}

function disposed(err: unknown): boolean {
  return err instanceof Wav2Vec2Error && err.code === 'DISPOSED';
}

/**
 * Settles the batch call `running` (already under way) over `items`; resolves true when its items were run again one
 * by one.
 */
export async function settleBatch<I, T>(items: readonly I[], running: Promise<T[]>, o: SettleOptions<I, T>): Promise<boolean> {
  let values: T[];
  try {
    values = await running;
  } catch (err) {
    if (o.fatal?.(err)) throw err;
    const retry = items.length > 1 && !disposed(err);
    for (const item of items) {
      if (o.skip?.(item)) continue;
      await o.settle(item, retry ? await runAlone(item, o) : { ok: false, error: err });
    }
    return retry;
  }
  for (let i = 0; i < items.length; i++) {
    if (!o.skip?.(items[i]!)) await o.settle(items[i]!, { ok: true, value: values[i]! });
  }
  return false;
}

async function runAlone<I, T>(item: I, o: SettleOptions<I, T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await o.alone(item) };
  } catch (err) {
    if (o.fatal?.(err)) throw err;
    return { ok: false, error: err };
  }
}
