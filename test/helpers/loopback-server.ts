/**
 * A server on a loopback port for the socket-level serve suites: the `ta_tiny_lv60k` fixture model loaded once per
 * suite, a fresh server per `listen()`, closed after each test.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Model } from '../../lib/model/model';
import { createServer, type ServerOptions } from '../../lib/serve';
import { loadFixture } from '../recognizer/models';
import { requireAddon } from './native';

export type ListenOptions = Omit<ServerOptions, 'recognizer'> & { recognizer?: Record<string, unknown> };

export interface LoopbackServer {
  /** The suite's model (loaded in before()). */
  model(): Model;
  /** Starts a server with these options (and the suite's model) on 127.0.0.1; resolves to its port. */
  listen(o?: ListenOptions): Promise<number>;
  /** Closes the running server now (the next listen() starts another). */
  close(): Promise<void>;
}

/** Call in a describe() body: registers the hooks and returns the suite's server handle. */
export function loopbackServer(): LoopbackServer {
  let model: Model | undefined;
  let app: FastifyInstance | undefined;
  before(async function () {
    requireAddon(this);
    model = await loadFixture('ta_tiny_lv60k');
  });
  const close = async () => {
    await app?.close();
    app = undefined;
  };
  afterEach(close);
  after(() => model?.dispose());
  return {
    model: () => model!,
    close,
    async listen(o: ListenOptions = {}) {
      app = await createServer({ ...o, recognizer: { model, maxWaitMs: 5, ...o.recognizer } });
      await app.listen({ host: '127.0.0.1', port: 0 });
      return (app.server.address() as AddressInfo).port;
    },
  };
}
