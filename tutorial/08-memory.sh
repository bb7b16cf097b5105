#!/bin/bash
# 二.4 内存资源: -m 64m and the document's two stress runs (64M, 100M), the largest size that fits
# here, then every memory flag the document lists, each read back from the file the kernel
# keeps for it.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
ensure_stress_image
say "(-it, as the document types it: see 06)"
# run_until FILE SECONDS CMD...: the command shown and run in the background until it exits
# or FILE shows it sleeping with its memory (a run that fits never ends: --vm-hang 0); then
# stopped.  FITS=1 when it was sleeping with its memory, RC its exit status otherwise.
run_until() {
	local f=$1 s=$2 before id i
	shift 2
	before=$(contain ps -q)
	show_bg "$f" "$@"
	id=$(new_container "$before")
	FITS=0 RC=
	for ((i = 0; i < s * 10; i++)); do
		grep -q 'sleeping forever' "$f" && FITS=1 && break
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ $FITS = 1 ]; then
		contain stop -t 1 "$id" >/dev/null 2>&1
		wait "$BG_PID" 2>/dev/null
	else
		wait "$BG_PID"
		RC=$?
	fi
	sed -n '/^stress:/p; /^contain:/p' "$f"
}
title "docker run --rm -it -m 64m progrium/stress --vm 1 --vm-bytes 64M --vm-hang 0"
run_until "$TUT_TMP/m64.log" 30 contain run --rm -it -m 64m progrium/stress --vm 1 --vm-bytes 64M --vm-hang 0
out=$(cat "$TUT_TMP/m64.log")
check "stress is pid 1: [1] dispatching hogs: 0 cpu, 0 io, 1 vm, 0 hdd" contains "$out" "stress: info: [1] dispatching hogs: 0 cpu, 0 io, 1 vm, 0 hdd"
check "it allocated 67108864 bytes, as the document's" contains "$out" "allocating 67108864 bytes"
if [ $FITS = 1 ]; then
	ok "64M fits in 64m here, as in the document (sleeping forever with allocated memory)"
else
	say "the document's run sleeps with its 64M; here the worker is OOM-killed (exit $RC):"
	say "  this host has no swap ($(awk 'NR > 1' /proc/swaps | wc -l) swap devices), so nothing of the"
	say "  64M can be swapped out, and the worker's page tables and its own program and stack are"
	say "  charged to the same 64m limit as the 64M it touches: 64M of data cannot fit."
	say "  (Debian's own stress 1.0.7 is killed the same way; the document's host had swap, hence"
	say "  its WARNING about swap limits, which this kernel supports: no warning here.)"
	check "the 64M worker got signal 9 (the OOM killer)" eval "grep -q 'worker [0-9]* got signal 9' <<<\"\$out\""
fi
title "the largest --vm-bytes that fits in -m 64m here"
fit=""
for mb in 63 62 61 60 59 58 57 56 54 52 48; do
	run_until "$TUT_TMP/fit$mb.log" 20 contain run --rm -it -m 64m progrium/stress --vm 1 --vm-bytes ${mb}M --vm-hang 0
	if [ $FITS = 1 ]; then
		say "  ${mb}M: sleeping forever with allocated memory (then stopped)"
		fit=$mb
		break
	fi
	say "  ${mb}M: $(grep -o 'worker [0-9]* got signal [0-9]*' "$TUT_TMP/fit$mb.log" | head -1)"
done
check "a size below 64M fits (${fit}M)" test -n "$fit"
say "(the limit minus what the program itself and its page tables take)"

title "docker run --rm -it -m 64m progrium/stress --vm 1 --vm-bytes 100M --vm-hang 0"
run_until "$TUT_TMP/m100.log" 30 contain run --rm -it -m 64m progrium/stress --vm 1 --vm-bytes 100M --vm-hang 0
out=$(cat "$TUT_TMP/m100.log")
check "it allocated 104857600 bytes" contains "$out" "allocating 104857600 bytes"
check "the worker got signal 9" eval "grep -q 'worker [0-9]* got signal 9' <<<\"\$out\""
check "stress reports a failed run" contains "$out" "failed run completed"
check "non-zero exit ($RC)" test "$RC" -ne 0
doc "stress: FAIL: [1] (421) kill error: No such process"
say "(that line is stress 1.0.7's kill(-getpid()) failing where stress does not lead its process"
say " group; stress-rs signals its workers by pid instead, so it never prints it: man stress-rs,"
say " DIFFERENCES)"

