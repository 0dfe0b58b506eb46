#!/usr/bin/env bash
# Checks the CDK stack (infra/) offline: installs its pinned npm packages (npm ci, skipped when
# node_modules already matches package-lock.json), runs its tests (type check, aws-cdk-lib
# assertions, IAM, the synthesized state machine against statemachine/zagg.asl.json, cdk-nag),
# then `cdk synth` as a user would. The synth uses the real arm64 Lambda build
# (target/lambda/<bin>/bootstrap, from `cargo lambda build --release --arm64`) when
# target/lambda/zagg-process/bootstrap exists, else placeholder bootstraps, and says which.
# Writes only infra/node_modules and infra/cdk.out (both gitignored) and a temporary directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/infra"
export CDK_DISABLE_CLI_TELEMETRY=true
started=$(date +%s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "--- infra: npm ci"
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] &&
  [ node_modules/.package-lock.json -nt package.json ]; then
  echo "node_modules up to date with package-lock.json"
else
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "--- infra: npm test"
npm test --silent > "$tmp/test.log" 2>&1 || {
  cat "$tmp/test.log"
  echo "infra: tests FAILED" >&2
  exit 1
}
grep -E '^# (tests|pass|fail) ' "$tmp/test.log"

echo "--- infra: cdk synth"
assets="${CARGO_TARGET_DIR:-$root/target}/lambda"
bins=(zagg-catalog zagg-template zagg-process zagg-consolidate)
if [ -f "$assets/zagg-process/bootstrap" ]; then
  kind="the real build in target/lambda"
  for bin in "${bins[@]}"; do
    f="$assets/$bin/bootstrap"
    # ELF e_machine (bytes 18-19, little endian): 183 = aarch64, what Lambda arm64 runs.
    if [ -f "$f" ] && [ "$(od -An -t u2 -j 18 -N 2 "$f" | tr -d ' ')" != 183 ]; then
      echo "$f is not an aarch64 executable: build with cargo lambda build --release --arm64" >&2
      exit 1
    fi
  done
else
  kind="PLACEHOLDER bootstraps ($assets/zagg-process/bootstrap absent; build with: cargo lambda build --release --arm64)"
  assets="$tmp/lambda"
  for bin in "${bins[@]}"; do
    mkdir -p "$assets/$bin"
    printf '#!/bin/sh\n# placeholder for %s\n' "$bin" > "$assets/$bin/bootstrap"
  done
fi
synth_started=$(date +%s)
npx cdk synth --quiet --no-notices -c "lambdaAssets=$assets" > "$tmp/synth.log" 2>&1 || {
  cat "$tmp/synth.log"
  echo "infra: cdk synth FAILED" >&2
  exit 1
}
synth_seconds=$(($(date +%s) - synth_started))

node -e '
const t = require(process.argv[1]);
const count = {};
for (const r of Object.values(t.Resources)) count[r.Type] = (count[r.Type] || 0) + 1;
const show = ["AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::S3::Bucket", "AWS::IAM::Role",
  "AWS::Scheduler::Schedule", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::SNS::Topic"];
console.log("template: " + Object.keys(t.Resources).length + " resources (" +
  show.map((k) => `${count[k] || 0} ${k.split("::")[2]}`).join(", ") + "), outputs: " + Object.keys(t.Outputs).join(", "));
' "$PWD/cdk.out/Zagg.template.json"
echo "synth: cdk.out/Zagg.template.json from $kind, cdk-nag AwsSolutions clean, ${synth_seconds}s"
echo "infra: ok in $(($(date +%s) - started))s"
