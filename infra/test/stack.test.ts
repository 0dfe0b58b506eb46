// Resources of the stack: bucket, Lambdas, state machine settings, alarms, dashboard, outputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { LAMBDA_SIZING } from '../lib/zagg-stack';
import { MINIMAL, minimal, resourcesOf, synth, text, variant, VARIANT } from './helpers';

const s = synth();
const bucketId = s.logicalId(s.stack.bucket);

describe('bucket', () => {
  it('blocks public access, encrypts, requires TLS, is retained', () => {
    const [, accessLogs] = resourcesOf(s, 'AWS::S3::Bucket').filter(([id]) => id !== bucketId)[0] ?? [];
    assert.ok(accessLogs, 'a separate server-access-log bucket');
    for (const [id, props] of resourcesOf(s, 'AWS::S3::Bucket')) {
      assert.deepEqual(
        props.PublicAccessBlockConfiguration,
        { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        id,
      );
      assert.equal(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256', id);
      assert.equal(s.json.Resources[id].Type, 'AWS::S3::Bucket');
      assert.equal((s.json.Resources[id] as any).DeletionPolicy, 'Retain', `${id} is retained`);
      assert.equal((s.json.Resources[id] as any).UpdateReplacePolicy, 'Retain', `${id} is retained on replacement`);
    }
    // enforceSSL: a Deny on aws:SecureTransport=false, and TLS 1.2 at least, on both buckets.
    const policies = resourcesOf(s, 'AWS::S3::BucketPolicy');
    assert.equal(policies.length, 2);
    for (const [id, p] of policies) {
      const deny = p.PolicyDocument.Statement.filter((st: any) => st.Effect === 'Deny');
      assert.ok(deny.some((st: any) => st.Condition?.Bool?.['aws:SecureTransport'] === 'false'), `${id}: SSL enforced`);
      assert.ok(deny.some((st: any) => st.Condition?.NumericLessThan?.['s3:TlsVersion'] === 1.2), `${id}: TLS >= 1.2`);
      assert.ok(!p.PolicyDocument.Statement.some((st: any) => st.Effect === 'Allow' && st.Principal === '*'), `${id}: nothing public`);
    }
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'data-bucket/' },
    });
  });

  it('expires the transient prefixes (catalogs, map results) and nothing else', () => {
    const rules = s.json.Resources[bucketId].Properties.LifecycleConfiguration.Rules;
    const expiring = rules.filter((r: any) => r.ExpirationInDays !== undefined);
    assert.deepEqual(
      expiring.map((r: any) => [r.Prefix, r.ExpirationInDays]).sort(),
      [
        ['catalogs/', 14],
        ['map-results/', 14],
      ],
    );
    assert.ok(rules.some((r: any) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation === 1 && r.Prefix === undefined));
  });

  it('refuses overlapping prefixes (a lifecycle rule would expire stores)', () => {
    assert.throws(() => synth({ storesPrefix: 'catalogs/atl06/' }), /must be disjoint/);
    assert.throws(() => synth({ scheduleStore: 's3://{bucket}/elsewhere/c{cycle}.zarr' }), /must start with s3:\/\/\{bucket\}\/atl06\//);
  });
});

