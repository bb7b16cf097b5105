//! docker's resource flags: parsing and validation with docker's messages,
//! and their translation into cgroup v1 and v2 file writes.

use anyhow::{Result, anyhow, bail};

use crate::tree::Version;

/// docker's `linuxMinMemory`.
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// v1 reads "unlimited" as this (LONG_MAX rounded down to the page size).
pub const V1_UNLIMITED: i64 = 9_223_372_036_854_771_712;

/// Which throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl Throttle {
    /// The v1 file.
    #[must_use]
    pub fn v1_file(self) -> &'static str {
        match self {
            Self::ReadBps => "blkio.throttle.read_bps_device",
            Self::WriteBps => "blkio.throttle.write_bps_device",
            Self::ReadIops => "blkio.throttle.read_iops_device",
            Self::WriteIops => "blkio.throttle.write_iops_device",
        }
    }
    /// The io.max key.
    #[must_use]
    pub fn v2_key(self) -> &'static str {
        match self {
            Self::ReadBps => "rbps",
            Self::WriteBps => "wbps",
            Self::ReadIops => "riops",
            Self::WriteIops => "wiops",
        }
    }
    fn bps(self) -> bool {
        matches!(self, Self::ReadBps | Self::WriteBps)
    }
}

/// A device rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRate {
    pub kind: Throttle,
    pub path: String,
    pub major: u64,
    pub minor: u64,
    pub rate: u64,
}

/// The validated docker-style settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_shares: Option<u64>,
    pub cpu_period: Option<u64>,
    /// -1: no quota.
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub memory: Option<i64>,
    /// Memory plus swap; -1: unlimited swap.
    pub memory_swap: Option<i64>,
    /// Whether `memory_swap` was given (rather than docker's 2x default).
    pub swap_explicit: bool,
    pub swappiness: Option<u64>,
    pub reservation: Option<i64>,
    pub kernel_memory: Option<i64>,
    pub oom_kill_disable: bool,
    pub blkio_weight: Option<u16>,
    pub devices: Vec<DeviceRate>,
    /// -1: unlimited.
    pub pids: Option<i64>,
}

/// The flags as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub cpu_shares: Option<i64>,
    pub cpus: Option<String>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_swappiness: Option<i64>,
    pub memory_reservation: Option<String>,
    pub kernel_memory: Option<String>,
    pub oom_kill_disable: bool,
    pub device_read_bps: Vec<String>,
    pub device_write_bps: Vec<String>,
    pub device_read_iops: Vec<String>,
    pub device_write_iops: Vec<String>,
    pub blkio_weight: Option<u16>,
    pub pids_limit: Option<i64>,
}

impl Flags {
    /// Whether any limit was given.
    #[must_use]
    pub fn any(&self) -> bool {
        self.cpu_shares.is_some()
            || self.cpus.is_some()
            || self.cpu_period.is_some()
            || self.cpu_quota.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
            || self.memory.is_some()
            || self.memory_swap.is_some()
            || self.memory_swappiness.is_some()
            || self.memory_reservation.is_some()
            || self.kernel_memory.is_some()
            || self.oom_kill_disable
            || !self.device_read_bps.is_empty()
            || !self.device_write_bps.is_empty()
            || !self.device_read_iops.is_empty()
            || !self.device_write_iops.is_empty()
            || self.blkio_weight.is_some()
            || self.pids_limit.is_some()
    }
}

fn size_flag(v: &str, flag: &str) -> Result<i64> {
    ctcore::units::ram_in_bytes(v)
        .map_err(|e| anyhow!("invalid argument \"{v}\" for \"{flag}\" flag: {e}"))
}

/// docker's `opts.NanoCPUs`: a rational number of CPUs, in billionths.
///
/// # Errors
/// docker's messages for junk and for too many decimals.
pub fn parse_nano_cpus(v: &str) -> Result<i64> {
    let bad = || {
        anyhow!(
            "invalid argument \"{v}\" for \"--cpus\" flag: failed to parse {v} as a rational number"
        )
    };
    let precise = || anyhow!("invalid argument \"{v}\" for \"--cpus\" flag: value is too precise");
    let (neg, body) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let nano: i128 = if let Some((a, b)) = body.split_once('/') {
        let a: i128 = a.parse().map_err(|_| bad())?;
        let b: i128 = b.parse().map_err(|_| bad())?;
        if b == 0 || a < 0 || b < 0 {
            return Err(bad());
        }
        let n = a.checked_mul(1_000_000_000).ok_or_else(bad)?;
        if n % b != 0 {
            return Err(precise());
        }
        n / b
    } else {
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().all(|c| c.is_ascii_digit())
            || !frac.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let frac_t = frac.trim_end_matches('0');
        if frac_t.len() > 9 {
            return Err(precise());
        }
        let i: i128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let mut f: i128 = if frac_t.is_empty() {
            0
        } else {
            frac_t.parse().map_err(|_| bad())?
        };
        for _ in frac_t.len()..9 {
            f *= 10;
        }
        i.checked_mul(1_000_000_000)
            .and_then(|x| x.checked_add(f))
            .ok_or_else(bad)?
    };
    let nano = if neg { -nano } else { nano };
    i64::try_from(nano).map_err(|_| bad())
}

