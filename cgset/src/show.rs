//! `--show` (limits and usage, text or JSON) and `--watch` (a
//! docker-stats-like table).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::Serialize;

use crate::limits::V1_UNLIMITED;
use crate::tree::{Group, Tree, Version};

/// A group's limits (None: unlimited or unset).
#[derive(Debug, Default, Serialize, Clone)]
pub struct Limits {
    pub cpu_shares: Option<u64>,
    pub cpu_weight: Option<u64>,
    pub cpu_quota_us: Option<i64>,
    pub cpu_period_us: Option<u64>,
    pub cpus: Option<f64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub swappiness: Option<u64>,
    pub oom_kill_disable: Option<bool>,
    pub blkio_weight: Option<u64>,
    pub io_max: Vec<String>,
    pub pids_max: Option<i64>,
}

/// A group's usage.
#[derive(Debug, Default, Serialize, Clone)]
pub struct Usage {
    pub cpu_ns: Option<u64>,
    pub nr_periods: Option<u64>,
    pub nr_throttled: Option<u64>,
    pub throttled_ns: Option<u64>,
    pub memory_current: Option<u64>,
    pub memory_peak: Option<u64>,
    pub oom_kills: Option<u64>,
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
    pub pids_current: Option<u64>,
    pub frozen: Option<bool>,
}

/// Everything `--show` prints.
#[derive(Debug, Serialize, Clone)]
pub struct Report {
    pub group: String,
    pub mode: crate::tree::Mode,
    pub paths: Vec<(String, PathBuf)>,
    pub limits: Limits,
    pub usage: Usage,
    pub pids: Vec<i32>,
    /// The device policy, where the group is in the devices hierarchy.
    pub devices: Option<Devices>,
}

/// A group's device policy: v1's devices.list, or the device programs
/// attached to the v2 cgroup (cgset's are named `cgset_devices`).
#[derive(Debug, Serialize, Clone)]
pub struct Devices {
    pub version: &'static str,
    /// v1: the allow list, as devices.list has it (`a *:* rwm`: everything).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<Vec<String>>,
    /// v2: the programs attached to the cgroup itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub programs: Option<Vec<crate::devices::Attached>>,
}

fn devices_of(tree: &Tree, group: &Group) -> Option<(PathBuf, Devices)> {
    let i = tree.devices_hier()?;
    let h = &tree.hiers[i];
    let d = group.dir(h);
    if !d.is_dir() {
        return None;
    }
    let dev = if h.v2 {
        Devices {
            version: "v2",
            list: None,
            programs: crate::devices::attached(&d).ok(),
        }
    } else {
        Devices {
            version: "v1",
            list: rd(&d, "devices.list").map(|s| s.lines().map(String::from).collect()),
            programs: None,
        }
    };
    Some((d, dev))
}

fn rd(dir: &Path, f: &str) -> Option<String> {
    fs::read_to_string(dir.join(f))
        .ok()
        .map(|s| s.trim().to_string())
}
fn num(dir: &Path, f: &str) -> Option<u64> {
    rd(dir, f)?.parse().ok()
}
fn kv(dir: &Path, f: &str, key: &str) -> Option<u64> {
    rd(dir, f)?.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok())?
    })
}
fn v1_mem(dir: &Path, f: &str) -> Option<i64> {
    let n: i64 = rd(dir, f)?.parse().ok()?;
    (n < V1_UNLIMITED).then_some(n)
}
fn v2_mem(dir: &Path, f: &str) -> Option<i64> {
    let s = rd(dir, f)?;
    if s == "max" { None } else { s.parse().ok() }
}

