#!/bin/bash
# 一.4 名字空间: pid, net, mnt, uts, ipc and user namespaces, each seen from inside a container.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
ns_in() { contain run --rm tutorial readlink "/proc/self/ns/$1"; }
title "pid namespace: the container sees only its own processes, numbered from 1"
out=$(contain run --rm tutorial sh -c 'echo "my pid: $$"; ls /proc | grep "^[0-9]*$" | tr "\n" " "')
say "$out"
pids=$(tail -1 <<<"$out" | wc -w)
check "only the container's few processes are visible ($pids)" test "$pids" -le 6
check "pid numbering starts at 1 inside" contains "$out" "1 "
check "a new pid namespace" test "$(ns_in pid)" != "$(readlink /proc/self/ns/pid)"
title "net namespace: its own devices (only lo), routes and /proc/net"
out=$(contain run --rm tutorial cat /proc/net/dev)
say "$out"
check_eq "only the loopback device" lo "$(tail -n +3 <<<"$out" | cut -d: -f1 | tr -d ' ')"
check "--net host shares the host's" test "$(contain run --rm --net host tutorial readlink /proc/self/ns/net)" = "$(readlink /proc/self/ns/net)"
title "mnt namespace: a different file tree, like chroot"
show contain run --rm tutorial ls /
check "the host's /work is not there" test -z "$(contain run --rm tutorial ls -d /work 2>/dev/null)"
check "a new mount namespace" test "$(ns_in mnt)" != "$(readlink /proc/self/ns/mnt)"
title "uts namespace: its own hostname"
out=$(contain run --rm --hostname xingdian tutorial hostname)
say "$out"
check_eq "hostname inside" xingdian "$out"
check "the host's hostname differs ($(hostname))" test "$(hostname)" != xingdian
title "ipc namespace: System V objects are separate"
q=$(ipcmk -Q | grep -o '[0-9]*$')
on_exit "ipcrm -q $q"
show ipcs -q
out=$(contain run --rm tutorial cat /proc/sysvipc/msg)
say "inside: $out"
check "the host's message queue $q is invisible inside" test "$(wc -l <<<"$out")" -eq 1
title "user namespace: root inside, an ordinary user outside"
if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 1 ] && id nobody >/dev/null 2>&1; then
	chmod 755 "$TUT_TMP"
	mkdir -m 777 "$TUT_TMP/u"
	out=$(cd "$TUT_TMP/u" && setpriv --reuid=nobody --regid=nogroup --clear-groups \
		unshare-rs --user --map-root-user -- sh -c 'id -u; touch f; ls -n f' 2>&1)
	say "$out"
	check_eq "uid 0 inside" 0 "$(head -1 <<<"$out")"
	check_eq "the file belongs to nobody outside" nobody "$(stat -c %U "$TUT_TMP/u/f" 2>/dev/null)"
else
	say "unprivileged user namespaces are disabled here; skipped"
fi
finish
