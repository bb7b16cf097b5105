//! Capabilities: names, docker's default set, and shrinking the bounding
//! set (plus the inheritable and ambient sets, which could otherwise give
//! a capability back at exec).

/// Capability names by number (without the `CAP_` prefix, lower case).
pub const NAMES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DOCKER_DEFAULT: &[&str] = &[
    "chown",
    "dac_override",
    "fsetid",
    "fowner",
    "mknod",
    "net_raw",
    "setgid",
    "setuid",
    "setfcap",
    "setpcap",
    "net_bind_service",
    "sys_chroot",
    "kill",
    "audit_write",
];

/// What a `--cap-add`/`--cap-drop` value names.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Cap {
    /// `ALL`.
    All,
    /// One capability, by number.
    One(u32),
}

/// Parse `CAP_SYS_ADMIN`, `sys_admin`, `SYS_ADMIN`, `ALL` or a number.
#[must_use]
pub fn parse(name: &str) -> Option<Cap> {
    let l = name.trim().to_ascii_lowercase();
    if l == "all" {
        return Some(Cap::All);
    }
    if let Ok(n) = l.parse::<u32>() {
        return (n < 64).then_some(Cap::One(n));
    }
    let l = l.strip_prefix("cap_").unwrap_or(&l);
    NAMES
        .iter()
        .position(|n| *n == l)
        .map(|i| Cap::One(i as u32))
}

/// The highest capability number the kernel knows (read once per process:
/// a container's init asks for it several times while dropping its sets).
#[must_use]
pub fn last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        crate::read_text("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(NAMES.len() as u32 - 1)
    })
}

fn mask_of(names: &[&str]) -> u64 {
    names
        .iter()
        .filter_map(|n| match parse(n) {
            Some(Cap::One(c)) => Some(1u64 << c),
            _ => None,
        })
        .fold(0, |a, b| a | b)
}

/// The capabilities to keep, docker style: start from `base`; `ALL` in
/// `add` means every capability, `ALL` in `drop` means none; then the
/// named additions and drops apply.
///
/// # Errors
/// The first unknown name.
pub fn keep_set(base: u64, add: &[String], drop: &[String], all: u64) -> Result<u64, String> {
    let mut keep = base;
    let parsed = |v: &[String]| -> Result<Vec<Cap>, String> {
        v.iter()
            .map(|n| parse(n).ok_or_else(|| n.clone()))
            .collect()
    };
    let add = parsed(add)?;
    let drop = parsed(drop)?;
    if add.contains(&Cap::All) {
        keep = all;
    }
    if drop.contains(&Cap::All) {
        keep = 0;
    }
    for c in &add {
        if let Cap::One(n) = c {
            keep |= 1 << n;
        }
    }
    for c in &drop {
        if let Cap::One(n) = c {
            keep &= !(1 << n);
        }
    }
    Ok(keep & all)
}

/// Docker's default set as a mask.
#[must_use]
pub fn docker_default() -> u64 {
    mask_of(DOCKER_DEFAULT)
}

/// Every capability the kernel knows, as a mask.
#[must_use]
pub fn all_mask() -> u64 {
    let last = last_cap().min(63);
    if last == 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    }
}

/// The current bounding set, read with `PR_CAPBSET_READ`.
#[must_use]
pub fn bounding() -> u64 {
    let mut m = 0;
    for c in 0..=last_cap().min(63) {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_READ, c as libc::c_ulong, 0, 0, 0) } == 1 {
            m |= 1 << c;
        }
    }
    m
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// Keep only `keep` in the bounding and inheritable sets and clear the
/// ambient set.
///
/// # Errors
/// The errno of the failing call, with what it was.
pub fn restrict(keep: u64) -> Result<(), (String, std::io::Error)> {
    let last = last_cap().min(63);
    for c in 0..=last {
        if keep & (1 << c) != 0 {
            continue;
        }
        // With CAP_SETPCAP a drop of a capability the set no longer has
        // succeeds too: the set is asked only when a drop fails (without
        // CAP_SETPCAP, a capability already gone is no error).
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, c as libc::c_ulong, 0, 0, 0) } != 0 {
            let e = std::io::Error::last_os_error();
            // SAFETY: as above.
            if unsafe { libc::prctl(libc::PR_CAPBSET_READ, c as libc::c_ulong, 0, 0, 0) } != 1 {
                continue;
            }
            let name = NAMES.get(c as usize).copied().unwrap_or("?");
            return Err((format!("cannot drop cap_{name} from the bounding set"), e));
        }
    }
    let (eff, perm, inh) = get().map_err(|e| ("capget".to_string(), e))?;
    set(eff, perm, inh & keep).map_err(|e| ("capset".to_string(), e))?;
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    Ok(())
}

/// The effective, permitted and inheritable sets of this thread (capget, v3).
///
/// # Errors
/// The errno of capget.
pub fn get() -> std::io::Result<(u64, u64, u64)> {
    let mut hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut d = [CapData::default(); 2];
    // SAFETY: the header and a two-element data array, as the v3 ABI wants.
    if unsafe { libc::syscall(libc::SYS_capget, &raw mut hdr, d.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok((
        join(d[0].effective, d[1].effective),
        join(d[0].permitted, d[1].permitted),
        join(d[0].inheritable, d[1].inheritable),
    ))
}

/// Set the effective, permitted and inheritable sets of this thread (capset, v3).
///
/// # Errors
/// The errno of capset.
pub fn set(effective: u64, permitted: u64, inheritable: u64) -> std::io::Result<()> {
    let hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let half = |v: u64, i: u32| (v >> (32 * i)) as u32;
    let d = [0, 1].map(|i| CapData {
        effective: half(effective, i),
        permitted: half(permitted, i),
        inheritable: half(inheritable, i),
    });
    // SAFETY: capset reads a v3 header and two data structs.
    if unsafe { libc::syscall(libc::SYS_capset, &raw const hdr, d.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Set `no_new_privs`.
///
/// # Errors
/// The errno of prctl.
pub fn no_new_privs() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse("CAP_SYS_ADMIN"), Some(Cap::One(21)));
        assert_eq!(parse("net_raw"), Some(Cap::One(13)));
        assert_eq!(parse("all"), Some(Cap::All));
        assert_eq!(parse("bogus"), None);
        assert_eq!(NAMES.len(), 41);
        assert_eq!(docker_default().count_ones(), 14);
    }

    #[test]
    fn docker_semantics() {
        let all = (1u64 << 41) - 1;
        let d = docker_default();
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
        assert_eq!(keep_set(d, &[], &[], all), Ok(d));
        assert_eq!(keep_set(d, &s(&["kill"]), &s(&["ALL"]), all), Ok(1 << 5));
        assert_eq!(
            keep_set(d, &s(&["ALL"]), &s(&["sys_admin"]), all),
            Ok(all & !(1 << 21))
        );
        assert_eq!(keep_set(d, &s(&["sys_admin"]), &[], all), Ok(d | 1 << 21));
        assert_eq!(keep_set(d, &s(&["nope"]), &[], all), Err("nope".into()));
    }
}
