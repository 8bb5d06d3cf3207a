/**
 * The OpenAI-compatible routes: POST /v1/audio/transcriptions and GET /v1/models[/:model], so that OpenAI's SDKs and
 * the tools built on them work against this server with only their base URL changed. They run through the same
 * guard (API key as `Authorization: Bearer`, Host, Origin), admission (limits, upload watch) and recognizers as our
 * routes; only the request's fields, the answer's formats and the error body differ.
 */
import { statSync } from 'node:fs';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Wav2Vec2Error } from '../../errors';
import type { Admission } from '../admission';
import type { HttpError } from '../errors';
import type { ModelSet, ServedModel } from '../models';
import { openAiErrorBody } from './errors';
import { transcriptionRequest } from './form';
import { needsTimestamps, transcriptionAnswer } from './responses';

export interface OpenAiRouteOptions {
  models: ModelSet;
  admission: Admission;
  /** The server's error handler, with the body in the shape given. */
  errorHandler(body: (e: HttpError, err: unknown) => unknown): (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => void;
}

/** An entry of GET /v1/models; `created`: the model file's modification time (when it was made), in Unix seconds. */
function modelEntry(m: ServedModel) {
  let created = 0;
  try {
    created = Math.floor(statSync(m.recognizer.model.info.file).mtimeMs / 1000);
  } catch {
    // A model without a file on disk (or one since removed) has no date to give.
  }
  return { id: m.name, object: 'model' as const, created, owned_by: 'wav2vec2-node' };
}

export async function registerOpenAiRoutes(app: FastifyInstance, o: OpenAiRouteOptions): Promise<void> {
  const { admission, models } = o;
  // A plugin of its own: the error handler set here answers this scope's routes only.
  await app.register(async (scope) => {
    scope.setErrorHandler(o.errorHandler(openAiErrorBody));

    scope.post('/v1/audio/transcriptions', { onRequest: admission.admit, onResponse: admission.release }, async (req, reply) =>
      admission.run(req, reply, async ({ audio, fields, model, signal }) => {
        const q = transcriptionRequest(fields);
        const r = await model.recognizer.transcribe(audio, { signal, timestamps: needsTimestamps(q.format) });
        const answer = transcriptionAnswer(r, q);
        reply.type(answer.type);
        return answer.body;
      }));

    scope.get('/v1/models', async () => ({ object: 'list', data: models.list().map(modelEntry) }));

    // What is loaded, by its exact name: an unknown name is 404 here even where transcriptions would take it.
    scope.get<{ Params: { model: string } }>('/v1/models/:model', async (req) => {
      const m = models.get(req.params.model);
      if (!m) {
        throw new Wav2Vec2Error('MODEL_NOT_FOUND', `model: ${JSON.stringify(req.params.model)} is not loaded here; loaded: ${models.names.join(', ')}.`);
      }
      return modelEntry(m);
    });
  });
}
