/**
 * Admission of the audio routes (ours and the OpenAI-compatible one): refusals decided on arrival, before the body is
 * read; the request's time limit and the watch on its upload; then the audio, the model it asked for, and the
 * signal its recognizer call runs under. Every audio route goes through here, so limits are the same on each.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Wav2Vec2Error } from '../errors';
import type { ServerMetrics } from './metrics';
import type { ModelSet, ServedModel } from './models';
import { audioOf, checkContentType, requestSignal, type FormFields } from './request';
import { watchUpload, type UploadLimits } from './upload';

export interface AdmissionOptions {
  models: ModelSet;
  metrics: ServerMetrics;
  requestTimeoutMs: number;
  /** Most uploads in progress at once; beyond it 503 OVERLOADED on arrival. */
  maxUploads: number;
  /** When an upload in progress is cut (408). */
  upload: UploadLimits;
  /** True once the server is shutting down (app.close() called). */
  closing(): boolean;
}

/** What a request admitted to an audio route carries from its arrival to its answer. */
interface Admitted {
  signal: AbortSignal;
  /** Stops the timer (idempotent). */
  done(): void;
  /** Its body has been read and handed on, or the request ended (idempotent). */
  received(): void;
}

/** What a route's handler gets: the audio received whole, the form's fields, the model and the request's signal. */
export interface AdmittedUpload {
  audio: Buffer;
  fields: FormFields;
  model: ServedModel;
  signal: AbortSignal;
}

export interface Admission {
  /** The routes' onRequest hook. */
  admit(req: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** The routes' onResponse hook. */
  release(req: FastifyRequest): Promise<void>;
  /** Reads the upload, picks its model (header `x-model` says which) and runs `fn`; the timer stops after. */
  run<T>(req: FastifyRequest, reply: FastifyReply, fn: (u: AdmittedUpload) => Promise<T>): Promise<T>;
  /** The model that answered a request, for metrics ('' before one was picked, and on other routes). */
  modelOf(req: FastifyRequest): string;
  /** Uploads in progress. */
  uploading(): number;
}

/** `?model=NAME`, or a form field `model`; both given must agree. */
function requestedModel(req: FastifyRequest, fields: FormFields): string | undefined {
  const query = (req.query as { model?: unknown } | undefined)?.model;
  const fromQuery = typeof query === 'string' ? query : undefined;
  // A field given twice: the last one, as the OpenAI route reads its fields (openai/form.ts).
  const fromForm = fields.model?.at(-1);
  if (fromQuery !== undefined && fromForm !== undefined && fromQuery !== fromForm) {
    throw new Wav2Vec2Error('INVALID_INPUT', `model: named twice, as ${JSON.stringify(fromQuery)} in the query and ${JSON.stringify(fromForm)} in the form: name it once.`);
  }
  return fromQuery ?? fromForm;
}

export function createAdmission(o: AdmissionOptions): Admission {
  const admitted = new WeakMap<FastifyRequest, Admitted>();
  const answeredBy = new WeakMap<FastifyRequest, string>();
  // Uploads in progress: counted against --max-uploads, never against a recognizer's queue (only audio that has
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

  /**
   * The models whose queue decides a refusal on arrival: the one named in the query, the default for a raw body (which
   * cannot name one otherwise), the only one; for a form with several models served, its `model` field is not read
   * yet: refused only when every queue is full (the recognizer refuses it later if its own is).
   */
  const arrivalModels = (req: FastifyRequest): ServedModel[] => {
    const query = (req.query as { model?: unknown } | undefined)?.model;
    if (typeof query === 'string') return [o.models.pick(query)];
    // From the header: req.isMultipart() is known only once the body parser has run, after this hook.
    if (!/^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '')) return [o.models.default];
    return o.models.list();
  };

  /** Refusals decided on arrival, before the body is read (it is then never buffered). */
  const refuse = (req: FastifyRequest) => {
    if (o.closing()) {
      throw new Wav2Vec2Error('DISPOSED', 'The server is shutting down: retry the request (on another instance, or once this one is back).');
    }
    checkContentType(req);
    const models = arrivalModels(req);
    if (uploading >= o.maxUploads) {
      o.metrics.refused(models.length === 1 ? models[0]!.name : '');
      throw new Wav2Vec2Error('OVERLOADED', `The server is receiving ${o.maxUploads} uploads already (maxUploads): retry later, or raise --max-uploads / add capacity.`);
    }
    const full = models.filter((m) => {
      const s = m.recognizer.stats();
      return s.preparing + s.queued >= s.maxQueue;
    });
    if (full.length === models.length) {
      o.metrics.refused(models.length === 1 ? models[0]!.name : '');
      const s = full[0]!.recognizer.stats();
      throw new Wav2Vec2Error('OVERLOADED', `The server has ${s.maxQueue} requests waiting (maxQueue) ${models.length === 1 ? `for model ${JSON.stringify(full[0]!.name)}` : 'for every model'}: retry later, or raise --max-queue / add capacity.`);
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

  const run = async <T>(req: FastifyRequest, reply: FastifyReply, fn: (u: AdmittedUpload) => Promise<T>): Promise<T> => {
    const a = admitted.get(req)!;
    try {
      let upload;
      try {
        upload = await audioOf(req);
      } finally {
        // From here on the recognizer counts the request.
        a.received();
      }
      const model = o.models.pick(requestedModel(req, upload.fields));
      answeredBy.set(req, model.name);
      reply.header('x-model', model.name);
      return await fn({ ...upload, model, signal: a.signal });
    } finally {
      a.done();
    }
  };

  return { admit, release, run, modelOf: (req) => answeredBy.get(req) ?? '', uploading: () => uploading };
}
