// cdk-nag 3 acknowledgements (CDK's Validations API): one rule finding per call, each with the
// reason it is acceptable here. The tests read them back and check every reason.
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledge cdk-nag finding `id` (e.g. `AwsSolutions-S1`, `AwsSolutions-IAM5[Resource::*]`) on `scope` and below. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 40) {
    throw new Error(`cdk-nag acknowledgement ${id} at ${scope.node.path} needs a real reason, got "${reason}"`);
  }
  Validations.of(scope).acknowledge({ id, reason });
}
