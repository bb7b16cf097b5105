//! stress's hand-written command-line grammar (no getopt): each argument
//! must equal an option string exactly, values are the next argument, the
//! last occurrence wins, `--help` and `--version` act when reached, and
//! errors are FAIL lines with exit status 1.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::log::{self, Log};
use crate::{dbug, fail};

/// The stress version we are a drop-in for (`--version` prints it).
pub const STRESS_VERSION: &str = "1.0.7";

/// What the options select.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct Config {
    /// `-n`: fork the workers but have them exit at once.
    pub dry_run: bool,
    /// `--backoff`: microseconds per remaining worker each round.
    pub backoff: i64,
    /// `-t`: seconds, 0 for none.
    pub timeout: i64,
    /// Worker counts: cpu, io, vm, hdd.
    pub cpu: i64,
    /// io workers.
    pub io: i64,
    /// vm workers.
    pub vm: i64,
    /// hdd workers.
    pub hdd: i64,
    /// Bytes each vm worker allocates.
    pub vm_bytes: i64,
    /// Touch one byte in this many.
    pub vm_stride: i64,
    /// -1: don't hang, 0: forever, N: seconds before freeing.
    pub vm_hang: i64,
    /// Re-dirty instead of free and reallocate.
    pub vm_keep: bool,
    /// Bytes per hdd file.
    pub hdd_bytes: i64,
    /// Keep the hdd files (stress <= 1.0.2's `--hdd-noclean`).
    pub hdd_noclean: bool,
    /// Print per-hog work rates at the end.
    pub metrics: bool,
    /// Print them as JSON on stdout.
    pub json: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dry_run: false,
            backoff: 3000,
            timeout: 0,
            cpu: 0,
            io: 0,
            vm: 0,
            hdd: 0,
            vm_bytes: 256 * 1024 * 1024,
            vm_stride: 4096,
            vm_hang: -1,
            vm_keep: false,
            hdd_bytes: 1024 * 1024 * 1024,
            hdd_noclean: false,
            metrics: false,
            json: false,
        }
    }
}

impl Config {
    /// The number of workers of all kinds.
    #[must_use]
    pub fn total(&self) -> i64 {
        self.cpu
            .wrapping_add(self.io)
            .wrapping_add(self.vm)
            .wrapping_add(self.hdd)
    }
}

/// The outcome of parsing.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Do the work.
    Run(Config),
    /// Exit at once with this status (help, version, usage, error: the text
    /// has been printed).
    Exit(i32),
}

/// The options, as the parser recognises them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `-?`, `--help`
    Help,
    /// `--version`
    Version,
    /// `-v`
    Verbose,
    /// `-q`
    Quiet,
    /// `-n`
    DryRun,
    /// `--backoff`
    Backoff,
    /// `-t`
    Timeout,
    /// `-c`
    Cpu,
    /// `-i`
    Io,
    /// `-m`
    Vm,
    /// `--vm-bytes`
    VmBytes,
    /// `--vm-stride`
    VmStride,
    /// `--vm-hang`
    VmHang,
    /// `--vm-keep`
    VmKeep,
    /// `-d`
    Hdd,
    /// `--hdd-bytes`
    HddBytes,
    /// `--hdd-noclean` (ours)
    HddNoclean,
    /// `--metrics` (ours)
    Metrics,
    /// `--json` (ours)
    Json,
}

/// One option string set.
#[derive(Debug)]
pub struct OptSpec {
    /// The long form, with its dashes.
    pub long: &'static str,
    /// The short form, with its dash.
    pub short: Option<&'static str>,
    /// Whether it takes the next argument.
    pub value: bool,
    /// What it is.
    pub key: Key,
}

const fn o(long: &'static str, short: Option<&'static str>, value: bool, key: Key) -> OptSpec {
    OptSpec {
        long,
        short,
        value,
        key,
    }
}

/// Every option the parser accepts, in stress's order, then ours.
pub const OPTIONS: &[OptSpec] = &[
    o("--help", Some("-?"), false, Key::Help),
    o("--version", None, false, Key::Version),
    o("--verbose", Some("-v"), false, Key::Verbose),
    o("--quiet", Some("-q"), false, Key::Quiet),
    o("--dry-run", Some("-n"), false, Key::DryRun),
    o("--backoff", None, true, Key::Backoff),
    o("--timeout", Some("-t"), true, Key::Timeout),
    o("--cpu", Some("-c"), true, Key::Cpu),
    o("--io", Some("-i"), true, Key::Io),
    o("--vm", Some("-m"), true, Key::Vm),
    o("--vm-bytes", None, true, Key::VmBytes),
    o("--vm-stride", None, true, Key::VmStride),
    o("--vm-hang", None, true, Key::VmHang),
    o("--vm-keep", None, false, Key::VmKeep),
    o("--hdd", Some("-d"), true, Key::Hdd),
    o("--hdd-bytes", None, true, Key::HddBytes),
    o("--hdd-noclean", None, false, Key::HddNoclean),
    o("--metrics", None, false, Key::Metrics),
    o("--json", None, false, Key::Json),
];

