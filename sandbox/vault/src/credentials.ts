/**
 * The real values the vault holds and the stubs the harness sees instead.
 *
 * Binding rule: a value is swapped in only for requests to a destination its `hosts` match,
 * and there only in request headers (the standard credential headers plus the binding's own
 * `headers`), unless the binding sets `body`. Deployment-wide values (REAL_<KEY>) must be
 * bound (HOST_<KEY>); the gateway key is bound to the gateway host. A value with no hosts is
 * unbound: its stub is never swapped, so the agent holds only a useless placeholder.
 *
 * Every value the vault holds, bound or not, is also replaced by its stub in responses (the
 * relay's re-stubbing), so an upstream echoing a value cannot hand it back to the agent.
 */
import { randomBytes } from 'node:crypto';
import type { DeploymentCredential } from './config';
import { findMatchingRule, type Destination, type DestinationRule } from './destination-rules';

export interface CredentialBinding {
  /** Empty: unbound (never swapped). */
  hosts: DestinationRule[];
  /** Extra request headers (lowercase) the value may be swapped into. */
  headers: string[];
  /** Also the URL and text bodies of requests to `hosts`. */
  body: boolean;
}

export interface Credential {
  name: string;
  stub: string;
  binding: CredentialBinding;
  source: 'deployment' | 'pushed';
  /** The real value: it leaves the vault only in requests to a destination it is bound to. */
  value: string;
}

/** What the relay needs to swap one bound credential into a request. */
export interface Substitution {
  name: string;
  stub: string;
  real: string;
  headers: string[];
  body: boolean;
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
  binding: CredentialBinding,
  source: Credential['source'],
): Credential {
  return { name, stub: mintStub(name), binding, source, value };
}

export class CredentialStore {
  private deployment: Credential[];
  private pushed: Credential[] = [];
  /** Moves whenever the set of values changes: the relay refetches its re-stub list then. */
  private version = 1;

  constructor(deploymentCredentials: readonly DeploymentCredential[]) {
    this.deployment = deploymentCredentials.map((credential) =>
      toCredential(
        credential.name,
        credential.value,
        { hosts: credential.hosts, headers: [], body: false },
        'deployment',
      ),
    );
  }

  /** Replaces the pushed values (a push carries the agent's and the session's values at once). */
  setPushed(values: ReadonlyArray<{ name: string; value: string; binding: CredentialBinding }>): void {
    this.pushed = values.map((entry) => toCredential(entry.name, entry.value, entry.binding, 'pushed'));
    this.version += 1;
  }

  get generation(): number {
    return this.version;
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

  /** The names of the values that are never swapped anywhere. */
  unboundNames(): string[] {
    return this.all()
      .filter((credential) => credential.binding.hosts.length === 0)
      .map((credential) => credential.name);
  }

  /** The credentials that may be swapped into requests to this destination. */
  boundTo(destination: Destination): Substitution[] {
    return this.all()
      .filter((credential) => findMatchingRule(credential.binding.hosts, destination) !== undefined)
      .map((credential) => ({
        name: credential.name,
        stub: credential.stub,
        real: credential.value,
        headers: credential.binding.headers,
        body: credential.binding.body,
      }));
  }

  /**
   * Every value held (superseded deployment values included: a pushed name replaces one for
   * swapping, but its value is still a secret), as the pairs responses are re-stubbed with.
   */
  restubPairs(): Array<{ name: string; stub: string; real: string }> {
    const current = this.all();
    const superseded = this.deployment.filter((credential) => !current.includes(credential));
    return [...current, ...superseded].map((credential) => ({
      name: credential.name,
      stub: credential.stub,
      real: credential.value,
    }));
  }
}
