/**
 * buildServer, the body of the package's createServer (lib/serve/entry.ts, which loads this module on first use): the Fastify app around one Recognizer, or several by name (lib/serve/models.ts). Returned not
 * listening, so tests use `app.inject()` and applications `await app.listen({ port })`. `app.close()` is the graceful
 * shutdown: it stops accepting connections, answers new audio requests on open ones with 503 DISPOSED (and
 * Retry-After), lets in-flight requests finish, then closes the recognizers it created (draining their queues).
 */
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import multipart from '@fastify/multipart';
import { checkOptionKeys, invalid, optionKeys } from '../errors';
import { isObject, isPositiveInteger } from '../is';
import type { Recognizer, RecognizerOptions } from '../recognizer';
import { createAdmission } from './admission';
import { clientError, errorBody, rawAnswer, toHttpError, type HttpError } from './errors';
import { registerGuard, type GuardOptions } from './guard';
import { createMetrics } from './metrics';
import { openModels, type ModelSet } from './models';
import { registerOpenAiRoutes } from './openai';
import { registerRoutes } from './routes';
import { registerPage } from './page';
import { checkStreamOptions, registerStreamSocket, type StreamOptions } from './stream-route';

export interface ServerOptions {
  /** A Recognizer (left open on close: it is yours) or the options to create one (closed with the server). */
  recognizer?: Recognizer | RecognizerOptions;
  /**
   * Several models by name, instead of `recognizer`: each a Recognizer (left open) or its options (closed with the
   * server), each with its own queue and limits. Requests choose one with `model` (the query or a form field).
   */
  models?: Record<string, Recognizer | RecognizerOptions>;
  /** The model for requests that name none, or an unknown one (default: the first of `models`). */
  defaultModel?: string;
  /** Refuse unknown model names with 404 MODEL_NOT_FOUND instead of running the default model (default false). */
  strictModels?: boolean;
  /** Largest request body or uploaded file, in bytes (default 25 MiB). */
  maxBodyBytes?: number;
  /** Longest audio per request in seconds, for a recognizer created here (default 120; a given one keeps its own). */
  maxDuration?: number;
  /** Per-request time limit in ms, from the request's arrival to its answer (default 60000). */
  requestTimeoutMs?: number;
  /** Retry-After seconds sent with 503 answers (default 1). */
  retryAfterS?: number;
  /** Most uploads in progress (bodies still arriving) at once; beyond it 503 OVERLOADED (default 64). */
  maxUploads?: number;
  /** Bytes a second an upload must average after `uploadGraceMs`, or it is cut with 408 (default 8192; 0: no minimum). */
  minUploadBytesPerSec?: number;
  /** Time an upload (and a request's headers) gets before the minimum rate counts, in ms (default 5000). */
  uploadGraceMs?: number;
  /** Most open connections; beyond it Node closes new ones at once (default 512). */
  maxConnections?: number;
  /**
   * Largest /v1/features answer in bytes (default 64 MiB): float32 as sent with format=f32, a bound on the text for
   * JSON. Refused with 413 INPUT_TOO_LONG once the audio is decoded, before the model runs.
   */
  maxFeatureBytes?: number;
  /** Bearer token that every route but /health requires (default: none). */
  apiKey?: string;
  /** Host names the Host header may carry, '*' for any (default: localhost, 127.0.0.1, ::1 on loopback connections). */
  allowedHosts?: string[];
  /** Origins whose web pages may call the server (CORS), '*' for any (default: none; requests with an Origin get 403). */
  cors?: string[];
  /** Live streams (GET /v1/stream): caps, timeouts, window layout, segmentation (see lib/serve/stream-route.ts). */
  stream?: StreamOptions;
  /** Serve the browser page at / that streams the microphone to /v1/stream (default false). */
  page?: boolean;
  /** Fastify's logger option (default false). */
  logger?: FastifyServerOptions['logger'];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The default model's Recognizer (the only one, unless several models are served). */
    recognizer: Recognizer;
    /** Every model this server runs, by name. */
    models: ModelSet;
    /** Starts draining: GET /ready answers 503 from now on, requests are still served (close() next). */
    drain(): void;
  }
}

const DEFAULTS = {
  maxBodyBytes: 25 * 2 ** 20, maxDuration: 120, requestTimeoutMs: 60000, retryAfterS: 1,
  maxUploads: 64, minUploadBytesPerSec: 8192, uploadGraceMs: 5000, maxConnections: 512, maxFeatureBytes: 64 * 2 ** 20,
};
type Limits = typeof DEFAULTS & GuardOptions & { stream: StreamOptions };

