/**
 * How every LAP process reads its environment: one zod schema per service, whose input type
 * is what a writer (the CDK app, a sandbox launcher) must give and whose output is what the
 * process uses. Each variable is defined once, with its rule, its default and the fix its
 * message names; services that read the same variable share that definition.
 *
 * Variables are strings. The input types are narrower where a string can be wrong: an
 * integer is written as digits (`${number}`), a choice as one of its values, so a writer
 * that passes `String(x)` or a misspelt choice does not compile. A blank value counts as
 * unset, and values are trimmed: `PORT=` in a shell means "the default", as it always has.
 */
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** An environment variable holding an integer: written as digits, read as a number. */
export function envInteger(rule: { min: number; max?: number; hint?: string; message?: string }) {
  const range = rule.max === undefined ? `>= ${rule.min}` : `between ${rule.min} and ${rule.max}`;
  const message = (input: unknown) =>
    rule.message ??
    `must be an integer ${range}${rule.hint ? ` (${rule.hint})` : ''}, got "${String(input)}"`;
  const integer = z
    .number()
    .int({ error: (issue) => message(issue.input) })
    .min(rule.min, { error: (issue) => message(issue.input) });
  return z
    .templateLiteral([z.number()], { error: (issue) => message(issue.input) })
    .transform(Number)
    .pipe(
      rule.max === undefined ? integer : integer.max(rule.max, { error: (issue) => message(issue.input) }),
    );
}

/** A TCP port: 0 asks for any free one where a process allows it (`min` 0). */
export const envPort = (rule: { min?: number; message?: string } = {}) =>
  envInteger({ min: rule.min ?? 1, max: 65535, hint: 'a TCP port', message: rule.message });

/** One of `values`; without a default, a missing value is reported as required. */
export function envChoice<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, {
    error: (issue) =>
      issue.input === undefined
        ? `is required: set it to one of ${values.join(', ')}`
        : `must be one of ${values.join(', ')}, got "${String(issue.input)}"`,
  });
}

/** A comma-separated list; blank items are dropped. */
export const envList = () =>
  z.string().transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

export const envLogLevel = () => envChoice(LOG_LEVELS).default('info');

/**
 * Read by Node.js itself, set on every Node container and function (the extra CA bundle, the
 * source-map flag). Part of each contract so that a key no service knows stands out.
 */
export const nodeRuntimeEnv = {
  NODE_EXTRA_CA_CERTS: z.string().optional(),
  NODE_OPTIONS: z.string().optional(),
};

/** One bad or missing variable and what to do about it. */
export interface EnvProblem {
  /** The variable (or `VARIABLE.field` for a structured value). */
  key: string;
  message: string;
}

export type EnvReading<S extends z.ZodObject> =
  { ok: true; data: z.output<S> } | { ok: false; problems: EnvProblem[] };

/**
 * The variables `schema` knows, from `source` (a process environment: every other variable
 * is ignored), blank ones as unset, trimmed. Every problem is reported, not the first.
 */
export function readEnv<S extends z.ZodObject>(
  schema: S,
  source: Record<string, string | undefined>,
): EnvReading<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = source[key]?.trim();
    if (value) input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, data: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => ({ key: issue.path.join('.'), message: issue.message })),
  };
}

/**
 * What a writer gives a service as plain environment: the schema's input without the
 * variables delivered as secrets (ECS `secrets`, resolved from Secrets Manager at start).
 */
export type PlainEnvironment<S extends z.ZodObject, Secret extends PropertyKey = never> = Omit<
  z.input<S>,
  Secret
>;
