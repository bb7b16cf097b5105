//! `probe`: run inside a container, prints one JSON object about where it
//! is: pid, hostname, namespace inodes of all eight kinds, uid/gid maps,
//! root directory listing, mounts, network interfaces, cgroup membership
//! and limits, capabilities, environment.  End-to-end tests assert on it from outside.
//!
//! Build it static (`RUSTFLAGS='-C target-feature=+crt-static' cargo build
//! -p probe --target x86_64-unknown-linux-gnu`) so it runs in an empty root.
//!
//! `probe` prints compact JSON; `probe --pretty` indents it; `probe
//! --exit N` exits with N after printing.  `probe attack CLASS ARGS...` tries
//! an escape from inside and prints `ESCAPED ...` or `REFUSED ERRNO ...` (see
//! `attack.rs`; the escape suite runs it).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

mod attack;

const NS_KINDS: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

fn read(p: impl AsRef<Path>) -> Option<String> {
    fs::read_to_string(p).ok()
}

fn trimmed(p: impl AsRef<Path>) -> Value {
    read(p).map_or(Value::Null, |s| Value::String(s.trim().to_string()))
}

fn namespaces() -> Value {
    let mut m = Map::new();
    for k in NS_KINDS {
        let v =
            fs::metadata(format!("/proc/self/ns/{k}")).map_or(Value::Null, |md| json!(md.ino()));
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

fn id_map(p: &str) -> Value {
    let Some(text) = read(p) else {
        return Value::Null;
    };
    let rows: Vec<Value> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() == 3).then(|| json!(f))
        })
        .collect();
    Value::Array(rows)
}

fn listing(dir: &Path) -> Value {
    let Ok(rd) = fs::read_dir(dir) else {
        return Value::Null;
    };
    let mut names: Vec<String> = rd
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    json!(names)
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(oct) = s.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(oct, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Mount {
    root: String,
    target: String,
    fstype: String,
    source: String,
    options: String,
    super_options: String,
    optional: Vec<String>,
}

fn mounts() -> Vec<Mount> {
    let Some(text) = read("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 6 || post.len() < 3 {
                return None;
            }
            Some(Mount {
                root: unescape(pre[3]),
                target: unescape(pre[4]),
                options: pre[5].to_string(),
                optional: pre[6..].iter().map(|s| (*s).to_string()).collect(),
                fstype: post[0].to_string(),
                source: unescape(post[1]),
                super_options: post[2].to_string(),
            })
        })
        .collect()
}

fn mounts_json(ms: &[Mount]) -> Value {
    Value::Array(
        ms.iter()
            .map(|m| {
                json!({
                    "target": m.target, "fstype": m.fstype, "source": m.source,
                    "root": m.root, "options": m.options, "super_options": m.super_options,
                    "propagation": m.optional,
                })
            })
            .collect(),
    )
}

const LIMIT_FILES: [&str; 14] = [
    "memory.max",
    "memory.swap.max",
    "memory.limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "cpu.max",
    "cpu.weight",
    "cpu.shares",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
    "pids.max",
    "io.max",
    "cpuset.cpus",
    "cpuset.cpus.effective",
    "blkio.throttle.read_bps_device",
];

/// The directory of the group `path` in a cgroup mount.
fn group_dir(m: &Mount, path: &str) -> PathBuf {
    let rel = path.strip_prefix(m.root.as_str()).unwrap_or(path);
    Path::new(&m.target).join(rel.trim_start_matches('/'))
}

fn cgroups(ms: &[Mount]) -> Value {
    let Some(text) = read("/proc/self/cgroup") else {
        return Value::Null;
    };
    let mut groups = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let mount = ms.iter().find(|m| {
            if ctrl.is_empty() {
                m.fstype == "cgroup2"
            } else {
                m.fstype == "cgroup"
                    && ctrl
                        .split(',')
                        .all(|c| m.super_options.split(',').any(|o| o == c))
            }
        });
        let mut limits = Map::new();
        let mut dir = Value::Null;
        if let Some(m) = mount {
            let d = group_dir(m, path);
            for f in LIMIT_FILES {
                if let Some(v) = read(d.join(f)) {
                    limits.insert(f.to_string(), Value::String(v.trim().to_string()));
                }
            }
            dir = json!(d.to_string_lossy());
        }
        groups.push(json!({
            "hierarchy": id.parse::<u64>().unwrap_or(0),
            "controllers": ctrl,
            "path": path,
            "dir": dir,
            "limits": limits,
        }));
    }
    Value::Array(groups)
}

