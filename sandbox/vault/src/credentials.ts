/**
 * The real values the vault holds and the stubs the harness sees instead.
 *
 * Binding rule: a value is swapped in only for requests to a destination its `hosts`
 * match. Deployment-wide values (REAL_<KEY>) must be bound (HOST_<KEY>); the gateway key
 * is bound to the gateway host. An agent or session value pushed without `hosts` is
 * unbound: it is swapped for every destination the egress policy lets through, so the
 * agent's allow_out list is what confines it (document this to agent authors).
 */
import { randomBytes } from 'node:crypto';
import type { DeploymentCredential } from './config';
import { findMatchingRule, type Destination, type DestinationRule } from './destination-rules';

export interface Credential {
  name: string;
  stub: string;
  /** null: unbound (any destination the egress policy allows). */
  hosts: DestinationRule[] | null;
  source: 'deployment' | 'pushed';
  /** The real value: it leaves the vault only in requests to a destination it is bound to. */
  value: string;
}

/** `stub_<name>_<16 hex>`: recognisable in logs and transcripts, unguessable, never a real value. */
export function mintStub(name: string): string {
  const label =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'secret';
  return `stub_${label}_${randomBytes(8).toString('hex')}`;
}

function toCredential(
  name: string,
  value: string,
  hosts: DestinationRule[] | null,
  source: Credential['source'],
): Credential {
  const stub = mintStub(name);
  return { name, stub, hosts, source, value };
}

export class CredentialStore {
  private deployment: Credential[];
  private pushed: Credential[] = [];

  constructor(deploymentCredentials: readonly DeploymentCredential[]) {
    this.deployment = deploymentCredentials.map((credential) =>
      toCredential(credential.name, credential.value, credential.hosts, 'deployment'),
    );
  }

  /** Replaces the pushed values (a push carries the agent's and the session's values at once). */
  setPushed(values: ReadonlyArray<{ name: string; value: string; hosts: DestinationRule[] | null }>): void {
    this.pushed = values.map((entry) => toCredential(entry.name, entry.value, entry.hosts, 'pushed'));
  }

  /** A pushed value replaces a deployment-wide one of the same name (an agent's own gateway key). */
  all(): Credential[] {
    const pushedNames = new Set(this.pushed.map((credential) => credential.name));
    return [...this.deployment.filter((credential) => !pushedNames.has(credential.name)), ...this.pushed];
  }

  /** Stub by env var name, for the env file. */
  stubs(): Record<string, string> {
    return Object.fromEntries(this.all().map((credential) => [credential.name, credential.stub]));
  }

  /** The credentials that may be sent to this destination. */
  boundTo(destination: Destination): Credential[] {
    return this.all().filter(
      (credential) =>
        credential.hosts === null || findMatchingRule(credential.hosts, destination) !== undefined,
    );
  }
}
