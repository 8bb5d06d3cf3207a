/**
 * A worker's Prometheus metrics (--metrics-port): files by outcome, files in progress, seconds of audio and of work.
 * A registry of its own, plus the process metrics (event-loop lag among them: a lagging loop delays lease renewals).
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processMetrics } from '../../process-metrics';

export interface WorkerMetrics {
  registry: Registry;
  files: Counter<'status'>;
  active: Gauge;
  audioSeconds: Counter;
  fileSeconds: Histogram;
}

export function createWorkerMetrics(): WorkerMetrics {
  const own = new Registry();
  const registers = [own];
  const metrics = {
    files: new Counter({ name: 'wav2vec2_worker_files_total', help: 'Queued inputs by outcome: done, failed, already_done (a job run twice), given_back (drain), error (retried by the queue)', labelNames: ['status'], registers }),
    active: new Gauge({ name: 'wav2vec2_worker_active_jobs', help: 'Jobs this worker holds (in the pipeline or waiting to enter it)', registers }),
    audioSeconds: new Counter({ name: 'wav2vec2_worker_audio_seconds_total', help: 'Seconds of audio finished', registers }),
    fileSeconds: new Histogram({ name: 'wav2vec2_worker_job_seconds', help: 'Seconds from taking a job to acknowledging it', buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800], registers }),
  };
  // Merged once every metric is in `own`: merge copies the metrics registered so far.
  return { ...metrics, registry: Registry.merge([own, processMetrics()]) };
}

/** Serves GET /metrics on `port` (0: any free port); resolves with the server once it listens. */
export function serveMetrics(registry: Registry, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: GET /metrics\n');
      return;
    }
    registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
