/** Per-request plumbing: the audio bytes of a raw or multipart body, and a signal for timeouts and hang-ups. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Wav2Vec2Error } from '../errors';

/** Content types an audio upload may have: a raw audio file or bytes, or a form with the file. */
const AUDIO_TYPES = /^(audio\/[\w.+-]+|application\/(octet-stream|ogg)|multipart\/form-data)$/;

/**
 * Refuses a body that does not say it is audio. text/plain and application/x-www-form-urlencoded are what a web page
 * may POST to any server (localhost included) without a CORS preflight; JSON is a client's mistake. A request with
 * no Content-Type is taken as raw bytes (Node's fetch sends a Buffer without one); a browser sending one also sends
 * an Origin, which lib/serve/guard.ts refuses unless allowed.
 */
export function checkContentType(req: FastifyRequest): void {
  const header = req.headers['content-type'];
  if (header === undefined) return;
  if (!AUDIO_TYPES.test(header.split(';')[0]!.trim().toLowerCase())) {
    throw new Wav2Vec2Error('UNSUPPORTED_MEDIA_TYPE',
      `Content-Type: expected an audio type (audio/wav, audio/mpeg, audio/flac, audio/ogg, ...), application/octet-stream or ` +
      `multipart/form-data, got ${JSON.stringify(header)}. With curl: --data-binary @speech.wav -H 'Content-Type: audio/wav', or -F file=@speech.wav.`);
  }
}

/** The text fields of a multipart upload, by name; a repeated name (`timestamp_granularities[]`) keeps every value. */
export type FormFields = Record<string, string[]>;

export interface Upload {
  audio: Buffer;
  fields: FormFields;
}

/**
 * The uploaded audio: the raw body (an audio type or application/octet-stream; the format is detected from the bytes), or
 * the file of a multipart/form-data upload (its size limit is the server's body limit) with the form's text fields. The
 * whole form is read: clients put fields after the file too (OpenAI's SDK sends `model` after `file`).
 */
export async function audioOf(req: FastifyRequest): Promise<Upload> {
  let bytes: Buffer | undefined;
  const fields: FormFields = {};
  if (req.isMultipart()) {
    try {
      for await (const part of req.parts()) {
        if (part.type === 'file') bytes = await part.toBuffer();
        else (fields[part.fieldname] ??= []).push(String(part.value));
      }
      if (!bytes) throw new Wav2Vec2Error('AUDIO_EMPTY', 'The multipart upload has no file: send the audio as a file field (e.g. curl -F file=@speech.wav).');
    } catch (err) {
      throw malformedUpload(err);
    }
  } else {
    bytes = Buffer.isBuffer(req.body) ? req.body : undefined;
  }
  if (!bytes || bytes.length === 0) {
    throw new Wav2Vec2Error('AUDIO_EMPTY', 'The request has no audio: send the file as the body (e.g. curl --data-binary @speech.wav) or as a multipart upload.');
  }
  return { audio: bytes, fields };
}

/**
 * busboy's errors on a malformed body (no boundary, a body that is not multipart, a part cut short) are plain Errors
 * without a statusCode, which would be answered 500: they are the client's mistake. Errors with a status (the
 * plugin's size limits) and our own coded ones pass as they are.
 */
function malformedUpload(err: unknown): unknown {
  if (err instanceof Wav2Vec2Error || typeof (err as { statusCode?: unknown })?.statusCode === 'number') return err;
  const why = (err as Error)?.message ?? String(err);
  return new Wav2Vec2Error('INVALID_INPUT', `The multipart/form-data upload is malformed (${why}): send a well-formed upload (e.g. curl -F file=@speech.wav) or the audio as the raw body.`, { cause: err });
}

/**
 * Aborted when the request runs past `timeoutMs` (reason: a TIMEOUT error, answered 504) or when the client
 * hangs up (its queued work is dropped so that it does not hold a place in the queue). Call `done()` after.
 */
export function requestSignal(reply: FastifyReply, timeoutMs: number): { signal: AbortSignal; done(): void } {
  const ac = new AbortController();
  const timer = setTimeout(() => {
    ac.abort(new Wav2Vec2Error('TIMEOUT', `No result within the server's ${timeoutMs} ms request timeout: retry later or send shorter audio.`));
  }, timeoutMs);
  const onClose = () => {
    // 'close' before the response was written: the client is gone.
    if (!reply.raw.writableFinished) ac.abort(new Wav2Vec2Error('ABORTED', 'The client closed the connection.'));
  };
  reply.raw.once('close', onClose);
  return {
    signal: ac.signal,
    done() {
      clearTimeout(timer);
      reply.raw.off('close', onClose);
    },
  };
}
