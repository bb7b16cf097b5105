//! config.json → the chain: the cgset arguments for linux.resources and
//! cgroupsPath, the unshare-rs arguments for the namespaces to create and
//! the id mappings, and the checks that refuse what runc-rs does not
//! support (one line each).

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Result, bail};
use oci_spec::runtime::{
    LinuxDeviceCgroup, LinuxDeviceType, LinuxNamespaceType, LinuxResources, Spec,
};

/// The cgset group of a container: cgroupsPath absolute (`/a/b`, from each
/// hierarchy's root) or relative (`./a/b`, below the caller's cgroup);
/// without one, `./runc-rs-<id>`.
#[must_use]
pub fn cgroup_name(spec: &Spec, id: &str) -> String {
    let p = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if p.is_empty() {
        format!("./runc-rs-{id}")
    } else if p.starts_with('/') {
        p
    } else {
        format!("./{p}")
    }
}

fn dev_type(t: Option<LinuxDeviceType>) -> char {
    match t {
        Some(LinuxDeviceType::C | LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::P) => 'p',
        Some(LinuxDeviceType::A) | None => 'a',
    }
}

fn num(n: Option<i64>) -> String {
    match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".into(),
    }
}

fn is_all(r: &LinuxDeviceCgroup) -> bool {
    dev_type(r.typ()) == 'a' && r.major().is_none_or(|m| m < 0) && r.minor().is_none_or(|m| m < 0)
}

/// runc's default allowed devices, after the config's rules: mknod of any
/// node (opening one still needs a rule), then null, zero, full, random,
/// urandom, tty, console, ptmx and pts/*.
const DEFAULT_ALLOW: [&str; 11] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// The cgset device options for linux.resources.devices, as runc applies
/// them: the rules in order on top of a deny-all, then runc's default
/// allowed devices.  So an empty list (or none) allows only the defaults; an
/// allow-all (what `--privileged` gives) leaves the group's devices alone.
/// A node of linux.devices is made but gets no rule of its own (runc's
/// defaults do not list them): its access is what the rules say, so that
/// `--device X:r` stays read-only.
///
/// # Errors
/// A deny rule after allows, which cgset cannot express.
pub fn device_args(rules: &[LinuxDeviceCgroup]) -> Result<Vec<String>> {
    let mut allow_all = false;
    let mut allows: Vec<String> = vec![];
    for r in rules {
        if is_all(r) {
            allow_all = r.allow();
            allows.clear();
            continue;
        }
        let acc = r.access().clone().unwrap_or_else(|| "rwm".into());
        let rule = format!(
            "{} {}:{} {acc}",
            dev_type(r.typ()),
            num(r.major()),
            num(r.minor())
        );
        match (allow_all, r.allow()) {
            // already allowed; denied and never allowed since the last deny-all
            (true, true) => {}
            (false, false) if allows.is_empty() => {}
            (false, true) => allows.push(rule),
            (true, false) => {
                bail!("linux.resources.devices: deny rules after an allow-all are not supported")
            }
            (false, false) => {
                bail!("linux.resources.devices: deny rules after allow rules are not supported")
            }
        }
    }
    if allow_all {
        return Ok(vec![]);
    }
    let mut out = vec![];
    for rule in DEFAULT_ALLOW.iter().map(ToString::to_string).chain(allows) {
        out.push("--device-cgroup-rule".to_string());
        out.push(rule);
    }
    Ok(out)
}

