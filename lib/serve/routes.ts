/** The HTTP API: /v1/transcribe, /v1/features, /health, /metrics. */
import { endianness } from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Wav2Vec2Error } from '../errors';
import type { Recognizer } from '../recognizer';
import type { Tensor } from '../tensor';
import type { ServerMetrics } from './metrics';
import { audioOf, checkContentType, requestSignal } from './request';
import { watchUpload, type UploadLimits } from './upload';

export interface RouteOptions {
  recognizer: Recognizer;
  metrics: ServerMetrics;
  requestTimeoutMs: number;
  /** Most uploads in progress at once; beyond it 503 OVERLOADED on arrival. */
  maxUploads: number;
  /** When an upload in progress is cut (408). */
  upload: UploadLimits;
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

/** What a request admitted to an audio route carries from its arrival to its answer. */
interface Admitted {
  signal: AbortSignal;
  /** Stops the timer (idempotent). */
  done(): void;
  /** Its body has been read and handed on, or the request ended (idempotent). */
  received(): void;
}

export function registerRoutes(app: FastifyInstance, o: RouteOptions): void {
  const rec = o.recognizer;
  const admitted = new WeakMap<FastifyRequest, Admitted>();
  // Uploads in progress: counted against --max-uploads, never against the recognizer's queue (only audio that has
  // arrived whole is queued), so slow clients cannot fill the queue while prompt ones get 503.
  let uploading = 0;
  o.metrics.watchUploads(() => uploading);
  // Bytes read on a connection when its current upload began: 0 on a new connection, the end of the previous
  // upload's answer on a kept-alive one. Counted on the socket, not by listening to the body stream, so the body
  // parser reads it undisturbed; headers (and any GET between) count too: a few hundred bytes of leniency.
  const requestStart = new WeakMap<object, number>();
  const bytesOf = (req: FastifyRequest, reply: FastifyReply) => {
    const socket = req.raw.socket as { bytesRead?: number } | null;
    if (typeof socket?.bytesRead !== 'number') return () => undefined;
    const base = requestStart.get(socket) ?? 0;
    reply.raw.once('finish', () => requestStart.set(socket, socket.bytesRead!));
    return () => socket.bytesRead! - base;
  };

  /** Refusals decided on arrival, before the body is read (it is then never buffered). */
  const refuse = (req: FastifyRequest) => {
    if (o.closing()) {
      throw new Wav2Vec2Error('DISPOSED', 'The server is shutting down: retry the request (on another instance, or once this one is back).');
    }
    checkContentType(req);
    if (uploading >= o.maxUploads) {
      o.metrics.refused();
      throw new Wav2Vec2Error('OVERLOADED', `The server is receiving ${o.maxUploads} uploads already (maxUploads): retry later, or raise --max-uploads / add capacity.`);
    }
    const s = rec.stats();
    if (s.preparing + s.queued >= s.maxQueue) {
      o.metrics.refused();
      throw new Wav2Vec2Error('OVERLOADED', `The server has ${s.maxQueue} requests waiting (maxQueue): retry later, or raise --max-queue / add capacity.`);
    }
  };

  /**
   * Runs when a request arrives: the refusals above, then the request's time limit starts (so a slow upload counts
   * against it) and its upload is watched until its body has been read.
   */
  const admit = async (req: FastifyRequest, reply: FastifyReply) => {
    refuse(req);
    uploading++;
    let counted = true;
    const timer = requestSignal(reply, o.requestTimeoutMs);
    const unwatch = watchUpload(bytesOf(req, reply), o.upload, (err) => {
      o.metrics.uploadCut(err.code);
      // Through the error handler: the coded 408 with Connection: close, as the body was not read to its end.
      if (!reply.sent) reply.send(err);
      else req.raw.destroy();
    });
    const a: Admitted = {
      signal: timer.signal,
      done: timer.done,
      received() {
        if (counted) uploading--;
        counted = false;
        unwatch();
      },
    };
    admitted.set(req, a);
    // A request that fails before its handler (body too large, client gone, upload cut) ends here.
    reply.raw.once('close', () => {
      a.received();
      a.done();
    });
  };
  const release = async (req: FastifyRequest) => {
    const a = admitted.get(req);
    a?.received();
    a?.done();
  };

  /** The body's audio; from here on the recognizer counts the request. */
  const audio = async (req: FastifyRequest, a: Admitted) => {
    try {
      return await audioOf(req);
    } finally {
      a.received();
    }
  };

  app.post<{ Querystring: { timestamps: boolean } }>('/v1/transcribe', {
    onRequest: admit, onResponse: release,
    schema: { querystring: { type: 'object', properties: { timestamps: { type: 'boolean', default: true } }, additionalProperties: false } },
  }, async (req) => {
    const a = admitted.get(req)!;
    try {
      const r = await rec.transcribe(await audio(req, a), { signal: a.signal, timestamps: req.query.timestamps });
      return {
        text: r.text,
        duration: round(r.duration, 3),
        ...(r.words ? { words: r.words.map((w) => ({ word: w.word, start: round(w.start, 3), end: round(w.end, 3), confidence: round(w.confidence, 4) })) } : {}),
      };
    } finally {
      a.done();
    }
  });

  app.post<{ Querystring: { layers?: number; format: 'json' | 'f32' } }>('/v1/features', {
    onRequest: admit, onResponse: release,
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { layers: { type: 'integer', minimum: 1, maximum: 1024 }, format: { type: 'string', enum: ['json', 'f32'], default: 'json' } },
      },
    },
  }, async (req, reply) => {
    const a = admitted.get(req)!;
    try {
      const r = await rec.features(await audio(req, a), { signal: a.signal, ...(req.query.layers !== undefined ? { numLayers: req.query.layers } : {}) });
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
    } finally {
      a.done();
    }
  });

  app.get('/health', async (_req, reply) => {
    const s = rec.stats();
    const closing = o.closing() || rec.closed;
    if (closing) reply.code(503);
    return {
      status: closing ? 'closing' : 'ok',
      model: { file: rec.model.info.file, convention: rec.model.info.convention, device: rec.model.info.device, sampleRate: rec.model.sampleRate },
      batching: rec.grouping,
      queue: { depth: s.queued + s.preparing, limit: s.maxQueue, running: s.running },
      uploads: { count: uploading, limit: o.maxUploads },
    };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(o.metrics.registry.contentType);
    return o.metrics.registry.metrics();
  });
}
