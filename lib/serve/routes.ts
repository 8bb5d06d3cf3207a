/** The HTTP API: /v1/transcribe, /v1/features, /health, /ready, /metrics (the OpenAI-compatible routes: lib/serve/openai/). */
import { endianness } from 'node:os';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Wav2Vec2Error } from '../errors';
import { seconds, transcriptJson } from '../output';
import type { FeatureShape } from '../recognizer';
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
  /** Largest /v1/features answer in bytes (f32: exact; JSON: a bound on its text), refused with 413 before the model runs. */
  maxFeatureBytes: number;
  /** True once the server is shutting down (app.close() called). */
  closing(): boolean;
  /** Draining before closing (SIGTERM with --drain-delay): /ready answers 503 so balancers stop sending. */
  draining(): boolean;
}

/**
 * Most numbers in a JSON /v1/features answer (layers × frames × dim), whatever maxFeatureBytes says: the arrays of
 * numbers cost far more than their text, and the text must stay below V8's longest string. 8 Mi numbers: at most
 * 218 MB of JSON, e.g. 4 layers of a 768-dim model for 55 s of audio. Raw float32 (format=f32) has only maxFeatureBytes.
 */
export const MAX_JSON_FEATURE_VALUES = 8 * 2 ** 20;

/**
 * Most characters a float32 value takes in the JSON answer, comma included ("-0.0000012345678359270096,": a float32
 * read as a double prints up to 17 significant digits; 20 on average, measured): the bound the estimate uses.
 */
const JSON_BYTES_PER_VALUE = 26;

/** The f32 answer is the tensors' own bytes: little-endian on a little-endian host (x86-64, arm64: all we build for). */
const HOST_LITTLE_ENDIAN = endianness() === 'LE';

/** Size of a /v1/features answer: exact for f32, an upper bound for JSON (numbers, commas, row brackets). */
export function featureAnswerBytes(s: FeatureShape, format: 'json' | 'f32'): number {
  const values = s.layers * s.frames * s.dim;
  return format === 'f32' ? values * 4 : values * JSON_BYTES_PER_VALUE + s.layers * s.frames * 2;
}

/** Throws the coded 413 when a features answer of this shape would be over the caps. */
function checkFeatureSize(s: FeatureShape, format: 'json' | 'f32', maxBytes: number): void {
  const values = s.layers * s.frames * s.dim;
  const bytes = featureAnswerBytes(s, format);
  const shape = `${s.layers} layers × ${s.frames} frames × ${s.dim}`;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (format === 'json' && values > MAX_JSON_FEATURE_VALUES) {
    throw new Wav2Vec2Error('INPUT_TOO_LONG',
      `features as JSON: expected at most ${MAX_JSON_FEATURE_VALUES} numbers (layers × frames × dim), got ${values} (${shape}). ` +
      'Ask for format=f32 (raw float32), fewer layers (layers=N), or send shorter audio.');
  }
  if (bytes > maxBytes) {
    throw new Wav2Vec2Error('INPUT_TOO_LONG',
      `features: expected an answer of at most ${mib(maxBytes)} (maxFeatureBytes, --max-feature-bytes), this one would be ${format === 'json' ? 'up to ' : ''}` +
      `${mib(bytes)} (${shape}${format === 'f32' ? ' × 4 bytes' : ' as JSON'}). ` +
      `${format === 'json' ? 'Ask for format=f32 (4 bytes a number), ' : 'Ask for '}fewer layers (layers=N), or send shorter audio.`);
  }
}

/** A [frames, dim] tensor as rows of numbers. */
function rows(t: Tensor): number[][] {
  const [F, D] = t.shape as [number, number];
  return Array.from({ length: F }, (_, f) => Array.from(t.data.subarray(f * D, (f + 1) * D)));
}

/**
 * Layers of [frames, dim] as little-endian float32 [layers, frames, dim]: on a little-endian host the tensors' own
 * memory, one Buffer view per layer (no copy: an answer can be hundreds of MB); converted value by value otherwise.
 */
function float32LE(layers: Tensor[]): Buffer[] {
  if (HOST_LITTLE_ENDIAN) return layers.map((f) => Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength));
  return layers.map((f) => {
    const out = Buffer.alloc(f.data.byteLength);
    for (let i = 0; i < f.data.length; i++) out.writeFloatLE(f.data[i]!, i * 4);
    return out;
  });
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
    schema: { querystring: { type: 'object', properties: { timestamps: { type: 'boolean', default: false }, ...MODEL_QUERY }, additionalProperties: false } },
  }, async (req, reply) => admission.run(req, reply, async ({ audio, model, signal }) => {
    const r = await model.recognizer.transcribe(audio, { signal, timestamps: req.query.timestamps });
    return transcriptJson(r);
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
    const { format, layers } = req.query;
    // Checked once the audio is decoded, before the model runs; again on the result, for models whose feature
    // width is not known in advance (see FeaturesOptions.checkShape).
    const checkShape = (s: FeatureShape) => checkFeatureSize(s, format, o.maxFeatureBytes);
    const r = await rec.features(audio, { signal, checkShape, ...(layers !== undefined ? { numLayers: layers } : {}) });
    const shape = { layers: r.features.length, frames: r.features[0]?.shape[0] ?? 0, dim: r.features[0]?.shape[1] ?? 0 };
    checkShape(shape);
    if (format === 'f32') {
      // Raw little-endian float32 [layers, frames, dim]: 4 bytes a value instead of ~20 characters of JSON, sent
      // from the tensors' memory (a stream of one view per layer) with its length known.
      return reply.type('application/octet-stream').header('x-shape', `${shape.layers},${shape.frames},${shape.dim}`)
        .header('x-duration', String(seconds(r.duration))).header('content-length', String(featureAnswerBytes(shape, 'f32')))
        .send(Readable.from(float32LE(r.features)));
    }
    return { duration: seconds(r.duration), ...shape, frameStride: rec.model.frameStride, sampleRate: rec.model.sampleRate, features: r.features.map(rows) };
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

  // Readiness, for load balancers and Kubernetes readinessProbe: 503 from the moment the server starts draining (or
  // closing), while /health stays the liveness answer. While the models load the port is not open yet, which a
  // probe reads as not ready too.
  app.get('/ready', async (_req, reply) => {
    const closing = o.closing() || models.list().some((m) => m.recognizer.closed);
    const state = closing ? 'closing' : o.draining() ? 'draining' : 'ready';
    if (state !== 'ready') reply.code(503);
    return { status: state };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(o.metrics.registry.contentType);
    return o.metrics.registry.metrics();
  });
}
