#!/usr/bin/env node
/**
 * CDK entry point: `npx cdk synth -c env=<name>` (default dev) loads config/<name>.json and
 * builds the environment's stack, `lap-<name>`. A bad config stops here with every bad field listed.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config';
import { createEnvironment } from '../lib/create-environment';

const app = new App();
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
