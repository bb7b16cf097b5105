#!/bin/bash
# 二.2 限制CPU share: two always-busy containers of progrium/stress --cpu 4, shares 1024 (the
# default) and 512, get CPU time about 2:1; two of 1024 get 50/50; the 512 one alone gets all.
# The figures come from each container's cgroup counter (cpuacct.usage; v2: cpu.stat), the
# kernel's own account of the time it gave them.
. "$(dirname "$0")/lib.sh"
need_root
ensure_stress_image
say "(each container runs in the background here, as in the document's own terminal; -it as the"
say " document types it: the terminal is relayed from outside the container, stress stays pid 1)"
# start NAME CMD...: the command in the background; its container's id into the variable NAME
declare -A BGP
start() {
	local var=$1 before
	shift
	before=$(contain ps -q)
	show_bg "$TUT_TMP/$var.log" "$@"
	eval "$var=\$(new_container \"\$before\")"
	BGP[${!var}]=$BG_PID
	wait_running "${!var}"
}
# stop ID: the document's ^C in the container's terminal (stop, then its --rm removes it)
stop() {
	contain stop -t 1 "$1" >/dev/null 2>&1
	wait "${BGP[$1]}" 2>/dev/null
}
# measure SECONDS ID...: each container's CPU time over SECONDS, in CPUs, into CPU[ID]
declare -A CPU
measure() {
	local s=$1 id t0 t1
	shift
	declare -A u0
	for id; do u0[$id]=$(cpu_ns "$id"); done
	t0=$(now_ns)
	sleep "$s"
	t1=$(now_ns)
	for id; do CPU[$id]=$(awk -v a=$(($(cpu_ns "$id") - u0[$id])) -v t=$((t1 - t0)) 'BEGIN { printf "%.3f", a / t }'); done
}
stress_lines() { # FILE: the stress lines, as the document shows them
	sleep 0.5
	say "$(grep '^stress:' "$1")"
}

title "docker run --rm -it progrium/stress --cpu 4"
start c1024 contain run --rm -it progrium/stress --cpu 4
stress_lines "$TUT_TMP/c1024.log"
check "stress is pid 1: [1] dispatching hogs: 4 cpu, 0 io, 0 vm, 0 hdd" contains "$(cat "$TUT_TMP/c1024.log")" "stress: info: [1] dispatching hogs: 4 cpu, 0 io, 0 vm, 0 hdd"
check "4 hogcpu workers forked" test "$(grep -c 'hogcpu worker [0-9] \[[0-9]*\] forked' "$TUT_TMP/c1024.log")" = 4

title "docker run --rm -it -c 512 progrium/stress --cpu 4"
start c512 contain run --rm -it -c 512 progrium/stress --cpu 4
stress_lines "$TUT_TMP/c512.log"
check "the 512 container's stress is pid 1 too" contains "$(cat "$TUT_TMP/c512.log")" "stress: info: [1] dispatching hogs: 4 cpu"
for c in $c1024 $c512; do
	d=$(cg_dir "$c" cpu)
	if cg_v2 "$c" cpu; then
		say "${c:0:12}: cpu.weight=$(cat "$d/cpu.weight") (cgroup v2: the shares as a weight)"
	else
		showsh "cat $(shq "$d/cpu.shares")"
	fi
done
sleep 1
measure 6 "$c1024" "$c512"
a=${CPU[$c1024]} b=${CPU[$c512]}
title "CPU time over 6 s, from the cgroups' CPU counters (8 hogs on this host's $(nproc) CPUs)"
bar "-c 1024" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / (a + b) }')"
bar "-c 512" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / (a + b) }')"
ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
say "ratio: $ratio : 1, $a and $b CPUs   (the document: 54% and 25% per stress process, 2:1)"
check_range "1024:512 gives about 2:1" 1.6 2.5 "$ratio"
show contain stats --no-stream
before=$b
stop "$c1024"
title "the 1024 container removed: the 512 one gets the CPU"
measure 3 "$c512"
alone=${CPU[$c512]}
bar "-c 512 alone" "$(awk -v x="$alone" -v n="$(nproc)" 'BEGIN { print x / n }')"
say "(it had $before CPUs while sharing, $alone alone: the document's 100%)"
check_range "the remaining container takes the freed CPU (x$(awk -v a="$alone" -v b="$before" 'BEGIN { printf "%.1f", a / b }'))" 1.5 10 "$(awk -v a="$alone" -v b="$before" 'BEGIN { print a / b }')"

title "two containers of the default share 1024: 50% each"
start c1024b contain run --rm -it progrium/stress --cpu 4
start c1024c contain run --rm -it progrium/stress --cpu 4
stop "$c512"
sleep 1
measure 6 "$c1024b" "$c1024c"
a=${CPU[$c1024b]} b=${CPU[$c1024c]}
bar "first (-c 1024)" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / (a + b) }')"
bar "second (-c 1024)" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / (a + b) }')"
ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
check_range "1024:1024 gives about 1:1 (the document's 50% and 50%)" 0.8 1.25 "$ratio"
stop "$c1024b"
stop "$c1024c"
finish
