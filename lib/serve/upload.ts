/**
 * Slow uploads. A client that trickles its body (a byte a second) would otherwise hold its connection and its
 * memory for as long as it likes: each upload is watched from the request's arrival until its body is read, and
 * cut with 408 once it falls behind a minimum rate or runs past the request timeout.
 */
import { Wav2Vec2Error } from '../errors';

export interface UploadLimits {
  /** Bytes a second an upload must average after the grace period (0: no minimum rate). */
  minBytesPerSec: number;
  /** Time an upload gets before the rate counts (slow start, a client's first round trips). */
  graceMs: number;
  /** The request timeout: no upload lasts longer. */
  timeoutMs: number;
}

/** Bytes of this request received so far (headers included); undefined where there is no real socket (app.inject). */
type Counter = () => number | undefined;

/**
 * Calls `cut` with a coded error (UPLOAD_TOO_SLOW or REQUEST_TIMEOUT) when the upload has taken longer than the
 * grace period plus one second per `minBytesPerSec` bytes received (Apache mod_reqtimeout's MinRate rule: a burst
 * buys time, a stall spends it), or longer than the request timeout. Returns the function that stops watching.
 */
export function watchUpload(received: Counter, limits: UploadLimits, cut: (err: Wav2Vec2Error) => void): () => void {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const elapsed = Date.now() - start;
    const bytes = received();
    if (elapsed >= limits.timeoutMs) {
      return cut(new Wav2Vec2Error('REQUEST_TIMEOUT',
        `The upload did not finish within the server's ${limits.timeoutMs} ms request timeout (${bytes ?? 'some'} bytes received): ` +
        'the connection is closed. Send the audio faster, or a shorter file.'));
    }
    const allowed = bytes === undefined || limits.minBytesPerSec === 0 ? Infinity : limits.graceMs + (bytes * 1000) / limits.minBytesPerSec;
    if (elapsed >= allowed) {
      return cut(new Wav2Vec2Error('UPLOAD_TOO_SLOW',
        `The upload came slower than the server's minimum of ${limits.minBytesPerSec} bytes/s after a ${limits.graceMs} ms grace ` +
        `(${bytes} bytes in ${elapsed} ms): the connection is closed. Send the whole file at once.`));
    }
    timer = setTimeout(check, Math.max(1, Math.min(allowed, limits.timeoutMs) - elapsed));
  };
  timer = setTimeout(check, Math.min(limits.graceMs, limits.timeoutMs));
  return () => clearTimeout(timer);
}