/// cgset's limit options for `r` (create and update).
///
/// # Errors
/// A resource runc-rs does not support.
pub fn limit_args(r: &LinuxResources) -> Result<Vec<String>> {
    let mut a: Vec<String> = vec![];
    let mut opt = |k: &str, v: String| {
        a.push(k.to_string());
        a.push(v);
    };
    if let Some(m) = r.memory() {
        if let Some(v) = m.limit() {
            opt("--memory", v.to_string());
        }
        if let Some(v) = m.swap() {
            opt("--memory-swap", v.to_string());
        }
        if let Some(v) = m.reservation() {
            opt("--memory-reservation", v.to_string());
        }
        if let Some(v) = m.swappiness().filter(|v| *v <= 100) {
            opt("--memory-swappiness", v.to_string());
        }
        if m.disable_oom_killer() == Some(true) {
            opt("--oom-kill-disable", String::new());
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(v) = c.shares().filter(|v| *v > 0) {
            opt("--cpu-shares", v.to_string());
        }
        if let Some(v) = c.period().filter(|v| *v > 0) {
            opt("--cpu-period", v.to_string());
        }
        if let Some(v) = c.quota().filter(|v| *v != 0) {
            opt("--cpu-quota", v.to_string());
        }
        if let Some(v) = c.cpus().as_ref().filter(|v| !v.is_empty()) {
            opt("--cpuset-cpus", v.clone());
        }
        if let Some(v) = c.mems().as_ref().filter(|v| !v.is_empty()) {
            opt("--cpuset-mems", v.clone());
        }
        if c.realtime_runtime().is_some_and(|v| v != 0)
            || c.realtime_period().is_some_and(|v| v != 0)
        {
            bail!("linux.resources.cpu.realtimeRuntime/realtimePeriod are not supported");
        }
    }
    if let Some(p) = r.pids() {
        let l = p.limit();
        opt(
            "--pids-limit",
            if l <= 0 { "-1".into() } else { l.to_string() },
        );
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight().filter(|w| *w > 0) {
            opt("--blkio-weight", w.to_string());
        }
        if b.weight_device().as_ref().is_some_and(|v| !v.is_empty()) {
            bail!("linux.resources.blockIO.weightDevice is not supported");
        }
        for (list, file) in [
            (
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
            ),
            (
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
            ),
            (
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
            ),
            (
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
            ),
        ] {
            for t in list.iter().flatten() {
                opt(
                    "--rule",
                    format!("{file}={}:{} {}", t.major(), t.minor(), t.rate()),
                );
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        opt(
            "--rule",
            format!("hugetlb.{}.limit_in_bytes={}", h.page_size(), h.limit()),
        );
    }
    if r.network().is_some() {
        bail!(
            "linux.resources.network is not supported (net_cls and net_prio are not mounted here)"
        );
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        bail!("linux.resources.rdma is not supported");
    }
    for (k, v) in r.unified().iter().flatten() {
        opt("--rule", format!("{k}={v}"));
    }
    a.retain(|s| !s.is_empty());
    Ok(a)
}

/// The namespaces of the config: (type, path).
#[must_use]
pub fn namespaces(spec: &Spec) -> Vec<(LinuxNamespaceType, Option<std::path::PathBuf>)> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .into_iter()
        .map(|n| (n.typ(), n.path().clone()))
        .collect()
}

/// The kernel's clone flag for a namespace type.
#[must_use]
pub fn ns_flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// The /proc/PID/ns name of a type.
#[must_use]
pub fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// The clone flags of the namespaces to create (all but pid, which the
/// init makes with its fork).
#[must_use]
pub fn unshare_flags(spec: &Spec) -> libc::c_int {
    namespaces(spec)
        .into_iter()
        .filter(|(t, p)| p.is_none() && *t != LinuxNamespaceType::Pid)
        .fold(0, |f, (t, _)| f | ns_flag(t))
}

/// The propagation of the container's mount namespace (unshare-rs's
/// `--propagation` word): rootfsPropagation's private or shared, else slave.
#[must_use]
pub fn propagation(spec: &Spec) -> &'static str {
    let prop = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
        .unwrap_or_default();
    match prop.trim_start_matches('r') {
        "private" => "private",
        "shared" => "shared",
        _ => "slave",
    }
}

/// unshare-rs's arguments for the namespaces to create (all but pid, which
/// the init makes with its fork) and the id maps; empty when there is none.
#[must_use]
pub fn unshare_args(spec: &Spec, new_keyring: bool) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![];
    for (t, path) in namespaces(spec) {
        if path.is_some() {
            continue;
        }
        let o = match t {
            LinuxNamespaceType::Mount => "--mount",
            LinuxNamespaceType::Cgroup => "--cgroup",
            LinuxNamespaceType::Uts => "--uts",
            LinuxNamespaceType::Ipc => "--ipc",
            LinuxNamespaceType::User => "--user",
            LinuxNamespaceType::Network => "--net",
            LinuxNamespaceType::Time => "--time",
            LinuxNamespaceType::Pid => continue,
        };
        a.push(o.into());
        if t == LinuxNamespaceType::User {
            let l = spec.linux().as_ref();
            let uids = l.and_then(|l| l.uid_mappings().clone()).unwrap_or_default();
            let gids = l.and_then(|l| l.gid_mappings().clone()).unwrap_or_default();
            // A user mapping only their own ids (rootless): unshare-rs's
            // --map-user/--map-group, which need no helper (and deny setgroups).
            let (euid, egid) = (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            );
            let own = |v: &[oci_spec::runtime::LinuxIdMapping], id: u32| {
                v.len() == 1 && v[0].size() == 1 && v[0].host_id() == id
            };
            if euid != 0 && own(&uids, euid) && own(&gids, egid) {
                a.push(format!("--map-user={}", uids[0].container_id()).into());
                a.push(format!("--map-group={}", gids[0].container_id()).into());
                continue;
            }
            for m in uids {
                a.push(
                    format!(
                        "--map-users={}:{}:{}",
                        m.container_id(),
                        m.host_id(),
                        m.size()
                    )
                    .into(),
                );
            }
            for m in gids {
                a.push(
                    format!(
                        "--map-groups={}:{}:{}",
                        m.container_id(),
                        m.host_id(),
                        m.size()
                    )
                    .into(),
                );
            }
            // Root of the new namespace from here on (the caller's host uid is
            // not mapped): the init keeps its capabilities across exec.
            a.extend(["--setuid=0".into(), "--setgid=0".into()]);
        }
    }
    if a.iter().any(|o| o == "--mount") {
        a.push(format!("--propagation={}", propagation(spec)).into());
    }
    if new_keyring && !a.is_empty() {
        a.push("--new-keyring".into());
    }
    a
}

