//! A throw-away qemu VM for tests that need a kernel other than the host's,
//! first of all real cgroup v2 (the development machine runs cgroup v1).
//!
//! ```no_run
//! use std::time::Duration;
//! let r = cttest::vm::Vm::new()
//!     .binary(cttest::bin("cgset"))
//!     .script("vm_expect fs cgroup2fs \"$(stat -f -c %T /sys/fs/cgroup)\"")
//!     .run(Duration::from_secs(120));
//! r.assert_passed(&["fs"]);
//! ```
//!
//! How it works:
//! * the kernel is a Debian cloud kernel (`linux-image-*-cloud-amd64`)
//!   cached in `$CTOOLS_VM_CACHE` (default `/var/cache/ctools-vm`) by
//!   `tests/vm/fetch-kernel.sh`, which [`kernel`] runs when the cache is
//!   empty (it needs `apt-get update` to have run): the newest one apt knows
//!   (`current`), and the newest of Debian 12's own 6.1 series (`legacy`,
//!   for a test of a kernel before 6.5: [`Vm::legacy_kernel`]);
//! * the initramfs is a cpio newc archive built here: static busybox
//!   (package busybox-static), the requested binaries at `/bin/NAME` with
//!   their shared libraries and loader (found by `mkrootfs --format cpio`
//!   when the workspace's mkrootfs can do it, else by `ldd`), extra files,
//!   kernel modules (decompressed, dependencies first), `/init`
//!   (`tests/vm/init.sh`), `/vm/lib.sh` (`tests/vm/lib.sh`: `vm_result`,
//!   `vm_check`, `vm_expect`, `vm_info`) and the test script `/vm/test.sh`;
//! * qemu-system-x86_64 runs under TCG with `cgroup_no_v1=all`, the console
//!   on ttyS0 (captured) and the result markers on ttyS1 (a file of their
//!   own, so kernel messages cannot split them); `/init` mounts proc, sysfs,
//!   devtmpfs, cgroup2 and tmpfs, runs the script, reports its exit status
//!   and powers off; a VM that outlives the timeout is killed by pid.
//! * a boot whose guest kernel crashed before /init, or of a stray `int3`
//!   (TCG's stale translation of patched kernel text, now and then), is
//!   booted again, twice at most, and the report shows each crash.
//!
//! Environment: `CTOOLS_VM_CACHE` (kernel cache), `CTOOLS_VM_KEEP=1` (keep
//! the work directory and print where), `CTOOLS_VM_MKROOTFS=0` (never use
//! mkrootfs), `CTOOLS_QEMU` (the qemu binary), `CTOOLS_BUSYBOX`,
//! `CTOOLS_VM_ACCEL` (default `tcg`; `kvm` where it works).  A kept work
//! directory holds `initramfs.cpio`, `markers.txt` and `run-qemu.sh`, the
//! command line to boot it again by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `/init` of the VM.
pub const INIT_SH: &str = include_str!("../../tests/vm/init.sh");
/// Helpers sourced before the test script.
pub const LIB_SH: &str = include_str!("../../tests/vm/lib.sh");

/// The kernel command line, before [`Vm::append`]'s additions.
pub const CMDLINE: &str = "console=ttyS0 cgroup_no_v1=all panic=-1 quiet loglevel=1";

/// A cached kernel.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// `uname -r` of the kernel.
    pub version: String,
    /// The bootable image.
    pub vmlinuz: PathBuf,
    /// `lib/modules/<version>` of the kernel.
    pub modules: PathBuf,
}

/// The kernel cache directory: `$CTOOLS_VM_CACHE` or `/var/cache/ctools-vm`.
#[must_use]
pub fn cache_dir() -> PathBuf {
    std::env::var_os("CTOOLS_VM_CACHE")
        .map_or_else(|| PathBuf::from("/var/cache/ctools-vm"), PathBuf::from)
}

/// The cache's link to the kernel most tests boot.
pub const CURRENT: &str = "current";
/// The cache's link to the newest 6.1 kernel (Debian 12's own series), whose
/// overlayfs has the legacy mount context (before 6.5).
pub const LEGACY: &str = "legacy";

fn cached_kernel(link: &str) -> Option<Kernel> {
    let cur = fs::canonicalize(cache_dir().join(link)).ok()?;
    let vmlinuz = cur.join("vmlinuz");
    let version = cur.file_name()?.to_str()?.to_string();
    let modules = cur.join("modules").join(&version);
    (vmlinuz.is_file() && modules.is_dir()).then_some(Kernel {
        version,
        vmlinuz,
        modules,
    })
}

/// The cached kernel, fetched with `tests/vm/fetch-kernel.sh` when the cache
/// is empty.
///
/// # Errors
/// Why there is no kernel (the fetch failed: no apt, no package lists, no
/// network...).
pub fn kernel() -> Result<Kernel, String> {
    kernel_at(CURRENT)
}

/// The cached kernel at the cache's `link` ([`CURRENT`], [`LEGACY`]), fetched
/// with `tests/vm/fetch-kernel.sh` when it is not there.
///
/// # Errors
/// Why there is no such kernel.
pub fn kernel_at(link: &str) -> Result<Kernel, String> {
    if let Some(k) = cached_kernel(link) {
        return Ok(k);
    }
    let _lock = crate::serial("vm-kernel");
    if let Some(k) = cached_kernel(link) {
        return Ok(k);
    }
    let script = crate::workspace_root().join("tests/vm/fetch-kernel.sh");
    let out = Command::new("sh")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "no VM kernel in {} and {} failed: {}",
            cache_dir().display(),
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    cached_kernel(link).ok_or_else(|| format!("{} left no kernel at {link}", script.display()))
}

