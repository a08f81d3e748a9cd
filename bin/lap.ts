#!/usr/bin/env node
/**
 * CDK entry point: `npx cdk synth -c env=<name>` (default dev) loads config/<name>.json and
 * builds the environment's stack, `lap-<name>`. A bad config stops here with every bad field listed.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config';
import { createEnvironment } from '../lib/create-environment';

// CloudFormation's own schema checks run as cfn-lint in the tests, over every config and
// variant (test/infra/cfn-lint.test.ts): the built-in validator would repeat them on every synth.
const app = new App({ builtinCloudFormationValidation: false });
const envName = (app.node.tryGetContext('env') as string | undefined) ?? 'dev';
try {
  createEnvironment(app, loadConfig(envName));
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
app.synth();
