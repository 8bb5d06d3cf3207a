/**
 * The raw binding (lib/model/native.ts) reads its input when the call is made: a caller that writes to its array, or
 * gives its ArrayBuffer away, right after calling cannot change what the inference thread reads. lib/model/model.ts
 * copies first anyway; this is the binding's own guarantee (native/model.cc, Model::Submit).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { binding, type NativeModel } from '../../lib/model/native';
import { maxAbsDiff } from '../../lib/tensor';
import { FIXTURES } from '../helpers/fixtures';
import { requireAddon } from '../helpers/native';

const TA = join(FIXTURES, 'models', 'ta_tiny_base.pt');

function signal(seconds: number, seed: number): Float32Array {
  return new Float32Array(16000 * seconds).map((_, i) => Math.sin(i / (7 + seed)) * 0.3 + Math.sin(i / 53) * 0.1);
}

describe('raw binding: input is read when the call is made', function () {
  this.timeout(60000);
  let m: NativeModel;
  before(async function () {
    requireAddon(this);
    m = await binding().load(TA, 'cpu', 'float32', 1, false);
  });
  after(() => m?.dispose());

  /** A call queued behind a long one: it is read by the inference thread well after the caller's next line. */
  async function queuedBehindLongCall(x: Float32Array, change: () => void): Promise<Float32Array> {
    const busy = m.forward(signal(20, 1), [1, 16000 * 20], null);
    const pending = m.forward(x, [1, x.length], null);
    change();
    await busy;
    return (await pending).emissions.data;
  }

  it('an array written to right after the call gives the result of the array as it was', async () => {
    const x = signal(2, 3);
    const expected = (await m.forward(x.slice(), [1, x.length], null)).emissions.data;
    const changed = (await m.forward(new Float32Array(x.length).fill(0.9), [1, x.length], null)).emissions.data;
    assert.ok(maxAbsDiff(expected, changed) > 1e-3, 'the change is visible in the output, so the test can fail');
    const got = await queuedBehindLongCall(x, () => x.fill(0.9));
    assert.ok(maxAbsDiff(got, expected) <= 1e-6, `read after the call: max diff ${maxAbsDiff(got, expected)}`);
  });

  it('a view into a larger buffer, written to and then transferred away right after the call', async () => {
    const whole = signal(3, 5);
    const x = whole.subarray(16000, 16000 * 3);
    const expected = (await m.forward(x.slice(), [1, x.length], null)).emissions.data;
    const got = await queuedBehindLongCall(x, () => {
      whole.fill(-0.5);
      // Transferring detaches the caller's ArrayBuffer; the memory now belongs to the clone, which is dropped.
      structuredClone(whole.buffer, { transfer: [whole.buffer] });
    });
    assert.equal(whole.length, 0, 'the buffer was detached');
    assert.ok(maxAbsDiff(got, expected) <= 1e-6, `read after the call: max diff ${maxAbsDiff(got, expected)}`);
  });
});
