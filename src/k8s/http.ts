// The API transport: one keep-alive agent per invocation, a deadline, retries with backoff, Status errors.
import type { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { CniError, Code } from '../cni/errors';
import type { Credentials } from './credentials';
import type { ApiAgent } from './agent';
import { certificateRejection } from './tls-errors';
import { span } from '../util/phases';

export interface ApiCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** Kubernetes verb and resource, for error messages: "patch pods". */
  verb: string;
  resource: string;
  body?: unknown;
  contentType?: string;
  /** The Accept header; application/json without. */
  accept?: string;
}

export interface TransportOptions {
  /**
   * A refused connection (nothing listens at the server's address) ends the request at once with code 11
   * instead of being retried until the deadline: for DEL, which defers its MAC releases to the journal
   * rather than waiting for an API server that is down.
   */
  refusedIsDown?: boolean;
}

export interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
}

/** The largest API response macmux reads: a pod or ConfigMap is at most ~1.5 MiB (etcd's limit); a list of NADs far less. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

const RETRYABLE_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED', 'ESOCKETTIMEDOUT']);

/** Failures no retry can fix: the TLS setup or the request itself is wrong, so the kubeconfig needs fixing. */
function isConfigError(e: NodeJS.ErrnoException): boolean {
  const code = e.code ?? '';
  return /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|ERR_INVALID_CHAR|ERR_INVALID_HTTP_TOKEN|ERR_INVALID_URL)/.test(code) || /CERT|SELF_SIGNED|LEAF_SIGNATURE|ISSUER|UNABLE_TO_GET/.test(code);
}

export class ApiTransport {
  private readonly agent: ApiAgent | HttpAgent;
  private readonly request: typeof httpRequest;
  private readonly url: URL;

  /** Epoch ms after which no request is started or retried. */
  private deadline: number;

  constructor(
    private readonly creds: Credentials,
    /** How long one phase of API work (with its retries) may take. */
    private readonly budgetMs: number,
    private readonly debug: (msg: string) => void = () => {},
    firstDeadline = Date.now() + budgetMs,
    private readonly opts: TransportOptions = {},
  ) {
    this.deadline = firstDeadline;
    this.url = new URL(creds.server);
    // node:http, node:https, node:tls and the agent (with trust.ts) are loaded here, at the first use of the API, not
    // with the verbs' chunk (about 1.5 ms): a DEL loads them while its delegates run (openEarly), not before.
    if (this.url.protocol === 'http:') {
      const http = require('node:http') as typeof import('node:http');
      this.agent = new http.Agent({ keepAlive: true });
      this.request = http.request;
    } else {
      this.agent = (require('./agent') as typeof import('./agent')).httpsAgent(creds, this.url.hostname.replace(/^\[|\]$/g, ''), debug);
      this.request = (require('node:https') as typeof import('node:https')).request;
    }
  }

  /**
   * Sends `call`, retrying 429, 5xx and refused or reset connections with backoff until the deadline.
   * 401 and 403 throw code 102 naming the verb and resource; a rejected server certificate throws
   * code 7 at once; unreachable throws code 11.
   * Every other status (404, 409, ...) is returned for the caller to judge.
   */
  async send(call: ApiCall): Promise<ApiResponse> {
    let lastWhy = 'no attempt made';
    for (let attempt = 0; ; attempt++) {
      const remaining = this.deadline - Date.now();
      if (remaining <= 0) break;
      let res: ApiResponse & { retryAfter?: number };
      const t0 = Date.now();
      try {
        res = await this.once(call, remaining);
        this.debug(`${call.method} ${call.path.replace(/\?.*/, '')}: HTTP ${res.status} in ${Date.now() - t0} ms`);
      } catch (e) {
        if (e instanceof CniError) throw e;
        const code = (e as NodeJS.ErrnoException).code ?? '';
        const rejected = certificateRejection(e);
        if (rejected !== undefined) {
          throw new CniError(Code.InvalidConfig, `Kubernetes API at ${this.creds.server}: ${call.verb} ${call.resource}: the server's certificate was rejected (${rejected}); check the kubeconfig's server, certificate-authority and tls-server-name`);
        }
        if (isConfigError(e as NodeJS.ErrnoException)) {
          throw new CniError(Code.InvalidConfig, `Kubernetes API at ${this.creds.server}: ${call.verb} ${call.resource}: ${code}: ${(e as Error).message}; check the kubeconfig (CA, certificates, token)`);
        }
        lastWhy = code || (e as Error).message;
        if (!RETRYABLE_NET.has(code) && !/socket hang up|timed out/i.test((e as Error).message)) break;
        if (code === 'ECONNREFUSED' && this.opts.refusedIsDown) {
          this.debug(`${call.verb} ${call.resource}: ${lastWhy}; the API server is down, not retrying`);
          break;
        }
        this.debug(`${call.verb} ${call.resource}: ${lastWhy}, retrying`);
        await this.backoff(attempt);
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        lastWhy = `HTTP ${res.status}${statusMessage(res.body) ? `: ${statusMessage(res.body)}` : ''}`;
        this.debug(`${call.verb} ${call.resource}: ${lastWhy}, retrying`);
        await this.backoff(attempt, res.retryAfter);
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        throw new CniError(
          Code.ApiRefused,
          `Kubernetes API refused to ${call.verb} ${call.resource} (HTTP ${res.status}${res.status === 401 ? ' Unauthorized: check the kubeconfig token' : ' Forbidden: check macmux RBAC'})`,
          statusMessage(res.body),
        );
      }
      return res;
    }
    throw new CniError(Code.TryAgainLater, `Kubernetes API at ${this.creds.server} unreachable: ${call.verb} ${call.resource}: ${lastWhy}`);
  }