describe('lambdas', () => {
  const functions = resourcesOf(s, 'AWS::Lambda::Function');
  const byName = Object.fromEntries(
    Object.entries(s.stack.functions).map(([bin, fn]) => [bin, s.json.Resources[s.logicalId(fn)].Properties]),
  );

  it('are exactly the four, arm64 on provided.al2023 from the bootstrap assets', () => {
    assert.equal(functions.length, 4);
    for (const [id, p] of functions) {
      assert.deepEqual(p.Architectures, ['arm64'], id);
      assert.equal(p.Runtime, 'provided.al2023', id);
      assert.equal(p.Handler, 'bootstrap', id);
      assert.ok(p.Code.S3Key.endsWith('.zip'), `${id}: a zip asset`);
    }
  });

  it('have the memory and timeout chosen in LAMBDA_SIZING', () => {
    const expected = {
      'zagg-process': [2048, 900],
      'zagg-catalog': [1024, 300],
      'zagg-template': [512, 60],
      'zagg-consolidate': [1024, 300],
    };
    for (const [bin, [memory, timeout]] of Object.entries(expected)) {
      assert.equal(byName[bin].MemorySize, memory, bin);
      assert.equal(byName[bin].Timeout, timeout, bin);
      const sizing = LAMBDA_SIZING[bin as keyof typeof LAMBDA_SIZING];
      assert.equal(sizing.memoryMiB, memory);
      assert.equal(sizing.timeout.toSeconds(), timeout);
    }
  });

  it('log as JSON to their own log group, kept 30 days', () => {
    const groups = Object.fromEntries(resourcesOf(s, 'AWS::Logs::LogGroup'));
    for (const [bin, p] of Object.entries(byName)) {
      assert.equal(p.LoggingConfig.LogFormat, 'JSON', bin);
      assert.equal(p.Environment.Variables.RUST_LOG, 'info', bin);
      const group = groups[p.LoggingConfig.LogGroup.Ref];
      assert.ok(group, `${bin}: log group in the stack`);
      assert.equal(group.RetentionInDays, 30, bin);
    }
    const ninety = variant().template.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 90 } });
    assert.equal(Object.keys(ninety).length, 5, 'four Lambda groups and the state machine group');
    assert.throws(() => synth({ logRetentionDays: '31' }), /logRetentionDays=31/);
  });

  it('cap the process Lambda with reserved concurrency (context), and only it', () => {
    assert.equal(byName['zagg-process'].ReservedConcurrentExecutions, 500);
    for (const bin of ['zagg-catalog', 'zagg-template', 'zagg-consolidate']) {
      assert.equal(byName[bin].ReservedConcurrentExecutions, undefined, bin);
    }
    variant().template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 2048, ReservedConcurrentExecutions: 200 });
    assert.equal(Object.keys(minimal().template.findResources('AWS::Lambda::Function', { Properties: { ReservedConcurrentExecutions: Match.anyValue() } })).length, 0);
  });

  it('give the process Lambda the secret (referenced, never created) through the extension layer', () => {
    const p = byName['zagg-process'];
    assert.equal(p.Environment.Variables.ZAGG_EARTHDATA_SECRET_ARN, 'zagg/earthdata');
    assert.deepEqual(p.Layers, [
      'arn:aws:lambda:us-west-2:345057560386:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:11',
    ]);
    assert.equal(p.Environment.Variables.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, '2773');
    for (const bin of ['zagg-catalog', 'zagg-template', 'zagg-consolidate']) {
      assert.equal(byName[bin].Layers, undefined, bin);
      assert.equal(byName[bin].Environment.Variables.ZAGG_EARTHDATA_SECRET_ARN, undefined, bin);
      assert.equal(byName[bin].Environment.Variables.ZAGG_CMR_URL, undefined, `${bin}: CMR URL left to its default`);
    }
    assert.equal(resourcesOf(s, 'AWS::SecretsManager::Secret').length, 0, 'no secret is created');

    variant().template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ZAGG_EARTHDATA_SECRET_ARN: VARIANT.earthdataSecretArn }) },
    });
    assert.throws(() => synth({ earthdataSecretArn: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:team/edl' }), /complete secret ARN/);
    minimal().template.hasResourceProperties('AWS::Lambda::Function', { Layers: [MINIMAL.secretsExtensionLayerArn] });
    assert.throws(() => synth({ region: 'eu-west-1' }), /no default Parameters and Secrets Lambda Extension layer for region eu-west-1/);
  });
});

