// Settings of the zagg stack, read from CDK context (`-c key=value` on the command line, or
// the "context" of cdk.json). Every key has a default here, so `cdk synth` needs none of them;
// infra/README.md lists them.
import * as path from 'path';
import type { Node } from 'constructs';

/** The four Lambda binaries of the cargo workspace (`lambdas/`). */
export const LAMBDA_BINARIES = ['zagg-catalog', 'zagg-template', 'zagg-process', 'zagg-consolidate'] as const;
export type LambdaBinary = (typeof LAMBDA_BINARIES)[number];

/** The command that writes `target/lambda/<bin>/bootstrap` (repository root). */
export const BUILD_COMMAND = 'cargo lambda build --release --arm64';

/**
 * The AWS Parameters and Secrets Lambda Extension layer (arm64) in us-west-2, the default
 * region. AWS publishes one layer per region under its own account; the list (with newer
 * versions) is in the Secrets Manager user guide, "Use AWS Secrets Manager secrets in AWS
 * Lambda functions" → "AWS Parameters and Secrets Lambda Extension ARNs". In another region
 * pass `-c secretsExtensionLayerArn=arn:aws:lambda:<region>:<account>:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:<n>`.
 */
export const DEFAULT_SECRETS_EXTENSION_LAYER: Readonly<Record<string, string>> = {
  'us-west-2': 'arn:aws:lambda:us-west-2:345057560386:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:11',
};

/** Directory that holds infra/ (cdk.json, package.json). Relative paths are taken from here. */
export const INFRA_DIR = path.resolve(__dirname, '..');

export interface ZaggConfig {
  /** CloudFormation stack name. */
  readonly stackName: string;
  /** Region of the stack. NSIDC's ATL06 bucket is in us-west-2; `access: s3` only works there. */
  readonly region: string;
  /** Directory holding `<bin>/bootstrap` for each of the four binaries (absolute). */
  readonly lambdaAssets: string;
  /** Name of the state machine (its ARN is built from it, so the role can name its own executions). */
  readonly stateMachineName: string;
  /** Key prefix of the bucket under which stores (and their catalogs and run records) live; ends with `/`. */
  readonly storesPrefix: string;
  /** Key prefix for catalogs written elsewhere than the store (`catalog_prefix`); transient; ends with `/`. */
  readonly catalogsPrefix: string;
  /** Key prefix of the Distributed Map's ResultWriter (`${ResultsPrefix}`); transient; no trailing `/`. */
  readonly resultsPrefix: string;
  /** Days after which objects under the transient prefixes expire. */
  readonly transientDays: number;
  /** Earthdata Login secret: a name (`zagg/earthdata`) or a complete secret ARN. */
  readonly earthdataSecret: string;
  /** Layer ARN of the Parameters and Secrets Lambda Extension (arm64) in `region`. */
  readonly secretsExtensionLayerArn: string;
  /** Reserved concurrency of the process Lambda, or undefined for none (unreserved pool). */
  readonly processReservedConcurrency: number | undefined;
  /** EventBridge Scheduler expression, or undefined when the schedule is disabled. */
  readonly scheduleExpression: string | undefined;
  /** Store the scheduled executions write (`{cycle}` filled in by the execution); `{bucket}` is replaced by the bucket name. */
  readonly scheduleStore: string;
  /** Alarm when a run's FailedShardPercentage exceeds this. */
  readonly failedShardAlarmPercent: number;
  /** Optional e-mail address subscribed to the alarm topic. */
  readonly alarmEmail: string | undefined;
  /** Step Functions log level: ALL, ERROR, FATAL or OFF. */
  readonly sfnLogLevel: 'ALL' | 'ERROR' | 'FATAL' | 'OFF';
  /** Days Lambda and Step Functions logs are kept. */
  readonly logRetentionDays: number;
  /** Run the cdk-nag AwsSolutions checks on synth (bin/zagg.ts). */
  readonly nag: boolean;
}

/** Context keys this app reads, with their defaults (as strings, the way `-c` passes them). */
export const CONTEXT_DEFAULTS: Readonly<Record<string, string>> = {
  stackName: 'Zagg',
  region: 'us-west-2',
  lambdaAssets: '../target/lambda',
  stateMachineName: 'zagg',
  storesPrefix: 'atl06/',
  catalogsPrefix: 'catalogs/',
  resultsPrefix: 'map-results',
  transientDays: '14',
  earthdataSecretName: 'zagg/earthdata',
  processReservedConcurrency: '500',
  scheduleExpression: 'rate(1 day)',
  scheduleStore: 's3://{bucket}/atl06/c{cycle}.zarr',
  failedShardAlarmPercent: '1',
  sfnLogLevel: 'ERROR',
  logRetentionDays: '30',
  nag: 'true',
};

