/**
 * Every error this package throws is a `Wav2Vec2Error` with a stable `code`. Messages follow one shape:
 * what was expected, what was given, and what to do about it.
 */
export type ErrorCode =
  // native core
  | 'MODEL_LOAD_FAILED'
  | 'INVALID_INPUT'
  | 'INPUT_TOO_LONG'
  | 'UNSUPPORTED_METHOD'
  | 'CUDA_UNAVAILABLE'
  | 'UNSUPPORTED_DEVICE'
  | 'UNSUPPORTED_DTYPE'
  | 'DISPOSED'
  | 'INFERENCE_FAILED'
  | 'NATIVE_ADDON_MISSING'
  // audio
  | 'AUDIO_DECODE_FAILED'
  | 'AUDIO_UNSUPPORTED_FORMAT'
  | 'AUDIO_UNSUPPORTED_RATE'
  | 'AUDIO_EMPTY'
  | 'AUDIO_READ_FAILED'
  // bundles and model files
  | 'MODEL_NOT_FOUND'
  | 'UNKNOWN_BUNDLE'
  | 'INVALID_MANIFEST'
  // checkpoints (config.json, safetensors, torch.save archives): malformed or not what it claims
  | 'CHECKPOINT_INVALID'
  // a checkpoint the native builder cannot build faithfully (architecture, adapter, activation, ...): names the field
  | 'MODEL_UNSUPPORTED'
  // Hugging Face hub (lib/hub)
  | 'HUB_INVALID_ID' // not a repo id huggingface_hub accepts (characters, length, "--", "..", ".git", revision)
  | 'HUB_REPO_NOT_FOUND' // 404 / RepoNotFound / RevisionNotFound, or 401 without a token (private: set HF_TOKEN)
  | 'HUB_FILE_NOT_FOUND' // the repo has no such file (config.json, weights, a shard its index names)
  | 'HUB_AUTH_FAILED' // 401/403 although a token was sent, or a gated repo
  | 'HUB_NETWORK' // connection refused/reset, timeout, DNS, 5xx, a redirect loop or an answer not in the hub's shape
  | 'HUB_CHECKSUM_MISMATCH' // a downloaded LFS file whose sha256 is not its etag (the partial file is deleted)
  | 'HUB_OFFLINE_MISS' // HF_HUB_OFFLINE=1 (or offline: true) and the cache lacks the repo, revision or a file
  | 'HUB_DOWNLOAD_INCOMPLETE' // the body ended before its announced size (kept as .incomplete, resumed next time)
  // decoding
  // a bad decoder argument: emissions, labels, lengths, or a decoder option, whichever entry point it came through (the
  // decoders, createDecoder/transcribe(), createRecognizer, runBatchJob, the CLI's decoder flags): one code per mistake
  | 'DECODE_INVALID_INPUT'
  | 'LEXICON_INVALID'
  | 'LM_INVALID'
  // a language model format we cannot read (a KenLM binary): the message says how to get an ARPA file
  | 'LM_UNSUPPORTED'
  // batch jobs
  | 'BATCH_INPUT_INVALID'
  | 'BATCH_INPUT_BROKEN_LINK'
  | 'BATCH_INPUT_CRASHED'
  | 'BATCH_OUTPUT_LOCKED'
  | 'BATCH_OPTIONS_CHANGED'
  | 'BATCH_WRITE_FAILED'
  | 'BATCH_OUTPUT_FAILED'
  // batch jobs on a queue (lib/jobs/queue)
  | 'QUEUE_NOT_INSTALLED' // the queue's client, bullmq (an optional peer dependency), is not installed
  | 'QUEUE_REDIS_UNREACHABLE' // no answer from the Redis of --queue
  | 'QUEUE_REDIS_MISCONFIGURED' // Redis may evict keys (maxmemory-policy is not noeviction): jobs would vanish
  | 'QUEUE_JOB_FAILED' // a queued input that failed every retry for a reason not its own (its worker's error is in the message)
  // serving (Recognizer, HTTP server)
  | 'OVERLOADED'
  | 'ABORTED'
  | 'TIMEOUT'
  // HTTP server: requests refused before they reach the Recognizer
  | 'UNAUTHORIZED'
  | 'HOST_NOT_ALLOWED'
  | 'ORIGIN_NOT_ALLOWED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UPLOAD_TOO_SLOW'
  | 'REQUEST_TIMEOUT'
  // live streams (GET /v1/stream): audio arrives faster than it is transcribed, or answers faster than they are read
  | 'STREAM_BACKLOG';

export class Wav2Vec2Error extends Error {
  readonly code: ErrorCode;
  /** Extra detail (e.g. the full TorchScript traceback) kept out of the one-line message. */
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'Wav2Vec2Error';
    this.code = code;
    if (options?.detail !== undefined) this.detail = options.detail;
  }
}

/** Short, readable description of a value for error messages ("a string", "NaN", "an array of 3"). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `the number ${value}`;
  if (typeof value === 'string') return value.length > 40 ? `a string of length ${value.length}` : `the string ${JSON.stringify(value)}`;
  if (typeof value === 'bigint') return `the bigint ${value}`;
  if (typeof value === 'boolean') return `${value}`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${(value as unknown as { length?: number }).length ?? value.byteLength}`;
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return typeof value;
}

/**
 * The one helper that builds argument errors: `invalid('INVALID_INPUT', 'numLayers', 'a positive integer', x)`
 * gives "numLayers: expected a positive integer, got the number -1."
 */
export function invalid(code: ErrorCode, what: string, expected: string, got: unknown, hint?: string): Wav2Vec2Error {
  return new Wav2Vec2Error(code, `${what}: expected ${expected}, got ${describe(got)}.${hint ? ' ' + hint : ''}`);
}

/**
 * The keys of an options interface, written once as `{ key: true, ... }`: the compiler checks the list against the
 * interface (a key missing or extra is a type error), so the runtime check below never drifts from the types.
 */
export function optionKeys<T>(keys: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(keys);
}

/**
 * Options objects reject keys they do not know: a misspelt or misplaced option (`{ decoder: { kind: 'beam' } }`) is
 * an error that names it, never a default silently used. `what` names the object in the message.
 */
export function checkOptionKeys(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Wav2Vec2Error('INVALID_INPUT', `${what}: unknown option ${JSON.stringify(key)}; expected one of ${known.join(', ')}.`);
    }
  }
}
