//! cgset's device policy on real cgroup v2, in the qemu VM of `cttest::vm`
//! (the host is cgroup v1): the BPF_PROG_TYPE_CGROUP_DEVICE program cgset
//! generates and attaches, checked by what a process in the group can
//! open and mknod (cgset/tests/devcheck.c), the replacement of cgset's
//! earlier program, --show, --dry-run and refusals.  One boot runs every
//! check; each is reported on the serial marker port and asserted by name.

use std::time::Duration;

use cttest::vm::Vm;

const DEVCHECK_C: &str = include_str!("../../cgset/tests/devcheck.c");

const SCRIPT: &str = r#"
G=/sys/fs/cgroup/ctdev
# virtio_blk probes the disk asynchronously after its insmod.
i=0; while [ ! -e /sys/block/vda/dev ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mm=$(cat /sys/block/vda/dev); MA=${mm%:*}; MI=${mm#*:}
vm_info block_device "vda $MA:$MI"
mknod /tmp/blk b $MA $MI
mknod /tmp/chr c $MA $MI
mknod /tmp/next b $MA $((MI + 1))
# got CHECK: devcheck's answer for CHECK in $OUT.
got() { echo "$OUT" | grep -F "$1 " | head -n 1 | cut -d' ' -f2-; }
MK="mknod=/tmp/mk,b,$MA,$MI"
ALL="open=/dev/null openrw=/dev/zero openrw=/dev/full open=/dev/urandom pty $MK open=/tmp/blk openrw=/tmp/blk open=/tmp/chr open=/tmp/next"
programs() { cgset --show --json "$1" | grep -c '"name": "cgset_devices"'; }

# --- --device-default: docker's list, nothing else --------------------------
OUT=$(cgset --device-default /ctdev/def -- devcheck $ALL 2>&1); echo "$OUT"
vm_expect def_null ok "$(got open=/dev/null)"
vm_expect def_zero ok "$(got openrw=/dev/zero)"
vm_expect def_full ok "$(got openrw=/dev/full)"
vm_expect def_urandom ok "$(got open=/dev/urandom)"
vm_expect def_pty ok "$(got pty)"
vm_expect def_mknod_but_no_open "mknod ok open EPERM" "$(got $MK)"
vm_expect def_block_refused EPERM "$(got open=/tmp/blk)"
vm_expect def_char_refused EPERM "$(got open=/tmp/chr)"
vm_expect def_one_program 1 "$(programs /ctdev/def)"
vm_check def_show_text sh -c "cgset --show /ctdev/def | grep -q 'device program.*cgset_devices'"
# The rules, read back from the program the kernel holds.
vm_check def_show_rules sh -c "cgset --show /ctdev/def | grep -qF 'denied but c *:* m, b *:* m, c 1:3 rwm, c 1:5 rwm, c 1:7 rwm, c 1:8 rwm, c 1:9 rwm, c 5:0 rwm, c 5:1 rwm, c 5:2 rwm, c 136:* rwm, c 10:200 rwm'"
# Applied again: the same rules keep the program there; other rules
# replace it (never stacked).
progid() { cgset --show --json "$1" | sed -n 's/.*"id": \([0-9]*\).*/\1/p'; }
id0=$(progid /ctdev/def)
vm_check def_again cgset --device-default /ctdev/def
vm_expect def_again_one_program 1 "$(programs /ctdev/def)"
vm_expect def_again_same_program "$id0" "$(progid /ctdev/def)"
vm_check def_other cgset --device-default --device-cgroup-rule 'c 4:* rw' /ctdev/def
id1=$(progid /ctdev/def)
if [ -n "$id1" ] && [ "$id1" != "$id0" ] && [ "$(programs /ctdev/def)" = 1 ]; then vm_result def_other_replaced ok "$id0 -> $id1"
else vm_result def_other_replaced fail "$id0 -> '$id1', $(programs /ctdev/def) programs"; fi
vm_check def_back cgset --device-default /ctdev/def

# --- --device-allow PATH: exactly that device -------------------------------
OUT=$(cgset --device-allow /tmp/blk /ctdev/allow -- devcheck $ALL 2>&1); echo "$OUT"
vm_expect allow_open ok "$(got open=/tmp/blk)"
vm_expect allow_openrw ok "$(got openrw=/tmp/blk)"
vm_expect allow_mknod "mknod ok open ok" "$(got $MK)"
vm_expect allow_not_char EPERM "$(got open=/tmp/chr)"
vm_expect allow_not_next EPERM "$(got open=/tmp/next)"
vm_expect allow_not_null EPERM "$(got open=/dev/null)"
OUT=$(cgset --device-allow /tmp/blk:r /ctdev/allow -- devcheck $ALL 2>&1); echo "$OUT"
vm_expect allow_r_open ok "$(got open=/tmp/blk)"
vm_expect allow_r_no_write EPERM "$(got openrw=/tmp/blk)"
vm_expect allow_r_no_mknod "mknod EPERM open -" "$(got $MK)"
vm_expect allow_one_program 1 "$(programs /ctdev/allow)"
vm_check allow_show_json_rules sh -c "cgset --show --json /ctdev/allow | grep -qF '\"b $MA:$MI r\"'"

# --- --device-cgroup-rule ------------------------------------------------------
OUT=$(cgset --device-cgroup-rule "b $MA:* rw" /ctdev/rule -- devcheck $ALL 2>&1); echo "$OUT"
vm_expect rule_block ok "$(got openrw=/tmp/blk)"
n=$(got open=/tmp/next)
if [ -n "$n" ] && [ "$n" != EPERM ]; then vm_result rule_whole_major ok "$n"
else vm_result rule_whole_major fail "open of $MA:$((MI + 1)): '$n'"; fi
vm_expect rule_not_char EPERM "$(got open=/tmp/chr)"
vm_expect rule_not_null EPERM "$(got open=/dev/null)"
vm_expect rule_no_mknod "mknod EPERM open -" "$(got $MK)"
OUT=$(cgset --device-default --device-cgroup-rule "b $MA:* rw" /ctdev/rule -- devcheck $ALL 2>&1); echo "$OUT"
vm_expect rule_default_null ok "$(got open=/dev/null)"
vm_expect rule_default_block ok "$(got openrw=/tmp/blk)"
vm_expect rule_default_mknod "mknod ok open ok" "$(got $MK)"
OUT=$(cgset --device-cgroup-rule "a $MA:$MI r" /ctdev/rule -- devcheck $ALL 2>&1); echo "$OUT"
vm_expect rule_a_block ok "$(got open=/tmp/blk)"
vm_expect rule_a_no_write EPERM "$(got openrw=/tmp/blk)"
n=$(got open=/tmp/chr)
if [ -n "$n" ] && [ "$n" != EPERM ]; then vm_result rule_a_char ok "$n"
else vm_result rule_a_char fail "open of c $MA:$MI: '$n'"; fi

# --- a later join (no device options) stays under the policy ---------------
vm_check join_set cgset --device-default -m 64m /ctdev/join
OUT=$(cgset /ctdev/join -- devcheck open=/dev/null open=/tmp/blk 2>&1); echo "$OUT"
vm_expect join_null ok "$(got open=/dev/null)"
vm_expect join_block_refused EPERM "$(got open=/tmp/blk)"
# A child's own allow rule cannot widen its parent's program (both run).
OUT=$(cgset --device-allow /tmp/blk /ctdev/def/sub -- devcheck open=/tmp/blk 2>&1); echo "$OUT"
vm_expect nested_parent_still_applies EPERM "$(got open=/tmp/blk)"

# --- --dry-run and refusals leave nothing ------------------------------------
out=$(cgset --dry-run --device-default /ctdev/dry 2>&1)
case "$out" in
    *"bpf attach $G/dry cgroup_device ("*"instructions): deny every device but c *:* m, b *:* m, c 1:3 rwm"*)
        vm_result dry_run ok "$out" ;;
    *) vm_result dry_run fail "$out" ;;
