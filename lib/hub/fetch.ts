/**
 * HTTP to the hub with node:http(s): requests without automatic redirects (we decide which to follow and whether the
 * token goes along), an idle timeout on every socket, bounded JSON, and the hub's answers turned into coded errors.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Wav2Vec2Error, type ErrorCode } from '../errors';

export interface HttpContext {
  /** The endpoint's host: the token is sent to it only, never to a CDN a redirect points at. */
  hubHost: string;
  token?: string;
  /** Idle time, in ms, after which a connection that sends nothing is dropped. */
  timeoutMs: number;
}

/** What a failed request was about, for the message and the choice between "repo" and "file" not found. */
export interface Subject {
  repo: string;
  revision: string;
  file?: string;
}

const MAX_REDIRECTS = 10;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'HUB_TIMEOUT']);

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export { header };

/** One request; resolves with the response head (its body not yet read). */
export function send(method: 'GET' | 'HEAD', url: URL, ctx: HttpContext, extra: Record<string, string> = {}): Promise<IncomingMessage> {
  const headers: Record<string, string> = { 'User-Agent': 'wav2vec2-node', 'Accept-Encoding': 'identity', ...extra };
  if (ctx.token && url.host === ctx.hubHost) headers.Authorization = `Bearer ${ctx.token}`;
  const lib = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!lib) return Promise.reject(new Wav2Vec2Error('HUB_NETWORK', `${url.href}: only http and https URLs are supported (check HF_ENDPOINT or the redirect that led here).`));
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers });
    // An idle socket, before the answer or in the middle of a body, counts as a dead network.
    req.setTimeout(ctx.timeoutMs, () => req.destroy(Object.assign(new Error(`no data for ${ctx.timeoutMs} ms`), { code: 'HUB_TIMEOUT' })));
    req.on('response', (res) => {
      res.on('error', () => undefined); // the reader reports body errors; this keeps an unread body from throwing
      resolve(res);
    });
    req.on('error', (err) => reject(networkError(url, err)));
    req.end();
  });
}

export function networkError(url: URL, err: unknown): Wav2Vec2Error {
  if (err instanceof Wav2Vec2Error) return err;
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'HUB_TIMEOUT' ? e.message : `${e.code && NETWORK_CODES.has(e.code) ? e.code + ': ' : ''}${e.message}`;
  return new Wav2Vec2Error('HUB_NETWORK', `Cannot reach ${url.origin} (${why}). Check the connection, HF_ENDPOINT, or a proxy.`, { cause: err });
}

/**
 * Follows redirects to the same host (a renamed repo answers with a relative one), and stops at one to another
 * host when `crossHost` is 'stop' (a HEAD to an LFS file: its metadata is on the 302 itself, and the token must
 * not leave the hub), or follows it without the token when 'follow'.
 */
export async function request(method: 'GET' | 'HEAD', start: URL, ctx: HttpContext, subject: Subject,
  opts: { crossHost: 'stop' | 'follow'; headers?: Record<string, string> }): Promise<{ res: IncomingMessage; url: URL; location?: URL }> {
  let url = start;
  for (let i = 0; i <= MAX_REDIRECTS; i++) {
    const res = await send(method, url, ctx, opts.headers);
    const loc = header(res.headers, 'location');
    if (res.statusCode! >= 300 && res.statusCode! < 400 && loc) {
      res.resume();
      const target = new URL(loc, url);
      if (target.host !== url.host && opts.crossHost === 'stop') return { res, url, location: target };
      url = target;
      continue;
    }
    if (res.statusCode! >= 400) {
      const body = await readBody(res, 4096).catch(() => '');
      throw statusError(res, url, subject, ctx.token !== undefined && url.host === ctx.hubHost, body);
    }
    return { res, url };
  }
  throw new Wav2Vec2Error('HUB_NETWORK', `${start.href}: more than ${MAX_REDIRECTS} redirects. Check HF_ENDPOINT.`);
}

/** Reads a body of at most `max` bytes, as text. */
export function readBody(res: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        res.destroy();
        reject(new Wav2Vec2Error('HUB_NETWORK', `The answer from the hub is larger than ${max} bytes; it is not a hub answer we know.`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** GET a JSON document (the repo listing), at most `max` bytes. */
export async function getJson(url: URL, ctx: HttpContext, subject: Subject, max = 16 << 20): Promise<unknown> {
  const { res } = await request('GET', url, ctx, subject, { crossHost: 'follow' });
  const text = await readBody(res, max).catch((err) => {
    throw networkError(url, err);
  });
  try {
    return JSON.parse(text);
  } catch {
    throw new Wav2Vec2Error('HUB_NETWORK', `${url.href} did not answer JSON; is HF_ENDPOINT a Hugging Face hub or a mirror of one?`);
  }
}

function what(s: Subject): string {
  return s.file ? `${s.file} in ${s.repo}@${s.revision}` : `${s.repo}@${s.revision}`;
}

/**
 * The hub's error answers as coded errors. It names the case in `X-Error-Code` (RepoNotFound, RevisionNotFound,
 * EntryNotFound, GatedRepo); a private repo asked for without a token answers 401, so that is "not found or private".
 */
export function statusError(res: IncomingMessage, url: URL, s: Subject, sentToken: boolean, body: string): Wav2Vec2Error {
  const status = res.statusCode!;
  const code = header(res.headers, 'x-error-code');
  const message = (header(res.headers, 'x-error-message') ?? body.slice(0, 200)).replace(/\s+/g, ' ').trim();
  const said = message ? ` The hub said: ${message}` : '';
  const err = (c: ErrorCode, text: string) => new Wav2Vec2Error(c, `${text}${said}`, { detail: `${status} from ${url.href}` });
  if (code === 'GatedRepo') return err('HUB_AUTH_FAILED', `${s.repo} is gated: accept its conditions on the hub's page, then set HF_TOKEN to a token of that account.`);
  if (code === 'RevisionNotFound') return err('HUB_REPO_NOT_FOUND', `${s.repo} has no revision ${JSON.stringify(s.revision)}. Check the branch, tag or commit after '@'.`);
  if (code === 'EntryNotFound') return err('HUB_FILE_NOT_FOUND', `${what(s)} does not exist.`);
  if (status === 401 && !sentToken) return err('HUB_REPO_NOT_FOUND', `${s.repo} was not found, or is private: set HF_TOKEN to a token that can read it.`);
  if (status === 401 || status === 403) return err('HUB_AUTH_FAILED', `The hub refused the token for ${s.repo} (${status}). Check HF_TOKEN (or the token file) and its access to the repo.`);
  if (code === 'RepoNotFound' || (status === 404 && !s.file)) return err('HUB_REPO_NOT_FOUND', `${s.repo} was not found on ${url.origin}. Check the id${sentToken ? '' : ', or set HF_TOKEN if it is private'}.`);
  if (status === 404) return err('HUB_FILE_NOT_FOUND', `${what(s)} does not exist.`);
  return err('HUB_NETWORK', `${url.origin} answered ${status} for ${what(s)}; try again later.`);
}
