// Shared by the tests: synthesize the app as bin/zagg.ts does, against placeholder bootstrap
// files (the asset bytes do not matter to the template), in temporary directories removed at exit.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp, ZaggApp } from '../lib/app';
import { LAMBDA_BINARIES } from '../lib/config';

const temporaries: string[] = [];
process.on('exit', () => {
  for (const dir of temporaries) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zagg-infra-${label}-`));
  temporaries.push(dir);
  return dir;
}

/** A directory holding `<bin>/bootstrap` placeholders for the given binaries (default: all four). */
export function placeholderAssets(bins: readonly string[] = LAMBDA_BINARIES): string {
  const dir = tempDir('assets');
  for (const bin of bins) {
    fs.mkdirSync(path.join(dir, bin));
    fs.writeFileSync(path.join(dir, bin, 'bootstrap'), `#!/bin/sh\n# placeholder for ${bin}\n`, { mode: 0o755 });
  }
  return dir;
}

export interface Synth extends ZaggApp {
  readonly template: Template;
  readonly json: { Resources: Record<string, { Type: string; Properties: any; Metadata?: any }>; Outputs: Record<string, any> };
  /** Logical ID of a construct's CloudFormation resource. */
  logicalId(c: IConstruct): string;
}

/** Build the app as bin/zagg.ts does, with `context` (as -c would give it), and synthesize its stack. */
export function synth(context: Record<string, unknown> = {}): Synth {
  const z = buildApp({
    context: { lambdaAssets: placeholderAssets(), ...context },
    outdir: tempDir('out'),
  });
  const template = Template.fromStack(z.stack);
  return {
    ...z,
    template,
    json: template.toJSON() as Synth['json'],
    logicalId: (c: IConstruct) => z.stack.getLogicalId((c.node.defaultChild ?? c) as CfnElement),
  };
}

/** Resources of one type: [logicalId, properties]. */
export function resourcesOf(s: Synth, type: string): [string, any][] {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties]);
}

export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Condition?: unknown;
  readonly Sid?: string;
}

/** Every statement of every identity policy: AWS::IAM::Policy documents and roles' inline policies. */
export function identityStatements(s: Synth): { owner: string; role: string; statement: Statement }[] {
  const out: { owner: string; role: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(s.json.Resources)) {
    if (r.Type === 'AWS::IAM::Policy') {
      for (const role of r.Properties.Roles ?? []) {
        for (const st of r.Properties.PolicyDocument.Statement) out.push({ owner: id, role: role.Ref, statement: st });
      }
    }
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of r.Properties.Policies ?? []) {
        for (const st of p.PolicyDocument.Statement) out.push({ owner: id, role: id, statement: st });
      }
    }
  }
  return out;
}

export const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** A CloudFormation value as text: `<Logical.Arn>`, `<Ref>`, joins flattened (as cdk-nag prints them). */
export function text(v: unknown): string {
  if (typeof v === 'string') return v;
  const o = v as Record<string, any>;
  if (o.Ref !== undefined) return `<${o.Ref}>`;
  if (o['Fn::GetAtt'] !== undefined) return `<${o['Fn::GetAtt'].join('.')}>`;
  if (o['Fn::Join'] !== undefined) return o['Fn::Join'][1].map(text).join(o['Fn::Join'][0]);
  if (o['Fn::Sub'] !== undefined) return String(o['Fn::Sub']);
  throw new Error(`cannot flatten ${JSON.stringify(v)}`);
}

/** One synth with every setting away from its default (cached per test process). */
export const VARIANT = {
  processReservedConcurrency: '200',
  logRetentionDays: '90',
  sfnLogLevel: 'ALL',
  failedShardAlarmPercent: '5',
  alarmEmail: 'ops@example.org',
  earthdataSecretArn: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:team/edl-AbC123',
  scheduleExpression: 'cron(0 6 ? * MON *)',
  storesPrefix: 'stores/atl06',
  scheduleStore: 's3://{bucket}/stores/atl06/basins/c{cycle}.zarr',
} as const;

/** One synth with the optional parts off, in another region. */
export const MINIMAL = {
  processReservedConcurrency: 'none',
  scheduleExpression: 'off',
  region: 'eu-west-1',
  secretsExtensionLayerArn: 'arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:12',
} as const;

let variantSynth: Synth | undefined;
let minimalSynth: Synth | undefined;
export const variant = (): Synth => (variantSynth ??= synth(VARIANT));
export const minimal = (): Synth => (minimalSynth ??= synth(MINIMAL));
