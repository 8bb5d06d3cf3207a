/** The batch queue's pause: flush() hands out what is pooled without waiting for more (runs an input alone). */
import assert from 'node:assert/strict';
import { BatchQueue } from '../../lib/jobs/queue';

const clip = (n: number) => ({ samples: new Float32Array(n) });

describe('batch: queue', () => {
  it('holds a short clip for bucketing until flush(), then hands it out alone; a put ends the flush', async () => {
    const q = new BatchQueue<{ samples: Float32Array }>(4, 1e6, 1000);
    await q.put(clip(10));
    let got: Array<{ samples: Float32Array }> | null = null;
    const taking = q.take().then((b) => (got = b));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(got, null, 'one clip waits for others of its length');
    q.flush();
    await taking;
    assert.deepEqual(got!.map((c) => c.samples.length), [10]);
    // After the pause, clips wait in the pool again.
    await q.put(clip(20));
    const after: Array<Array<{ samples: Float32Array }> | null> = [];
    void q.take().then((b) => after.push(b));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(after.length, 0, 'waits for others of its length');
    q.close();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(after[0]!.map((c) => c.samples.length), [20]);
  });
});

describe('batch: queue budget', () => {
  it('counts the memory an item keeps, not its length: a piece in a larger buffer holds the whole buffer', async () => {
    const q = new BatchQueue<{ samples: Float32Array }>(1, 1000, 100);
    // 100 samples in a 900-sample buffer (a file's last piece in the buffer it was read into).
    await q.put({ samples: new Float32Array(900).subarray(0, 100) });
    assert.equal(q.queuedSamples, 900);
    // 100 more would pass a count of lengths (200 <= 1000) but not of memory (1000 + 900 > 1000): the producer waits.
    let second = false;
    const putting = q.put({ samples: new Float32Array(900).subarray(0, 100) }).then(() => (second = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second, false, 'waits for room');
    const first = await q.take();
    assert.equal(first![0]!.samples.length, 100);
    await putting;
    assert.equal(q.queuedSamples, 900);
    q.close();
  });
});
