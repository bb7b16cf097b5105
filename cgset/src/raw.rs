//! libcgroup's `-r name=value` rules, with v1 names translated on v2 and
//! v2 names on v1, and `--copy-from`'s list of files.

use anyhow::{Result, bail};

use crate::limits::{
    Current, Write, blkio_to_io_weight, io_to_blkio_weight, memparse, shares_to_weight,
    weight_to_shares,
};
use crate::tree::Version;

/// One `-r` rule, checked for syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub value: String,
}

/// Parse `name=value`: the name is what precedes the first `=`, and it must
/// hold a dot (the controller is what precedes it).
///
/// # Errors
/// libcgroup's messages.
pub fn parse_rule(s: &str) -> Result<Rule> {
    let Some((name, value)) = s.split_once('=') else {
        bail!("wrong parameter of option -r: '{s}' (expected name=value)");
    };
    if value.is_empty() || name.is_empty() {
        bail!("wrong parameter of option -r: '{s}' (expected name=value)");
    }
    if !name.contains('.') || name.starts_with('.') || name.contains('/') {
        bail!(
            "wrong -r parameter (name=value): {s} (the name is controller.file, e.g. cpu.shares)"
        );
    }
    Ok(Rule {
        name: name.to_string(),
        value: value.to_string(),
    })
}

/// The logical controller of a file name.
#[must_use]
pub fn controller_of(name: &str) -> &str {
    match name.split('.').next().unwrap_or("") {
        "io" => "blkio",
        c => c,
    }
}

fn unmappable(name: &str, strict: bool, warn: &mut Vec<String>) -> Result<()> {
    if strict {
        bail!("{name} has no cgroup v2 equivalent (--strict)");
    }
    warn.push(format!("{name} has no cgroup v2 equivalent; discarded"));
    Ok(())
}

