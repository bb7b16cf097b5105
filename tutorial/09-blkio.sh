#!/bin/bash
# 二.5 IO资源: --device-read-bps DEV:1mb reads at about 1 MB/s, --device-read-iops DEV:100
# about 100 reads per second, on a loop device (O_DIRECT reads, as in the document); the write
# flags, --device-write-bps and --device-write-iops, likewise.  The disk is a loop device, not
# the host's /dev/sda; each container is started with -d and the document's commands typed into
# it with contain exec (the script cannot type into an interactive bash), the document's `cat` of
# the limit among them: /sys/fs/cgroup inside shows the container's own cgroup, read-only.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
truncate -s 64M "$TUT_TMP/disk.img"
# (busybox's losetup has no --show: find a free device, then attach)
dev=$(losetup -f --show "$TUT_TMP/disk.img" 2>/dev/null) ||
	{ dev=$(losetup -f) && losetup "$dev" "$TUT_TMP/disk.img"; } || {
	bad "no loop device"
	finish
}
on_exit "losetup -d $dev"
say "the disk: $dev (a loop device on a file here, not the host's /dev/sda)"
say "(each container is started with -d and the document's commands are typed into it with contain exec:"
say " the script cannot type into the interactive bash of the document's -it)"
elapsed() { sed -n 's/.*copied, \([0-9.]*\) s.*/\1/p' <<<"$1"; }
title "docker run -it --device $dev --device-read-bps $dev:1mb ubuntu:16.04 bash"
show contain run -d --name bps --device "$dev" --device-read-bps "$dev:1mb" tutorial sleep 1000
wait_running bps
sleep 0.3
if cg_v2 bps io; then
	shown_in bps cat /sys/fs/cgroup/io.max
	check "rbps=1048576 in io.max, read inside the container" contains "$OUT" "rbps=1048576"
else
	shown_in bps cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device
	check "the read limit, read inside the container ($OUT)" contains "$OUT" " 1048576"
fi
say "(the document reads 50 MB in 50 s: bs=5M count=10; 4 MB here, to keep the run short)"
shown_in bps dd iflag=direct,nonblock if="$dev" of=/dev/null bs=1M count=4
check_range "4 MB take about 4 s at 1 MB/s" 3.3 5 "$(elapsed "$OUT")"
contain rm -f bps >/dev/null
title "docker run -it --device $dev --device-read-iops $dev:100 ubuntu:16.04 bash"
show contain run -d --name iops --device "$dev" --device-read-iops "$dev:100" tutorial sleep 1000
wait_running iops
sleep 0.3
if cg_v2 iops io; then
	shown_in iops cat /sys/fs/cgroup/io.max
	check "riops=100 in io.max, read inside the container" contains "$OUT" "riops=100"
else
	shown_in iops cat /sys/fs/cgroup/blkio/blkio.throttle.read_iops_device
	check "the read iops limit, read inside the container ($OUT)" contains "$OUT" " 100"
fi
say "(the document reads 1000 blocks in 10 s; 400 here, to keep the run short)"
shown_in iops dd iflag=direct,nonblock if="$dev" of=/dev/null bs=1k count=400
t=$(elapsed "$OUT")
check_range "400 reads take about 4 s at 100 reads/s" 3.3 5 "$t"
say "that is $(awk -v t="$t" 'BEGIN { printf "%.0f", 400 / t }') reads per second"
contain rm -f iops >/dev/null
title "--device-write-bps $dev:1mb and --device-write-iops $dev:100"
show contain run -d --name wbps --device "$dev" --device-write-bps "$dev:1mb" tutorial sleep 1000
wait_running wbps
if cg_v2 wbps io; then
	shown_in wbps cat /sys/fs/cgroup/io.max
	check "wbps=1048576 in io.max" contains "$OUT" "wbps=1048576"
else
	shown_in wbps cat /sys/fs/cgroup/blkio/blkio.throttle.write_bps_device
	check "the write limit in blkio.throttle.write_bps_device ($OUT)" contains "$OUT" " 1048576"
fi
shown_in wbps dd oflag=direct if=/dev/zero of="$dev" bs=1M count=3
check_range "3 MB written take about 3 s at 1 MB/s" 2.4 4 "$(elapsed "$OUT")"
contain rm -f wbps >/dev/null
show contain run -d --name wiops --device "$dev" --device-write-iops "$dev:100" tutorial sleep 1000
wait_running wiops
if cg_v2 wiops io; then
	shown_in wiops cat /sys/fs/cgroup/io.max
	check "wiops=100 in io.max" contains "$OUT" "wiops=100"
else
	shown_in wiops cat /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device
	check "the write limit in blkio.throttle.write_iops_device ($OUT)" contains "$OUT" " 100"
fi
shown_in wiops dd oflag=direct if=/dev/zero of="$dev" bs=1k count=300
check_range "300 writes take about 3 s at 100 writes/s" 2.4 4 "$(elapsed "$OUT")"
contain rm -f wiops >/dev/null
finish
