// The probe and metrics endpoints of install: /healthz (ready), /livez (alive), /metrics (Prometheus text).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { redact } from '../util/secrets';

export interface Endpoints {
  /** undefined when ready, else why not. */
  notReady(): string | undefined;
  metrics(): Promise<string>;
  metricsContentType: string;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

function handle(ep: Endpoints, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
  switch (path) {
    case '/healthz': {
      const why = ep.notReady();
      return why === undefined ? send(res, 200, 'ok\n') : send(res, 503, redact(`not ready: ${why}\n`));
    }
    case '/livez':
      return send(res, 200, 'ok\n');
    case '/metrics':
      ep.metrics().then(
        (text) => send(res, 200, text, ep.metricsContentType),
        (e: unknown) => send(res, 500, redact(`metrics failed: ${(e as Error).message}\n`)),
      );
      return;
    default:
      return send(res, 404, 'not found: try /healthz, /livez or /metrics\n');
  }
}

/** Listens on host:port (port 0 picks one) and resolves with the server and the address it got. */
export function serve(ep: Endpoints, host: string, port: number): Promise<{ server: Server; host: string; port: number }> {
  const server = createServer((req, res) => handle(ep, req, res));
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({ server, host: a.address, port: a.port });
    });
  });
}

/** Stops accepting and drops idle keep-alive connections. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // A scrape still in flight gets a moment, then its connection is cut.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
