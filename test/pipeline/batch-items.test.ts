/** settleBatch: a batch call into one outcome per item, each item alone when a batch of several fails. */
import assert from 'node:assert/strict';
import { Wav2Vec2Error } from '../../lib/errors';
import { settleBatch, type Outcome } from '../../lib/pipeline/batch-items';

/** Items are numbers; the model "fails" on negative ones, alone or in a batch. */
async function run(items: number[], batch: Promise<number[]>, extra: { skip?: (n: number) => boolean; fatal?: (e: unknown) => boolean } = {}) {
  const settled: Array<[number, Outcome<number>]> = [];
  const alone: number[] = [];
  const retried = await settleBatch(items, batch, {
    alone: async (n) => {
      alone.push(n);
      if (n < 0) throw new Wav2Vec2Error('INVALID_INPUT', `bad ${n}`);
      if (n === 99) throw new Error('disk full');
      return n * 10;
    },
    settle: (n, out) => void settled.push([n, out]),
    ...extra,
  });
  return { retried, settled, alone };
}
const failing = (err: unknown) => Promise.reject(err);

describe('pipeline: settleBatch', () => {
  it('hands over each output in order when the batch succeeds', async () => {
    const r = await run([1, 2, 3], Promise.resolve([10, 20, 30]));
    assert.equal(r.retried, false);
    assert.deepEqual(r.alone, []);
    assert.deepEqual(r.settled, [[1, { ok: true, value: 10 }], [2, { ok: true, value: 20 }], [3, { ok: true, value: 30 }]]);
  });

  it('a failed batch of several runs each item alone: only the bad one fails', async () => {
    const r = await run([1, -2, 3], failing(new Wav2Vec2Error('INVALID_INPUT', 'batch')));
    assert.equal(r.retried, true);
    assert.deepEqual(r.alone, [1, -2, 3]);
    assert.deepEqual(r.settled.map(([n, o]) => [n, o.ok]), [[1, true], [-2, false], [3, true]]);
    assert.match(String((r.settled[1]![1] as { error: Error }).error.message), /bad -2/);
  });

  it('a single item, or a disposed model, is not run again', async () => {
    const one = await run([5], failing(new Error('boom')));
    assert.equal(one.retried, false);
    assert.deepEqual(one.alone, []);
    assert.equal(one.settled[0]![1].ok, false);
    const gone = await run([1, 2], failing(new Wav2Vec2Error('DISPOSED', 'gone')));
    assert.equal(gone.retried, false);
    assert.deepEqual(gone.alone, []);
    assert.deepEqual(gone.settled.map(([, o]) => o.ok), [false, false]);
  });

  it('skips items answered meanwhile, and rethrows fatal errors from the batch or an item alone', async () => {
    const r = await run([1, 2, 3], failing(new Error('batch')), { skip: (n) => n === 2 });
    assert.deepEqual(r.alone, [1, 3]);
    assert.deepEqual(r.settled.map(([n]) => n), [1, 3]);
    const fatal = (e: unknown) => (e as Error).message === 'disk full';
    await assert.rejects(run([1, 2], failing(new Error('disk full')), { fatal }), /disk full/);
    await assert.rejects(run([1, 99, 3], failing(new Error('batch')), { fatal }), /disk full/);
  });
});