/// Translate rules into writes for the versions serving their controllers.
///
/// # Errors
/// With `strict`, for a v1 setting v2 cannot express; for values that
/// cannot be translated.
pub fn translate(
    rules: &[Rule],
    version_of: &dyn Fn(&str) -> Option<Version>,
    cur: &dyn Current,
    strict: bool,
) -> Result<(Vec<Write>, Vec<String>)> {
    let mut out: Vec<Write> = Vec::new();
    let mut warn = Vec::new();
    let find = |n: &str| {
        rules
            .iter()
            .rev()
            .find(|r| r.name == n)
            .map(|r| r.value.clone())
    };
    for r in rules {
        let ctrl = controller_of(&r.name);
        let (name, value) = (r.name.as_str(), r.value.as_str());
        let Some(ver) = version_of(ctrl) else {
            if ctrl == "cgroup" {
                out.push(Write::new(ctrl, name, value));
                continue;
            }
            bail!(
                "{name}: the {ctrl} controller is neither mounted as cgroup v1 nor available in cgroup v2"
            );
        };
        let int = |v: &str| -> Result<u64> {
            v.trim()
                .parse::<u64>()
                .map_err(|_| anyhow::anyhow!("{name}={v}: not a number"))
        };
        match ver {
            Version::V2 => match name {
                "cpu.shares" => out.push(Write::new(
                    ctrl,
                    "cpu.weight",
                    shares_to_weight(int(value)?).to_string(),
                )),
                "cpu.cfs_quota_us" | "cpu.cfs_period_us" => {
                    if out.iter().any(|w| w.file == "cpu.max") {
                        continue; // merged below
                    }
                    let cur_max = cur
                        .read(ctrl, "cpu.max")
                        .unwrap_or_else(|| "max 100000".into());
                    let mut it = cur_max.split_whitespace();
                    let (cq, cp) = (
                        it.next().unwrap_or("max").to_string(),
                        it.next().unwrap_or("100000").to_string(),
                    );
                    let q = find("cpu.cfs_quota_us").map_or(cq, |q| {
                        if q.trim().starts_with('-') {
                            "max".into()
                        } else {
                            q.trim().to_string()
                        }
                    });
                    let p = find("cpu.cfs_period_us").map_or(cp, |p| p.trim().to_string());
                    out.push(Write::new(ctrl, "cpu.max", format!("{q} {p}")));
                }
                "memory.limit_in_bytes" => out.push(Write::new(ctrl, "memory.max", v2_mem(value))),
                "memory.soft_limit_in_bytes" => {
                    out.push(Write::new(ctrl, "memory.low", v2_mem(value)))
                }
                "memory.memsw.limit_in_bytes" => {
                    let s = memparse(value)
                        .ok_or_else(|| anyhow::anyhow!("{name}={value}: not a size"))?;
                    let v = if s < 0 {
                        "max".to_string()
                    } else {
                        let m = find("memory.limit_in_bytes")
                            .or_else(|| cur.read(ctrl, "memory.max"))
                            .and_then(|m| memparse(&m));
                        match m {
                            Some(m) if m >= 0 => (s - m).max(0).to_string(),
                            _ => bail!(
                                "{name}: cannot set swap limit without the memory limit (cgroup v2 has memory.swap.max only)"
                            ),
                        }
                    };
                    out.push(Write::new(ctrl, "memory.swap.max", v));
                }
                "memory.swappiness" | "memory.oom_control" => unmappable(name, strict, &mut warn)?,
                n if n.starts_with("memory.kmem.") => unmappable(name, strict, &mut warn)?,
                "blkio.weight" | "blkio.bfq.weight" => {
                    let w = int(value)?;
                    if cur.has(ctrl, "io.bfq.weight") {
                        out.push(Write::new(ctrl, "io.bfq.weight", w.to_string()));
                    } else {
                        out.push(Write::new(
                            ctrl,
                            "io.weight",
                            blkio_to_io_weight(w).to_string(),
                        ));
                    }
                }
                n if n.starts_with("blkio.throttle.") && n.ends_with("_device") => {
                    let key = match n {
                        "blkio.throttle.read_bps_device" => "rbps",
                        "blkio.throttle.write_bps_device" => "wbps",
                        "blkio.throttle.read_iops_device" => "riops",
                        "blkio.throttle.write_iops_device" => "wiops",
                        _ => bail!("{name}: unknown throttle file"),
                    };
                    let Some((dev, rate)) = value.trim().split_once(' ') else {
                        bail!("{name}={value}: expected 'MAJ:MIN RATE'");
                    };
                    let rate = if rate.trim() == "0" {
                        "max"
                    } else {
                        rate.trim()
                    };
                    out.push(Write::new(ctrl, "io.max", format!("{dev} {key}={rate}")));
                }
                "cpuset.effective_cpus" | "cpuset.effective_mems" => bail!("{name} is read-only"),
                "cpuset.cpu_exclusive" => out.push(Write::new(
                    ctrl,
                    "cpuset.cpus.partition",
                    if value.trim() == "1" {
                        "root"
                    } else {
                        "member"
                    },
                )),
                _ => out.push(Write::new(ctrl, name, value)),
            },
            Version::V1 => match name {
                "cpu.weight" => out.push(Write::new(
                    ctrl,
                    "cpu.shares",
                    weight_to_shares(int(value)?).to_string(),
                )),
                "cpu.max" => {
                    let mut it = value.split_whitespace();
                    let q = it.next().unwrap_or("max");
                    if let Some(p) = it.next() {
                        out.push(Write::new(ctrl, "cpu.cfs_period_us", p));
                    }
                    out.push(Write::new(
                        ctrl,
                        "cpu.cfs_quota_us",
                        if q == "max" { "-1" } else { q },
                    ));
                }
                "memory.max" => out.push(Write::new(ctrl, "memory.limit_in_bytes", v1_mem(value))),
                "memory.low" | "memory.high" => out.push(Write::new(
                    ctrl,
                    "memory.soft_limit_in_bytes",
                    v1_mem(value),
                )),
                "memory.swap.max" => {
                    let v = if value.trim() == "max" {
                        "-1".to_string()
                    } else {
                        let s = memparse(value)
                            .ok_or_else(|| anyhow::anyhow!("{name}={value}: not a size"))?;
                        let m = find("memory.max")
                            .or_else(|| cur.read(ctrl, "memory.limit_in_bytes"))
                            .and_then(|m| memparse(&m));
                        match m {
                            Some(m) if m >= 0 => (s + m).to_string(),
                            _ => bail!("{name}: cannot set a swap limit without a memory limit"),
                        }
                    };
                    out.push(Write::new(ctrl, "memory.memsw.limit_in_bytes", v));
                }
                "io.weight" | "io.bfq.weight" => {
                    let v = value
                        .trim()
                        .strip_prefix("default ")
                        .unwrap_or(value.trim());
                    let w = int(v)?;
                    let w = if name == "io.weight" {
                        io_to_blkio_weight(w)
                    } else {
                        w
                    };
                    let f = if cur.has(ctrl, "blkio.weight") {
                        "blkio.weight"
                    } else {
                        "blkio.bfq.weight"
                    };
                    out.push(Write::new(ctrl, f, w.to_string()));
                }
                "io.max" => {
                    let mut it = value.split_whitespace();
                    let dev = it.next().unwrap_or("");
                    for kv in it {
                        let Some((k, v)) = kv.split_once('=') else {
                            bail!("{name}={value}: expected key=value")
                        };
                        let file = match k {
                            "rbps" => "blkio.throttle.read_bps_device",
                            "wbps" => "blkio.throttle.write_bps_device",
                            "riops" => "blkio.throttle.read_iops_device",
                            "wiops" => "blkio.throttle.write_iops_device",
                            _ => bail!("{name}: unknown key {k}"),
                        };
                        out.push(Write::new(
                            ctrl,
                            file,
                            format!("{dev} {}", if v == "max" { "0" } else { v }),
                        ));
                    }
                }
                _ => out.push(Write::new(ctrl, name, value)),
            },
        }
    }
    order_memory(&mut out, cur);
    Ok((out, warn))
}

