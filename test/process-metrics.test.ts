/** The process's metrics (lib/process-metrics.ts): one registry per process, and the event-loop lag less the sampling interval. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { LAG_RESOLUTION_MS, processMetrics } from '../lib/process-metrics';

const value = (text: string, quantile: string) => {
  const m = new RegExp(`^wav2vec2_event_loop_lag_seconds\\{quantile="${quantile}"\\} ([0-9.e+-]+)$`, 'm').exec(text);
  assert.ok(m, `quantile ${quantile} in:\n${text.slice(0, 400)}`);
  return Number(m[1]);
};

describe('process metrics', () => {
  it('are one registry per process, with prom-client\'s defaults', async () => {
    assert.equal(processMetrics(), processMetrics());
    assert.match(await processMetrics().metrics(), /^nodejs_eventloop_lag_p99_seconds /m);
  });

  it("report how late the loop was: a 300 ms block shows, less the sampling interval (Node's own monitor counts it)", async () => {
    const registry = processMetrics();
    await registry.metrics(); // resets the histogram
    await sleep(5 * LAG_RESOLUTION_MS);
    const t0 = Date.now();
    while (Date.now() - t0 < 300); // the loop blocked: the timer due during it runs ~300 ms late
    await sleep(3 * LAG_RESOLUTION_MS);
    const text = await registry.metrics();
    const [p50, p99, max] = ['0.5', '0.99', '1'].map((q) => value(text, q));
    assert.ok(max >= 0.25 && max < 5, `max ${max}`);
    assert.ok(p50 <= p99! && p99! <= max!, `${p50} <= ${p99} <= ${max}`);
    // Node's own monitor (prom-client's gauge) counts the interval too: its max is the larger by about 10 ms.
    const node = Number(/^nodejs_eventloop_lag_max_seconds ([0-9.e+-]+)$/m.exec(text)![1]);
    assert.ok(node > max!, `nodejs_eventloop_lag_max_seconds ${node} > ${max}`);
  });
});
