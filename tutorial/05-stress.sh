#!/bin/bash
# 二.1 系统压力测试工具: the document's stress scenarios and option list.  stress here is stress-rs
# (stress 1.0.7's grammar and messages) under the name stress, as the progrium/stress image
# installs it: stress-rs names itself by argv[0], so its lines read "stress: ...".
. "$(dirname "$0")/lib.sh"
cd "$TUT_TMP" || exit 1
mkdir -p bin
ln -sf "$(type -P stress-rs)" bin/stress
PATH="$TUT_TMP/bin:$PATH"
say "(stress is $(type -P stress-rs), linked as $TUT_TMP/bin/stress; yum install stress is not needed)"
title "stress options (the document's list)"
shown stress --help
for o in --help --version -t --timeout -c --cpu -m --vm -i --io --vm-bytes --vm-hang -d --hdd \
	--hdd-bytes --hdd-noclean; do
	grep -q -- "$o\\b" <<<"$OUT" || bad "stress --help does not list $o"
done
ok "stress --help lists every option the document lists (--hdd-noclean included)"
shown stress --version
run_stress() {
	shown "$@"
	check "exit 0 and 'successful run completed'" eval '[ "$RC" = 0 ] && grep -q "successful run completed" <<<"$OUT"'
	check "it dispatched the hogs" contains "$OUT" "dispatching hogs"
}
title "CPU load: stress -c 4"
say "(the document's 'stress c 4' lost its dash; it runs until ^C there, 3 seconds here: --timeout 3s)"
run_stress stress -c 4 --timeout 3s
check "4 cpu workers" contains "$OUT" "dispatching hogs: 4 cpu, 0 io, 0 vm, 0 hdd"
title "memory: stress -i 4 --vm 10 --vm-bytes 1G --vm-hang 100 --timeout 100s"
say "(here --vm-bytes 64M and --timeout 3s: 10 x 1G would take 10G of this shared 24G host for 100 s)"
run_stress stress -i 4 --vm 10 --vm-bytes 64M --vm-hang 100 --timeout 3s
check "4 io and 10 vm workers" contains "$OUT" "dispatching hogs: 0 cpu, 4 io, 10 vm, 0 hdd"
title "disk I/O: stress -d 1 --hdd-bytes 3G"
say "(here --hdd-bytes 64M and --timeout 3s: 3G per write loop on a shared disk for the whole run)"
run_stress stress -d 1 --hdd-bytes 64M --timeout 3s
n=$(ls stress.* 2>/dev/null | wc -l)
check_eq "the writer removed its file" 0 "$n"
title "disk, without removing the files: stress -i 1 -d 10 --hdd-bytes 3G --hdd-noclean"
say "(the document's 'hdd-noclean' lost its dashes; here --hdd-bytes 1M and --timeout 1s: each worker keeps a new file per loop)"
run_stress stress -i 1 -d 10 --hdd-bytes 1M --hdd-noclean --timeout 1s
n=$(ls stress.* 2>/dev/null | wc -l)
check "the written files were kept ($n)" test "$n" -ge 10
rm -f stress.*
finish