fn v2_mem(v: &str) -> String {
    match memparse(v) {
        Some(-1) => "max".into(),
        _ => v.trim().to_string(),
    }
}

fn v1_mem(v: &str) -> String {
    if v.trim() == "max" {
        "-1".into()
    } else {
        v.trim().to_string()
    }
}

/// On v1, memory+swap goes before memory when it raises the limit.
pub fn order_memory(w: &mut [Write], cur: &dyn Current) {
    let m = w.iter().position(|x| x.file == "memory.limit_in_bytes");
    let s = w
        .iter()
        .position(|x| x.file == "memory.memsw.limit_in_bytes");
    if let (Some(m), Some(s)) = (m, s) {
        let cur_mem = cur
            .read("memory", "memory.limit_in_bytes")
            .and_then(|v| memparse(&v))
            .unwrap_or(-1);
        let new_sw = memparse(&w[s].value).unwrap_or(0);
        let swap_first = new_sw == -1 || (cur_mem != -1 && cur_mem < new_sw);
        if swap_first != (s < m) {
            w.swap(m, s);
        }
    }
}

/// The settings `--copy-from` copies, per version.
pub const COPY_V1: &[&str] = &[
    "cpu.shares",
    "cpu.cfs_period_us",
    "cpu.cfs_quota_us",
    "cpuset.cpus",
    "cpuset.mems",
    "memory.limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "memory.soft_limit_in_bytes",
    "memory.swappiness",
    "blkio.weight",
    "blkio.bfq.weight",
    "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device",
    "blkio.throttle.write_iops_device",
    "pids.max",
];
/// v2's list.
pub const COPY_V2: &[&str] = &[
    "cpu.weight",
    "cpu.max",
    "cpuset.cpus",
    "cpuset.mems",
    "memory.max",
    "memory.swap.max",
    "memory.low",
    "memory.high",
    "memory.min",
    "io.weight",
    "io.bfq.weight",
    "io.max",
    "pids.max",
];

