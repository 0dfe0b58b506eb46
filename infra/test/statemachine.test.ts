// The deployed definition is statemachine/zagg.asl.json, substituted; the schedule starts the
// latest complete cycle.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import { describe, it } from 'node:test';
import { ASL_PATH } from '../lib/zagg-stack';
import { minimal, resourcesOf, synth, text, variant } from './helpers';

const s = synth();
const [[, sm]] = resourcesOf(s, 'AWS::StepFunctions::StateMachine');
const committed = fs.readFileSync(ASL_PATH, 'utf8');
const bucket = s.logicalId(s.stack.bucket);
const fn = (bin: keyof typeof s.stack.functions) => s.logicalId(s.stack.functions[bin]);

/** What each placeholder must become, from the stack's own constructs. */
const expected: Record<string, unknown> = {
  CatalogFunctionArn: { 'Fn::GetAtt': [fn('zagg-catalog'), 'Arn'] },
  TemplateFunctionArn: { 'Fn::GetAtt': [fn('zagg-template'), 'Arn'] },
  ProcessFunctionArn: { 'Fn::GetAtt': [fn('zagg-process'), 'Arn'] },
  ConsolidateFunctionArn: { 'Fn::GetAtt': [fn('zagg-consolidate'), 'Arn'] },
  ResultsBucket: { Ref: bucket },
  ResultsPrefix: 'map-results',
};

/** A stand-in for what CloudFormation resolves each value to. */
function resolved(v: unknown): string {
  const o = v as Record<string, any>;
  if (typeof v === 'string') return v;
  if (o['Fn::GetAtt']) return `arn:aws:lambda:us-west-2:123456789012:function:${o['Fn::GetAtt'][0]}`;
  if (o.Ref) return `bucket-${o.Ref.toLowerCase()}`;
  throw new Error(`unexpected substitution ${JSON.stringify(v)}`);
}

/** Substitute `${Name}` the way CloudFormation's DefinitionSubstitutions does (text replacement). */
const substitute = (definition: string, values: Record<string, unknown>) =>
  definition.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, name) => (name in values ? resolved(values[name]) : whole));

describe('state machine definition', () => {
  it('is the committed zagg.asl.json, byte for byte', () => {
    assert.equal(typeof sm.DefinitionString, 'string', 'inline, no Fn::Join, no S3 location');
    assert.equal(sm.DefinitionString, committed);
    assert.equal(sm.DefinitionS3Location, undefined);
  });

  it('substitutes every placeholder of the file, each with the right resource', () => {
    const placeholders = [...new Set([...committed.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]))].sort();
    assert.deepEqual(placeholders, Object.keys(expected).sort());
    assert.deepEqual(sm.DefinitionSubstitutions, expected);
  });

  it('after substitution equals the committed definition with the same values, and leaves no placeholder', () => {
    const deployed = JSON.parse(substitute(sm.DefinitionString, sm.DefinitionSubstitutions));
    const reference = JSON.parse(substitute(committed, expected));
    assert.deepEqual(deployed, reference);
    assert.ok(!JSON.stringify(deployed).includes('${'), 'no placeholder left');

    // And the substituted definition wires what it should: the four functions, the bucket.
    const tasks: Record<string, string> = {};
    const walk = (states: Record<string, any>) => {
      for (const [name, st] of Object.entries(states)) {
        if (st.Type === 'Task') tasks[name] = st.Parameters.FunctionName;
        for (const b of st.Branches ?? []) walk(b.States);
        if (st.ItemProcessor) walk(st.ItemProcessor.States);
      }
    };
    walk(deployed.States);
    const arn = (bin: Parameters<typeof fn>[0]) => resolved({ 'Fn::GetAtt': [fn(bin), 'Arn'] });
    assert.deepEqual(tasks, {
      Resolve: arn('zagg-catalog'),
      Catalog: arn('zagg-catalog'),
      Template: arn('zagg-template'),
      Process: arn('zagg-process'),
      Consolidate: arn('zagg-consolidate'),
    });
    const map = deployed.States.Shards;
    assert.equal(map.ItemProcessor.ProcessorConfig.Mode, 'DISTRIBUTED');
    assert.deepEqual(map.ResultWriter.Parameters, { Bucket: resolved({ Ref: bucket }), Prefix: 'map-results' });
    assert.equal(map.Label, 'Shards', 'the IAM grants name child executions after this label');
  });
});

describe('schedule', () => {
  it('starts the state machine daily for the latest complete cycle, {cycle} left for the execution', () => {
    const schedules = resourcesOf(s, 'AWS::Scheduler::Schedule');
    assert.equal(schedules.length, 1);
    const [[, p]] = schedules;
    assert.equal(p.ScheduleExpression, 'rate(1 day)');
    assert.equal(p.State, 'ENABLED');
    assert.deepEqual(p.Target.Arn, { Ref: s.logicalId(s.stack.stateMachine) });
    const input = JSON.parse(text(p.Target.Input));
    assert.deepEqual(input, { cycle: 'latest-complete', store: `s3://<${bucket}>/atl06/c{cycle}.zarr` });
  });

  it('takes its expression and store from context, and can be switched off', () => {
    const weekly = variant();
    const [[, p]] = resourcesOf(weekly, 'AWS::Scheduler::Schedule');
    assert.equal(p.ScheduleExpression, 'cron(0 6 ? * MON *)');
    assert.equal(JSON.parse(text(p.Target.Input)).store, `s3://<${weekly.logicalId(weekly.stack.bucket)}>/stores/atl06/basins/c{cycle}.zarr`);
    const off = minimal();
    assert.equal(resourcesOf(off, 'AWS::Scheduler::Schedule').length, 0);
    assert.equal(off.stack.schedule, undefined);
    assert.throws(() => synth({ scheduleExpression: 'every day' }), /scheduleExpression=every day/);
  });
});