/// Refuse what runc-rs cannot do, with one line each.
///
/// # Errors
/// The first unsupported value.
pub fn check(spec: &Spec, bundle: &Path) -> Result<()> {
    let v = spec.version();
    if !v.starts_with("1.")
        || v.split(['.', '-'])
            .take(3)
            .any(|n| n.parse::<u32>().is_err())
    {
        bail!("unsupported ociVersion {v:?} (runc-rs reads 1.x configs)");
    }
    // `process` may be absent at create (start then runs nothing: the
    // runtime-spec requires it only of start); args, when given, may not be empty.
    let default = oci_spec::runtime::Process::default();
    let p = spec.process().as_ref().unwrap_or(&default);
    if spec.process().is_some() && p.args().as_ref().is_none_or(Vec::is_empty) {
        bail!("args must not be empty");
    }
    if p.selinux_label().as_ref().is_some_and(|s| !s.is_empty()) {
        bail!("process.selinuxLabel is set but SELinux is not supported");
    }
    if p.apparmor_profile().as_ref().is_some_and(|s| !s.is_empty()) {
        bail!("process.apparmorProfile is set but AppArmor is not supported");
    }
    let Some(root) = spec.root() else {
        bail!("root must be specified");
    };
    let rp = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    if !rp.is_dir() {
        bail!("rootfs ({}) does not exist", rp.display());
    }
    if let Some(cp) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
    {
        let last = cp.file_name().map(|n| n.to_string_lossy().into_owned());
        if !cp.as_os_str().is_empty()
            && (last.is_none_or(|n| n.is_empty() || n == "." || n == "..")
                || cp
                    .components()
                    .any(|c| c == std::path::Component::ParentDir))
        {
            bail!(
                "cgroupsPath {} must name a group of the container's own",
                cp.display()
            );
        }
    }
    let ns = namespaces(spec);
    let has = |t| ns.iter().any(|(x, _)| *x == t);
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("unable to set hostname without a private UTS namespace");
    }
    if !has(LinuxNamespaceType::Mount) {
        bail!("a mount namespace is required (runc-rs sets up the root in one of its own)");
    }
    if let Some(l) = spec.linux() {
        if l.intel_rdt().is_some() {
            bail!("linux.intelRdt is not supported");
        }
        if l.personality().is_some() {
            bail!("linux.personality is not supported");
        }
        if l.time_offsets().as_ref().is_some_and(|m| !m.is_empty()) {
            bail!("linux.timeOffsets is not supported");
        }
        if l.mount_label().as_ref().is_some_and(|s| !s.is_empty()) {
            bail!("linux.mountLabel is set but SELinux is not supported");
        }
        if (l.uid_mappings().as_ref().is_some_and(|v| !v.is_empty())
            || l.gid_mappings().as_ref().is_some_and(|v| !v.is_empty()))
            && !ns
                .iter()
                .any(|(t, p)| *t == LinuxNamespaceType::User && p.is_none())
        {
            bail!("user namespace mappings specified, but no new user namespace is requested");
        }
        if let Some(r) = l.resources() {
            limit_args(r)?;
            device_args(r.devices().as_deref().unwrap_or(&[]))?;
        }
    }
    for (t, path) in &ns {
        if let Some(p) = path {
            if *t == LinuxNamespaceType::User {
                bail!("joining a user namespace by path is not supported");
            }
            if !p.exists() {
                bail!(
                    "namespace {} path {}: no such file or directory",
                    ns_name(*t),
                    p.display()
                );
            }
        }
    }
    Ok(())
}