/// The qemu binary: `$CTOOLS_QEMU` or `qemu-system-x86_64` from PATH.
#[must_use]
pub fn qemu() -> Option<PathBuf> {
    if let Some(q) = std::env::var_os("CTOOLS_QEMU") {
        return Some(PathBuf::from(q));
    }
    find_in_path("qemu-system-x86_64")
}

/// The static busybox: `$CTOOLS_BUSYBOX`, `/bin/busybox` or PATH.
#[must_use]
pub fn busybox() -> Option<PathBuf> {
    if let Some(b) = std::env::var_os("CTOOLS_BUSYBOX") {
        return Some(PathBuf::from(b));
    }
    let b = PathBuf::from("/bin/busybox");
    if b.is_file() {
        return Some(b);
    }
    find_in_path("busybox")
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

/// Whether VM tests can run here: Ok with the kernel, or why not (qemu,
/// busybox or the kernel missing).  Use with [`crate::require`], or
/// [`require`] which does both.
///
/// # Errors
/// The reason, to print in the skip.
pub fn available() -> Result<Kernel, String> {
    let q = qemu().ok_or("qemu-system-x86_64 not found (package qemu-system-x86)")?;
    if !q.is_file() {
        return Err(format!("{} does not exist", q.display()));
    }
    let b = busybox().ok_or("busybox not found (package busybox-static)")?;
    if !is_static(&b) {
        return Err(format!(
            "{} is not statically linked (package busybox-static)",
            b.display()
        ));
    }
    kernel()
}

/// Gate a VM test: true when it may run (qemu, static busybox and a kernel
/// are there); skips, or fails in strict mode, like [`crate::require`].
#[must_use]
pub fn require(test: &str) -> bool {
    match available() {
        Ok(_) => crate::require(test, true, ""),
        Err(why) => crate::require(test, false, &why),
    }
}

fn is_static(path: &Path) -> bool {
    // An ELF without a PT_INTERP program header is static.
    let Ok(data) = fs::read(path) else {
        return false;
    };
    elf_interp(&data).is_none() && data.starts_with(b"\x7fELF")
}

/// The PT_INTERP of a 64-bit little-endian ELF, if any.
fn elf_interp(data: &[u8]) -> Option<String> {
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    if !data.starts_with(b"\x7fELF") || data.get(4) != Some(&2) {
        return None;
    }
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph)? == 3 {
            let off = usize::try_from(u64_at(ph + 8)?).ok()?;
            let size = usize::try_from(u64_at(ph + 32)?).ok()?;
            let raw = data.get(off..off + size)?;
            let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
            return Some(String::from_utf8_lossy(&raw[..end]).into_owned());
        }
    }
    None
}

/// One `CTOOLS-RESULT` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The result's name.
    pub name: String,
    /// `ok` (true) or `fail`.
    pub ok: bool,
    /// The rest of the line.
    pub detail: String,
}

/// What came back from a VM run.
#[derive(Debug, Clone, Default)]
pub struct VmResult {
    /// `uname -r` from `CTOOLS-BOOTED`, when /init started.
    pub booted: Option<String>,
    /// The results, in order.
    pub checks: Vec<Check>,
    /// The `CTOOLS-INFO` figures.
    pub info: BTreeMap<String, String>,
    /// The script's exit status (`CTOOLS-EXIT`), when it got that far.
    pub exit: Option<i32>,
    /// The whole serial console (kernel messages and the script's output).
    pub console: String,
    /// What qemu printed on stderr.
    pub qemu_stderr: String,
    /// qemu's own status (None when killed on timeout).
    pub qemu_status: Option<ExitStatus>,
    /// Whether the VM was killed for running past the timeout.
    pub timed_out: bool,
    /// From qemu's start to its end.
    pub elapsed: Duration,
    /// How the binaries' libraries were found: `"mkrootfs"` or `"ldd"`.
    pub rootfs_builder: &'static str,
    /// The console, from the oops or panic on, of each earlier boot whose
    /// kernel crashed ([`VmResult::kernel_crashed`]); those boots were tried
    /// again.
    pub crashed_boots: Vec<String>,
}

