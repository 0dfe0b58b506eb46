// Alarms (failed/timed-out/aborted executions, a high failed-shard rate) to an encrypted SNS
// topic, and a small dashboard. The run metrics come from the consolidate Lambda's
// embedded-metric-format line: namespace Zagg, no dimensions (lambdas/README.md, "Metrics").
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** Namespace of the consolidate Lambda's run metrics. */
export const RUN_METRICS_NAMESPACE = 'Zagg';

export interface MonitoringProps {
  readonly stateMachine: sfn.StateMachine;
  readonly process: lambda.Function;
  readonly failedShardAlarmPercent: number;
  readonly alarmEmail?: string;
  readonly dashboardName: string;
}

export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const sm = props.stateMachine;

    // CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key (its key
    // policy cannot grant CloudWatch), so the topic has its own key.
    const key = new kms.Key(this, 'TopicKey', {
      description: 'zagg alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY, // scheduled for deletion (30-day wait) with the stack
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, "*" is this key
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'zagg alarms',
      masterKey: key,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    if (props.alarmEmail) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    const notify = new actions.SnsAction(this.topic);

    const fiveMinutes = Duration.minutes(5);
    const runMetric = (metricName: string, statistic: string, unit?: cloudwatch.Unit) =>
      new cloudwatch.Metric({ namespace: RUN_METRICS_NAMESPACE, metricName, statistic, unit, period: Duration.hours(1) });

    const executionAlarm = (id: string, metric: cloudwatch.Metric, what: string) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription: `zagg: an execution of the state machine ${what}; its execution history (and run.json, if it got that far) say why`,
        metric: metric.with({ period: fiveMinutes, statistic: 'Sum' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const failedShards = runMetric('FailedShardPercentage', 'Maximum', cloudwatch.Unit.PERCENT);
    this.alarms = [
      executionAlarm('ExecutionsFailed', sm.metricFailed(), 'failed'),
      executionAlarm('ExecutionsTimedOut', sm.metricTimedOut(), 'timed out'),
      executionAlarm('ExecutionsAborted', sm.metricAborted(), 'was aborted'),
      new cloudwatch.Alarm(this, 'FailedShardRate', {
        alarmDescription:
          `zagg: a run lost more than ${props.failedShardAlarmPercent} % of its shards (FailedShardPercentage from consolidate). ` +
          'The run may still have succeeded within tolerated_failure_percentage; run.json lists each failed shard and its reason.',
        metric: failedShards.with({ period: fiveMinutes }),
        threshold: props.failedShardAlarmPercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    for (const alarm of this.alarms) alarm.addAlarmAction(notify);

    const hour = Duration.hours(1);
    const fn = props.process;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Executions',
        left: [
          sm.metricStarted({ period: hour, label: 'started' }),
          sm.metricSucceeded({ period: hour, label: 'succeeded' }),
          sm.metricFailed({ period: hour, label: 'failed' }),
          sm.metricTimedOut({ period: hour, label: 'timed out' }),
          sm.metricAborted({ period: hour, label: 'aborted' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Failed shards (% of the run)',
        left: [failedShards.with({ label: 'FailedShardPercentage' })],
        leftAnnotations: [{ value: props.failedShardAlarmPercent, label: 'alarm' }],
        leftYAxis: { min: 0 },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Shards per run',
        left: [
          runMetric('ShardsTotal', 'Sum').with({ label: 'total' }),
          runMetric('ShardsFailed', 'Sum').with({ label: 'failed' }),
          runMetric('ShardsRetried', 'Sum').with({ label: 'retried' }),
        ],
        right: [runMetric('Observations', 'Sum').with({ label: 'observations' })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Process Lambda: duration',
        left: [
          fn.metricDuration({ statistic: 'p50', label: 'p50' }),
          fn.metricDuration({ statistic: 'p99', label: 'p99' }),
          fn.metricDuration({ statistic: 'Maximum', label: 'max' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Process Lambda: errors, throttles, concurrency',
        left: [fn.metricErrors({ label: 'errors' }), fn.metricThrottles({ label: 'throttles' })],
        right: [fn.metric('ConcurrentExecutions', { statistic: 'Maximum', label: 'concurrent executions' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Estimated cost (USD, from run.json)',
        left: [runMetric('EstimatedCostUSD', 'Sum').with({ period: Duration.days(1), label: 'per day' })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
  }
}
