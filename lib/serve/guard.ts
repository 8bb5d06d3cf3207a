/**
 * Who may call the server: the Host header (DNS rebinding), the Origin header (web pages, CORS) and an optional
 * bearer token. One app-wide onRequest hook, run before every route's own hooks and before any body is read.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Wav2Vec2Error } from '../errors';

export interface GuardOptions {
  /** Bearer token every route but /health and /ready requires; null: none. */
  apiKey: string | null;
  /** Host names (no port) the Host header may carry, '*' for any; null: the loopback default (see hostAllowList). */
  allowedHosts: string[] | null;
  /** Origins (scheme://host[:port]) whose pages may call the server, '*' for any; empty: none (no CORS). */
  cors: string[];
  /** The browser page is served at /: its own origin (the Host it was loaded from) may call the server. */
  page: boolean;
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'];

/** Answers a browser may read besides the body (CORS hides other headers from scripts). */
const EXPOSED_HEADERS = 'retry-after, x-shape, x-duration, x-model';

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

/**
 * The Host names a request may carry. Without --allowed-hosts, a request that came in on a loopback address must
 * name localhost, 127.0.0.1 or [::1]: a page on evil.example whose DNS name is rebound to 127.0.0.1 reaches a local
 * server with `Host: evil.example`, and that is refused. Requests on other addresses are not checked by default
 * (the server was bound there on purpose; put a Host check in the reverse proxy or use --allowed-hosts).
 */
function hostAllowList(req: FastifyRequest, o: GuardOptions): string[] | null {
  if (o.allowedHosts) return o.allowedHosts.includes('*') ? null : o.allowedHosts;
  return isLoopback(req.socket?.localAddress) ? LOOPBACK_HOSTS : null;
}

/** The host name of a Host header, lowercase, without port or IPv6 brackets. */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

function checkHost(req: FastifyRequest, o: GuardOptions): void {
  const allowed = hostAllowList(req, o);
  if (!allowed) return;
  const header = req.headers.host ?? '';
  if (!allowed.includes(hostName(header))) {
    throw new Wav2Vec2Error('HOST_NOT_ALLOWED',
      `Host: expected one of ${allowed.join(', ')}, got ${JSON.stringify(header)}. Call the server by one of those names, ` +
      'or start it with --allowed-hosts NAME,... (the names a reverse proxy or your clients use).');
  }
}

/**
 * Browsers send Origin with every cross-origin request and with every POST. No page is served from here, so an
 * Origin is always a foreign page: refused unless listed in --cors, even for the form-data POST a page may send
 * without a CORS preflight. Clients that are not browsers send no Origin and are not concerned.
 * Returns true when the request was a preflight, answered here.
 */
function checkOrigin(req: FastifyRequest, reply: FastifyReply, o: GuardOptions): boolean {
  // With CORS on, answers differ by Origin: caches between here and the browser must know it.
  if (o.cors.length > 0) reply.header('vary', 'Origin');
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  // Our own page: same origin, no CORS needed (the Host header was checked just before).
  if (o.page && sameOrigin(origin, req.headers.host)) return false;
  if (!o.cors.includes('*') && !o.cors.includes(origin.toLowerCase())) {
    throw new Wav2Vec2Error('ORIGIN_NOT_ALLOWED',
      `Origin: ${JSON.stringify(origin)} is not allowed to call this server${o.cors.length ? ` (allowed: ${o.cors.join(', ')})` : ' (CORS is off)'}. ` +
      'To let a web page call it, start the server with --cors ORIGIN,...');
  }
  reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', EXPOSED_HEADERS);
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
  reply.code(204)
    .header('access-control-allow-methods', 'GET, POST')
    .header('access-control-allow-headers', 'authorization, content-type')
    .header('access-control-max-age', '600')
    .send();
  return true;
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  const o = origin.toLowerCase();
  const h = host.toLowerCase();
  return o === `http://${h}` || o === `https://${h}`;
}

/**
 * The key of a WebSocket upgrade that carries no Authorization header: browsers cannot set headers on a WebSocket,
 * so the page sends it as a subprotocol `bearer.KEY` beside `wav2vec2-stream` (the server answers with the latter
 * only; the way Kubernetes takes tokens from browsers).
 */
function protocolKey(req: FastifyRequest): string | null {
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return null;
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
  const bearer = offered.find((p) => p.startsWith('bearer.'));
  return bearer ? bearer.slice('bearer.'.length) : null;
}

/** Constant-time: hashing first makes both sides 32 bytes, so neither the length nor a prefix of the key leaks. */
function sameKey(given: string, key: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(key));
}

function checkApiKey(req: FastifyRequest, reply: FastifyReply, key: string): void {
  // /health and /ready stay open, for load balancers and orchestrators; the page too (it holds no secret: the key is typed in).
  if (req.routeOptions.url === '/health' || req.routeOptions.url === '/ready' || (req.routeOptions.url === '/' && req.method === 'GET')) return;
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  if (m && sameKey(m[1]!, key)) return;
  const fromProtocol = req.headers.authorization === undefined ? protocolKey(req) : null;
  if (fromProtocol !== null && sameKey(fromProtocol, key)) return;
  reply.header('www-authenticate', 'Bearer');
  throw new Wav2Vec2Error('UNAUTHORIZED',
    `${req.headers.authorization ? 'Authorization: the API key is wrong' : 'Authorization: missing'}: send "Authorization: Bearer <key>" (the server's --api-key or WAV2VEC2_API_KEY).`);
}

export function registerGuard(app: FastifyInstance, o: GuardOptions): void {
  app.addHook('onRequest', async (req, reply) => {
    checkHost(req, o);
    if (checkOrigin(req, reply, o)) return reply;
    if (o.apiKey !== null) checkApiKey(req, reply, o.apiKey);
    return undefined;
  });
}
