// Test API server: a real HTTPS Kubernetes API on 127.0.0.1 with bearer auth, a deny list, fault injection and a request log.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlsMaterial } from './tls';
import { writeKubeconfig } from './kubeconfig';
import { fieldSelector, labelSelector } from './selectors';
import { type DeleteOptions, type KubeObject, type Resource, RESOURCES, Store, resourceFor } from './store';
import { ApiError, badRequest, forbidden, injected, invalid, methodNotAllowed, notFound, pathNotFound, unauthorized, unsupportedMediaType } from './status';

/** Kubernetes verbs, as in RBAC rules and audit logs. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** What the router made of a request. */
export interface RequestInfo {
  method: string;
  /** URL path without the query */
  path: string;
  query: Record<string, string>;
  /** '' when the path is not a served resource */
  verb: Verb | '';
  /** plural resource name, '' when the path is not a served resource */
  resource: string;
  namespace?: string;
  name?: string;
}

export interface LoggedRequest extends RequestInfo {
  /** Content-Type header, if any */
  contentType?: string;
  /** Accept header, if any */
  accept?: string;
  /** the request body parsed as JSON; undefined when empty or not JSON */
  body: unknown;
  /** status answered; 0 while pending or when a fault dropped the connection */
  status: number;
  /** bytes of the response body sent; absent while pending, or when a fault dropped or replaced the answer */
  bytes?: number;
  /** the bearer token sent, if any */
  auth?: string;
}

export interface FaultSpec {
  /** a regexp tested on the path, or a predicate on the request */
  match: RegExp | ((r: RequestInfo) => boolean);
  /** only this HTTP method (any case) */
  method?: string;
  /** how many requests it hits; unlimited without */
  times?: number;
  /** wait this many ms first; alone, the request is then served normally */
  delay?: number;
  /** answer this status with a Status body (429 carries Retry-After) */
  status?: number;
  /** the Status message for `status` */
  message?: string;
  /** Retry-After seconds for 429 (default 1) */
  retryAfter?: number;
  /** destroy the connection without answering */
  drop?: boolean;
  /** serve the request (a write is applied), then destroy the connection instead of answering: the answer is lost */
  dropAnswer?: boolean;
  /** answer 200 with a JSON object of about this many bytes (a huge object), streamed in 1 MiB pieces */
  hugeBody?: number;
}

export interface FaultHandle {
  /** requests hit so far */
  readonly hits: number;
  cancel(): void;
}

export interface StartOptions {
  /** where the CA, token file and kubeconfigs go; a temp dir (removed by stop()) without it */
  dir?: string;
  /** the accepted bearer token; random without it */
  token?: string;
  /** the user named in 403 messages */
  user?: string;
  /** namespaces that exist from the start (default: default, kube-system) */
  namespaces?: string[];
}

interface Fault extends FaultSpec {
  hits: number;
}

interface DenyRule {
  verb: string;
  resource: string;
  namespace?: string;
}

interface Route {
  r: Resource;
  namespace?: string;
  name?: string;
}

const MAX_BODY = 3 * 1024 * 1024;

/** Where clients ask whether they may do something (answered from the deny list, never stored). */
const ACCESS_REVIEWS = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';
/** The version the test server claims at GET /version. */
export const SERVER_VERSION = { major: '1', minor: '31', gitVersion: 'v1.31.0-macmux-test', platform: 'linux/amd64' };

/** Maps an API path to a served resource, or undefined. */
function route(path: string): Route | undefined {
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (seg[0] === 'api' && seg[1] === 'v1') [group, rest] = ['', seg.slice(2)];
  else if (seg[0] === 'apis' && seg.length >= 3) [group, rest] = [seg[1], seg.slice(3)];
  else return undefined;
  const byPlural = (p: string | undefined): Resource | undefined =>
    RESOURCES.find((r) => r.plural === p && r.group === group && r.apiVersion === (group ? `${group}/${seg[2]}` : 'v1'));
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const r = byPlural(rest[2]);
    if (!r?.namespaced || rest.length > 4) return undefined;
    return { r, namespace: rest[1], name: rest[3] };
  }
  const r = byPlural(rest[0]);
  if (!r || rest.length > 2 || (r.namespaced && rest.length === 2)) return undefined;
  return { r, name: rest[1] };
}

