//! The tutorial's cgroup chapters (CPU shares, --cpus, memory, block I/O: 06 to 09) on real
//! cgroup v2, in the qemu VM of `cttest::vm` (the host is cgroup v1).  The tutorial's image
//! store is made here and unpacked there; the chapters run unchanged, reading the v2 files
//! (cpu.weight, cpu.max, cpu.stat, io.max) where the host has v1's, and their own checks
//! decide: each chapter must end in PASS.

mod contain_util;

use std::process::Command;
use std::time::Duration;

use contain_util::{contain_vm, test_path};

const CHAPTERS: &[&str] = &["06-cpu-shares", "07-cpus", "08-memory", "09-blkio"];

// (contain's own chain, CONTAIN_RUNTIME=contain: the VM carries the chain's four tools; the
// default runtime, runc-rs, on v2 is contain_runtime's runtime_containers_on_cgroup_v2)
const SCRIPT: &str = r#"
export CONTAIN_ROOT=/tmp/contain CTOOLS_BIN_DIR=/bin CONTAIN_RUNTIME=contain
mkdir -p $CONTAIN_ROOT && tar -xf /vm/store.tar -C $CONTAIN_ROOT
vm_check store test -f $CONTAIN_ROOT/repositories
for t in $CHAPTERS; do
    out=$(bash /tut/tutorial/$t.sh 2>&1); rc=$?
    echo "$out"
    if [ $rc = 0 ] && echo "$out" | grep -q "^PASS $t.sh"; then
        vm_result "$t" ok "$(echo "$out" | grep -c '  ok ') checks"
    else
        vm_result "$t" fail "exit $rc: $(echo "$out" | grep -E 'FAIL|error|contain:' | head -5 | tr '\n' ';')"
    fi
    figures=$(echo "$out" | grep -E '^ratio:|^total:|reads per second|^with the 1024' | tr '\n' ';')
    vm_info "$t" "$figures"
done
exit 0
"#;

#[test]
fn tutorial_cgroup_chapters_on_cgroup_v2() {
    if !cttest::vm::require("e2e::vm_tutorial_v2::tutorial_cgroup_chapters_on_cgroup_v2") {
        return;
    }
    let tut = cttest::workspace_root().join("tutorial");
    // The tutorial's images (its own and progrium/stress, which chapters 06 to 08 run), made
    // here with its own helpers (mkrootfs and stress-rs stay on the host), and the store
    // packed whole.
    let tmp = cttest::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". '{}/lib.sh'; ensure_image tutorial && ensure_stress_image",
            tut.display()
        ))
        .env("PATH", test_path())
        .env("CONTAIN_ROOT", &state)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "building the tutorial image: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The initramfs holds the store and the tools (debug builds: about 350 MB); the kernel
    // unpacks it into a tmpfs of half the memory, beside the archive itself, and chapter 09
    // puts its 64 MB disk in that tmpfs too.
    let mut vm = contain_vm(&state, tmp.path())
        .memory_mb(2048)
        .file(tut.join("lib.sh"), "/tut/tutorial/lib.sh")
        .module("loop");
    for c in CHAPTERS {
        vm = vm.file(tut.join(format!("{c}.sh")), format!("/tut/tutorial/{c}.sh"));
    }
    let r = vm
        .script(format!("CHAPTERS='{}'\n{SCRIPT}", CHAPTERS.join(" ")))
        .run(Duration::from_secs(500));
    eprintln!("{}", r.report());
    let mut want = vec!["store"];
    want.extend_from_slice(CHAPTERS);
    r.assert_passed(&want);
}
