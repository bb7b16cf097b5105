//! Fixtures built with `cc` at test time, and the real loader as oracle.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Fx {
    pub dir: tempfile::TempDir,
}

pub fn have_cc() -> bool {
    Command::new("cc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Fx {
    pub fn new() -> Fx {
        Fx {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn s(&self, rel: &str) -> String {
        self.p(rel).to_string_lossy().into_owned()
    }
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    /// Run cc in the fixture dir; arguments split on blanks.
    pub fn cc(&self, args: &str) {
        self.cc_v(&args.split_whitespace().collect::<Vec<_>>());
    }
    pub fn cc_v(&self, args: &[&str]) {
        for w in args.windows(2) {
            if w[0] == "-o" {
                std::fs::create_dir_all(self.p(w[1]).parent().unwrap()).unwrap();
            }
        }
        let out = Command::new("cc")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    /// A shared library `out` (soname = its file name) from a C body.
    pub fn lib(&self, out: &str, body: &str, extra: &str) {
        let name = Path::new(out)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let src = format!("{out}.c");
        self.write(&src, body);
        std::fs::create_dir_all(self.p(out).parent().unwrap()).unwrap();
        self.cc(&format!(
            "-shared -fPIC -o {out} -Wl,-soname,{name} {src} {extra}"
        ));
    }
    pub fn exe(&self, out: &str, body: &str, extra: &str) {
        let src = format!("{out}.c");
        self.write(&src, body);
        std::fs::create_dir_all(self.p(out).parent().unwrap()).unwrap();
        self.cc(&format!("-o {out} {src} {extra}"));
    }
}

/// What the real loader does: `Ok(paths of the objects it initialised)` or
/// `Err(its error)`. Runs the fixture itself.
pub fn oracle(exe: &Path, env: &[(&str, &str)]) -> Result<BTreeSet<String>, String> {
    let out = Command::new(exe)
        .env("LD_DEBUG", "libs")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if let Some(l) = err
        .lines()
        .find(|l| l.contains("error while loading shared libraries"))
    {
        return Err(l.to_string());
    }
    assert!(out.status.success(), "{} failed: {err}", exe.display());
    Ok(err
        .lines()
        .filter_map(|l| {
            l.split_once("calling init: ")
                .map(|(_, p)| p.trim().to_string())
        })
        .filter(|p| !p.contains("ld-linux"))
        .collect())
}

/// What our resolver says, as the same set of paths (interp left out).
pub fn ours(exe: &Path, lp: &[&str]) -> Result<BTreeSet<String>, String> {
    let mut r = mkrootfs::resolve::Resolver::default();
    r.library_path = lp.iter().map(|s| s.to_string()).collect();
    r.closure(exe, &[exe.display().to_string()])
        .map(|v| {
            v.into_iter()
                .map(|f| f.path.display().to_string())
                .filter(|p| !p.contains("ld-linux"))
                .collect()
        })
        .map_err(|e| format!("{e:#}"))
}

/// Assert that we agree with the loader: same paths, or both fail.
pub fn agree(exe: &Path) -> Result<BTreeSet<String>, String> {
    let want = oracle(exe, &[]);
    let got = ours(exe, &[]);
    match (&want, &got) {
        (Ok(w), Ok(g)) => assert_eq!(w, g, "loader vs mkrootfs for {}", exe.display()),
        (Err(_), Err(_)) => {}
        _ => panic!("loader: {want:?}\nmkrootfs: {got:?}\nfor {}", exe.display()),
    }
    got
}

pub const MAIN_A: &str = "int fa(void); int main(void){ return fa() == 3 ? 0 : 1; }\n";
pub const LIB_A: &str = "int fb(void); int fa(void){ return fb() + 1; }\n";
pub const LIB_B: &str = "int fb(void){ return 2; }\n";

/// Run mkrootfs with arguments.
pub fn mkrootfs(args: &[&str]) -> std::process::Output {
    cttest::cmd("mkrootfs").args(args).output().unwrap()
}

pub fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "rc {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `chroot DIR ARGS` with a clean environment.
pub fn chroot(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("/usr/sbin/chroot")
        .arg(dir)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .output()
        .unwrap()
}

/// `chroot DIR ARGS` with /proc mounted inside, in a private mount namespace.
pub fn chroot_proc(dir: &Path, args: &[&str]) -> std::process::Output {
    let _g = cttest::serial("mount");
    Command::new("unshare")
        .args([
            "-m",
            "--fork",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" \"$@\"",
        ])
        .arg(dir)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .output()
        .unwrap()
}
