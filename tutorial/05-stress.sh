#!/bin/bash
# 二.1 系统压力测试工具: the stress scenarios of the document, with stress-rs (same grammar as
# stress 1.0.7), scaled to seconds and megabytes.
. "$(dirname "$0")/lib.sh"
cd "$TUT_TMP" || exit 1
title "stress options"
stress-rs --help | head -20
run_stress() {
	printf '%s[root@xingdian ~]# %s%s\n' "$B" "$*" "$N"
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	say "$out"
	check "exit 0 and 'successful run completed'" eval "[ $rc = 0 ] && grep -q 'successful run completed' <<<\"\$out\""
	check "it dispatched the hogs" contains "$out" "dispatching hogs"
}
title "CPU load (stress -c 4)"
run_stress stress-rs -c 2 -t 2
title "memory: io workers, vm workers allocating and keeping memory"
run_stress stress-rs -i 1 --vm 2 --vm-bytes 32M --vm-hang 1 --timeout 3s
title "disk I/O: a writer of 3G (here 16M)"
run_stress stress-rs -d 1 --hdd-bytes 16M -t 2
title "disk, without removing the files (--hdd-noclean)"
run_stress stress-rs -i 1 -d 2 --hdd-bytes 8M --hdd-noclean -t 2
n=$(ls stress.* 2>/dev/null | wc -l)
check "the written files were kept ($n)" test "$n" -ge 1
rm -f stress.*
finish
