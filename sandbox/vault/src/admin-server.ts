/**
 * The admin endpoint the platform pushes the agent's and the session's real values to:
 * HTTPS with a `lap-vault` certificate signed by the deployment CA, guarded by a
 * one-time token. A successful push mints stubs, writes the stub env file (which
 * releases the harness) and burns the token; any later call gets 401.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import https from 'node:https';
import type http from 'node:http';
import {
  VAULT_ADMIN_SERVER_NAME,
  vaultSecretsPushSchema,
  type VaultSecretsPushResult,
} from '@lap/sandbox-protocol';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { LeafCertificateIssuer } from './ca';
import type { CredentialStore } from './credentials';
import { parseDestinationRules, type DestinationRule } from './destination-rules';
import { writeStubEnvFile } from './env-file';

const MAX_BODY_BYTES = 1024 * 1024;

/** The rules a list of destination texts stands for; a bad one is an issue at `path`. */
function toRules(
  list: string[] | undefined,
  context: z.RefinementCtx,
  path: PropertyKey[],
): DestinationRule[] {
  try {
    return parseDestinationRules(list ?? []);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message, path });
    return [];
  }
}

/** The protocol's push (@lap/sandbox-protocol), with its rule lists parsed into DestinationRules. */
const secretsPushSchema = vaultSecretsPushSchema.transform((push, context) => ({
  secrets: Object.entries(push.secrets).map(([name, entry]) => ({
    name,
    value: entry.value,
    binding: {
      hosts: toRules(entry.hosts, context, ['secrets', name, 'hosts']),
      headers: (entry.headers ?? []).map((header) => header.toLowerCase()),
      body: entry.body === true,
    },
  })),
  allowOut: toRules(push.allow_out, context, ['allow_out']),
  denyOut: toRules(push.deny_out, context, ['deny_out']),
  egressToken: push.egress_token,
}));

export interface SecretsPushApplied {
  allowOut: DestinationRule[];
  denyOut: DestinationRule[];
  egressToken: string | undefined;
}

export interface AdminServerDependencies {
  issuer: LeafCertificateIssuer;
  adminToken: string;
  envFile: string;
  credentials: CredentialStore;
  /** Called after a valid push, before the env file is written (the proxy's policy is replaced). */
  onPush: (applied: SecretsPushApplied) => void;
  logger: Logger;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

export function createAdminServer(deps: AdminServerDependencies): https.Server {
  const certificate = deps.issuer.certificateFor(VAULT_ADMIN_SERVER_NAME);
  // Compare digests: equal length, so timingSafeEqual never leaks the token's length.
  let tokenDigest: Buffer | null = digest(deps.adminToken);

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  return https.createServer({ cert: certificate.certPem, key: certificate.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://lap-vault');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      send(res, 200, { status: 'ok', released: tokenDigest === null });
      return;
    }
    if (url.pathname !== '/v1/secrets')
      return send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST /v1/secrets' });

    const presented = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!tokenDigest || !presented || !timingSafeEqual(digest(presented), tokenDigest)) {
      deps.logger.warn({ event: 'admin_unauthorized', used: tokenDigest === null });
      req.resume();
      return send(res, 401, {
        error: tokenDigest ? 'missing or wrong admin token' : 'the admin token has already been used',
      });
    }

    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        send(res, 413, { error: `body exceeds ${MAX_BODY_BYTES} bytes` });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      let json: unknown;
      try {
        json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(res, 400, { error: 'body is not valid JSON' });
      }
      const parsed = secretsPushSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        return send(res, 400, { error: `${issue.path.join('.') || 'body'}: ${issue.message}` });
      }
      tokenDigest = null;
      const { secrets, ...applied } = parsed.data;
      deps.credentials.setPushed(secrets);
      deps.onPush(applied);
      const stubs = deps.credentials.stubs();
      try {
        writeStubEnvFile(deps.envFile, stubs);
      } catch (error) {
        deps.logger.error({ event: 'env_file_failed', code: (error as NodeJS.ErrnoException).code });
        return send(res, 500, { error: `cannot write the stub env file: ${(error as Error).message}` });
      }
      deps.logger.info({
        event: 'secrets_pushed',
        names: Object.keys(stubs),
        unbound: deps.credentials.unboundNames(),
        allow_out: applied.allowOut.map((rule) => rule.text),
        deny_out: applied.denyOut.map((rule) => rule.text),
      });
      const result: VaultSecretsPushResult = { stubs };
      send(res, 200, result);
    });
  });
}