/// Gather a group's report.
///
/// # Errors
/// When the group exists in no hierarchy.
pub fn report(tree: &Tree, group: &Group) -> Result<Report> {
    let mut paths = Vec::new();
    let mut l = Limits::default();
    let mut u = Usage::default();
    let dir_for = |c: &str| -> Option<(PathBuf, Version)> {
        let (i, v) = tree.hier_for(c)?;
        let d = group.dir(&tree.hiers[i]);
        d.is_dir().then_some((d, v))
    };
    for c in [
        "cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "freezer",
    ] {
        if let Some((d, _)) = dir_for(c) {
            paths.push((c.to_string(), d));
        }
    }
    let devices = devices_of(tree, group).map(|(d, dev)| {
        if dev.version == "v1" {
            paths.push(("devices".to_string(), d));
        }
        dev
    });
    if paths.is_empty() {
        bail!("{}: no such cgroup in any hierarchy", group.name);
    }
    if let Some((d, v)) = dir_for("cpu") {
        if v == Version::V1 {
            l.cpu_shares = num(&d, "cpu.shares");
            l.cpu_quota_us = rd(&d, "cpu.cfs_quota_us").and_then(|s| s.parse().ok());
            l.cpu_period_us = num(&d, "cpu.cfs_period_us");
            u.nr_periods = kv(&d, "cpu.stat", "nr_periods");
            u.nr_throttled = kv(&d, "cpu.stat", "nr_throttled");
            u.throttled_ns = kv(&d, "cpu.stat", "throttled_time");
        } else {
            l.cpu_weight = num(&d, "cpu.weight");
            if let Some(m) = rd(&d, "cpu.max") {
                let mut it = m.split_whitespace();
                l.cpu_quota_us = it.next().map(|q| q.parse().unwrap_or(-1));
                l.cpu_period_us = it.next().and_then(|p| p.parse().ok());
            }
            u.cpu_ns = kv(&d, "cpu.stat", "usage_usec").map(|x| x * 1000);
            u.nr_periods = kv(&d, "cpu.stat", "nr_periods");
            u.nr_throttled = kv(&d, "cpu.stat", "nr_throttled");
            u.throttled_ns = kv(&d, "cpu.stat", "throttled_usec").map(|x| x * 1000);
        }
        if let (Some(q), Some(p)) = (l.cpu_quota_us, l.cpu_period_us)
            && q > 0
            && p > 0
        {
            #[allow(clippy::cast_precision_loss)]
            let c = q as f64 / p as f64;
            l.cpus = Some((c * 100.0).round() / 100.0);
        }
    }
    if let Some((d, Version::V1)) = dir_for("cpuacct") {
        u.cpu_ns = num(&d, "cpuacct.usage");
    }
    if let Some((d, v)) = dir_for("cpuset") {
        l.cpuset_cpus = rd(&d, "cpuset.cpus");
        l.cpuset_mems = rd(&d, "cpuset.mems");
        if v == Version::V2 && l.cpuset_cpus.as_deref() == Some("") {
            l.cpuset_cpus = rd(&d, "cpuset.cpus.effective");
            l.cpuset_mems = rd(&d, "cpuset.mems.effective");
        }
    }
    if let Some((d, v)) = dir_for("memory") {
        if v == Version::V1 {
            l.memory = v1_mem(&d, "memory.limit_in_bytes");
            l.memory_swap = v1_mem(&d, "memory.memsw.limit_in_bytes");
            l.memory_reservation = v1_mem(&d, "memory.soft_limit_in_bytes");
            l.swappiness = num(&d, "memory.swappiness");
            l.oom_kill_disable = kv(&d, "memory.oom_control", "oom_kill_disable").map(|x| x == 1);
            u.memory_current = num(&d, "memory.usage_in_bytes");
            u.memory_peak = num(&d, "memory.max_usage_in_bytes");
            u.oom_kills = kv(&d, "memory.oom_control", "oom_kill");
        } else {
            l.memory = v2_mem(&d, "memory.max");
            // Reported as docker's memory+swap.
            l.memory_swap = match (v2_mem(&d, "memory.swap.max"), l.memory) {
                (Some(s), Some(m)) => Some(s + m),
                _ => None,
            };
            l.memory_reservation = v2_mem(&d, "memory.low").filter(|&x| x > 0);
            u.memory_current = num(&d, "memory.current");
            u.memory_peak = num(&d, "memory.peak");
            u.oom_kills = kv(&d, "memory.events", "oom_kill");
        }
    }
    if let Some((d, v)) = dir_for("blkio") {
        if v == Version::V1 {
            l.blkio_weight = num(&d, "blkio.weight")
                .or_else(|| num(&d, "blkio.bfq.weight"))
                .or_else(|| kv(&d, "blkio.bfq.weight", "default"));
            for (f, k) in [
                ("blkio.throttle.read_bps_device", "rbps"),
                ("blkio.throttle.write_bps_device", "wbps"),
                ("blkio.throttle.read_iops_device", "riops"),
                ("blkio.throttle.write_iops_device", "wiops"),
            ] {
                for line in rd(&d, f).unwrap_or_default().lines() {
                    if let Some((dev, r)) = line.split_once(' ') {
                        l.io_max.push(format!("{dev} {k}={r}"));
                    }
                }
            }
            let mut r = 0;
            let mut w = 0;
            for line in rd(&d, "blkio.throttle.io_service_bytes_recursive")
                .unwrap_or_default()
                .lines()
            {
                let t: Vec<&str> = line.split_whitespace().collect();
                if t.len() == 3 {
                    let n: u64 = t[2].parse().unwrap_or(0);
                    match t[1] {
                        "Read" => r += n,
                        "Write" => w += n,
                        _ => {}
                    }
                }
            }
            u.io_read_bytes = Some(r);
            u.io_write_bytes = Some(w);
        } else {
            l.blkio_weight =
                kv(&d, "io.bfq.weight", "default").or_else(|| kv(&d, "io.weight", "default"));
            l.io_max = rd(&d, "io.max")
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect();
            let (mut r, mut w) = (0, 0);
            for line in rd(&d, "io.stat").unwrap_or_default().lines() {
                for t in line.split_whitespace() {
                    if let Some(n) = t.strip_prefix("rbytes=") {
                        r += n.parse::<u64>().unwrap_or(0);
                    } else if let Some(n) = t.strip_prefix("wbytes=") {
                        w += n.parse::<u64>().unwrap_or(0);
                    }
                }
            }
            u.io_read_bytes = Some(r);
            u.io_write_bytes = Some(w);
        }
    }
    if let Some((d, _)) = dir_for("pids") {
        l.pids_max = rd(&d, "pids.max")
            .map(|s| s.parse().unwrap_or(-1))
            .filter(|&x| x >= 0);
        u.pids_current = num(&d, "pids.current");
    }
    if let Some((d, v)) = dir_for("freezer") {
        u.frozen = match v {
            Version::V1 => rd(&d, "freezer.state").map(|s| s == "FROZEN"),
            Version::V2 => kv(&d, "cgroup.events", "frozen").map(|x| x == 1),
        };
    }
    let pids = paths
        .first()
        .map(|(_, d)| crate::ops::read_pids(d))
        .unwrap_or_default();
    Ok(Report {
        group: group.name.clone(),
        mode: tree.mode,
        paths,
        limits: l,
        usage: u,
        pids,
        devices,
    })
}

