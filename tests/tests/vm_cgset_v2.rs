//! cgset on real cgroup v2, in the qemu VM of `cttest::vm` (the host is
//! cgroup v1): the files each docker flag becomes, and what the kernel then
//! does with them (CPU time split by weight, a quota held, an allocation
//! OOM-killed, forks refused), the group lifecycle and the v2-only
//! diagnostics.  One boot runs every check; each is reported on the serial
//! marker port and asserted here by name.

use std::path::PathBuf;
use std::time::Duration;

use cttest::vm::Vm;

/// Touches N MiB (argv[1], default 100) page by page, then says so.
const ALLOC_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long mb = argc > 1 ? atol(argv[1]) : 100;
    long n = mb << 20;
    char *p = malloc(n);
    if (!p) { puts("malloc failed"); return 2; }
    for (long i = 0; i < n; i += 4096) p[i] = 1;
    printf("allocated %ld MiB\n", mb);
    return 0;
}
"#;

/// `/bin/timed CMD...`: runs CMD (output discarded) and prints its wall
/// time in 1/100 s, so that a measurement inside a group leaves out cgset's
/// own start.
const TIMED_SH: &str = r#"#!/bin/sh
cs() { awk '{ split($1, a, "."); print a[1] * 100 + a[2] }' /proc/uptime; }
t0=$(cs)
"$@" >/dev/null 2>&1
echo $(( $(cs) - t0 ))
"#;

/// The script run in the VM.  `$ALLOC` is the allocator command line.
const SCRIPT: &str = r#"
G=/sys/fs/cgroup/ctv2
usage() { sed -n 's/^usage_usec //p' "$1/cpu.stat"; }
uptime_cs() { awk '{ split($1, a, "."); print a[1] * 100 + a[2] }' /proc/uptime; }
hog() { # hog GROUP: a busy loop pinned to CPU 1, started through cgset's exec chain
    cgset "$1" -- taskset -c 1 sh -c 'while :; do :; done' &
}

# --- shares 1024 vs 512: cpu.weight 2:1, and CPU time 2:1 --------------------
vm_check shares_set_hi cgset -c 1024 /ctv2/hi
vm_check shares_set_lo cgset -c 512 /ctv2/lo
whi=$(cat $G/hi/cpu.weight 2>/dev/null); wlo=$(cat $G/lo/cpu.weight 2>/dev/null)
vm_info weight_hi "$whi"; vm_info weight_lo "$wlo"
if [ -n "$whi" ] && [ -n "$wlo" ] && [ "$whi" -eq $((2 * wlo)) ]; then
    vm_result shares_weight_ratio ok "cpu.weight $whi:$wlo"
else
    vm_result shares_weight_ratio fail "cpu.weight '$whi':'$wlo'"
fi
vm_check shares_controllers_enabled grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control
hog /ctv2/hi; p_hi=$!
hog /ctv2/lo; p_lo=$!
sleep 1
u0hi=$(usage $G/hi); u0lo=$(usage $G/lo)
sleep 4
u1hi=$(usage $G/hi); u1lo=$(usage $G/lo)
kill $p_hi $p_lo; wait $p_hi $p_lo 2>/dev/null
dhi=$((u1hi - u0hi)); dlo=$((u1lo - u0lo))
vm_info shares_usage_usec "$dhi $dlo"
ratio=$(awk -v a=$dhi -v b=$dlo 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "inf" }')
vm_info shares_cpu_ratio "$ratio"
if awk -v r="$ratio" 'BEGIN { exit !(r >= 1.6 && r <= 2.4) }'; then
    vm_result shares_cpu_time_ratio ok "$ratio ($dhi/$dlo us)"
else
    vm_result shares_cpu_time_ratio fail "$ratio ($dhi/$dlo us), want 2 +-20%"
fi

