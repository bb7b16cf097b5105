//! The switch_root-style fallback on a real initramfs: in a qemu VM whose
//! root is the kernel's rootfs (cttest::vm), pivot_root cannot leave `/`
//! (EINVAL), and `chroot-rs --pivot` moves the new root onto `/` and
//! chroots into it instead, as switch_root does.

use std::time::Duration;

const SCRIPT: &str = r#"
mkdir -p /newroot/bin
cp /bin/busybox /newroot/bin/busybox
for a in sh ls cat; do ln -s busybox /newroot/bin/$a; done
touch /newroot/only-in-newroot
vm_expect root_is_rootfs rootfs "$(awk '$5 == "/" {for (i = 7; i <= NF; i++) if ($i == "-") {print $(i+1); exit}}' /proc/self/mountinfo)"
# In the initial mount namespace --pivot is refused, pointing at unshare.
chroot-rs --pivot /newroot /bin/true 2>/tmp/refused; rc=$?
vm_expect refused_status 125 "$rc"
vm_check refused_says_how grep -q "unshare-rs -m" /tmp/refused
# In a mount namespace: pivot_root says EINVAL on rootfs, the fallback runs.
out=$(unshare -m chroot-rs --pivot --verbose /newroot /bin/sh -c 'ls /' 2>/tmp/err)
vm_expect fallback_sees_new_root "bin only-in-newroot" "$(echo $out)"
vm_check fallback_says_method grep -q "move+chroot" /tmp/err
vm_check fallback_says_rootfs grep -q "initramfs rootfs" /tmp/err
vm_info stderr "$(cat /tmp/err | tr '\n' '|')"
# --auto does the same, and so do the set-up options.
out=$(unshare -m chroot-rs --auto --proc --tmp /newroot /bin/sh -c 'echo $(ls /); cat /proc/self/mountinfo | wc -l' 2>&1)
vm_info auto "$out"
vm_expect auto_sees_new_root "bin only-in-newroot proc tmp" "$(echo "$out" | head -n 1)"
# The rootfs is covered whole by the moved root, so even the classic escape
# (chroot into a subdirectory, walk ..) ends on the new root: ".." from the
# rootfs's root crosses back into the mount stacked on it.
touch /only-on-rootfs
cp /bin/escape /newroot/bin/escape
out=$(unshare -m chroot-rs --pivot --verbose /newroot /bin/escape 2>/tmp/err2)
vm_expect escape_stays_in_new_root "escaped=0 proc=0 sys=0" "$out"
vm_check hiding_is_reported grep -q "proc/sysfs mounts outside" /tmp/err2
# The old root stays under the cover (as after switch_root); the full proc
# and sysfs mounts on it are detached first (runc's msMoveRoot), which the
# verbose report above says.
"#;

const ESCAPE_C: &str = r#"#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
    struct stat st;
    mkdir("/.escape", 0700);
    if (chroot("/.escape") != 0) { perror("chroot"); return 2; }
    for (int i = 0; i < 256; i++) if (chdir("..") != 0) break;
    if (chroot(".") != 0) { perror("chroot ."); return 2; }
    printf("escaped=%d proc=%d sys=%d\n", stat("/only-on-rootfs", &st) == 0,
           stat("/proc/self/status", &st) == 0, stat("/sys/kernel", &st) == 0);
    return 0;
}
"#;

#[test]
fn pivot_falls_back_to_move_and_chroot_on_rootfs() {
    if !cttest::require_root("chroot_rs::initramfs::pivot_falls_back_to_move_and_chroot_on_rootfs")
    {
        return;
    }
    if !cttest::vm::require("chroot_rs::initramfs::vm") {
        return;
    }
    let dir = cttest::tempdir().unwrap();
    let escape = cttest::vm::compile_static_c(dir.path(), "escape", ESCAPE_C)
        .expect("cc -static (packages gcc, libc6-dev)");
    let r = cttest::vm::Vm::new()
        .binary(cttest::bin("chroot-rs"))
        .binary(escape)
        .script(SCRIPT)
        .run(Duration::from_secs(300));
    eprintln!("{}", r.report());
    r.assert_passed(&[
        "root_is_rootfs",
        "refused_status",
        "refused_says_how",
        "fallback_sees_new_root",
        "fallback_says_method",
        "fallback_says_rootfs",
        "auto_sees_new_root",
        "escape_stays_in_new_root",
        "hiding_is_reported",
    ]);
}
