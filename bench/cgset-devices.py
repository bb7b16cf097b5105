#!/usr/bin/env python3
"""The cost of cgset's device policy on a start, paired: `cgset -m 64m -c 512
./G -- true` with and without --device-default (v1), and on the cgroup2
hierarchy (the hybrid's, when mounted) the BPF program's load and attach.
The two commands alternate run by run, so that the load of a shared machine
hits both alike; reported: medians, the median of the paired differences.

    bench/cgset-devices.py [v1|v2] [fresh] [RUNS]     (root; after bench/cgset.sh
                                                       or cargo build --release -p cgset)
"""
import os
import statistics
import subprocess
import sys
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CG = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "cgset")
mode = sys.argv[1] if len(sys.argv) > 1 else "v1"
fresh = "fresh" in sys.argv[2:]
runs = next((int(a) for a in sys.argv[2:] if a.isdigit()), 400)
n = f"cgset-devbench-{os.getpid()}"
if mode == "v1":
    base = [CG]
    a_cmd = [CG, "-m", "64m", "-c", "512", f"./{n}-a", "--", "true"]
    b_cmd = [CG, "-m", "64m", "-c", "512", "--device-default", f"./{n}-b", "--", "true"]
else:
    u = next((l.split()[1] for l in open("/proc/mounts") if l.split()[2] == "cgroup2"), None)
    if not u:
        sys.exit("no cgroup2 hierarchy mounted")
    base = [CG, "--root", u]
    a_cmd = base + [f"/{n}-a", "--", "true"]
    b_cmd = base + ["--device-default", f"/{n}-b", "--", "true"]


def delete(cmd):
    subprocess.run(base + ["--delete", cmd[cmd.index("--") - 1]], stderr=subprocess.DEVNULL)


def timed(cmd):
    if fresh:
        delete(cmd)
    s = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - s


try:
    for _ in range(10):
        timed(a_cmd)
        timed(b_cmd)
    a, b = [], []
    for i in range(runs):
        if i % 2:
            b.append(timed(b_cmd))
            a.append(timed(a_cmd))
        else:
            a.append(timed(a_cmd))
            b.append(timed(b_cmd))
finally:
    delete(a_cmd)
    delete(b_cmd)
ma, mb = statistics.median(a), statistics.median(b)
d = statistics.median(y - x for x, y in zip(a, b))
print(f"{mode} {'fresh' if fresh else 'steady'}: median {ma * 1e3:.2f} ms without, {mb * 1e3:.2f} ms with "
      f"--device-default, ratio {mb / ma:.2f}; paired difference {d * 1e3:+.2f} ms; "
      f"min {min(a) * 1e3:.2f} vs {min(b) * 1e3:.2f} ms")
