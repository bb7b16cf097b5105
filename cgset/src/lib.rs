//! cgset: write cgroup limits (v1 and v2) with docker's flags or
//! libcgroup's rules, put processes into the group, report usage.
//!
//! The translation logic works on an injected tree ([`tree::Tree::from_root`])
//! so it can be tested against fake cgroup directories.

pub mod cli;
pub mod devices;
pub mod limits;
pub mod ops;
pub mod raw;
pub mod show;
pub mod tree;

use std::io::Read as _;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use crate::limits::{Flags, Resources};
use crate::ops::{Created, GroupContext as _, GroupFiles};
use crate::tree::{Group, Tree};

fn usage(msg: &str) -> anyhow::Error {
    ctcore::failure(ctcore::exit::FAILURE, msg.to_string())
}

/// The CPUs this process may run on (Go's `runtime.NumCPU`).
#[must_use]
pub fn ncpus() -> usize {
    // SAFETY: a zeroed cpu_set_t filled by sched_getaffinity for ourselves.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw mut set) == 0 {
            return usize::try_from(libc::CPU_COUNT(&set)).unwrap_or(1).max(1);
        }
    }
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn flags(cli: &cli::Cli) -> Flags {
    Flags {
        cpu_shares: cli.cpu_shares,
        cpus: cli.cpus.clone(),
        cpu_period: cli.cpu_period,
        cpu_quota: cli.cpu_quota,
        cpuset_cpus: cli.cpuset_cpus.clone(),
        cpuset_mems: cli.cpuset_mems.clone(),
        memory: cli.memory.clone(),
        memory_swap: cli.memory_swap.clone(),
        memory_swappiness: cli.memory_swappiness,
        memory_reservation: cli.memory_reservation.clone(),
        kernel_memory: cli.kernel_memory.clone(),
        oom_kill_disable: cli.oom_kill_disable,
        device_read_bps: cli.device_read_bps.clone(),
        device_write_bps: cli.device_write_bps.clone(),
        device_read_iops: cli.device_read_iops.clone(),
        device_write_iops: cli.device_write_iops.clone(),
        blkio_weight: cli.blkio_weight,
        pids_limit: cli.pids_limit,
    }
}

fn warn(w: &str) {
    eprintln!("cgset: warning: {w}");
}

/// Run the tool.
///
/// # Errors
/// Any failure, with the reason; nothing created by this run is left behind.
pub fn run(cli: cli::Cli) -> Result<i32> {
    run_tree(cli).map(|(code, _)| code)
}

/// [`run`], returning also the hierarchies it read, so that a caller that
/// goes on with the groups (runc-rs joins the group it had cgset make)
/// need not read mountinfo and /proc/self/cgroup again.
///
/// # Errors
/// As [`run`].
pub fn run_tree(cli: cli::Cli) -> Result<(i32, Tree)> {
    let f = flags(&cli);
    let device_opts =
        cli.device_default || !cli.device_cgroup_rule.is_empty() || !cli.device_allow.is_empty();
    let setting = f.any() || !cli.rule.is_empty() || cli.copy_from.is_some() || device_opts;
    let action = cli.show || cli.watch || cli.delete || cli.freeze || cli.thaw;
    if action && (setting || !cli.pid.is_empty() || !cli.program.is_empty()) {
        return Err(usage(
            "--show, --watch, --delete, --freeze and --thaw take no limits, --pid nor PROGRAM",
        ));
    }
    let groups: Vec<Group> = cli
        .groups
        .iter()
        .map(|g| Group::parse(g))
        .collect::<Result<_>>()?;
    let root = cli.root.clone().or_else(|| {
        std::env::var_os("CGSET_ROOT")
            .filter(|v| !v.is_empty())
            .map(Into::into)
    });
    let mut tree = Tree::detect(root.as_deref())?;
    // -r devices.allow=... needs the group in the devices hierarchy too.
    tree.devices = device_opts || cli.rule.iter().any(|r| r.starts_with("devices."));
    if cli.watch {
        let interval = parse_interval(&cli.interval)?;
        show::watch(&tree, &groups, interval, cli.count, cli.json)?;
        return Ok((0, tree));
    }
    if cli.show {
        let mut all = Vec::new();
        for g in &groups {
            all.push(show::report(&tree, g)?);
        }
        if cli.json {
            let v: Vec<serde_json::Value> = all.iter().map(show::json).collect();
            if v.len() == 1 {
                ctcore::json::print_pretty(&v[0])?;
            } else {
                ctcore::json::print_pretty(&v)?;
            }
        } else {
            let t: Vec<String> = all.iter().map(show::text).collect();
            print!("{}", t.join("\n"));
        }
        return Ok((0, tree));
    }
    if cli.delete {
        for g in &groups {
            ops::delete(&tree, g, cli.kill, cli.dry_run)?;
        }
        return Ok((0, tree));
    }
    if cli.freeze || cli.thaw {
        for g in &groups {
            ops::freeze(&tree, g, cli.freeze, Duration::from_secs(10)).group(g)?;
        }
        return Ok((0, tree));
    }
    set(&cli, &f, &tree, &groups).map(|code| (code, tree))
}

