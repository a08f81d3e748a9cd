/**
 * A small IAM policy evaluator for identity policies and permissions boundaries: action and
 * resource wildcards, NotAction/NotResource, the condition operators the LAP policies use
 * (String*, Arn*, Null, Bool, with IfExists and ForAnyValue/ForAllValues), explicit deny over
 * allow, and a boundary that must allow too. Enough to decide offline whether a deploy call is
 * allowed; not a replacement for the IAM policy simulator.
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
}

export interface Request {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

function glob(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, caseInsensitive ? 'i' : '').test(value);
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : [v].flat());

function conditionHolds(
  operatorWithModifiers: string,
  key: string,
  expected: string[],
  context: Request['context'],
): boolean {
  let operator = operatorWithModifiers;
  let setOperator: 'any' | 'all' | undefined;
  if (operator.startsWith('ForAnyValue:')) [setOperator, operator] = ['any', operator.slice(12)];
  if (operator.startsWith('ForAllValues:')) [setOperator, operator] = ['all', operator.slice(13)];
  const ifExists = operator.endsWith('IfExists');
  if (ifExists) operator = operator.slice(0, -8);
  const actual = context?.[key];
  if (operator === 'Null') return (actual === undefined) === (expected[0] === 'true');
  const negated = /Not/.test(operator);
  if (actual === undefined) return negated || ifExists || setOperator === 'all';
  const values = list(actual);
  const match = (value: string) =>
    expected.some((e) => {
      switch (operator.replace('Not', '')) {
        case 'StringEquals':
        case 'ArnEquals':
          return e === value;
        case 'StringEqualsIgnoreCase':
          return e.toLowerCase() === value.toLowerCase();
        case 'StringLike':
        case 'ArnLike':
          return glob(e, value, false);
        case 'Bool':
          return e === value;
        default:
          throw new Error(`condition operator ${operatorWithModifiers} is not supported by the evaluator`);
      }
    });
  if (setOperator === 'all') return values.every((v) => (negated ? !match(v) : match(v)));
  const any = values.some(match);
  return negated ? !any : any;
}

function statementMatches(statement: PolicyStatement, request: Request): boolean {
  const actionMatch = (patterns: string[]) => patterns.some((p) => glob(p, request.action, true));
  if (statement.Action !== undefined && !actionMatch(list(statement.Action))) return false;
  if (statement.NotAction !== undefined && actionMatch(list(statement.NotAction))) return false;
  const resourceMatch = (patterns: string[]) => patterns.some((p) => glob(p, request.resource, false));
  if (statement.Resource !== undefined && !resourceMatch(list(statement.Resource))) return false;
  if (statement.NotResource !== undefined && resourceMatch(list(statement.NotResource))) return false;
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    for (const [key, expected] of Object.entries(keys)) {
      if (!conditionHolds(operator, key, list(expected), request.context)) return false;
    }
  }
  return true;
}

export type Decision = 'allowed' | 'explicitly denied' | 'not allowed';

/** The decision of a set of identity policies alone. */
export function evaluate(policies: PolicyDocument[], request: Request): Decision {
  const statements = policies.flatMap((p) => p.Statement);
  if (statements.some((s) => s.Effect === 'Deny' && statementMatches(s, request))) return 'explicitly denied';
  return statements.some((s) => s.Effect === 'Allow' && statementMatches(s, request))
    ? 'allowed'
    : 'not allowed';
}

/** The decision for a role with `policies` and, when given, a permissions boundary. */
export function evaluateRole(
  role: { policies: PolicyDocument[]; boundary?: PolicyDocument },
  request: Request,
): Decision {
  const identity = evaluate(role.policies, request);
  if (identity !== 'allowed' || !role.boundary) return identity;
  return evaluate([role.boundary], request);
}