function verbOf(method: string, name: string | undefined, query: Record<string, string>): Verb | '' {
  switch (method) {
    case 'GET':
      return name !== undefined ? 'get' : query.watch === 'true' || query.watch === '1' ? 'watch' : 'list';
    case 'POST':
      return name === undefined ? 'create' : '';
    case 'PUT':
      return name !== undefined ? 'update' : '';
    case 'PATCH':
      return name !== undefined ? 'patch' : '';
    case 'DELETE':
      return name !== undefined ? 'delete' : 'deletecollection';
    default:
      return '';
  }
}

const mediaType = (ct: string | undefined): string => (ct ?? '').split(';')[0].trim().toLowerCase();

export class ApiServer {
  /** every request, in arrival order (cleared by clearRequests(), same array kept) */
  readonly requests: LoggedRequest[] = [];
  /** e.g. https://127.0.0.1:43121 */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly caFile: string;
  /** the file the tokenFile kubeconfig points to */
  readonly tokenFile: string;
  /** kubeconfig with the token inline (`user.token`), written at start */
  readonly kubeconfig: string;
  /** kubeconfig whose user has `tokenFile: <tokenFile>` */
  readonly kubeconfigTokenFile: string;
  /** the user named in 403 messages */
  readonly user: string;
  /** when each TCP connection was accepted (epoch ms), in order: connections a client opened, requests or not */
  readonly connections: number[] = [];

