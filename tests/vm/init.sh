#!/bin/busybox sh
# /init of the ctools test VM (cttest::vm puts it in the initramfs).
#
# Boots a busybox userland on the kernel's initramfs, mounts what the tests
# need (cgroup2 on /sys/fs/cgroup: the kernel runs with cgroup_no_v1=all),
# loads the modules listed in /vm/modules, runs /vm/test.sh with the helpers
# of /vm/lib.sh, reports on the marker port and powers off.
#
# Marker lines (parsed by cttest::vm, on /dev/ttyS1 when it exists, which
# the host writes to a file of its own, else on the console):
#   CTOOLS-BOOTED <kernel release>
#   CTOOLS-RESULT <name> ok|fail <detail>
#   CTOOLS-INFO <key> <value>
#   CTOOLS-EXIT <exit status of /vm/test.sh>
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /run
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /root
mount -t devpts devpts /dev/pts
# What udev or systemd would add: bash's process substitution opens /dev/fd/N.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
exec </dev/null >/dev/console 2>&1

CTOOLS_MARK=/dev/console
if [ -c /dev/ttyS1 ]; then
    stty -F /dev/ttyS1 raw -echo 2>/dev/null
    CTOOLS_MARK=/dev/ttyS1
fi
export CTOOLS_MARK
mark() { echo "$*" >>"$CTOOLS_MARK"; }
mark "CTOOLS-BOOTED $(uname -r)"

if [ -f /vm/modules ]; then
    while read -r m; do
        [ -n "$m" ] || continue
        insmod "/vm/modules.d/$m.ko" || echo "init: insmod $m failed"
    done </vm/modules
fi

hostname ctools-vm
ip link set lo up 2>/dev/null
cd /tmp
# The test runs in a shell of its own so that `exit` in it still reports.
sh -c '. /vm/lib.sh; . /vm/test.sh'
rc=$?
sync
echo "CTOOLS-EXIT $rc"
mark "CTOOLS-EXIT $rc"
poweroff -f
