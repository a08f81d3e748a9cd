#!/usr/bin/env node
/**
 * CDK entry point: `npx cdk synth -c env=<name>` (default dev) loads config/<name>.json and
 * builds the environment's stack, `lap-<name>`. A bad config stops here with every bad field listed.
 */
import { App } from 'aws-cdk-lib';
import { exitOnConfigError, loadConfig } from '../lib/config';
import { createEnvironment } from '../lib/create-environment';

// CloudFormation's own schema checks run as cfn-lint in the tests, over every config and
// variant (test/infra/cfn-lint.test.ts): the built-in validator would repeat them on every synth.
const app = new App({ builtinCloudFormationValidation: false });
const envName = (app.node.tryGetContext('env') as string | undefined) ?? 'dev';
exitOnConfigError(() => createEnvironment(app, loadConfig(envName)));
app.synth();