function names(what: string, list: unknown, check: (s: string) => boolean, expected: string): string[] {
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && (s === '*' || check(s.toLowerCase())))) {
    throw invalid('INVALID_INPUT', what, expected, list);
  }
  return (list as string[]).map((s) => s.toLowerCase());
}

/** Host names as the guard compares them: lowercase, an IPv6 address without its brackets ([::1] is ::1). */
function hostNames(list: unknown): string[] {
  const bare = Array.isArray(list) ? list.map((s) => (typeof s === 'string' ? s.replace(/^\[(.*)\]$/, '$1') : s)) : list;
  return names('allowedHosts', bare, isHostName, "a non-empty array of host names (no port), or ['*']");
}

const isHostName = (s: string) => /^[a-z0-9.-]+$|^[0-9a-f:]+$/.test(s);
const isOrigin = (s: string) => {
  try {
    return new URL(s).origin === s;
  } catch {
    return false;
  }
};

const SERVER_OPTION_KEYS = optionKeys<ServerOptions>({
  recognizer: true, models: true, defaultModel: true, strictModels: true, maxBodyBytes: true, maxDuration: true, requestTimeoutMs: true,
  retryAfterS: true, maxUploads: true, minUploadBytesPerSec: true, uploadGraceMs: true, maxConnections: true, maxFeatureBytes: true,
  apiKey: true, allowedHosts: true, cors: true, stream: true, page: true, logger: true,
});

/** Checks the server-level options (not the models') and returns the limits they give; throws INVALID_INPUT. */
export function checkServerOptions(o: ServerOptions): Limits {
  if (!isObject(o as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', o);
  checkOptionKeys('createServer options', o, SERVER_OPTION_KEYS);
  if (o.page !== undefined && typeof o.page !== 'boolean') throw invalid('INVALID_INPUT', 'page', 'true or false', o.page);
  checkStreamOptions(o.stream);
  const out: Limits = { ...DEFAULTS, apiKey: null, allowedHosts: null, cors: [], page: o.page ?? false, stream: o.stream ?? {} };
  for (const k of ['maxBodyBytes', 'requestTimeoutMs', 'retryAfterS', 'maxUploads', 'uploadGraceMs', 'maxConnections', 'maxFeatureBytes'] as const) {
    if (o[k] !== undefined) {
      if (!isPositiveInteger(o[k])) throw invalid('INVALID_INPUT', k, 'a positive integer', o[k]);
      out[k] = o[k];
    }
  }
  if (o.minUploadBytesPerSec !== undefined) {
    if (!(Number.isInteger(o.minUploadBytesPerSec) && o.minUploadBytesPerSec >= 0)) throw invalid('INVALID_INPUT', 'minUploadBytesPerSec', 'an integer ≥ 0', o.minUploadBytesPerSec);
    out.minUploadBytesPerSec = o.minUploadBytesPerSec;
  }
  if (o.maxDuration !== undefined) {
    if (!(typeof o.maxDuration === 'number' && o.maxDuration > 0)) throw invalid('INVALID_INPUT', 'maxDuration', 'a positive number of seconds', o.maxDuration);
    out.maxDuration = o.maxDuration;
  }
  if (o.apiKey !== undefined) {
    // Printable ASCII without spaces: what an Authorization header can carry as it is.
    if (!(typeof o.apiKey === 'string' && /^[\x21-\x7e]{16,}$/.test(o.apiKey))) throw invalid('INVALID_INPUT', 'apiKey', 'at least 16 printable ASCII characters, no spaces', o.apiKey ? '(a key that is not)' : o.apiKey);
    out.apiKey = o.apiKey;
  }
  if (o.allowedHosts !== undefined) out.allowedHosts = hostNames(o.allowedHosts);
  if (o.cors !== undefined) out.cors = names('cors', o.cors, isOrigin, "a non-empty array of origins (scheme://host[:port], no path), or ['*']");
  return out;
}

/** createServer's body (lib/serve/entry.ts): use createServer. */
export async function buildServer(options: ServerOptions = {}): Promise<FastifyInstance> {
  const limits = checkServerOptions(options);
  const models = await openModels({ ...options, maxDuration: limits.maxDuration });
  try {
    return await build(models, limits, options.logger ?? false);
  } catch (err) {
    await models.close();
    throw err;
  }
}

/**
 * The error handler of a set of routes: the status, Retry-After and Connection of every error are decided here, the
 * body by `body` (ours, or OpenAI's shape on its routes).
 */
export function errorHandler(retryAfterS: number, body: (e: HttpError, err: unknown) => unknown) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = toHttpError(err, retryAfterS);
    if (e.status >= 500 && e.code === 'INTERNAL') req.log.error({ err }, 'request failed');
    if (e.retryAfter !== undefined) reply.header('retry-after', String(e.retryAfter));
    // Refused before its body was read (or cut while reading it): close the connection after the answer, or Node
    // would read the rest of the body (a slow one included) to keep the connection alive.
    if (req.raw.complete === false) reply.header('connection', 'close');
    reply.code(e.status).send(body(e, err));
  };
}

