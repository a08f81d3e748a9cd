/**
 * The vault's data plane is a native process, `vault-relay` (sandbox/vault/relay/, Go):
 * the egress proxy itself, through which every byte the agent sends or receives goes.
 * This module starts it and answers its questions, so each rule stays here, in one place:
 *
 *   connect {authority}  -> is this CONNECT target valid and allowed? which address to dial?
 *                           (and, with an egress gateway, the token to present to it)
 *   plain {url}          -> the same for a plain-HTTP proxy request, plus the origin-form path
 *   bindings {target, generation}
 *                        -> the credentials bound to this destination (stub, real value, the
 *                           headers they may go in, body or not), and, when the relay's copy
 *                           is older than `generation`, every value held (to re-stub responses)
 *   certificate {host}   -> a leaf certificate for this name, signed by the deployment CA
 *
 * and logs what the relay reports (one `egress` line per request). JSON lines over the
 * child's stdin/stdout; real values cross only that pipe, never a file or an env var.
 * When this process exits, the relay's stdin closes and it exits too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import readline from 'node:readline';
import type { Logger } from 'pino';
import type { LeafCertificateIssuer } from './ca';
import type { CredentialStore } from './credentials';
import { EGRESS_GATEWAY_SERVER_NAME } from '@lap/sandbox-protocol';
import { normalizeHost, type Destination } from './destination-rules';
import { VAULT_EGRESS_POLICY_HEADER, type EgressPolicy } from './egress-policy';

export interface RelayDependencies {
  issuer: LeafCertificateIssuer;
  credentials: CredentialStore;
  /** Read per connection: the admin push may replace the policy. */
  policy: () => EgressPolicy;
  /** The token for the egress gateway, from the admin push (undefined until then). */
  egressToken: () => string | undefined;
  upstreamCaPem: string | undefined;
  logger: Logger;
}

export interface RelayOptions {
  binary: string;
  bindHost: string;
  port: number;
  /** Dial every upstream through this egress gateway (`host:port`), verified against `caPem`. */
  egressGateway?: { address: string; caPem: string };
}

/** A destination the policy admitted; `address` is the resolved one the policy saw, and the one dialled. */
interface Target extends Destination {
  port: number;
  address: string;
}

type RelayMessage =
  | { op: 'listening'; port: number }
  | { op: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; fields: Record<string, unknown> }
  | { op: 'connect'; id: number; authority: string }
  | { op: 'plain'; id: number; url: string }
  | { op: 'bindings'; id: number; target: Target; generation: number }
  | { op: 'certificate'; id: number; host: string };

class ProxyRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly policy?: string,
  ) {
    super(message);
  }
}

/** `host:port` of a CONNECT request line; IPv6 in brackets. */
export function parseConnectAuthority(authority: string | undefined): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/@[\]]+):(\d{1,5})$/.exec(authority ?? '');
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new ProxyRequestError(400, `CONNECT target "${authority ?? ''}" is not host:port`);
  }
  return { host: normalizeHost(match[1]!), port };
}

/** The target and origin-form path of a plain-HTTP proxy request (absolute http:// URL). */
export function parseProxyUrl(text: string): { host: string; port: number; path: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ProxyRequestError(400, 'proxy requests need an absolute http:// URL');
  }
  if (url.protocol !== 'http:') throw new ProxyRequestError(400, `use CONNECT for ${url.protocol} URLs`);
  return {
    host: normalizeHost(url.hostname),
    port: Number(url.port || 80),
    path: `${url.pathname}${url.search}`,
  };
}

async function resolve(host: string): Promise<string[]> {
  if (net.isIP(host)) return [host];
  try {
    const records = await lookup(host, { all: true });
    // IPv4 first: dual-stack names (localhost) often listen on IPv4 only.
    return records.sort((a, b) => a.family - b.family).map((record) => record.address);
  } catch {
    throw new ProxyRequestError(502, `cannot resolve ${host}`);
  }
}

