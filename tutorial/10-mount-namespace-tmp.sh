#!/bin/bash
# 三 理解容器文件系统: a new mount namespace alone still shows the host's /tmp (mounts are
# inherited); remounting /tmp as tmpfs inside makes it empty there, and the mount is invisible
# on the host.  unshare-rs does what the document's clone(CLONE_NEWNS) program does, with /
# made private first.
. "$(dirname "$0")/lib.sh"
need_root
marker=$(mktemp /tmp/host-file.XXXXXX)
on_exit "rm -f $marker"
title "./ns   (clone with CLONE_NEWNS, then /bin/bash: ls /tmp)"
printf '%s[root@xingdian ~]# %s%s\n' "$B" "unshare-rs --mount -- bash -c 'ls /tmp'" "$N"
out=$(unshare-rs --mount -- bash -c 'echo "Container - inside the container!"; ls /tmp')
say "$(head -5 <<<"$out")"
say "..."
check "the host's files are still in /tmp inside" contains "$out" "$(basename "$marker")"
title "with mount(\"none\", \"/tmp\", \"tmpfs\", 0, \"\") before exec"
printf '%s[root@xingdian ~]# %s%s\n' "$B" "unshare-rs --mount -- bash -c 'mount -t tmpfs none /tmp; ls /tmp; mount -l | grep tmpfs'" "$N"
out=$(unshare-rs --mount -- bash -c 'mount -t tmpfs none /tmp && echo "ls /tmp: [$(ls /tmp)]" && mount -l | grep "^none on /tmp"')
say "$out"
check "/tmp is empty inside" contains "$out" "ls /tmp: []"
check "none on /tmp type tmpfs" contains "$out" "none on /tmp type tmpfs"
title "on the host"
showsh "mount -l | grep '^none on /tmp'"
check "the host has no such mount" test -z "$(mount -l | grep '^none on /tmp')"
check "the host's /tmp still holds its files" test -e "$marker"
finish
