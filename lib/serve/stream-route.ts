/**
 * GET /v1/stream: live transcription over a WebSocket (@fastify/websocket, on ws). The upgrade request passes the
 * same guard as every route (Host, Origin, API key; see guard.ts for the key in a subprotocol, for browsers) and is
 * refused with an HTTP error before the upgrade when the server is closing, has `maxStreams` open, or (strict) does
 * not know the model. Then: a start message, binary audio as it is captured, a stop message; the server answers
 * ready, partials, finals, end (docs/serving.md has the protocol). Every window of every stream goes through the
 * model's Recognizer, so streams share its batches with whole-file requests.
 *
 * Budgets: one message ≤ maxMessageBytes (ws closes 1009 beyond), the audio not yet transcribed ≤
 * maxBacklogSeconds (reading from the socket pauses at half of it: TCP pushes back on the client), what waits to be
 * sent to a slow reader ≤ maxSendBytes (partials are dropped first: the next one supersedes them), the stream's
 * audio ≤ maxStreamSeconds, a start within startTimeoutMs and a message at least every idleTimeoutMs.
 */
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Wav2Vec2Error, checkOptionKeys, invalid, optionKeys } from '../errors';
import { isObject, isPositiveInteger } from '../is';
import { GreedyCTCDecoder } from '../decode';
import { DEFAULT_MAX_RATE, DEFAULT_MIN_RATE, StreamResampler, checkBudget, checkRate } from '../pipeline/audio';
import { checkSegmenterOptions, type SegmenterOptions } from '../stream/segmenter';
import { PLAN_DEFAULTS, StreamSession, streamPlan, type StreamEvent, type StreamPlanOptions } from '../stream/session';
import type { ServerMetrics } from './metrics';
import type { ModelSet, ServedModel } from './models';
import { closeCodeOf, decodeAudio, parseClientText, type StartMessage } from './stream-protocol';

export interface StreamOptions {
  /** Most live streams open at once; beyond it the upgrade is answered 503 OVERLOADED (default 64). */
  maxStreams?: number;
  /** Longest audio one stream may send, seconds (default 3600); then its last final, and close 4413. */
  maxStreamSeconds?: number;
  /** Time from the upgrade to the start message, ms (default 10000). */
  startTimeoutMs?: number;
  /** Longest gap between two messages, ms (default 30000). */
  idleTimeoutMs?: number;
  /** Audio received and not yet transcribed, seconds (default 10): reading pauses at half, 4429 STREAM_BACKLOG beyond. */
  maxBacklogSeconds?: number;
  /** Largest message, bytes (default 262144: over a second of 48 kHz float32). */
  maxMessageBytes?: number;
  /** Answers waiting to be sent to a client that reads slowly, bytes (default 1 MiB); 4429 STREAM_BACKLOG beyond. */
  maxSendBytes?: number;
  /** Window layout: left context, chunk and look-ahead in ms (defaults 1600, 320, 640), segmentContext (default true). */
  window?: StreamPlanOptions;
  /** Voice-activity segmentation (lib/stream/segmenter.ts). */
  segmenter?: SegmenterOptions;
}

type StreamLimits = Required<Omit<StreamOptions, 'window' | 'segmenter'>> & { window: StreamPlanOptions; segmenter: SegmenterOptions };

const DEFAULTS = { maxStreams: 64, maxStreamSeconds: 3600, startTimeoutMs: 10000, idleTimeoutMs: 30000, maxBacklogSeconds: 10, maxMessageBytes: 256 * 1024, maxSendBytes: 1 << 20 };

/** The subprotocol a client may ask for (browsers must, to pass the API key as a second one; see guard.ts). */
export const STREAM_PROTOCOL = 'wav2vec2-stream';

const STREAM_OPTION_KEYS = optionKeys<StreamOptions>({
  maxStreams: true, maxStreamSeconds: true, startTimeoutMs: true, idleTimeoutMs: true, maxBacklogSeconds: true, maxMessageBytes: true,
  maxSendBytes: true, window: true, segmenter: true,
});
const STREAM_WINDOW_KEYS = optionKeys<StreamPlanOptions>({ leftMs: true, chunkMs: true, lookaheadMs: true, segmentContext: true });

