#!/bin/bash
# 二.5 IO资源: --device-read-bps DEV:1mb reads at about 1 MB/s, --device-read-iops DEV:100
# about 100 reads per second, on a loop device (O_DIRECT reads, as in the document).
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
say "the disk: $dev"
elapsed() { sed -n 's/.*copied, \([0-9.]*\) s.*/\1/p' <<<"$1"; }
title "docker run -it --device $dev --device-read-bps $dev:1mb ubuntu:16.04 bash"
show contain run -d --name bps --device "$dev" --device-read-bps "$dev:1mb" tutorial sleep 1000
wait_running bps
sleep 0.3
if cg_v2 bps io; then showsh "cat $(cg_dir bps io)/io.max"; else showsh "cat $(cg_dir bps blkio)/blkio.throttle.read_bps_device"; fi
printf '%sroot@%s:/# dd iflag=direct,nonblock if=%s of=/dev/null bs=1M count=4%s\n' "$B" "$(cid_of bps | cut -c1-12)" "$dev" "$N"
out=$(contain exec bps dd iflag=direct,nonblock if="$dev" of=/dev/null bs=1M count=4 2>&1)
say "$out"
check_range "4 MB take about 4 s at 1 MB/s" 3.3 5 "$(elapsed "$out")"
contain rm -f bps >/dev/null
title "docker run -it --device $dev --device-read-iops $dev:100 ubuntu:16.04 bash"
show contain run -d --name iops --device "$dev" --device-read-iops "$dev:100" tutorial sleep 1000
wait_running iops
sleep 0.3
if cg_v2 iops io; then showsh "cat $(cg_dir iops io)/io.max"; else showsh "cat $(cg_dir iops blkio)/blkio.throttle.read_iops_device"; fi
printf '%sroot@%s:/# dd iflag=direct,nonblock if=%s of=/dev/null bs=1k count=400%s\n' "$B" "$(cid_of iops | cut -c1-12)" "$dev" "$N"
out=$(contain exec iops dd iflag=direct,nonblock if="$dev" of=/dev/null bs=1k count=400 2>&1)
say "$out"
t=$(elapsed "$out")
check_range "400 reads take about 4 s at 100 reads/s" 3.3 5 "$t"
say "that is $(awk -v t="$t" 'BEGIN { printf "%.0f", 400 / t }') reads per second"
contain rm -f iops >/dev/null
finish
