/**
 * Headless Chromium (Debian's /usr/bin/chromium) driven over the DevTools protocol, for the browser page's test: no
 * Puppeteer among our dependencies, and the protocol's three calls we need (navigate, evaluate) fit in a page.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export function hasChromium(): boolean {
  return existsSync(CHROMIUM);
}

interface Cdp {
  send(method: string, params?: object): Promise<Record<string, unknown>>;
  close(): void;
}

type Socket = { on(e: string, l: (...a: never[]) => void): void; send(s: string): void; close(): void };
const WS = (createRequire(__filename)('ws') as { WebSocket: new (url: string) => Socket }).WebSocket;

function cdp(url: string): Promise<Cdp> {
  const ws = new WS(url);
  let id = 0;
  const pending = new Map<number, { resolve(v: Record<string, unknown>): void; reject(e: Error): void }>();
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
    const p = m.id !== undefined ? pending.get(m.id) : undefined;
    if (!p) return;
    pending.delete(m.id!);
    if (m.error) p.reject(new Error(m.error.message));
    else p.resolve(m.result ?? {});
  });
  return new Promise((resolve, reject) => {
    ws.on('error', (e: Error) => reject(e));
    ws.on('open', () => resolve({
      send: (method, params = {}) => new Promise((res, rej) => {
        const n = ++id;
        pending.set(n, { resolve: res, reject: rej });
        ws.send(JSON.stringify({ id: n, method, params }));
      }),
      close: () => ws.close(),
    }));
  });
}

export interface Browser {
  /** Evaluates an expression in the page (as from a user gesture) and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  close(): Promise<void>;
}

/** Starts Chromium on `url` with `wav` as the microphone (played once) and microphone access granted. */
export async function openPage(url: string, wav: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'w2v-chromium-'));
  const child: ChildProcess = spawn(CHROMIUM, [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--mute-audio', `--user-data-dir=${profile}`,
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}%noloop`,
    '--autoplay-policy=no-user-gesture-required', '--remote-debugging-port=0', 'about:blank',
  // Its own process group: Chromium's helper processes go with it on close.
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err.slice(-500)}`)), 30000);
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    child.on('exit', (code) => reject(new Error(`chromium exited (${code}): ${err.slice(-500)}`)));
  });
  const port = new URL(endpoint).port;
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as Array<{ type: string; webSocketDebuggerUrl: string }>;
  const page = await cdp(targets.find((t) => t.type === 'page')!.webSocketDebuggerUrl);
  await page.send('Page.enable');
  await page.send('Page.navigate', { url });
  const browser: Browser = {
    async evaluate<T>(expression: string) {
      const r = await page.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true, userGesture: true }) as { result: { value: T }; exceptionDetails?: unknown };
      if (r.exceptionDetails) throw new Error(`page: ${JSON.stringify(r.exceptionDetails)}`);
      return r.result.value;
    },
    async close() {
      page.close();
      const exited = new Promise((r) => child.once('exit', r));
      const group = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          // already gone
        }
      };
      group('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      group('SIGKILL');
      // The helpers may still be flushing the profile for a moment.
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
  return browser;
}
