#!/bin/bash
# 三 chroot: the document's root made by hand (copy bash and ls, then every library ldd
# lists), chroot into it, ls / shows only that tree.  Then mkrootfs --ldd (the same method) and
# mkrootfs (an ELF resolver, the default) side by side.
. "$(dirname "$0")/lib.sh"
need_root
T="$TUT_TMP/home/xingdian/test"
title "By hand, as in the document"
showsh "mkdir -p $T/{bin,lib64,lib}"
showsh "cp -v /bin/{bash,ls} $T/bin"
showsh "list=\"\$(ldd /bin/ls | egrep -o '/lib.*\\.[0-9]')\"; for i in \$list; do mkdir -p \"$T/\$(dirname \$i)\"; cp -v \"\$i\" \"$T/\${i}\"; done"
showsh "list=\"\$(ldd /bin/bash | egrep -o '/lib.*\\.[0-9]')\"; for i in \$list; do mkdir -p \"$T/\$(dirname \$i)\"; cp -v \"\$i\" \"$T/\${i}\"; done"
printf '%s[root@xingdian ~]# %s%s\n' "$B" "chroot-rs $T /bin/bash -c 'ls /'" "$N"
out=$(chroot-rs "$T" /bin/bash -c 'ls /' 2>&1)
say "$out"
check_eq "ls / shows the test directory's content" "$(ls "$T" | tr '\n' ' ')" "$(tr '\n' ' ' <<<"$out")"
title "mkrootfs --ldd (the document's method) and mkrootfs (the ELF resolver)"
show mkrootfs --ldd "$TUT_TMP/ldd" bash ls
show mkrootfs "$TUT_TMP/elf" bash ls
for r in ldd elf; do
	out=$(chroot-rs "$TUT_TMP/$r" /bin/bash -c 'ls /' 2>&1 | tr '\n' ' ')
	say "$r: ls / -> $out"
	check "bash and ls run in the $r root" test -n "$out"
done
say "files only in one of them:"
diff <(cd "$TUT_TMP/ldd" && find . | sort) <(cd "$TUT_TMP/elf" && find . | sort) | grep '^[<>]' | head -20
title "a full rootfs: ls /"
out=$(ls "$TUT_TMP/elf" | tr '\n' ' ')
say "$out"
for d in bin dev etc home lib lib64 mnt opt proc root run sbin sys tmp usr var; do
	contains " $out" " $d " || bad "the rootfs lacks /$d"
done
ok "the document's directory list: bin dev etc home lib lib64 mnt opt proc root run sbin sys tmp usr var"
finish