impl VmResult {
    /// The result named `name` (the last one, if reported twice).
    #[must_use]
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().rev().find(|c| c.name == name)
    }

    /// The `CTOOLS-INFO` value `key` parsed as a number.
    #[must_use]
    pub fn info_f64(&self, key: &str) -> Option<f64> {
        self.info.get(key)?.trim().parse().ok()
    }

    /// Whether this boot says nothing of the test because the guest kernel
    /// died: before /init reported (no `CTOOLS-BOOTED`, not killed on
    /// timeout, a kernel panic or oops on the console), or at any time of
    /// an `int3` oops, the signature of the emulator's stale translation
    /// of kernel text being patched (no tool makes the kernel trap on a
    /// breakpoint it did not place).
    #[must_use]
    pub fn kernel_crashed(&self) -> bool {
        let early = self.booted.is_none()
            && !self.timed_out
            && (self.console.contains("Kernel panic") || self.console.contains("Oops"));
        early || self.console.contains("Oops: int3")
    }

    /// The failed results.
    #[must_use]
    pub fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.ok).collect()
    }

    /// A summary for an assertion message: results, exit, the console's end.
    #[must_use]
    pub fn report(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "VM: booted {:?}, exit {:?}, timed out {}, {:.1}s, qemu {:?}, libraries by {}",
            self.booted,
            self.exit,
            self.timed_out,
            self.elapsed.as_secs_f64(),
            self.qemu_status,
            self.rootfs_builder
        );
        for (i, c) in self.crashed_boots.iter().enumerate() {
            let _ = writeln!(
                s,
                "  boot {}: the guest kernel crashed, booted again:\n{c}",
                i + 1
            );
        }
        for c in &self.checks {
            let _ = writeln!(
                s,
                "  {} {} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            );
        }
        for (k, v) in &self.info {
            let _ = writeln!(s, "  info {k} = {v}");
        }
        let lines: Vec<&str> = self.console.lines().collect();
        let from = lines.len().saturating_sub(60);
        let _ = writeln!(s, "--- console (last {} lines) ---", lines.len() - from);
        for l in &lines[from..] {
            let _ = writeln!(s, "{l}");
        }
        if !self.qemu_stderr.trim().is_empty() {
            let _ = writeln!(s, "--- qemu stderr ---\n{}", self.qemu_stderr.trim());
        }
        s
    }

    /// Assert that the VM booted, the script exited 0, no result failed and
    /// every result in `expected` was reported.
    ///
    /// # Panics
    /// Otherwise, with [`VmResult::report`].
    pub fn assert_passed(&self, expected: &[&str]) {
        let missing: Vec<&&str> = expected
            .iter()
            .filter(|n| self.check(n).is_none())
            .collect();
        let failed: Vec<&str> = self.failures().iter().map(|c| c.name.as_str()).collect();
        assert!(
            self.booted.is_some()
                && self.exit == Some(0)
                && !self.timed_out
                && missing.is_empty()
                && failed.is_empty(),
            "VM test failed: failed {failed:?}, missing {missing:?}\n{}",
            self.report()
        );
    }

    /// Parse marker lines (`CTOOLS-BOOTED`, `CTOOLS-RESULT`, `CTOOLS-INFO`,
    /// `CTOOLS-EXIT`) into this result; other lines are ignored.
    pub fn parse_markers(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim_end_matches(['\r', '\n']);
            let Some(at) = line.find("CTOOLS-") else {
                continue;
            };
            let line = &line[at..];
            let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
            match tag {
                "CTOOLS-BOOTED" => self.booted = Some(rest.trim().to_string()),
                "CTOOLS-EXIT" => self.exit = rest.trim().parse().ok(),
                "CTOOLS-INFO" => {
                    let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
                    self.info.insert(k.to_string(), v.trim().to_string());
                }
                "CTOOLS-RESULT" => {
                    let mut it = rest.splitn(3, ' ');
                    let name = it.next().unwrap_or("").to_string();
                    let status = it.next().unwrap_or("");
                    let detail = it.next().unwrap_or("").trim().to_string();
                    self.checks.push(Check {
                        name,
                        ok: status == "ok",
                        detail,
                    });
                }
                _ => {}
            }
        }
    }
}

/// A VM to run one test script in.  Build it, then [`Vm::run`].
#[derive(Debug, Clone)]
pub struct Vm {
    binaries: Vec<(PathBuf, String)>,
    files: Vec<(PathBuf, String)>,
    data: Vec<(Vec<u8>, String, u32)>,
    modules: Vec<String>,
    script: String,
    memory_mb: u32,
    cpus: u32,
    disk_mb: Option<u64>,
    append: Vec<String>,
    mkrootfs: Option<bool>,
    kernel: &'static str,
}

impl Default for Vm {
    fn default() -> Self {
        Self::new()
    }
}

impl Vm {
    /// A VM with 512 MiB and 2 CPUs, no binaries and an empty script.
    #[must_use]
    pub fn new() -> Self {
        Self {
            binaries: Vec::new(),
            files: Vec::new(),
            data: Vec::new(),
            modules: Vec::new(),
            script: String::new(),
            memory_mb: 512,
            cpus: 2,
            disk_mb: None,
            append: Vec::new(),
            mkrootfs: None,
            kernel: CURRENT,
        }
    }

    /// Put the host binary `path` at `/bin/<its name>`, with the shared
    /// libraries and the loader it needs.
    #[must_use]
    pub fn binary(self, path: impl AsRef<Path>) -> Self {
        let p = path.as_ref();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.binary_as(p, format!("/bin/{name}"))
    }

    /// Put the workspace's built binaries `names` (`cttest::bin`) at
    /// `/bin/<name>`, with their libraries.
    ///
    /// # Panics
    /// When one is not built.
    #[must_use]
    pub fn tools(self, names: &[&str]) -> Self {
        names.iter().fold(self, |vm, n| vm.binary(crate::bin(n)))
    }

    /// Put the host binary `path` at `dest` in the VM, with its libraries.
    #[must_use]
    pub fn binary_as(mut self, path: impl AsRef<Path>, dest: impl Into<String>) -> Self {
        self.binaries
            .push((path.as_ref().to_path_buf(), dest.into()));
        self
    }

