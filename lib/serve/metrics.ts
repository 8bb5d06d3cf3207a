/**
 * Prometheus metrics (prom-client), in a registry of this server's own: two servers in one process (tests)
 * do not collide, and the global registry of an application that embeds us stays untouched. Only the process
 * metrics are shared (lib/process-metrics.ts: prom-client's defaults and the event-loop lag). What a model does (batches, audio, queue) is labelled by its name, and so
 * are the HTTP requests that a model answered (model="" for the others: /health, /metrics, refusals before one was picked).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processMetrics } from '../process-metrics';
import type { ModelSet, ServedModel } from './models';

export interface ServerMetrics {
  registry: Registry;
  /** Counts and times one HTTP request; `model`: the model that answered it, or ''. */
  observeRequest(route: string, method: string, status: number, seconds: number, model: string): void;
  /** Counts a request refused with OVERLOADED on arrival, before it reached a recognizer ('': before its model was known). */
  refused(model: string): void;
  /** Reports the uploads in progress (a gauge, read at scrape time). */
  watchUploads(count: () => number): void;
  /** Counts an upload cut for being too slow or too late (the error's code). */
  uploadCut(code: string): void;
  /** Reports the live streams open (GET /v1/stream; a gauge, read at scrape time). */
  watchStreams(count: () => number): void;
  /** Counts a live stream that ended, by how (its close reason: done, or the error's code). */
  streamEnded(how: string): void;
  /** Stops listening to the recognizer and drops this server's metrics. */
  stop(): void;
}

export function createMetrics(models: ModelSet): ServerMetrics {
  const own = new Registry();
  const registers = [own];
  const requests = new Counter({ name: 'wav2vec2_http_requests_total', help: 'HTTP requests by route, method, status and model', labelNames: ['route', 'method', 'status', 'model'], registers });
  const latency = new Histogram({
    name: 'wav2vec2_http_request_duration_seconds', help: 'HTTP request latency by route and model', labelNames: ['route', 'model'], registers,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  // One bucket per batch size up to 16, then powers of two: the histogram reads as exact counts per size.
  const maxBatchSize = Math.max(...models.list().map((m) => m.recognizer.batchSize));
  const sizeBuckets = Array.from({ length: Math.min(maxBatchSize, 16) }, (_, i) => i + 1);
  for (let b = 32; b <= maxBatchSize; b *= 2) sizeBuckets.push(b);
  const batchSize = new Histogram({ name: 'wav2vec2_batch_size', help: 'Requests per model call', labelNames: ['model', 'kind'], buckets: sizeBuckets, registers });
  const realtime = new Histogram({
    name: 'wav2vec2_batch_realtime_factor', help: 'Seconds of audio per second of model time, per batch (× real time)', labelNames: ['model', 'kind'], registers,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
  });
  const audio = new Counter({ name: 'wav2vec2_audio_seconds_total', help: 'Seconds of audio run through the model', labelNames: ['model', 'kind'], registers });
  const busy = new Counter({ name: 'wav2vec2_inference_seconds_total', help: 'Seconds the model spent on batches', labelNames: ['model', 'kind'], registers });
  const retried = new Counter({ name: 'wav2vec2_batches_retried_total', help: 'Batches that failed and were rerun item by item', labelNames: ['model'], registers });
  /** A gauge with one value per model, read from its recognizer at scrape time. */
  const perModel = (name: string, help: string, value: (m: ServedModel) => number) => new Gauge({
    name, help, labelNames: ['model'], registers,
    collect() {
      for (const m of models.list()) this.set({ model: m.name }, value(m));
    },
  });
  perModel('wav2vec2_queue_depth', 'Requests accepted and not yet running (decoding audio or waiting for a batch)', (m) => {
    const s = m.recognizer.stats();
    return s.queued + s.preparing;
  });
  perModel('wav2vec2_queue_limit', 'maxQueue: beyond it requests get 503', (m) => m.recognizer.stats().maxQueue);
  perModel('wav2vec2_running', 'Requests in the batch running now', (m) => m.recognizer.stats().running);
  // Refused by the recognizer, or by the server on arrival (before the body was read).
  const refusedOnArrival = new Map<string, number>();
  new Gauge({
    name: 'wav2vec2_overloaded', help: 'Requests refused because the queue was full, since start (model="": on arrival, before the form named one)', labelNames: ['model'], registers,
    collect() {
      for (const m of models.list()) this.set({ model: m.name }, m.recognizer.stats().overloaded + (refusedOnArrival.get(m.name) ?? 0));
      if (refusedOnArrival.has('')) this.set({ model: '' }, refusedOnArrival.get('')!);
    },
  });
  let uploads = () => 0;
  new Gauge({ name: 'wav2vec2_uploads', help: 'Requests whose body is still arriving (not yet in the queue)', registers, collect() { this.set(uploads()); } });
  const cut = new Counter({ name: 'wav2vec2_uploads_cut_total', help: 'Uploads closed with 408, by code (UPLOAD_TOO_SLOW, REQUEST_TIMEOUT)', labelNames: ['code'], registers });
  let streams = () => 0;
  new Gauge({ name: 'wav2vec2_streams', help: 'Live streams open (GET /v1/stream)', registers, collect() { this.set(streams()); } });
  const ended = new Counter({ name: 'wav2vec2_streams_ended_total', help: 'Live streams ended, by how (done, or the error code they were closed with)', labelNames: ['how'], registers });
  // The server's metrics and the shared process metrics, scraped together.
  const registry = Registry.merge([processMetrics(), own]);

  const stops = models.list().map(({ name: model, recognizer }) => recognizer.onBatch((b) => {
    batchSize.observe({ model, kind: b.kind }, b.size);
    audio.inc({ model, kind: b.kind }, b.audioSeconds);
    busy.inc({ model, kind: b.kind }, b.ms / 1000);
    if (b.ms > 0) realtime.observe({ model, kind: b.kind }, b.audioSeconds / (b.ms / 1000));
    if (b.retriedAlone) retried.inc({ model });
  }));
  return {
    registry,
    observeRequest(route, method, status, seconds, model) {
      requests.inc({ route, method, status: String(status), model });
      latency.observe({ route, model }, seconds);
    },
    refused(model) {
      refusedOnArrival.set(model, (refusedOnArrival.get(model) ?? 0) + 1);
    },
    watchUploads(count) {
      uploads = count;
    },
    watchStreams(count) {
      streams = count;
    },
    streamEnded(how) {
      ended.inc({ how });
    },
    uploadCut(code) {
      cut.inc({ code });
    },
    stop() {
      for (const stop of stops) stop();
      registry.clear();
      own.clear();
    },
  };
}