/// The writes that make a group's settings those of `src`.
#[must_use]
pub fn copy_plan(
    version_of: &dyn Fn(&str) -> Option<Version>,
    src: &dyn Current,
    dst: &dyn Current,
) -> Vec<Write> {
    let mut out = Vec::new();
    for (list, ver) in [(COPY_V1, Version::V1), (COPY_V2, Version::V2)] {
        for file in list {
            let ctrl = controller_of(file);
            if version_of(ctrl) != Some(ver) || !dst.has(ctrl, file) {
                continue;
            }
            let Some(v) = src.read(ctrl, file) else {
                continue;
            };
            if dst.read(ctrl, file).as_deref() == Some(v.as_str()) {
                continue;
            }
            if file.ends_with("_device") || *file == "io.max" {
                for line in v.lines().filter(|l| !l.trim().is_empty()) {
                    out.push(Write::new(ctrl, file, line.trim()));
                }
            } else if *file == "io.weight" {
                for line in v.lines().filter(|l| !l.trim().is_empty()) {
                    out.push(Write::new(ctrl, file, line.trim()));
                }
            } else if !v.is_empty() {
                let v = if v == "9223372036854771712" {
                    "-1".to_string()
                } else {
                    v
                };
                out.push(Write::new(ctrl, file, v));
            }
        }
    }
    order_memory(&mut out, dst);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, &'static str>);
    impl Current for Fake {
        fn read(&self, _c: &str, f: &str) -> Option<String> {
            self.0.get(f).map(|s| (*s).to_string())
        }
        fn has(&self, _c: &str, f: &str) -> bool {
            self.0.contains_key(f)
        }
    }

    fn rules(v: &[&str]) -> Vec<Rule> {
        v.iter().map(|s| parse_rule(s).unwrap()).collect()
    }
    fn pairs(w: &[Write]) -> Vec<(&str, &str)> {
        w.iter()
            .map(|w| (w.file.as_str(), w.value.as_str()))
            .collect()
    }

    #[test]
    fn syntax() {
        let r = parse_rule("io.max=8:16 wbps=1024").unwrap();
        assert_eq!(
            (r.name.as_str(), r.value.as_str()),
            ("io.max", "8:16 wbps=1024")
        );
        assert!(
            parse_rule("cpu.shares=")
                .unwrap_err()
                .to_string()
                .starts_with("wrong parameter of option -r")
        );
        assert!(
            parse_rule("cpushares=1")
                .unwrap_err()
                .to_string()
                .starts_with("wrong -r parameter (name=value)")
        );
        assert!(parse_rule("nothing").is_err());
        assert!(parse_rule("../x.y=1").is_err());
    }

    #[test]
    fn v1_names_on_v2() {
        let v2 = |_: &str| Some(Version::V2);
        let cur = Fake(HashMap::from([
            ("cpu.max", "max 100000"),
            ("memory.max", "max"),
            ("io.weight", "default 100"),
        ]));
        let (w, warn) = translate(
            &rules(&[
                "cpu.shares=512",
                "cpu.cfs_quota_us=50000",
                "memory.limit_in_bytes=64M",
                "memory.memsw.limit_in_bytes=128M",
                "blkio.weight=500",
                "blkio.throttle.read_bps_device=8:0 1048576",
                "pids.max=10",
                "memory.swappiness=10",
            ]),
            &v2,
            &cur,
            false,
        )
        .unwrap();
        assert_eq!(
            pairs(&w),
            vec![
                ("cpu.weight", "50"),
                ("cpu.max", "50000 100000"),
                ("memory.max", "64M"),
                ("memory.swap.max", "67108864"),
                ("io.weight", "4950"),
                ("io.max", "8:0 rbps=1048576"),
                ("pids.max", "10"),
            ]
        );
        assert_eq!(warn.len(), 1);
        let e = translate(&rules(&["memory.oom_control=1"]), &v2, &cur, true).unwrap_err();
        assert!(e.to_string().contains("--strict"));
        let (w, _) = translate(
            &rules(&["cpu.cfs_period_us=20000", "cpu.cfs_quota_us=-1"]),
            &v2,
            &cur,
            false,
        )
        .unwrap();
        assert_eq!(pairs(&w), vec![("cpu.max", "max 20000")]);
    }

    #[test]
    fn v2_names_on_v1() {
        let v1 = |_: &str| Some(Version::V1);
        let cur = Fake(HashMap::from([
            ("memory.limit_in_bytes", "1073741824"),
            ("memory.memsw.limit_in_bytes", "2147483648"),
            ("blkio.bfq.weight", "100"),
        ]));
        let (w, _) = translate(
            &rules(&[
                "cpu.weight=200",
                "cpu.max=150000 100000",
                "memory.max=64M",
                "io.max=8:0 rbps=1024 wiops=max",
            ]),
            &v1,
            &cur,
            true,
        )
        .unwrap();
        assert_eq!(
            pairs(&w),
            vec![
                ("cpu.shares", "2048"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "150000"),
                ("memory.limit_in_bytes", "64M"),
                ("blkio.throttle.read_bps_device", "8:0 1024"),
                ("blkio.throttle.write_iops_device", "8:0 0"),
            ]
        );
        // Raising memory and memsw: memsw goes first whatever the order given.
        let (w, _) = translate(
            &rules(&["memory.limit_in_bytes=3G", "memory.memsw.limit_in_bytes=6G"]),
            &v1,
            &cur,
            false,
        )
        .unwrap();
        assert_eq!(w[0].file, "memory.memsw.limit_in_bytes");
        let (w, _) = translate(
            &rules(&["memory.max=1G", "memory.swap.max=1G"]),
            &v1,
            &cur,
            false,
        )
        .unwrap();
        assert_eq!(
            pairs(&w),
            vec![
                ("memory.memsw.limit_in_bytes", "2147483648"),
                ("memory.limit_in_bytes", "1G")
            ]
        );
        let (w, _) = translate(&rules(&["io.weight=default 10000"]), &v1, &cur, false).unwrap();
        assert_eq!(pairs(&w), vec![("blkio.bfq.weight", "1000")]);
    }

    #[test]
    fn copy() {
        let v1 = |_: &str| Some(Version::V1);
        let src = Fake(HashMap::from([
            ("cpu.shares", "512"),
            ("memory.limit_in_bytes", "67108864"),
            ("blkio.throttle.read_bps_device", "8:0 1024\n7:1 5"),
        ]));
        let dst = Fake(HashMap::from([
            ("cpu.shares", "1024"),
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("blkio.throttle.read_bps_device", ""),
        ]));
        let w = copy_plan(&v1, &src, &dst);
        assert_eq!(
            pairs(&w),
            vec![
                ("cpu.shares", "512"),
                ("memory.limit_in_bytes", "67108864"),
                ("blkio.throttle.read_bps_device", "8:0 1024"),
                ("blkio.throttle.read_bps_device", "7:1 5"),
            ]
        );
    }
}