/// The usage text (stress's, byte for byte), for `prog`.
#[must_use]
pub fn usage(prog: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'`');
    out.extend_from_slice(prog);
    out.extend_from_slice(b"' imposes certain types of compute stress on your system\n\nUsage: ");
    out.extend_from_slice(prog);
    out.extend_from_slice(
        b" [OPTION [ARG]] ...\n \
-?, --help         show this help statement\n     \
--version      show version statement\n \
-v, --verbose      be verbose\n \
-q, --quiet        be quiet\n \
-n, --dry-run      show what would have been done\n \
-t, --timeout N    timeout after N seconds\n     \
--backoff N    wait factor of N microseconds before work starts\n \
-c, --cpu N        spawn N workers spinning on sqrt()\n \
-i, --io N         spawn N workers spinning on sync()\n \
-m, --vm N         spawn N workers spinning on malloc()/free()\n     \
--vm-bytes B   malloc B bytes per vm worker (default is 256MB)\n     \
--vm-stride B  touch a byte every B bytes (default is 4096)\n     \
--vm-hang N    sleep N secs before free (default none, 0 is inf)\n     \
--vm-keep      redirty memory instead of freeing and reallocating\n \
-d, --hdd N        spawn N workers spinning on write()/unlink()\n     \
--hdd-bytes B  write B bytes per hdd worker (default is 1GB)\n     \
--hdd-noclean  do not unlink files created by hdd workers\n\nExample: ",
    );
    out.extend_from_slice(prog);
    out.extend_from_slice(
        b" --cpu 8 --io 4 --vm 2 --vm-bytes 128M --timeout 10s\n\n\
Note: Numbers may be suffixed with s,m,h,d,y (time) or B,K,M,G (size).\n",
    );
    out
}

/// How a number failed to parse, for the caller to report with its own
/// source line.
#[derive(Debug, PartialEq, Eq)]
pub enum NumError {
    /// An empty string.
    Empty,
    /// The last byte is neither a digit nor a suffix.
    Suffix(u8),
    /// sscanf read no number.
    Invalid,
}

fn scaled(arg: &[u8], factor: impl Fn(u8) -> Option<i64>) -> Result<i64, NumError> {
    let Some(&last) = arg.last() else {
        return Err(NumError::Empty);
    };
    let f = if last.is_ascii_digit() {
        1
    } else {
        factor(last).ok_or(NumError::Suffix(last))?
    };
    let v = ctcore::units::scan_lli(&String::from_utf8_lossy(arg)).ok_or(NumError::Invalid)?;
    Ok(v.wrapping_mul(f))
}

/// stress's `atoll_b`: a size with an optional `b`, `k`, `m` or `g` suffix.
///
/// # Errors
/// [`NumError`].
pub fn atoll_b(arg: &[u8]) -> Result<i64, NumError> {
    scaled(arg, |c| match c.to_ascii_lowercase() {
        b'b' => Some(1),
        b'k' => Some(1 << 10),
        b'm' => Some(1 << 20),
        b'g' => Some(1 << 30),
        _ => None,
    })
}

/// stress's `atoll_s`: seconds with an optional `s`, `m`, `h`, `d` or `y`
/// suffix.
///
/// # Errors
/// [`NumError`].
pub fn atoll_s(arg: &[u8]) -> Result<i64, NumError> {
    scaled(arg, |c| match c.to_ascii_lowercase() {
        b's' => Some(1),
        b'm' => Some(60),
        b'h' => Some(3600),
        b'd' => Some(86400),
        b'y' => Some(31_536_000),
        _ => None,
    })
}

fn report_num(log: &Log, arg: &[u8], e: &NumError) {
    match e {
        NumError::Empty => fail!(log, "invalid string"),
        NumError::Suffix(c) => {
            let mut m = b"unrecognized suffix: ".to_vec();
            m.push(*c);
            log.fail(line!(), &m);
        }
        NumError::Invalid => {
            let mut m = b"invalid number: ".to_vec();
            m.extend_from_slice(arg);
            log.fail(line!(), &m);
        }
    }
}

