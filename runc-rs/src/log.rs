//! --log and --log-format: runc's log lines. An error is one line (podman
//! decodes the whole file as one JSON object; containerd takes the last
//! `error` object), and it is also printed on stderr.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::cli::LogFormat;

static LOG: Mutex<Option<(PathBuf, LogFormat, bool)>> = Mutex::new(None);

/// Set where the log goes.
pub fn setup(file: Option<PathBuf>, format: LogFormat, debug: bool) {
    if let Ok(mut l) = LOG.lock() {
        *l = file.map(|f| (f, format, debug));
    }
}

fn line(level: &str, msg: &str) {
    let Ok(l) = LOG.lock() else { return };
    let Some((file, format, debug)) = l.as_ref() else {
        return;
    };
    if level == "debug" && !debug {
        return;
    }
    let time = crate::state::now_rfc3339();
    let text = match format {
        LogFormat::Json => {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        }
        LogFormat::Text => format!("time=\"{time}\" level={level} msg={msg:?}"),
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = writeln!(f, "{text}");
    }
}

/// An error: in the log and on stderr.
pub fn error(msg: &str) {
    line("error", msg);
    eprintln!("runc-rs: {msg}");
}

/// A warning: in the log only (podman reads the log as one object).
pub fn warn(msg: &str) {
    let has_log = LOG.lock().map(|l| l.is_some()).unwrap_or(false);
    if has_log {
        line("warning", msg);
    } else {
        eprintln!("runc-rs: warning: {msg}");
    }
}

/// A debug line (with --debug).
pub fn debug(msg: &str) {
    line("debug", msg);
}
