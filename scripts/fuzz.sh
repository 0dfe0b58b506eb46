#!/usr/bin/env bash
# Fuzz smoke: every cargo-fuzz target of fuzz/ for ZAGG_FUZZ_SECONDS (default 30) seconds,
# one after the other, each as one libFuzzer process, from the seed corpus the committed
# fixtures give (fuzz/seed.sh). Exits non-zero naming the target and the reproducer when a
# target crashes (a panic), hangs (-timeout) or runs out of memory (-rss_limit_mb).
#
# Works on the stable toolchain: cargo-fuzz needs nightly flags (-Z...), which
# RUSTC_BOOTSTRAP=1 allows. Installs the pinned cargo-fuzz when it is missing.
# docs/reliability.md says how the targets were run and what they found.
#
# Environment:
#   ZAGG_FUZZ_SECONDS    seconds per target (30)
#   ZAGG_FUZZ_TARGETS    targets to run, space-separated (all)
#   ZAGG_FUZZ_SANITIZER  none (default) or address
#   ZAGG_FUZZ_LOGS       where each target's libFuzzer log goes (fuzz/logs)
#   ZAGG_FUZZ_RUN_ARGS   more libFuzzer flags, e.g. "-seed=1"
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${ZAGG_FUZZ_SECONDS:-30}
read -r -a targets <<<"${ZAGG_FUZZ_TARGETS:-granule_bytes granule_corrupt config_yaml cmr_page}"
sanitizer=${ZAGG_FUZZ_SANITIZER:-none}
logs=${ZAGG_FUZZ_LOGS:-$root/fuzz/logs}
read -r -a extra <<<"${ZAGG_FUZZ_RUN_ARGS:-}"
cargo_fuzz_version=0.13.2

export RUSTC_BOOTSTRAP=1
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
    echo "fuzz: installing cargo-fuzz $cargo_fuzz_version"
    cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

"$root/fuzz/seed.sh"
mkdir -p "$logs"
cd "$root/fuzz"
build=(--sanitizer "$sanitizer")
started=$SECONDS
cargo fuzz build "${build[@]}"
echo "fuzz: built in $((SECONDS - started)) s"

failed=()
for t in "${targets[@]}"; do
    # Input length: the largest seeds, or what the target's input needs. granule_corrupt
    # runs a few dozen inputs a second; without -len_control=0 libFuzzer would take most of
    # a run to let its edit lists grow past a few bytes.
    target_args=()
    case $t in
        granule_bytes) max_len=400000 ;; # the fixtures are up to 300 kB
        granule_corrupt) max_len=4096 target_args=(-len_control=0) ;;
        cmr_page) max_len=131072 ;;
        *) max_len=16384 ;;
    esac
    log="$logs/$t.log"
    echo "fuzz: $t for $seconds s (log: $log)"
    if cargo fuzz run "${build[@]}" "$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len="$max_len" \
        -print_final_stats=1 "${target_args[@]}" "${extra[@]}" >"$log" 2>&1; then
        # The last status line: executions, coverage, features, corpus, peak RSS.
        grep -E '^#[0-9]+' "$log" | tail -n 1 || true
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
    else
        echo "fuzz: FAILED: $t" >&2
        grep -E 'ERROR: libFuzzer|panicked at|deadly signal|out-of-memory|timeout' "$log" | head -n 5 >&2 || true
        artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | cut -d' ' -f5 || true)
        echo "fuzz: $t: reproducer: ${artifact:-none written, see $log}" >&2
        if [ -n "$artifact" ]; then
            echo "fuzz: reproduce with: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${build[*]} $t $artifact" >&2
        fi
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} target(s) ran ${seconds} s each without a crash, hang or OOM"
