#!/bin/bash
# 二.2 限制CPU share: two always-busy containers, shares 1024 (the default) and 512, get CPU
# time about 2:1.  Both are pinned to CPU 0 so they really compete (this host has only 2 CPUs);
# the figures come from each container's cpuacct.usage (cgroup v2: cpu.stat), the cgroup's own
# counter.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
title "docker run --rm -it progrium/stress --cpu 4   (here: --cpu 2, pinned to CPU 0)"
show contain run -d --name share1024 --cpuset-cpus 0 tutorial stress-rs --cpu 2 -v
title "docker run --rm -it -c 512 progrium/stress --cpu 4"
show contain run -d --name share512 -c 512 --cpuset-cpus 0 tutorial stress-rs --cpu 2 -v
wait_running share1024 && wait_running share512
sleep 1
show contain logs share512
for c in share1024 share512; do
	if cg_v2 $c cpu; then
		say "$c: cpu.weight=$(cat "$(cg_dir $c cpu)/cpu.weight") (cgroup v2: the shares as a weight)"
	else
		say "$c: cpu.shares=$(cat "$(cg_dir $c cpu)/cpu.shares")"
	fi
done
a0=$(cpu_ns share1024) b0=$(cpu_ns share512) t0=$(now_ns)
sleep 6
a1=$(cpu_ns share1024) b1=$(cpu_ns share512) t1=$(now_ns)
title "CPU time over $(((t1 - t0) / 1000000)) ms, from the cgroups' CPU counters"
fa=$(awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) 'BEGIN { print a / (a + b) }')
fb=$(awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) 'BEGIN { print b / (a + b) }')
printf '  %-22s %-40s %s\n' CONTAINER "share of the CPU they compete for" ""
bar "share1024 (-c 1024)" "$fa"
bar "share512  (-c 512)" "$fb"
before=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", b / t }')
ratio=$(awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) 'BEGIN { printf "%.2f", a / b }')
say "ratio: $ratio : 1   (the document: 67% and 33%, 2:1)"
check_range "1024:512 gives about 2:1" 1.6 2.5 "$ratio"
show contain stats
contain rm -f share1024 >/dev/null
a0=$(cpu_ns share512) t0=$(now_ns)
sleep 3
a1=$(cpu_ns share512) t1=$(now_ns)
alone=$(awk -v a=$((a1 - a0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", a / t }')
say "with the 1024 container removed, share512 uses $alone of CPU 0"
bar "share512 alone" "$alone"
say "(it had $before of CPU 0 while sharing; alone it should get about 3 times that, all the CPU the two had)"
check_range "the remaining container takes the freed CPU (x$(awk -v a="$alone" -v b="$before" 'BEGIN { printf "%.1f", a / b }'))" 1.5 10 "$(awk -v a="$alone" -v b="$before" 'BEGIN { print a / b }')"
finish
