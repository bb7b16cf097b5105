//! The command line, parsed the way glibc's `getopt_long` with the `"+"`
//! option string parses coreutils chroot's: long options only, unique
//! prefixes accepted (`--user` for `--userspec`), option parsing stops at
//! the first operand, `--` ends the options, and the diagnostics are
//! getopt's own words.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// What a run was asked to do.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Opts {
    /// `--userspec=USER[:GROUP]`, with one trailing `:` removed as
    /// coreutils does.
    pub userspec: Option<String>,
    /// `--groups=G_LIST` (the last one wins).
    pub groups: Option<String>,
    /// `--run-as=USER[:GROUP]` (the last one wins).
    pub run_as: Option<String>,
    /// `--skip-chdir`.
    pub skip_chdir: bool,
    /// `--chdir=DIR` (the last one wins).
    pub chdir: Option<String>,
    /// `--pivot`.
    pub pivot: bool,
    /// `--auto`.
    pub auto: bool,
    /// `--proc`.
    pub proc: bool,
    /// `--sys`.
    pub sys: bool,
    /// `--cgroupfs`.
    pub cgroupfs: bool,
    /// `--dev`.
    pub dev: bool,
    /// `--tmp`.
    pub tmp: bool,
    /// `--bind=SRC[:DEST]` (false) and `--ro-bind=SRC[:DEST]` (true), in
    /// the order given.
    pub binds: Vec<(String, bool)>,
    /// `--readonly`.
    pub readonly: bool,
    /// `--harden`.
    pub harden: bool,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--tty`.
    pub tty: bool,
    /// `--console-socket=PATH` (the last one wins).
    pub console_socket: Option<String>,
    /// `--cap-add` values, in order.
    pub cap_add: Vec<String>,
    /// `--cap-drop` values, in order.
    pub cap_drop: Vec<String>,
    /// `--verbose`.
    pub verbose: bool,
    /// `--seccomp=default|unconfined|FILE` (the last one wins).
    pub seccomp: Option<String>,
    /// `--device=HOST[:CTR[:ACC]]`, in order.
    pub devices: Vec<String>,
    /// `--host-dev`.
    pub host_dev: bool,
    /// `--init`.
    pub init: bool,
    /// `--preserve-fds=N` (the last one wins; a bad number is kept as
    /// given, for the message).
    pub preserve_fds: Option<String>,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// NEWROOT.
    pub newroot: OsString,
    /// COMMAND and its arguments (empty: `$SHELL -i`).
    pub command: Vec<OsString>,
}

impl Opts {
    /// Whether any option that mounts inside the new root was given.
    #[must_use]
    pub fn mounts_anything(&self) -> bool {
        self.proc
            || self.sys
            || self.cgroupfs
            || self.dev
            || self.tmp
            || self.readonly
            || self.harden
            || self.host_dev
            || !self.devices.is_empty()
            || !self.binds.is_empty()
    }
}

/// The outcome of parsing.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run with these options.
    Run(Box<Opts>),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
    /// A usage error: the message, to be followed by the try-help line.
    /// `None` when only the try-help line is due.
    Usage(Option<String>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Key {
    Userspec,
    Groups,
    SkipChdir,
    Chdir,
    Pivot,
    Auto,
    Proc,
    Sys,
    Cgroupfs,
    Dev,
    Tmp,
    Bind,
    RoBind,
    Readonly,
    Harden,
    NoNewPrivs,
    Tty,
    ConsoleSocket,
    CapAdd,
    CapDrop,
    Verbose,
    Seccomp,
    Device,
    HostDev,
    Init,
    PreserveFds,
    NoNewKeyring,
    RunAs,
    Help,
    Version,
}

/// The long options: name, takes an argument, key.
const LONG: &[(&str, bool, Key)] = &[
    ("userspec", true, Key::Userspec),
    ("groups", true, Key::Groups),
    ("skip-chdir", false, Key::SkipChdir),
    ("chdir", true, Key::Chdir),
    ("pivot", false, Key::Pivot),
    ("auto", false, Key::Auto),
    ("proc", false, Key::Proc),
    ("sys", false, Key::Sys),
    ("dev", false, Key::Dev),
    ("tmp", false, Key::Tmp),
    ("bind", true, Key::Bind),
    ("ro-bind", true, Key::RoBind),
    ("readonly", false, Key::Readonly),
    ("harden", false, Key::Harden),
    ("no-new-privs", false, Key::NoNewPrivs),
    ("tty", false, Key::Tty),
    ("console-socket", true, Key::ConsoleSocket),
    ("cap-add", true, Key::CapAdd),
    ("cap-drop", true, Key::CapDrop),
    ("verbose", false, Key::Verbose),
    ("seccomp", true, Key::Seccomp),
    ("device", true, Key::Device),
    ("host-dev", false, Key::HostDev),
    ("init", false, Key::Init),
    ("preserve-fds", true, Key::PreserveFds),
    ("no-new-keyring", false, Key::NoNewKeyring),
    ("cgroupfs", false, Key::Cgroupfs),
    ("run-as", true, Key::RunAs),
    ("help", false, Key::Help),
    ("version", false, Key::Version),
];

/// The long option names this parser knows, for a cross-check with the
/// clap definition that documents them.
#[must_use]
pub fn long_names() -> Vec<&'static str> {
    LONG.iter().map(|(n, _, _)| *n).collect()
}

fn lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

/// Parse the arguments after the program name.
#[must_use]
pub fn parse(args: &[OsString]) -> Parsed {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            i += 1;
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        if a[1] != b'-' {
            // No short options at all, as in coreutils chroot.
            let c = char::from(a[1]);
            let c = if c.is_ascii_graphic() {
                c.to_string()
            } else {
                format!("\\{:03o}", a[1])
            };
            return Parsed::Usage(Some(format!("invalid option -- '{c}'")));
        }
        let body = &a[2..];
        let (name, value) = match body.iter().position(|&b| b == b'=') {
            Some(p) => (&body[..p], Some(&body[p + 1..])),
            None => (body, None),
        };
        let exact = LONG.iter().find(|(n, _, _)| n.as_bytes() == name);
        let found = if let Some(e) = exact {
            *e
        } else {
            let cands: Vec<_> = LONG
                .iter()
                .filter(|(n, _, _)| n.as_bytes().starts_with(name))
                .collect();
            match cands.len() {
                0 => {
                    return Parsed::Usage(Some(format!(
                        "unrecognized option '{}'",
                        lossy(OsStr::from_bytes(a))
                    )));
                }
                1 => *cands[0],
                _ => {
                    let mut m = format!(
                        "option '--{}' is ambiguous; possibilities:",
                        String::from_utf8_lossy(name)
                    );
                    for (n, _, _) in cands {
                        m.push_str(&format!(" '--{n}'"));
                    }
                    return Parsed::Usage(Some(m));
                }
            }
        };
        let (lname, takes, key) = found;
        let arg: Option<String> = if takes {
            match value {
                Some(v) => Some(lossy(OsStr::from_bytes(v))),
                None => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => Some(lossy(v)),
                        None => {
                            return Parsed::Usage(Some(format!(
                                "option '--{lname}' requires an argument"
                            )));
                        }
                    }
                }
            }
        } else {
            if value.is_some() {
                return Parsed::Usage(Some(format!(
                    "option '--{lname}' doesn't allow an argument"
                )));
            }
            None
        };
        let arg = arg.unwrap_or_default();
        match key {
            Key::Userspec => {
                let mut s = arg;
                if s.ends_with(':') {
                    s.pop();
                }
                o.userspec = Some(s);
            }
            Key::Groups => o.groups = Some(arg),
            Key::RunAs => o.run_as = Some(arg),
            Key::SkipChdir => o.skip_chdir = true,
            Key::Chdir => o.chdir = Some(arg),
            Key::Pivot => o.pivot = true,
            Key::Auto => o.auto = true,
            Key::Proc => o.proc = true,
            Key::Sys => o.sys = true,
            Key::Cgroupfs => o.cgroupfs = true,
            Key::Dev => o.dev = true,
            Key::Tmp => o.tmp = true,
            Key::Bind => o.binds.push((arg, false)),
            Key::RoBind => o.binds.push((arg, true)),
            Key::Readonly => o.readonly = true,
            Key::Harden => o.harden = true,
            Key::NoNewPrivs => o.no_new_privs = true,
            Key::Tty => o.tty = true,
            Key::ConsoleSocket => o.console_socket = Some(arg),
            Key::CapAdd => o.cap_add.push(arg),
            Key::CapDrop => o.cap_drop.push(arg),
            Key::Verbose => o.verbose = true,
            Key::Seccomp => o.seccomp = Some(arg),
            Key::Device => o.devices.push(arg),
            Key::HostDev => o.host_dev = true,
            Key::Init => o.init = true,
            Key::PreserveFds => o.preserve_fds = Some(arg),
            Key::NoNewKeyring => o.no_new_keyring = true,
            Key::Help => return Parsed::Help,
            Key::Version => return Parsed::Version,
        }
        i += 1;
    }
    let Some(root) = args.get(i) else {
        return Parsed::Usage(Some("missing operand".into()));
    };
    o.newroot = root.clone();
    o.command = args[i + 1..].to_vec();
    Parsed::Run(Box::new(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Parsed {
        let v: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&v)
    }

    fn run(args: &[&str]) -> Opts {
        match p(args) {
            Parsed::Run(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    fn usage(args: &[&str]) -> String {
        match p(args) {
            Parsed::Usage(Some(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn operands_and_command() {
        let o = run(&["/r", "ls", "--userspec=x", "-l"]);
        assert_eq!(o.newroot, "/r");
        assert_eq!(o.command, ["ls", "--userspec=x", "-l"]);
        assert!(o.userspec.is_none());
    }

    #[test]
    fn abbreviations() {
        let o = run(&["--user=nobody", "--gr", "1,2", "--sk", "/"]);
        assert_eq!(o.userspec.as_deref(), Some("nobody"));
        assert_eq!(o.groups.as_deref(), Some("1,2"));
        assert!(o.skip_chdir);
        assert!(run(&["--piv", "/r"]).pivot);
        assert!(run(&["--pro", "/r"]).proc);
        assert!(run(&["--pres=2", "/r"]).preserve_fds.is_some());
    }

    #[test]
    fn chdir_takes_a_directory() {
        assert_eq!(run(&["--chdir=/a", "/r"]).chdir.as_deref(), Some("/a"));
        assert_eq!(
            run(&["--chd", "/a", "--chdir", "b", "/r"]).chdir.as_deref(),
            Some("b")
        );
        assert_eq!(usage(&["--chdir"]), "option '--chdir' requires an argument");
        assert!(
            usage(&["--c", "/r"]).contains("'--chdir' '--console-socket' '--cap-add' '--cap-drop'")
        );
    }

    #[test]
    fn binds_keep_their_order() {
        let o = run(&["--bind=/a:/b", "--ro-bind", "/c", "--bind=/d", "/r"]);
        assert_eq!(
            o.binds,
            [
                ("/a:/b".to_string(), false),
                ("/c".to_string(), true),
                ("/d".to_string(), false)
            ]
        );
        assert!(o.mounts_anything());
    }

    #[test]
    fn ambiguous() {
        assert_eq!(
            usage(&["--s", "/"]),
            "option '--s' is ambiguous; possibilities: '--skip-chdir' '--sys' '--seccomp'"
        );
        assert!(usage(&["--cap=x", "/"]).contains("'--cap-add' '--cap-drop'"));
    }

    #[test]
    fn getopt_messages() {
        assert_eq!(usage(&[]), "missing operand");
        assert_eq!(usage(&["---"]), "unrecognized option '---'");
        assert_eq!(usage(&["--bogus=3"]), "unrecognized option '--bogus=3'");
        assert_eq!(
            usage(&["--user"]),
            "option '--userspec' requires an argument"
        );
        assert_eq!(
            usage(&["--sk=1", "/"]),
            "option '--skip-chdir' doesn't allow an argument"
        );
        assert_eq!(usage(&["-ab"]), "invalid option -- 'a'");
    }

    #[test]
    fn trailing_colon_and_last_wins() {
        let o = run(&["--userspec=nobody:", "--groups=a", "--groups=b", "/"]);
        assert_eq!(o.userspec.as_deref(), Some("nobody"));
        assert_eq!(o.groups.as_deref(), Some("b"));
        let o = run(&["--userspec=nobody::", "/"]);
        assert_eq!(o.userspec.as_deref(), Some("nobody:"));
    }

    #[test]
    fn dashes() {
        assert_eq!(run(&["-"]).newroot, "-");
        let o = run(&["--", "--x", "y"]);
        assert_eq!(o.newroot, "--x");
        assert_eq!(p(&["--help", "/"]), Parsed::Help);
        assert_eq!(p(&["--vers"]), Parsed::Version);
    }

    #[test]
    fn caps_repeat() {
        let o = run(&[
            "--cap-drop",
            "ALL",
            "--cap-add=chown",
            "--cap-add",
            "KILL",
            "/",
        ]);
        assert_eq!(o.cap_drop, ["ALL"]);
        assert_eq!(o.cap_add, ["chown", "KILL"]);
    }

    #[test]
    fn hardening_options() {
        let o = run(&[
            "--seccomp=default",
            "--device",
            "/dev/kvm",
            "--device=/dev/loop0:/dev/x:r",
            "--host-dev",
            "--init",
            "--preserve-fds=2",
            "--no-new-keyring",
            "/r",
        ]);
        assert_eq!(o.seccomp.as_deref(), Some("default"));
        assert_eq!(o.devices, ["/dev/kvm", "/dev/loop0:/dev/x:r"]);
        assert!(o.host_dev && o.init && o.no_new_keyring);
        assert_eq!(o.preserve_fds.as_deref(), Some("2"));
        assert!(o.mounts_anything());
        assert_eq!(
            usage(&["--seccomp"]),
            "option '--seccomp' requires an argument"
        );
        assert!(usage(&["--de", "/r"]).contains("'--dev' '--device'"));
    }
}
