//! stress-rs: a drop-in for stress 1.0.7 (Amos Waterland's load generator)
//! with the same grammar, messages, streams, dispatch, hogs and exit codes,
//! plus prompt and robust stopping, OOM-kill reports, `--hdd-noclean` and
//! `--metrics`/`--json`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

pub mod cli;
pub mod hogs;
pub mod log;
pub mod metrics;
pub mod oom;
pub mod parse;
pub mod run;

/// Run stress-rs on the raw command line (program name first) and return
/// the exit status.
///
/// # Errors
/// When the JSON report cannot be written.
pub fn run_raw(args: Vec<OsString>) -> anyhow::Result<i32> {
    // SAFETY: time(NULL).
    let start = unsafe { libc::time(std::ptr::null_mut()) };
    let argv0 = args.first().map_or(&b"stress-rs"[..], |a| a.as_bytes());
    let mut log = log::Log::new(&parse::progname(argv0));
    let rest = args.get(1..).unwrap_or(&[]);
    let cfg = match parse::parse(rest, &mut log) {
        parse::Parsed::Exit(code) => return Ok(code),
        parse::Parsed::Run(cfg) => cfg,
    };
    log.info_to_stderr = cfg.json;
    let out = run::stress(&cfg, &log, start);
    let report = cfg.metrics.then(|| metrics::report(&out));
    if let Some(r) = &report
        && !cfg.json
    {
        metrics::print_table(&log, r);
    }
    run::finish(&log, &out);
    if let Some(r) = &report
        && cfg.json
    {
        let mut text = serde_json::to_string_pretty(r)?;
        text.push('\n');
        log::write_fd(1, text.as_bytes());
    }
    Ok(out.status)
}