title "every memory flag of the document, read back from the kernel's files"
# with ID FLAGS...: a container of those flags; D its memory cgroup
with() {
	shown contain run -d --name mem "$@" tutorial sleep 1000
	wait_running mem
	D=$(cg_dir mem memory)
}
rd() { # FILE...: the files shown, typed inside the container (its /sys/fs/cgroup); OUT
	local f a=()
	for f; do a+=("/sys/fs/cgroup/memory/$f"); done
	shown_in mem cat "${a[@]}"
}
done_with() { contain rm -f mem >/dev/null; }
say "inside, /sys/fs/cgroup shows the container's own cgroup, read-only, as docker's does"
with -m 64m
F=/sys/fs/cgroup/memory/memory.limit_in_bytes
cg_v2 mem memory && F=/sys/fs/cgroup/memory.max
shown_in mem cat "$F"
check_eq "-m 64m reads 67108864 inside the container" 67108864 "$OUT"
shown_in mem sh -c "echo 1 > $F"
check "writing the limit from inside is refused (read-only)" test "$RC" -ne 0
done_with
if cg_v2 "$(contain run -d tutorial sleep 1000)" memory; then
	say "(cgroup v2: the v1 files below do not exist; see tests/vm for v2)"
	finish
fi
contain rm -f "$(contain ps -q)" >/dev/null
M=209715200
say "-m, --memory: the minimum (the document: 4m; today's docker: 6MB, which contain follows, as it"
say "follows today's docker's checks everywhere: a container's own start needs more than 4MB)"
shown contain run --rm -m 4m tutorial true
check "-m 4m is refused with today's docker's message" contains "$OUT" "Minimum memory limit allowed is 6MB"
say "--memory-swap larger than -m: memory + swap is --memory-swap"
with -m 200m --memory-swap 300m
rd memory.limit_in_bytes memory.memsw.limit_in_bytes
check_eq "memsw is --memory-swap (300m)" "$M 314572800" "$(tr '\n' ' ' <<<"$OUT" | sed 's/ $//')"
done_with
say "--memory-swap equal to -m: the document says twice the memory as swap; docker (and contain)"
say "gives no swap at all: memory.memsw.limit_in_bytes counts memory and swap together, so a total"
say "equal to -m leaves no room for swap (docker's own documentation says so too)"
with -m 200m --memory-swap 200m
rd memory.memsw.limit_in_bytes
check_eq "memsw equal to -m: no swap" "$M" "$OUT"
done_with
say "--memory-swap 0 (or unset): swap as large as -m, memory + swap twice -m (the document's 400M)"
with -m 200m --memory-swap 0
rd memory.memsw.limit_in_bytes
check_eq "memsw twice -m" 419430400 "$OUT"
done_with
say "--memory-swap -1: swap unlimited"
with -m 200m --memory-swap -1
rd memory.memsw.limit_in_bytes
check "memsw unlimited" test "$OUT" -gt 9000000000000000000
done_with
say "--memory-swappiness 0..100: how much of the anonymous pages may be swapped"
with -m 200m --memory-swappiness 0
rd memory.swappiness
check_eq "swappiness 0" 0 "$OUT"
done_with
say "--memory-reservation: the soft limit, below -m"
with -m 200m --memory-reservation 100m
rd memory.soft_limit_in_bytes
check_eq "soft limit 100m" 104857600 "$OUT"
done_with
say "--kernel-memory: the document's kernel memory limit (minimum 4m); this kernel ($(uname -r)) keeps"
say "the file but ignores what is written (docker deprecated the flag): cgset warns, the file reads back"
shown contain run -d --name mem -m 200m --kernel-memory 50m tutorial sleep 1000
wait_running mem
D=$(cg_dir mem memory)
check "accepted, with a warning when the kernel ignores it" eval '[ "$RC" = 0 ] && { contains "$OUT" "kernel memory limits" || ! grep -q 9223372036854771712 "$D/memory.kmem.limit_in_bytes"; }'
rd memory.kmem.limit_in_bytes
check "the kernel's value is read back ($OUT)" test -n "$OUT"
done_with
say "--oom-kill-disable (with -m): a 100M allocation in 64m is not killed, it waits"
before=$(contain ps -q)
show_bg "$TUT_TMP/oom.log" contain run --rm -it -m 64m --oom-kill-disable progrium/stress --vm 1 --vm-bytes 100M --vm-hang 0
oomid=$(new_container "$before")
D=$(cg_dir "$oomid" memory)
for i in $(seq 1 100); do grep -q '^under_oom 1' "$D/memory.oom_control" 2>/dev/null && break; sleep 0.1; done
sleep 2
# (read from the host: a process exec'd into the container would join its group, which is out
# of memory, and wait there with the allocation)
shownsh "cat $(shq "$D/memory.oom_control")"
check "oom_kill_disable 1" contains "$OUT" "oom_kill_disable 1"
check "the group is under OOM, its allocation waiting" contains "$OUT" "under_oom 1"
check "the worker is alive, not killed" eval '! grep -q "got signal" "$TUT_TMP/oom.log" && kill -0 $BG_PID'
say "$(grep '^stress:' "$TUT_TMP/oom.log")"
show contain stop -t 1 "${oomid:0:12}"
wait "$BG_PID" 2>/dev/null
finish
