//! What the loader knows besides the ELF files: /etc/ld.so.cache,
//! ld.so.conf (with includes) and the built-in system directories.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The loader's view of the host: cache, conf dirs, system dirs, DST values.
#[derive(Debug, Default, Clone)]
pub struct LoaderEnv {
    /// soname -> paths listed in /etc/ld.so.cache (baseline entries, cache order).
    pub cache: Option<HashMap<String, Vec<String>>>,
    /// Directories of ld.so.conf, used only when there is no cache.
    pub conf_dirs: Vec<String>,
    /// Built-in system directories (`path.system_dirs`).
    pub system_dirs: Vec<String>,
    /// `$LIB`.
    pub dst_lib: String,
    /// `$PLATFORM`.
    pub platform: String,
    /// The loader these values are for.
    pub interp: Option<String>,
    /// Whether the system loader has confirmed the built-in values (see
    /// [`refine`]); until then they are derived from the machine.
    pub refined: bool,
}

/// Parse the new-format ld.so.cache (`glibc-ld.so.cache1.1`), also when it
/// follows an old-format (`ld.so-1.7.0`) table. Entries with a hwcaps mark are
/// skipped: the baseline library is the one to copy.
#[must_use]
pub fn parse_cache(data: &[u8]) -> Option<HashMap<String, Vec<String>>> {
    const NEW: &[u8] = b"glibc-ld.so.cache1.1";
    const OLD: &[u8] = b"ld.so-1.7.0";
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let base = if data.starts_with(NEW) {
        0
    } else if data.starts_with(OLD) {
        let n = u32_at(data, 12)? as usize;
        let end = 16 + n * 12;
        (end + 7) & !7
    } else {
        return None;
    };
    let new = data.get(base..)?;
    if !new.starts_with(NEW) {
        return None;
    }
    let nlibs = u32_at(new, 20)? as usize;
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    let cstr = |off: u32| -> Option<String> {
        let s = new.get(off as usize..)?;
        let end = s.iter().position(|&c| c == 0)?;
        Some(String::from_utf8_lossy(&s[..end]).into_owned())
    };
    for i in 0..nlibs {
        let e = 48 + i * 24;
        let ent = new.get(e..e + 24)?;
        let key = u32_at(ent, 4)?;
        let value = u32_at(ent, 8)?;
        let hwcap = u64::from_le_bytes(ent[16..24].try_into().ok()?);
        if hwcap != 0 {
            continue;
        }
        if let (Some(k), Some(v)) = (cstr(key), cstr(value)) {
            map.entry(k).or_default().push(v);
        }
    }
    Some(map)
}

/// Parse ld.so.conf the way ldconfig does: `#` ends a line, blanks trimmed,
/// `include` followed by one or more globs (relative to the file's dir,
/// results sorted), `hwcap` lines ignored. Include cycles are cut.
#[must_use]
pub fn parse_conf(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    conf_into(path, &mut out, &mut seen, 0);
    let mut uniq = Vec::new();
    for d in out {
        if !uniq.contains(&d) {
            uniq.push(d);
        }
    }
    uniq
}

fn conf_into(path: &Path, out: &mut Vec<String>, seen: &mut Vec<PathBuf>, depth: u32) {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if depth > 16 || seen.contains(&real) {
        return;
    }
    seen.push(real);
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("include") => {
                for pat in words {
                    let full = if pat.starts_with('/') {
                        PathBuf::from(pat)
                    } else {
                        dir.join(pat)
                    };
                    for f in glob(&full) {
                        conf_into(&f, out, seen, depth + 1);
                    }
                }
            }
            Some("hwcap") => {}
            _ => {
                for d in line.split([':', ',', ' ', '\t']).filter(|s| !s.is_empty()) {
                    out.push(d.trim_end_matches('/').to_string());
                }
            }
        }
    }
}

/// A small glob: `*`, `?` and `[...]` in the last component only (what
/// ld.so.conf includes use), sorted results.
#[must_use]
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = pattern.parent().unwrap_or(Path::new("/"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            (!n.starts_with('.') || name.starts_with('.')) && wild(name.as_bytes(), n.as_bytes())
        })
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

