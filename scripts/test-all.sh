#!/usr/bin/env bash
# Runs every test of the workspace (unit, CLI, privileged, e2e, VM, tutorial)
# and prints how many privileged tests ran and how many were skipped.
# As root every privileged test runs; with CI or CTOOLS_TEST_STRICT set a
# skip is a failure.  As another user the privileged tests are skipped and
# counted.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
log=$PWD/target/privileged-tests.log
out=$PWD/target/test-output.log
: >"$log"
export CTOOLS_TEST_LOG=$log

cargo build --workspace --all-targets
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build -p probe --target x86_64-unknown-linux-gnu
export CTOOLS_PROBE=$PWD/target/x86_64-unknown-linux-gnu/debug/probe

# The VM tests need a Debian cloud kernel; fetch it once (needs root and
# apt lists; without them the VM tests skip, which strict mode refuses).
if [ "$(id -u)" = 0 ] && [ -x tests/vm/fetch-kernel.sh ]; then
    tests/vm/fetch-kernel.sh || echo "warning: could not fetch the VM kernel" >&2
fi

status=0
# (bounded: a test that hangs fails the run in 40 minutes, naming itself in cargo's
# "has been running for over 60 seconds", instead of eating CI's 90)
timeout -k 30 40m cargo test --workspace --no-fail-fast 2>&1 | tee "$out" || status=$?

# The own chain's pass: contain's suites again with contain's own chain of the tools as the
# default runtime (CONTAIN_RUNTIME=contain, as dockerd's --default-runtime; the first pass ran
# them on runc-rs, the default), so that both are held to the same tests; counted into the
# totals like the first pass (about 4 minutes on a loaded 2-core machine).
rt_out=$PWD/target/test-output-runtime.log
rt_start=$SECONDS
CONTAIN_RUNTIME=contain timeout -k 30 20m cargo test -p e2e --no-fail-fast \
    --test contain_run --test contain_state --test contain_cli --test contain_isolation \
    --test contain_network --test contain_images --test escape 2>&1 | tee "$rt_out" || status=$?
echo "own chain pass (CONTAIN_RUNTIME=contain): $((SECONDS - rt_start)) s"

read -r passed failed < <(awk '/^test result:/ {
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed;?$/) p += $(i - 1)
            if ($(i) ~ /^failed;?$/) f += $(i - 1)
        }
    } END { print p + 0, f + 0 }' "$out" "$rt_out")
# make install / uninstall into a scratch DESTDIR, pages and completions.
inst_out=$(scripts/check-install.sh 2>&1) || status=1
printf '%s\n' "$inst_out"
inst=$(tail -n 1 <<<"$inst_out")
ipass=$(sed -n 's/^install: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' <<<"$inst")
ifail=$(sed -n 's/^install: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' <<<"$inst")
passed=$((passed + ${ipass:-0}))
failed=$((failed + ${ifail:-1}))

ran=$(grep -c '^ran ' "$log" || true)
skipped=$(grep -c '^skipped ' "$log" || true)
echo
echo "privileged tests: $ran ran, $skipped skipped (as $(id -un))"
if [ "$skipped" -gt 0 ]; then
    sed -n 's/^skipped /  skipped: /p' "$log" | sort | uniq | head -50
fi
echo "total: ${passed:-0} passed, ${failed:-0} failed, $skipped skipped"
exit "$status"