fn status_fields() -> Value {
    let mut m = Map::new();
    if let Some(text) = read("/proc/self/status") {
        for l in text.lines() {
            if let Some((k, v)) = l.split_once(':') {
                let k = k.trim();
                if matches!(
                    k,
                    "CapInh"
                        | "CapPrm"
                        | "CapEff"
                        | "CapBnd"
                        | "CapAmb"
                        | "NoNewPrivs"
                        | "Seccomp"
                        | "NSpid"
                ) {
                    m.insert(k.to_string(), Value::String(v.trim().to_string()));
                }
            }
        }
    }
    Value::Object(m)
}

fn interfaces() -> Value {
    let Some(text) = read("/proc/net/dev") else {
        return Value::Null;
    };
    let mut names: Vec<String> = text
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|s| s.trim().to_string()))
        .collect();
    names.sort();
    json!(names)
}

fn pids() -> Value {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Value::Null;
    };
    let mut v: Vec<u64> = rd
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    json!(v)
}

fn hostname() -> Value {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return Value::Null;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    json!(String::from_utf8_lossy(&buf[..end]))
}

fn groups() -> Value {
    let mut buf = [0 as libc::gid_t; 256];
    // SAFETY: buf is writable for 256 entries.
    let n = unsafe { libc::getgroups(256, buf.as_mut_ptr()) };
    if n < 0 {
        return Value::Null;
    }
    json!(buf[..usize::try_from(n).unwrap_or(0)].to_vec())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "attack") {
        std::process::exit(attack::main(&args[1..]));
    }
    let pretty = args.iter().any(|a| a == "--pretty");
    let exit_code = args
        .iter()
        .position(|a| a == "--exit")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse::<i32>().ok())
        .unwrap_or(0);
    let ms = mounts();
    // SAFETY: these getters have no preconditions.
    let (uid, gid, euid, egid, pid, ppid) = unsafe {
        (
            libc::getuid(),
            libc::getgid(),
            libc::geteuid(),
            libc::getegid(),
            libc::getpid(),
            libc::getppid(),
        )
    };
    let report = json!({
        "pid": pid,
        "ppid": ppid,
        "uid": uid, "gid": gid, "euid": euid, "egid": egid,
        "groups": groups(),
        "hostname": hostname(),
        "ns": namespaces(),
        "uid_map": id_map("/proc/self/uid_map"),
        "gid_map": id_map("/proc/self/gid_map"),
        "setgroups": trimmed("/proc/self/setgroups"),
        "cwd": std::env::current_dir().map_or(Value::Null, |d| json!(d.to_string_lossy())),
        "root": listing(Path::new("/")),
        "mounts": mounts_json(&ms),
        "cgroup": cgroups(&ms),
        "status": status_fields(),
        "interfaces": interfaces(),
        "pids": pids(),
        "args": args,
        "env": std::env::vars_os()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), json!(v.to_string_lossy())))
            .collect::<serde_json::Map<String, Value>>(),
    });
    let text = if pretty {
        serde_json::to_string_pretty(&report)
    } else {
        serde_json::to_string(&report)
    }
    .unwrap_or_default();
    println!("{text}");
    std::process::exit(exit_code);
}

#[cfg(test)]
mod tests {
    #[test]
    fn unescape_octal() {
        assert_eq!(super::unescape(r"/a\040b"), "/a b");
        assert_eq!(super::unescape("/plain"), "/plain");
        assert_eq!(super::unescape(r"/end\"), r"/end\");
    }
}
