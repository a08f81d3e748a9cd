/**
 * The base images the Dockerfiles pin (`ARG NODE_IMAGE|GO_IMAGE|RUNTIME_IMAGE=<name>:<tag>@<digest>`)
 * and whether their registry serves each pinned digest. `cdk deploy` builds the images on the
 * deployer's machine, so a digest the registry does not have fails the first deploy at its first
 * image; `npm run preflight` asks the registry first (docs/images.md says how to move a base).
 *
 * The registry side is the Distribution (OCI) API every public registry speaks: `HEAD
 * /v2/<repository>/manifests/<digest>`, after the anonymous bearer token its `WWW-Authenticate`
 * challenge names (Docker Hub, gcr.io).
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../lib/constructs/function-bundling';

/** The build arguments that name a base image. */
const BASE_ARG = /^ARG (NODE_IMAGE|GO_IMAGE|RUNTIME_IMAGE)=(\S+)$/gm;

export interface PinnedBase {
  /** The build argument, e.g. NODE_IMAGE. */
  arg: string;
  /** `<name>:<tag>@sha256:<hex>` as the Dockerfile has it. */
  reference: string;
  /** The Dockerfiles (repository paths) that pin it. */
  dockerfiles: string[];
}

/** The bases `dockerfiles` pin, each reference once with every Dockerfile that pins it. */
export function pinnedBases(dockerfiles: readonly string[], root = REPO_ROOT): PinnedBase[] {
  const byReference = new Map<string, PinnedBase>();
  for (const dockerfile of dockerfiles) {
    const text = fs.readFileSync(path.join(root, dockerfile), 'utf8');
    for (const [, arg, reference] of text.matchAll(BASE_ARG)) {
      const base = byReference.get(reference!) ?? { arg: arg!, reference: reference!, dockerfiles: [] };
      base.dockerfiles.push(dockerfile);
      byReference.set(reference!, base);
    }
  }
  return [...byReference.values()];
}

export interface ImageReference {
  /** The registry's host, e.g. registry-1.docker.io. */
  host: string;
  repository: string;
  digest: string | undefined;
}

const DOCKER_HUB = 'registry-1.docker.io';

/** Splits `[host/]name[:tag][@digest]` as Docker does: no host means Docker Hub (`library/` for one-part names). */
export function parseImageReference(reference: string): ImageReference {
  const [withoutDigest, digest] = reference.split('@') as [string, string | undefined];
  const parts = withoutDigest.split('/');
  const hasHost = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!);
  const host = hasHost ? parts.shift()! : DOCKER_HUB;
  let repository = parts.join('/').replace(/:[^/:]+$/, '');
  if (host === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  return { host: host === 'docker.io' ? DOCKER_HUB : host, repository, digest };
}

export type ManifestLookup =
  { state: 'found' } | { state: 'missing'; status: number } | { state: 'unreachable'; reason: string };

/** Index and manifest types of both formats: a multi-arch index is what the Dockerfiles pin. */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** `Bearer realm="…",service="…",scope="…"` -> its parameters. */
function bearerChallenge(header: string | null): Record<string, string> | null {
  if (!header || !/^Bearer\s/i.test(header)) return null;
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

export interface RegistryAccess {
  /** The base URL of a registry host (tests point it at a local double). */
  baseUrl?: (host: string) => string;
  timeoutMs?: number;
}

/** Whether the registry serves `reference`'s digest (anonymous pull access, as a build has). */
export async function lookUpManifest(
  reference: string,
  access: RegistryAccess = {},
): Promise<ManifestLookup> {
  const image = parseImageReference(reference);
  if (!image.digest) return { state: 'missing', status: 0 };
  const url = `${(access.baseUrl ?? ((host) => `https://${host}`))(image.host)}/v2/${image.repository}/manifests/${image.digest}`;
  const signal = () => AbortSignal.timeout(access.timeoutMs ?? 10_000);
  try {
    let res = await fetch(url, { method: 'HEAD', headers: { accept: MANIFEST_TYPES }, signal: signal() });
    const challenge = res.status === 401 ? bearerChallenge(res.headers.get('www-authenticate')) : null;
    if (challenge?.realm) {
      const tokenUrl = new URL(challenge.realm);
      if (challenge.service) tokenUrl.searchParams.set('service', challenge.service);
      tokenUrl.searchParams.set('scope', challenge.scope ?? `repository:${image.repository}:pull`);
      const tokenRes = await fetch(tokenUrl, { signal: signal() });
      if (!tokenRes.ok) return { state: 'unreachable', reason: `token endpoint answered ${tokenRes.status}` };
      const body = (await tokenRes.json()) as { token?: string; access_token?: string };
      res = await fetch(url, {
        method: 'HEAD',
        headers: { accept: MANIFEST_TYPES, authorization: `Bearer ${body.token ?? body.access_token}` },
        signal: signal(),
      });
    }
    if (res.ok) return { state: 'found' };
    if (res.status === 404) return { state: 'missing', status: 404 };
    return { state: 'unreachable', reason: `${image.host} answered ${res.status}` };
  } catch (error) {
    // fetch says only "fetch failed": the reason (ECONNREFUSED, ENOTFOUND, a timeout) is its cause.
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { state: 'unreachable', reason: cause?.code ?? cause?.message ?? (error as Error).message };
  }
}
