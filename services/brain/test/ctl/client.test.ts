import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrainClient, baseUrl, CtlError, EXIT, requestUrl } from '../../src/ctl/client.js';

/**
 * The client against a real HTTP server on loopback that answers each status the brain can
 * give, so the mapping to messages and exit codes is tested over real sockets.
 */

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  body: string;
}

let server: Server;
let url: string;
const seen: Seen[] = [];

function answer(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

function route(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body });
  const path = req.url!.split('?')[0]!;
  if (path.endsWith('/ok')) return answer(res, 200, JSON.stringify({ items: [1], nextCursor: null }));
  if (path.endsWith('/unauthorized')) return answer(res, 401, JSON.stringify({ statusCode: 401, error: 'Unauthorized', message: 'unknown token' }));
  if (path.endsWith('/forbidden')) return answer(res, 403, JSON.stringify({ statusCode: 403, error: 'Forbidden', message: 'admin only' }));
  if (path.endsWith('/bad')) return answer(res, 400, JSON.stringify({ statusCode: 400, error: 'Bad Request', message: 'body/value must be an IP address' }));
  if (path.endsWith('/missing')) return answer(res, 404, 'Not Found', 'text/plain');
  if (path.endsWith('/broken')) return answer(res, 500, JSON.stringify({ statusCode: 500, error: 'Internal Server Error', message: 'redis gone' }));
  if (path.endsWith('/not-json')) return answer(res, 200, '<html>proxy</html>', 'text/html');
  if (path.endsWith('/silent')) return; // never answers: the timeout must end the wait
  answer(res, 404, '{}');
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => route(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(run: Promise<unknown>): Promise<CtlError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CtlError);
  return error as CtlError;
}

describe('p2pwall CLI HTTP client (real loopback server)', () => {
  it('keeps a path prefix of the base URL and adds only defined query values', () => {
    expect(requestUrl(baseUrl('http://brain:8080'), '/v1/incidents', { since: '10m', site: undefined, limit: 5 }).href).toBe('http://brain:8080/v1/incidents?since=10m&limit=5');
    expect(requestUrl(baseUrl('https://proxy/p2pwall?x=1'), '/v1/sensors').href).toBe('https://proxy/p2pwall/v1/sensors');
    expect(() => baseUrl('brain:8080')).toThrow(/not an http\(s\) URL/);
    expect(() => baseUrl('not a url')).toThrow(/not a URL/);
  });

  it('sends the bearer token and a JSON body, and parses the answer', async () => {
    const client = new BrainClient({ url, token: 's3cret', timeoutMs: 2000 });
    await expect(client.get('/v1/ok', { since: '10m' })).resolves.toEqual({ items: [1], nextCursor: null });
    await client.post('/v1/ok', { scope: 'ip', value: '198.51.100.9' });
    const [get, post] = seen.slice(-2);
    expect(get).toMatchObject({ method: 'GET', url: '/v1/ok?since=10m', authorization: 'Bearer s3cret' });
    expect(post).toMatchObject({ method: 'POST', url: '/v1/ok', body: '{"scope":"ip","value":"198.51.100.9"}' });
    await client.raw('GET', '/health/ok', undefined, undefined, false);
    expect(seen.at(-1)!.authorization).toBeUndefined();
  });

  it('maps each status to its message and exit code', async () => {
    const withToken = new BrainClient({ url, token: 'wrong', timeoutMs: 2000 });
    const noToken = new BrainClient({ url, timeoutMs: 2000 });
    const cases: [BrainClient, string, RegExp, number][] = [
      [withToken, '/unauthorized', /^the brain rejected the token \(401\)$/, EXIT.auth],
      [noToken, '/unauthorized', /wants a token \(401\): set P2PWALL_TOKEN or pass --token/, EXIT.auth],
      [withToken, '/forbidden', /this token may only read; use an admin token/, EXIT.auth],
      [withToken, '/bad', /refused the request \(400\): body\/value must be an IP address$/, EXIT.rejected],
      [withToken, '/missing', /refused the request \(404\): Not Found$/, EXIT.rejected],
      [withToken, '/broken', /the brain failed \(500\): redis gone$/, EXIT.server],
      [withToken, '/not-json', /not JSON: <html>proxy<\/html>/, EXIT.server],
    ];
    for (const [client, path, message, code] of cases) {
      const error = await failure(client.get(path));
      expect(error.message, path).toMatch(message);
      expect(error.exitCode, path).toBe(code);
    }
  });

  it('says when the brain cannot be reached or does not answer in time', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await failure(new BrainClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000 }).get('/v1/ok'));
    expect(refused.message).toBe(`cannot reach the brain at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(refused.exitCode).toBe(EXIT.unreachable);

    const t0 = performance.now();
    const silent = await failure(new BrainClient({ url, timeoutMs: 300 }).get('/v1/silent'));
    expect(silent.message).toBe(`cannot reach the brain at ${url}: no answer within 300 ms`);
    expect(silent.exitCode).toBe(EXIT.unreachable);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
