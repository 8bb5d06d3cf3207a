/**
 * Prometheus metrics (prom-client), in a registry of this server's own: two servers in one process (tests)
 * do not collide, and the global registry of an application that embeds us stays untouched. Only the process
 * metrics are shared (see processMetrics).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Recognizer } from '../recognizer';

export interface ServerMetrics {
  registry: Registry;
  /** Counts and times one HTTP request. */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  /** Counts a request refused with OVERLOADED on arrival, before it reached the recognizer. */
  refused(): void;
  /** Reports the uploads in progress (a gauge, read at scrape time). */
  watchUploads(count: () => number): void;
  /** Counts an upload cut for being too slow or too late (the error's code). */
  uploadCut(code: string): void;
  /** Stops listening to the recognizer and drops this server's metrics. */
  stop(): void;
}

let processRegistry: Registry | null = null;

/**
 * Process and runtime metrics, among them the event-loop lag (nodejs_eventloop_lag_seconds, _p50, _p99, ...): made
 * once per process and shared by every server's registry. collectDefaultMetrics starts an event-loop delay monitor
 * and a GC observer that prom-client can never stop, so one set per server would leak with each server created.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(rec: Recognizer, maxBatchSize: number): ServerMetrics {
  const own = new Registry();
  const registers = [own];
  const requests = new Counter({ name: 'wav2vec2_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers });
  const latency = new Histogram({
    name: 'wav2vec2_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['route'], registers,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  // One bucket per batch size up to 16, then powers of two: the histogram reads as exact counts per size.
  const sizeBuckets = Array.from({ length: Math.min(maxBatchSize, 16) }, (_, i) => i + 1);
  for (let b = 32; b <= maxBatchSize; b *= 2) sizeBuckets.push(b);
  const batchSize = new Histogram({ name: 'wav2vec2_batch_size', help: 'Requests per model call', labelNames: ['kind'], buckets: sizeBuckets, registers });
  const realtime = new Histogram({
    name: 'wav2vec2_batch_realtime_factor', help: 'Seconds of audio per second of model time, per batch (× real time)', labelNames: ['kind'], registers,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
  });
  const audio = new Counter({ name: 'wav2vec2_audio_seconds_total', help: 'Seconds of audio run through the model', labelNames: ['kind'], registers });
  const busy = new Counter({ name: 'wav2vec2_inference_seconds_total', help: 'Seconds the model spent on batches', labelNames: ['kind'], registers });
  const retried = new Counter({ name: 'wav2vec2_batches_retried_total', help: 'Batches that failed and were rerun item by item', registers });
  new Gauge({
    name: 'wav2vec2_queue_depth', help: 'Requests accepted and not yet running (decoding audio or waiting for a batch)', registers,
    collect() {
      const s = rec.stats();
      this.set(s.queued + s.preparing);
    },
  });
  new Gauge({ name: 'wav2vec2_queue_limit', help: 'maxQueue: beyond it requests get 503', registers, collect() { this.set(rec.stats().maxQueue); } });
  new Gauge({ name: 'wav2vec2_running', help: 'Requests in the batch running now', registers, collect() { this.set(rec.stats().running); } });
  // Refused by the recognizer, or by the server on arrival (before the body was read).
  let refusedOnArrival = 0;
  new Gauge({ name: 'wav2vec2_overloaded', help: 'Requests refused because the queue was full, since start', registers, collect() { this.set(rec.stats().overloaded + refusedOnArrival); } });
  let uploads = () => 0;
  new Gauge({ name: 'wav2vec2_uploads', help: 'Requests whose body is still arriving (not yet in the queue)', registers, collect() { this.set(uploads()); } });
  const cut = new Counter({ name: 'wav2vec2_uploads_cut_total', help: 'Uploads closed with 408, by code (UPLOAD_TOO_SLOW, REQUEST_TIMEOUT)', labelNames: ['code'], registers });
  // The server's metrics and the shared process metrics, scraped together.
  const registry = Registry.merge([processMetrics(), own]);

  const stop = rec.onBatch((b) => {
    batchSize.observe({ kind: b.kind }, b.size);
    audio.inc({ kind: b.kind }, b.audioSeconds);
    busy.inc({ kind: b.kind }, b.ms / 1000);
    if (b.ms > 0) realtime.observe({ kind: b.kind }, b.audioSeconds / (b.ms / 1000));
    if (b.retriedAlone) retried.inc();
  });
  return {
    registry,
    observeRequest(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      latency.observe({ route }, seconds);
    },
    refused() {
      refusedOnArrival++;
    },
    watchUploads(count) {
      uploads = count;
    },
    uploadCut(code) {
      cut.inc({ code });
    },
    stop() {
      stop();
      registry.clear();
      own.clear();
    },
  };
}
