#!/usr/bin/env bash
# Static check of the state machine definition with asl-validator (npm): the definition as
# committed (its ${…} placeholders skip the ARN check) and with the placeholders substituted
# as the CDK stack does; and a broken copy must be refused, so the check is not a no-op.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
npm ci --silent --no-audit --no-fund >/dev/null
validator=node_modules/.bin/asl-validator
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$validator" --json-path zagg.asl.json --no-arn-check
sed -e 's/\${\([A-Za-z]*\)FunctionArn}/arn:aws:lambda:us-west-2:123456789012:function:zagg-\1/g' \
    -e 's/\${ResultsBucket}/zagg-results/' -e 's/\${ResultsPrefix}/map-results/' \
    zagg.asl.json > "$tmp/substituted.json"
if grep -q '\${' "$tmp/substituted.json"; then
  echo "placeholders left after substitution" >&2
  exit 1
fi
"$validator" --json-path "$tmp/substituted.json"
sed 's/"Next": "Consolidate"/"Next": "NoSuchState"/' zagg.asl.json > "$tmp/broken.json"
if "$validator" --silent --json-path "$tmp/broken.json" --no-arn-check; then
  echo "asl-validator accepted a definition with a dangling Next" >&2
  exit 1
fi
echo "asl-validator: the definition is valid, and a broken one is refused"