fn opt<T: std::fmt::Display>(v: Option<T>, none: &str) -> String {
    v.map_or_else(|| none.to_string(), |x| x.to_string())
}

/// docker's `units.BytesSize`: 1024-based, 4 significant digits.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn bytes_size(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    let digits = if v >= 1000.0 {
        0
    } else if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.digits$}");
    let t = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{t}{}", units[i])
}

/// The text form of a report.
#[must_use]
pub fn text(r: &Report) -> String {
    let l = &r.limits;
    let u = &r.usage;
    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("{k:<20}{v}\n"));
    line(
        "group",
        format!(
            "{} (cgroup {})",
            r.group,
            serde_json::to_value(r.mode)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        ),
    );
    for (c, p) in &r.paths {
        line(&format!("path.{c}"), p.display().to_string());
    }
    if let Some(x) = l.cpu_shares {
        line("cpu.shares", x.to_string());
    }
    if let Some(x) = l.cpu_weight {
        line("cpu.weight", x.to_string());
    }
    if l.cpu_period_us.is_some() {
        let q = l
            .cpu_quota_us
            .filter(|&q| q > 0)
            .map_or_else(|| "max".to_string(), |q| q.to_string());
        line(
            "cpu quota/period",
            format!(
                "{q} / {} us ({} cpus)",
                opt(l.cpu_period_us, "-"),
                opt(l.cpus, "unlimited")
            ),
        );
    }
    if let Some(c) = &l.cpuset_cpus {
        line(
            "cpuset cpus/mems",
            format!("{c} / {}", l.cpuset_mems.as_deref().unwrap_or("")),
        );
    }
    let mem = |v: Option<i64>| {
        v.map_or_else(
            || "unlimited".to_string(),
            |x| format!("{} ({x})", bytes_size(x.unsigned_abs())),
        )
    };
    line("memory", mem(l.memory));
    line("memory+swap", mem(l.memory_swap));
    if let Some(x) = l.memory_reservation {
        line("memory reservation", mem(Some(x)));
    }
    if let Some(x) = l.swappiness {
        line("swappiness", x.to_string());
    }
    if let Some(x) = l.oom_kill_disable {
        line("oom kill disable", x.to_string());
    }
    if let Some(x) = l.blkio_weight {
        line("io weight", x.to_string());
    }
    for x in &l.io_max {
        line("io limit", x.clone());
    }
    line("pids limit", opt(l.pids_max, "unlimited"));
    match &r.devices {
        Some(Devices {
            list: Some(list), ..
        }) => {
            if list.iter().any(|l| l == "a *:* rwm") {
                line("devices", "all allowed".into());
            } else if list.is_empty() {
                line("devices", "all denied".into());
            } else {
                line("devices", format!("denied but {}", list.join(", ")));
            }
        }
        Some(Devices {
            programs: Some(p), ..
        }) => {
            if p.is_empty() {
                line("devices", "no device program attached here".into());
            }
            for a in p {
                line("device program", format!("id {} {}", a.id, a.name));
                match a.rules.as_deref() {
                    Some([]) => line("devices", "all denied".into()),
                    Some(r) => line("devices", format!("denied but {}", r.join(", "))),
                    None => {}
                }
            }
        }
        _ => {}
    }
    #[allow(clippy::cast_precision_loss)]
    let secs =
        |ns: Option<u64>| ns.map_or_else(|| "-".into(), |n| format!("{:.3}s", n as f64 / 1e9));
    line("cpu time", secs(u.cpu_ns));
    if u.nr_periods.is_some() {
        line(
            "throttled",
            format!(
                "{} of {} periods, {}",
                opt(u.nr_throttled, "-"),
                opt(u.nr_periods, "-"),
                secs(u.throttled_ns)
            ),
        );
    }
    let b = |v: Option<u64>| v.map_or_else(|| "-".into(), |x| format!("{} ({x})", bytes_size(x)));
    line("memory current", b(u.memory_current));
    line("memory peak", b(u.memory_peak));
    line("oom kills", opt(u.oom_kills, "-"));
    line(
        "io read/write",
        format!("{} / {}", b(u.io_read_bytes), b(u.io_write_bytes)),
    );
    line(
        "pids",
        format!(
            "{} [{}]",
            opt(u.pids_current, "-"),
            r.pids
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    if let Some(f) = u.frozen {
        line("frozen", f.to_string());
    }
    s
}

/// The JSON form.
#[must_use]
pub fn json(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        let paths: serde_json::Map<String, serde_json::Value> = r
            .paths
            .iter()
            .map(|(c, p)| (c.clone(), p.display().to_string().into()))
            .collect();
        o.insert("paths".into(), paths.into());
    }
    v
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn host_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |k| k * 1024)
}

