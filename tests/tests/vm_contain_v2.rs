//! contain on real cgroup v2, in the qemu VM of `cttest::vm` (the host is cgroup v1): an
//! image store made here is unpacked in the VM, and bash runs the contain script there with
//! the workspace's tools.  Limits land in the container's v2 group, exec and pause use it,
//! the initramfs root (which pivot_root refuses) is left by chroot-rs's switch_root-style
//! fallback, and nothing is left of a container once it is removed.

mod contain_util;

use std::time::Duration;

use contain_util::{Env, contain_vm};

// (contain's own chain, CONTAIN_RUNTIME=contain: the VM carries the chain's four tools; the
// default runtime, runc-rs, on v2 is contain_runtime's runtime_containers_on_cgroup_v2)
const SCRIPT: &str = r#"
export CONTAIN_ROOT=/tmp/contain CONTAIN_RUNTIME=contain
G=/sys/fs/cgroup/contain
gone() { [ -e "$1" ] && echo present || echo absent; }
mkdir -p $CONTAIN_ROOT && tar -xf /vm/store.tar -C $CONTAIN_ROOT
vm_check store test -f $CONTAIN_ROOT/repositories
vm_expect images "img" "$(contain images | awk 'NR == 2 { print $1 }')"
# Attached and kept: the output through tee into the log too.
vm_expect attached "hello|hello" "$(contain run --name att img /bin/echo hello 2>&1)|$(contain logs att 2>&1)"
vm_check attached_rm contain rm att

# --rm: the namespaces and the union, the container's own group (the root of its cgroup
# namespace, as docker's), and nothing left.
out=$(contain run --rm --hostname box img /bin/sh -c 'hostname; cat /proc/self/cgroup; ls /' 2>&1)
vm_expect rm_hostname box "$(echo "$out" | sed -n 1p)"
vm_expect rm_own_group "0::/" "$(echo "$out" | sed -n 2p)"
vm_check rm_image_root sh -c "echo '$out' | grep -qx probe"
vm_expect rm_nothing_left "||" "$(ls $CONTAIN_ROOT/containers)|$(ls $CONTAIN_ROOT/names)|$(find $G -mindepth 1 -type d)"

# Limits in the v2 files; the process in the group; exec and pause through it.
cid=$(contain run -d --name web -m 64m --cpus 0.5 -c 512 --pids-limit 20 img /bin/sleep 600 2>&1)
vm_info cid "$cid"
i=0
while [ $i -lt 100 ] && [ "$(contain inspect web | grep -o '"Running":true')" = "" ]; do
    usleep 50000; i=$((i + 1))
done
vm_expect limits "67108864|50000 100000|20|50" \
    "$(cat $G/$cid/memory.max)|$(cat $G/$cid/cpu.max)|$(cat $G/$cid/pids.max)|$(cat $G/$cid/cpu.weight)"
i=0
while [ $i -lt 100 ] && ! grep -q . $G/$cid/cgroup.procs 2>/dev/null; do usleep 50000; i=$((i + 1)); done
vm_expect member "yes" "$(grep -q . $G/$cid/cgroup.procs && echo yes || echo no)"
vm_expect exec_group "0::/" "$(contain exec web /bin/cat /proc/self/cgroup 2>&1)"
# /sys/fs/cgroup inside: cgroup2, read-only, rooted at the container's group: the limit of
# -m 64m in memory.max, no other group of the host's (none below nor beside it), no write.
vm_expect inside_limit "67108864|50000 100000|20" \
    "$(contain exec web /bin/cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max 2>&1 | tr '\n' '|' | sed 's/|$//')"
