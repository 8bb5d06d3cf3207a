/**
 * Errors in OpenAI's shape, `{ error: { message, type, param, code } }`, so that its SDKs raise their typed errors
 * (AuthenticationError, NotFoundError, ...) with our message. `code` is our stable code; `type` is OpenAI's coarse
 * class; `param` names the form field at fault where one is.
 */
import { Wav2Vec2Error } from '../../errors';
import type { HttpError } from '../errors';

export interface OpenAiErrorBody {
  error: { message: string; type: 'invalid_request_error' | 'server_error'; param: string | null; code: string };
}

/** Errors raised for a named form field (kept beside the error, not in it: Wav2Vec2Error has no such field). */
const params = new WeakMap<object, string>();

/** An INVALID_INPUT error about the form field `param`. */
export function fieldError(param: string, message: string): Wav2Vec2Error {
  const err = new Wav2Vec2Error('INVALID_INPUT', `${param}: ${message}`);
  params.set(err, param);
  return err;
}

/** The field an error is about: the audio for what is wrong with it, `model` for a model refused. */
function paramOf(e: HttpError, err: unknown): string | null {
  if (typeof err === 'object' && err !== null && params.has(err)) return params.get(err)!;
  if (e.code === 'MODEL_NOT_FOUND') return 'model';
  if (/^AUDIO_|^INPUT_TOO_LONG$|^BODY_TOO_LARGE$/.test(e.code)) return 'file';
  return null;
}

export function openAiErrorBody(e: HttpError, err: unknown): OpenAiErrorBody {
  return {
    error: { message: e.message, type: e.status >= 500 ? 'server_error' : 'invalid_request_error', param: paramOf(e, err), code: e.code },
  };
}
