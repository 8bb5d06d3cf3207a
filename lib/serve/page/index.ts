/**
 * The browser page behind `serve --page` (ServerOptions.page): records the microphone, streams it to /v1/stream as
 * float32 at the AudioContext's rate, and shows the live transcript (finals in black, the open segment's stable words
 * in dark grey, its tentative words in light grey). Kept as a string in a module, not a file beside it, so the
 * compiled package carries it without a copy step. No API key in the page: it is typed in and sent as a subprotocol.
 */
import type { FastifyInstance } from 'fastify';
import { PAGE_HTML } from './html';

export function registerPage(app: FastifyInstance): void {
  app.get('/', async (_req, reply) => {
    reply.type('text/html; charset=utf-8')
      // The page runs only its own inline script and talks only to this server.
      .header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
      .header('x-content-type-options', 'nosniff');
    return PAGE_HTML;
  });
}
