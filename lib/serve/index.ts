/** The HTTP server (Fastify) around a Recognizer. */
export { createServer } from './entry';
export { checkServerOptions } from './server';
export type { ServerOptions } from './server';
export type { HttpErrorCode } from './errors';
export type { ModelSet, ServedModel } from './models';
