import type { FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';
import { formatZodIssues } from '../validation/issues';

/** A request that failed its zod schema: a 400 whose message names each field and rule. */
export class RequestValidationError extends Error {
  readonly statusCode = 400;
  readonly code = 'FST_ERR_VALIDATION';
}

/**
 * Like fastify-type-provider-zod's validatorCompiler, but keeps the zod issue paths
 * so the message reads `sandbox_files[3].sandbox_path: must start with / or ~`.
 * Query-string and path fields are named as they are (`limit: ...`).
 */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema }) => {
  return (data) => {
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    return { error: new RequestValidationError(formatZodIssues(result.error)) };
  };
};