export function checkStreamOptions(o: StreamOptions | undefined): StreamLimits {
  const out: StreamLimits = { ...DEFAULTS, window: {}, segmenter: {} };
  if (o === undefined) return out;
  if (!isObject(o as unknown)) throw invalid('INVALID_INPUT', 'stream', 'an object', o);
  checkOptionKeys('stream options', o, STREAM_OPTION_KEYS);
  if (o.window !== undefined) {
    if (!isObject(o.window as unknown)) throw invalid('INVALID_INPUT', 'stream.window', 'an object', o.window);
    checkOptionKeys('stream.window options', o.window, STREAM_WINDOW_KEYS);
  }
  for (const k of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    if (o[k] === undefined) continue;
    if (!isPositiveInteger(o[k])) throw invalid('INVALID_INPUT', `stream.${k}`, 'a positive integer', o[k]);
    out[k] = o[k];
  }
  // Checked here, before a stream needs them (the plan needs a model: checked again per stream with its frame grid).
  streamPlan({ sampleRate: 16000, frameStride: 320, receptiveField: 400 }, o.window ?? {});
  checkSegmenterOptions(o.segmenter, 'stream.segmenter');
  return { ...out, window: o.window ?? {}, segmenter: o.segmenter ?? {} };
}

/** What this route uses of ws's WebSocket (ws ships no types, and @types/ws is not among our dependencies). */
interface WebSocket {
  readonly OPEN: number;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code: number, reason: string): void;
  pause(): void;
  resume(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close' | 'error', listener: () => void): void;
}

interface RouteDeps {
  models: ModelSet;
  metrics: ServerMetrics;
  limits: StreamLimits;
  closing(): boolean;
}

/** A model run retried while the recognizer's queue is full: a stream waits (its backlog grows) rather than dies. */
const OVERLOADED_RETRY_MS = 50;

class LiveStream {
  readonly #socket: WebSocket;
  readonly #deps: RouteDeps;
  readonly #queryModel: string | undefined;
  readonly #abort = new AbortController();
  #session: StreamSession | null = null;
  #resampler: StreamResampler | null = null;
  #start: StartMessage | null = null;
  #inputSamples = 0;
  #timer: NodeJS.Timeout | null = null;
  #paused = false;
  /** The model's sample rate (the session's samples). */
  #rate = 16000;
  #stopping = false;
  #clientStopped = false;
  #closed = false;
  readonly done: Promise<void>;
  #resolveDone!: () => void;