/// Refresh a table of the groups every `interval`, `count` times or until SIGINT.
///
/// # Errors
/// When a group vanishes or stdout fails.
#[allow(clippy::cast_precision_loss)]
pub fn watch(
    tree: &Tree,
    groups: &[Group],
    interval: Duration,
    count: Option<u64>,
    json_out: bool,
) -> Result<()> {
    // SAFETY: the handler only stores into an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
    let tty = nix::unistd::isatty(std::io::stdout()).unwrap_or(false);
    let hostmem = host_memory();
    let mut prev: Vec<(Option<u64>, Instant)> = Vec::new();
    for g in groups {
        prev.push((report(tree, g)?.usage.cpu_ns, Instant::now()));
    }
    let mut n = 0u64;
    let mut out = std::io::stdout().lock();
    while !STOP.load(Ordering::SeqCst) && count.is_none_or(|c| n < c) {
        let until = Instant::now() + interval;
        while Instant::now() < until && !STOP.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20).min(interval));
        }
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        n += 1;
        let mut rows = Vec::new();
        for (g, p) in groups.iter().zip(prev.iter_mut()) {
            let r = report(tree, g)?;
            let now = Instant::now();
            let cpu = match (r.usage.cpu_ns, p.0) {
                (Some(a), Some(b)) => Some(
                    a.saturating_sub(b) as f64 / now.duration_since(p.1).as_nanos() as f64 * 100.0,
                ),
                _ => None,
            };
            *p = (r.usage.cpu_ns, now);
            rows.push((r, cpu));
        }
        if json_out {
            for (r, cpu) in &rows {
                let v = serde_json::json!({
                    "group": r.group, "cpu_percent": cpu.map(|c| (c * 100.0).round() / 100.0),
                    "memory_current": r.usage.memory_current, "memory_limit": r.limits.memory,
                    "io_read_bytes": r.usage.io_read_bytes, "io_write_bytes": r.usage.io_write_bytes,
                    "pids": r.usage.pids_current,
                });
                writeln!(out, "{v}")?;
            }
            out.flush()?;
            continue;
        }
        if tty {
            write!(out, "\x1b[H\x1b[2J")?;
        }
        writeln!(
            out,
            "{:<24} {:>8} {:>24} {:>8} {:>22} {:>6}",
            "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "BLOCK I/O", "PIDS"
        )?;
        for (r, cpu) in &rows {
            let cur = r.usage.memory_current.unwrap_or(0);
            let lim = r.limits.memory.map_or(hostmem, i64::unsigned_abs);
            let pct = if lim > 0 {
                cur as f64 / lim as f64 * 100.0
            } else {
                0.0
            };
            writeln!(
                out,
                "{:<24} {:>8} {:>24} {:>8} {:>22} {:>6}",
                r.group,
                cpu.map_or_else(|| "--".into(), |c| format!("{c:.2}%")),
                format!("{} / {}", bytes_size(cur), bytes_size(lim)),
                format!("{pct:.2}%"),
                format!(
                    "{} / {}",
                    bytes_size(r.usage.io_read_bytes.unwrap_or(0)),
                    bytes_size(r.usage.io_write_bytes.unwrap_or(0))
                ),
                opt(r.usage.pids_current, "--"),
            )?;
        }
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(1024), "1KiB");
        assert_eq!(bytes_size(67_108_864), "64MiB");
        assert_eq!(bytes_size(1_572_864), "1.5MiB");
    }

    #[test]
    fn fake_v2_report() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::write(root.join("cgroup.controllers"), "cpu io memory pids\n").unwrap();
        let g = root.join("box");
        fs::create_dir(&g).unwrap();
        for (f, v) in [
            ("cpu.weight", "50"),
            ("cpu.max", "50000 100000"),
            (
                "cpu.stat",
                "usage_usec 2000000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 500\n",
            ),
            ("memory.max", "67108864"),
            ("memory.swap.max", "0"),
            ("memory.current", "4096"),
            ("memory.peak", "8192"),
            ("memory.events", "low 0\noom 1\noom_kill 1\n"),
            ("io.max", "8:0 rbps=1048576 wbps=max riops=max wiops=max\n"),
            ("io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n"),
            ("pids.max", "max"),
            ("pids.current", "2"),
            ("cgroup.procs", "10\n11\n"),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
        ] {
            fs::write(g.join(f), v).unwrap();
        }
        let tree = Tree::from_root(root).unwrap();
        let r = report(&tree, &Group::parse("/box").unwrap()).unwrap();
        assert_eq!(r.limits.cpu_weight, Some(50));
        assert_eq!(r.limits.cpus, Some(0.5));
        assert_eq!(r.limits.memory, Some(67_108_864));
        assert_eq!(r.limits.memory_swap, Some(67_108_864));
        assert_eq!(r.usage.cpu_ns, Some(2_000_000_000));
        assert_eq!(r.usage.throttled_ns, Some(500_000));
        assert_eq!(r.usage.oom_kills, Some(1));
        assert_eq!(
            (r.usage.io_read_bytes, r.usage.io_write_bytes),
            (Some(100), Some(200))
        );
        assert_eq!(r.usage.frozen, Some(false));
        assert_eq!(r.pids, vec![10, 11]);
        assert!(r.limits.pids_max.is_none());
        let j = json(&r);
        assert_eq!(j["usage"]["memory_peak"], 8192);
        assert_eq!(j["paths"]["memory"], g.display().to_string());
        let t = text(&r);
        assert!(t.contains("oom kills           1"), "{t}");
        assert!(report(&tree, &Group::parse("/nope").unwrap()).is_err());
    }
}
