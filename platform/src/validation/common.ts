import { z } from 'zod';

/** Page size: default 50, clamped into 1..200 rather than rejected (so is a negative offset to 0). */
export const paginationQuery = {
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .default(50)
    .transform((n) => Math.min(200, Math.max(1, n))),
  offset: z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .default(0)
    .transform((n) => Math.max(0, n)),
};

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), total: z.number(), limit: z.number(), offset: z.number() });
}

export const errorSchema = z.object({ error: z.string() });

/** The error shapes every authenticated route can answer with (documented in the OpenAPI document). */
export const errorResponses = { 400: errorSchema, 401: errorSchema, 404: errorSchema } as const;

/** `{id}` path parameters: any string; one that names no row is a 404, not a 400. */
export const idParams = z.object({ id: z.string() });
