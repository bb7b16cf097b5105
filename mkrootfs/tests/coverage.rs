//! Every ELF executable of the host's /usr/bin and /usr/sbin in one root:
//! each must start without a loader error.

mod common;
use common::*;

use std::process::Command;

#[test]
fn every_host_program_starts_in_one_root() {
    if !cttest::require_root("mkrootfs::every_host_program_starts_in_one_root") {
        return;
    }
    let mut progs = Vec::new();
    for d in ["/usr/bin", "/usr/sbin"] {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            let Ok(md) = std::fs::metadata(&p) else {
                continue;
            };
            use std::os::unix::fs::PermissionsExt;
            if md.is_file()
                && md.permissions().mode() & 0o111 != 0
                && mkrootfs::elf::is_elf(&p)
                && !p.is_symlink()
            {
                progs.push(p);
            }
        }
    }
    progs.sort();
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("r");
    let list = progs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let mut c = cttest::cmd("mkrootfs")
        .args(["--dev", r.to_str().unwrap(), "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(list.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A control: a program whose library is missing must be reported.
    let mut control = None;
    if have_cc() {
        let fx = Fx::new();
        fx.lib("d/libb.so.1", LIB_B, "");
        fx.write("m.c", "int fb(void); int main(void){ return fb(); }\n");
        fx.cc("-o ctl m.c d/libb.so.1 -Wl,--enable-new-dtags,-rpath,/nonexistent");
        std::fs::copy(fx.p("ctl"), r.join("ctl")).unwrap();
        control = Some("/ctl".to_string());
    }
    // Run each one inside namespaces (mount, pid, net, ipc, uts) so that
    // nothing a program does with --version can touch the host.
    let script = r#"
root=$1; shift
mount -t proc proc "$root/proc" || exit 99
for p in "$@"; do
  out=$(timeout -s KILL 5 chroot "$root" "$p" --version </dev/null 2>&1 | head -c 20000)
  case $out in *"error while loading shared libraries"*) printf 'LOADER-ERROR %s: %s\n' "$p" "$(printf '%s' "$out" | grep 'error while loading' | head -1)";; esac
done
echo DONE
"#;
    let _g = cttest::serial("mount");
    let o = Command::new("unshare")
        .args([
            "-m",
            "-p",
            "-n",
            "-i",
            "-u",
            "--fork",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&r)
        .args(&progs)
        .args(&control)
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("DONE"),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut errors: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("LOADER-ERROR"))
        .collect();
    if control.is_some() {
        assert!(
            errors
                .last()
                .is_some_and(|l| l.starts_with("LOADER-ERROR /ctl: ")),
            "control detected: {errors:?}"
        );
        errors.pop();
    }
    eprintln!(
        "coverage: {} ELF programs from /usr/bin and /usr/sbin, {} loader errors",
        progs.len(),
        errors.len()
    );
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(progs.len() > 50);
}
