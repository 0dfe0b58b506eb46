#!/usr/bin/env bash
# Builds the four Lambda binaries for AWS Lambda on arm64 (Graviton) with `cargo lambda build
# --profile aws-lambda --arm64` (zig as the cross linker; the profile is in Cargo.toml), prints
# the sizes of the four `bootstrap` files, then runs the arm64 process and template binaries
# under qemu-aarch64 against `cargo lambda watch --only-lambda-apis`
# (tests/python/check_arm64.py). docs/benchmarks.md has the build times and sizes.
#
# Installs what it is missing, quietly: the Rust target aarch64-unknown-linux-gnu,
# cargo-lambda and ziglang (pinned, from PyPI) into a Python venv, and the Debian packages
# qemu-user and libc6-arm64-cross when qemu-aarch64 or the arm64 glibc is missing.
#
# Environment:
#   ZAGG_PYTHON_VENV  venv for cargo-lambda + ziglang (default: .venv-lambda in the repository,
#                     made with python3 -m venv). Keep it fixed: the C compiler wrappers name
#                     the venv's cargo-lambda, so another venv rebuilds most of the arm64 target.
#   CARGO_TARGET_DIR  as for cargo; the binaries land in $CARGO_TARGET_DIR/lambda/<bin>/bootstrap
#   ZAGG_LAMBDA_PROFILE  cargo profile (default aws-lambda); `release` builds with cargo lambda's
#                     release overrides (thin LTO, one codegen unit, target-cpu=neoverse-n1)
#   ZAGG_ARM64_SKIP_QEMU=1  build and report sizes only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

cargo_lambda_version=1.9.2
ziglang_version=0.17.0
target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu
bins=(zagg-catalog zagg-template zagg-process zagg-consolidate)
packages=(zagg-lambda-catalog zagg-lambda-template zagg-lambda-process zagg-lambda-consolidate)
profile=${ZAGG_LAMBDA_PROFILE:-aws-lambda}
venv=${ZAGG_PYTHON_VENV:-$root/.venv-lambda}
target_dir=${CARGO_TARGET_DIR:-$root/target}

die() { echo "lambda-arm64: $*" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
quiet() { # quiet CMD...: run CMD, show its output only when it fails
  if ! "$@" > "$log" 2>&1; then cat "$log" >&2; return 1; fi
}

# --- tools
command -v rustup > /dev/null || die "rustup is needed (to add the $target target)"
if ! rustup target list --installed | grep -qx "$target"; then
  quiet rustup target add "$target" || die "rustup target add $target failed"
fi

if [ ! -x "$venv/bin/python" ]; then
  quiet python3 -m venv "$venv" || die "python3 -m venv $venv failed"
fi
if ! "$venv/bin/python" - "$cargo_lambda_version" "$ziglang_version" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    ok = version("cargo-lambda") == sys.argv[1] and version("ziglang") == sys.argv[2]
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
EOF
then
  quiet "$venv/bin/python" -m pip install --disable-pip-version-check \
    "cargo-lambda==$cargo_lambda_version" "ziglang==$ziglang_version" ||
    die "pip install cargo-lambda ziglang into $venv failed"
fi
# cargo finds `cargo-lambda` on PATH, and cargo-lambda finds zig as `python3 -m ziglang`.
export PATH="$venv/bin:$PATH"

if ! command -v qemu-aarch64 > /dev/null || [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  apt_install() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends qemu-user libc6-arm64-cross; }
  quiet apt_install || { quiet $sudo apt-get update && quiet apt_install; } ||
    die "apt-get install qemu-user libc6-arm64-cross failed"
fi

# --- build: the four binaries in one cargo invocation (shared dependencies)
pkg_args=()
for p in "${packages[@]}"; do pkg_args+=(-p "$p"); done
build=(cargo lambda build --profile "$profile" --arm64 --locked --quiet "${pkg_args[@]}")
for b in "${bins[@]}"; do rm -f "$target_dir/lambda/$b/bootstrap"; done
echo "${build[*]}"
start=$SECONDS
"${build[@]}" || die "${build[*]} failed"
echo "build: $((SECONDS - start)) s"

printf '%-18s %12s %9s\n' binary bytes MiB
for b in "${bins[@]}"; do
  f="$target_dir/lambda/$b/bootstrap"
  [ -f "$f" ] || die "$f was not produced"
  # ELF e_machine (offset 18, little-endian) 183 = EM_AARCH64
  [ "$(od -An -tu2 -j18 -N2 "$f" | tr -d ' ')" = 183 ] || die "$f is not an arm64 ELF binary"
  size=$(stat -c %s "$f")
  printf '%-18s %12d %9s\n' "$b" "$size" "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }')"
done

# --- run the arm64 binaries under qemu-aarch64
if [ "${ZAGG_ARM64_SKIP_QEMU:-0}" = 1 ]; then exit 0; fi
"$venv/bin/python" tests/python/check_arm64.py --lambda-dir "$target_dir/lambda" \
  --cargo-lambda "$venv/bin/cargo-lambda" --sysroot "$sysroot"
