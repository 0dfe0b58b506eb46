// The zagg pipeline on AWS: one bucket for stores, catalogs and Map results; the four Rust
// Lambdas (prebuilt `cargo lambda` bootstraps); the Step Functions state machine of
// statemachine/zagg.asl.json; a schedule for the latest complete cycle; alarms and a dashboard
// (lib/monitoring.ts).
import * as fs from 'fs';
import * as path from 'path';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BUILD_COMMAND, INFRA_DIR, LAMBDA_BINARIES, LambdaBinary, ZaggConfig } from './config';
import { Monitoring } from './monitoring';
import { acknowledge } from './nag';

/** The committed state machine definition, with its `${…}` placeholders. */
export const ASL_PATH = path.resolve(INFRA_DIR, '..', 'statemachine', 'zagg.asl.json');

/** Label of the Distributed Map state in the ASL (its child executions are named after it). */
const MAP_LABEL = 'Shards';

/** Synth stops with this when a Lambda bootstrap is missing (bin/zagg.ts prints the message alone). */
export class MissingLambdaAssetError extends Error {}

export interface ZaggStackProps extends StackProps {
  readonly config: ZaggConfig;
}

/**
 * Memory and timeout of each Lambda, and why. Lambda gives CPU (and network bandwidth) in
 * proportion to memory, 1 vCPU at 1769 MB. Numbers relied on, from docs/benchmarks.md (2-core
 * VM, release build) and SPEC §6:
 * - whole demo run (4 granules, 8 shards): 38 MB peak RSS; a dense 110k-point shard aggregates
 *   in 2.6 ms (13.6 ms with the six pyramid orders): compute is not what a shard waits for;
 * - reading is I/O bound: at the default read plan (1 MiB min / 8 MiB max fetch) a granule
 *   costs 14–19 requests and 12–15 MB for a full-length granule, and per-request latency (not
 *   bytes) dominated; a shard reads 13–390 granules (10–120 MB each) by byte ranges;
 * - catalog: building the catalog of a synthetic 14,820-granule cycle takes 0.47–1.06 s, the
 *   whole make_catalog through a fake CMR 2.4–3.8 s (8 CMR pages of 2000 UMM-G items, ~70 MB of
 *   JSON, parsed in 0.33–0.38 s);
 * - the pyramid makes a shard write 7 orders × 11 arrays = 77 small objects.
 * None of these was measured inside Lambda: run.json reports each shard's Lambda seconds and
 * an estimated cost, the numbers to tune these from.
 */
export const LAMBDA_SIZING: Readonly<Record<LambdaBinary, { memoryMiB: number; timeout: Duration; why: string }>> = {
  'zagg-process': {
    // 2048 MB ≈ 1.16 vCPU: one full core for decoding/hashing plus headroom for the 16 ranged
    // requests in flight (ZAGG_MAX_IN_FLIGHT × up to 8 MiB = 128 MiB of buffers) and a granule's
    // decoded columns, far above the 38 MB measured locally. 900 s (the Lambda maximum): the
    // largest shard (390 granules × 14–19 requests, ~20–30 ms first-byte latency each, 16 in
    // flight) needs minutes, not seconds; the ASL retries a timed-out shard once.
    memoryMiB: 2048,
    timeout: Duration.seconds(900),
    why: 'one shard: ranged reads of 13-390 granules, aggregation, 77 chunk writes',
  },
  'zagg-catalog': {
    // 1024 MB: the cycle's UMM-G pages (~70 MB of JSON) and the footprint-shard intersection
    // (0.5-1 s on one core locally). 300 s: 8 sequential CMR pages with retries on 429/5xx.
    memoryMiB: 1024,
    timeout: Duration.seconds(300),
    why: 'resolve latest-complete, CMR search of the cycle, catalog.json',
  },
  'zagg-template': {
    // 512 MB / 60 s: writes the store's metadata (about 85 small zarr.json objects), no data.
    memoryMiB: 512,
    timeout: Duration.seconds(60),
    why: 'empty store: groups and array metadata of every order',
  },
  'zagg-consolidate': {
    // 1024 MB / 300 s: reads one small record per catalog shard (1,319 basin shards in a
    // cycle) plus the ResultWriter files and ~85 metadata objects, then writes run.json.
    memoryMiB: 1024,
    timeout: Duration.seconds(300),
    why: 'consolidated metadata, run.json, run metrics',
  },
};

