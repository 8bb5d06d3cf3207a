/**
 * A WebSocket client for the stream tests and the bench: ws's client, typed for what they use (ws ships no types),
 * recording every message with its arrival time, the close code and reason, and an HTTP refusal of the upgrade.
 */
import { createRequire } from 'node:module';

interface RawSocket {
  readyState: number;
  send(data: string | Buffer, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  on(event: 'open', l: () => void): void;
  on(event: 'message', l: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', l: (code: number, reason: Buffer) => void): void;
  on(event: 'error', l: (err: Error) => void): void;
  on(event: 'unexpected-response', l: (req: unknown, res: { statusCode: number; on(e: 'data', l: (b: Buffer) => void): void; on(e: 'end', l: () => void): void }) => void): void;
}
type RawSocketClass = new (url: string, protocols?: string[], options?: { headers?: Record<string, string> }) => RawSocket;
const WS = (createRequire(__filename)('ws') as { WebSocket: RawSocketClass }).WebSocket;

/** A server message as the client saw it (`at`: performance.now() on arrival). */
export interface Received {
  at: number;
  m: { type: string; [k: string]: unknown };
}

export interface StreamClient {
  received: Received[];
  /** Resolves when the connection is open; rejects with the HTTP status of a refused upgrade (err.status). */
  opened: Promise<void>;
  /** The close code and reason (after a refused upgrade: code -1, reason the HTTP body). */
  closed: Promise<{ code: number; reason: string }>;
  send(data: string | Buffer | object): Promise<void>;
  close(): void;
}

export function connect(url: string, o: { headers?: Record<string, string>; protocols?: string[] } = {}): StreamClient {
  const ws = new WS(url, o.protocols ?? [], o.headers ? { headers: o.headers } : {});
  const received: Received[] = [];
  let resolveClosed!: (c: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => { resolveClosed = r; });
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (b) => { body += b.toString(); });
      res.on('end', () => {
        reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body }));
        resolveClosed({ code: -1, reason: body });
      });
    });
    ws.on('error', (err) => reject(err));
  });
  opened.catch(() => undefined);
  ws.on('message', (data, isBinary) => {
    if (!isBinary) received.push({ at: performance.now(), m: JSON.parse(data.toString()) as Received['m'] });
  });
  ws.on('close', (code, reason) => resolveClosed({ code, reason: reason.toString() }));
  return {
    received, opened, closed,
    send: (data) => new Promise<void>((resolve, reject) => {
      const payload = typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data);
      ws.send(payload, (err) => (err ? reject(err) : resolve()));
    }),
    close: () => ws.close(),
  };
}

/** Float samples as little-endian PCM16. */
export function pcm16(x: Float32Array): Buffer {
  const b = Buffer.alloc(x.length * 2);
  for (let i = 0; i < x.length; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x[i]! * 32767))), i * 2);
  return b;
}

/** Levenshtein distance between two word lists. */
export function wordEdits(a: readonly string[], b: readonly string[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}
