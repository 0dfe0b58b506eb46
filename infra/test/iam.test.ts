// IAM: no "*" where a narrower action or resource exists; each role may do exactly its job.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityStatements, list, resourcesOf, synth, text, variant, VARIANT } from './helpers';

const s = synth();
const statements = identityStatements(s);
const bucket = s.logicalId(s.stack.bucket);
const fnIds = Object.fromEntries(Object.entries(s.stack.functions).map(([bin, fn]) => [bin, s.logicalId(fn)]));
const roleOf = (bin: string) => s.json.Resources[fnIds[bin]].Properties.Role['Fn::GetAtt'][0];
const smRole = s.logicalId(s.stack.stateMachineRole);
const sm = s.logicalId(s.stack.stateMachine);

/** Actions AWS offers no resource-level permission for; "*" is the only resource they take. */
const STAR_RESOURCE_ACTIONS: Record<string, string> = {
  'xray:PutTraceSegments': 'X-Ray tracing of the state machine (no resource types)',
  'xray:PutTelemetryRecords': 'X-Ray tracing (no resource types)',
  'xray:GetSamplingRules': 'X-Ray tracing (no resource types)',
  'xray:GetSamplingTargets': 'X-Ray tracing (no resource types)',
  'logs:CreateLogDelivery': 'CloudWatch Logs vended delivery for Step Functions logging (AWS requires "*")',
  'logs:GetLogDelivery': 'vended log delivery (AWS requires "*")',
  'logs:UpdateLogDelivery': 'vended log delivery (AWS requires "*")',
  'logs:DeleteLogDelivery': 'vended log delivery (AWS requires "*")',
  'logs:ListLogDeliveries': 'vended log delivery (AWS requires "*")',
  'logs:PutResourcePolicy': 'vended log delivery (AWS requires "*")',
  'logs:DescribeResourcePolicies': 'vended log delivery (AWS requires "*")',
  'logs:DescribeLogGroups': 'vended log delivery (AWS requires "*")',
};

/** Every resource with a wildcard, as text, and why it is as narrow as it can be. */
const WILDCARD_RESOURCES: [RegExp, string][] = [
  [new RegExp(`^<${bucket}\\.Arn>/(atl06|catalogs|map-results)/\\*$`), 'objects under one prefix of the stack bucket'],
  [/^<(Catalog|Template|Process|Consolidate)[0-9A-F]{8}\.Arn>:\*$/, 'versions and aliases of one zagg function'],
  [/^arn:<AWS::Partition>:states:us-west-2:<AWS::AccountId>:execution:zagg(:|\/|\/Shards:)\*$/, "the state machine's own executions"],
  [/^arn:<AWS::Partition>:secretsmanager:us-west-2:<AWS::AccountId>:secret:zagg\/earthdata-\?\?\?\?\?\?$/, 'the secret by name: its 6-character suffix'],
];

describe('identity policies', () => {
  it('exist (the walk sees every role)', () => {
    assert.ok(statements.length > 20, `${statements.length} statements`);
    const roles = new Set(statements.map((x) => x.role));
    for (const bin of Object.keys(fnIds)) assert.ok(roles.has(roleOf(bin)), bin);
    assert.ok(roles.has(smRole));
  });

  it('never allow Action "*" or a service wildcard', () => {
    for (const { owner, statement } of statements) {
      assert.equal(statement.Effect, 'Allow', owner);
      for (const action of list(statement.Action)) {
        assert.ok(!action.includes('*'), `${owner}: action ${action}`);
      }
    }
  });

  it('use Resource "*" only for actions that take no resource', () => {
    for (const { owner, statement } of statements) {
      if (list(statement.Resource).some((r) => r === '*')) {
        for (const action of list(statement.Action)) {
          assert.ok(STAR_RESOURCE_ACTIONS[action], `${owner}: ${action} on "*" has a narrower resource`);
        }
        assert.equal(owner.startsWith('StateMachineRole'), true, `${owner}: only the state machine's logging/tracing`);
      }
    }
  });

  it('have every other wildcard resource on an allow-list with its reason', () => {
    for (const { owner, statement } of statements) {
      for (const r of list(statement.Resource).map(text)) {
        if (r === '*' || !r.includes('*') && !r.includes('?')) continue;
        assert.ok(WILDCARD_RESOURCES.some(([re]) => re.test(r)), `${owner}: wildcard resource ${r}`);
      }
    }
  });

  it('attach no managed policy to any role', () => {
    for (const [id, p] of resourcesOf(s, 'AWS::IAM::Role')) assert.equal(p.ManagedPolicyArns, undefined, id);
  });
});

/** Actions → resources granted to one role (merged across its policies). */
function grants(role: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const { role: r, statement } of statements) {
    if (r !== role) continue;
    for (const a of list(statement.Action)) {
      const set = out.get(a) ?? new Set<string>();
      for (const res of list(statement.Resource)) set.add(text(res));
      out.set(a, set);
    }
  }
  return out;
}
const sorted = (set: Set<string> | undefined) => [...(set ?? [])].sort();

