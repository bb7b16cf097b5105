#!/bin/bash
# 二.4 内存资源: with -m 64m, a 60M allocation keeps running; a 100M one is killed with
# signal 9 (the OOM killer), as stress reports it.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
title "docker run --rm -it -m 64m progrium/stress --vm 1 --vm-bytes 60M --vm-hang 0"
printf '%s[root@xingdian ~]# %s%s\n' "$B" "contain run --rm -m 64m tutorial stress-rs --vm 1 --vm-bytes 60M --vm-hang 0 -v --timeout 4s" "$N"
out=$(contain run --rm -m 64m tutorial stress-rs --vm 1 --vm-bytes 60M --vm-hang 0 -v --timeout 4s 2>&1)
rc=$?
say "$out"
check "60M fits in 64M: the worker sleeps with its memory until the timeout (exit $rc)" test "$rc" = 0
check "it allocated 62914560 bytes" contains "$out" "allocating 62914560 bytes"
check "stress is pid 1 of the container, as the document shows it: [1] dispatching hogs" contains "$out" "[1] dispatching hogs"
title "docker run --rm -it -m 64m progrium/stress --vm 1 --vm-bytes 100M --vm-hang 0"
printf '%s[root@xingdian ~]# %s%s\n' "$B" "contain run --rm -m 64m tutorial stress-rs --vm 1 --vm-bytes 100M --vm-hang 0 -v" "$N"
out=$(contain run --rm -m 64m tutorial stress-rs --vm 1 --vm-bytes 100M --vm-hang 0 -v --timeout 20s 2>&1)
rc=$?
say "$out"
check "the worker got signal 9" eval "grep -q 'worker [0-9]* got signal 9' <<<\"\$out\""
check "stress reports a failed run" contains "$out" "failed run completed"
check "non-zero exit ($rc)" test "$rc" -ne 0
finish
