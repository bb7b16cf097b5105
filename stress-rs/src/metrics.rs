//! `--metrics` and `--json`: per hog, the work the workers did (read back
//! from their shared counters) per wall-second and per CPU-second (from
//! wait4's rusage of each worker).

use serde::Serialize;

use crate::log::Log;
use crate::run::{KINDS, Outcome, UNITS};

/// The figures of one kind of hog.
#[derive(Debug, Serialize, PartialEq)]
pub struct HogMetrics {
    /// `cpu`, `io`, `vm` or `hdd`.
    pub hog: &'static str,
    /// How many workers ran.
    pub workers: usize,
    /// Work done, all workers together.
    pub work: u64,
    /// What `work` counts.
    pub unit: &'static str,
    /// Mean wall time of a worker, fork to reaping.
    pub wall_seconds: f64,
    /// User CPU time, all workers.
    pub user_seconds: f64,
    /// System CPU time, all workers.
    pub system_seconds: f64,
    /// User plus system.
    pub cpu_seconds: f64,
    /// `work / wall_seconds`.
    pub per_wall_second: f64,
    /// `work / cpu_seconds`.
    pub per_cpu_second: f64,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// One entry per kind that ran.
    pub hogs: Vec<HogMetrics>,
    /// Workers that failed.
    pub failed_workers: u64,
    /// Seconds, as the closing line says.
    pub runtime_seconds: i64,
    /// The status we exit with.
    pub exit_status: i32,
}

fn rate(work: u64, secs: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    if secs > 0.0 { work as f64 / secs } else { 0.0 }
}

/// Sum the workers up per kind.
#[must_use]
pub fn report(out: &Outcome) -> Report {
    let mut hogs = Vec::new();
    for (k, hog) in KINDS.iter().enumerate() {
        let ws: Vec<_> = out.workers.iter().filter(|w| w.kind == k).collect();
        if ws.is_empty() {
            continue;
        }
        let work = ws.iter().fold(0u64, |a, w| a.wrapping_add(w.work));
        #[allow(clippy::cast_precision_loss)]
        let wall = ws.iter().map(|w| w.wall.as_secs_f64()).sum::<f64>() / ws.len() as f64;
        let user: f64 = ws.iter().map(|w| w.user).sum();
        let sys: f64 = ws.iter().map(|w| w.sys).sum();
        hogs.push(HogMetrics {
            hog,
            workers: ws.len(),
            work,
            unit: UNITS[k],
            wall_seconds: wall,
            user_seconds: user,
            system_seconds: sys,
            cpu_seconds: user + sys,
            per_wall_second: rate(work, wall),
            per_cpu_second: rate(work, user + sys),
        });
    }
    Report {
        hogs,
        failed_workers: out.failed,
        runtime_seconds: out.runtime,
        exit_status: out.status,
    }
}

/// Print the `metrc` table lines.
pub fn print_table(log: &Log, r: &Report) {
    log.metrc(
        format!(
            "{:<4} {:>7} {:>16} {:<10} {:>8} {:>8} {:>8} {:>16} {:>16}",
            "hog",
            "workers",
            "work",
            "unit",
            "wall-s",
            "usr-s",
            "sys-s",
            "work/wall-s",
            "work/cpu-s"
        )
        .as_bytes(),
    );
    for h in &r.hogs {
        log.metrc(
            format!(
                "{:<4} {:>7} {:>16} {:<10} {:>8.2} {:>8.2} {:>8.2} {:>16.2} {:>16.2}",
                h.hog,
                h.workers,
                h.work,
                h.unit,
                h.wall_seconds,
                h.user_seconds,
                h.system_seconds,
                h.per_wall_second,
                h.per_cpu_second
            )
            .as_bytes(),
        );
    }
}
