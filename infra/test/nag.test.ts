// cdk-nag (AwsSolutions pack) over the whole stack: nothing left unacknowledged, every
// acknowledgement answers a real finding and gives its reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { buildApp } from '../lib/app';
import { minimal, placeholderAssets, synth, tempDir, variant } from './helpers';

const s = synth();

/** Every acknowledgement in the construct tree: [construct path, rule id, reason]. */
function acknowledgements(root: IConstruct): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const c of root.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        out.push([c.node.path, id.replace(/^annotation::/i, ''), reason]);
      }
    }
  }
  return out;
}

/** The pack's findings as if nothing were acknowledged: [rule id, resource path]. */
function rawFindings(scope: IConstruct): [string, string][] {
  const pack = new AwsSolutionsChecks();
  (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return pack.validateScope(scope).violations.flatMap((v) => v.violatingResources.map((r): [string, string] => [v.ruleName, r.constructPath ?? ""]));
}

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding, error or warning (cdk synth would stop on any)', () => {
    assert.ok(s.nag, 'the pack is registered by default');
    const report = s.nag!.validateScope(s.stack);
    const shown = report.violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath ?? '?').join(', ')}`);
    assert.deepEqual(shown, []);
    assert.equal(report.success, true);
  });

  it('passes as well with a concrete account, as cdk deploy synthesizes it', () => {
    const saved = process.env.CDK_DEFAULT_ACCOUNT;
    process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
    try {
      const z = synth();
      assert.equal(z.stack.account, '123456789012');
      assert.deepEqual(z.nag!.validateScope(z.stack).violations, []);
    } finally {
      if (saved === undefined) delete process.env.CDK_DEFAULT_ACCOUNT;
      else process.env.CDK_DEFAULT_ACCOUNT = saved;
    }
  });

  it('is not vacuous: it flags a bucket without TLS and a wildcard policy', () => {
    const app = new App();
    const bad = new Stack(app, 'Bad');
    const bucket = new s3.Bucket(bad, 'Open');
    const role = new iam.Role(bad, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    bucket.grantRead(role);
    const rules = new AwsSolutionsChecks().validateScope(bad).violations.map((v) => v.ruleName);
    for (const r of ['AwsSolutions-S1', 'AwsSolutions-S10', 'AwsSolutions-IAM5[Action::s3:*]', 'AwsSolutions-IAM5[Resource::*]']) {
      assert.ok(rules.includes(r), `${r} in ${rules.join(' ')}`);
    }
  });

  it('stops the synth (as cdk synth runs the app) on a finding nobody acknowledged', () => {
    const { app, stack } = buildApp({ context: { lambdaAssets: placeholderAssets() }, outdir: tempDir('out') });
    new s3.Bucket(stack, 'Unchecked');
    // CDK prints the validation report; keep it out of the test output, but check it.
    const printed: string[] = [];
    const saved = [console.error, console.log, process.stderr.write];
    console.error = console.log = (...a: unknown[]) => void printed.push(a.join(' '));
    process.stderr.write = ((chunk: string) => (printed.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      assert.throws(() => app.synth(), /Validation failed/);
    } finally {
      [console.error, console.log, process.stderr.write] = saved as [typeof console.error, typeof console.log, typeof process.stderr.write];
    }
    assert.match(printed.join('\n'), /Zagg\/Unchecked\/Resource[\s\S]*AwsSolutions-S1/);
  });

  it('acknowledges exactly the findings there are, each with a reason of its own', () => {
    const acks = acknowledgements(s.stack);
    assert.ok(acks.length > 0);
    const raw = rawFindings(s.stack);
    for (const [path, id, reason] of acks) {
      assert.ok(reason.length >= 60, `${id} at ${path}: reason too short: "${reason}"`);
      assert.ok(!/^(n\/?a|ok|todo|fine|not needed|false positive)\b/i.test(reason.trim()), `${id} at ${path}: "${reason}"`);
      // The finding is on this construct or one of its children (acknowledgements are inherited).
      assert.ok(
        raw.some(([rule, at]) => rule === id && (at === path || at.startsWith(`${path}/`))),
        `${id} at ${path} acknowledges nothing the pack reports`,
      );
    }
    for (const [rule, at] of raw) {
      assert.ok(
        acks.some(([path, id]) => id === rule && (at === path || at.startsWith(`${path}/`))),
        `finding ${rule} at ${at} is not acknowledged`,
      );
    }
    const ids = acks.map(([path, id]) => `${path} ${id}`);
    assert.equal(new Set(ids).size, ids.length, 'no duplicate acknowledgement');
  });

  it('acknowledges only SF1 (log level) and IAM5 findings on resources the reason names', () => {
    const rules = new Set(acknowledgements(s.stack).map(([, id]) => id.replace(/\[.*$/, '')));
    assert.deepEqual([...rules].sort(), ['AwsSolutions-IAM5', 'AwsSolutions-SF1']);
    const all = variant();
    assert.ok(!acknowledgements(all.stack).some(([, id]) => id === 'AwsSolutions-SF1'), 'no SF1 acknowledgement at level ALL');
    assert.deepEqual(all.nag!.validateScope(all.stack).violations, [], 'every setting away from its default passes too');
    assert.deepEqual(minimal().nag!.validateScope(minimal().stack).violations, [], 'and with the optional parts off');
  });

  it('writes the acknowledgements into the template metadata (audit trail)', () => {
    const withMetadata = Object.values(s.json.Resources).filter((r) => r.Metadata?.cdk_nag);
    assert.ok(withMetadata.length >= 6, `${withMetadata.length} resources`);
    for (const r of withMetadata) {
      for (const rule of r.Metadata.cdk_nag.rules_to_suppress) assert.ok(rule.reason.length >= 60, rule.id);
    }
  });
});
