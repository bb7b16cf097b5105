//! Shared harness of the `contain` end-to-end tests: a private state directory, a private
//! cgroup parent, the workspace's binaries first in PATH, and cleanup of everything.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// The `contain` script of the workspace.
pub fn contain_script() -> PathBuf {
    cttest::workspace_root().join("contain").join("contain")
}

/// script(1) to run the shell line in a terminal of its own (the user's), with the workspace's
/// contain first in PATH and the state and cgroup parent of `env`.
pub fn terminal_cmd(env: &Env, line: &str) -> Command {
    let mut path = contain_script().parent().unwrap().as_os_str().to_owned();
    path.push(":");
    path.push(test_path());
    let mut c = Command::new("script");
    c.args(["-qec", line, "/dev/null"])
        .env("PATH", path)
        .env("CONTAIN_ROOT", env.state())
        .env("CONTAIN_CGROUP_PARENT", &env.cgparent);
    c
}

/// The shell line run under script(1) (terminal_cmd) with no input: its exit status, and its
/// output without carriage returns.
pub fn in_a_terminal(env: &Env, line: &str) -> (Option<i32>, String) {
    let mut c = terminal_cmd(env, line);
    c.stdin(std::process::Stdio::null());
    let o = cttest::run_with_timeout(&mut c, Duration::from_secs(60));
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).replace('\r', ""),
    )
}

/// PATH with the built binaries and the contain directory first.
pub fn test_path() -> OsString {
    let mut p = OsString::from(cttest::bin_dir());
    p.push(":");
    p.push(cttest::workspace_root().join("contain"));
    if let Some(old) = std::env::var_os("PATH") {
        p.push(":");
        p.push(old);
    }
    p
}

/// A private contain installation: state in a temporary directory, cgroups beneath our own
/// cgroup under a parent named after this test.
/// As root, the state directory is bound to a throwaway network namespace that stands for
/// the host (contain's `host-netns` link, to a `sleep` that holds it): contain runs there, so
/// the bridge, veths and rules of its networks never reach this machine's own namespace.
pub struct Env {
    pub root: cttest::TempDir,
    pub cgparent: String,
    /// The process holding the throwaway host network namespace (as root).
    pub netns_holder: Option<std::process::Child>,
}

impl Env {
    pub fn new(tag: &str) -> Env {
        let root = cttest::tempdir().expect("tempdir");
        let netns_holder = if nix::unistd::geteuid().is_root() {
            Some(netns_hold(root.path()))
        } else {
            None
        };
        Env {
            root,
            cgparent: format!("ctools-test-contain-{tag}-{}", std::process::id()),
            netns_holder,
        }
    }

    /// A command run in the throwaway host network namespace (`ip link`, `iptables-save`).
    pub fn host_cmd(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!(
            "--net={}",
            self.root.path().join("host-netns").display()
        ))
        .arg("--")
        .arg(program);
        c
    }

    pub fn state(&self) -> &Path {
        self.root.path()
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(contain_script());
        c.env("PATH", test_path())
            .env("CONTAIN_ROOT", self.root.path())
            .env("CONTAIN_CGROUP_PARENT", &self.cgparent);
        c
    }

    /// Run `contain ARGS` (two minutes at most).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        cttest::run_with_timeout(&mut c, Duration::from_secs(120))
    }

    /// Run `contain ARGS`, asserting success; stdout as text.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "contain {args:?} failed: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An image with a shell, a few coreutils and the probe at /probe.
    pub fn build_test_image(&self, name: &str) -> String {
        let probe = cttest::probe();
        let file = format!("{}:/probe", probe.display());
        let out = self.ok(&[
            "build",
            "--file",
            &file,
            name,
            "/bin/sh",
            "/bin/ls",
            "/bin/cat",
            "/bin/sleep",
            "/bin/echo",
            "/bin/hostname",
            "/bin/touch",
            "/bin/rm",
            "/bin/mkdir",
            "/bin/true",
        ]);
        out.trim().trim_start_matches("sha256:").to_string()
    }

    /// The container's JSON from `contain inspect`.
    pub fn inspect(&self, id: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", id]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
        v[0].clone()
    }

    /// Poll `inspect` until the container's status is `status` (three minutes at most: fifty
    /// containers each setting up a network on a loaded machine take that long).
    pub fn wait_for(&self, id: &str, status: &str) -> serde_json::Value {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_secs(180) {
            let v = self.inspect(id);
            if v["State"]["Status"] == status {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "container {id} never reached {status}: {}",
            self.inspect(id)
        );
    }

    /// The cgroup directories of our parent group, one per hierarchy.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        cgroup_parents(&self.cgparent)
    }
}

