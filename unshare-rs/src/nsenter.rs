//! The command line of util-linux nsenter, for unshare-rs called as
//! `nsenter`.
//!
//! nsenter parses with getopt_long in `+` mode (options end at the first
//! word that is not one), and its optional arguments are taken only when
//! attached: `-u/proc/1/ns/uts`, `--uts=FILE`, `-wDIR`, `--wd=DIR`, while
//! in `-w pwd` the `pwd` is PROGRAM.  Long options may be abbreviated to
//! any unique prefix.  [`translate`] rewrites such a command line into the
//! equivalent one of unshare-rs (every option in its `--name=value` form,
//! then `--` and PROGRAM), which clap then parses as usual.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// How an option takes its argument (getopt's three kinds).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    No,
    Required,
    Optional,
}

/// nsenter's options: long name, short letter, argument kind, and the
/// unshare-rs long option it becomes (`None`: accepted and ignored).
const OPTIONS: &[(&str, Option<u8>, Arg, Option<&str>)] = &[
    ("all", Some(b'a'), Arg::No, Some("all")),
    ("help", Some(b'h'), Arg::No, Some("help")),
    ("version", Some(b'V'), Arg::No, Some("version")),
    ("target", Some(b't'), Arg::Required, Some("target")),
    ("mount", Some(b'm'), Arg::Optional, Some("mount")),
    ("uts", Some(b'u'), Arg::Optional, Some("uts")),
    ("ipc", Some(b'i'), Arg::Optional, Some("ipc")),
    ("net", Some(b'n'), Arg::Optional, Some("net")),
    ("net-socket", Some(b'N'), Arg::Required, Some("net-socket")),
    ("pid", Some(b'p'), Arg::Optional, Some("pid")),
    ("user", Some(b'U'), Arg::Optional, Some("user")),
    ("cgroup", Some(b'C'), Arg::Optional, Some("cgroup")),
    ("time", Some(b'T'), Arg::Optional, Some("time")),
    ("setuid", Some(b'S'), Arg::Required, Some("setuid")),
    ("setgid", Some(b'G'), Arg::Required, Some("setgid")),
    ("root", Some(b'r'), Arg::Optional, Some("root")),
    ("wd", Some(b'w'), Arg::Optional, Some("wd")),
    ("wdns", Some(b'W'), Arg::Optional, Some("wdns")),
    ("env", Some(b'e'), Arg::No, Some("env")),
    ("no-fork", Some(b'F'), Arg::No, Some("no-fork")),
    ("join-cgroup", Some(b'c'), Arg::No, Some("join-cgroup")),
    (
        "preserve-credentials",
        None,
        Arg::No,
        Some("preserve-credentials"),
    ),
    ("keep-caps", None, Arg::No, Some("keep-caps")),
    ("user-parent", None, Arg::No, Some("user-parent")),
    // SELinux: no context to follow without it.
    ("follow-context", Some(b'Z'), Arg::No, None),
];

type Opt = (&'static str, Option<u8>, Arg, Option<&'static str>);

fn by_short(c: u8) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.1 == Some(c))
}

/// getopt_long's lookup: an exact name, else the only option the prefix
/// starts.
fn by_long(name: &str) -> Result<&'static Opt, String> {
    if let Some(o) = OPTIONS.iter().find(|o| o.0 == name) {
        return Ok(o);
    }
    let hits: Vec<&Opt> = OPTIONS.iter().filter(|o| o.0.starts_with(name)).collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unrecognized option '--{name}'")),
        many => Err(format!(
            "option '--{name}' is ambiguous; possibilities:{}",
            many.iter()
                .map(|o| format!(" '--{}'", o.0))
                .collect::<String>()
        )),
    }
}

/// The unshare-rs form of one option with its value.
fn emit(out: &mut Vec<OsString>, opt: &Opt, value: Option<&[u8]>) {
    let Some(name) = opt.3 else { return };
    match (opt.2, value) {
        (Arg::No, _) => out.push(format!("--{name}").into()),
        (_, Some(v)) => {
            // nsenter drops one '=' of an attached short value (-m=FILE).
            let v = if opt.1.is_some() && opt.2 == Arg::Optional {
                v.strip_prefix(b"=").unwrap_or(v)
            } else {
                v
            };
            let mut s = OsString::from(format!("--{name}="));
            s.push(OsStr::from_bytes(v));
            out.push(s);
        }
        // Optional and absent: the namespace options and -w take their
        // target's; -r is unshare-rs's -r (the target's root); --wdns
        // without DIR does nothing.
        (_, None) => match name {
            "root" => out.push("-r".into()),
            "wd" => out.push("--wd=".into()),
            "wdns" => {}
            _ => out.push(format!("--{name}").into()),
        },
    }
}

