#!/bin/bash
# stress-rs against stress 1.0.7, by the method of shared/research/stress.md §5:
#  1. work per CPU-second of each hog, counted from outside the processes:
#     cpu = rand() calls (an LD_PRELOAD counter, on both; stress-rs linked dynamically for
#     it, CTOOLS_LINK=dynamic, since a static binary cannot be preloaded), vm = minor faults
#     (/proc/PID/stat), hdd = wchar (/proc/PID/io), io = sync() calls
#     (perf's syscalls:sys_enter_sync); CPU-seconds = utime+stime of the
#     workers over the same window.  Both tools run at once, each pinned to
#     its own CPU (taskset), CPUs swapped every round; the median ratio
#     stress-rs / stress is printed with its range, and an A/A run of stress
#     against itself gives the noise floor.  Goal: >= 0.97 for cpu, vm, hdd.
#  2. memory overhead: the largest --vm-bytes (MiB) that survives 2 s in a
#     64 MiB v1 memory cgroup, for each (root only; goal: ours >= stress's).
#  3. dispatch: `-n -c 1k` (fork 1024 workers that exit at once), hyperfine,
#     side by side (goal: ratio <= 1).
# Usage: bench/stress.sh [ROUNDS [WINDOW_S]]   (default 6 rounds of 3 s)
# Env: SKIP_AA=1 skips the A/A calibration; HOGS="cpu vm hdd io" picks hogs;
# SKIP_MEM=1 skips the cgroup test; DISPATCH_BACKOFFS="" skips dispatch.
set -euo pipefail

rounds=${1:-6}
window=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
for t in stress taskset python3 cc hyperfine; do
    command -v "$t" >/dev/null || { echo "bench/stress.sh: needs $t" >&2; exit 1; }
done
(cd "$root" && cargo build -q --release -p stress-rs)
RS="$target/release/stress-rs"
# The tools are static: LD_PRELOAD cannot count a static binary's rand() calls.  The cpu
# hog's work is counted on the same code linked dynamically (CTOOLS_LINK=dynamic), built
# beside the release one.
(cd "$root" && CTOOLS_LINK=dynamic cargo build -q --release -p stress-rs --target-dir "$target/bench-dynamic")
RS_DYN="$target/bench-dynamic/release/stress-rs"
C=$(command -v stress)

work=$(mktemp -d /tmp/stress-bench.XXXXXX)
cg=""
cleanup() {
    [ -n "$cg" ] && rmdir "$cg" 2>/dev/null || true
    rm -rf "$work" /dev/shm/ctools-randcount.* 2>/dev/null || true
}
trap cleanup EXIT

# A rand() call counter in shared memory, one file per process, readable
# while the worker runs (workers die by SIGALRM: no exit hooks).
cat >"$work/randcount.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static int (*next_rand)(void);
static volatile uint64_t *count;
static int tried;

static void forked(void) { count = 0; tried = 0; }

__attribute__((constructor)) static void start(void)
{
    next_rand = (int (*)(void))dlsym(RTLD_NEXT, "rand");
    pthread_atfork(0, 0, forked);
}

static void attach(void)
{
    char path[80];
    tried = 1;
    snprintf(path, sizeof path, "/dev/shm/ctools-randcount.%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return;
    if (ftruncate(fd, 4096) == 0) {
        void *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED)
            count = m;
    }
    close(fd);
}

int rand(void)
{
    if (__builtin_expect(!tried, 0))
        attach();
    if (count)
        ++*count;
    return next_rand();
}
EOF
cc -O2 -shared -fPIC -o "$work/randcount.so" "$work/randcount.c" -ldl -lpthread

cat >"$work/pair.py" <<'EOF'
import json, os, statistics, struct, subprocess, sys, time
TCK = os.sysconf("SC_CLK_TCK")

