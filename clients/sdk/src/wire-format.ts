/**
 * The one place that maps between the SDK's camelCase and the API's snake_case.
 * Keys are renamed recursively, except inside values the user or the harness owns
 * (env var maps, message parts, tool payloads): `GITHUB_TOKEN` must stay `GITHUB_TOKEN`.
 */
const OPAQUE_VALUES = new Set([
  'env_vars',
  'envVars',
  'env_var_hosts',
  'envVarHosts',
  'parts',
  'input',
  'output',
]);

export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function renameKeys(value: unknown, rename: (key: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => renameKeys(item, rename));
  if (value === null || typeof value !== 'object') return value;
  const renamed: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner === undefined) continue;
    renamed[rename(key)] = OPAQUE_VALUES.has(key) ? inner : renameKeys(inner, rename);
  }
  return renamed;
}

/** API JSON -> SDK object. */
export function fromWire<T>(value: unknown): T {
  return renameKeys(value, camelCase) as T;
}

/** SDK object -> API JSON (undefined fields are dropped). */
export function toWire(value: unknown): unknown {
  return renameKeys(value, snakeCase);
}
