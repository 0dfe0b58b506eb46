#!/usr/bin/env node
// The CDK app: one ZaggStack, checked by cdk-nag (AwsSolutions) unless -c nag=off.
import { buildApp } from '../lib/app';
import { MissingLambdaAssetError } from '../lib/zagg-stack';

try {
  buildApp();
} catch (e) {
  // A missing build or a bad -c value: the message says what to do; a stack trace would not.
  if (e instanceof MissingLambdaAssetError || (e instanceof Error && e.message.startsWith('context '))) {
    console.error(`zagg infra: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