def children(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    c = [int(x) for x in f.read().split()]
                out += c
                todo += c
        except OSError:
            pass
    return out

def sample(pids, metric):
    cpu = val = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
            f = s[s.rindex(")") + 2:].split()
            cpu += (int(f[11]) + int(f[12])) / TCK
            if metric == "minflt":
                val += int(f[7])
            elif metric == "wchar":
                with open(f"/proc/{p}/io") as io:
                    for line in io:
                        if line.startswith("wchar:"):
                            val += int(line.split()[1])
            elif metric == "rand":
                with open(f"/dev/shm/ctools-randcount.{p}", "rb") as r:
                    val += struct.unpack("<Q", r.read(8))[0]
        except (OSError, ValueError, struct.error):
            pass
    return cpu, val

def perf_syncs(pids, win):
    return subprocess.Popen(["perf", "stat", "-x,", "-e", "syscalls:sys_enter_sync",
                             "-p", ",".join(map(str, pids)), "--", "sleep", str(win)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

def perf_count(proc):
    err = proc.communicate()[1]
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 2 and "sys_enter_sync" in f[2]:
            return int(f[0]) if f[0].isdigit() else 0
    return 0

metric, rounds, win = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rest = sys.argv[4:]
i = rest.index("---")
A, B = rest[:i], rest[i + 1:]
ratios, utils = [], []
for r in range(rounds):
    ca, cb = (0, 1) if r % 2 == 0 else (1, 0)
    pa = subprocess.Popen(["taskset", "-c", str(ca)] + A, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pb = subprocess.Popen(["taskset", "-c", str(cb)] + B, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    ka, kb = children(pa.pid), children(pb.pid)
    a0, b0 = sample(ka, metric), sample(kb, metric)
    t0 = time.time()
    if metric == "sync":
        qa, qb = perf_syncs(ka, win), perf_syncs(kb, win)
        va, vb = perf_count(qa), perf_count(qb)
    else:
        time.sleep(win)
    a1, b1 = sample(ka, metric), sample(kb, metric)
    wall = time.time() - t0
    pa.wait()
    pb.wait()
    if metric != "sync":
        va, vb = a1[1] - a0[1], b1[1] - b0[1]
    cpa, cpb = a1[0] - a0[0], b1[0] - b0[0]
    if cpa <= 0 or cpb <= 0 or va <= 0:
        print(json.dumps({"round": r, "skipped": "no CPU time or no work sampled"}))
        continue
    ra, rb = va / cpa, vb / cpb
    ratios.append(rb / ra)
    utils.append((cpa / wall, cpb / wall))
    print(json.dumps({"round": r, "cpu_a": ca, "a_per_cpu_s": round(ra), "b_per_cpu_s": round(rb),
                      "util_a": round(cpa / wall, 2), "util_b": round(cpb / wall, 2), "ratio": round(rb / ra, 3)}))
if ratios:
    print(f"RESULT {metric}: median={statistics.median(ratios):.3f} min={min(ratios):.3f} max={max(ratios):.3f} "
          f"util_a={statistics.median(u[0] for u in utils):.2f} util_b={statistics.median(u[1] for u in utils):.2f} rounds={len(ratios)}")
else:
    print(f"RESULT {metric}: no valid round")
EOF

t=$((window + 2))
cd "$work"
declare -A args=(
    [cpu]="-q -c 1 -t $t"
    [vm]="-q -m 1 --vm-bytes 256M -t $t"
    [hdd]="-q -d 1 --hdd-bytes 256M -t $t"
    [io]="-q -i 1 -t $t"
)
declare -A metric=([cpu]=rand [vm]=minflt [hdd]=wchar [io]=sync)
summary=()
for hog in ${HOGS:-cpu vm hdd io}; do
    pre=()
    [ "$hog" = cpu ] && pre=(env "LD_PRELOAD=$work/randcount.so")
    # shellcheck disable=SC2206
    a=(${args[$hog]})
    if [ "${SKIP_AA:-}" != 1 ]; then
        echo "== $hog A/A: stress vs stress (${metric[$hog]} per CPU-s)"
        python3 pair.py "${metric[$hog]}" "$rounds" "$window" "${pre[@]}" "$C" "${a[@]}" --- "${pre[@]}" "$C" "${a[@]}" | tee "$work/last"
        line=$(tail -1 "$work/last")
        summary+=("$hog A/A (stress/stress):   ${line#RESULT }")
    fi
    b=$RS
    [ "$hog" = cpu ] && b=$RS_DYN
    echo "== $hog A/B: stress (A) vs stress-rs (B: $b)"
    python3 pair.py "${metric[$hog]}" "$rounds" "$window" "${pre[@]}" "$C" "${a[@]}" --- "${pre[@]}" "$b" "${a[@]}" | tee "$work/last"
    line=$(tail -1 "$work/last")
    summary+=("$hog A/B (stress-rs/stress): ${line#RESULT }")
done

# 2. The largest --vm-bytes that survives in a 64 MiB memory cgroup.
if [ "$(id -u)" = 0 ] && [ -z "${SKIP_MEM:-}" ]; then
    p=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
    if [ -n "$p" ] && [ -d "/sys/fs/cgroup/memory$p" ]; then
        cg="/sys/fs/cgroup/memory$p/ctools-bench-stress-$$"
        mkdir "$cg"
        echo 64M >"$cg/memory.limit_in_bytes"
        largest() {
            local bin=$1 m
            for m in 64 63 62 61 60 59 58 56 52 48; do
                if sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$bin" -q -m 1 --vm-bytes "${m}M" -t 2 >/dev/null 2>&1; then
                    echo "$m"
                    return
                fi
            done
            echo "<48"
        }
        ms=$(largest "$C")
        mr=$(largest "$RS")
        summary+=("largest --vm-bytes in a 64M cgroup: stress ${ms}M, stress-rs ${mr}M")
    fi
fi

# 3. Dispatch speed: -n -c 1k, with the default backoff (the first worker
# sleeps 3 s) and with --backoff 0 (fork and reap only).
for b in ${DISPATCH_BACKOFFS-3000 0}; do
    hyperfine -N -w 2 -r 10 --export-json "$work/dispatch.json" \
        "$C -q -n -c 1k --backoff $b" "$RS -q -n -c 1k --backoff $b" >&2
    ratio=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
a, b = r[0]["median"], r[1]["median"]
print("%.3f (%.1f ms vs %.1f ms)" % (b / a, a * 1e3, b * 1e3))' "$work/dispatch.json")
    summary+=("dispatch -n -c 1k --backoff $b, median time stress-rs/stress: $ratio")
done

echo
echo "== summary ($rounds rounds of ${window}s)"
printf '%s\n' "${summary[@]}"
