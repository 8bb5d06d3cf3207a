import { type ErrorCode, Wav2Vec2Error } from '../errors';

/**
 * The error for a decoding file that cannot be read (missing, a directory, no permission, a damaged `.gz`). It
 * carries the code of what the file holds, the code the same file would get if it were malformed: a tokens file
 * `DECODE_INVALID_INPUT` (it is the decoder's tokens argument), a lexicon `LEXICON_INVALID`, a language model
 * `LM_INVALID`. One message shape for all: "Cannot read the <what> <path>: <reason>."
 */
export function cannotRead(code: ErrorCode, what: string, path: string, err: unknown, hint = ''): Wav2Vec2Error {
  const reason = err instanceof Error ? err.message : String(err);
  return new Wav2Vec2Error(code, `Cannot read the ${what} ${path}: ${reason.replace(/\.$/, '')}.${hint ? ` ${hint}` : ''}`, { cause: err });
}