fn parse_interval(s: &str) -> Result<Duration> {
    if let Ok(x) = s.parse::<f64>()
        && x > 0.0
        && x.is_finite()
    {
        return Ok(Duration::from_secs_f64(x));
    }
    match ctcore::units::go_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(usage(&format!(
            "invalid --interval '{s}': seconds or a duration like 500ms"
        ))),
    }
}

#[allow(clippy::too_many_lines)]
fn set(cli: &cli::Cli, f: &Flags, tree: &Tree, groups: &[Group]) -> Result<i32> {
    // Everything is checked before anything is created.
    let mut res = Resources::from_flags(f, ncpus(), &limits::stat_device)?;
    let version_of = |c: &str| tree.version_of(c);
    let mut warnings = res.drop_inexpressible(&version_of, cli.strict)?;
    let rules: Vec<raw::Rule> = cli
        .rule
        .iter()
        .map(|r| raw::parse_rule(r))
        .collect::<Result<_>>()?;
    for r in &rules {
        let c = raw::controller_of(&r.name);
        if c != "cgroup" && tree.version_of(c).is_none() {
            bail!(
                "{}: the {c} controller is neither mounted as cgroup v1 nor available in cgroup v2",
                r.name
            );
        }
    }
    let policy = devices::Policy::from_options(
        cli.device_default,
        &cli.device_cgroup_rule,
        &cli.device_allow,
        &devices::stat_node,
    )?;
    let dev_hier = if policy.is_some() {
        if cli.recursive {
            return Err(usage(
                "--device-default, --device-cgroup-rule and --device-allow set one group's policy; they do not combine with -R",
            ));
        }
        let Some(i) = tree.devices_hier() else {
            bail!("no devices cgroup: neither a v1 devices hierarchy nor cgroup v2 is mounted");
        };
        Some(i)
    } else {
        None
    };
    let copy = cli.copy_from.as_deref().map(Group::parse).transpose()?;
    if let Some(src) = &copy
        && !tree.hiers.iter().any(|h| src.dir(h).is_dir())
    {
        bail!("--copy-from {}: no such cgroup", src.name);
    }
    let mut pids = Vec::new();
    for p in &cli.pid {
        if p == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| anyhow!("reading pids from stdin: {e}"))?;
            pids.extend(ops::parse_pids(&s)?);
        } else {
            pids.extend(ops::parse_pids(p)?);
        }
    }
    for &p in &pids {
        if !ops::pid_exists(p) {
            bail!("cannot move process {p}: No such process");
        }
    }
    if !cli.program.is_empty() {
        if groups.len() != 1 {
            return Err(usage("PROGRAM runs in one GROUP; give exactly one"));
        }
        // (which already found an existing file)
        if ctcore::exec::which(&cli.program[0]).is_none() {
            let e = std::io::Error::from_raw_os_error(libc::ENOENT);
            return Err(ctcore::exec::exec_error(&cli.program[0], &e));
        }
    }
    for g in groups {
        ops::check_cpuset(
            tree,
            g,
            res.cpuset_cpus.as_deref(),
            res.cpuset_mems.as_deref(),
        )?;
    }
    let mut required: Vec<&str> = res.controllers();
    for r in &rules {
        let c = raw::controller_of(&r.name);
        if let Some(k) = tree::V1_STANDARD.iter().find(|k| **k == c) {
            required.push(k);
        }
    }
    if copy.is_some() {
        required.clear();
    }
    let mut exec_created = Created::default();
    for g in groups {
        let mut created = Created::default();
        let done = (|| -> Result<Vec<String>> {
            ops::ensure(tree, g, &required, cli.dry_run, &mut created)?;
            let cur = GroupFiles { tree, group: g };
            let (mut writes, w1) = limits::plan(&res, &version_of, &cur);
            let (w2, w3) = raw::translate(&rules, &version_of, &cur, cli.strict)?;
            writes.extend(w2);
            if let (Some(p), Some(i)) = (&policy, dev_hier)
                && !tree.hiers[i].v2
            {
                let list = std::fs::read_to_string(g.dir(&tree.hiers[i]).join("devices.list")).ok();
                for (file, value) in p.v1_writes(list.as_deref()) {
                    writes.push(limits::Write::new("devices", file, value));
                }
            }
            if let Some(src) = &copy {
                let s = GroupFiles { tree, group: src };
                writes.extend(raw::copy_plan(&version_of, &s, &cur));
            }
            // -R: the same limits below, planned for each cgroup's own files.
            let mut below = Vec::new();
            if cli.recursive {
                for d in ops::descendants(tree, g) {
                    let cur = GroupFiles { tree, group: &d };
                    let (mut w, _) = limits::plan(&res, &version_of, &cur);
                    w.extend(raw::translate(&rules, &version_of, &cur, cli.strict)?.0);
                    if let Some(src) = &copy {
                        let s = GroupFiles { tree, group: src };
                        w.extend(raw::copy_plan(&version_of, &s, &cur));
                    }
                    below.push((ops::for_descendant(tree, &d, w), d));
                }
            }
            // Controllers are disabled from the bottom up, enabled from the top down.
            let disabling = rules.iter().any(|r| {
                r.name == "cgroup.subtree_control"
                    && r.value.split_whitespace().any(|t| t.starts_with('-'))
            });
            let mut notes = Vec::new();
            if disabling {
                for (w, d) in below.iter().rev() {
                    notes.extend(ops::apply(tree, d, w, cli.dry_run)?);
                }
            }
            notes.extend(ops::apply(tree, g, &writes, cli.dry_run)?);
            if !disabling {
                for (w, d) in &below {
                    notes.extend(ops::apply(tree, d, w, cli.dry_run)?);
                }
            }
            if let (Some(p), Some(i)) = (&policy, dev_hier)
                && tree.hiers[i].v2
            {
                devices::attach_v2(&g.dir(&tree.hiers[i]), p, cli.dry_run)?;
            }
            for &p in &pids {
                ops::attach(tree, g, p, cli.dry_run)?;
            }
            let mut all = w1;
            all.extend(w3);
            all.append(&mut notes);
            Ok(all)
        })();
        match done {
            Ok(w) => {
                warnings.extend(w);
                exec_created = created;
            }
            Err(e) => {
                created.undo();
                for w in &warnings {
                    warn(w);
                }
                return Err(e);
            }
        }
    }
    warnings.dedup();
    for w in &warnings {
        warn(w);
    }
    if cli.program.is_empty() {
        return Ok(0);
    }
    let me = nix::unistd::getpid().as_raw();
    ops::attach_self(tree, &groups[0], cli.dry_run)?;
    if cli.dry_run {
        println!("exec {:?}", cli.program);
        return Ok(0);
    }
    let err = ctcore::exec::exec(&cli.program);
    // Not executed: go back where we came from and remove what we made.
    for i in tree.hiers_of(&groups[0]) {
        let h = &tree.hiers[i];
        let back = Group {
            name: String::new(),
            relative: true,
            comps: Vec::new(),
        }
        .dir(h);
        let _ = ops::write_file(&back.join("cgroup.procs"), &me.to_string());
    }
    exec_created.undo();
    Err(err)
}