export class ZaggStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly functions: Readonly<Record<LambdaBinary, lambda.Function>>;
  readonly stateMachine: sfn.StateMachine;
  readonly stateMachineRole: iam.Role;
  readonly schedule?: scheduler.Schedule;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: ZaggStackProps) {
    super(scope, id, props);
    const cfg = props.config;
    this.templateOptions.description =
      'zagg: ICESat-2 ATL06 -> per-cell statistics on a HEALPix grid in Zarr v3 (Step Functions + Rust Lambdas)';

    checkPrefixes(cfg);
    for (const bin of LAMBDA_BINARIES) {
      const bootstrap = path.join(cfg.lambdaAssets, bin, 'bootstrap');
      if (!fs.existsSync(bootstrap)) {
        throw new MissingLambdaAssetError(
          `missing Lambda asset ${bootstrap}: build the four Lambdas first, from the repository root: ` +
            `\`${BUILD_COMMAND}\` (writes target/lambda/<bin>/bootstrap), or point -c lambdaAssets=DIR at a directory holding <bin>/bootstrap`,
        );
      }
    }

    // ---- Storage --------------------------------------------------------------------------
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED, // server access logs require SSE-S3
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
    });
    const transient = Duration.days(cfg.transientDays);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN, // stores outlive the stack
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'data-bucket/',
      lifecycleRules: [
        // Catalogs written apart from their store (input `catalog_prefix`) and the Distributed
        // Map's ResultWriter files are read within the execution that wrote them.
        { id: 'expire-catalogs', prefix: cfg.catalogsPrefix, expiration: transient },
        { id: 'expire-map-results', prefix: `${cfg.resultsPrefix}/`, expiration: transient },
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    const objects = (prefix: string) => this.bucket.arnForObjects(`${prefix}*`);
    const stores = objects(cfg.storesPrefix);
    const catalogs = objects(cfg.catalogsPrefix);
    const mapResults = objects(`${cfg.resultsPrefix}/`);

    // ---- Lambdas --------------------------------------------------------------------------
    const retention = retentionDays(cfg.logRetentionDays);
    const readWrite = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'];
    const make = (id: string, bin: LambdaBinary, extra: Partial<lambda.FunctionProps> = {}) => {
      const sizing = LAMBDA_SIZING[bin];
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // Own role, no managed policy: logs to its own group only, and the S3 prefixes below.
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `${bin}: ${sizing.why}`,
      });
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'OwnLogGroup',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn], // "…:log-group:NAME:*": the group's streams
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'Stores',
          actions: readWrite,
          resources: [stores],
        }),
      );
      // Without s3:ListBucket, S3 answers a GET of a missing key with 403 instead of 404, and
      // zagg must tell "not there yet" (run.json before the first run, a shard record never
      // written, a store without template) from "forbidden". Listing reveals key names only.
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'MissingKeysAre404',
          actions: ['s3:ListBucket'],
          resources: [this.bucket.bucketArn],
        }),
      );
      const fn = new lambda.Function(this, id, {
        description: `zagg ${bin.replace('zagg-', '')}: ${sizing.why}`,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(path.join(cfg.lambdaAssets, bin)),
        memorySize: sizing.memoryMiB,
        timeout: sizing.timeout,
        role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON, // sets AWS_LAMBDA_LOG_FORMAT=JSON
        applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
        systemLogLevelV2: lambda.SystemLogLevel.INFO,
        ...extra,
        environment: { RUST_LOG: 'info', ...(extra.environment ?? {}) },
      });
      return { fn, role };
    };

    const catalog = make('Catalog', 'zagg-catalog');
    catalog.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'Catalogs', actions: readWrite, resources: [catalogs] }),
    );
    const template = make('Template', 'zagg-template');

    const secret = earthdataSecret(this, cfg.earthdataSecret);
    const processFn = make('Process', 'zagg-process', {
      reservedConcurrentExecutions: cfg.processReservedConcurrency,
      paramsAndSecrets: lambda.ParamsAndSecretsLayerVersion.fromVersionArn(cfg.secretsExtensionLayerArn, {
        cacheEnabled: true,
      }),
      environment: { ZAGG_EARTHDATA_SECRET_ARN: secret.id },
    });
    processFn.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EarthdataSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secret.arn],
      }),
    );

    const consolidate = make('Consolidate', 'zagg-consolidate');
    consolidate.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CatalogsAndMapResults',
        actions: ['s3:GetObject'],
        resources: [catalogs, mapResults],
      }),
    );
    this.functions = {
      'zagg-catalog': catalog.fn,
      'zagg-template': template.fn,
      'zagg-process': processFn.fn,
      'zagg-consolidate': consolidate.fn,
    };

    // ---- State machine --------------------------------------------------------------------
    // Its ARN is built from the name, so the role can name the state machine's own executions
    // (Distributed Map child executions) without a dependency cycle.
    const smArn = this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: cfg.stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const execArn = (name: string) =>
      this.formatArn({ service: 'states', resource: 'execution', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const fnArns = Object.values(this.functions).flatMap((f) => [f.functionArn, `${f.functionArn}:*`]);
    this.stateMachineRole = new iam.Role(this, 'StateMachineRole', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'zagg state machine: invoke the four zagg Lambdas, run its Distributed Map',
      inlinePolicies: {
        ZaggExecution: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'InvokeTheFourLambdas',
              actions: ['lambda:InvokeFunction'],
              resources: fnArns,
            }),
            // Distributed Map (AWS: "IAM policies for using Distributed Map states").
            new iam.PolicyStatement({
              sid: 'MapChildExecutions',
              actions: ['states:StartExecution'],
              resources: [smArn],
            }),
            new iam.PolicyStatement({
              sid: 'MapChildExecutionsFollow',
              actions: ['states:DescribeExecution', 'states:StopExecution'],
              resources: [execArn(`${cfg.stateMachineName}:*`), execArn(`${cfg.stateMachineName}/*`)],
            }),
            new iam.PolicyStatement({
              sid: 'MapRunRedrive',
              actions: ['states:RedriveExecution'],
              resources: [execArn(`${cfg.stateMachineName}/${MAP_LABEL}:*`)],
            }),
            new iam.PolicyStatement({
              sid: 'ItemReaderCatalogJson',
              actions: ['s3:GetObject'],
              resources: [stores, catalogs],
            }),
            new iam.PolicyStatement({
              sid: 'ResultWriter',
              actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
              resources: [mapResults],
            }),
          ],
        }),
      },
    });

    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small (AWS advice).
      logGroupName: `/aws/vendedlogs/states/${cfg.stackName}-${cfg.stateMachineName}`,
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: cfg.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      // The committed file verbatim (inline in the template, so a test can compare it).
      definitionBody: sfn.DefinitionBody.fromString(fs.readFileSync(ASL_PATH, 'utf8')),
      definitionSubstitutions: {
        CatalogFunctionArn: catalog.fn.functionArn,
        TemplateFunctionArn: template.fn.functionArn,
        ProcessFunctionArn: processFn.fn.functionArn,
        ConsolidateFunctionArn: consolidate.fn.functionArn,
        ResultsBucket: this.bucket.bucketName,
        ResultsPrefix: cfg.resultsPrefix,
      },
      role: this.stateMachineRole,
      tracingEnabled: true,
      logs:
        cfg.sfnLogLevel === 'OFF'
          ? undefined
          : { destination: smLogs, level: sfn.LogLevel[cfg.sfnLogLevel], includeExecutionData: true },
    });
    if (cfg.sfnLogLevel !== 'ALL') {
      acknowledge(
        this.stateMachine,
        'AwsSolutions-SF1',
        `Logs at level ${cfg.sfnLogLevel} (context sfnLogLevel): ALL would log every state of every Distributed Map child execution ` +
          '(about ten events for each of ~1,300 shards per run) and duplicate the execution history Step Functions keeps for 90 days; ' +
          'X-Ray tracing is on, and each shard outcome is also recorded in the store (runs/<run>/shards, run.json).',
      );
    }

    // ---- Schedule -------------------------------------------------------------------------
    const scheduleStore = cfg.scheduleStore.replace('{bucket}', this.bucket.bucketName);
    if (cfg.scheduleExpression) {
      this.schedule = new scheduler.Schedule(this, 'Schedule', {
        description:
          'zagg: the latest complete cycle; the execution ends early (NothingToDo) when that cycle\'s store already holds a successful run',
        schedule: scheduler.ScheduleExpression.expression(cfg.scheduleExpression),
        target: new targets.StepFunctionsStartExecution(this.stateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject({ cycle: 'latest-complete', store: scheduleStore }),
          retryAttempts: 3,
        }),
      });
    }

    // ---- Alarms, dashboard ----------------------------------------------------------------
    this.monitoring = new Monitoring(this, 'Monitoring', {
      stateMachine: this.stateMachine,
      process: processFn.fn,
      failedShardAlarmPercent: cfg.failedShardAlarmPercent,
      alarmEmail: cfg.alarmEmail,
      dashboardName: cfg.stackName,
    });

    // ---- cdk-nag: the wildcards left, each scoped as narrowly as S3, Lambda and Step Functions allow
    nagWildcards(
      this,
      cfg,
      [catalog.role, template.role, processFn.role, consolidate.role],
      this.stateMachineRole,
      Object.values(this.functions),
      this.bucket,
    );

    // ---- Outputs --------------------------------------------------------------------------
    const exampleStore = `s3://${this.bucket.bucketName}/${cfg.storesPrefix}c22.zarr`;
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'StoresPrefix', {
      value: `s3://${this.bucket.bucketName}/${cfg.storesPrefix}`,
      description: 'Stores (and s3:// config YAMLs) must be under this prefix: the Lambdas may write nowhere else',
    });
    new CfnOutput(this, 'StartExecutionCommand', {
      description: 'Start the run of cycle 22 with the AWS CLI',
      value:
        `aws stepfunctions start-execution --state-machine-arn ${this.stateMachine.stateMachineArn} ` +
        `--input '{"cycle": 22, "store": "${exampleStore}"}'`,
    });
    new CfnOutput(this, 'ZaggStartCommand', {
      description: 'The same with zagg start (deterministic execution name, refuses a second start)',
      value: `zagg start --state-machine ${this.stateMachine.stateMachineArn} --cycle 22 --store ${exampleStore}`,
    });
    new CfnOutput(this, 'ScheduledInput', {
      value: cfg.scheduleExpression
        ? `${cfg.scheduleExpression}: {"cycle": "latest-complete", "store": "${scheduleStore}"}`
        : 'no schedule (context scheduleExpression=off)',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${this.monitoring.dashboard.dashboardName}`,
    });
  }
}

/** The Earthdata secret, referenced by name or complete ARN; never created here. */
interface SecretRef {
  /** What the extension is asked for (`secretId`): the name, or the complete ARN. */
  readonly id: string;
  /** IAM resource of the secret. */
  readonly arn: string;
}

function earthdataSecret(stack: Stack, nameOrArn: string): SecretRef {
  if (nameOrArn.startsWith('arn:')) {
    if (!/^arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/.test(nameOrArn)) {
      throw new Error(
        `context earthdataSecretArn=${nameOrArn}: expected a complete secret ARN (ending in the 6-character suffix), or use earthdataSecretName`,
      );
    }
    return { id: nameOrArn, arn: nameOrArn };
  }
  // A secret's ARN is its name, '-', then 6 random characters; `-??????` matches exactly those.
  const arn = stack.formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${nameOrArn}-??????`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  return { id: nameOrArn, arn };
}

const RETENTION_DAYS = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');

function retentionDays(days: number): logs.RetentionDays {
  if (!RETENTION_DAYS.includes(days)) {
    throw new Error(`context logRetentionDays=${days}: CloudWatch Logs accepts ${RETENTION_DAYS.sort((a, b) => a - b).join(', ')}`);
  }
  return days as logs.RetentionDays;
}

/** The prefixes must be disjoint: lifecycle rules expire the transient ones. */
function checkPrefixes(cfg: ZaggConfig): void {
  const named: [string, string][] = [
    ['storesPrefix', cfg.storesPrefix],
    ['catalogsPrefix', cfg.catalogsPrefix],
    ['resultsPrefix', `${cfg.resultsPrefix}/`],
  ];
  for (const [a, pa] of named) {
    for (const [b, pb] of named) {
      if (a !== b && pb.startsWith(pa)) {
        throw new Error(`context ${a}=${pa} contains ${b}=${pb}: the prefixes must be disjoint (catalogs and map results expire)`);
      }
    }
  }
  if (!cfg.scheduleStore.startsWith(`s3://{bucket}/${cfg.storesPrefix}`)) {
    throw new Error(
      `context scheduleStore=${cfg.scheduleStore}: must start with s3://{bucket}/${cfg.storesPrefix} (the Lambdas write only under storesPrefix)`,
    );
  }
}

/**
 * cdk-nag AwsSolutions-IAM5 flags every `*` in an IAM policy. The ones left are each limited
 * to one prefix of the stack's bucket, the versions of one function, the state machine's own
 * executions, or are actions AWS offers no resource-level permission for. Each finding is
 * acknowledged by its exact text on the one role that has it, never for a whole rule.
 */
function nagWildcards(stack: Stack, cfg: ZaggConfig, lambdaRoles: iam.Role[], smRole: iam.Role, fns: lambda.Function[], bucket: s3.Bucket): void {
  const finding = (resource: string) => `AwsSolutions-IAM5[Resource::${nagText(stack, resource)}]`;
  const objects = (prefix: string) => finding(bucket.arnForObjects(`${prefix}*`));
  const stores =
    `Stores are chosen per execution (input "store"), so the function may read and write objects under the stores prefix ${cfg.storesPrefix} ` +
    'of the stack\'s own bucket (the README says stores must live there), not under one fixed key.';
  for (const role of lambdaRoles) acknowledge(role, objects(cfg.storesPrefix), stores);
  const [catalogRole, , , consolidateRole] = lambdaRoles;
  acknowledge(
    catalogRole,
    objects(cfg.catalogsPrefix),
    'The catalog writes catalog.json under the catalogs prefix when the execution input sets catalog_prefix; the key depends on the run.',
  );
  acknowledge(
    consolidateRole,
    objects(cfg.catalogsPrefix),
    'Consolidate reads back the catalog.json the catalog wrote under the catalogs prefix (input catalog_prefix); the key depends on the run.',
  );
  acknowledge(
    consolidateRole,
    objects(`${cfg.resultsPrefix}/`),
    'Consolidate reads the Distributed Map ResultWriter manifest and result files, whose keys Step Functions names per Map Run under this prefix.',
  );

  acknowledge(
    smRole,
    objects(cfg.storesPrefix),
    `The Map's ItemReader reads catalog.json from the run's store, which the execution input chooses under the stores prefix ${cfg.storesPrefix}.`,
  );
  acknowledge(
    smRole,
    objects(cfg.catalogsPrefix),
    'The Map\'s ItemReader reads catalog.json from the catalogs prefix when the execution input sets catalog_prefix; the key depends on the run.',
  );
  acknowledge(
    smRole,
    objects(`${cfg.resultsPrefix}/`),
    'The Map\'s ResultWriter writes a manifest and result files whose keys Step Functions names per Map Run under this prefix (AWS documents prefix/*).',
  );
  for (const fn of fns) {
    acknowledge(
      smRole,
      finding(`${fn.functionArn}:*`),
      `"${fn.node.id}:*" is the versions and aliases of this one zagg function: Step Functions may invoke it by qualified ARN.`,
    );
  }
  const exec = (name: string) =>
    stack.formatArn({ service: 'states', resource: 'execution', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  const own = `child executions of this state machine (${cfg.stateMachineName}), which the Distributed Map starts with generated names`;
  acknowledge(smRole, finding(exec(`${cfg.stateMachineName}:*`)), `DescribeExecution/StopExecution of the ${own}; named by CDK's own Distributed Map grant.`);
  acknowledge(smRole, finding(exec(`${cfg.stateMachineName}/*`)), `DescribeExecution/StopExecution of the ${own}; the form AWS documents for Distributed Map.`);
  acknowledge(smRole, finding(exec(`${cfg.stateMachineName}/${MAP_LABEL}:*`)), `RedriveExecution of the ${own} under the Map label ${MAP_LABEL}.`);
  acknowledge(
    smRole.node.findChild('DefaultPolicy'),
    'AwsSolutions-IAM5[Resource::*]',
    'Added by CDK for state machine logging and X-Ray tracing: the CloudWatch Logs vended-delivery actions (logs:CreateLogDelivery, ' +
      'logs:PutResourcePolicy, ...) and xray:PutTraceSegments/PutTelemetryRecords/GetSampling* accept no resource but "*".',
  );
}

/** A value as cdk-nag prints it in a finding: `<LogicalId.Arn>`, `<AWS::Partition>`, joins flattened. */
function nagText(stack: Stack, value: string): string {
  const flat = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if (o.Ref !== undefined) return `<${o.Ref}>`;
    if (o['Fn::GetAtt'] !== undefined) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if (o['Fn::Join'] !== undefined) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(flat).join(sep);
    }
    throw new Error(`nagText: cannot flatten ${JSON.stringify(v)}`);
  };
  return flat(stack.resolve(value));
}
