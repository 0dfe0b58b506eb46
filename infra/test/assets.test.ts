// Synth needs the four `cargo lambda` bootstraps and says so, clearly, when one is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as path from 'path';
import { describe, it } from 'node:test';
import { readConfig } from '../lib/config';
import { MissingLambdaAssetError } from '../lib/zagg-stack';
import { placeholderAssets, synth, tempDir } from './helpers';
import { App } from 'aws-cdk-lib';

const infra = path.resolve(__dirname, '..');

describe('Lambda assets', () => {
  it('default to ../target/lambda (relative to infra/), the cargo lambda output', () => {
    const cfg = readConfig(new App().node);
    assert.equal(cfg.lambdaAssets, path.resolve(infra, '..', 'target', 'lambda'));
  });

  it('are each <bin>/bootstrap under the asset root', () => {
    const s = synth();
    // One Lambda per binary, each from its own directory (the placeholders differ per binary).
    const keys = new Set(Object.values(s.json.Resources).filter((r) => r.Type === 'AWS::Lambda::Function').map((r) => r.Properties.Code.S3Key));
    assert.equal(keys.size, 4);
  });

  it('missing: the stack refuses with the path and the build command', () => {
    const assets = placeholderAssets(['zagg-catalog', 'zagg-template', 'zagg-consolidate']);
    assert.throws(
      () => synth({ lambdaAssets: assets }),
      (e: unknown) => {
        assert.ok(e instanceof MissingLambdaAssetError);
        assert.ok(e.message.includes(path.join(assets, 'zagg-process', 'bootstrap')), e.message);
        assert.ok(e.message.includes('cargo lambda build --release --arm64'), e.message);
        return true;
      },
    );
  });

  it('missing: the app (bin/zagg.ts, as cdk synth runs it) exits 1 with that message alone', () => {
    const empty = tempDir('empty');
    const r = spawnSync(process.execPath, ['--require', 'ts-node/register/transpile-only', 'bin/zagg.ts'], {
      cwd: infra,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ lambdaAssets: empty }), CDK_OUTDIR: tempDir('out') },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^zagg infra: missing Lambda asset .*zagg-catalog\/bootstrap: build the four Lambdas first, from the repository root: `cargo lambda build --release --arm64`/);
    assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    assert.ok(fs.existsSync(empty));
  });

  it('a bad context value stops the app the same way', () => {
    const r = spawnSync(process.execPath, ['--require', 'ts-node/register/transpile-only', 'bin/zagg.ts'], {
      cwd: infra,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ lambdaAssets: placeholderAssets(), processReservedConcurrency: 'lots' }), CDK_OUTDIR: tempDir('out') },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^zagg infra: context processReservedConcurrency=lots: expected an integer/);
  });
});