/// docker's `parseUintList` check of a cpuset list (`0-3,5`), max 8192.
///
/// # Errors
/// `invalid format` or `value of out range`.
pub fn parse_list(v: &str) -> Result<Vec<u32>> {
    const MAX: u32 = 8192;
    let mut out = Vec::new();
    if v.is_empty() {
        return Ok(out);
    }
    for part in v.split(',') {
        let num = |s: &str| -> Result<u32> {
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                bail!("invalid format: {v}");
            }
            let n: u32 = s.parse().map_err(|_| anyhow!("invalid format: {v}"))?;
            if n > MAX {
                bail!("value of out range, maximum is {MAX}");
            }
            Ok(n)
        };
        if let Some((a, b)) = part.split_once('-') {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                bail!("invalid format: {v}");
            }
            out.extend(a..=b);
        } else {
            out.push(num(part)?);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// docker's `ValidateThrottleBpsDevice` / `ValidateThrottleIOpsDevice`,
/// then the daemon's `stat` of the device node.
///
/// # Errors
/// docker's messages.
pub fn parse_device(
    spec: &str,
    kind: Throttle,
    stat: &dyn Fn(&str) -> Result<(u64, u64)>,
) -> Result<DeviceRate> {
    let Some((path, rate)) = spec.split_once(':') else {
        bail!("bad format: {spec}")
    };
    if path.is_empty() {
        bail!("bad format: {spec}");
    }
    if !path.starts_with("/dev/") {
        bail!("bad format for device path: {spec}");
    }
    let rate = if kind.bps() {
        match ctcore::units::ram_in_bytes(rate) {
            Ok(r) if r >= 0 => r.unsigned_abs(),
            _ => bail!(
                "invalid rate for device: {spec}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
            ),
        }
    } else {
        rate.parse::<u64>().map_err(|_| {
            anyhow!(
                "invalid rate for device: {spec}. The correct format is <device-path>:<number>. Number must be a positive integer"
            )
        })?
    };
    let (major, minor) = stat(path)?;
    Ok(DeviceRate {
        kind,
        path: path.to_string(),
        major,
        minor,
        rate,
    })
}

/// MAJ:MIN of a block device node, as docker's daemon finds it.
///
/// # Errors
/// `stat PATH: reason`, or not a block device.
pub fn stat_device(path: &str) -> Result<(u64, u64)> {
    // Go's errno texts, as docker prints them, are lower-case.
    let st = nix::sys::stat::stat(path).map_err(|e| {
        let t = ctcore::errno_text(e);
        let mut c = t.chars();
        let t = c
            .next()
            .map_or(String::new(), |f| f.to_lowercase().chain(c).collect());
        anyhow!("stat {path}: {t}")
    })?;
    if st.st_mode & libc::S_IFMT != libc::S_IFBLK {
        bail!("{path} is not a block device");
    }
    Ok((
        u64::from(libc::major(st.st_rdev)),
        u64::from(libc::minor(st.st_rdev)),
    ))
}

impl Resources {
    /// Parse and check the flags as docker does (CLI, then daemon order).
    ///
    /// # Errors
    /// docker's message for the first problem.
    pub fn from_flags(
        f: &Flags,
        ncpus: usize,
        stat: &dyn Fn(&str) -> Result<(u64, u64)>,
    ) -> Result<Self> {
        let mut r = Self::default();
        let mem = f
            .memory
            .as_deref()
            .map(|v| size_flag(v, "-m, --memory"))
            .transpose()?;
        let swap = match f.memory_swap.as_deref() {
            Some("-1") => Some(-1),
            Some(v) => Some(size_flag(v, "--memory-swap")?),
            None => None,
        };
        let resv = f
            .memory_reservation
            .as_deref()
            .map(|v| size_flag(v, "--memory-reservation"))
            .transpose()?;
        let kmem = f
            .kernel_memory
            .as_deref()
            .map(|v| size_flag(v, "--kernel-memory"))
            .transpose()?;
        let nano = f.cpus.as_deref().map(parse_nano_cpus).transpose()?;
        if let Some(s) = f.memory_swappiness
            && s != -1
            && !(0..=100).contains(&s)
        {
            bail!("invalid value: {s}. Valid memory swappiness range is 0-100");
        }
        let mut devices = Vec::new();
        for (specs, kind) in [
            (&f.device_read_bps, Throttle::ReadBps),
            (&f.device_write_bps, Throttle::WriteBps),
            (&f.device_read_iops, Throttle::ReadIops),
            (&f.device_write_iops, Throttle::WriteIops),
        ] {
            for s in specs {
                devices.push(parse_device(s, kind, stat)?);
            }
        }
        // The daemon's checks, in its order.
        let m = mem.unwrap_or(0);
        if m != 0 && m < MIN_MEMORY {
            bail!("Minimum memory limit allowed is 6MB");
        }
        let sw = swap.unwrap_or(0);
        if m > 0 && sw > 0 && sw < m {
            bail!("Minimum memoryswap limit should be larger than memory limit, see usage");
        }
        if m == 0 && sw > 0 {
            bail!("You should always set the Memory limit when using Memoryswap limit, see usage");
        }
        let rv = resv.unwrap_or(0);
        if rv != 0 && rv < MIN_MEMORY {
            bail!("Minimum memory reservation allowed is 6MB");
        }
        if m > 0 && rv > 0 && m < rv {
            bail!("Minimum memory limit can not be less than memory reservation limit, see usage");
        }
        if let Some(n) = nano {
            if f.cpu_period.is_some_and(|p| p != 0) {
                bail!("Conflicting options: Nano CPUs and CPU Period cannot both be set");
            }
            if f.cpu_quota.is_some_and(|q| q > 0) {
                bail!("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
            }
            let max = i64::try_from(ncpus).unwrap_or(i64::MAX / 2_000_000_000) * 1_000_000_000;
            // docker checks n < 0 and n > max; below 0.01 the kernel refuses
            // the 1ms quota, so that floor is checked here too.
            if n < 0 || n > max || (n > 0 && n < 10_000_000) {
                bail!(
                    "range of CPUs is from 0.01 to {ncpus}.00, as there are only {ncpus} CPUs available"
                );
            }
            if n > 0 {
                r.cpu_period = Some(100_000);
                r.cpu_quota = Some(n / 10_000);
            }
        }
        if let Some(p) = f.cpu_period {
            if p != 0 && !(1000..=1_000_000).contains(&p) {
                bail!(
                    "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                );
            }
            if p != 0 {
                r.cpu_period = Some(p.unsigned_abs());
            }
        }
        if let Some(q) = f.cpu_quota {
            if q > 0 && q < 1000 {
                bail!("CPU cfs quota can not be less than 1ms (i.e. 1000)");
            }
            if q < -1 {
                bail!("CPU cfs quota must be -1 (no quota) or at least 1000, not {q}");
            }
            if q != 0 {
                r.cpu_quota = Some(q);
            }
        }
        if let Some(c) = &f.cpuset_cpus {
            parse_list(c).map_err(|e| anyhow!("Invalid value {c} for cpuset cpus: {e}"))?;
            r.cpuset_cpus = Some(c.clone());
        }
        if let Some(c) = &f.cpuset_mems {
            parse_list(c).map_err(|e| anyhow!("Invalid value {c} for cpuset mems: {e}"))?;
            r.cpuset_mems = Some(c.clone());
        }
        if let Some(w) = f.blkio_weight {
            if w > 0 && !(10..=1000).contains(&w) {
                bail!("Range of blkio weight is from 10 to 1000");
            }
            if w > 0 {
                r.blkio_weight = Some(w);
            }
        }
        if let Some(s) = f.cpu_shares {
            if s < 0 {
                bail!("invalid CPU shares ({s}): value must be a positive integer");
            }
            if s > 0 {
                r.cpu_shares = Some(s.unsigned_abs());
            }
        }
        if m > 0 {
            r.memory = Some(m);
            r.swap_explicit = swap.is_some_and(|s| s != 0);
            r.memory_swap = match swap {
                Some(0) | None => Some(m.saturating_mul(2)),
                s => s,
            };
        } else if swap == Some(-1) {
            r.memory_swap = Some(-1);
            r.swap_explicit = true;
        }
        if rv > 0 {
            r.reservation = Some(rv);
        }
        if let Some(k) = kmem
            && k > 0
        {
            r.kernel_memory = Some(k);
        }
        r.swappiness = f
            .memory_swappiness
            .filter(|&s| s >= 0)
            .map(i64::unsigned_abs);
        r.oom_kill_disable = f.oom_kill_disable;
        r.devices = devices;
        r.pids = f.pids_limit.map(|p| if p <= 0 { -1 } else { p });
        Ok(r)
    }

    /// The logical controllers these settings need.
    #[must_use]
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut c = Vec::new();
        if self.cpu_shares.is_some() || self.cpu_period.is_some() || self.cpu_quota.is_some() {
            c.push("cpu");
        }
        if self.cpuset_cpus.is_some() || self.cpuset_mems.is_some() {
            c.push("cpuset");
        }
        if self.memory.is_some()
            || self.memory_swap.is_some()
            || self.reservation.is_some()
            || self.swappiness.is_some()
            || self.kernel_memory.is_some()
            || self.oom_kill_disable
        {
            c.push("memory");
        }
        if self.blkio_weight.is_some() || !self.devices.is_empty() {
            c.push("blkio");
        }
        if self.pids.is_some() {
            c.push("pids");
        }
        c
    }

    /// Settings that the serving version cannot express: dropped here, with
    /// a warning each (an error with `strict`).
    ///
    /// # Errors
    /// With `strict`, for the first such setting; and when a needed
    /// controller is not available at all.
    pub fn drop_inexpressible(
        &mut self,
        version_of: &dyn Fn(&str) -> Option<Version>,
        strict: bool,
    ) -> Result<Vec<String>> {
        let mut warn = Vec::new();
        for c in self.controllers() {
            if version_of(c).is_none() {
                bail!(
                    "the {c} controller is neither mounted as cgroup v1 nor available in cgroup v2 \
                     (see /proc/cgroups and cgroup.controllers)"
                );
            }
        }
        if version_of("memory") == Some(Version::V2) {
            let mut drop = |what: &str, docker: &str| -> Result<()> {
                if strict {
                    bail!("cannot set {what} with cgroup v2 (--strict)");
                }
                warn.push(format!("{docker} ({what} has no cgroup v2 file)"));
                Ok(())
            };
            if self.swappiness.take().is_some() {
                drop(
                    "memory swappiness",
                    "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.",
                )?;
            }
            if std::mem::take(&mut self.oom_kill_disable) {
                drop(
                    "oom-kill-disable",
                    "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
                )?;
            }
            if self.kernel_memory.take().is_some() {
                drop(
                    "kernel memory",
                    "Kernel memory limit is deprecated and no longer supported by the kernel. Discarded.",
                )?;
            }
        }
        if self.oom_kill_disable && self.memory.is_none() {
            warn.push(
                "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources."
                    .into(),
            );
        }
        Ok(warn)
    }
}

/// One file write, in a logical controller's directory of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub ctrl: String,
    pub file: String,
    pub value: String,
}

impl Write {
    pub fn new(ctrl: &str, file: &str, value: impl Into<String>) -> Self {
        Self {
            ctrl: ctrl.into(),
            file: file.into(),
            value: value.into(),
        }
    }
}

/// cpu.shares to cpu.weight, keeping ratios: round(shares*100/1024) in 1..=10000.
#[must_use]
pub fn shares_to_weight(shares: u64) -> u64 {
    ((shares.saturating_mul(100) + 512) / 1024).clamp(1, 10000)
}

/// cpu.weight to cpu.shares, the inverse of [`shares_to_weight`], in 2..=262144.
#[must_use]
pub fn weight_to_shares(weight: u64) -> u64 {
    (weight.saturating_mul(1024) / 100).clamp(2, 262_144)
}

/// blkio.weight (10..1000) to io.weight (1..10000), as runc converts it.
#[must_use]
pub fn blkio_to_io_weight(w: u64) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (w.saturating_sub(10)) * 9999 / 990
}

