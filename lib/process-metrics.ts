/**
 * The process's Prometheus metrics, one registry per process, shared by every server's and worker's registry
 * (lib/serve/metrics.ts, lib/jobs/queue/metrics.ts): prom-client's default metrics, and the event-loop lag.
 *
 * Once per process because collectDefaultMetrics starts an event-loop delay monitor and a GC observer that prom-client
 * can never stop: one set per server would leak with each server created.
 *
 * Why a lag gauge of our own beside prom-client's `nodejs_eventloop_lag_*`: Node's monitor (monitorEventLoopDelay)
 * records the whole time between two runs of its sampling timer, the sampling interval included, so an idle loop
 * reads about 10 ms at prom-client's 10 ms resolution (prometheus/client_js#370). `wav2vec2_event_loop_lag_seconds`
 * is the same measurement less the interval: how late the loop ran a timer that was due.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Sampling interval of the lag monitor, ms: prom-client's default, so both monitors sample alike. */
export const LAG_RESOLUTION_MS = 10;

let registry: Registry | null = null;

/** The process registry: made on first use. */
export function processMetrics(): Registry {
  if (registry) return registry;
  registry = new Registry();
  collectDefaultMetrics({ register: registry });
  lagGauge(registry);
  return registry;
}

/**
 * wav2vec2_event_loop_lag_seconds{quantile="0.5"|"0.99"|"1"} (1: the largest) over the time since the previous scrape:
 * each scrape reads the histogram and resets it, as prom-client does with its own.
 */
function lagGauge(register: Registry): void {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  h.enable();
  const lag = (ns: number) => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS) / 1000;
  new Gauge({
    name: 'wav2vec2_event_loop_lag_seconds',
    help: `How late the event loop ran a timer that was due, since the previous scrape (Node's delay monitor less its ${LAG_RESOLUTION_MS} ms sampling interval)`,
    labelNames: ['quantile'],
    registers: [register],
    collect() {
      // No sample yet (two scrapes within one interval): nothing was late that we know of.
      const some = h.count > 0;
      this.set({ quantile: '0.5' }, some ? lag(h.percentile(50)) : 0);
      this.set({ quantile: '0.99' }, some ? lag(h.percentile(99)) : 0);
      this.set({ quantile: '1' }, some ? lag(h.max) : 0);
      h.reset();
    },
  });
}
