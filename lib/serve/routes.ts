/** The HTTP API: /v1/transcribe, /v1/features, /health, /metrics. */
import type { FastifyInstance } from 'fastify';
import type { Recognizer } from '../recognizer';
import type { Tensor } from '../tensor';
import type { ServerMetrics } from './metrics';
import { audioOf, requestSignal } from './request';

export interface RouteOptions {
  recognizer: Recognizer;
  metrics: ServerMetrics;
  requestTimeoutMs: number;
}

const round = (x: number, digits: number) => +x.toFixed(digits);

/** A [frames, dim] tensor as rows of numbers. */
function rows(t: Tensor): number[][] {
  const [F, D] = t.shape as [number, number];
  return Array.from({ length: F }, (_, f) => Array.from(t.data.subarray(f * D, (f + 1) * D)));
}

export function registerRoutes(app: FastifyInstance, o: RouteOptions): void {
  const rec = o.recognizer;

  app.post<{ Querystring: { timestamps: boolean } }>('/v1/transcribe', {
    schema: { querystring: { type: 'object', properties: { timestamps: { type: 'boolean', default: true } }, additionalProperties: false } },
  }, async (req, reply) => {
    const audio = await audioOf(req);
    const { signal, done } = requestSignal(reply, o.requestTimeoutMs);
    try {
      const r = await rec.transcribe(audio, { signal, timestamps: req.query.timestamps });
      return {
        text: r.text,
        duration: round(r.duration, 3),
        ...(r.words ? { words: r.words.map((w) => ({ word: w.word, start: round(w.start, 3), end: round(w.end, 3), confidence: round(w.confidence, 4) })) } : {}),
      };
    } finally {
      done();
    }
  });

  app.post<{ Querystring: { layers?: number; format: 'json' | 'f32' } }>('/v1/features', {
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { layers: { type: 'integer', minimum: 1, maximum: 1024 }, format: { type: 'string', enum: ['json', 'f32'], default: 'json' } },
      },
    },
  }, async (req, reply) => {
    const audio = await audioOf(req);
    const { signal, done } = requestSignal(reply, o.requestTimeoutMs);
    try {
      const r = await rec.features(audio, { signal, ...(req.query.layers !== undefined ? { numLayers: req.query.layers } : {}) });
      const frames = r.features[0]?.shape[0] ?? 0;
      const dim = r.features[0]?.shape[1] ?? 0;
      if (req.query.format === 'f32') {
        // Raw little-endian float32 [layers, frames, dim]: 4 bytes a value instead of ~12 characters of JSON.
        const out = Buffer.alloc(r.features.length * frames * dim * 4);
        r.features.forEach((f, k) => {
          for (let i = 0; i < f.data.length; i++) out.writeFloatLE(f.data[i]!, (k * frames * dim + i) * 4);
        });
        return reply.type('application/octet-stream').header('x-shape', `${r.features.length},${frames},${dim}`).header('x-duration', String(round(r.duration, 3))).send(out);
      }
      return { duration: round(r.duration, 3), layers: r.features.length, frames, dim, frameStride: rec.model.frameStride, sampleRate: rec.model.sampleRate, features: r.features.map(rows) };
    } finally {
      done();
    }
  });

  app.get('/health', async (_req, reply) => {
    const s = rec.stats();
    const status = rec.closed ? 'closing' : 'ok';
    if (rec.closed) reply.code(503);
    return {
      status,
      model: { file: rec.model.info.file, convention: rec.model.info.convention, device: rec.model.info.device, sampleRate: rec.model.sampleRate },
      batching: rec.grouping,
      queue: { depth: s.queued + s.preparing, limit: s.maxQueue, running: s.running },
    };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(o.metrics.registry.contentType);
    return o.metrics.registry.metrics();
  });
}