/// The basename of `argv[0]`, as `basename(3)` gives it.
#[must_use]
pub fn progname(argv0: &[u8]) -> Vec<u8> {
    let trimmed = {
        let mut end = argv0.len();
        while end > 1 && argv0[end - 1] == b'/' {
            end -= 1;
        }
        &argv0[..end]
    };
    if trimmed.is_empty() {
        return b".".to_vec();
    }
    if trimmed == b"/" {
        return b"/".to_vec();
    }
    match trimmed.iter().rposition(|&c| c == b'/') {
        Some(i) => trimmed[i + 1..].to_vec(),
        None => trimmed.to_vec(),
    }
}

/// Parse `args` (without the program name), printing as stress does
/// (help, version, dbug lines, FAIL lines) through `log`, whose level the
/// verbosity options change.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn parse(args: &[OsString], log: &mut Log) -> Parsed {
    let mut cfg = Config::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_bytes();
        let Some(spec) = OPTIONS
            .iter()
            .find(|s| s.long.as_bytes() == arg || s.short.is_some_and(|x| x.as_bytes() == arg))
        else {
            let mut m = b"unrecognized option: ".to_vec();
            m.extend_from_slice(arg);
            log.fail(line!(), &m);
            return Parsed::Exit(1);
        };
        let mut value: &[u8] = b"";
        if spec.value {
            i += 1;
            let missing = match args.get(i) {
                None => true,
                Some(v) => {
                    let v = v.as_bytes();
                    v.first() == Some(&b'-') && !v.get(1).is_some_and(u8::is_ascii_digit)
                }
            };
            if missing {
                fail!(log, "missing argument to option '{}'", spec.long);
                return Parsed::Exit(1);
            }
            value = args[i].as_bytes();
        }
        macro_rules! num {
            ($f:ident) => {
                match $f(value) {
                    Ok(v) => v,
                    Err(e) => {
                        report_num(log, value, &e);
                        return Parsed::Exit(1);
                    }
                }
            };
        }
        macro_rules! positive {
            ($field:ident, $what:literal) => {{
                cfg.$field = num!(atoll_b);
                if cfg.$field <= 0 {
                    fail!(log, concat!($what, ": {}"), cfg.$field);
                    return Parsed::Exit(1);
                }
            }};
        }
        match spec.key {
            Key::Help => {
                log.raw(1, &usage(&log.prog));
                return Parsed::Exit(0);
            }
            Key::Version => {
                let mut m = log.prog.clone();
                m.extend_from_slice(format!(" {STRESS_VERSION}\n").as_bytes());
                log.raw(1, &m);
                return Parsed::Exit(0);
            }
            Key::Verbose => log.level = log::VERBOSE,
            Key::Quiet => log.level = log::QUIET,
            Key::DryRun => cfg.dry_run = true,
            Key::Backoff => {
                let Some(v) = ctcore::units::scan_lli(&String::from_utf8_lossy(value)) else {
                    let mut m = b"invalid number: ".to_vec();
                    m.extend_from_slice(value);
                    log.fail(line!(), &m);
                    return Parsed::Exit(1);
                };
                cfg.backoff = v;
                if v < 0 {
                    fail!(log, "invalid backoff factor: {v}");
                    return Parsed::Exit(1);
                }
                dbug!(log, "setting backoff coeffient to {v}us");
            }
            Key::Timeout => {
                cfg.timeout = num!(atoll_s);
                if cfg.timeout <= 0 {
                    fail!(log, "invalid timeout value: {}s", cfg.timeout);
                    return Parsed::Exit(1);
                }
            }
            Key::Cpu => positive!(cpu, "invalid number of cpu hogs"),
            Key::Io => positive!(io, "invalid number of io hogs"),
            Key::Vm => positive!(vm, "invalid number of vm hogs"),
            Key::VmBytes => positive!(vm_bytes, "invalid vm byte value"),
            Key::VmStride => positive!(vm_stride, "invalid stride value"),
            Key::VmHang => {
                cfg.vm_hang = num!(atoll_b);
                if cfg.vm_hang < 0 {
                    fail!(log, "invalid value: {}", cfg.vm_hang);
                    return Parsed::Exit(1);
                }
            }
            Key::VmKeep => cfg.vm_keep = true,
            Key::Hdd => positive!(hdd, "invalid number of hdd hogs"),
            Key::HddBytes => positive!(hdd_bytes, "invalid hdd byte value"),
            Key::HddNoclean => cfg.hdd_noclean = true,
            Key::Metrics => cfg.metrics = true,
            Key::Json => {
                cfg.metrics = true;
                cfg.json = true;
            }
        }
        i += 1;
    }
    if cfg.total() == 0 {
        log.raw(1, &usage(&log.prog));
        return Parsed::Exit(0);
    }
    Parsed::Run(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (Parsed, Vec<(i32, String)>) {
        let mut log = Log::capturing(b"stress");
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let p = parse(&args, &mut log);
        (p, log.captured())
    }

    fn err(args: &[&str]) -> String {
        let (p, out) = run(args);
        assert_eq!(p, Parsed::Exit(1), "{args:?}");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 2);
        let l = &out[0].1;
        let i = l.find(") ").unwrap();
        l[i + 2..].trim_end().to_string()
    }

    #[test]
    fn errors() {
        assert_eq!(err(&["--foo"]), "unrecognized option: --foo");
        assert_eq!(err(&["-c"]), "missing argument to option '--cpu'");
        assert_eq!(err(&["-c", "-x"]), "missing argument to option '--cpu'");
        assert_eq!(err(&["-c", "-"]), "missing argument to option '--cpu'");
        assert_eq!(err(&["-c", "-1"]), "invalid number of cpu hogs: -1");
        assert_eq!(err(&["-c", "0"]), "invalid number of cpu hogs: 0");
        assert_eq!(err(&["--vm-hang", "-1"]), "invalid value: -1");
        assert_eq!(err(&["--vm-hang", "10s"]), "unrecognized suffix: s");
        assert_eq!(err(&["-c", "2x"]), "unrecognized suffix: x");
        assert_eq!(err(&["-t", "10q", "-c", "1"]), "unrecognized suffix: q");
        assert_eq!(err(&["-t", "0", "-c", "1"]), "invalid timeout value: 0s");
        assert_eq!(err(&["--backoff", "-5"]), "invalid backoff factor: -5");
        assert_eq!(err(&["--backoff", "abc"]), "invalid number: abc");
        assert_eq!(err(&["-c", ""]), "invalid string");
        assert_eq!(err(&["-c", "k"]), "invalid number: k");
        assert_eq!(err(&["--vm-stride", "0"]), "invalid stride value: 0");
        assert_eq!(err(&["--hdd-bytes", "0"]), "invalid hdd byte value: 0");
        assert_eq!(err(&["-vn"]), "unrecognized option: -vn");
        assert_eq!(err(&["--cpu=4"]), "unrecognized option: --cpu=4");
        assert_eq!(err(&["--foo", "--help"]), "unrecognized option: --foo");
    }

    #[test]
    fn values() {
        let (p, _) = run(&[
            "-c",
            "1k",
            "-c",
            "010",
            "--vm-bytes",
            "1.5G",
            "-m",
            "1",
            "-t",
            "1m",
            "--backoff",
            "10k",
        ]);
        let Parsed::Run(c) = p else { panic!() };
        assert_eq!(c.cpu, 8);
        assert_eq!(c.vm_bytes, 1 << 30);
        assert_eq!(c.timeout, 60);
        assert_eq!(c.backoff, 10);
        let (p, _) = run(&["-c", "1k"]);
        assert!(matches!(p, Parsed::Run(Config { cpu: 1024, .. })));
    }

    #[test]
    fn help_version_usage() {
        let (p, out) = run(&["--help", "--foo"]);
        assert_eq!(p, Parsed::Exit(0));
        assert!(out[0].1.starts_with("`stress' imposes"));
        let (p, out) = run(&["--version"]);
        assert_eq!(p, Parsed::Exit(0));
        assert_eq!(out, [(1, "stress 1.0.7\n".to_string())]);
        let (p, out) = run(&["-t", "5"]);
        assert_eq!(p, Parsed::Exit(0));
        assert!(out[0].1.ends_with("(size).\n"));
    }

    #[test]
    fn backoff_dbug_needs_earlier_v() {
        let (_, out) = run(&["--backoff", "5", "-v", "-c", "1"]);
        assert!(out.is_empty());
        let (_, out) = run(&["-v", "--backoff", "5", "-c", "1"]);
        assert_eq!(out.len(), 1);
        assert!(out[0].1.ends_with("setting backoff coeffient to 5us\n"));
    }

    #[test]
    fn basename() {
        assert_eq!(progname(b"/usr/bin/stress"), b"stress");
        assert_eq!(progname(b"stress-rs"), b"stress-rs");
        assert_eq!(progname(b"a/b/"), b"b");
        assert_eq!(progname(b""), b".");
    }
}