    /// Copy the host file `src` to `dest` in the VM (mode kept).
    #[must_use]
    pub fn file(mut self, src: impl AsRef<Path>, dest: impl Into<String>) -> Self {
        self.files.push((src.as_ref().to_path_buf(), dest.into()));
        self
    }

    /// A file with the given content and mode at `dest` in the VM.
    #[must_use]
    pub fn data(mut self, content: impl Into<Vec<u8>>, dest: impl Into<String>, mode: u32) -> Self {
        self.data.push((content.into(), dest.into(), mode));
        self
    }

    /// Load the kernel module `name` (`loop`, `overlay`...), dependencies
    /// first, before the script runs; built-in modules are skipped.
    #[must_use]
    pub fn module(mut self, name: &str) -> Self {
        self.modules.push(name.to_string());
        self
    }

    /// The test script (busybox sh, run from /tmp after `/vm/lib.sh`); its
    /// exit status becomes [`VmResult::exit`].
    #[must_use]
    pub fn script(mut self, sh: impl Into<String>) -> Self {
        self.script = sh.into();
        self
    }

    /// Memory of the VM in MiB.
    #[must_use]
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = mb;
        self
    }

    /// Number of virtual CPUs.
    #[must_use]
    pub fn cpus(mut self, n: u32) -> Self {
        self.cpus = n;
        self
    }

    /// Attach an empty raw disk of `mb` MiB as `/dev/vda` (virtio; loads
    /// `virtio_pci` and `virtio_blk`), for io tests that want a real block device.
    #[must_use]
    pub fn disk_mb(mut self, mb: u64) -> Self {
        self.disk_mb = Some(mb);
        self
    }

    /// Add words to the kernel command line.
    #[must_use]
    pub fn append(mut self, args: &str) -> Self {
        self.append.push(args.to_string());
        self
    }

    /// Force (true) or forbid (false) finding libraries with the workspace's
    /// `mkrootfs`; by default it is used when it supports `--format cpio`.
    #[must_use]
    pub fn use_mkrootfs(mut self, yes: bool) -> Self {
        self.mkrootfs = Some(yes);
        self
    }

    /// Boot the newest 6.1 kernel ([`LEGACY`]) instead of the newest one.
    #[must_use]
    pub fn legacy_kernel(mut self) -> Self {
        self.kernel = LEGACY;
        self
    }

    /// Build the initramfs, boot, run the script and collect the results;
    /// the VM is killed when it runs longer than `timeout`.  Runs one VM at
    /// a time per machine (`serial("vm")`).
    ///
    /// # Panics
    /// When the VM cannot be prepared (no kernel, a missing file, qemu does
    /// not start): gate the test with [`require`] first.
    #[must_use]
    pub fn run(&self, timeout: Duration) -> VmResult {
        let kernel = kernel_at(self.kernel).unwrap_or_else(|e| panic!("{e}"));
        let work = crate::tempdir().expect("tempdir");
        let keep = std::env::var_os("CTOOLS_VM_KEEP").is_some_and(|v| !v.is_empty() && v != "0");
        let dir = work.path().to_path_buf();
        let mut result = VmResult::default();
        let initrd = self
            .build_initramfs(&kernel, &dir, &mut result)
            .unwrap_or_else(|e| panic!("building the VM's initramfs: {e}"));
        let marks = dir.join("markers.txt");
        let mut cmd = Command::new(qemu().expect("qemu-system-x86_64"));
        // TCG by default: it works everywhere (here /dev/kvm exists but
        // does not work); CTOOLS_VM_ACCEL=kvm where it does.
        let accel = std::env::var("CTOOLS_VM_ACCEL").unwrap_or_else(|_| "tcg".into());
        cmd.args([
            "-accel",
            accel.as_str(),
            "-nodefaults",
            "-no-reboot",
            "-display",
            "none",
        ])
        .args(["-monitor", "none", "-serial", "stdio", "-serial"])
        .arg(format!("file:{}", marks.display()))
        .args(["-m", &self.memory_mb.to_string()])
        .args(["-smp", &self.cpus.to_string()])
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(&initrd);
        let mut cmdline = CMDLINE.to_string();
        for a in &self.append {
            cmdline.push(' ');
            cmdline.push_str(a);
        }
        cmd.arg("-append").arg(&cmdline);
        if let Some(mb) = self.disk_mb {
            let disk = dir.join("disk.img");
            let f = fs::File::create(&disk).expect("disk image");
            f.set_len(mb << 20).expect("disk image size");
            cmd.arg("-drive")
                .arg(format!("file={},format=raw,if=virtio", disk.display()));
        }
        // The command line, to boot the kept work directory again by hand
        // (CTOOLS_VM_KEEP=1; add `-serial mon:stdio` style changes at will).
        let mut line =
            String::from("#!/bin/sh\n# qemu command line of this VM run (cttest::vm)\nexec");
        for a in std::iter::once(cmd.get_program()).chain(cmd.get_args()) {
            let a = a.to_string_lossy();
            let _ = write!(line, " '{}'", a.replace('\'', "'\\''"));
        }
        line.push('\n');
        let _ = write_executable(&dir.join("run-qemu.sh"), line.as_bytes());
        let _lock = crate::serial("vm");
        // qemu's multi-threaded TCG now and then runs a stale translation of
        // kernel text that the guest is patching (static keys), and the
        // guest dies of a stray int3, mostly while booting.  Such a boot
        // says nothing of the test, so it is tried again (at most twice
        // more) and the report shows each crash; other oopses after /init
        // started are the test's failures and are never retried.
        for attempt in 1..=BOOT_TRIES {
            let mut one = VmResult {
                rootfs_builder: result.rootfs_builder,
                crashed_boots: std::mem::take(&mut result.crashed_boots),
                ..VmResult::default()
            };
            boot(&mut cmd, &marks, timeout, &mut one);
            result = one;
            if attempt == BOOT_TRIES || !result.kernel_crashed() {
                break;
            }
            // From the first oops or panic line, 20 lines at most.
            let lines: Vec<&str> = result.console.lines().collect();
            let from = lines
                .iter()
                .position(|l| l.contains("Oops") || l.contains("Kernel panic"))
                .unwrap_or(0);
            let to = lines.len().min(from + 20);
            let crash = lines[from..to].join("\n");
            eprintln!(
                "cttest::vm: boot {attempt}: the guest kernel crashed, booting again\n{crash}"
            );
            result.crashed_boots.push(crash);
        }
        if keep {
            let kept = work.keep();
            eprintln!("cttest::vm: kept {}", kept.display());
        }
        result
    }

    fn build_initramfs(
        &self,
        kernel: &Kernel,
        dir: &Path,
        result: &mut VmResult,
    ) -> Result<PathBuf, String> {
        let mut parts: Vec<u8> = Vec::new();
        result.rootfs_builder = "ldd";
        let bins: Vec<&Path> = self.binaries.iter().map(|(p, _)| p.as_path()).collect();
        for b in &bins {
            if !b.is_file() {
                return Err(format!("{}: no such file", b.display()));
            }
        }
        let want_mkrootfs = self
            .mkrootfs
            .unwrap_or_else(|| std::env::var_os("CTOOLS_VM_MKROOTFS").is_none_or(|v| v != "0"));
        let mut libs_done = bins.is_empty();
        let mut c = Cpio::default();
        if want_mkrootfs && !bins.is_empty() {
            match mkrootfs_cpio(&bins, dir) {
                Ok((archive, entries)) => {
                    parts.extend_from_slice(&archive);
                    // The kernel replaces an entry by one of another type:
                    // a directory of ours would replace mkrootfs's merged-usr
                    // links (bin -> usr/bin, lib64 -> usr/lib64).  Make no
                    // directory entry where the first archive has a name.
                    for (name, mode) in entries {
                        let kind = mode & 0o170_000;
                        if kind == 0o040_000 || kind == 0o120_000 {
                            c.dirs.insert(name.trim_start_matches("./").to_string());
                        }
                    }
                    result.rootfs_builder = "mkrootfs";
                    libs_done = true;
                }
                Err(e) if self.mkrootfs == Some(true) => return Err(e),
                Err(e) => eprintln!("cttest::vm: libraries by ldd ({e})"),
            }
        }
        for d in [
            "bin",
            "sbin",
            "usr",
            "usr/bin",
            "usr/sbin",
            "dev",
            "proc",
            "sys",
            "tmp",
            "run",
            "root",
            "etc",
            "vm",
            "vm/modules.d",
            "lib",
            "lib64",
        ] {
            c.dir(d);
        }
        c.node("dev/console", 0o20600, 5, 1);
        c.node("dev/null", 0o20666, 1, 3);
        c.node("dev/ttyS0", 0o20600, 4, 64);
        c.node("dev/ttyS1", 0o20600, 4, 65);
        let bb = busybox().ok_or("busybox not found")?;
        c.file("bin/busybox", &read(&bb)?, 0o755);
        c.symlink("bin/sh", "busybox");
        c.file("init", INIT_SH.as_bytes(), 0o755);
        c.file("vm/lib.sh", LIB_SH.as_bytes(), 0o644);
        c.file("vm/test.sh", self.script.as_bytes(), 0o755);
        c.file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
            0o644,
        );
        c.file("etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644);
        let mut libs = BTreeSet::new();
        for (src, dest) in &self.binaries {
            let content = read(src)?;
            if !libs_done {
                for l in ldd(src)? {
                    libs.insert(l);
                }
            }
            c.file(dest, &content, 0o755);
        }
        for l in &libs {
            c.file(&l.to_string_lossy(), &read(l)?, 0o755);
        }
        for (src, dest) in &self.files {
            let md = fs::metadata(src).map_err(|e| format!("{}: {e}", src.display()))?;
            c.file(dest, &read(src)?, md.mode() & 0o7777);
        }
        for (content, dest, mode) in &self.data {
            c.file(dest, content, *mode);
        }
        let mut wanted = self.modules.clone();
        if self.disk_mb.is_some() {
            // The disk is a virtio PCI device: Debian's cloud kernels build
            // virtio_pci as a module (a built-in one is skipped).
            wanted.push("virtio_pci".into());
            wanted.push("virtio_blk".into());
        }
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        for m in &wanted {
            add_module(kernel, m, &mut order, &mut seen)?;
        }
        let mut list = String::new();
        for (name, ko) in &order {
            c.file(&format!("vm/modules.d/{name}.ko"), ko, 0o644);
            list.push_str(name);
            list.push('\n');
        }
        c.file("vm/modules", list.as_bytes(), 0o644);
        parts.extend_from_slice(&c.finish());
        let path = dir.join("initramfs.cpio");
        fs::write(&path, &parts).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The libraries and loader of a dynamic executable, by `ldd`.
fn ldd(bin: &Path) -> Result<Vec<PathBuf>, String> {
    let data = read(bin)?;
    if elf_interp(&data).is_none() {
        return Ok(Vec::new());
    }
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ldd {}: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse_ldd(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_ldd(text: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim().split(' ').next().unwrap_or(""),
            None => line.split(' ').next().unwrap_or(""),
        };
        if path.starts_with('/') {
            v.push(PathBuf::from(path));
        }
    }
    v
}

/// The libraries of `bins` as a cpio archive made by the workspace's
/// mkrootfs, when it is built and supports `--format cpio`, with the names
/// and modes of its entries.
fn mkrootfs_cpio(bins: &[&Path], dir: &Path) -> Result<(Vec<u8>, CpioEntries), String> {
    let exe = crate::bin_dir().join("mkrootfs");
    if !exe.is_file() {
        return Err("mkrootfs not built".into());
    }
    let help = Command::new(&exe)
        .arg("--help")
        .output()
        .map_err(|e| format!("mkrootfs: {e}"))?;
    if !String::from_utf8_lossy(&help.stdout).contains("cpio") {
        return Err("mkrootfs has no --format cpio".into());
    }
    let out_path = dir.join("libs.cpio");
    let out = Command::new(&exe)
        .arg("-o")
        .arg(&out_path)
        .args(["--format", "cpio"])
        .args(bins)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("mkrootfs: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mkrootfs failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let data = read(&out_path)?;
    // A cpio newc archive, or a gzipped one (the kernel takes both, and
    // concatenated archives too).
    if !(data.starts_with(b"070701") || data.starts_with(b"\x1f\x8b")) {
        return Err("mkrootfs wrote something that is not a cpio archive".into());
    }
    let plain = if data.starts_with(b"\x1f\x8b") {
        Command::new("gzip")
            .arg("-dc")
            .arg(&out_path)
            .output()
            .map_err(|e| format!("gzip -dc: {e}"))?
            .stdout
    } else {
        data.clone()
    };
    let entries = cpio_entries(&plain);
    // Archives are padded to 4 bytes; keep the next one aligned.
    let mut data = data;
    while data.len() % 4 != 0 {
        data.push(0);
    }
    Ok((data, entries))
}

/// (name, mode) of each entry of a cpio archive.
pub type CpioEntries = Vec<(String, u32)>;

/// The (name, mode) of each entry of a cpio newc archive, up to the trailer
/// or the first malformed header.
#[must_use]
pub fn cpio_entries(data: &[u8]) -> CpioEntries {
    let mut v = Vec::new();
    let mut at = 0usize;
    let hex = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
    };
    let align = |n: usize| (n + 3) & !3;
    while let Some(h) = data.get(at..at + 110) {
        if !h.starts_with(b"070701") && !h.starts_with(b"070702") {
            break;
        }
        let field = |i: usize| hex(&h[6 + i * 8..14 + i * 8]);
        let (Some(mode), Some(size), Some(namesize)) = (field(1), field(6), field(11)) else {
            break;
        };
        let (size, namesize) = (size as usize, namesize as usize);
        let Some(name) = data.get(at + 110..at + 110 + namesize.saturating_sub(1)) else {
            break;
        };
        let name = String::from_utf8_lossy(name).into_owned();
        if name == "TRAILER!!!" {
            break;
        }
        v.push((name, mode));
        at = align(align(at + 110 + namesize) + size);
    }
    v
}

/// Add module `name` and (first) its dependencies, decompressed.
fn add_module(
    kernel: &Kernel,
    name: &str,
    order: &mut Vec<(String, Vec<u8>)>,
    seen: &mut BTreeSet<String>,
) -> Result<(), String> {
    let norm = name.replace('-', "_");
    if !seen.insert(norm.clone()) {
        return Ok(());
    }
    let Some(path) = find_module(&kernel.modules, &norm) else {
        let builtin =
            fs::read_to_string(kernel.modules.join("modules.builtin")).unwrap_or_default();
        if builtin
            .lines()
            .any(|l| module_name(l).is_some_and(|n| n == norm))
        {
            return Ok(());
        }
        return Err(format!(
            "kernel module {name} not found in {}",
            kernel.modules.display()
        ));
    };
    let ko = decompress(&path)?;
    for dep in modinfo(&ko, "depends").split(',').filter(|d| !d.is_empty()) {
        add_module(kernel, dep, order, seen)?;
    }
    order.push((norm, ko));
    Ok(())
}

/// `foo-bar.ko.xz` → `foo_bar`.
fn module_name(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = file.split(".ko").next()?;
    (file.contains(".ko")).then(|| stem.replace('-', "_"))
}

fn find_module(dir: &Path, norm: &str) -> Option<PathBuf> {
    let order = fs::read_to_string(dir.join("modules.order")).ok();
    if let Some(order) = order {
        for l in order.lines() {
            if module_name(l).as_deref() == Some(norm) {
                let base = dir.join(l.trim());
                for cand in [
                    base.clone(),
                    PathBuf::from(format!("{}.xz", base.display())),
                    PathBuf::from(format!("{}.zst", base.display())),
                    PathBuf::from(format!("{}.gz", base.display())),
                ] {
                    if cand.is_file() {
                        return Some(cand);
                    }
                }
            }
        }
    }
    walk_find(&dir.join("kernel"), norm)
}

fn walk_find(dir: &Path, norm: &str) -> Option<PathBuf> {
    for e in fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = walk_find(&p, norm) {
                return Some(f);
            }
        } else if module_name(&p.to_string_lossy()).as_deref() == Some(norm) {
            return Some(p);
        }
    }
    None
}

