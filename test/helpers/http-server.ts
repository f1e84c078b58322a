/**
 * A tiny in-process HTTP server on 127.0.0.1 (random port) for download tests: serves fixed
 * bodies, and can misbehave on purpose (drop the connection half-way, answer an error status).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Route {
  body: Buffer;
  /** 'drop-half': announce the full length, send half, destroy the socket. */
  behaviour?: 'ok' | 'drop-half' | 'not-found';
}

export interface TestServer {
  /** e.g. http://127.0.0.1:43121/ */
  url: string;
  /** Requests served per path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startServer(routes: Record<string, Route>): Promise<TestServer> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(p, (hits.get(p) ?? 0) + 1);
    const route = routes[p];
    if (!route || route.behaviour === 'not-found') {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': route.body.length, 'content-type': 'application/octet-stream' });
    if (route.behaviour === 'drop-half') {
      res.write(route.body.subarray(0, Math.floor(route.body.length / 2)), () => {
        res.socket?.destroy();
      });
      return;
    }
    res.end(route.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    hits,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
