//! unionmount on a kernel whose overlayfs still has the legacy filesystem context (before
//! 6.5: Debian 12's own 6.1 cloud kernel, `cttest::vm`'s `legacy` one).  There fsconfig(2) gathers any key
//! and the kernel refuses `lowerdir+` (6.8) only when the union is created, in its log
//! alone; unionmount must see that and mount with mount(2) and one `lowerdir=` string,
//! keeping its defaults and the user's options.  (contain's unions failed with a bare
//! "Invalid argument" there.)

use std::time::Duration;

const SCRIPT: &str = r#"
D=/tmp/u
mkdir -p $D/l1 $D/l2 $D/l3 $D/up $D/m $D/vup
echo top >$D/l1/f; echo middle >$D/l2/f; echo bottom >$D/l3/f
echo low >$D/l3/only
vm_info kernel "$(uname -r)"
vm_expect series "6.1" "$(uname -r | cut -d. -f1,2)"
out=$(unionmount -v --lower $D/l1 --lower $D/l2 --lower $D/l3 --upper $D/up $D/m -- \
    sh -c 'cat '$D'/m/f; cat '$D'/m/only; echo changed >'$D'/m/only; grep " '$D'/m " /proc/mounts' 2>&1)
rc=$?
vm_info verbose "$out"
vm_expect three_layers "0|top|low" "$rc|$(echo "$out" | grep -x top)|$(echo "$out" | grep -x low)"
case $out in
*"new mount API unusable"*"using mount(2)"*) vm_result legacy_fallback ok ;;
*) vm_result legacy_fallback fail "$out" ;;
esac
case $(echo "$out" | grep " overlay ") in
*lowerdir=$D/l1:$D/l2:$D/l3*redirect_dir=on*) vm_result defaults_kept ok ;;
*) vm_result defaults_kept fail "$(echo "$out" | grep " overlay ")" ;;
esac
vm_expect copy_up "changed|low" "$(cat $D/up/only)|$(cat $D/l3/only)"
vm_check umount unionmount -u $D/m
vm_expect nothing_mounted "" "$(grep " $D/m " /proc/mounts)"
# A --rm container's union: volatile, through mount(2) too.
vm_expect volatile "volatile" \
    "$(unionmount -o volatile --lower $D/l1 --upper $D/vup $D/m -- grep " $D/m " /proc/mounts 2>&1 | grep -o volatile)"
unionmount -u $D/m
# The kernel's own refusal (a work directory on another mount) comes back with its reason.
mkdir -p /dev/shm/w
out=$(unionmount --lower $D/l1 --upper $D/up --work /dev/shm/w $D/m -- true 2>&1); rc=$?
case "$rc|$out" in
"125|"*"same mount"*) vm_result refusal ok "$out" ;;
*) vm_result refusal fail "$rc: $out" ;;
esac
exit 0
"#;

#[test]
fn unionmount_on_a_legacy_overlayfs() {
    if !cttest::vm::require("e2e::vm_unionmount_legacy::unionmount_on_a_legacy_overlayfs") {
        return;
    }
    let r = cttest::vm::Vm::new()
        .tools(&["unionmount"])
        .module("overlay")
        .legacy_kernel()
        .script(SCRIPT)
        .run(Duration::from_secs(120));
    eprintln!("{}", r.report());
    r.assert_passed(&[
        "series",
        "three_layers",
        "legacy_fallback",
        "defaults_kept",
        "copy_up",
        "umount",
        "nothing_mounted",
        "volatile",
        "refusal",
    ]);
}