/// io.weight to blkio.weight.
#[must_use]
pub fn io_to_blkio_weight(w: u64) -> u64 {
    (10 + (w.saturating_sub(1)) * 990 / 9999).clamp(10, 1000)
}

/// Parse a v1 memory number as the kernel does (memparse: K, M, G, T, P,
/// E suffixes, -1 for unlimited).
#[must_use]
pub fn memparse(v: &str) -> Option<i64> {
    let v = v.trim();
    if v == "-1" || v == "max" {
        return Some(-1);
    }
    let (num, mul) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1i64 << 10),
        b'm' | b'M' => (&v[..v.len() - 1], 1 << 20),
        b'g' | b'G' => (&v[..v.len() - 1], 1 << 30),
        b't' | b'T' => (&v[..v.len() - 1], 1 << 40),
        b'p' | b'P' => (&v[..v.len() - 1], 1 << 50),
        _ => (v, 1),
    };
    let n: i64 = num.parse().ok()?;
    let n = n.checked_mul(mul)?;
    if n >= V1_UNLIMITED { Some(-1) } else { Some(n) }
}

/// Current values of the group (or the base above it, for a new group).
pub trait Current {
    /// The trimmed contents of a file of a logical controller, if readable.
    fn read(&self, ctrl: &str, file: &str) -> Option<String>;
    /// Whether the file exists.
    fn has(&self, ctrl: &str, file: &str) -> bool;
}