vm_expect inside_nothing_else "/sys/fs/cgroup/*/" "$(contain exec web /bin/sh -c 'echo /sys/fs/cgroup/*/' 2>&1)"
vm_expect inside_procs_own "yes" "$(contain exec web /bin/cat /sys/fs/cgroup/cgroup.procs 2>/dev/null | grep -qx 1 && echo yes || echo no)"
vm_expect inside_read_only "refused|refused|refused|67108864" \
    "$(contain exec web /bin/sh -c 'echo 1 > /sys/fs/cgroup/memory.max' >/dev/null 2>&1 && echo wrote || echo refused)|$(contain exec web /bin/mkdir /sys/fs/cgroup/x >/dev/null 2>&1 && echo made || echo refused)|$(contain exec web /bin/sh -c 'echo 0 > /sys/fs/cgroup/cgroup.procs' >/dev/null 2>&1 && echo moved || echo refused)|$(cat $G/$cid/memory.max)"
vm_expect inside_mount "cgroup2 ro" "$(contain exec web /bin/cat /proc/self/mounts 2>&1 | awk '$2 == "/sys/fs/cgroup" { print $3, substr($4, 1, 2) }')"
vm_expect exec_env "box2" "$(contain exec -e H=box2 web /bin/sh -c 'echo $H' 2>&1)"
# unshare-rs --join-cgroup (nsenter's): into the group of the container's program (its pid 1).
prog=$(contain inspect web | grep -o '"Pid":[0-9]*' | cut -d: -f2)
vm_expect join_cgroup "0::/contain/$cid" "$(unshare-rs --target $prog --join-cgroup -u -- cat /proc/self/cgroup 2>&1)"
st=$(contain stats --no-stream web 2>&1 | awk 'NR == 2')
vm_info stats "$st"
case $st in
*"/ 64MiB"*) vm_result stats_v2 ok "$st" ;;
*) vm_result stats_v2 fail "$st" ;;
esac
vm_check pause contain pause web
vm_expect frozen "1|paused" "$(cat $G/$cid/cgroup.freeze)|$(contain inspect web | grep -o '"Status":"[a-z]*"' | cut -d'"' -f4)"
vm_check unpause contain unpause web
vm_expect thawed "0|running" "$(cat $G/$cid/cgroup.freeze)|$(contain inspect web | grep -o '"Status":"[a-z]*"' | cut -d'"' -f4)"
vm_check stop contain stop -t 1 web
vm_expect stopped "exited" "$(contain inspect web | grep -o '"Status":"[a-z]*"' | cut -d'"' -f4)"
vm_check rm contain rm web
vm_expect removed "absent||" "$(gone $G/$cid)|$(ls $CONTAIN_ROOT/containers)|$(find $G -mindepth 1 -type d)"

# A bad limit: the kernel's refusal, and no state nor group left.
out=$(contain run --rm --cpuset-cpus 7 img /bin/true 2>&1); rc=$?
vm_expect bad_limit_status 125 "$rc"
vm_expect bad_limit_nothing_left "||" "$(ls $CONTAIN_ROOT/containers)|$(ls $CONTAIN_ROOT/names)|$(find $G -mindepth 1 -type d)"
exit 0
"#;

const CHECKS: &[&str] = &[
    "store",
    "images",
    "attached",
    "attached_rm",
    "rm_hostname",
    "rm_own_group",
    "rm_image_root",
    "rm_nothing_left",
    "limits",
    "member",
    "exec_group",
    "inside_limit",
    "inside_nothing_else",
    "inside_procs_own",
    "inside_read_only",
    "inside_mount",
    "exec_env",
    "join_cgroup",
    "stats_v2",
    "pause",
    "frozen",
    "unpause",
    "thawed",
    "stop",
    "stopped",
    "rm",
    "removed",
    "bad_limit_status",
    "bad_limit_nothing_left",
];

#[test]
fn contain_on_cgroup_v2() {
    if !cttest::vm::require("e2e::vm_contain_v2::contain_on_cgroup_v2") {
        return;
    }
    let env = Env::new("vm");
    env.build_test_image("img");
    let tmp = cttest::tempdir().expect("tempdir");
    let r = contain_vm(env.state(), tmp.path())
        .script(SCRIPT)
        .run(Duration::from_secs(240));
    eprintln!("{}", r.report());
    r.assert_passed(CHECKS);
}
