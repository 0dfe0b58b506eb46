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

export function buildApp(props: AppProps = {}): ZaggApp {
  const app = new App(props);
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