fn wild(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| wild(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && wild(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(end) = p.iter().skip(1).position(|&c| c == b']').map(|i| i + 1) else {
                return !s.is_empty() && s[0] == b'[' && wild(&p[1..], &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let set = &p[1..end];
            let (neg, set) = match set.first() {
                Some(b'!' | b'^') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != neg && wild(&p[end + 1..], &s[1..])
        }
        Some(&c) => s.first() == Some(&c) && wild(&p[1..], &s[1..]),
    }
}

/// Values for a machine when the host loader cannot tell us.
fn fallback(machine: u16, class: u8) -> (Vec<String>, String, String) {
    let (triple, plat) = match machine {
        62 => ("x86_64-linux-gnu", "x86_64"),
        3 => ("i386-linux-gnu", "i686"),
        183 => ("aarch64-linux-gnu", "aarch64"),
        40 => ("arm-linux-gnueabihf", "v7l"),
        243 => ("riscv64-linux-gnu", "riscv64"),
        21 => ("powerpc64le-linux-gnu", "power8"),
        22 => ("s390x-linux-gnu", "z196"),
        _ => ("", ""),
    };
    if Path::new("/usr/lib").join(triple).is_dir() && !triple.is_empty() {
        let dirs = vec![
            format!("/lib/{triple}"),
            format!("/usr/lib/{triple}"),
            "/lib".into(),
            "/usr/lib".into(),
        ];
        (dirs, format!("lib/{triple}"), plat.into())
    } else if class == 2
        && Path::new("/usr/lib64").is_dir()
        && !Path::new("/usr/lib64").is_symlink()
    {
        (
            vec!["/lib64".into(), "/usr/lib64".into()],
            "lib64".into(),
            plat.into(),
        )
    } else {
        (
            vec!["/lib".into(), "/usr/lib".into()],
            "lib".into(),
            plat.into(),
        )
    }
}

/// The loader environment for objects run by `interp` (a host path), with
/// system directories and DST values derived from the machine; [`refine`]
/// asks the loader itself. Reading the cache and the conf is cheap, running
/// the loader is not, so that is done only when a search needs it.
#[must_use]
pub fn loader_env_fast(interp: Option<&str>, machine: u16, class: u8) -> LoaderEnv {
    let (system_dirs, dst_lib, platform) = fallback(machine, class);
    let base = interp
        .and_then(|p| Path::new(p).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(arch) = base
        .strip_prefix("ld-musl-")
        .and_then(|b| b.strip_suffix(".so.1"))
    {
        // musl: /etc/ld-musl-ARCH.path or its default; no cache, no $LIB.
        let dirs = std::fs::read_to_string(format!("/etc/ld-musl-{arch}.path")).map_or_else(
            |_| {
                vec![
                    "/lib".to_string(),
                    "/usr/local/lib".into(),
                    "/usr/lib".into(),
                ]
            },
            |t| {
                t.split([':', '\n'])
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(String::from)
                    .collect()
            },
        );
        return LoaderEnv {
            cache: None,
            conf_dirs: Vec::new(),
            system_dirs: dirs,
            dst_lib,
            platform,
            interp: interp.map(String::from),
            refined: true,
        };
    }
    let cache = std::fs::read("/etc/ld.so.cache")
        .ok()
        .and_then(|d| parse_cache(&d));
    let conf_dirs = if cache.is_none() {
        parse_conf(Path::new("/etc/ld.so.conf"))
    } else {
        Vec::new()
    };
    LoaderEnv {
        cache,
        conf_dirs,
        system_dirs,
        dst_lib,
        platform,
        interp: interp.map(String::from),
        refined: false,
    }
}

/// Ask the system loader for its built-in values with `--list-diagnostics`
/// (it runs only the loader, never a target program; glibc 2.33 or later).
/// Without an answer, the derived values stay.
#[must_use]
pub fn refine(env: &LoaderEnv) -> LoaderEnv {
    let mut env = env.clone();
    env.refined = true;
    let interp = env.interp.clone().unwrap_or_default();
    let base = Path::new(&interp)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Only glibc's loader is asked (others would take the option for a program).
    let glibc =
        base.starts_with("ld-linux") || base.starts_with("ld64.so") || base.starts_with("ld.so");
    if !glibc || !Path::new(&interp).is_file() {
        return env;
    }
    let Ok(out) = std::process::Command::new(&interp)
        .arg("--list-diagnostics")
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
    else {
        return env;
    };
    if !out.status.success() {
        return env;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut dirs = Vec::new();
    for l in text.lines() {
        let val = || {
            l.split_once('=')
                .map(|(_, v)| v.trim_matches('"').to_string())
        };
        if l.starts_with("path.system_dirs[") {
            if let Some(v) = val() {
                dirs.push(v.trim_end_matches('/').to_string());
            }
        } else if l.starts_with("dl_dst_lib=") {
            if let Some(v) = val() {
                env.dst_lib = v;
            }
        } else if l.starts_with("dl_platform=")
            && let Some(v) = val()
        {
            env.platform = v;
        }
    }
    if !dirs.is_empty() {
        env.system_dirs = dirs;
    }
    env
}

/// The loader environment, refined by the loader itself.
#[must_use]
pub fn loader_env(interp: Option<&str>, machine: u16, class: u8) -> LoaderEnv {
    refine(&loader_env_fast(interp, machine, class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wild(b"*.conf", b"libc.conf"));
        assert!(!wild(b"*.conf", b"libc.conf~"));
        assert!(wild(b"a?[0-9]", b"ab7"));
        assert!(!wild(b"a[!b]", b"ab"));
    }

    #[test]
    fn conf_includes_comments_cycles() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir(p.join("conf.d")).unwrap();
        std::fs::write(
            p.join("ld.so.conf"),
            "# comment\n  /first/dir  # trailing\ninclude\tconf.d/*.conf  other.conf\nhwcap 1 x\n\n/last:/after\n",
        )
        .unwrap();
        std::fs::write(p.join("conf.d/b.conf"), "/b\n").unwrap();
        std::fs::write(p.join("conf.d/a.conf"), "/a/\ninclude ../ld.so.conf\n").unwrap();
        std::fs::write(p.join("conf.d/skip.txt"), "/skip\n").unwrap();
        std::fs::write(p.join("other.conf"), "/other\n").unwrap();
        let dirs = parse_conf(&p.join("ld.so.conf"));
        assert_eq!(
            dirs,
            ["/first/dir", "/a", "/b", "/other", "/last", "/after"]
        );
    }

    #[test]
    fn host_cache_parses() {
        let Ok(data) = std::fs::read("/etc/ld.so.cache") else {
            return;
        };
        let map = parse_cache(&data).expect("new-format cache");
        let libc = map.get("libc.so.6").expect("libc in cache");
        assert!(libc[0].ends_with("/libc.so.6"));
    }
}
