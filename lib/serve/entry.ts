/**
 * The library's createServer: Fastify, its multipart plugin and prom-client load on first use (about 100 ms),
 * so that importing the package for transcription alone does not pay for the server.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerOptions } from './server';

/** Builds the HTTP server around a Recognizer (see lib/serve/server.ts); not listening yet. */
export async function createServer(options?: ServerOptions): Promise<FastifyInstance> {
  // require(), not import(): the package is CommonJS, and import() would need the compiled file's extension.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const server = require('./server') as typeof import('./server');
  return server.buildServer(options);
}
