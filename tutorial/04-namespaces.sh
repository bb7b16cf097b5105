#!/bin/bash
# 一.4 名字空间: pid, net, mnt, uts, ipc and user namespaces, each seen from inside a container.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
ns_in() { contain run --rm tutorial readlink "/proc/self/ns/$1"; }
title "pid namespace: the container sees only its own processes, numbered from 1"
shown contain run --rm tutorial sh -c 'echo "my pid: $$"; ls /proc | grep "^[0-9]*$" | tr "\n" " "'
pids=$(tail -1 <<<"$OUT" | wc -w)
check "only the container's few processes are visible ($pids)" test "$pids" -le 6
check "the program is pid 1 inside" contains "$OUT" "my pid: 1"
check "a new pid namespace" test "$(ns_in pid)" != "$(readlink /proc/self/ns/pid)"
say "two containers side by side: the same pid 1 in two namespaces, two different host pids"
show contain run -d --name pid-a tutorial sleep 1000
show contain run -d --name pid-b tutorial sleep 1000
wait_running pid-a && wait_running pid-b
shown_in pid-a ps -o pid,comm
a1=$OUT
shown_in pid-b ps -o pid,comm
b1=$OUT
ha=$(sed -n 's/^pid //p' "$CONTAIN_ROOT/containers/$(cid_of pid-a)/meta")
hb=$(sed -n 's/^pid //p' "$CONTAIN_ROOT/containers/$(cid_of pid-b)/meta")
[ -n "$ha" ] || ha=$(contain inspect pid-a | grep -o '"Pid":[0-9]*' | head -1 | cut -d: -f2)
[ -n "$hb" ] || hb=$(contain inspect pid-b | grep -o '"Pid":[0-9]*' | head -1 | cut -d: -f2)
say "on the host: pid-a's pid 1 is $ha, pid-b's is $hb"
check "each container has its own pid 1 (sleep)" eval 'grep -Eq "^ *1 sleep" <<<"$a1" && grep -Eq "^ *1 sleep" <<<"$b1"'
check "they are two processes of the host ($ha, $hb)" eval '[ -n "$ha" ] && [ -n "$hb" ] && [ "$ha" != "$hb" ] && [ "$ha" != 1 ]'
check "in two pid namespaces" test "$(readlink "/proc/$ha/ns/pid")" != "$(readlink "/proc/$hb/ns/pid")"
contain rm -f pid-a pid-b >/dev/null
title "net namespace: its own devices (only lo with --network none), routes and /proc/net"
shown contain run --rm --network none tutorial cat /proc/net/dev
check_eq "only the loopback device" lo "$(tail -n +3 <<<"$OUT" | cut -d: -f1 | tr -d ' ')"
out=$(contain run --rm tutorial cat /proc/net/dev)
check_eq "the default network adds eth0 (docker's bridge; chapter 14)" "$(printf 'lo\neth0')" "$(tail -n +3 <<<"$out" | cut -d: -f1 | tr -d ' ' | sort -r)"
check "--net host shares the host's" test "$(contain run --rm --net host tutorial readlink /proc/self/ns/net)" = "$(readlink /proc/self/ns/net)"
title "mnt namespace: a different file tree, like chroot"
show contain run --rm tutorial ls /
check "the host's /work is not there" test -z "$(contain run --rm tutorial ls -d /work 2>/dev/null)"
check "a new mount namespace" test "$(ns_in mnt)" != "$(readlink /proc/self/ns/mnt)"
title "uts namespace: its own hostname and domain name"
shown contain run --rm --hostname xingdian tutorial hostname
check_eq "hostname inside" xingdian "$OUT"
check "the host's hostname differs ($(hostname))" test "$(hostname)" != xingdian
say "the domain name (uname's domainname, NIS) is the namespace's too: docker run --domainname"
hostdom=$(domainname)
shown contain run --rm --hostname xingdian --domainname example.org tutorial sh -c 'hostname; domainname'
check_eq "hostname and domain name set inside" "xingdian example.org" "$(tr '\n' ' ' <<<"$OUT" | sed 's/ $//')"
shown contain run --rm tutorial domainname
check_eq "without --domainname the container's is unset, as docker's" "(none)" "$OUT"
showsh "hostname; domainname"
check_eq "the host's domain name is unchanged" "$hostdom" "$(domainname)"
shown unshare-rs --uts -- sh -c 'domainname example.org; domainname'
check_eq "unshare-rs --uts: the same by hand" example.org "$OUT"
title "ipc namespace: System V objects are separate"
q=$(ipcmk -Q | grep -o '[0-9]*$')
on_exit "ipcrm -q $q"
show ipcs -q
shown contain run --rm tutorial cat /proc/sysvipc/msg
check "the host's message queue $q is invisible inside" test "$(wc -l <<<"$OUT")" -eq 1
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
