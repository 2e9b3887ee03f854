import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The web console's built files (console/dist), read into memory once at start: a few hundred KB,
 * and no request can then name a path outside them. Served under `/` with a strict
 * Content-Security-Policy: only the brain's own scripts, styles and API; no inline script, no
 * third-party request, no framing.
 */

export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};
/** A built console is small; more than this is not a console build. */
const MAX_FILES = 200;
const MAX_TOTAL_BYTES = 16 * 1024 * 1024;

export interface ConsoleFile {
  body: Buffer;
  type: string;
  /** Vite names assets by their hash: they never change under the same name. */
  immutable: boolean;
}

/**
 * Where the console is built beside the brain: console/dist at the root of the repository (and of
 * the brain's image), from services/brain/dist/console/ where this module runs.
 */
export function defaultConsoleDir(): string {
  return fileURLToPath(new URL('../../../../console/dist', import.meta.url));
}

/** Reads every file of `dir` (URL path → file); an empty map when there is no build there. */
export function loadConsoleFiles(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  let total = 0;
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile() && TYPES[extname(name)] !== undefined) {
        total += stat.size;
        if (files.size >= MAX_FILES || total > MAX_TOTAL_BYTES) throw new Error(`${dir} holds more than a console build (${MAX_FILES} files, ${MAX_TOTAL_BYTES} bytes)`);
        const url = `/${relative(dir, path).split(sep).join('/')}`;
        files.set(url, { body: readFileSync(path), type: TYPES[extname(name)]!, immutable: url.startsWith('/assets/') });
      }
    }
  };
  try {
    if (!statSync(dir).isDirectory()) return files;
  } catch {
    return files;
  }
  walk(dir);
  return files;
}

function send(reply: FastifyReply, file: ConsoleFile): FastifyReply {
  return reply
    .header('content-type', file.type)
    .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .send(file.body);
}

/** GET / (index.html) and GET /<file> of the build; pages are routed in the browser (#/...), so no other path is the console's. */
export function consoleFileRoutes(app: FastifyInstance, files: Map<string, ConsoleFile>, dir = ''): void {
  const index = files.get('/index.html');
  if (!index) {
    app.log.warn({ dir }, 'web console not served: no build (index.html) there (npm run build; api.console.dir)');
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'the web console is not built here (npm run build builds console/dist; api.console.dir names another folder)' }));
    return;
  }
  app.get('/', { schema: { hide: true } }, async (_request, reply) => send(reply, index));
  for (const [url, file] of files) app.get(url, { schema: { hide: true } }, async (_request, reply) => send(reply, file));
}
