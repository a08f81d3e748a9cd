import type { z } from 'zod';

type PathSegment = PropertyKey;

/** `sandbox_files[3].sandbox_path`, `env_vars.PORT`, `env_vars["bad key"]`. */
export function formatIssuePath(path: readonly PathSegment[], root?: string): string {
  let out = root ?? '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment))
      out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out || 'body';
}

// zod's default wording for a missing field is "expected string, received undefined".
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'is required';
  return issue.message;
}

/** One line naming each failing field and its rule: `env_vars: at most 50 keys; model: is required`. */
export function formatZodIssues(error: z.ZodError, root?: string, maxIssues = 5): string {
  const lines = error.issues
    .slice(0, maxIssues)
    .map((i) => `${formatIssuePath(i.path, root)}: ${issueMessage(i)}`);
  if (error.issues.length > maxIssues) lines.push(`(${error.issues.length - maxIssues} more)`);
  return lines.join('; ');
}
