#!/bin/bash
# 三 (end): namespaces + cgroups + a changed root = a container.  The exec chain by hand, then
# the same with contain, and pivot_root against plain chroot.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
lower=$(contain inspect tutorial | grep -o '"Layers":\["sha256:[0-9a-f]*' | cut -d: -f3)
lower="$CONTAIN_ROOT/layers/$lower/fs"
mkdir -p "$TUT_TMP"/{upper,work,root}
title "The exec chain: cgroup, namespaces, layers, pivot_root"
chain=(cgset -m 64m --cpus 1 "./$CONTAIN_CGROUP_PARENT/by-hand" --
	unshare-rs --fork --pid --mount --uts --ipc --net --loopback --hostname by-hand --
	unionmount --lower "$lower" --upper "$TUT_TMP/upper" --work "$TUT_TMP/work" "$TUT_TMP/root" --
	chroot-rs --pivot --proc --dev --sys --harden -- "$TUT_TMP/root"
	sh -c 'echo "hostname: $(hostname)"; echo "ls /: $(ls / | tr "\n" " ")"; echo "pids: $(ls /proc | grep "^[0-9]*$" | tr "\n" " ")"; echo "net: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " ")"; echo written > /new-file')
on_exit "cgset --delete ./$CONTAIN_CGROUP_PARENT/by-hand; cg_rm_rel $CONTAIN_CGROUP_PARENT/by-hand; cg_rm_rel $CONTAIN_CGROUP_PARENT"
shown "${chain[@]}"
out=$OUT
check "its own hostname" contains "$out" "hostname: by-hand"
check "its own root" contains "$out" "ls /: bin dev etc"
check "only lo" contains "$out" "net: lo"
check "the write went to the upper layer" test -f "$TUT_TMP/upper/new-file"
check "not to the image" test ! -e "$lower/new-file"
check "nothing stays mounted" test -z "$(grep "$TUT_TMP/root" /proc/self/mountinfo)"
title "The same with contain"
show contain run --rm -m 64m --cpus 1 --hostname by-contain tutorial sh -c 'hostname; cat /proc/self/cgroup | grep -E "memory|cpu,|:cpu:"'
title "pivot_root against plain chroot"
say "by hand, pid 1 of the namespace is unshare-rs's init, which ran before the root was changed:"
mkdir -p "$TUT_TMP"/{u2,w2,u3,w3}
by_hand() { # UPPER WORK CHROOT-RS-OPTIONS...
	local u=$1 w=$2
	shift 2
	unshare-rs --fork --pid --mount -- unionmount --lower "$lower" --upper "$u" --work "$w" "$TUT_TMP/root" -- \
		chroot-rs --proc "$@" -- "$TUT_TMP/root" sh -c 'ls /proc/1/root/ 2>&1 | tr "\n" " "'
}
p=$(by_hand "$TUT_TMP/u2" "$TUT_TMP/w2" --pivot)
c=$(by_hand "$TUT_TMP/u3" "$TUT_TMP/w3")
say "pivot_root: ls /proc/1/root/ -> $p"
say "chroot:     ls /proc/1/root/ -> $c"
check "after pivot_root every process of the namespace has the new root" eval '! contains "$p" work'
check "with plain chroot the host's root is still reachable (/work shows)" contains "$c" work
say "contain runs the program itself as pid 1 (as docker does), and --chroot keeps it in the new root:"
p=$(contain run --rm tutorial sh -c 'echo "pid $$"; ls /proc/1/root/ 2>&1 | tr "\n" " "')
c=$(contain run --rm --chroot tutorial sh -c 'echo "pid $$"; ls /proc/1/root/ 2>&1 | tr "\n" " "')
say "contain:          $p"
say "contain --chroot: $c"
check "the program is pid 1" eval 'grep -qx "pid 1" <<<"$p"'
check "no host root from pid 1, pivot_root" eval '! contains "$p" work'
check "no host root from pid 1, --chroot" eval '! contains "$c" work'
finish