fn decompress(path: &Path) -> Result<Vec<u8>, String> {
    let s = path.to_string_lossy();
    let tool = if s.ends_with(".xz") {
        "xz"
    } else if s.ends_with(".zst") {
        "zstd"
    } else if s.ends_with(".gz") {
        "gzip"
    } else {
        return read(path);
    };
    let out = Command::new(tool)
        .arg("-dc")
        .arg(path)
        .output()
        .map_err(|e| format!("{tool} -dc {s}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{tool} -dc {s} failed"));
    }
    Ok(out.stdout)
}

/// A field of a module's `.modinfo` section (`key=value\0` strings).
fn modinfo(ko: &[u8], key: &str) -> String {
    let pat = format!("{key}=");
    let pat = pat.as_bytes();
    for chunk in ko.split(|&b| b == 0) {
        if let Some(v) = chunk.strip_prefix(pat) {
            return String::from_utf8_lossy(v).into_owned();
        }
    }
    String::new()
}

/// A cpio newc archive (`070701`), as the kernel unpacks into its rootfs.
#[derive(Default)]
pub struct Cpio {
    out: Vec<u8>,
    ino: u32,
    /// Directory names already there (made here, or by an archive before).
    dirs: BTreeSet<String>,
}

impl Cpio {
    fn header(&mut self, name: &str, mode: u32, size: usize, rdev: (u32, u32)) {
        self.ino += 1;
        let namesize = name.len() + 1;
        let size = u32::try_from(size).expect("file under 4 GiB");
        let fields = [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            size,
            0,
            0,
            rdev.0,
            rdev.1,
            u32::try_from(namesize).expect("short name"),
            0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            let _ = write!(self.out, "{f:08x}");
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    fn parents(&mut self, name: &str) {
        let mut acc = String::new();
        let parts: Vec<&str> = name.split('/').collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(p);
            if !self.dirs.contains(&acc) {
                let d = acc.clone();
                self.dirs.insert(d.clone());
                self.header(&d, 0o40755, 0, (0, 0));
            }
        }
    }

    /// A directory (and its parents), mode 0755.
    pub fn dir(&mut self, name: &str) {
        let name = name.trim_matches('/');
        self.parents(&format!("{name}/x"));
    }

    /// A regular file (parents made as needed).
    pub fn file(&mut self, name: &str, content: &[u8], mode: u32) {
        let name = name.trim_start_matches('/');
        self.parents(name);
        self.header(name, 0o100_000 | (mode & 0o7777), content.len(), (0, 0));
        self.out.extend_from_slice(content);
        self.pad();
    }

    /// A symbolic link to `target`.
    pub fn symlink(&mut self, name: &str, target: &str) {
        let name = name.trim_start_matches('/');
        self.parents(name);
        self.header(name, 0o120_777, target.len(), (0, 0));
        self.out.extend_from_slice(target.as_bytes());
        self.pad();
    }

    /// A device node (`mode` has the type bits, e.g. `0o20600` for a
    /// character device).
    pub fn node(&mut self, name: &str, mode: u32, major: u32, minor: u32) {
        let name = name.trim_start_matches('/');
        self.parents(name);
        self.header(name, mode, 0, (major, minor));
    }

    /// The archive with its trailer.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        self.header("TRAILER!!!", 0, 0, (0, 0));
        self.out
    }
}

