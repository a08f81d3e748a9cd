/**
 * Log messages the deployment watches: a CloudWatch metric filter counts the lines whose `msg`
 * is one of these (lib/constructs/monitoring.ts), so the text is written once, here.
 */

/** RunTask refused or failed a sandbox launch (one line per capacity tried). */
export const SANDBOX_LAUNCH_REFUSED_MESSAGE = 'sandbox launch refused';