  constructor(socket: WebSocket, queryModel: string | undefined, deps: RouteDeps) {
    this.#socket = socket;
    this.#deps = deps;
    this.#queryModel = queryModel;
    this.done = new Promise((resolve) => { this.#resolveDone = resolve; });
    this.#arm(deps.limits.startTimeoutMs, 'a start message');
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        this.#onMessage(data, isBinary);
      } catch (err) {
        this.#fail(err);
      }
    });
    socket.on('close', () => this.#cleanup('client-closed'));
    socket.on('error', () => this.#cleanup('socket-error'));
  }

  /** Server shutdown: the open segment's final, then close 4503 DISPOSED. */
  async shutdown(): Promise<void> {
    await this.#stopThen(new Wav2Vec2Error('DISPOSED', 'The server is shutting down: reconnect (to another instance, or once this one is back).'));
  }

  #arm(ms: number, what: string): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fail(new Wav2Vec2Error('TIMEOUT', `Expected ${what} within ${ms} ms: the stream was idle. Send audio as it is captured, or stop the stream.`)), ms);
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    if (this.#stopping) {
      // The server ends the stream (its longest, shutdown): what the client sent meanwhile is dropped.
      if (!this.#clientStopped) return;
      throw new Wav2Vec2Error('INVALID_INPUT', 'A message arrived after stop: nothing may follow it.');
    }
    if (isBinary) return this.#onAudio(data);
    const m = parseClientText(data);
    if (m.type === 'start') return this.#begin(m);
    if (!this.#session) throw new Wav2Vec2Error('INVALID_INPUT', 'stop before start: send {"type":"start",...} first.');
    this.#clientStopped = true;
    void this.#stopThen(null);
  }

  #begin(m: StartMessage): void {
    if (this.#start) throw new Wav2Vec2Error('INVALID_INPUT', 'start: sent twice; one stream has one start (open another connection for another stream).');
    if (this.#queryModel !== undefined && m.model !== undefined && m.model !== this.#queryModel) {
      throw new Wav2Vec2Error('INVALID_INPUT', `model: named twice, as ${JSON.stringify(this.#queryModel)} in the query and ${JSON.stringify(m.model)} in the start message: name it once.`);
    }
    const served = this.#deps.models.pick(this.#queryModel ?? m.model);
    checkRate(m.sampleRate, checkBudget({ minSampleRate: DEFAULT_MIN_RATE, maxSampleRate: DEFAULT_MAX_RATE }), 'start.sampleRate');
    const model = served.recognizer.model;
    if (!model.labels) throw new Wav2Vec2Error('INVALID_MANIFEST', `model ${JSON.stringify(served.name)} has no labels: it cannot transcribe.`);
    const plan = streamPlan(model, this.#deps.limits.window);
    const manifest = model.manifest;
    const decoder = new GreedyCTCDecoder(model.labels, {
      blank: manifest?.blank ?? 0, frameStride: model.frameStride, sampleRate: model.sampleRate,
      ...(manifest?.wordDelimiter !== undefined ? { wordDelimiter: manifest.wordDelimiter } : {}),
    });
    this.#start = m;
    this.#rate = model.sampleRate;
    this.#resampler = m.sampleRate === model.sampleRate ? null : new StreamResampler(m.sampleRate, model.sampleRate);
    this.#session = new StreamSession({
      plan, decoder, segmenter: this.#deps.limits.segmenter,
      infer: (samples) => this.#infer(served, samples),
      onEvent: (e) => this.#send(e),
      onProgress: () => this.#flow(),
      onError: (err) => this.#fail(err),
    });
    const ms = (samples: number) => Math.round((samples / model.sampleRate) * 1000);
    this.#sendJson({
      type: 'ready', model: served.name, sampleRate: m.sampleRate, encoding: m.encoding, modelSampleRate: model.sampleRate,
      leftMs: ms(plan.left), chunkMs: ms(plan.chunk), lookaheadMs: ms(plan.lookahead),
    });
    this.#arm(this.#deps.limits.idleTimeoutMs, 'a message');
  }

  async #infer(served: ServedModel, samples: Float32Array) {
    for (;;) {
      try {
        const r = await served.recognizer.emissions({ samples, sampleRate: served.recognizer.model.sampleRate }, { signal: this.#abort.signal });
        return r.emissions;
      } catch (err) {
        if (!(err instanceof Wav2Vec2Error && err.code === 'OVERLOADED') || this.#abort.signal.aborted) throw err;
        await new Promise((r) => setTimeout(r, OVERLOADED_RETRY_MS));
      }
    }
  }

  #onAudio(data: Buffer): void {
    const m = this.#start;
    if (!m || !this.#session) throw new Wav2Vec2Error('INVALID_INPUT', 'audio before start: send {"type":"start","sampleRate":16000,"encoding":"pcm16"} first.');
    this.#arm(this.#deps.limits.idleTimeoutMs, 'a message');
    const x = decodeAudio(data, m.encoding);
    const max = this.#deps.limits.maxStreamSeconds;
    if ((this.#inputSamples + x.length) / m.sampleRate > max) {
      void this.#stopThen(new Wav2Vec2Error('INPUT_TOO_LONG', `stream: expected at most ${max} s of audio (the server's maxStreamSeconds); the stream was ended there. Open a new stream to go on.`));
      return;
    }
    this.#inputSamples += x.length;
    this.#session.push(this.#resampler ? this.#resampler.push(x) : x);
    this.#flow();
  }

  /** Backpressure on the audio: pause reading at half the backlog budget, resume under a quarter, fail beyond it. */
  #flow(): void {
    const s = this.#session;
    if (!s || this.#closed) return;
    const backlog = s.backlog / this.#rate;
    const max = this.#deps.limits.maxBacklogSeconds;
    if (backlog > max) {
      this.#fail(new Wav2Vec2Error('STREAM_BACKLOG', `stream: ${backlog.toFixed(1)} s of audio wait to be transcribed (most: ${max} s): send audio at the rate it is captured, or the server is overloaded.`));
    } else if (!this.#paused && backlog > max / 2) {
      this.#paused = true;
      this.#socket.pause();
    } else if (this.#paused && backlog < max / 4) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  #send(e: StreamEvent): void {
    if (e.type === 'partial' && (!this.#start?.partials || this.#socket.bufferedAmount > this.#deps.limits.maxSendBytes / 2)) return;
    this.#sendJson(e);
  }

  #sendJson(m: object): void {
    if (this.#closed || this.#socket.readyState !== this.#socket.OPEN) return;
    if (this.#socket.bufferedAmount > this.#deps.limits.maxSendBytes) {
      return this.#fail(new Wav2Vec2Error('STREAM_BACKLOG', `stream: more than ${this.#deps.limits.maxSendBytes} bytes of answers wait to be read: read the socket as messages arrive.`));
    }
    this.#socket.send(JSON.stringify(m));
  }

  /** Runs the rest of the audio, sends the last final, then `end` (err null) or the error, and closes. */
  async #stopThen(err: Wav2Vec2Error | null): Promise<void> {
    if (this.#stopping || this.#closed) return;
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#paused) this.#socket.resume();
    try {
      if (this.#session) {
        if (this.#resampler) this.#session.push(this.#resampler.end());
        await this.#session.end();
      }
    } catch (e) {
      return this.#fail(e);
    }
    if (err) return this.#fail(err);
    const seconds = this.#start ? this.#inputSamples / this.#start.sampleRate : 0;
    this.#sendJson({ type: 'end', duration: Math.round(seconds * 1000) / 1000 });
    this.#close(1000, 'done');
  }

  #fail(err: unknown): void {
    if (this.#closed) return;
    const known = err instanceof Wav2Vec2Error;
    const code = known ? err.code : 'INTERNAL';
    const message = known ? err.message : 'Internal error: the stream could not go on (see the server log).';
    this.#sendJson({ type: 'error', code, message });
    this.#close(closeCodeOf(code), code);
  }

  #close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#socket.close(code, reason);
    this.#cleanup(reason);
  }

  #cleanup(how: string): void {
    if (this.#closed) return;
    this.#deps.metrics.streamEnded(how);
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    // Model runs still queued for this stream leave the queue; a running one's result is dropped.
    this.#abort.abort(new Wav2Vec2Error('ABORTED', 'The stream ended.'));
    this.#resolveDone();
  }
}

export interface StreamRouteOptions {
  models: ModelSet;
  metrics: ServerMetrics;
  stream?: StreamOptions;
  closing(): boolean;
}

/**
 * The WebSocket plugin: registered before the guard, whose onRequest hook must run after the plugin's (the plugin's
 * marks a request as an upgrade, so that a refused one gets its socket closed after the HTTP answer; refused before
 * that mark, the socket stayed open and held the server's shutdown). Returns the route's registration.
 */
export async function registerStreamSocket(app: FastifyInstance, o: StreamRouteOptions): Promise<() => void> {
  const limits = checkStreamOptions(o.stream);
  const open = new Set<LiveStream>();
  o.metrics.watchStreams(() => open.size);
  const deps: RouteDeps = { models: o.models, metrics: o.metrics, limits, closing: o.closing };

  await app.register(websocket, {
    options: {
      maxPayload: limits.maxMessageBytes,
      // Never echo another protocol the client offered: that one may carry its API key (guard.ts).
      handleProtocols: (protocols: Set<string>) => (protocols.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false),
    },
    // Shutdown: every open stream gets its last final before it is closed (the recognizers drain after this).
    preClose: async function (this: FastifyInstance) {
      await Promise.all([...open].map((s) => s.shutdown()));
      await Promise.all([...open].map((s) => s.done));
    },
  });
  return () => registerStreamRoute(app, o, open, deps);
}

function registerStreamRoute(app: FastifyInstance, o: StreamRouteOptions, open: Set<LiveStream>, deps: RouteDeps): void {
  const { limits } = deps;
  /** Refusals decided before the upgrade: an HTTP answer the client can read, rather than an immediate close. */
  const refuse = async (req: FastifyRequest) => {
    if (o.closing()) throw new Wav2Vec2Error('DISPOSED', 'The server is shutting down: reconnect (to another instance, or once this one is back).');
    if (open.size >= limits.maxStreams) {
      throw new Wav2Vec2Error('OVERLOADED', `The server has ${limits.maxStreams} live streams open (maxStreams): retry later, or raise --max-streams / add capacity.`);
    }
    const model = (req.query as { model?: string }).model;
    o.models.pick(model);
  };

  app.route<{ Querystring: { model?: string } }>({
    method: 'GET', url: '/v1/stream',
    schema: { querystring: { type: 'object', properties: { model: { type: 'string', minLength: 1, maxLength: 128 } }, additionalProperties: false } },
    preHandler: refuse,
    handler: async (_req, reply) => {
      reply.code(426).header('upgrade', 'websocket').send({ error: { code: 'INVALID_INPUT', message: 'GET /v1/stream is a WebSocket: connect with a WebSocket client (Upgrade: websocket). docs/serving.md has the protocol.' } });
    },
    wsHandler: (socket, req) => {
      const s = new LiveStream(socket as WebSocket, req.query.model, deps);
      open.add(s);
      void s.done.then(() => open.delete(s));
    },
  });
}

export { PLAN_DEFAULTS };
