/**
 * Every error response is `{ "error": { "code", "message" } }` with a stable code: the library's Wav2Vec2Error
 * codes, plus a few HTTP-level ones for what never reaches the library (body too large, not found, ...).
 */
import { STATUS_CODES } from 'node:http';
import { Wav2Vec2Error, type ErrorCode } from '../errors';

export type HttpErrorCode = ErrorCode | 'BODY_TOO_LARGE' | 'HEADERS_TOO_LARGE' | 'BAD_REQUEST' | 'NOT_FOUND' | 'INTERNAL';

export interface HttpError {
  status: number;
  code: HttpErrorCode;
  message: string;
  /** Seconds, for 503 answers: when to try again. */
  retryAfter?: number;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  AUDIO_EMPTY: 400,
  AUDIO_DECODE_FAILED: 400,
  DECODE_INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  // A model name the server refuses (--strict-models); model files missing at startup never reach a request.
  MODEL_NOT_FOUND: 404,
  HOST_NOT_ALLOWED: 403,
  ORIGIN_NOT_ALLOWED: 403,
  UPLOAD_TOO_SLOW: 408,
  REQUEST_TIMEOUT: 408,
  AUDIO_UNSUPPORTED_FORMAT: 415,
  // A sample rate outside the audio stage's range (8-384 kHz by default): like a format variant not decoded here.
  AUDIO_UNSUPPORTED_RATE: 415,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INPUT_TOO_LONG: 413,
  // What this server's model cannot do (no extract_features, no labels to decode with).
  UNSUPPORTED_METHOD: 501,
  INVALID_MANIFEST: 501,
  OVERLOADED: 503,
  DISPOSED: 503,
  ABORTED: 503,
  TIMEOUT: 504,
  STREAM_BACKLOG: 429,
};

// Fastify's and @fastify/multipart's own errors that a client can cause.
const FASTIFY: Record<string, HttpErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_PARTS_LIMIT: 'BODY_TOO_LARGE',
  FST_FILES_LIMIT: 'BODY_TOO_LARGE',
  FST_FIELDS_LIMIT: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Our routes' error body. */
export function errorBody(e: HttpError): { error: { code: HttpErrorCode; message: string } } {
  return { error: { code: e.code, message: e.message } };
}

/** The HTTP answer for any error a request may raise. */
export function toHttpError(err: unknown, retryAfter: number): HttpError {
  if (err instanceof Wav2Vec2Error) {
    const status = STATUS[err.code] ?? 500;
    return { status, code: err.code, message: err.message, ...(status === 503 ? { retryAfter } : {}) };
  }
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown; validation?: unknown };
  if (e && typeof e === 'object' && e.validation) {
    return { status: 400, code: 'INVALID_INPUT', message: String(e.message) };
  }
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = (typeof e.code === 'string' && FASTIFY[e.code]) || 'BAD_REQUEST';
    return { status: code === 'BODY_TOO_LARGE' ? 413 : code === 'UNSUPPORTED_MEDIA_TYPE' ? 415 : status, code, message: String(e.message ?? 'bad request') };
  }
  // Unexpected: the details go to the log, not to the client.
  return { status: 500, code: 'INTERNAL', message: 'Internal error: the request could not be completed (see the server log).' };
}

/**
 * What Node refuses before Fastify sees a request (its 'clientError': headers or a whole request not received in
 * time, headers too large, not HTTP), in the same shape as every other error. Fastify's own answer to these is
 * `{ error: "Request Timeout", message: "Client Timeout", statusCode: 408 }`.
 */
export function clientError(err: NodeJS.ErrnoException, requestTimeoutMs: number, headersTimeoutMs: number): HttpError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408, code: 'REQUEST_TIMEOUT',
      message: `The request was not received in time (headers within ${headersTimeoutMs} ms, the whole request within ${requestTimeoutMs} ms): the connection is closed.`,
    };
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'The request headers are larger than the server accepts (Node\'s --max-http-header-size, 16 KiB by default).' };
  }
  return { status: 400, code: 'BAD_REQUEST', message: `The request is not valid HTTP/1.1 (${err.code ?? err.message}).` };
}

/** A whole HTTP/1.1 error answer as text, for a socket that has no response object; the connection closes after it. */
export function rawAnswer(e: HttpError): string {
  const body = JSON.stringify(errorBody(e));
  return `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