/// The writes for these settings, in a safe order.
#[must_use]
pub fn plan(
    r: &Resources,
    version_of: &dyn Fn(&str) -> Option<Version>,
    cur: &dyn Current,
) -> (Vec<Write>, Vec<String>) {
    let mut w = Vec::new();
    let mut warn = Vec::new();
    let v2 = |c: &str| version_of(c) == Some(Version::V2);
    // cpuset first: a v1 process cannot join a cpuset without cpus.
    if let Some(c) = &r.cpuset_cpus {
        w.push(Write::new("cpuset", "cpuset.cpus", c.clone()));
    }
    if let Some(m) = &r.cpuset_mems {
        w.push(Write::new("cpuset", "cpuset.mems", m.clone()));
    }
    // cpu
    if let Some(s) = r.cpu_shares {
        if v2("cpu") {
            w.push(Write::new(
                "cpu",
                "cpu.weight",
                shares_to_weight(s).to_string(),
            ));
        } else {
            w.push(Write::new("cpu", "cpu.shares", s.to_string()));
        }
    }
    if r.cpu_period.is_some() || r.cpu_quota.is_some() {
        if v2("cpu") {
            let q = match r.cpu_quota {
                Some(q) if q > 0 => q.to_string(),
                Some(_) => "max".into(),
                None => cur
                    .read("cpu", "cpu.max")
                    .and_then(|s| s.split_whitespace().next().map(String::from))
                    .unwrap_or_else(|| "max".into()),
            };
            let v = match r.cpu_period {
                Some(p) => format!("{q} {p}"),
                None => q,
            };
            w.push(Write::new("cpu", "cpu.max", v));
        } else {
            if let Some(p) = r.cpu_period {
                w.push(Write::new("cpu", "cpu.cfs_period_us", p.to_string()));
            }
            if let Some(q) = r.cpu_quota {
                w.push(Write::new(
                    "cpu",
                    "cpu.cfs_quota_us",
                    if q > 0 { q.to_string() } else { "-1".into() },
                ));
            }
        }
    }
    // memory
    if v2("memory") {
        if let Some(s) = r.memory_swap {
            let v = match (s, r.memory) {
                (-1, _) => "max".to_string(),
                (s, Some(m)) => (s - m).max(0).to_string(),
                (s, None) => s.to_string(),
            };
            if cur.has("memory", "memory.swap.max") {
                w.push(Write::new("memory", "memory.swap.max", v));
            } else if r.swap_explicit {
                warn.push(
                    "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
                        .into(),
                );
            }
        }
        if let Some(m) = r.memory {
            w.push(Write::new("memory", "memory.max", m.to_string()));
        }
        if let Some(x) = r.reservation {
            w.push(Write::new("memory", "memory.low", x.to_string()));
        }
    } else {
        // (the group's files are read only when swap is limited)
        let has_memsw = r.memory_swap.is_some() && cur.has("memory", "memory.memsw.limit_in_bytes");
        let mem = r
            .memory
            .map(|m| Write::new("memory", "memory.limit_in_bytes", m.to_string()));
        let memsw = match r.memory_swap {
            Some(s) if has_memsw => Some(Write::new(
                "memory",
                "memory.memsw.limit_in_bytes",
                s.to_string(),
            )),
            Some(_) => {
                if r.swap_explicit {
                    warn.push(
                        "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
                            .into(),
                    );
                }
                None
            }
            None => None,
        };
        // The kernel keeps memory <= memory+swap at every step.
        let cur_mem = if r.memory_swap.is_some() {
            cur.read("memory", "memory.limit_in_bytes")
                .and_then(|s| memparse(&s))
                .unwrap_or(-1)
        } else {
            -1
        };
        let swap_first = match r.memory_swap {
            Some(-1) => true,
            Some(s) => cur_mem != -1 && cur_mem < s,
            None => false,
        };
        if swap_first {
            w.extend(memsw.clone());
            w.extend(mem);
        } else {
            w.extend(mem);
            w.extend(memsw);
        }
        if let Some(x) = r.reservation {
            w.push(Write::new(
                "memory",
                "memory.soft_limit_in_bytes",
                x.to_string(),
            ));
        }
        if let Some(s) = r.swappiness {
            w.push(Write::new("memory", "memory.swappiness", s.to_string()));
        }
        if r.oom_kill_disable {
            w.push(Write::new("memory", "memory.oom_control", "1"));
        }
        if let Some(k) = r.kernel_memory {
            if cur.has("memory", "memory.kmem.limit_in_bytes") {
                w.push(Write::new(
                    "memory",
                    "memory.kmem.limit_in_bytes",
                    k.to_string(),
                ));
            } else {
                warn.push("Your kernel does not support kernel memory limit capabilities. Limitation discarded.".into());
            }
        }
    }
    // blkio / io
    if let Some(bw) = r.blkio_weight {
        let bw = u64::from(bw);
        if v2("blkio") {
            if cur.has("blkio", "io.bfq.weight") {
                w.push(Write::new("blkio", "io.bfq.weight", bw.to_string()));
            } else if cur.has("blkio", "io.weight") {
                w.push(Write::new(
                    "blkio",
                    "io.weight",
                    blkio_to_io_weight(bw).to_string(),
                ));
            } else {
                warn.push(
                    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into(),
                );
            }
        } else if cur.has("blkio", "blkio.weight") {
            w.push(Write::new("blkio", "blkio.weight", bw.to_string()));
        } else if cur.has("blkio", "blkio.bfq.weight") {
            w.push(Write::new("blkio", "blkio.bfq.weight", bw.to_string()));
        } else {
            warn.push(
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded. \
                 (no blkio.weight nor blkio.bfq.weight: the disks' I/O scheduler is not BFQ)"
                    .into(),
            );
        }
    }
    for d in &r.devices {
        if v2("blkio") {
            let rate = if d.rate == 0 {
                "max".to_string()
            } else {
                d.rate.to_string()
            };
            w.push(Write::new(
                "blkio",
                "io.max",
                format!("{}:{} {}={rate}", d.major, d.minor, d.kind.v2_key()),
            ));
        } else {
            w.push(Write::new(
                "blkio",
                d.kind.v1_file(),
                format!("{}:{} {}", d.major, d.minor, d.rate),
            ));
        }
    }
    if let Some(p) = r.pids {
        w.push(Write::new(
            "pids",
            "pids.max",
            if p < 0 { "max".into() } else { p.to_string() },
        ));
    }
    (w, warn)
}

/// Compare a value written with what the kernel reads back; a note when
/// it was rounded or clamped.
#[must_use]
pub fn readback_note(file: &str, written: &str, read: &str) -> Option<String> {
    let read = read.trim();
    let written = written.trim();
    if read == written {
        return None;
    }
    if file.ends_with("_device") || file == "io.max" {
        // Per-device files: the device's line must carry the value.
        let (dev, rest) = written.split_once(' ')?;
        let line = read.lines().find(|l| l.starts_with(&format!("{dev} ")));
        let ok = match line {
            Some(l) => l
                .split_whitespace()
                .skip(1)
                .any(|t| t == rest || rest.ends_with("=max")),
            None => rest == "0" || rest.ends_with("=max"),
        };
        return if ok {
            None
        } else {
            Some(format!(
                "{file}: wrote '{written}', the kernel shows '{}'",
                read.replace('\n', "; ")
            ))
        };
    }
    if file == "cpu.max" {
        let r: Vec<&str> = read.split_whitespace().collect();
        let wv: Vec<&str> = written.split_whitespace().collect();
        if r.iter().zip(&wv).all(|(a, b)| a == b) {
            return None;
        }
        return Some(format!(
            "{file}: wrote '{written}', the kernel keeps '{read}'"
        ));
    }
    if file.starts_with("memory.kmem.") {
        return Some(format!(
            "{file}: the kernel ignores it (kernel memory limits are deprecated and no longer supported); it reads {read}"
        ));
    }
    if file.starts_with("memory.") && file != "memory.swappiness" && file != "memory.oom_control" {
        let w = memparse(written)?;
        let r = if read == "max" {
            -1
        } else {
            read.parse::<i64>().ok()?
        };
        let r = if r >= V1_UNLIMITED { -1 } else { r };
        if w == r {
            return None;
        }
        return Some(format!(
            "{file}: asked for {written}, the kernel set {read} (rounded down to a multiple of the page size)"
        ));
    }
    if file == "memory.oom_control" {
        return if read.contains("oom_kill_disable 1") {
            None
        } else {
            Some(format!("{file}: OOM killer still enabled"))
        };
    }
    let (Ok(w), Ok(r)) = (written.parse::<i64>(), read.parse::<i64>()) else {
        return if file.starts_with("cpuset.") {
            let same = parse_list(written)
                .ok()
                .zip(parse_list(read).ok())
                .is_some_and(|(a, b)| a == b);
            if same {
                None
            } else {
                Some(format!(
                    "{file}: wrote '{written}', the kernel keeps '{read}'"
                ))
            }
        } else {
            None
        };
    };
    if w == r {
        return None;
    }
    let why = match file {
        "cpu.shares" => " (clamped to 2..262144)",
        "cpu.weight" => " (clamped to 1..10000)",
        _ => "",
    };
    Some(format!("{file}: asked for {w}, the kernel set {r}{why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn no_stat(p: &str) -> Result<(u64, u64)> {
        if p == "/dev/sda" {
            Ok((8, 0))
        } else {
            bail!("stat {p}: no such file or directory")
        }
    }

    fn res(f: &Flags) -> Result<Resources> {
        Resources::from_flags(f, 2, &no_stat)
    }

    fn err(f: &Flags) -> String {
        format!("{:#}", res(f).unwrap_err())
    }

    #[test]
    fn docker_messages() {
        let f = Flags {
            memory: Some("4m".into()),
            ..Flags::default()
        };
        assert_eq!(err(&f), "Minimum memory limit allowed is 6MB");
        let f = Flags {
            memory: Some("64m".into()),
            memory_swap: Some("32m".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        );
        let f = Flags {
            memory_swap: Some("32m".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        );
        let f = Flags {
            memory_swappiness: Some(101),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "invalid value: 101. Valid memory swappiness range is 0-100"
        );
        let f = Flags {
            memory_reservation: Some("1m".into()),
            ..Flags::default()
        };
        assert_eq!(err(&f), "Minimum memory reservation allowed is 6MB");
        let f = Flags {
            memory: Some("64m".into()),
            memory_reservation: Some("128m".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        );
        let f = Flags {
            cpus: Some("3".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        let f = Flags {
            cpus: Some("-1".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        let f = Flags {
            cpus: Some("abc".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number"
        );
        let f = Flags {
            cpus: Some("0.0000000001".into()),
            ..Flags::default()
        };
        assert!(err(&f).ends_with("value is too precise"));
        let f = Flags {
            cpus: Some("1".into()),
            cpu_period: Some(50000),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "Conflicting options: Nano CPUs and CPU Period cannot both be set"
        );
        let f = Flags {
            cpus: Some("1".into()),
            cpu_quota: Some(50000),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        );
        for p in [999, 1_000_001] {
            let f = Flags {
                cpu_period: Some(p),
                ..Flags::default()
            };
            assert_eq!(
                err(&f),
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
            );
        }
        let f = Flags {
            cpu_quota: Some(500),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "CPU cfs quota can not be less than 1ms (i.e. 1000)"
        );
        let f = Flags {
            blkio_weight: Some(5),
            ..Flags::default()
        };
        assert_eq!(err(&f), "Range of blkio weight is from 10 to 1000");
        let f = Flags {
            cpu_shares: Some(-5),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "invalid CPU shares (-5): value must be a positive integer"
        );
        let f = Flags {
            cpuset_cpus: Some("0-a".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "Invalid value 0-a for cpuset cpus: invalid format: 0-a"
        );
        let f = Flags {
            cpuset_mems: Some("9000".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "Invalid value 9000 for cpuset mems: value of out range, maximum is 8192"
        );
        let f = Flags {
            memory: Some("abc".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "invalid argument \"abc\" for \"-m, --memory\" flag: invalid size: 'abc'"
        );
        let f = Flags {
            memory: Some("12x".into()),
            ..Flags::default()
        };
        assert_eq!(
            err(&f),
            "invalid argument \"12x\" for \"-m, --memory\" flag: invalid suffix: 'x'"
        );
    }

    #[test]
    fn device_specs() {
        let d = parse_device("/dev/sda:1mb", Throttle::ReadBps, &no_stat).unwrap();
        assert_eq!((d.major, d.minor, d.rate), (8, 0, 1_048_576));
        let d = parse_device("/dev/sda:100", Throttle::WriteIops, &no_stat).unwrap();
        assert_eq!(d.rate, 100);
        let e = |s: &str, k| format!("{:#}", parse_device(s, k, &no_stat).unwrap_err());
        assert_eq!(e("/dev/sda", Throttle::ReadBps), "bad format: /dev/sda");
        assert_eq!(e(":1mb", Throttle::ReadBps), "bad format: :1mb");
        assert_eq!(
            e("sda:1mb", Throttle::ReadBps),
            "bad format for device path: sda:1mb"
        );
        assert!(e("/dev/sda:1xb", Throttle::ReadBps).starts_with(
            "invalid rate for device: /dev/sda:1xb. The correct format is <device-path>:<number>[<unit>]"
        ));
        assert_eq!(
            e("/dev/sda:1mb", Throttle::ReadIops),
            "invalid rate for device: /dev/sda:1mb. The correct format is <device-path>:<number>. Number must be a positive integer"
        );
        assert_eq!(
            e("/dev/nope:1", Throttle::ReadIops),
            "stat /dev/nope: no such file or directory"
        );
        assert!(
            format!("{:#}", stat_device("/dev/null").unwrap_err()).contains("not a block device")
        );
        assert!(
            format!("{:#}", stat_device("/dev/nonexistent-x").unwrap_err())
                .starts_with("stat /dev/nonexistent-x: ")
        );
    }

    #[test]
    fn nano_cpus() {
        assert_eq!(parse_nano_cpus("1.5").unwrap(), 1_500_000_000);
        assert_eq!(parse_nano_cpus("0.5").unwrap(), 500_000_000);
        assert_eq!(parse_nano_cpus(".25").unwrap(), 250_000_000);
        assert_eq!(parse_nano_cpus("3/2").unwrap(), 1_500_000_000);
        assert_eq!(parse_nano_cpus("2.000000000000").unwrap(), 2_000_000_000);
        assert!(parse_nano_cpus("").is_err());
        assert!(parse_nano_cpus("1.2.3").is_err());
        assert!(parse_nano_cpus("1/3").is_err());
    }

    struct Fake(HashMap<String, String>);
    impl Current for Fake {
        fn read(&self, _c: &str, f: &str) -> Option<String> {
            self.0.get(f).cloned()
        }
        fn has(&self, _c: &str, f: &str) -> bool {
            self.0.contains_key(f)
        }
    }
    fn fake(files: &[(&str, &str)]) -> Fake {
        Fake(
            files
                .iter()
                .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
                .collect(),
        )
    }
    fn files(w: &[Write]) -> Vec<(String, String)> {
        w.iter()
            .map(|w| (w.file.clone(), w.value.clone()))
            .collect()
    }
    fn p(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
            .collect()
    }

    #[test]
    fn plan_v1_and_v2() {
        let f = Flags {
            cpu_shares: Some(512),
            cpus: Some("1.5".into()),
            memory: Some("64m".into()),
            pids_limit: Some(0),
            device_read_bps: vec!["/dev/sda:1mb".into()],
            ..Flags::default()
        };
        let r = res(&f).unwrap();
        let v1 = |_: &str| Some(Version::V1);
        let cur = fake(&[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
        ]);
        let (w, warn) = plan(&r, &v1, &cur);
        assert!(warn.is_empty());
        assert_eq!(
            files(&w),
            p(&[
                ("cpu.shares", "512"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "150000"),
                ("memory.limit_in_bytes", "67108864"),
                ("memory.memsw.limit_in_bytes", "134217728"),
                ("blkio.throttle.read_bps_device", "8:0 1048576"),
                ("pids.max", "max"),
            ])
        );
        let v2 = |_: &str| Some(Version::V2);
        let cur = fake(&[("memory.swap.max", "max"), ("io.weight", "default 100")]);
        let (w, _) = plan(&r, &v2, &cur);
        assert_eq!(
            files(&w),
            p(&[
                ("cpu.weight", "50"),
                ("cpu.max", "150000 100000"),
                ("memory.swap.max", "67108864"),
                ("memory.max", "67108864"),
                ("io.max", "8:0 rbps=1048576"),
                ("pids.max", "max"),
            ])
        );
    }

    #[test]
    fn memory_order() {
        let v1 = |_: &str| Some(Version::V1);
        // Lowering from 1G/2G to 64M/128M: memory first.
        let cur = fake(&[
            ("memory.limit_in_bytes", "1073741824"),
            ("memory.memsw.limit_in_bytes", "2147483648"),
        ]);
        let r = res(&Flags {
            memory: Some("64m".into()),
            ..Flags::default()
        })
        .unwrap();
        let (w, _) = plan(&r, &v1, &cur);
        assert_eq!(w[0].file, "memory.limit_in_bytes");
        // Raising from 64M to 1G with 4G memsw: memsw first.
        let cur = fake(&[
            ("memory.limit_in_bytes", "67108864"),
            ("memory.memsw.limit_in_bytes", "134217728"),
        ]);
        let r = res(&Flags {
            memory: Some("1g".into()),
            memory_swap: Some("4g".into()),
            ..Flags::default()
        })
        .unwrap();
        let (w, _) = plan(&r, &v1, &cur);
        assert_eq!(
            files(&w),
            p(&[
                ("memory.memsw.limit_in_bytes", "4294967296"),
                ("memory.limit_in_bytes", "1073741824")
            ])
        );
        // Unlimited swap: memsw first.
        let r = res(&Flags {
            memory: Some("1g".into()),
            memory_swap: Some("-1".into()),
            ..Flags::default()
        })
        .unwrap();
        let (w, _) = plan(&r, &v1, &cur);
        assert_eq!(
            files(&w),
            p(&[
                ("memory.memsw.limit_in_bytes", "-1"),
                ("memory.limit_in_bytes", "1073741824")
            ])
        );
        // v2: swap = memsw - memory; equal means no swap; -1 max.
        let v2 = |_: &str| Some(Version::V2);
        let cur = fake(&[("memory.swap.max", "max")]);
        let r = res(&Flags {
            memory: Some("1g".into()),
            memory_swap: Some("1g".into()),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(
            files(&plan(&r, &v2, &cur).0),
            p(&[("memory.swap.max", "0"), ("memory.max", "1073741824")])
        );
        let r = res(&Flags {
            memory: Some("1g".into()),
            memory_swap: Some("-1".into()),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(
            files(&plan(&r, &v2, &cur).0)[0],
            ("memory.swap.max".into(), "max".into())
        );
    }

    #[test]
    fn v2_inexpressible() {
        let f = Flags {
            memory_swappiness: Some(10),
            oom_kill_disable: true,
            kernel_memory: Some("64m".into()),
            memory: Some("64m".into()),
            ..Flags::default()
        };
        let v2 = |_: &str| Some(Version::V2);
        let mut r = res(&f).unwrap();
        let warn = r.drop_inexpressible(&v2, false).unwrap();
        assert_eq!(warn.len(), 3);
        assert!(warn[0].contains("Memory swappiness discarded"));
        assert!(r.swappiness.is_none() && !r.oom_kill_disable && r.kernel_memory.is_none());
        let mut r = res(&f).unwrap();
        let e = r.drop_inexpressible(&v2, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot set memory swappiness with cgroup v2 (--strict)"
        );
        let v1 = |_: &str| Some(Version::V1);
        let mut r = res(&f).unwrap();
        assert!(r.drop_inexpressible(&v1, true).unwrap().is_empty());
        let none = |_: &str| None;
        assert!(
            r.drop_inexpressible(&none, false)
                .unwrap_err()
                .to_string()
                .contains("memory controller")
        );
    }

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(512), 50);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10000);
        assert_eq!(shares_to_weight(2048), 200);
        assert_eq!(weight_to_shares(100), 1024);
        assert_eq!(weight_to_shares(50), 512);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10000);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(io_to_blkio_weight(10000), 1000);
        assert_eq!(io_to_blkio_weight(1), 10);
        assert_eq!(memparse("64M"), Some(64 << 20));
        assert_eq!(memparse("9223372036854771712"), Some(-1));
        assert_eq!(memparse("max"), Some(-1));
        assert_eq!(memparse("x"), None);
    }

    #[test]
    fn readback() {
        assert_eq!(readback_note("cpu.shares", "2", "2"), None);
        assert!(
            readback_note("cpu.shares", "1", "2")
                .unwrap()
                .contains("clamped")
        );
        assert!(
            readback_note("memory.limit_in_bytes", "5000", "4096")
                .unwrap()
                .contains("page size")
        );
        assert_eq!(
            readback_note("memory.limit_in_bytes", "64M", "67108864"),
            None
        );
        assert_eq!(
            readback_note("memory.limit_in_bytes", "-1", "9223372036854771712"),
            None
        );
        assert_eq!(readback_note("memory.max", "max", "max"), None);
        assert_eq!(
            readback_note(
                "blkio.throttle.read_bps_device",
                "8:0 1048576",
                "8:0 1048576\n7:0 5"
            ),
            None
        );
        assert_eq!(
            readback_note("blkio.throttle.read_bps_device", "8:0 0", ""),
            None
        );
        assert_eq!(
            readback_note(
                "io.max",
                "8:0 rbps=1048576",
                "8:0 rbps=1048576 wbps=max riops=max wiops=max"
            ),
            None
        );
        assert_eq!(readback_note("cpu.max", "150000", "150000 100000"), None);
        assert_eq!(readback_note("cpuset.cpus", "0,1", "0-1"), None);
        assert!(readback_note("cpuset.cpus", "0-1", "0").is_some());
    }
}