esac
vm_expect dry_run_nothing_made absent "$([ -d $G/dry ] && echo present || echo absent)"
err=$(cgset --device-cgroup-rule 'c 1:3 rwx' /ctdev/bad 2>&1); rc=$?
if [ $rc -eq 125 ] && [ "$err" = "cgset: invalid argument \"c 1:3 rwx\" for \"--device-cgroup-rule\" flag: invalid device cgroup format 'c 1:3 rwx'" ]; then
    vm_result bad_rule ok "$err"
else
    vm_result bad_rule fail "exit $rc: $err"
fi
err=$(cgset --device-allow /etc/passwd /ctdev/bad 2>&1); rc=$?
if [ $rc -eq 125 ] && echo "$err" | grep -q "not a device node"; then vm_result bad_allow ok "$err"
else vm_result bad_allow fail "exit $rc: $err"; fi
vm_expect bad_nothing_made absent "$([ -d $G/bad ] && echo present || echo absent)"

vm_check cleanup_groups cgset --delete --kill /ctdev
vm_expect cleanup absent "$([ -d $G ] && echo present || echo absent)"
exit 0
"#;

const CHECKS: &[&str] = &[
    "def_null",
    "def_zero",
    "def_full",
    "def_urandom",
    "def_pty",
    "def_mknod_but_no_open",
    "def_block_refused",
    "def_char_refused",
    "def_one_program",
    "def_show_text",
    "def_show_rules",
    "def_again",
    "def_again_one_program",
    "def_again_same_program",
    "def_other",
    "def_other_replaced",
    "def_back",
    "allow_open",
    "allow_openrw",
    "allow_mknod",
    "allow_not_char",
    "allow_not_next",
    "allow_not_null",
    "allow_r_open",
    "allow_r_no_write",
    "allow_r_no_mknod",
    "allow_one_program",
    "allow_show_json_rules",
    "rule_block",
    "rule_whole_major",
    "rule_not_char",
    "rule_not_null",
    "rule_no_mknod",
    "rule_default_null",
    "rule_default_block",
    "rule_default_mknod",
    "rule_a_block",
    "rule_a_no_write",
    "rule_a_char",
    "join_set",
    "join_null",
    "join_block_refused",
    "nested_parent_still_applies",
    "dry_run",
    "dry_run_nothing_made",
    "bad_rule",
    "bad_allow",
    "bad_nothing_made",
    "cleanup_groups",
    "cleanup",
];

#[test]
fn cgset_device_policy_on_cgroup_v2() {
    if !cttest::vm::require("e2e::vm_cgset_devices::cgset_device_policy_on_cgroup_v2") {
        return;
    }
    let tmp = cttest::tempdir().expect("tempdir");
    let devcheck = cttest::vm::compile_static_c(tmp.path(), "devcheck", DEVCHECK_C)
        .expect("a C compiler with a static libc (build-essential) builds cgset/tests/devcheck.c");
    let r = Vm::new()
        .cpus(1)
        .memory_mb(256)
        .tools(&["cgset"])
        .binary(&devcheck)
        // Debian's cloud kernel has virtio_pci as a module, which disk_mb
        // does not load: without it there is no /dev/vda.
        .module("virtio_pci")
        .disk_mb(4)
        .script(SCRIPT)
        .run(Duration::from_secs(240));
    eprintln!("{}", r.report());
    r.assert_passed(CHECKS);
}