  /** Starts a new phase of API work ending at `deadline`, a whole budget from now by default: delegate time between phases is not the API's. */
  renew(deadline = Date.now() + this.budgetMs): void {
    this.deadline = deadline;
  }

  /**
   * Opens the connection the first request will take now, ahead of it (HTTPS only): its TCP and TLS
   * handshakes, and the trust decision, happen while the caller does other work. A request that takes
   * it while it is being made gets its failure (then judged, and retried, as any); one failed before is
   * kept by no one, and the next request or preconnect opens anew. With refusedIsDown, resolves to why
   * the API is down when the server refused that connection (as the first request would find at once).
   */
  async preconnect(): Promise<string | undefined> {
    if (!('preconnect' in this.agent)) return undefined;
    const failed = await this.agent.preconnect(this.url.hostname.replace(/^\[|\]$/g, ''), Number(this.url.port) || 443);
    if (!this.opts.refusedIsDown || (failed as NodeJS.ErrnoException | undefined)?.code !== 'ECONNREFUSED') return undefined;
    this.debug('connecting: ECONNREFUSED; the API server is down, not retrying');
    return `Kubernetes API at ${this.creds.server} unreachable: ECONNREFUSED`;
  }

  close(): void {
    this.agent.destroy();
  }

  private async backoff(attempt: number, retryAfterSec?: number): Promise<void> {
    const base = retryAfterSec !== undefined ? retryAfterSec * 1000 : Math.min(1000, 50 * 2 ** attempt);
    const wait = Math.min(base * (0.75 + Math.random() / 2), Math.max(0, this.deadline - Date.now()));
    await new Promise((r) => setTimeout(r, wait));
  }

  private once(call: ApiCall, timeoutMs: number): Promise<ApiResponse & { retryAfter?: number }> {
    const body = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
    const headers: Record<string, string> = { ...this.creds.headers, Accept: call.accept ?? 'application/json', 'User-Agent': 'macmux' };
    if (this.creds.authorization) headers.Authorization = this.creds.authorization;
    if (body) {
      headers['Content-Type'] = call.contentType ?? 'application/json';
      headers['Content-Length'] = String(body.length);
    }
    const request = this.request;
    // The phase: method and resource kind (never a name), then the status and the response's bytes, or `err`.
    const phase = span(`api:${call.method}:${call.resource.split(' ')[0]}`);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
          port: this.url.port || undefined,
          path: this.url.pathname.replace(/\/$/, '') + call.path,
          method: call.method,
          headers,
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            if (bytes <= MAX_RESPONSE_BYTES) return void chunks.push(c);
            // Not retried: the same object would come back as large.
            clearTimeout(timer);
            chunks.length = 0;
            req.destroy();
            reject(new CniError(Code.IO, `Kubernetes API at ${this.creds.server}: ${call.verb} ${call.resource}: the response is larger than ${MAX_RESPONSE_BYTES} bytes (16 MiB), the most macmux reads; not read`));
          });
          res.on('error', reject);
          res.on('end', () => {
            clearTimeout(timer);
            phase(`${res.statusCode ?? 0}:${bytes}`);
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              parsed = { message: text.slice(0, 300) };
            }
            const ra = Number(res.headers['retry-after']);
            resolve({ status: res.statusCode ?? 0, body: parsed, ...(Number.isFinite(ra) ? { retryAfter: Math.min(ra, 5) } : {}) });
          });
        },
      );
      const timer = setTimeout(() => {
        const err = Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' });
        req.destroy(err);
        // A request still waiting for its connection (a TLS handshake that never ends) emits no error when destroyed.
        phase('timeout');
        reject(err);
      }, timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        phase('err');
        reject(e);
      });
      req.end(body);
    });
  }
}

/** The `message` of a Kubernetes Status body, if any. */
export function statusMessage(body: Record<string, unknown>): string {
  return typeof body.message === 'string' ? body.message : '';
}