  private currentToken: string;
  private readonly store = new Store();
  private readonly faults: Fault[] = [];
  private denied: DenyRule[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  /** Use startApiServer(). */
  constructor(
    private readonly server: Server,
    private readonly ownDir: boolean,
    dir: string,
    caFile: string,
    token: string,
    user: string,
  ) {
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('test API server is not listening');
    this.port = addr.port;
    this.url = `https://127.0.0.1:${this.port}`;
    this.dir = dir;
    this.caFile = caFile;
    this.user = user;
    this.currentToken = token;
    this.tokenFile = join(dir, 'token');
    this.writeTokenFile();
    this.kubeconfig = this.writeKubeconfig(join(dir, 'kubeconfig'));
    this.kubeconfigTokenFile = this.writeKubeconfig(join(dir, 'kubeconfig-tokenfile'), { tokenFile: this.tokenFile });
    server.on('connection', (s: Socket) => {
      this.connections.push(Date.now());
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.receive(req, res));
  }

  /** The bearer token accepted now. */
  get token(): string {
    return this.currentToken;
  }

  /** The latest resourceVersion (rises on every change). */
  get resourceVersion(): string {
    return this.store.resourceVersion;
  }

  /** Accepts only `token` from now on; with writeFile, also rewrites the token file. */
  setToken(token: string, opts: { writeFile?: boolean } = {}): void {
    this.currentToken = token;
    if (opts.writeFile) this.writeTokenFile();
  }

  /** Atomically rewrites the token file (no trailing newline) with `token`, by default the accepted one. */
  writeTokenFile(token: string = this.currentToken): void {
    const tmp = `${this.tokenFile}.tmp`;
    writeFileSync(tmp, token, { mode: 0o600 });
    renameSync(tmp, this.tokenFile);
  }

  /** Writes another kubeconfig for this server (default: current token inline), e.g. for a plugin run as a separate process. */
  writeKubeconfig(path: string, opts: { token?: string; tokenFile?: string; namespace?: string } = {}): string {
    const auth = opts.tokenFile !== undefined ? { tokenFile: opts.tokenFile } : { token: opts.token ?? this.currentToken };
    return writeKubeconfig(path, { server: this.url, caFile: this.caFile, namespace: opts.namespace, ...auth });
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Closes every open connection, as a server's idle timeout or restart does; how many it closed. */
  dropConnections(): number {
    const n = this.sockets.size;
    for (const s of this.sockets) s.destroy();
    return n;
  }

  /** Answers 403 to `verb` on `resource` (plural or kind; '*' for any) in `namespace` (any namespace, and cluster scope, without). */
  deny(verb: Verb | '*', resource: string, namespace?: string): void {
    this.denied.push({ verb, resource: resource === '*' ? '*' : resourceFor(resource).plural, namespace });
  }

  allowAll(): void {
    this.denied = [];
  }

  /** Adds a fault; the first active fault matching a request applies to it. */
  fault(spec: FaultSpec): FaultHandle {
    const f: Fault = { ...spec, hits: 0 };
    this.faults.push(f);
    const faults = this.faults;
    return {
      get hits() {
        return f.hits;
      },
      cancel() {
        const i = faults.indexOf(f);
        if (i >= 0) faults.splice(i, 1);
      },
    };
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Creates or replaces an object directly (kind, metadata.namespace — default "default" — and metadata.name); returns it as stored. */
  put(obj: KubeObject): KubeObject {
    return this.store.put(obj);
  }

  /** A copy of the stored object; kind is a Kind ("Pod") or plural ("pods"); namespace is ignored for namespaces. */
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(kind, namespace, name);
  }

  /** Copies of the stored objects of a kind (in one namespace, or all). */
  list(kind: string, namespace?: string): KubeObject[] {
    return this.store.list(kind, namespace);
  }

  /** Removes an object directly; true when it was there. */
  remove(kind: string, namespace: string | undefined, name: string): boolean {
    return this.store.remove(kind, namespace, name);
  }

  /** Closes the server and every connection (keep-alive ones too); removes the temp dir it made. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private receive(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      this.handle(req, res, Buffer.concat(chunks).toString('utf8'), size).catch((e: unknown) => {
        if (!res.headersSent && !res.destroyed) this.respond(res, undefined, 500, new ApiError(500, 'InternalError', `Internal error occurred: ${String(e)}`).status());
      });
    });
  }

  private respond(res: ServerResponse, entry: LoggedRequest | undefined, code: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    if (entry) {
      entry.status = code;
      entry.bytes = Buffer.byteLength(text);
    }
    res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, raw: string, size: number): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    let rt: Route | undefined;
    try {
      rt = route(url.pathname);
    } catch {
      rt = undefined; // malformed %-escape
    }
    let body: unknown;
    let parseError: string | undefined;
    if (raw.trim()) {
      try {
        body = JSON.parse(raw);
      } catch (e) {
        parseError = (e as Error).message;
      }
    }
    const header = req.headers.authorization;
    const auth = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const review = url.pathname === ACCESS_REVIEWS;
    const info: RequestInfo = {
      method,
      path: url.pathname,
      query,
      verb: rt ? verbOf(method, rt.name, query) : review && method === 'POST' ? 'create' : '',
      resource: rt?.r.plural ?? (review ? 'selfsubjectaccessreviews' : ''),
      ...(rt?.namespace !== undefined ? { namespace: rt.namespace } : {}),
      ...(rt?.name !== undefined ? { name: rt.name } : {}),
    };
    const entry: LoggedRequest = { ...info, contentType: req.headers['content-type'], ...(req.headers.accept ? { accept: req.headers.accept } : {}), body, status: 0, auth };
    this.requests.push(entry);

    const fault = this.faults.find(
      (f) => (f.times === undefined || f.hits < f.times) && (!f.method || f.method.toUpperCase() === method) && (f.match instanceof RegExp ? f.match.test(info.path) : f.match(info)),
    );
    let loseAnswer = false;
    if (fault) {
      fault.hits++;
      loseAnswer = fault.dropAnswer === true;
      if (fault.delay) await this.sleep(fault.delay);
      if (fault.drop) {
        req.socket.destroy();
        return;
      }
      if (fault.hugeBody !== undefined) {
        entry.status = 200;
        writeHuge(res, fault.hugeBody);
        return;
      }
      if (fault.status) {
        const err = injected(fault.status, fault.message, fault.retryAfter);
        this.respond(res, entry, err.code, err.status(), err.headers);
        return;
      }
    }
    if (res.destroyed) return;
    // With dropAnswer, the request is served in full and only its answer is lost.
    const reply = (code: number, out: unknown, headers?: Record<string, string>): void => {
      if (!loseAnswer) return this.respond(res, entry, code, out, headers);
      entry.status = code;
      req.socket.destroy();
    };
    try {
      if (auth === undefined || auth !== this.currentToken) throw unauthorized();
      if (url.pathname === '/version') {
        if (method !== 'GET') throw methodNotAllowed();
        reply(200, SERVER_VERSION);
        return;
      }
      if (review) {
        const { code, out } = this.review(method, mediaType(entry.contentType), body, parseError);
        reply(code, out);
        return;
      }
      if (!rt) throw pathNotFound();
      if (!info.verb) throw methodNotAllowed();
      const verb = info.verb;
      const { r, namespace } = rt;
      if (this.refuses(verb, r.plural, namespace)) throw forbidden(this.user, verb, r, namespace, rt.name);
      if (size > MAX_BODY) throw new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
      const { code, out } = this.serve(verb, rt, method, mediaType(entry.contentType), body, parseError, query, entry.accept);
      reply(code, out);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      reply(e.code, e.status(), e.headers);
    }
  }

  /** Whether the deny list refuses `verb` on resource `plural` in `namespace` (undefined: cluster scope). */
  private refuses(verb: string, plural: string, namespace: string | undefined): boolean {
    return this.denied.some(
      (d) => (d.verb === '*' || d.verb === verb || verb === '*') && (d.resource === '*' || d.resource === plural) && (d.namespace === undefined || d.namespace === namespace),
    );
  }

  /**
   * A SelfSubjectAccessReview, as the real server answers it: 201 with the review echoed and its status
   * filled in; allowed unless the deny list would refuse the request it describes (the group must be the
   * resource's own). Non-resource URLs are always allowed.
   */
  private review(method: string, ct: string, body: unknown, parseError: string | undefined): { code: number; out: unknown } {
    const ref = { plural: 'selfsubjectaccessreviews', group: 'authorization.k8s.io' };
    if (method !== 'POST') throw methodNotAllowed();
    if (ct && ct !== 'application/json' && ct !== '*/*') throw unsupportedMediaType(ct, ['application/json']);
    if (parseError !== undefined) throw badRequest(`the object provided is unrecognized (must be of type SelfSubjectAccessReview): couldn't get version/kind; json parse error: ${parseError}`);
    const obj = (body && typeof body === 'object' ? body : {}) as { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
    const spec = obj.spec ?? {};
    const attrs = spec.resourceAttributes as { verb?: string; resource?: string; group?: string; namespace?: string } | undefined;
    if ((attrs === undefined) === (spec.nonResourceAttributes === undefined)) {
      throw invalid('SelfSubjectAccessReview.authorization.k8s.io', '', 'spec.resourceAttributes', 'exactly one of nonResourceAttributes or resourceAttributes must be specified', ref);
    }
    let allowed = true;
    if (attrs) {
      const plural = attrs.resource ?? '';
      const known = RESOURCES.find((r) => r.plural === plural);
      const sameGroup = !known || known.group === (attrs.group ?? '');
      allowed = !(sameGroup && this.refuses(attrs.verb ?? '', plural, attrs.namespace || undefined));
    }
    const status = allowed ? { allowed: true, reason: 'allowed: no deny rule of the test API server matches' } : { allowed: false };
    return {
      code: 201,
      out: { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null, ...obj.metadata }, spec, status },
    };
  }

  private serve(
    verb: Verb,
    { r, namespace, name }: Route,
    method: string,
    ct: string,
    body: unknown,
    parseError: string | undefined,
    query: Record<string, string>,
    accept = '',
  ): { code: number; out: unknown } {
    const decode = (): unknown => {
      if (parseError !== undefined) throw badRequest(`the object provided is unrecognized (must be of type ${r.kind}): couldn't get version/kind; json parse error: ${parseError}`);
      return body;
    };
    const needJson = (): void => {
      if (ct && ct !== 'application/json' && ct !== '*/*') throw unsupportedMediaType(ct, ['application/json']);
    };
    if (r.namespaced && namespace === undefined && verb !== 'list') throw methodNotAllowed();
    switch (verb) {
      case 'get': {
        const o = this.store.find(r, namespace, name as string);
        if (!o) throw notFound(r, name as string);
        return { code: 200, out: o };
      }
      case 'list': {
        const byLabel = labelSelector(query.labelSelector);
        const byField = fieldSelector(query.fieldSelector, r.fields);
        const keep = (o: KubeObject) => byLabel(o.metadata?.labels) && byField(o);
        if (wantsPartialMetadataList(accept)) {
          // As the real server answers `Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`: metadata only.
          const partial = this.store.metadata(r, namespace, keep).map((metadata) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata }));
          return { code: 200, out: { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: this.store.resourceVersion }, items: partial } };
        }
        const items = this.store.items(r, namespace, keep).map((o) => (r.custom ? o : (({ apiVersion: _a, kind: _k, ...rest }) => rest)(o)));
        return { code: 200, out: { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata: { resourceVersion: this.store.resourceVersion }, items } };
      }
      case 'create':
        needJson();
        return { code: 201, out: this.store.create(r, namespace, decode()) };
      case 'update':
        needJson();
        return { code: 200, out: this.store.update(r, namespace, name as string, decode()) };
      case 'patch': {
        const accepted = ['application/json-patch+json', 'application/merge-patch+json', ...(r.custom ? [] : ['application/strategic-merge-patch+json']), 'application/apply-patch+yaml'];
        const merge = ct === 'application/merge-patch+json' || (!r.custom && ct === 'application/strategic-merge-patch+json');
        if (!merge) throw unsupportedMediaType(ct, accepted);
        if (parseError !== undefined) throw badRequest(`error decoding patch: ${parseError}`);
        return { code: 200, out: this.store.patch(r, namespace, name as string, body) };
      }
      case 'delete': {
        const opts = (body && typeof body === 'object' ? body : {}) as DeleteOptions;
        if (parseError !== undefined) throw badRequest(`error decoding DeleteOptions: ${parseError}`);
        const gone = this.store.delete(r, namespace, name as string, opts);
        if (!r.deleteStatus) return { code: 200, out: gone };
        const details = { name, ...(r.group ? { group: r.group } : {}), kind: r.plural, uid: gone.metadata?.uid };
        return { code: 200, out: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details } };
      }
      case 'watch':
        throw badRequest(`watch is not supported by the macmux test API server (${method} ${r.plural})`);
      default:
        throw methodNotAllowed();
    }
  }
}

