#!/bin/bash
# 三 理解容器文件系统: the document's ns.c, compiled with gcc and run: a new mount namespace alone
# still shows the host's /tmp (mounts are inherited); with mount("none", "/tmp", "tmpfs") before
# exec, /tmp is empty inside and the mount is invisible on the host; umount /tmp inside shows
# the host's files again.  Then the same with unshare-rs.
. "$(dirname "$0")/lib.sh"
need_root
cd "$TUT_TMP" || exit 1
marker=$(mktemp /tmp/host-file.XXXXXX)
on_exit "rm -f $marker"
command -v gcc >/dev/null || {
	say "SKIP: no gcc here; the unshare-rs form below shows the same"
	NO_GCC=1
}
# The document's program, as printed there (its first form).
cat >ns.c <<'C'
#define _GNU_SOURCE
#include <sys/mount.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdio.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#define STACK_SIZE (1024 * 1024)
static char container_stack[STACK_SIZE];
char* const container_args[] = {
"/bin/bash",
NULL
};
int container_main(void* arg)
{
printf("Container - inside the container!\n");
execv(container_args[0], container_args);
printf("Something's wrong!\n");
return 1;
}
int main()
{
printf("Parent - start a container!\n");
int container_pid = clone(container_main, container_stack+STACK_SIZE, CLONE_NEWNS | SIGCHLD , NULL);
waitpid(container_pid, NULL, 0);
printf("Parent - container stopped!\n");
return 0;
}
C
# ns INPUT: ./ns with INPUT typed into its bash; the output is a pipe here, so stdbuf -oL
# (else the child's printf, still in its buffer, is lost in execv, and the parent's comes last)
ns() {
	local l
	show_line=$(shq stdbuf -oL ./ns)
	tut_log cmd "$show_line" stdbuf -oL ./ns
	prompt "$PS_HOST" "$show_line"
	while IFS= read -r l; do typed "$l"; done <<<"$1"
	OUT=$(stdbuf -oL ./ns <<<"$1" 2>&1)
	RC=$?
}
if [ -z "${NO_GCC:-}" ]; then
	title "the document's ns.c: clone(CLONE_NEWNS), then /bin/bash"
	show gcc -o ns ns.c
	say "(stdbuf -oL: the output here is a pipe, not a terminal; without it the child's printf is lost in its execv)"
	ns 'ls /tmp'
	say "$(head -6 <<<"$OUT")"
	say "..."
	say "$(tail -1 <<<"$OUT")"
	check "Container - inside the container!" contains "$OUT" "Container - inside the container!"
	check "the host's files are still in /tmp inside" contains "$OUT" "$(basename "$marker")"
	check "Parent - container stopped!" contains "$OUT" "Parent - container stopped!"

	title "with mount(\"none\", \"/tmp\", \"tmpfs\", 0, \"\") before execv"
	sed -i 's|^printf("Container - inside the container!\\n");|&\n// 如果你的机器的根目录的挂载类型是 shared，那必须先重新挂载根目录\n// mount("", "/", NULL, MS_PRIVATE, "");\nmount("none", "/tmp", "tmpfs", 0, "");|' ns.c
	# Where / or /tmp is a shared mount the tmpfs would propagate to the host's /tmp: the line
	# the document leaves commented out is then needed (recursive, for a /tmp of its own).
	shared=$(awk '($5 == "/" || $5 == "/tmp") { for (i = 7; $i != "-"; i++) if ($i ~ /^shared:/) print $5 }' /proc/self/mountinfo)
	if [ -n "$shared" ]; then
		say "($shared is a shared mount here: the document's commented line is needed, made MS_REC)"
		sed -i 's|^// mount("", "/", NULL, MS_PRIVATE, "");|mount("", "/", NULL, MS_PRIVATE \| MS_REC, "");|' ns.c
	else
		say "(/ is not a shared mount here: the document's commented-out line stays commented)"
	fi
	showsh "sed -n '/^int container_main/,/^}/p' ns.c"
	show gcc -o ns ns.c
	ns 'ls /tmp
mount -l | grep tmpfs
umount /tmp
ls /tmp | head -3'
	say "$OUT"
	# (ls /tmp printed nothing: the next line is already mount -l's)
	check "/tmp is empty inside" eval "grep -A1 '^Container - inside' <<<\"\$OUT\" | tail -1 | grep -q ' on .* type '"
	check "none on /tmp type tmpfs (rw,relatime)" contains "$OUT" "none on /tmp type tmpfs (rw,relatime)"
	check "after umount /tmp, the host's files show again" test "$(grep -A10 '^none on /tmp' <<<"$OUT" | grep -vc '^none\|^Parent\|tmpfs')" -ge 1
	title "on the host"
	showsh "mount -l | grep tmpfs"
	check "the host has no such mount" test -z "$(mount -l | grep '^none on /tmp')"
	check "the host's /tmp still holds its files" test -e "$marker"
fi

title "the same with unshare-rs (it makes / private first)"
shown unshare-rs --mount -- bash -c 'ls /tmp | head -3'
check "unshare-rs --mount: the host's /tmp inside" test -n "$OUT"
shown unshare-rs --mount -- bash -c 'mount -t tmpfs none /tmp; echo "ls /tmp: [$(ls /tmp)]"; mount -l | grep "^none on /tmp"; umount /tmp; ls /tmp | head -1'
check "/tmp is empty inside" contains "$OUT" "ls /tmp: []"
check "none on /tmp type tmpfs" contains "$OUT" "none on /tmp type tmpfs"
check "umount /tmp: the host's files again" test "$(tail -1 <<<"$OUT" | wc -w)" = 1
check "no mount left on the host" test -z "$(mount -l | grep '^none on /tmp')"
finish