describe('state machine', () => {
  it('is STANDARD, named, traced and logging to its own group', () => {
    const [[, sm]] = resourcesOf(s, 'AWS::StepFunctions::StateMachine');
    assert.equal(sm.StateMachineType, 'STANDARD');
    assert.equal(sm.StateMachineName, 'zagg');
    assert.deepEqual(sm.TracingConfiguration, { Enabled: true });
    assert.equal(sm.LoggingConfiguration.Level, 'ERROR');
    assert.equal(sm.LoggingConfiguration.IncludeExecutionData, true);
    const groupId = sm.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    const group = s.json.Resources[groupId].Properties;
    assert.match(group.LogGroupName, /^\/aws\/vendedlogs\/states\//);
    assert.equal(group.RetentionInDays, 30);
    variant().template.hasResourceProperties('AWS::StepFunctions::StateMachine', { LoggingConfiguration: Match.objectLike({ Level: 'ALL' }) });
  });
});

describe('monitoring', () => {
  it('alarms on failed, timed-out and aborted executions and on the failed-shard rate, to an encrypted topic', () => {
    const alarms = resourcesOf(s, 'AWS::CloudWatch::Alarm').map(([, p]) => p);
    const topic = s.logicalId(s.stack.monitoring.topic);
    const byMetric = Object.fromEntries(alarms.map((a) => [a.MetricName, a]));
    for (const name of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
      const a = byMetric[name];
      assert.ok(a, name);
      assert.equal(a.Namespace, 'AWS/States');
      assert.equal(a.Threshold, 1);
      assert.equal(a.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(a.Statistic, 'Sum');
      assert.deepEqual(a.Dimensions, [{ Name: 'StateMachineArn', Value: { Ref: s.logicalId(s.stack.stateMachine) } }]);
    }
    const rate = byMetric.FailedShardPercentage;
    assert.equal(rate.Namespace, 'Zagg');
    assert.equal(rate.Dimensions, undefined, 'the consolidate EMF line has no dimensions');
    assert.equal(rate.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(rate.Threshold, 1);
    assert.equal(rate.Statistic, 'Maximum');
    for (const a of alarms) {
      assert.deepEqual(a.AlarmActions, [{ Ref: topic }]);
      assert.equal(a.TreatMissingData, 'notBreaching');
    }
    assert.equal(alarms.length, 4);
    variant().template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'FailedShardPercentage', Threshold: 5 });

    const t = s.json.Resources[topic].Properties;
    assert.ok(t.KmsMasterKeyId, 'topic encrypted with its own key');
    s.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    s.template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' }); // no key left behind by cdk destroy
    const [[, topicPolicy]] = resourcesOf(s, 'AWS::SNS::TopicPolicy');
    assert.ok(
      topicPolicy.PolicyDocument.Statement.some((st: any) => st.Effect === 'Deny' && st.Condition?.Bool?.['aws:SecureTransport'] === 'false'),
      'topic requires TLS',
    );
    assert.equal(resourcesOf(s, 'AWS::SNS::Subscription').length, 0);
    variant().template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.org' });
  });

  it('has a dashboard with executions, failed shards, the process Lambda and the estimated cost', () => {
    const [[, dash]] = resourcesOf(s, 'AWS::CloudWatch::Dashboard');
    const body = text(dash.DashboardBody);
    for (const needle of [
      'ExecutionsStarted',
      'ExecutionsSucceeded',
      'ExecutionsFailed',
      'FailedShardPercentage',
      'ShardsTotal',
      'ShardsFailed',
      'Duration',
      'Errors',
      'Throttles',
      'ConcurrentExecutions',
      'EstimatedCostUSD',
    ]) {
      assert.ok(body.includes(`"${needle}"`), needle);
    }
  });
});

describe('outputs', () => {
  it('give the state machine ARN, the bucket and a start-execution command', () => {
    const o = s.json.Outputs;
    const sm = s.logicalId(s.stack.stateMachine);
    assert.deepEqual(o.StateMachineArn.Value, { Ref: sm });
    assert.deepEqual(o.BucketName.Value, { Ref: bucketId });
    assert.equal(
      text(o.StartExecutionCommand.Value),
      `aws stepfunctions start-execution --state-machine-arn <${sm}> --input '{"cycle": 22, "store": "s3://<${bucketId}>/atl06/c22.zarr"}'`,
    );
    assert.equal(text(o.ZaggStartCommand.Value), `zagg start --state-machine <${sm}> --cycle 22 --store s3://<${bucketId}>/atl06/c22.zarr`);
    assert.match(text(o.DashboardUrl.Value), /^https:\/\/us-west-2\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=us-west-2#dashboards:name=/);
    assert.ok(o.AlarmTopicArn);
  });
});
