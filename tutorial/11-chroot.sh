#!/bin/bash
# 三 chroot: the document's root made by hand (copy bash and ls, then every library ldd
# lists), chroot into it, ls / shows only that tree.  Then mkrootfs --ldd (the same method) and
# mkrootfs (an ELF resolver, the default) side by side.
. "$(dirname "$0")/lib.sh"
need_root
T="$TUT_TMP/home/xingdian/test"
t=$(shq "$T")
say "(the document's /home/xingdian/test is made under $TUT_TMP here: the tutorial changes nothing of the host's /home)"
title "By hand, as in the document"
showsh "mkdir -p $t"
showsh "mkdir -p $t/{bin,lib64,lib}"
showsh "cp -v /bin/{bash,ls} $t/bin"
say "the document's loop, as it types it:"
shownsh "list=\"\$(ldd /bin/ls | egrep -o '/lib.*\\.[0-9]')\"; for i in \$list; do cp -v \"\$i\" \"$T/\${i}\"; done"
check "on this host it fails: cp cannot create the file, its directory is missing" contains "$OUT" "cp: cannot create regular file"
say "(Debian keeps the libraries in /lib/x86_64-linux-gnu, which the document's mkdir does not"
say " make; the document's CentOS has them in /lib64, which it does make)"
say "the fix: make each library's directory first"
showsh "list=\"\$(ldd /bin/ls | egrep -o '/lib.*\\.[0-9]')\"; for i in \$list; do mkdir -p \"$T/\$(dirname \$i)\"; cp -v \"\$i\" \"$T/\${i}\"; done"
showsh "list=\"\$(ldd /bin/bash | egrep -o '/lib.*\\.[0-9]')\"; for i in \$list; do mkdir -p \"$T/\$(dirname \$i)\"; cp -v \"\$i\" \"$T/\${i}\"; done"
shown chroot-rs "$T" /bin/bash -c 'ls /'
check_eq "ls / shows the test directory's content" "$(ls "$T" | tr '\n' ' ')" "$(tr '\n' ' ' <<<"$OUT")"
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
title "rootfs holds no kernel: every container shares the host's"
ensure_image tutorial
showsh "uname -r"
host=$(uname -r)
shown contain run --rm tutorial uname -r
check_eq "the container runs on the host's kernel" "$host" "$OUT"
check "the rootfs has no kernel image (no vmlinuz, no /boot)" test -z "$(find "$TUT_TMP/elf" -name 'vmlinu*' -o -name boot)"
title "a full rootfs: ls /"
out=$(ls "$TUT_TMP/elf" | tr '\n' ' ')
say "$out"
for d in bin dev etc home lib lib64 mnt opt proc root run sbin sys tmp usr var; do
	contains " $out" " $d " || bad "the rootfs lacks /$d"
done
ok "the document's directory list: bin dev etc home lib lib64 mnt opt proc root run sbin sys tmp usr var"
finish
