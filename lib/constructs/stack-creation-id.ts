import { Aws, Fn } from 'aws-cdk-lib';

/**
 * The first 8 hex digits of the stack's id: fixed for the stack's life, new for each stack
 * creation. Part of the name of every named resource that can outlive a failed first create
 * (deletion protection, retained vaults), so the retry never fails with "already exists".
 */
export function stackCreationId(): string {
  return Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
}