/// Write `content` to `path` with mode 0755 (a helper for tests that compile
/// a program for the VM into a temporary directory).
///
/// # Errors
/// The I/O error.
pub fn write_executable(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(content)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

/// Compile a C program statically with `cc -static -O2` into `dir/name`,
/// for a VM that has no C library.  None when no compiler or static libc.
#[must_use]
pub fn compile_static_c(dir: &Path, name: &str, source: &str) -> Option<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    fs::write(&src, source).ok()?;
    let out = dir.join(name);
    let st = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    (st.success() && out.is_file()).then_some(out)
}

/// How many times [`Vm::run`] boots when the kernel crashes before /init.
const BOOT_TRIES: usize = 3;

/// One boot of the prepared command line: qemu's output, status and markers
/// into `result`.
fn boot(cmd: &mut Command, marks: &Path, timeout: Duration, result: &mut VmResult) {
    let _ = fs::remove_file(marks);
    let start = Instant::now();
    let (status, out, err) = crate::run_until(cmd, timeout);
    result.qemu_status = status;
    result.timed_out = status.is_none();
    result.elapsed = start.elapsed();
    result.console = String::from_utf8_lossy(&out).replace('\r', "");
    result.qemu_stderr = String::from_utf8_lossy(&err).into_owned();
    let marks_text = fs::read_to_string(marks).unwrap_or_default();
    if marks_text.contains("CTOOLS-BOOTED") {
        result.parse_markers(&marks_text);
    } else {
        // /init found no ttyS1 and reported on the console.
        let console = result.console.clone();
        result.parse_markers(&console);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_parse() {
        let mut r = VmResult::default();
        r.parse_markers(
            "noise\r\nCTOOLS-BOOTED 6.12.1\r\n[  1.0] kernel CTOOLS-RESULT a ok fine detail\n\
             CTOOLS-RESULT b fail expected 'x', got 'y'\nCTOOLS-INFO ratio 2.01\nCTOOLS-EXIT 3\n",
        );
        assert_eq!(r.booted.as_deref(), Some("6.12.1"));
        assert_eq!(r.exit, Some(3));
        assert_eq!(r.checks.len(), 2);
        assert!(r.check("a").unwrap().ok);
        assert_eq!(r.check("a").unwrap().detail, "fine detail");
        assert!(!r.check("b").unwrap().ok);
        assert_eq!(r.info_f64("ratio"), Some(2.01));
        assert_eq!(r.failures().len(), 1);
    }

    #[test]
    fn kernel_crash_is_told_from_a_failed_test() {
        let mut r = VmResult {
            console: "[ 1.69] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n\
                      [ 1.69] Kernel panic - not syncing: Fatal exception in interrupt\n"
                .into(),
            ..VmResult::default()
        };
        assert!(r.kernel_crashed());
        r.timed_out = true;
        assert!(
            r.kernel_crashed(),
            "int3: the emulator's, even when it hung"
        );
        r.console = "[ 1.0] Oops: general protection fault\nKernel panic\n".into();
        assert!(!r.kernel_crashed(), "a hung VM is not booted again");
        r.timed_out = false;
        assert!(r.kernel_crashed());
        r.parse_markers("CTOOLS-BOOTED 6.12.1\n");
        assert!(!r.kernel_crashed(), "an oops after /init is the test's");
        r.console
            .push_str("[ 9.0] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n");
        assert!(r.kernel_crashed(), "int3 after /init: the emulator's");
        let quiet = VmResult::default();
        assert!(!quiet.kernel_crashed(), "no panic on the console");
    }

    #[test]
    fn ldd_output_parses() {
        let t = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x1)\n\
                 \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x2)\n\t/lib64/ld-linux-x86-64.so.2 (0x3)\n";
        let v = parse_ldd(t);
        assert_eq!(
            v,
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn cpio_layout() {
        let mut c = Cpio::default();
        c.file("a/b/c", b"hello", 0o644);
        c.symlink("a/l", "b/c");
        let out = c.finish();
        assert!(out.starts_with(b"070701"));
        assert_eq!(out.len() % 4, 0);
        let text = String::from_utf8_lossy(&out);
        // Parent directories come before their entries.
        let a = text.find("a\0").unwrap();
        let ab = text.find("a/b\0").unwrap();
        let abc = text.find("a/b/c\0").unwrap();
        assert!(a < ab && ab < abc);
        assert!(text.contains("hello"));
        assert!(text.ends_with("TRAILER!!!\0\0\0\0") || text.contains("TRAILER!!!\0"));
    }

    #[test]
    fn cpio_unpacks_with_cpio_tool() {
        if find_in_path("cpio").is_none() {
            return;
        }
        let mut c = Cpio::default();
        c.file("d/f", b"content\n", 0o755);
        c.symlink("d/l", "f");
        let dir = crate::tempdir().unwrap();
        let mut child = Command::new("cpio")
            .args(["-idm", "--quiet"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&c.finish()).unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(fs::read(dir.path().join("d/f")).unwrap(), b"content\n");
        assert_eq!(
            fs::read_link(dir.path().join("d/l")).unwrap(),
            PathBuf::from("f")
        );
        let mode = fs::metadata(dir.path().join("d/f")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    #[test]
    fn cpio_entries_round_trip() {
        let mut c = Cpio::default();
        c.file("d/f", b"12345", 0o644);
        c.symlink("l", "d");
        let v = cpio_entries(&c.finish());
        assert_eq!(
            v,
            [
                ("d".to_string(), 0o40755),
                ("d/f".to_string(), 0o100_644),
                ("l".to_string(), 0o120_777)
            ]
        );
    }

    #[test]
    fn module_names() {
        assert_eq!(
            module_name("kernel/drivers/block/virtio_blk.ko.xz").as_deref(),
            Some("virtio_blk")
        );
        assert_eq!(module_name("kernel/x/dm-mod.ko").as_deref(), Some("dm_mod"));
        assert_eq!(module_name("README"), None);
    }

    #[test]
    fn modinfo_field() {
        let ko = b"\x7fELF junk\0license=GPL\0depends=virtio,virtio_ring\0name=x\0";
        assert_eq!(modinfo(ko, "depends"), "virtio,virtio_ring");
        assert_eq!(modinfo(ko, "missing"), "");
    }

    #[test]
    fn static_detection() {
        if let Some(b) = busybox() {
            // Debian's busybox-static is static; a dynamic busybox is not.
            let _ = is_static(&b);
        }
        let sh = fs::read("/bin/sh").unwrap_or_default();
        if sh.starts_with(b"\x7fELF") {
            assert!(elf_interp(&sh).is_some() || is_static(Path::new("/bin/sh")));
        }
    }
}
