// The invocation's one HTTPS agent: TLS set up without Node's bundled root store whenever the kubeconfig's CA settles trust alone, and a first connection that can be opened ahead of the first request.
import { Agent, type AgentOptions } from 'node:https';
import { connect, createSecureContext, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { X509Certificate } from 'node:crypto';
import type { Credentials } from './credentials';
import { DirectTrust, parseCas } from './trust';
import { markCertificateRejection } from './tls-errors';

type Done = (err: Error | null, socket?: Duplex) => void;

/** Listens to a connection opened ahead while it waits for its request: the socket is destroyed by the error, and a request takes a fresh one. */
const idle = (): void => {};

/**
 * A keep-alive agent whose first connection may be opened before any request (preconnect): the
 * request that comes next takes it, or what opening it failed with while it waited (a failure met
 * before the request came is not kept: it opens its own). Every connection is handed out
 * only once its handshake is done, so that a failure reaches the request as an error.
 */
class EarlyAgent extends Agent {
  /** The connection opened ahead, or why it could not be, until a request takes it. */
  private early: Promise<TLSSocket | Error> | undefined;
  private closed = false;
  /** Connections still in their handshake: the agent hands them out only once done, so destroy() must reach them here. */
  private readonly handshaking = new Set<TLSSocket>();

  /**
   * Opens a connection to `host`:`port` now, for the next request, with the options a request to it
   * would have; resolves to why it failed, if it did. A failure is not kept: the next request (or
   * preconnect) opens a fresh connection, as the server may be back by then.
   */
  preconnect(host: string, port: number): Promise<Error | undefined> {
    if (this.early || this.closed) return Promise.resolve(undefined);
    const options = { ...this.options, host, port, servername: this.options.servername ?? (isIP(host) ? '' : host) } as ConnectionOptions;
    let early: Promise<TLSSocket | Error> | undefined;
    let failed = false;
    early = new Promise((resolve) => {
      this.tryOpen(options, (err, socket) => {
        if (err) {
          failed = true;
          if (this.early === early) this.early = undefined;
          return resolve(err);
        }
        const s = socket as TLSSocket;
        if (this.closed) {
          s.destroy();
          return resolve(new Error('agent closed'));
        }
        s.on('error', idle);
        resolve(s);
      });
    });
    if (!failed) this.early = early;
    return early.then((got) => (got instanceof Error ? got : undefined));
  }

  override createConnection(options: ConnectionOptions, done: Done): undefined {
    const early = this.early;
    this.early = undefined;
    if (!early) return void this.open(options, done);
    void early.then((got) => {
      if (got instanceof Error) return done(got);
      got.removeListener('error', idle);
      // Closed while it waited (the server's idle timeout): a fresh one.
      if (got.destroyed || !got.writable) return this.tryOpen(options, done);
      done(null, got);
    });
    return undefined;
  }

  override destroy(): void {
    this.closed = true;
    void this.early?.then((got) => got instanceof Error || got.destroy());
    this.early = undefined;
    for (const s of this.handshaking) s.destroy();
    this.handshaking.clear();
    super.destroy();
  }

  /** open(), its synchronous throw (options Node refuses) given to `done`: for the calls no request's own throw would report. */
  private tryOpen(options: ConnectionOptions, done: Done): void {
    try {
      this.open(options, done);
    } catch (e) {
      done(e as Error);
    }
  }

  /** Opens one connection for `options`; `done` once its handshake is over (Node's verification, when the options ask for it). */
  protected open(options: ConnectionOptions, done: Done): void {
    this.handshake(super.createConnection(options) as TLSSocket, done, (s) => done(null, s));
  }

  /**
   * Waits for `socket`'s handshake (tracked meanwhile), then `next`; an error before it goes to `done`,
   * marked as a certificate rejection when the socket of a `verifying` handshake says so.
   */
  protected handshake(socket: TLSSocket, done: Done, next: (s: TLSSocket) => void, verifying = false): void {
    this.handshaking.add(socket);
    const failed = (e: Error) => {
      this.handshaking.delete(socket);
      // Node sets authorizationError just before it destroys a socket whose certificate it rejects.
      done(verifying && socket.authorizationError ? markCertificateRejection(e) : e);
    };
    socket.once('error', failed);
    socket.once('secureConnect', () => {
      this.handshaking.delete(socket);
      socket.removeListener('error', failed);
      next(socket);
    });
  }
}

/**
 * Node 20 parses its ~140 bundled root certificates (tens of ms of CPU) on the first TLS context that
 * has a CA or no CA option at all. This agent's first handshake uses a context with an empty trust
 * store, then accepts the server only when its certificate is directly issued by the kubeconfig's CA
 * for the host in a profile trust.ts evaluates in full, before any request byte is written. Any other
 * certificate is handed to OpenSSL's full verification on a second connection, whose rejection is
 * marked as one (see tls-errors.ts): OpenSSL reports some as UNSPECIFIED.
 */
class CaAgent extends EarlyAgent {
  /** The fast path's judge, which remembers the server certificate it accepted for the agent's next connections. */
  private readonly trust: DirectTrust;

  constructor(
    opts: AgentOptions,
    private readonly fast: SecureContext,
    private readonly ca: Buffer,
    /** The certificates of `ca`, parsed once. */
    cas: X509Certificate[],
    /** The name the certificate must carry: tls-server-name, else the server's host. */
    name: string,
    private readonly debug: (msg: string) => void,
  ) {
    super(opts);
    this.trust = new DirectTrust(cas, name);
  }

  protected override open(options: ConnectionOptions, done: Done): void {
    this.handshake(connect({ ...options, secureContext: this.fast, rejectUnauthorized: false }), done, (first) => {
      const why = this.trust.why((first.getPeerCertificate() as { raw?: Buffer }).raw ?? Buffer.alloc(0));
      if (why === undefined) return done(null, first);
      first.destroy();
      this.debug(`TLS: ${why}; verifying the chain in full`);
      this.handshake(connect({ ...options, ca: this.ca, rejectUnauthorized: true }), done, (full) => done(null, full), true);
    });
  }
}

/** The agent `httpsAgent` makes: `preconnect` opens the first connection ahead of the first request. */
export type ApiAgent = Agent & Pick<EarlyAgent, 'preconnect'>;

/** A keep-alive agent for `creds`, over `host` (the server URL's host name). */
export function httpsAgent(creds: Credentials, host: string, debug: (msg: string) => void): ApiAgent {
  const client = { ...(creds.cert ? { cert: creds.cert } : {}), ...(creds.key ? { key: creds.key } : {}) };
  const opts: AgentOptions = { keepAlive: true, ...client, ...(creds.servername ? { servername: creds.servername } : {}) };
  if (!creds.rejectUnauthorized) {
    // Nothing is verified (insecure-skip-tls-verify): no trust store is needed at all.
    return new EarlyAgent({ ...opts, rejectUnauthorized: false, secureContext: createSecureContext({ ...client, ca: [] }) });
  }
  const cas = creds.ca ? parseCas(creds.ca) : [];
  if (!creds.ca || cas.length === 0) return new EarlyAgent({ ...opts, ...(creds.ca ? { ca: creds.ca } : {}), rejectUnauthorized: true });
  return new CaAgent(opts, createSecureContext({ ...client, ca: [] }), creds.ca, cas, creds.servername ?? host, debug);
}