/// The first limit `spec` sets in runc's order of the v1 controllers
/// (cpuset, memory, cpu, pids, blkio, hugetlb), for the rootless error.
#[must_use]
pub fn first_limit(spec: &Spec) -> &'static str {
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else {
        return "cgroup";
    };
    let cpu = r.cpu().as_ref();
    if cpu.is_some_and(|c| c.cpus().is_some() || c.mems().is_some()) {
        "cpuset"
    } else if r.memory().is_some() {
        "memory"
    } else if cpu.is_some() {
        "cpu"
    } else if r.pids().is_some() {
        "pids"
    } else if r.block_io().is_some() {
        "blkio"
    } else if r.hugepage_limits().is_some() {
        "hugetlb"
    } else {
        "cgroup"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn resources_to_cgset() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":67108864,"swap":134217728},"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"},"pids":{"limit":100},"blockIO":{}}"#,
        )
        .unwrap();
        let a = limit_args(&r).unwrap();
        assert_eq!(
            a.join(" "),
            "--memory 67108864 --memory-swap 134217728 --cpu-shares 512 --cpu-period 100000 --cpu-quota 50000 --cpuset-cpus 0 --pids-limit 100"
        );
    }

    #[test]
    fn devices_to_cgset() {
        let rules: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":136,"access":"rwm"},{"allow":true,"type":"b","major":7,"minor":0,"access":"r"}]"#).unwrap();
        let a = device_args(&rules).unwrap();
        assert!(a.contains(&"c 136:* rwm".to_string()), "{a:?}");
        // a rule's access is kept (a node of linux.devices gets no rwm of its own, as runc)
        assert!(a.contains(&"b 7:0 r".to_string()), "{a:?}");
        assert!(
            !a.iter().any(|r| r.starts_with("b 7:0 ") && r != "b 7:0 r"),
            "{a:?}"
        );
        let all: Vec<LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow":true,"access":"rwm"}]"#).unwrap();
        assert!(device_args(&all).unwrap().is_empty());
        // No rules at all (runc-rs spec's empty list): deny-all plus the
        // defaults, as runc; the block device of a host disk stays out.
        let none = device_args(&[]).unwrap();
        assert!(none.contains(&"c 1:3 rwm".to_string()), "{none:?}");
        assert!(none.contains(&"b *:* m".to_string()), "{none:?}");
        assert!(
            !none
                .iter()
                .any(|r| r.starts_with("b ") && r.ends_with("rwm"))
        );
        assert!(!none.iter().any(|r| r.starts_with("a")));
        // A deny before any allow is a no-op; one after an allow is refused.
        let deny_first: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"type":"b","major":8,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":200,"access":"rw"}]"#,
        )
        .unwrap();
        let a = device_args(&deny_first).unwrap();
        assert!(a.contains(&"c 10:200 rw".to_string()), "{a:?}");
        let deny_after: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"access":"rw"},{"allow":false,"type":"c","major":10,"minor":1,"access":"rw"}]"#,
        )
        .unwrap();
        assert!(device_args(&deny_after).is_err());
    }

    #[test]
    fn namespaces_to_flags_and_propagation() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/x"},{"type":"mount"},{"type":"uts"}],"rootfsPropagation":"rprivate"}}"#,
        );
        assert_eq!(unshare_flags(&s), libc::CLONE_NEWNS | libc::CLONE_NEWUTS);
        assert_eq!(propagation(&s), "private");
        let s = spec(r#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"mount"}]}}"#);
        assert_eq!(propagation(&s), "slave");
    }

    #[test]
    fn cgroup_names() {
        let s = spec(r#"{"ociVersion":"1.0.2","linux":{"cgroupsPath":"/libpod_parent/x"}}"#);
        assert_eq!(cgroup_name(&s, "a"), "/libpod_parent/x");
        let s = spec(r#"{"ociVersion":"1.0.2","linux":{"cgroupsPath":"t/x"}}"#);
        assert_eq!(cgroup_name(&s, "a"), "./t/x");
        let s = spec(r#"{"ociVersion":"1.0.2"}"#);
        assert_eq!(cgroup_name(&s, "a"), "./runc-rs-a");
    }

    #[test]
    fn namespaces_to_unshare() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/x"},{"type":"mount"},{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]}}"#,
        );
        let a: Vec<String> = unshare_args(&s, true)
            .into_iter()
            .map(|o| o.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            a.join(" "),
            "--mount --user --map-users=0:100000:65536 --map-groups=0:100000:65536 --setuid=0 --setgid=0 --propagation=slave --new-keyring"
        );
    }
}