/**
 * Whether the Accept header's first media range the server can serve is a PartialObjectMetadataList
 * (application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1), as kube-apiserver negotiates it.
 */
function wantsPartialMetadataList(accept: string): boolean {
  for (const range of accept.split(',')) {
    const [type, ...params] = range.split(';').map((x) => x.trim());
    const p = Object.fromEntries(params.map((x) => x.split('=').map((y) => y.trim()) as [string, string]));
    if (p.as === undefined) {
      if (type === 'application/json' || type === '*/*' || type === 'application/*') return false;
      continue;
    }
    if (type === 'application/json' && p.as === 'PartialObjectMetadataList' && p.g === 'meta.k8s.io' && p.v === 'v1') return true;
  }
  return false;
}

/** Starts the server on 127.0.0.1 (a free port) with a fresh CA file, token file and both kubeconfigs. */
export async function startApiServer(opts: StartOptions = {}): Promise<ApiServer> {
  const tls = await tlsMaterial();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'macmux-apiserver-'));
  try {
    mkdirSync(dir, { recursive: true });
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, tls.caPem);
    const server = createServer({ key: tls.keyPem, cert: tls.certPem, keepAliveTimeout: 5000 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const api = new ApiServer(server, ownDir, dir, caFile, opts.token ?? randomBytes(24).toString('base64url'), opts.user ?? 'system:serviceaccount:kube-system:macmux');
    for (const ns of opts.namespaces ?? ['default', 'kube-system']) api.put({ kind: 'Namespace', metadata: { name: ns } });
    return api;
  } catch (e) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Streams `{"kind":"Pod","padding":"xxx..."}` of `bytes` bytes, one 1 MiB piece at a time, stopping if the client goes away. */
function writeHuge(res: ServerResponse, bytes: number): void {
  const head = '{"kind":"Pod","padding":"';
  const tail = '"}';
  const piece = Buffer.alloc(1 << 20, 'x');
  let left = Math.max(0, bytes - head.length - tail.length);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(head.length + left + tail.length) });
  res.write(head);
  const more = (): void => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(left, piece.length);
      left -= n;
      if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) return void res.once('drain', more);
    }
    if (!res.destroyed) res.end(tail);
  };
  res.on('error', () => undefined);
  more();
}