/// Directories named `parent` beneath this process's cgroup in each v1 hierarchy (existing).
pub fn cgroup_parents(parent: &str) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut v = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctrls, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
        for c in ctrls
            .split(',')
            .filter(|c| !c.is_empty() && !c.starts_with("name="))
        {
            let d = Path::new("/sys/fs/cgroup")
                .join(c)
                .join(path.trim_start_matches('/'))
                .join(parent);
            if d.is_dir() {
                v.push(d);
            }
        }
    }
    v
}

/// Start a process in a new network namespace (`lo` up) and link `dir/host-netns` to it.
pub fn netns_hold(dir: &Path) -> std::process::Child {
    use std::io::BufRead;
    let mut child = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && echo up && exec sleep 86400",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("unshare --net");
    let mut line = String::new();
    let mut r = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let _ = r.read_line(&mut line);
    assert_eq!(line.trim(), "up", "the throwaway network namespace");
    std::os::unix::fs::symlink(
        format!("/proc/{}/ns/net", child.id()),
        dir.join("host-netns"),
    )
    .expect("host-netns link");
    child
}

impl Drop for Env {
    fn drop(&mut self) {
        let out = self.run(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = self.run(&["rm", "-f", id]);
        }
        if let Some(mut h) = self.netns_holder.take() {
            let _ = h.kill();
            let _ = h.wait();
            let _ = std::fs::remove_file(self.root.path().join("host-netns"));
        }
        for d in cgroup_parents(&self.cgparent) {
            if let Ok(rd) = std::fs::read_dir(&d) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        let _ = std::fs::remove_dir(e.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(&d);
        }
    }
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A listing of every file under `dir` with its type, mode, size and content digest, to
/// compare before and after.
pub fn tree_digest(dir: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "cd \"$1\" && find . $X -printf '%y %m %s %U:%G %p -> %l\\n' | sort && \
             find . $X -type f -exec sha256sum {} + | sort",
        )
        .arg("sh")
        .arg(dir)
        // (the events journal records what happened, a failed command too: not the store's
        // content)
        .env("X", "( -path ./events -o -path ./events.1 ) -prune -o")
        .output()
        .expect("find");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A VM (`cttest::vm`) that runs `contain`: bash, the script at /bin/contain, the chain's
/// tools, overlayfs, and the image store `state` (made here: the VM has no mkrootfs nor GNU
/// tar) packed at /vm/store.tar, which the VM's script unpacks into its CONTAIN_ROOT.
/// `tmp` holds the archive until the VM has run.  There is room for an initramfs of four
/// debug builds (25 MB each, twice: at their own path and in /bin) and the unpacked store.
pub fn contain_vm(state: &Path, tmp: &Path) -> cttest::vm::Vm {
    let store = tmp.join("store.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(state)
        .args(["--exclude=./mnt", "--exclude=./host-netns", "-cf"])
        .arg(&store)
        .arg(".")
        .status()
        .expect("tar");
    assert!(st.success(), "packing the store {}", state.display());
    let mut vm = cttest::vm::Vm::new()
        .cpus(2)
        .memory_mb(1024)
        .tools(&["unshare-rs", "cgset", "unionmount", "chroot-rs"])
        .binary("/bin/bash")
        // inspect, ps, images and stats go through jq (contain's templates and JSON); the
        // monitor's log writers use coreutils' tee -p, logs -f tail --pid, --since date -d;
        // the client's relays util-linux's setpriv --pdeathsig (busybox's has none)
        .binary("/usr/bin/jq")
        .binary("/usr/bin/setpriv")
        .binary("/usr/bin/tee")
        .binary("/usr/bin/tail")
        .binary("/bin/date")
        .file(contain_script(), "/bin/contain")
        .file(&store, "/vm/store.tar")
        .module("overlay");
    // The front script's per-concern files (common.sh, run.sh, ...), beside it.
    let dir = contain_script().with_file_name("");
    let mut libs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("contain/")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sh"))
        .collect();
    libs.sort();
    for l in libs {
        let name = l
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        vm = vm.file(&l, format!("/bin/{name}"));
    }
    vm
}
