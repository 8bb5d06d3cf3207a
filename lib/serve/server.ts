/**
 * createServer: the Fastify app around one Recognizer. Returned not listening, so tests use `app.inject()`
 * and applications `await app.listen({ port })`. `app.close()` is the graceful shutdown: it stops accepting
 * connections, answers new transcribe/features requests on open ones with 503 DISPOSED (and Retry-After), lets
 * in-flight requests finish, then closes the recognizer (draining its queue) when the server created it.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import multipart from '@fastify/multipart';
import { invalid } from '../errors';
import { isObject, isPositiveInteger } from '../is';
import { Recognizer, createRecognizer, type RecognizerOptions } from '../recognizer';
import { toHttpError } from './errors';
import { createMetrics } from './metrics';
import { registerRoutes } from './routes';

export interface ServerOptions {
  /** A Recognizer (left open on close: it is yours) or the options to create one (closed with the server). */
  recognizer?: Recognizer | RecognizerOptions;
  /** Largest request body or uploaded file, in bytes (default 25 MiB). */
  maxBodyBytes?: number;
  /** Longest audio per request in seconds, for a recognizer created here (default 120; a given one keeps its own). */
  maxDuration?: number;
  /** Per-request time limit in ms, from the request's arrival to its answer (default 60000). */
  requestTimeoutMs?: number;
  /** Retry-After seconds sent with 503 answers (default 1). */
  retryAfterS?: number;
  /** Fastify's logger option (default false). */
  logger?: FastifyServerOptions['logger'];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The Recognizer this server runs requests on. */
    recognizer: Recognizer;
  }
}

const DEFAULTS = { maxBodyBytes: 25 * 2 ** 20, maxDuration: 120, requestTimeoutMs: 60000, retryAfterS: 1 };

function checkOptions(o: ServerOptions): typeof DEFAULTS {
  if (!isObject(o as unknown)) throw invalid('INVALID_INPUT', 'options', 'an object', o);
  const out = { ...DEFAULTS };
  for (const k of ['maxBodyBytes', 'requestTimeoutMs', 'retryAfterS'] as const) {
    if (o[k] !== undefined) {
      if (!isPositiveInteger(o[k])) throw invalid('INVALID_INPUT', k, 'a positive integer', o[k]);
      out[k] = o[k];
    }
  }
  if (o.maxDuration !== undefined) {
    if (!(typeof o.maxDuration === 'number' && o.maxDuration > 0)) throw invalid('INVALID_INPUT', 'maxDuration', 'a positive number of seconds', o.maxDuration);
    out.maxDuration = o.maxDuration;
  }
  return out;
}

export async function createServer(options: ServerOptions = {}): Promise<FastifyInstance> {
  const limits = checkOptions(options);
  const given = options.recognizer instanceof Recognizer ? options.recognizer : null;
  const rec = given ?? await createRecognizer({ maxDuration: limits.maxDuration, ...(options.recognizer as RecognizerOptions | undefined) });
  try {
    return await build(rec, !given, limits, options.logger ?? false);
  } catch (err) {
    if (!given) await rec.close();
    throw err;
  }
}

async function build(rec: Recognizer, ownsRecognizer: boolean, limits: typeof DEFAULTS, logger: FastifyServerOptions['logger']): Promise<FastifyInstance> {
  const app = Fastify({
    logger,
    bodyLimit: limits.maxBodyBytes,
    // Node's own limit on receiving a whole request: a client trickling bytes cannot hold a connection for ever.
    requestTimeout: limits.requestTimeoutMs,
    // Fastify's own 503 for requests that arrive on open connections during shutdown has no error code and no
    // Retry-After, and skips our hooks: the routes' onRequest hook answers them instead (503 DISPOSED, Retry-After).
    return503OnClosing: false,
  });
  const metrics = createMetrics(rec, rec.maxBatchSize);
  app.decorate('recognizer', rec);

  // Audio comes as raw bytes of any content type (the format is detected from the content, so a client's
  // wrong or missing Content-Type does not matter) or as a multipart upload; JSON and text are not parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: limits.maxBodyBytes, files: 1, fields: 16, parts: 32, headerPairs: 200 } });

  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err, limits.retryAfterS);
    if (e.status >= 500 && e.code === 'INTERNAL') req.log.error({ err }, 'request failed');
    if (e.retryAfter !== undefined) reply.header('retry-after', String(e.retryAfter));
    reply.code(e.status).send({ error: { code: e.code, message: e.message } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url}. Routes: POST /v1/transcribe, POST /v1/features, GET /health, GET /metrics.` } });
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.observeRequest(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  // Node closes only connections that are idle when close() is called; a keep-alive connection whose request
  // finishes later would hold the shutdown until its keep-alive timeout (72 s in Fastify). Answers sent while
  // closing therefore ask the client to close the connection.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    metrics.stop();
    if (ownsRecognizer) await rec.close({ drain: true });
  });

  registerRoutes(app, { recognizer: rec, metrics, requestTimeoutMs: limits.requestTimeoutMs, closing: () => closing });
  await app.ready();
  return app;
}

