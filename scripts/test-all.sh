#!/usr/bin/env bash
# Runs every test of zagg on a fresh machine: Rust unit/integration/property tests, then the
# end-to-end checks against tools zagg did not write (h5py + numpy recomputation, zarr-python,
# xarray + xdggs). Installs what it needs (a Python 3.12 venv from pinned requirements).
#
# Environment:
#   ZAGG_PYTHON   python >= 3.12 used to create the venv (default: pyenv's 3.12.1, else python3.12)
#   ZAGG_VENV     venv directory (default: .venv-py in the repository)
#   ZAGG_FUZZ_SECONDS  seconds per fuzz target in the fuzz smoke (default: 15)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared"
venv=${ZAGG_VENV:-$root/.venv-py}
work=$(mktemp -d)
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
check() { # check NAME CMD...: run one end-to-end check and count it
  local name=$1; shift
  echo "--- $name"
  if "$@"; then passed=$((passed + 1)); echo "ok: $name"; else failed=$((failed + 1)); echo "FAILED: $name"; fi
}

echo "=== Python environment"
if [ ! -x "$venv/bin/python" ]; then
  py=${ZAGG_PYTHON:-}
  if [ -z "$py" ]; then
    # pyenv's shims only answer for the selected version, so call the interpreter by its path.
    pyroot=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    for cand in "$pyroot"/versions/3.12.*/bin/python3.12 "$pyroot"/versions/3.13.*/bin/python3.13; do
      if [ -x "$cand" ]; then py=$cand; break; fi
    done
  fi
  if [ -z "$py" ]; then
    for cand in python3.12 python3.13 python3; do
      if command -v "$cand" >/dev/null 2>&1 &&
        "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
        py=$cand; break
      fi
    done
  fi
  if [ -z "$py" ]; then
    echo "no Python >= 3.12 found (set ZAGG_PYTHON)" >&2
    exit 1
  fi
  echo "creating $venv with $py"
  $py -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r tests/python/requirements.txt -r tests/data/requirements.txt
export ZAGG_PYTHON_VENV="$venv"

echo "=== S3 server (moto)"
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.2
done
export ZAGG_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
echo "moto on $ZAGG_TEST_S3_ENDPOINT"

echo "=== Rust tests"
cargo test --workspace --all-targets --locked 2>&1 | tee "$work/cargo-test.log"
cargo test --doc --locked
# The tests that need the S3 server.
cargo test --locked --test s3 -- --ignored
cargo test --locked --test sfn -- --ignored

echo "=== End-to-end checks"
cargo build --locked --bin zagg
zagg="${CARGO_TARGET_DIR:-$root/target}/debug/zagg"
py="$venv/bin/python"

check "checker self-test (SPEC golden rows, morton, hashing)" "$py" tests/python/check_store.py --self-test