export class VaultRelay {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    /** Settles when the relay process exits, with its exit code (null: killed by a signal). */
    readonly exited: Promise<number | null>,
  ) {}

  static async start(deps: RelayDependencies, options: RelayOptions): Promise<VaultRelay> {
    const child = spawn(options.binary, [], {
      env: {
        VAULT_RELAY_LISTEN: net.isIPv6(options.bindHost)
          ? `[${options.bindHost}]:${options.port}`
          : `${options.bindHost}:${options.port}`,
        VAULT_RELAY_POLICY_HEADER: VAULT_EGRESS_POLICY_HEADER,
        ...(options.egressGateway
          ? {
              VAULT_RELAY_EGRESS_GATEWAY: options.egressGateway.address,
              VAULT_RELAY_EGRESS_GATEWAY_CA_PEM: options.egressGateway.caPem,
              VAULT_RELAY_EGRESS_GATEWAY_NAME: EGRESS_GATEWAY_SERVER_NAME,
            }
          : {}),
        ...(deps.upstreamCaPem ? { VAULT_RELAY_EXTRA_CA_PEM: deps.upstreamCaPem } : {}),
        ...(process.env.SSL_CERT_FILE ? { SSL_CERT_FILE: process.env.SSL_CERT_FILE } : {}),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((settle) => child.once('exit', (code) => settle(code)));
    // A write to a relay that died is reported by `exited`, not thrown.
    child.stdin!.on('error', () => undefined);
    const answers = new RelayAnswers(deps, (line) => child.stdin!.write(`${line}\n`));
    const port = await new Promise<number>((settle, fail) => {
      child.once('error', (error) =>
        fail(new Error(`cannot start the vault relay ${options.binary}: ${error.message}`)),
      );
      void exited.then((code) => fail(new Error(`the vault relay exited (${code}) before listening`)));
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as RelayMessage;
        if (message.op === 'listening') settle(message.port);
        else answers.handle(message);
      });
    });
    return new VaultRelay(child, port, exited);
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      await this.exited;
    }
  }
}

/** Answers the relay's questions and logs what it reports. */
class RelayAnswers {
  constructor(
    private readonly deps: RelayDependencies,
    private readonly write: (line: string) => void,
  ) {}

  handle(message: RelayMessage): void {
    if (message.op === 'listening') return;
    if (message.op === 'log') {
      this.deps.logger[message.level](message.fields);
      return;
    }
    void this.answer(message).then(
      (result) => this.write(JSON.stringify({ id: message.id, ok: true, ...result })),
      (error: unknown) => {
        const {
          status,
          message: text,
          policy,
        } = error instanceof ProxyRequestError ? error : new ProxyRequestError(502, (error as Error).message);
        this.write(JSON.stringify({ id: message.id, ok: false, status, error: text, policy }));
      },
    );
  }

  private async answer(message: Exclude<RelayMessage, { op: 'listening' | 'log' }>): Promise<object> {
    switch (message.op) {
      case 'connect': {
        try {
          const { host, port } = parseConnectAuthority(message.authority);
          return { target: await this.admit(host, port), egress_token: this.deps.egressToken() };
        } catch (error) {
          this.logRejection(error, 'connect_rejected', { target: message.authority });
          throw error;
        }
      }
      case 'plain': {
        let host: string | undefined;
        try {
          const parsed = parseProxyUrl(message.url);
          host = parsed.host;
          return {
            target: await this.admit(parsed.host, parsed.port),
            path: parsed.path,
            egress_token: this.deps.egressToken(),
          };
        } catch (error) {
          this.logRejection(error, 'request_rejected', { host });
          throw error;
        }
      }
      case 'bindings': {
        const { credentials } = this.deps;
        return {
          substitutions: credentials.boundTo(message.target),
          generation: credentials.generation,
          // The full list only when the relay's copy is stale: it changes once per sandbox (the push).
          ...(message.generation === credentials.generation ? {} : { restub: credentials.restubPairs() }),
        };
      }
      case 'certificate': {
        const issued = this.deps.issuer.certificateFor(message.host);
        return { cert_pem: issued.certPem, key_pem: issued.keyPem };
      }
    }
  }

  private async admit(host: string, port: number): Promise<Target> {
    const addresses = await resolve(host);
    const decision = this.deps.policy().decide({ host, addresses });
    if (!decision.allowed) throw new ProxyRequestError(403, decision.message, decision.policy);
    return { host, port, addresses, address: decision.address };
  }

  private logRejection(error: unknown, event: string, fields: Record<string, unknown>): void {
    const { status, policy } =
      error instanceof ProxyRequestError ? error : { status: 502, policy: undefined };
    this.deps.logger.info({ event: status === 403 ? 'egress_blocked' : event, ...fields, status, policy });
  }
}