# --- --cpus 0.5: cpu.max 50000 100000, held at about 50% ---------------------
vm_check cpus_set cgset --cpus 0.5 /ctv2/half
vm_expect cpus_cpu_max "50000 100000" "$(cat $G/half/cpu.max 2>/dev/null)"
hog /ctv2/half; p=$!
sleep 1
u0=$(usage $G/half); t0=$(uptime_cs)
sleep 3
u1=$(usage $G/half); t1=$(uptime_cs)
kill $p; wait $p 2>/dev/null
share=$(awk -v u=$((u1 - u0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.3f", u / (t * 10000) }')
vm_info cpus_share "$share"
if awk -v s="$share" 'BEGIN { exit !(s >= 0.40 && s <= 0.60) }'; then
    vm_result cpus_held ok "$share of one CPU"
else
    vm_result cpus_held fail "$share of one CPU, want 0.5 +-20%"
fi
thr=$(sed -n 's/^nr_throttled //p' $G/half/cpu.stat)
if [ "${thr:-0}" -gt 0 ]; then vm_result cpus_throttled ok "nr_throttled $thr"
else vm_result cpus_throttled fail "nr_throttled '$thr'"; fi

# --- -m 64m: memory.max, a 100M allocation is OOM-killed ---------------------
vm_check memory_set cgset -m 64m /ctv2/mem
vm_expect memory_max 67108864 "$(cat $G/mem/memory.max 2>/dev/null)"
# docker's default: as much swap again as memory (memory+swap = 2 x memory).
vm_expect memory_swap_default 67108864 "$(cat $G/mem/memory.swap.max 2>/dev/null)"
before=$(sed -n 's/^oom_kill //p' $G/mem/memory.events)
out=$(cgset /ctv2/mem -- $ALLOC 2>&1); rc=$?
after=$(sed -n 's/^oom_kill //p' $G/mem/memory.events)
vm_info memory_alloc "rc=$rc oom_kill $before->$after peak=$(cat $G/mem/memory.peak 2>/dev/null)"
if [ "${after:-0}" -gt "${before:-0}" ] && [ $rc -ne 0 ]; then
    vm_result memory_oom_killed ok "exit $rc, oom_kill $before->$after"
else
    vm_result memory_oom_killed fail "exit $rc, oom_kill $before->$after: $out"
fi
out=$(cgset /ctv2/mem -- $ALLOC_SMALL 2>&1); rc=$?
vm_expect memory_small_alloc_fits 0 "$rc"
# The document's experiment with our stress: a 100M worker in a 64m group.
if [ -x /bin/stress-rs ]; then
    before=$(sed -n 's/^oom_kill //p' $G/mem/memory.events)
    out=$(cgset /ctv2/mem -- stress-rs --vm 1 --vm-bytes 100M --vm-hang 0 --timeout 30 2>&1); rc=$?
    after=$(sed -n 's/^oom_kill //p' $G/mem/memory.events)
    if [ "${after:-0}" -gt "${before:-0}" ] && [ $rc -ne 0 ]; then
        vm_result stress_vm_oom_killed ok "exit $rc, oom_kill $before->$after: $(echo "$out" | tail -n 1)"
    else
        vm_result stress_vm_oom_killed fail "exit $rc, oom_kill $before->$after: $out"
    fi
fi

# --- libcgroup form: v1 names translated to v2 -------------------------------
vm_check rule_set cgset -r cpu.shares=512 -r memory.limit_in_bytes=32M /ctv2/rule
vm_expect rule_cpu_weight "$wlo" "$(cat $G/rule/cpu.weight 2>/dev/null)"
vm_expect rule_memory_max 33554432 "$(cat $G/rule/memory.max 2>/dev/null)"

# --- --pids-limit: pids.max, forks past it fail ------------------------------
vm_check pids_set cgset --pids-limit 5 /ctv2/pids
vm_expect pids_max 5 "$(cat $G/pids/pids.max 2>/dev/null)"
cgset /ctv2/pids -- sh -c 'i=0; while [ $i -lt 10 ]; do sleep 60 & i=$((i+1)); done' >/dev/null 2>&1
cur=$(cat $G/pids/pids.current); ev=$(sed -n 's/^max //p' $G/pids/pids.events)
vm_info pids_after "current=$cur events.max=$ev"
if [ "$cur" -le 5 ] && [ "${ev:-0}" -gt 0 ]; then
    vm_result pids_forks_refused ok "current $cur, refused $ev"
else
    vm_result pids_forks_refused fail "current $cur, refused '$ev'"
fi

# --- --delete: refuses a populated group, --kill empties it ------------------
if cgset --delete /ctv2/pids 2>/tmp/del.err; then
    vm_result delete_refuses_populated fail "deleted a populated group"
else
    vm_result delete_refuses_populated ok "$(head -n 1 /tmp/del.err)"
fi
vm_check delete_kill cgset --delete --kill /ctv2/pids
vm_expect delete_kill_gone absent "$([ -d $G/pids ] && echo present || echo absent)"
vm_check delete_groups cgset --delete /ctv2/hi /ctv2/lo /ctv2/half /ctv2/mem /ctv2/rule
left=$(cd $G && find . -mindepth 1 -type d)
vm_expect delete_groups_gone "" "$left"

# --- memory companions: --memory-swap, --memory-reservation -----------------
vm_check swap_set cgset -m 64m --memory-swap 192m --memory-reservation 32m /ctv2/swapg
vm_expect swap_max 134217728 "$(cat $G/swapg/memory.swap.max 2>/dev/null)"
vm_expect reservation_low 33554432 "$(cat $G/swapg/memory.low 2>/dev/null)"

# --- cpuset, exec chain, --cpus above the CPU count ---------------------------
vm_check cpuset_set cgset --cpuset-cpus 1 /ctv2/cs
vm_expect cpuset_cpus 1 "$(cat $G/cs/cpuset.cpus 2>/dev/null)"
vm_expect exec_chain_cgroup "0::/ctv2/cs" "$(cgset /ctv2/cs -- cat /proc/self/cgroup 2>&1)"
vm_expect exec_chain_cpus_allowed 1 "$(cgset /ctv2/cs -- sed -n 's/^Cpus_allowed_list:\t*//p' /proc/self/status 2>&1)"
err=$(cgset --cpus 3 /ctv2/toomany 2>&1); rc=$?
if [ $rc -eq 125 ] && echo "$err" | grep -q "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"; then
    vm_result cpus_above_count ok "$err"
else
    vm_result cpus_above_count fail "exit $rc: $err"
fi
vm_expect cpus_above_count_nothing_left absent "$([ -d $G/toomany ] && echo present || echo absent)"

# --- --pid, --freeze/--thaw ---------------------------------------------------
sleep 60 & sp=$!
vm_check pid_move cgset --pid $sp /ctv2/pidg
vm_check pid_member grep -qx $sp $G/pidg/cgroup.procs
vm_check freeze cgset --freeze /ctv2/pidg
vm_expect frozen "frozen 1" "$(grep ^frozen $G/pidg/cgroup.events)"
vm_check thaw cgset --thaw /ctv2/pidg
vm_expect thawed "frozen 0" "$(grep ^frozen $G/pidg/cgroup.events)"
kill $sp; wait $sp 2>/dev/null

# --- io: io.max from device rates, measured on the virtio disk ---------------
# virtio_blk probes the disk asynchronously after its insmod.
i=0; while [ ! -e /sys/block/vda/dev ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mm=$(cat /sys/block/vda/dev)
vm_check io_bps_set cgset --device-read-bps /dev/vda:1mb /ctv2/iobps
vm_expect io_bps_max "$mm rbps=1048576 wbps=max riops=max wiops=max" "$(cat $G/iobps/io.max 2>/dev/null)"
# Timed inside the group, so cgset's own start does not count.
t=$(cgset /ctv2/iobps -- timed dd if=/dev/vda of=/dev/null bs=64k count=48 iflag=direct)
rate=$(awk -v t=$t 'BEGIN { printf "%.3f", 3 / (t / 100) }')
vm_info io_read_mb_per_s "$rate"
if awk -v r="$rate" 'BEGIN { exit !(r >= 0.7 && r <= 1.4) }'; then
    vm_result io_bps_held ok "$rate MB/s"
else
    vm_result io_bps_held fail "$rate MB/s, want about 1"
fi
vm_check io_iops_set cgset --device-read-iops /dev/vda:100 /ctv2/iops
vm_expect io_iops_max "$mm rbps=max wbps=max riops=100 wiops=max" "$(cat $G/iops/io.max 2>/dev/null)"
t=$(cgset /ctv2/iops -- timed dd if=/dev/vda of=/dev/null bs=4k count=300 iflag=direct)
iops=$(awk -v t=$t 'BEGIN { printf "%.1f", 300 / (t / 100) }')
vm_info io_read_iops "$iops"
if awk -v r="$iops" 'BEGIN { exit !(r >= 70 && r <= 140) }'; then
    vm_result io_iops_held ok "$iops reads/s"
else
    vm_result io_iops_held fail "$iops reads/s, want about 100"
fi
vm_check blkio_weight_set cgset --blkio-weight 500 /ctv2/bw
w=$(cat $G/bw/io.bfq.weight $G/bw/io.weight 2>/dev/null | tr '\n' ' ')
# io.bfq.weight takes blkio's 10..1000 as is; io.weight (1..10000) gets
# runc's conversion 1 + (w - 10) * 9999 / 990 = 4950.
case "$w" in
    *"default 4950"*|"default 500 "|"500 ") vm_result blkio_weight ok "$w" ;;
    *) vm_result blkio_weight fail "io.weight/io.bfq.weight: '$w'" ;;
esac
vm_check delete_more cgset --delete /ctv2/swapg /ctv2/cs /ctv2/pidg /ctv2/iobps /ctv2/iops /ctv2/bw

# --- v2's no-internal-processes rule, explained ------------------------------
sleep 60 & sp=$!
vm_check internal_outer cgset --pid $sp /ctv2/outer
err=$(cgset -m 64m /ctv2/outer/inner 2>&1); rc=$?
if [ $rc -eq 125 ] && echo "$err" | grep -q "no-internal-processes"; then
    vm_result internal_refused_explained ok "$err"
else
    vm_result internal_refused_explained fail "exit $rc: $err"
fi
vm_expect internal_nothing_left absent "$([ -d $G/outer/inner ] && echo present || echo absent)"
# A refused enable leaves the parent as it was (enabling the threaded
# controllers cpu/cpuset/pids alone would turn it into a thread root).
vm_expect internal_parent_unchanged "domain " "$(cat $G/outer/cgroup.type) $(cat $G/outer/cgroup.subtree_control)"
err=$(cgset --pid $sp /ctv2 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$err" | grep -q "no-internal-processes"; then
    vm_result internal_attach_explained ok "$err"
else
    vm_result internal_attach_explained fail "exit $rc: $err"
fi
kill $sp; wait $sp 2>/dev/null
vm_check internal_cleanup cgset --delete /ctv2/outer

# --- more flag translations ---------------------------------------------------
vm_check relative_set cgset -m 32m ./ctv2/rel
vm_expect relative_from_root 33554432 "$(cat $G/rel/memory.max 2>/dev/null)"
vm_check period_quota_set cgset --cpu-period 50000 --cpu-quota 25000 /ctv2/pq
vm_expect period_quota_cpu_max "25000 50000" "$(cat $G/pq/cpu.max 2>/dev/null)"
vm_check swap_unlimited_set cgset -m 64m --memory-swap -1 /ctv2/swapinf
vm_expect swap_unlimited max "$(cat $G/swapinf/memory.swap.max 2>/dev/null)"
vm_check more_cleanup cgset --delete /ctv2/rel /ctv2/pq /ctv2/swapinf

# --- --show on v2 ----------------------------------------------------------
cgset -m 64m /ctv2/show >/dev/null 2>&1
vm_check show_json sh -c "cgset --show --json /ctv2/show | grep -q 67108864"
vm_check show_text sh -c "cgset --show /ctv2/show | grep -qi memory"

# --- v2-only diagnostics: swappiness warns, --strict fails -------------------
err=$(cgset --memory-swappiness 60 /ctv2/swap 2>&1 >/dev/null); rc=$?
if [ $rc -eq 0 ] && echo "$err" | grep -qi swappiness; then
    vm_result swappiness_warns ok "$err"
else
    vm_result swappiness_warns fail "exit $rc: '$err'"
fi
err=$(cgset --strict --memory-swappiness 60 /ctv2/strict 2>&1 >/dev/null); rc=$?
if [ $rc -ne 0 ] && echo "$err" | grep -qi swappiness; then
    vm_result swappiness_strict_fails ok "exit $rc: $err"
else
    vm_result swappiness_strict_fails fail "exit $rc: '$err'"
fi
vm_expect strict_leaves_nothing absent "$([ -d $G/strict ] && echo present || echo absent)"
err=$(cgset --oom-kill-disable /ctv2/swap 2>&1 >/dev/null); rc=$?
if [ $rc -eq 0 ] && [ -n "$err" ]; then vm_result oom_kill_disable_warns ok "$err"
else vm_result oom_kill_disable_warns fail "exit $rc: '$err'"; fi

vm_check delete_missing_fails sh -c '! cgset --delete /ctv2/never-made'
vm_check cleanup_children cgset --delete --kill /ctv2/show /ctv2/swap
vm_check cleanup_parent cgset --delete /ctv2
vm_expect cleanup absent "$([ -d $G ] && echo present || echo absent)"
exit 0
"#;

const CHECKS: &[&str] = &[
    "shares_set_hi",
    "shares_set_lo",
    "shares_weight_ratio",
    "shares_controllers_enabled",
    "shares_cpu_time_ratio",
    "cpus_set",
    "cpus_cpu_max",
    "cpus_held",
    "cpus_throttled",
    "memory_set",
    "memory_max",
    "memory_oom_killed",
    "memory_small_alloc_fits",
    "rule_set",
    "rule_cpu_weight",
    "rule_memory_max",
    "pids_set",
    "pids_max",
    "pids_forks_refused",
    "delete_refuses_populated",
    "delete_kill",
    "delete_kill_gone",
    "delete_groups",
    "delete_groups_gone",
    "memory_swap_default",
    "swap_set",
    "swap_max",
    "reservation_low",
    "cpuset_set",
    "cpuset_cpus",
    "exec_chain_cgroup",
    "exec_chain_cpus_allowed",
    "cpus_above_count",
    "cpus_above_count_nothing_left",
    "pid_move",
    "pid_member",
    "freeze",
    "frozen",
    "thaw",
    "thawed",
    "io_bps_set",
    "io_bps_max",
    "io_bps_held",
    "io_iops_set",
    "io_iops_max",
    "io_iops_held",
    "blkio_weight_set",
    "blkio_weight",
    "delete_more",
    "internal_outer",
    "internal_refused_explained",
    "internal_nothing_left",
    "internal_parent_unchanged",
    "internal_attach_explained",
    "internal_cleanup",
    "relative_set",
    "relative_from_root",
    "period_quota_set",
    "period_quota_cpu_max",
    "swap_unlimited_set",
    "swap_unlimited",
    "more_cleanup",
    "show_json",
    "show_text",
    "swappiness_warns",
    "swappiness_strict_fails",
    "strict_leaves_nothing",
    "oom_kill_disable_warns",
    "delete_missing_fails",
    "cleanup_children",
    "cleanup_parent",
    "cleanup",
];

/// The allocator for the VM: a static C program when a compiler is here,
/// else the workspace's stress-rs.  (program path, 100M command, 16M command)
fn allocator(dir: &std::path::Path) -> (PathBuf, String, String) {
    if let Some(p) = cttest::vm::compile_static_c(dir, "alloc", ALLOC_C) {
        return (p, "/bin/alloc 100".into(), "/bin/alloc 16".into());
    }
    let s = cttest::bin_dir().join("stress-rs");
    assert!(
        s.is_file(),
        "the VM has no allocator: no C compiler with a static libc (build-essential) and no stress-rs built"
    );
    (
        s,
        "/bin/stress-rs --vm 1 --vm-bytes 100M --vm-hang 0 --timeout 5".into(),
        "/bin/stress-rs --vm 1 --vm-bytes 16M --timeout 1".into(),
    )
}

#[test]
fn cgset_on_cgroup_v2() {
    if !cttest::vm::require("e2e::vm_cgset_v2::cgset_on_cgroup_v2") {
        return;
    }
    let tmp = cttest::tempdir().expect("tempdir");
    let (alloc, big, small) = allocator(tmp.path());
    let script = format!("ALLOC='{big}'\nALLOC_SMALL='{small}'\n{SCRIPT}");
    let mut vm = Vm::new();
    let mut checks = CHECKS.to_vec();
    // stress-rs as well when it is built (always under `cargo test --workspace`).
    let stress = cttest::bin_dir().join("stress-rs");
    if stress.is_file() && stress != alloc {
        vm = vm.binary(&stress);
        checks.push("stress_vm_oom_killed");
    }
    let r = vm
        .cpus(2)
        .memory_mb(512)
        .tools(&["cgset"])
        .binary(&alloc)
        // Debian's cloud kernel has virtio_pci as a module, which disk_mb
        // does not load: without it there is no /dev/vda.
        .module("virtio_pci")
        .disk_mb(16)
        .data(TIMED_SH, "/bin/timed", 0o755)
        .script(script)
        .run(Duration::from_secs(300));
    eprintln!("{}", r.report());
    r.assert_passed(&checks);
}