describe('state machine role', () => {
  const g = grants(smRole);

  it('may invoke exactly the four functions (and their versions)', () => {
    const expected = Object.values(fnIds).flatMap((id) => [`<${id}.Arn>`, `<${id}.Arn>:*`]).sort();
    assert.deepEqual(sorted(g.get('lambda:InvokeFunction')), expected);
  });

  it('runs its Distributed Map: child executions of itself only', () => {
    const self = 'arn:<AWS::Partition>:states:us-west-2:<AWS::AccountId>';
    assert.deepEqual(sorted(g.get('states:StartExecution')), [`${self}:stateMachine:zagg`]);
    assert.deepEqual(sorted(g.get('states:DescribeExecution')), [`${self}:execution:zagg/*`, `${self}:execution:zagg:*`]);
    assert.deepEqual(sorted(g.get('states:StopExecution')), [`${self}:execution:zagg/*`, `${self}:execution:zagg:*`]);
    assert.deepEqual(sorted(g.get('states:RedriveExecution')), [`${self}:execution:zagg/Shards:*`]);
  });

  it('reads catalog.json (ItemReader) and writes map results (ResultWriter), nothing else in S3', () => {
    const prefix = (p: string) => `<${bucket}.Arn>/${p}/*`;
    assert.deepEqual(sorted(g.get('s3:GetObject')), [prefix('atl06'), prefix('catalogs'), prefix('map-results')]);
    for (const a of ['s3:PutObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload']) {
      assert.deepEqual(sorted(g.get(a)), [prefix('map-results')], a);
    }
    const s3Actions = [...g.keys()].filter((a) => a.startsWith('s3:')).sort();
    assert.deepEqual(s3Actions, ['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject']);
  });

  it('has nothing beyond Lambda, its executions, S3 and logging/tracing', () => {
    for (const a of g.keys()) {
      assert.ok(/^(lambda:InvokeFunction|states:|s3:)/.test(a) || STAR_RESOURCE_ACTIONS[a], a);
    }
  });

  it('is assumed by Step Functions only', () => {
    const trust = s.json.Resources[smRole].Properties.AssumeRolePolicyDocument.Statement;
    assert.deepEqual(trust.map((st: any) => st.Principal), [{ Service: 'states.amazonaws.com' }]);
  });
});

describe('Lambda roles', () => {
  const prefix = (p: string) => `<${bucket}.Arn>/${p}/*`;
  const rw = ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'];

  for (const bin of ['zagg-catalog', 'zagg-template', 'zagg-process', 'zagg-consolidate']) {
    it(`${bin}: its own log group, the stores prefix, nothing more than its stage needs`, () => {
      const g = grants(roleOf(bin));
      const logGroup = s.json.Resources[fnIds[bin]].Properties.LoggingConfig.LogGroup.Ref;
      assert.deepEqual(sorted(g.get('logs:CreateLogStream')), [`<${logGroup}.Arn>`]);
      assert.deepEqual(sorted(g.get('logs:PutLogEvents')), [`<${logGroup}.Arn>`]);
      assert.deepEqual(sorted(g.get('s3:ListBucket')), [`<${bucket}.Arn>`]);
      const expected: Record<string, string[]> = {
        'zagg-catalog': [prefix('atl06'), prefix('catalogs')],
        'zagg-template': [prefix('atl06')],
        'zagg-process': [prefix('atl06')],
        'zagg-consolidate': [prefix('atl06')],
      };
      for (const a of ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload']) {
        assert.deepEqual(sorted(g.get(a)), expected[bin], `${bin} ${a}`);
      }
      const reads = bin === 'zagg-consolidate' ? [prefix('atl06'), prefix('catalogs'), prefix('map-results')] : expected[bin];
      assert.deepEqual(sorted(g.get('s3:GetObject')), reads.sort(), `${bin} s3:GetObject`);
      const allowed = new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 's3:ListBucket', ...rw]);
      if (bin === 'zagg-process') allowed.add('secretsmanager:GetSecretValue');
      for (const a of g.keys()) assert.ok(allowed.has(a), `${bin}: unexpected ${a}`);
      const trust = s.json.Resources[roleOf(bin)].Properties.AssumeRolePolicyDocument.Statement;
      assert.deepEqual(trust.map((st: any) => st.Principal), [{ Service: 'lambda.amazonaws.com' }]);
    });
  }

  it('only process may read the Earthdata secret, and only GetSecretValue on it', () => {
    const readers = statements.filter(({ statement }) => list(statement.Action).some((a) => a.startsWith('secretsmanager:')));
    assert.deepEqual([...new Set(readers.map((x) => x.role))], [roleOf('zagg-process')]);
    assert.deepEqual(
      readers.map(({ statement }) => [list(statement.Action), list(statement.Resource).map(text)]),
      [[['secretsmanager:GetSecretValue'], ['arn:<AWS::Partition>:secretsmanager:us-west-2:<AWS::AccountId>:secret:zagg/earthdata-??????']]],
    );
    const arn = VARIANT.earthdataSecretArn;
    const exact = identityStatements(variant()).filter(({ statement }) =>
      list(statement.Action).includes('secretsmanager:GetSecretValue'),
    );
    assert.deepEqual(exact.map(({ statement }) => statement.Resource), [arn]);
  });

  it('honour the stores prefix from context', () => {
    const other = variant();
    const b = other.logicalId(other.stack.bucket);
    const resources = identityStatements(other).flatMap(({ statement }) => list(statement.Resource).map(text));
    assert.ok(resources.includes(`<${b}.Arn>/stores/atl06/*`));
    assert.ok(!resources.some((r) => r.includes('/atl06/*') && !r.includes('/stores/atl06/*')));
  });
});

describe('schedule role', () => {
  it('may start executions of this state machine and nothing else', () => {
    const [[scheduleId, schedule]] = resourcesOf(s, 'AWS::Scheduler::Schedule');
    const role = schedule.Target.RoleArn['Fn::GetAtt'][0];
    const g = grants(role);
    assert.deepEqual([...g.keys()], ['states:StartExecution'], scheduleId);
    assert.deepEqual(sorted(g.get('states:StartExecution')), [`<${sm}>`]);
    const trust = s.json.Resources[role].Properties.AssumeRolePolicyDocument.Statement;
    assert.deepEqual(trust.map((st: any) => st.Principal), [{ Service: 'scheduler.amazonaws.com' }]);
  });
});
