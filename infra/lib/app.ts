// Builds the CDK app (used by bin/zagg.ts and by the tests, so both check the same thing).
import { App, AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig } from './config';
import { ZaggStack } from './zagg-stack';

export interface ZaggApp {
  readonly app: App;
  readonly stack: ZaggStack;
  /** The cdk-nag pack registered on the app (undefined with -c nag=off). */
  readonly nag?: AwsSolutionsChecks;
}

/**
 * Feature flags the stack relies on, set here rather than in cdk.json so that every way of
 * building the app (cdk synth, the tests) gets them.
 */
export const FEATURE_FLAGS = {
  // Server access logs are delivered under a bucket policy, not the LogDeliveryWrite ACL, so
  // the log bucket can enforce bucket-owner object ownership (ACLs disabled).
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
};

export function buildApp(props: AppProps = {}): ZaggApp {
  const app = new App({ ...props, postCliContext: { ...FEATURE_FLAGS, ...props.postCliContext } });
  const config = readConfig(app.node);
  const stack = new ZaggStack(app, config.stackName, {
    config,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: config.region },
  });
  let nag: AwsSolutionsChecks | undefined;
  if (config.nag) {
    // cdk-nag 3 is a policy-validation plugin: any finding not acknowledged (lib/nag.ts) stops
    // the synth. The acknowledgements are also written into the template's Metadata (cdk_nag).
    nag = new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true });
    Validations.of(app).addPlugins(nag);
  }
  return { app, stack, nag };
}
