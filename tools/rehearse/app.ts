/**
 * The CDK app the rehearsal synthesizes: `config/dev.json` in the production shape, with
 * `sandbox.egress` "enforced" (the egress gateway, sandboxes in subnets with no route out) and
 * `platform.services` "split" (separate web and worker services, roles and security groups), the
 * production defaults, so the rehearsal runs what a production deploy runs on the dev profile it
 * can stand in for (one region, plain HTTP, no domain). Run by the CDK CLI
 * (`cdk synth --app "node --import tsx tools/rehearse/app.ts"`), which applies cdk.json's context
 * as it does for bin/lap.ts; the stack is the one bin/lap.ts builds for dev, `lap-dev`, with
 * those two fields changed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { exitOnConfigError, resolveConfig } from '../../lib/config';
import { createEnvironment } from '../../lib/create-environment';

export const REHEARSAL_ENV = 'dev';

const app = new App({ builtinCloudFormationValidation: false });
const file = path.join(__dirname, '..', '..', 'config', `${REHEARSAL_ENV}.json`);
const input = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<
  string,
  Record<string, unknown> | undefined
>;
exitOnConfigError(() =>
  createEnvironment(
    app,
    resolveConfig(
      REHEARSAL_ENV,
      {
        ...input,
        sandbox: { ...input.sandbox, egress: 'enforced' },
        platform: { ...input.platform, services: 'split' },
      },
      `config/${REHEARSAL_ENV}.json with sandbox.egress "enforced" and platform.services "split" (tools/rehearse/app.ts)`,
    ),
  ),
);
app.synth();