/// Rewrite nsenter's command line `args` (program name first) into
/// unshare-rs's.
///
/// # Errors
/// getopt's messages: an unknown or ambiguous option, a missing or
/// unexpected argument.
pub fn translate(args: &[OsString]) -> Result<Vec<OsString>, String> {
    let mut out: Vec<OsString> = vec![args.first().cloned().unwrap_or_else(|| "nsenter".into())];
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            i += 1;
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        i += 1;
        if let Some(long) = a.strip_prefix(b"--") {
            let (name, value) = match long.iter().position(|&b| b == b'=') {
                Some(p) => (&long[..p], Some(&long[p + 1..])),
                None => (long, None),
            };
            let opt = by_long(&String::from_utf8_lossy(name))?;
            match (opt.2, value) {
                (Arg::No, Some(_)) => {
                    return Err(format!("option '--{}' doesn't allow an argument", opt.0));
                }
                (Arg::Required, None) => {
                    let Some(v) = args.get(i) else {
                        return Err(format!("option '--{}' requires an argument", opt.0));
                    };
                    i += 1;
                    emit(&mut out, opt, Some(v.as_bytes()));
                }
                _ => emit(&mut out, opt, value),
            }
            continue;
        }
        let mut j = 1;
        while j < a.len() {
            let c = a[j];
            let Some(opt) = by_short(c) else {
                return Err(format!("invalid option -- '{}'", char::from(c)));
            };
            j += 1;
            let rest = &a[j..];
            match opt.2 {
                Arg::No => emit(&mut out, opt, None),
                Arg::Optional => {
                    emit(&mut out, opt, (!rest.is_empty()).then_some(rest));
                    break;
                }
                Arg::Required => {
                    if !rest.is_empty() {
                        emit(&mut out, opt, Some(rest));
                    } else if let Some(v) = args.get(i) {
                        i += 1;
                        emit(&mut out, opt, Some(v.as_bytes()));
                    } else {
                        return Err(format!(
                            "option requires an argument -- '{}'",
                            char::from(c)
                        ));
                    }
                    break;
                }
            }
        }
    }
    out.push("--".into());
    out.extend(args[i.min(args.len())..].iter().cloned());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(args: &[&str]) -> Vec<String> {
        let v: Vec<OsString> = std::iter::once("nsenter")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        translate(&v)
            .unwrap()
            .into_iter()
            .skip(1)
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    fn err(args: &[&str]) -> String {
        let v: Vec<OsString> = std::iter::once("nsenter")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        translate(&v).unwrap_err()
    }

    #[test]
    fn attached_optional_arguments() {
        assert_eq!(
            t(&["-u/proc/1/ns/uts", "hostname"]),
            ["--uts=/proc/1/ns/uts", "--", "hostname"]
        );
        assert_eq!(t(&["-m=/x", "true"]), ["--mount=/x", "--", "true"]);
        assert_eq!(t(&["--net=/run/netns/a"]), ["--net=/run/netns/a", "--"]);
        assert_eq!(t(&["-wDIR", "x"]), ["--wd=DIR", "--", "x"]);
        assert_eq!(t(&["--wd=/tmp", "x"]), ["--wd=/tmp", "--", "x"]);
        assert_eq!(t(&["-r/srv", "x"]), ["--root=/srv", "--", "x"]);
    }

    #[test]
    fn detached_words_are_the_program() {
        assert_eq!(
            t(&["-t", "1", "-w", "pwd"]),
            ["--target=1", "--wd=", "--", "pwd"]
        );
        assert_eq!(
            t(&["-t1", "-r", "-m", "ls", "-m"]),
            ["--target=1", "-r", "--mount", "--", "ls", "-m"]
        );
        assert_eq!(
            t(&["-u", "/bin/hostname"]),
            ["--uts", "--", "/bin/hostname"]
        );
    }

    #[test]
    fn clusters_required_arguments_and_abbreviations() {
        assert_eq!(
            t(&["-at", "42", "--preserve", "--net-s", "3", "id"]),
            [
                "--all",
                "--target=42",
                "--preserve-credentials",
                "--net-socket=3",
                "--",
                "id"
            ]
        );
        // An optional argument takes the rest of the word, as getopt does.
        assert_eq!(t(&["-muit42"]), ["--mount=uit42", "--"]);
        assert_eq!(t(&["-aFt42"]), ["--all", "--no-fork", "--target=42", "--"]);
        assert_eq!(
            t(&["-N3", "-S", "0", "-G0"]),
            ["--net-socket=3", "--setuid=0", "--setgid=0", "--"]
        );
        assert_eq!(t(&["--", "-x"]), ["--", "-x"]);
        assert_eq!(t(&["-Z", "-W/tmp", "x"]), ["--wdns=/tmp", "--", "x"]);
    }

    #[test]
    fn getopt_errors() {
        assert_eq!(err(&["--bogus"]), "unrecognized option '--bogus'");
        assert_eq!(err(&["-x"]), "invalid option -- 'x'");
        assert_eq!(err(&["-t"]), "option requires an argument -- 't'");
        assert_eq!(err(&["--target"]), "option '--target' requires an argument");
        assert_eq!(
            err(&["--all=1"]),
            "option '--all' doesn't allow an argument"
        );
        assert!(err(&["--us"]).starts_with("option '--us' is ambiguous"));
    }
}
