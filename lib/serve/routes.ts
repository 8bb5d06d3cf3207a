/** The HTTP API: /v1/transcribe, /v1/features, /health, /metrics (the OpenAI-compatible routes: lib/serve/openai/). */
import { endianness } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { Wav2Vec2Error } from '../errors';
import type { Tensor } from '../tensor';
import type { Admission } from './admission';
import type { ServerMetrics } from './metrics';
import type { ModelSet, ServedModel } from './models';

export interface RouteOptions {
  models: ModelSet;
  admission: Admission;
  metrics: ServerMetrics;
  /** Most uploads in progress at once (reported by /health). */
  maxUploads: number;
  /** True once the server is shutting down (app.close() called). */
  closing(): boolean;
}

/**
 * Most numbers in a JSON /v1/features answer (layers × frames × dim). Beyond it the arrays of numbers and the JSON
 * text (about 12 characters a number) run to hundreds of MB and, further on, past V8's longest string; raw float32
 * (format=f32, 4 bytes a number, copied as it is) has no such cap. 8 Mi numbers: about 100 MB of JSON, e.g. 4 layers
 * of a 768-dim model for 55 s of audio.
 */
export const MAX_JSON_FEATURE_VALUES = 8 * 2 ** 20;

/** The f32 answer is the tensors' own bytes: little-endian on a little-endian host (x86-64, arm64: all we build for). */
const HOST_LITTLE_ENDIAN = endianness() === 'LE';

const round = (x: number, digits: number) => +x.toFixed(digits);

/** A [frames, dim] tensor as rows of numbers. */
function rows(t: Tensor): number[][] {
  const [F, D] = t.shape as [number, number];
  return Array.from({ length: F }, (_, f) => Array.from(t.data.subarray(f * D, (f + 1) * D)));
}

/** Layers of [frames, dim] as one little-endian float32 buffer [layers, frames, dim]. */
function float32LE(layers: Tensor[]): Buffer {
  if (HOST_LITTLE_ENDIAN) return Buffer.concat(layers.map((f) => Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength)));
  const out = Buffer.alloc(layers.reduce((s, f) => s + f.data.byteLength, 0));
  let o = 0;
  for (const f of layers) for (let i = 0; i < f.data.length; i++, o += 4) out.writeFloatLE(f.data[i]!, o);
  return out;
}

/** The model's name, in the query of our routes (or the form's `model` field; see lib/serve/admission.ts). */
const MODEL_QUERY = { model: { type: 'string', minLength: 1, maxLength: 128 } } as const;

function health({ recognizer: rec }: ServedModel) {
  const s = rec.stats();
  return {
    model: { file: rec.model.info.file, convention: rec.model.info.convention, device: rec.model.info.device, sampleRate: rec.model.sampleRate },
    batching: rec.grouping,
    queue: { depth: s.queued + s.preparing, limit: s.maxQueue, running: s.running },
  };
}

export function registerRoutes(app: FastifyInstance, o: RouteOptions): void {
  const { admission, models } = o;
  const { admit, release } = admission;

  app.post<{ Querystring: { timestamps: boolean; model?: string } }>('/v1/transcribe', {
    onRequest: admit, onResponse: release,
    schema: { querystring: { type: 'object', properties: { timestamps: { type: 'boolean', default: true }, ...MODEL_QUERY }, additionalProperties: false } },
  }, async (req, reply) => admission.run(req, reply, async ({ audio, model, signal }) => {
    const r = await model.recognizer.transcribe(audio, { signal, timestamps: req.query.timestamps });
    return {
      text: r.text,
      duration: round(r.duration, 3),
      ...(r.words ? { words: r.words.map((w) => ({ word: w.word, start: round(w.start, 3), end: round(w.end, 3), confidence: round(w.confidence, 4) })) } : {}),
    };
  }));

  app.post<{ Querystring: { layers?: number; format: 'json' | 'f32'; model?: string } }>('/v1/features', {
    onRequest: admit, onResponse: release,
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { layers: { type: 'integer', minimum: 1, maximum: 1024 }, format: { type: 'string', enum: ['json', 'f32'], default: 'json' }, ...MODEL_QUERY },
      },
    },
  }, async (req, reply) => admission.run(req, reply, async ({ audio, model, signal }) => {
    const rec = model.recognizer;
    // A block where a try/finally was: the body is unchanged since the model became the request's choice.
    {
      const r = await rec.features(audio, { signal, ...(req.query.layers !== undefined ? { numLayers: req.query.layers } : {}) });
      const frames = r.features[0]?.shape[0] ?? 0;
      const dim = r.features[0]?.shape[1] ?? 0;
      const shape = `${r.features.length},${frames},${dim}`;
      if (req.query.format === 'f32') {
        // Raw little-endian float32 [layers, frames, dim]: 4 bytes a value instead of ~12 characters of JSON.
        return reply.type('application/octet-stream').header('x-shape', shape).header('x-duration', String(round(r.duration, 3))).send(float32LE(r.features));
      }
      const values = r.features.length * frames * dim;
      if (values > MAX_JSON_FEATURE_VALUES) {
        throw new Wav2Vec2Error('INPUT_TOO_LONG',
          `features as JSON: expected at most ${MAX_JSON_FEATURE_VALUES} numbers (layers × frames × dim), got ${values} (${shape}). ` +
          'Ask for format=f32 (raw float32, no cap), fewer layers (layers=N), or send shorter audio.');
      }
      return { duration: round(r.duration, 3), layers: r.features.length, frames, dim, frameStride: rec.model.frameStride, sampleRate: rec.model.sampleRate, features: r.features.map(rows) };
    }
  }));

  app.get('/health', async (_req, reply) => {
    const closing = o.closing() || models.list().some((m) => m.recognizer.closed);
    if (closing) reply.code(503);
    const d = health(models.default);
    return {
      status: closing ? 'closing' : 'ok',
      // The default model's, at the top level as before several models were served.
      model: d.model, batching: d.batching, queue: d.queue,
      defaultModel: models.default.name,
      models: Object.fromEntries(models.list().map((m) => [m.name, health(m)])),
      uploads: { count: admission.uploading(), limit: o.maxUploads },
    };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(o.metrics.registry.contentType);
    return o.metrics.registry.metrics();
  });
}