# 1. The README's first command, from another directory, offline.
(cd "$work" && "$zagg" run --jobs 2) > "$work/demo.txt"
cat "$work/demo.txt"
demo_granules=(tests/data/demo/*.h5)
check "demo store: independent recomputation of order 12 and the pyramid orders 11..6 (h5py + numpy)" \
  "$py" tests/python/check_store.py --store "$work/zagg-demo.zarr" --granules "${demo_granules[@]}" \
  --orders 12 11 10 9 8 7 6
check "demo store: zarr-python, xarray + xdggs, every order" \
  "$py" tests/python/check_xarray.py --store "$work/zagg-demo.zarr" --group all

# The README's look-at-the-result commands on the demo store: inspect passes its checks, the
# map decodes with an independent PNG reader and shows coloured cells and a colour bar.
check "demo store: zagg inspect (layout and consistency checks)" \
  "$zagg" inspect "$work/zagg-demo.zarr"
"$zagg" plot "$work/zagg-demo.zarr" --var h_mean -o "$work/map.png" --json > "$work/map.json"
check "demo map: independent PNG decode, cells and colour bar" \
  "$py" tests/python/check_png.py --png "$work/map.png" --layout "$work/map.json"
"$zagg" plot "$work/zagg-demo.zarr" --var count --width 600 --height 480 -o "$work/count.png" --json > "$work/count.json"
check "demo count map at an automatically coarser order" \
  "$py" tests/python/check_png.py --png "$work/count.png" --layout "$work/count.json" --min-data 500

# 2. The two real ATL06 granules (used as they are).
real=("$shared"/data/atl06-real/*.h5)
"$zagg" run --granules "${real[@]}" --store "$work/real.zarr" --jobs 2
check "real granules: independent recomputation" \
  "$py" tests/python/check_store.py --store "$work/real.zarr" --granules "${real[@]}"
check "real granules: zarr-python, xarray + xdggs, every order" \
  "$py" tests/python/check_xarray.py --store "$work/real.zarr" --group all

# 3. Sphere convention (the original's hashing) and the edge-case fixtures.
sed 's/ellipsoid: WGS84 /ellipsoid: sphere /' config/atl06.yaml > "$work/sphere.yaml"
fx=(tests/data/fixtures/pole_and_antimeridian.h5 tests/data/fixtures/nan_inf.h5 tests/data/fixtures/libver_latest.h5)
"$zagg" run --granules "${fx[@]}" --store "$work/sphere.zarr" --config "$work/sphere.yaml" --jobs 2
check "sphere convention, pole/antimeridian/NaN fixtures: independent recomputation" \
  "$py" tests/python/check_store.py --store "$work/sphere.zarr" --ellipsoid sphere --granules "${fx[@]}"
check "sphere convention: xarray + xdggs, every order" \
  "$py" tests/python/check_xarray.py --store "$work/sphere.zarr" --group all

"$zagg" run --granules "${fx[@]}" --store "$work/fixtures.zarr" --jobs 2
check "WGS84, pole/antimeridian/NaN fixtures: independent recomputation" \
  "$py" tests/python/check_store.py --store "$work/fixtures.zarr" --granules "${fx[@]}"

# 4. Load, kill/resume and idempotence of the local runner: > 1,000 shards with bounded
# memory; a run killed mid-way and restarted redoes no finished shard and ends with the
# uninterrupted run's store, byte for byte (docs/reliability.md).
check "load (> 1,000 shards, bounded memory), kill + resume equals an uninterrupted run" \
  "$py" tests/python/load_resume.py --zagg "$zagg" --work "$work/load"

# 5. The Step Functions pipeline: moto's interpreter runs statemachine/zagg.asl.json, the four
# Lambda binaries answer under `cargo lambda watch`, with a corrupt granule, a flaky S3 and a
# throttled invocation; the store must equal `zagg run`'s on the same catalog, byte for byte.
check "state machine definition: asl-validator (as committed, substituted, and a broken copy refused)" \
  bash statemachine/validate.sh
check "Step Functions end to end (moto + cargo lambda watch): faults tolerated, store identical to zagg run" \
  "$py" tests/python/sfn_e2e.py --zagg "$zagg" --work "$work/sfn-e2e"
check "arm64 Lambda binaries: cargo lambda build + qemu-aarch64 invocation" bash scripts/lambda-arm64.sh
check "CDK stack: tests (assertions, IAM, cdk-nag) and cdk synth offline" bash scripts/infra-check.sh

# 6. Fuzz smoke: every cargo-fuzz target for a short time from the fixtures' seed corpus (the
# 10-minute runs are in docs/reliability.md).
check "fuzz smoke (granule bytes, corrupted granules, config YAML, CMR pages)" \
  env ZAGG_FUZZ_SECONDS="${ZAGG_FUZZ_SECONDS:-15}" ZAGG_FUZZ_LOGS="$work/fuzz-logs" bash scripts/fuzz.sh

echo
echo "end-to-end: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
