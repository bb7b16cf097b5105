#!/bin/bash
# 二.3 限制容器能使用的 CPU 核数: --cpus 1.5 with three cpu hogs holds about 150% (each hog
# about 50%); --cpus above the host's count is refused with docker's message; containers whose
# --cpus add up to more than the host has all run, and share what there is.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
ensure_stress_image
say "(each container runs in the background, as in its own terminal, with -it: see 06)"
declare -A BGP
start() { # VAR CMD...: the command in the background, its container's id into VAR
	local var=$1 before
	shift
	before=$(contain ps -q)
	show_bg "$TUT_TMP/$var.log" "$@"
	eval "$var=\$(new_container \"\$before\")"
	BGP[${!var}]=$BG_PID
	wait_running "${!var}"
}
stop() {
	contain stop -t 1 "$1" >/dev/null 2>&1
	wait "${BGP[$1]}" 2>/dev/null
}
title "First, without a limit: what three hogs get on this (shared) host"
show contain run -d --name nolimit progrium/stress --cpu 3
wait_running nolimit
sleep 1
u0=$(cpu_ns nolimit) t0=$(now_ns)
sleep 3
u1=$(cpu_ns nolimit) t1=$(now_ns)
contain rm -f nolimit >/dev/null
free=$(awk -v a=$((u1 - u0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", a / t }')
bar "no limit" "$(awk -v x="$free" 'BEGIN { print x / 2 }')"
say "three hogs get $free CPUs here (2 CPUs, shared with the rest of the machine)"
title "docker run --rm -it --cpus 1.5 progrium/stress --cpu 3"
start cpus15 contain run --rm -it --cpus 1.5 progrium/stress --cpu 3
sleep 1
say "$(grep '^stress:' "$TUT_TMP/cpus15.log")"
check "stress is pid 1: [1] dispatching hogs: 3 cpu, 0 io, 0 vm, 0 hdd" contains "$(cat "$TUT_TMP/cpus15.log")" "stress: info: [1] dispatching hogs: 3 cpu, 0 io, 0 vm, 0 hdd"
d=$(cg_dir "$cpus15" cpu)
if cg_v2 "$cpus15" cpu; then
	showsh "cat $(shq "$d/cpu.max")"
	check_eq "the quota is 1.5 periods" "150000 100000" "$(cat "$d/cpu.max")"
else
	showsh "cat $(shq "$d/cpu.cfs_period_us") $(shq "$d/cpu.cfs_quota_us")"
	check_eq "the quota is 1.5 periods" 150000 "$(cat "$d/cpu.cfs_quota_us")"
fi
procs=$(cat "$(cg_dir "$cpus15" cpuacct)/cgroup.procs")
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
declare -A p0
for p in $procs; do p0[$p]=$(ticks "$p"); done
c0=$(cpu_ns "$cpus15") t0=$(now_ns)
sleep 5
c1=$(cpu_ns "$cpus15") t1=$(now_ns)
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
title "per process (like htop), from /proc/PID/stat"
printf '  %-8s %-16s %s\n' PID COMMAND CPU%
for p in $procs; do
	pct=$(awk -v a="${p0[$p]}" -v b="$(ticks "$p")" -v hz="$hz" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", (b - a) / hz * 1e9 / t * 100 }')
	printf '  %-8s %-16s %s%%\n' "$p" "$(cat /proc/$p/comm 2>/dev/null)" "$pct"
done
total=$(awk -v a=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", a / t }')
title "the container, from its cgroup's CPU counter"
bar "--cpus 1.5" "$(awk -v x="$total" 'BEGIN { print x / 2 }')"
say "total: $(awk -v x="$total" 'BEGIN { printf "%.0f", x * 100 }')% of one CPU (the document: 150%)"
check_range "--cpus 1.5 holds at most 1.5 CPUs" 0 1.6 "$total"
if awk -v f="$free" 'BEGIN { exit !(f >= 1.7) }'; then
	check_range "with the CPUs free, it holds about 1.5" 1.3 1.6 "$total"
else
	say "(only $free CPUs are free on this busy host, so 150% cannot show; the quota is checked below with a limit that fits)"
fi
thr=$(awk '$1 == "nr_throttled" { print $2 }' "$d/cpu.stat")
say "cpu.stat: nr_throttled=$thr (periods in which the quota stopped the group)"
stop "$cpus15"
title "a quota below what is free: --cpus 0.2 with three hogs"
show contain run -d --name cpus02 --cpus 0.2 progrium/stress --cpu 3
wait_running cpus02
sleep 1
c0=$(cpu_ns cpus02) t0=$(now_ns)
sleep 4
c1=$(cpu_ns cpus02) t1=$(now_ns)
small=$(awk -v a=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", a / t }')
bar "cpus02 (--cpus 0.2)" "$(awk -v x="$small" 'BEGIN { print x / 2 }')"
check_range "--cpus 0.2 holds about 0.2 CPUs" 0.12 0.23 "$small"
thr=$(awk '$1 == "nr_throttled" { print $2 }' "$(cg_dir cpus02 cpu)/cpu.stat")
check "the kernel throttled it (nr_throttled=$thr)" test "$thr" -gt 0
contain rm -f cpus02 >/dev/null
title "docker run --rm -it --cpus 8 progrium/stress --cpu 3"
n=$(nproc)
c8=8
[ "$n" -lt 8 ] || { c8=$((n * 2)) && say "(this host has $n CPUs: --cpus $c8 instead of 8)"; }
shown contain run --rm -it --cpus $c8 progrium/stress --cpu 3
doc "docker: Error response from daemon: Range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available. / See 'docker run --help'."
check_eq "refused in docker's words, for this host's $n CPUs" "contain: Error response from daemon: Range of CPUs is from 0.01 to $n.00, as there are only $n CPUs available.
See 'contain run --help'." "$OUT"
check_eq "exit status 125, as docker's" 125 "$RC"
check "nothing was created" test -z "$(contain ps -aq)"

title "--cpus adding up to more than the host has: both run, and share the CPUs"
say "(two containers of --cpus 1.5 on $n CPUs: 3 CPUs asked, $n there)"
start cpusa contain run --rm -it --cpus 1.5 progrium/stress --cpu 3
start cpusb contain run --rm -it --cpus 1.5 progrium/stress --cpu 3
sleep 1
ua0=$(cpu_ns "$cpusa") ub0=$(cpu_ns "$cpusb") t0=$(now_ns)
sleep 5
ua1=$(cpu_ns "$cpusa") ub1=$(cpu_ns "$cpusb") t1=$(now_ns)
fa=$(awk -v a=$((ua1 - ua0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", a / t }')
fb=$(awk -v a=$((ub1 - ub0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", a / t }')
bar "first (--cpus 1.5)" "$(awk -v x="$fa" -v n="$n" 'BEGIN { print x / n }')"
bar "second (--cpus 1.5)" "$(awk -v x="$fb" -v n="$n" 'BEGIN { print x / n }')"
say "$fa and $fb CPUs: together at most the $n there are, split by their equal shares"
show contain ps
check "both still run (neither failed nor exited)" eval 'wait_running "$cpusa" && wait_running "$cpusb"'
check_range "equal shares split what is there about evenly" 0.7 1.4 "$(awk -v a="$fa" -v b="$fb" 'BEGIN { print a / b }')"
check_range "together no more than the host's $n CPUs" 0 "$n.05" "$(awk -v a="$fa" -v b="$fb" 'BEGIN { print a + b }')"
stop "$cpusa"
stop "$cpusb"
finish
