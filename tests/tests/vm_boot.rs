//! Self-test of the cgroup v2 VM harness (`cttest::vm`, `tests/vm/`): the VM
//! boots, /sys/fs/cgroup is a pure cgroup2 mount with the controllers the
//! tools need, host binaries run with their libraries, modules load, and the
//! results come back from the serial marker port.  One boot for all checks.

use std::time::Duration;

use cttest::vm::Vm;

const SCRIPT: &str = r#"
# busybox stat names no cgroup2 type: compare the magic (CGROUP2_SUPER_MAGIC).
vm_expect cgroup2_mounted 63677270 "$(stat -f -c %t /sys/fs/cgroup)"
vm_expect cgroup2_mount_line "cgroup2 /sys/fs/cgroup cgroup2" "$(grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f1-3)"
ctrls=$(vm_cat /sys/fs/cgroup/cgroup.controllers)
for c in cpu memory io pids cpuset; do
    case " $ctrls " in
        *" $c "*) vm_result controller_$c ok "$ctrls" ;;
        *) vm_result controller_$c fail "not in: $ctrls" ;;
    esac
done
# cgroup_no_v1=all: no v1 hierarchy can be mounted.
mkdir -p /tmp/v1
if mount -t cgroup -o memory none /tmp/v1 2>/dev/null; then
    vm_result no_v1 fail "v1 memory mounted"; umount /tmp/v1
else
    vm_result no_v1 ok "v1 refused"
fi
vm_check cmdline grep -q cgroup_no_v1=all /proc/cmdline
vm_expect cpus 2 "$(grep -c ^processor /proc/cpuinfo)"
# A dynamically linked host binary runs with its copied libraries.
vm_check host_binary /bin/probe-host --version
vm_check data_file grep -qx hello /etc/ctools-hello
# Modules: loop gives /dev/loop-control, a loop device works.
vm_check loop_module test -c /dev/loop-control
dd if=/dev/zero of=/tmp/img bs=1M count=4 2>/dev/null
dev=$(losetup -f)
if losetup "$dev" /tmp/img && [ "$(blockdev --getsize64 "$dev")" = 4194304 ]; then
    vm_result loop_device ok "$dev"
else
    vm_result loop_device fail "$dev"
fi
losetup -d "$dev" 2>/dev/null
vm_check virtio_disk test -b /dev/vda
# overlay (a module in the cloud kernel) mounts on tmpfs.
mkdir -p /tmp/o/l /tmp/o/u /tmp/o/w /tmp/o/m && echo lower > /tmp/o/l/f
if mount -t overlay overlay -o lowerdir=/tmp/o/l,upperdir=/tmp/o/u,workdir=/tmp/o/w /tmp/o/m; then
    echo upper > /tmp/o/m/f
    vm_expect overlay_copy_up "lower upper" "$(cat /tmp/o/l/f) $(cat /tmp/o/u/f)"
    umount /tmp/o/m
else
    vm_result overlay_copy_up fail "mount -t overlay failed"
fi
# A child cgroup with controllers enabled accepts a process.
echo "+cpu +memory +io +pids" > /sys/fs/cgroup/cgroup.subtree_control
mkdir /sys/fs/cgroup/t
vm_check child_controllers grep -q memory /sys/fs/cgroup/t/cgroup.controllers
sh -c 'echo $$ > /sys/fs/cgroup/t/cgroup.procs; cat /proc/self/cgroup' > /tmp/cg
vm_expect child_membership "0::/t" "$(cat /tmp/cg)"
rmdir /sys/fs/cgroup/t
vm_info kernel "$(uname -r)"
vm_info memtotal_kb "$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
exit 0
"#;

#[test]
fn vm_boots_cgroup2_and_reports() {
    if !cttest::vm::require("e2e::vm_boot::vm_boots_cgroup2_and_reports") {
        return;
    }
    // Any dynamically linked host program shows the library copying; `ls`
    // from coreutils is (and prints --version).
    let host_ls = std::path::Path::new("/bin/ls");
    let r = Vm::new()
        .cpus(2)
        .memory_mb(256)
        .binary_as(host_ls, "/bin/probe-host")
        .data("hello\n", "/etc/ctools-hello", 0o644)
        .module("loop")
        .module("overlay")
        .disk_mb(8)
        .script(SCRIPT)
        .run(Duration::from_secs(180));
    eprintln!("{}", r.report());
    r.assert_passed(&[
        "cgroup2_mounted",
        "cgroup2_mount_line",
        "controller_cpu",
        "controller_memory",
        "controller_io",
        "controller_pids",
        "no_v1",
        "cmdline",
        "cpus",
        "host_binary",
        "data_file",
        "loop_module",
        "loop_device",
        "virtio_disk",
        "overlay_copy_up",
        "child_controllers",
        "child_membership",
    ]);
    assert!(r.info.contains_key("kernel"));
}

#[test]
fn vm_reports_failures_and_exit_status() {
    if !cttest::vm::require("e2e::vm_boot::vm_reports_failures_and_exit_status") {
        return;
    }
    let r = Vm::new()
        .cpus(1)
        .memory_mb(128)
        // The other library finder: ldd, whatever mkrootfs can do.
        .use_mkrootfs(false)
        .binary("/bin/ls")
        .script("vm_result good ok fine\nvm_expect bad x y\nvm_check ls_by_ldd ls /vm\nexit 7\n")
        .run(Duration::from_secs(120));
    assert!(r.booted.is_some(), "{}", r.report());
    assert_eq!(r.exit, Some(7), "{}", r.report());
    assert!(r.check("good").is_some_and(|c| c.ok), "{}", r.report());
    assert_eq!(r.rootfs_builder, "ldd");
    assert!(r.check("ls_by_ldd").is_some_and(|c| c.ok), "{}", r.report());
    let bad = r.check("bad").expect("bad reported");
    assert!(!bad.ok);
    assert_eq!(bad.detail, "expected 'x', got 'y'");
    assert!(!r.timed_out);
}

#[test]
fn vm_times_out_and_is_killed() {
    if !cttest::vm::require("e2e::vm_boot::vm_times_out_and_is_killed") {
        return;
    }
    let r = Vm::new()
        .cpus(1)
        .memory_mb(128)
        .script("vm_result started ok\nsleep 600\n")
        .run(Duration::from_secs(10));
    assert!(r.timed_out, "{}", r.report());
    assert!(r.qemu_status.is_none());
    assert_eq!(r.exit, None);
    assert!(r.elapsed < Duration::from_secs(60));
}

#[test]
fn vm_boots_again_when_the_kernel_dies_before_init() {
    if !cttest::vm::require("e2e::vm_boot::vm_boots_again_when_the_kernel_dies_before_init") {
        return;
    }
    // No such /init in the initramfs and no root= to fall back to: the
    // kernel panics before any of the test runs, every boot, the way a
    // TCG-crashed boot does now and then.
    let r = Vm::new()
        .cpus(1)
        .memory_mb(128)
        .append("rdinit=/no-such-init")
        .script("vm_result never ok\n")
        .run(Duration::from_secs(60));
    assert!(r.booted.is_none(), "{}", r.report());
    assert!(r.kernel_crashed(), "{}", r.report());
    assert_eq!(r.crashed_boots.len(), 2, "{}", r.report());
    assert!(
        r.crashed_boots.iter().all(|c| c.contains("Kernel panic")),
        "{}",
        r.report()
    );
    assert!(
        r.report()
            .contains("boot 2: the guest kernel crashed, booted again")
    );
    assert!(!r.timed_out);
}