/** Node's own limits on receiving a request, in the coded shape (see clientError). */
function nodeLimits(limits: Limits) {
  // Headers are a few hundred bytes: they get the upload's grace, and never more than the request timeout.
  const headersTimeout = Math.min(limits.uploadGraceMs, limits.requestTimeoutMs);
  return {
    // A backstop to the upload watcher (lib/serve/upload.ts), which cuts uploads at the same time limit.
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout,
    // Node checks those timeouts every 30 s by default, so a connection trickling its headers lived up to 30 s longer.
    http: { connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))) },
    clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      // Only where no answer is being written on this connection (Node keeps its response object there).
      const inProgress = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
      if (socket.writable && !inProgress) socket.write(rawAnswer(clientError(err, limits.requestTimeoutMs, headersTimeout)));
      socket.destroy(err);
    },
  };
}

async function build(models: ModelSet, limits: Limits, logger: FastifyServerOptions['logger']): Promise<FastifyInstance> {
  const node = nodeLimits(limits);
  const app = Fastify({
    logger,
    bodyLimit: limits.maxBodyBytes,
    requestTimeout: node.requestTimeout,
    http: node.http,
    clientErrorHandler: node.clientErrorHandler,
    // Fastify's own 503 for requests that arrive on open connections during shutdown has no error code and no
    // Retry-After, and skips our hooks: the routes' onRequest hook answers them instead (503 DISPOSED, Retry-After).
    return503OnClosing: false,
  });
  app.server.headersTimeout = node.headersTimeout;
  app.server.maxConnections = limits.maxConnections;
  const metrics = createMetrics(models);
  app.decorate('recognizer', models.default.recognizer);
  app.decorate('models', models);

  // Audio comes as raw bytes (the format is detected from the content; the audio routes refuse types that are not
  // audio before this runs, see checkContentType) or as a multipart upload; JSON and text are not parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: limits.maxBodyBytes, files: 1, fields: 16, parts: 32, headerPairs: 200 } });

  app.setErrorHandler(errorHandler(limits.retryAfterS, errorBody));
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url}. Routes: POST /v1/transcribe, GET /v1/stream (WebSocket), POST /v1/features, POST /v1/audio/transcriptions, GET /v1/models, GET /health, GET /ready, GET /metrics.` } });
  });
  // Node closes only connections that are idle when close() is called; a keep-alive connection whose request
  // finishes later would hold the shutdown until its keep-alive timeout (72 s in Fastify). Answers sent while
  // closing therefore ask the client to close the connection.
  let closing = false;
  let draining = false;
  app.decorate('drain', () => {
    draining = true;
  });
  const admission = createAdmission({
    models, metrics, requestTimeoutMs: limits.requestTimeoutMs, maxUploads: limits.maxUploads,
    upload: { minBytesPerSec: limits.minUploadBytesPerSec, graceMs: limits.uploadGraceMs, timeoutMs: limits.requestTimeoutMs },
    closing: () => closing,
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.observeRequest(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, reply.elapsedTime / 1000, admission.modelOf(req));
  });
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    metrics.stop();
    await models.close();
  });

  const registerStreamRoute = await registerStreamSocket(app, { models, metrics, stream: limits.stream, closing: () => closing });
  registerGuard(app, limits);
  registerRoutes(app, { models, admission, metrics, maxUploads: limits.maxUploads, maxFeatureBytes: limits.maxFeatureBytes, closing: () => closing, draining: () => draining });
  registerStreamRoute();
  if (limits.page) registerPage(app);
  await registerOpenAiRoutes(app, { models, admission, errorHandler: (body) => errorHandler(limits.retryAfterS, body) });
  await app.ready();
  return app;
}

