/**
 * HTTP/1.1 over a plain TCP socket on loopback, for what fetch cannot do: send a body a byte at a time, send
 * headers a browser would (Host, Origin) or malformed ones, and see how and when the server closes the connection.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** 0 when the server closed the connection without answering. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** ms from connecting to the first byte of the answer (or to the close, without one). */
  answeredMs: number;
  /** ms from connecting to the server closing the connection. */
  closedMs: number;
}

export interface RawRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string | number>;
  /** Sent with the headers. */
  body?: Buffer;
  /** Sent after the headers, `bytesPerTick` bytes every `everyMs` ms. */
  trickle?: { bytes: Buffer; everyMs: number; bytesPerTick?: number };
}

/** The request text up to and including the blank line. */
export function head(r: RawRequest, port: number): string {
  const headers = { host: `127.0.0.1:${port}`, connection: 'close', ...r.headers };
  return `${r.method ?? 'POST'} ${r.path ?? '/v1/transcribe'} HTTP/1.1\r\n` + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
}

/** Sends raw bytes and collects whatever comes back until the server closes the connection. */
export function exchange(port: number, send: (socket: Socket) => () => void): Promise<RawResponse> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let answeredMs = -1;
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    let stop = () => {};
    socket.on('connect', () => (stop = send(socket)));
    socket.on('data', (d) => {
      if (answeredMs < 0) answeredMs = Date.now() - t0;
      chunks.push(d);
    });
    // Writes after the server closed fail (EPIPE, ECONNRESET): what matters is what came back.
    socket.on('error', () => {});
    socket.on('close', () => {
      stop();
      const closedMs = Date.now() - t0;
      resolve({ ...parse(Buffer.concat(chunks).toString('utf8')), answeredMs: answeredMs < 0 ? closedMs : answeredMs, closedMs });
    });
  });
}

/** One request on its own connection (Connection: close unless told otherwise). */
export function rawHttp(port: number, r: RawRequest): Promise<RawResponse> {
  return exchange(port, (socket) => {
    socket.write(head(r, port));
    if (r.body) socket.write(r.body);
    if (!r.trickle) return () => {};
    const { bytes, everyMs, bytesPerTick = 1 } = r.trickle;
    let sent = 0;
    const timer = setInterval(() => {
      if (sent >= bytes.length || socket.destroyed) return clearInterval(timer);
      socket.write(bytes.subarray(sent, sent + bytesPerTick));
      sent += bytesPerTick;
    }, everyMs);
    return () => clearInterval(timer);
  });
}

function parse(text: string): Pick<RawResponse, 'status' | 'headers' | 'body'> {
  const end = text.indexOf('\r\n\r\n');
  if (!text.startsWith('HTTP/1.1 ') || end < 0) return { status: 0, headers: {}, body: text };
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? NaN);
  const rest = text.slice(end + 4);
  return { status: Number(statusLine!.split(' ')[1]), headers, body: Number.isFinite(length) ? Buffer.from(rest).subarray(0, length).toString('utf8') : rest };
}

/** The coded error of an answer: asserts the documented shape `{ error: { code, message } }` and returns it. */
export function codedError(r: Pick<RawResponse, 'status' | 'headers' | 'body'>): { code: string; message: string } {
  if (!/^application\/json/.test(r.headers['content-type'] ?? '')) throw new Error(`not JSON: ${r.status} ${JSON.stringify(r.headers)} ${r.body}`);
  const json = JSON.parse(r.body) as { error?: { code?: unknown; message?: unknown } };
  const keys = Object.keys(json);
  const e = json.error;
  if (keys.length !== 1 || !e || typeof e.code !== 'string' || !/^[A-Z_]+$/.test(e.code) || typeof e.message !== 'string' || !e.message) {
    throw new Error(`not { error: { code, message } }: ${r.body}`);
  }
  return { code: e.code, message: e.message };
}