/** Values that turn an optional feature off (`-c scheduleExpression=off`). */
const OFF = new Set(['', 'off', 'none', 'false', 'disabled']);

function text(node: Node, key: string): string | undefined {
  const v = node.tryGetContext(key);
  if (v === undefined || v === null) return CONTEXT_DEFAULTS[key];
  return String(v);
}

function integer(node: Node, key: string, min: number, max: number): number {
  const raw = text(node, key)!;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`context ${key}=${raw}: expected an integer from ${min} to ${max}`);
  }
  return n;
}

function prefix(node: Node, key: string, trailingSlash: boolean): string {
  const raw = text(node, key)!;
  const p = raw.replace(/^\/+/, '').replace(/\/+$/, '');
  if (p === '' || !/^[A-Za-z0-9!_.'()\/-]+$/.test(p) || p.includes('*')) {
    throw new Error(`context ${key}=${raw}: expected a non-empty S3 key prefix such as "atl06/"`);
  }
  return trailingSlash ? `${p}/` : p;
}

/** Read and check every setting. Throws with the offending key and value. */
export function readConfig(node: Node): ZaggConfig {
  const region = text(node, 'region')!;
  const secretArn = node.tryGetContext('earthdataSecretArn');
  const earthdataSecret = secretArn ? String(secretArn) : text(node, 'earthdataSecretName')!;
  const layer = node.tryGetContext('secretsExtensionLayerArn') ?? DEFAULT_SECRETS_EXTENSION_LAYER[region];
  if (!layer) {
    throw new Error(
      `no default Parameters and Secrets Lambda Extension layer for region ${region}: pass ` +
        '-c secretsExtensionLayerArn=arn:aws:lambda:<region>:<account>:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:<version> ' +
        '(the list is in the AWS Secrets Manager user guide)',
    );
  }
  if (!String(layer).startsWith(`arn:aws:lambda:${region}:`) || !String(layer).includes('Arm64')) {
    throw new Error(`context secretsExtensionLayerArn=${layer}: expected the arm64 layer of region ${region}`);
  }
  const concurrency = text(node, 'processReservedConcurrency')!;
  const schedule = text(node, 'scheduleExpression')!;
  if (!OFF.has(schedule.toLowerCase()) && !/^(rate|cron|at)\(.+\)$/.test(schedule)) {
    throw new Error(`context scheduleExpression=${schedule}: expected rate(…), cron(…) or off`);
  }
  const level = text(node, 'sfnLogLevel')!.toUpperCase();
  if (!['ALL', 'ERROR', 'FATAL', 'OFF'].includes(level)) {
    throw new Error(`context sfnLogLevel=${level}: expected ALL, ERROR, FATAL or OFF`);
  }
  const threshold = Number(text(node, 'failedShardAlarmPercent'));
  if (!(threshold >= 0 && threshold <= 100)) {
    throw new Error(`context failedShardAlarmPercent=${text(node, 'failedShardAlarmPercent')}: expected 0 to 100`);
  }
  const email = node.tryGetContext('alarmEmail');
  return {
    stackName: text(node, 'stackName')!,
    region,
    lambdaAssets: path.resolve(INFRA_DIR, text(node, 'lambdaAssets')!),
    stateMachineName: text(node, 'stateMachineName')!,
    storesPrefix: prefix(node, 'storesPrefix', true),
    catalogsPrefix: prefix(node, 'catalogsPrefix', true),
    resultsPrefix: prefix(node, 'resultsPrefix', false),
    transientDays: integer(node, 'transientDays', 1, 3650),
    earthdataSecret,
    secretsExtensionLayerArn: String(layer),
    processReservedConcurrency: OFF.has(concurrency.toLowerCase())
      ? undefined
      : integer(node, 'processReservedConcurrency', 1, 10000),
    scheduleExpression: OFF.has(schedule.toLowerCase()) ? undefined : schedule,
    scheduleStore: text(node, 'scheduleStore')!,
    failedShardAlarmPercent: threshold,
    alarmEmail: email ? String(email) : undefined,
    sfnLogLevel: level as ZaggConfig['sfnLogLevel'],
    logRetentionDays: integer(node, 'logRetentionDays', 1, 3653),
    nag: !OFF.has(text(node, 'nag')!.toLowerCase()),
  };
}
