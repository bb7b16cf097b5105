//! Seccomp profiles in the OCI runtime-spec format (what `docker run
//! --security-opt seccomp=FILE` and runc read), compiled to a BPF filter
//! with `seccompiler` and installed with seccomp(2).
//!
//! * [`parse`] reads a profile: `defaultAction`, `defaultErrnoRet`,
//!   `architectures` or Docker's `archMap`, `flags`, and `syscalls[]` with
//!   `names` (or Docker's older `name`), `action`, `errnoRet`,
//!   `args[{index, value, valueTwo, op}]` and Docker's `includes` /
//!   `excludes` (`caps`, `arches`, `minKernel`).
//! * [`Profile::compile`] keeps the rules that apply to a [`Target`] (the
//!   capability set the program will have, the architecture, the kernel),
//!   turns names into numbers (a name the architecture does not have is
//!   skipped, as libseccomp does) and builds one BPF program.
//! * [`Filter::install`] installs it: without no_new_privs the kernel wants
//!   CAP_SYS_ADMIN, so a caller that leaves no_new_privs off installs the
//!   filter while still privileged (as runc does) and one that sets it
//!   installs it last, right before exec.
//!
//! [`DEFAULT_JSON`] is ctools' default profile: Docker's default policy
//! written from its facts (an allow list; everything else fails with
//! EPERM), embedded in the binaries.
//!
//! # How the actions combine
//! seccompiler builds a filter with one action for the listed calls and one
//! for the rest.  A profile with several actions becomes one program made
//! of several such filters in a row, the most restrictive action first
//! (kill process, kill thread, trap, errno, trace, log, allow): each filter
//! returns its action for its calls and hands every other call on to the
//! next one, and the last filter holds the allowed calls and returns the
//! default action for the rest.  When a call matches rules of two actions,
//! the more restrictive wins, as it does between stacked seccomp filters.
//!
//! # Limits
//! The filter is built for the native architecture only: a call made
//! through another ABI (i386's `int 0x80` or x32 on x86_64, arm32 on
//! aarch64) kills the process, where Docker's filter also lists those
//! ABIs' calls.  `SCMP_ACT_TRACE` returns ENOSYS when no tracer is attached
//! (the kernel's rule); `SCMP_ACT_NOTIFY` (a seccomp agent) is refused.

use std::collections::BTreeMap;
use std::path::PathBuf;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};
use serde::Deserialize;

mod syscalls;

/// ctools' default profile (Docker's default policy), as shipped in
/// `ctcore/data/seccomp-default.json`.
pub const DEFAULT_JSON: &str = include_str!("../data/seccomp-default.json");

/// What a filter does with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `SCMP_ACT_ALLOW`.
    Allow,
    /// `SCMP_ACT_ERRNO`: fail with this errno.
    Errno(u32),
    /// `SCMP_ACT_KILL` / `SCMP_ACT_KILL_THREAD`.
    KillThread,
    /// `SCMP_ACT_KILL_PROCESS`.
    KillProcess,
    /// `SCMP_ACT_TRAP`: SIGSYS.
    Trap,
    /// `SCMP_ACT_LOG`: allowed and logged.
    Log,
    /// `SCMP_ACT_TRACE`: the tracer is told (ENOSYS without one).
    Trace(u32),
}

impl Action {
    fn parse(name: &str, errno: Option<u32>) -> Result<Self, String> {
        Ok(match name {
            "SCMP_ACT_ALLOW" => Self::Allow,
            "SCMP_ACT_ERRNO" => Self::Errno(errno.unwrap_or(libc::EPERM as u32)),
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Self::KillThread,
            "SCMP_ACT_KILL_PROCESS" => Self::KillProcess,
            "SCMP_ACT_TRAP" => Self::Trap,
            "SCMP_ACT_LOG" => Self::Log,
            "SCMP_ACT_TRACE" => Self::Trace(errno.unwrap_or(libc::EPERM as u32)),
            "SCMP_ACT_NOTIFY" => {
                return Err(
                    "SCMP_ACT_NOTIFY needs a seccomp agent, which ctools does not provide".into(),
                );
            }
            other => return Err(format!("unknown action '{other}'")),
        })
    }

    /// Lower is more restrictive (the kernel's order of precedence).
    fn rank(self) -> u8 {
        match self {
            Self::KillProcess => 0,
            Self::KillThread => 1,
            Self::Trap => 2,
            Self::Errno(_) => 3,
            Self::Trace(_) => 4,
            Self::Log => 5,
            Self::Allow => 6,
        }
    }

    fn to_seccompiler(self) -> SeccompAction {
        match self {
            Self::Allow => SeccompAction::Allow,
            Self::Errno(e) => SeccompAction::Errno(e),
            Self::KillThread => SeccompAction::KillThread,
            Self::KillProcess => SeccompAction::KillProcess,
            Self::Trap => SeccompAction::Trap,
            Self::Log => SeccompAction::Log,
            Self::Trace(d) => SeccompAction::Trace(d),
        }
    }

    /// The value a BPF program returns for this action.
    #[must_use]
    pub fn ret(self) -> u32 {
        u32::from(self.to_seccompiler())
    }
}

/// An argument comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `SCMP_CMP_NE`.
    Ne,
    /// `SCMP_CMP_LT`.
    Lt,
    /// `SCMP_CMP_LE`.
    Le,
    /// `SCMP_CMP_EQ`.
    Eq,
    /// `SCMP_CMP_GE`.
    Ge,
    /// `SCMP_CMP_GT`.
    Gt,
    /// `SCMP_CMP_MASKED_EQ`: `(arg & value) == valueTwo`.
    MaskedEq,
}

/// One condition on an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    /// The argument, 0 to 5.
    pub index: u8,
    /// The value (the mask for `MaskedEq`).
    pub value: u64,
    /// The value `MaskedEq` compares with.
    pub value_two: u64,
    /// The comparison.
    pub op: Op,
}

/// Docker's `includes` / `excludes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct When {
    /// Capability names (`CAP_SYS_ADMIN`).
    pub caps: Vec<String>,
    /// Go architecture names (`amd64`, `arm64`, ...).
    pub arches: Vec<String>,
    /// The kernel version, `major.minor`.
    pub min_kernel: Option<(u32, u32)>,
}

impl When {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// One entry of `syscalls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The calls it names.
    pub names: Vec<String>,
    /// What happens to them.
    pub action: Action,
    /// Conditions on their arguments (all must hold).
    pub args: Vec<Arg>,
    /// Used only when every condition here holds.
    pub includes: When,
    /// Not used when any condition here holds.
    pub excludes: When,
}

/// A parsed profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// What happens to every call no rule names.
    pub default_action: Action,
    /// The `SCMP_ARCH_*` names it lists (informative: the filter is built
    /// for the native architecture).
    pub architectures: Vec<String>,
    /// seccomp(2) flags (`SECCOMP_FILTER_FLAG_LOG`, `..._SPEC_ALLOW`).
    pub flags: u32,
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<RawArchMap>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    syscalls: Option<Vec<RawSyscall>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSyscall {
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<RawArg>>,
    #[serde(default)]
    includes: Option<RawWhen>,
    #[serde(default)]
    excludes: Option<RawWhen>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawWhen {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s.trim().split(|c: char| !c.is_ascii_digit());
    let ma = it.next()?.parse().ok()?;
    let mi = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((ma, mi))
}

fn when(raw: Option<RawWhen>) -> Result<When, String> {
    let r = raw.unwrap_or_default();
    let min_kernel = match r.min_kernel.as_deref() {
        None | Some("") => None,
        Some(v) => Some(parse_version(v).ok_or_else(|| format!("bad minKernel '{v}'"))?),
    };
    Ok(When {
        caps: r.caps.unwrap_or_default(),
        arches: r.arches.unwrap_or_default(),
        min_kernel,
    })
}

fn op(name: &str) -> Result<Op, String> {
    Ok(match name {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
        other => return Err(format!("unknown comparison '{other}'")),
    })
}

/// Parse a profile in the OCI runtime-spec / Docker JSON format.
///
/// # Errors
/// Bad JSON, an unknown action, comparison or flag, an argument index above
/// 5, a rule without names.
pub fn parse(text: &str) -> Result<Profile, String> {
    let raw: RawProfile = serde_json::from_str(text).map_err(|e| format!("bad profile: {e}"))?;
    let default_action = Action::parse(&raw.default_action, raw.default_errno_ret)
        .map_err(|e| format!("defaultAction: {e}"))?;
    let mut architectures = raw.architectures.unwrap_or_default();
    for m in raw.arch_map.unwrap_or_default() {
        architectures.push(m.architecture);
        architectures.extend(m.sub_architectures.unwrap_or_default());
    }
    let mut flags = 0;
    for f in raw.flags.unwrap_or_default() {
        flags |= match f.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => 1,
            "SECCOMP_FILTER_FLAG_LOG" => 2,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => 4,
            other => return Err(format!("unknown flag '{other}'")),
        };
    }
    let mut rules = Vec::new();
    for (i, s) in raw.syscalls.unwrap_or_default().into_iter().enumerate() {
        let at = |e: String| format!("syscalls[{i}]: {e}");
        let mut names = s.names.unwrap_or_default();
        names.extend(s.name);
        if names.is_empty() {
            return Err(at("no names".into()));
        }
        let action = Action::parse(&s.action, s.errno_ret).map_err(at)?;
        let mut args = Vec::new();
        for a in s.args.unwrap_or_default() {
            if a.index > 5 {
                return Err(at(format!("argument index {} (0 to 5)", a.index)));
            }
            args.push(Arg {
                index: a.index as u8,
                value: a.value,
                value_two: a.value_two,
                op: op(&a.op).map_err(at)?,
            });
        }
        rules.push(Rule {
            names,
            action,
            args,
            includes: when(s.includes).map_err(at)?,
            excludes: when(s.excludes).map_err(at)?,
        });
    }
    Ok(Profile {
        default_action,
        architectures,
        flags,
        rules,
    })
}

/// The default profile, parsed.
///
/// # Panics
/// Never: the embedded profile is checked by a test.
#[must_use]
pub fn default_profile() -> Profile {
    parse(DEFAULT_JSON).unwrap_or_else(|e| panic!("embedded seccomp profile: {e}"))
}

/// The architectures filters are built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// x86_64 (`amd64`).
    X86_64,
    /// aarch64 (`arm64`).
    Aarch64,
}

impl Arch {
    /// The architecture this binary runs on, when supported.
    #[must_use]
    pub fn native() -> Option<Self> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Self::X86_64),
            "aarch64" => Some(Self::Aarch64),
            _ => None,
        }
    }

    fn go_name(self) -> &'static str {
        match self {
            Self::X86_64 => "amd64",
            Self::Aarch64 => "arm64",
        }
    }

    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Self::X86_64 => syscalls::X86_64,
            Self::Aarch64 => syscalls::AARCH64,
        }
    }

    fn target(self) -> TargetArch {
        match self {
            Self::X86_64 => TargetArch::x86_64,
            Self::Aarch64 => TargetArch::aarch64,
        }
    }

    /// The `AUDIT_ARCH_*` value the kernel reports for this architecture.
    #[must_use]
    pub fn audit(self) -> u32 {
        match self {
            Self::X86_64 => 62 | 0xC000_0000,
            Self::Aarch64 => 183 | 0xC000_0000,
        }
    }

    /// The number of the call `name`, when this architecture has it.
    #[must_use]
    pub fn number(self, name: &str) -> Option<u32> {
        let t = self.table();
        t.binary_search_by(|(n, _)| n.as_bytes().cmp(name.as_bytes()))
            .ok()
            .map(|i| t[i].1)
    }
}

/// What a profile is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The capabilities the program will have (a bit per capability
    /// number: the bounding set it will run with).
    pub caps: u64,
    /// The architecture.
    pub arch: Arch,
    /// The running kernel, `(major, minor)`.
    pub kernel: (u32, u32),
}

impl Target {
    /// The native architecture and the running kernel, with `caps`.
    ///
    /// # Errors
    /// On an architecture without a system call table here.
    pub fn native(caps: u64) -> Result<Self, String> {
        let arch = Arch::native().ok_or_else(|| {
            format!(
                "seccomp profiles are not supported on {}",
                std::env::consts::ARCH
            )
        })?;
        let kernel = nix::sys::utsname::uname()
            .ok()
            .and_then(|u| parse_version(&u.release().to_string_lossy()))
            .unwrap_or((0, 0));
        Ok(Self { caps, arch, kernel })
    }

    fn has_cap(&self, name: &str) -> bool {
        matches!(crate::caps::parse(name), Some(crate::caps::Cap::One(n)) if n < 64 && self.caps & (1 << n) != 0)
    }
}

impl Rule {
    /// Whether the rule applies to `t` (Docker's includes and excludes).
    #[must_use]
    pub fn applies(&self, t: &Target) -> bool {
        let i = &self.includes;
        if !i.caps.iter().all(|c| t.has_cap(c)) {
            return false;
        }
        if !i.arches.is_empty() && !i.arches.iter().any(|a| a == t.arch.go_name()) {
            return false;
        }
        if i.min_kernel.is_some_and(|k| t.kernel < k) {
            return false;
        }
        let e = &self.excludes;
        if e.is_empty() {
            return true;
        }
        if e.caps.iter().any(|c| t.has_cap(c)) {
            return false;
        }
        if e.arches.iter().any(|a| a == t.arch.go_name()) {
            return false;
        }
        if e.min_kernel.is_some_and(|k| t.kernel >= k) {
            return false;
        }
        true
    }

    /// The seccompiler rules for the argument conditions: one rule with all
    /// of them, or, when an argument is named twice, one rule per condition
    /// (runc's reading of such profiles).  Empty: no condition.
    fn chains(&self) -> Result<Vec<SeccompRule>, String> {
        let cond = |a: &Arg| {
            let (op, v) = match a.op {
                Op::Ne => (SeccompCmpOp::Ne, a.value),
                Op::Lt => (SeccompCmpOp::Lt, a.value),
                Op::Le => (SeccompCmpOp::Le, a.value),
                Op::Eq => (SeccompCmpOp::Eq, a.value),
                Op::Ge => (SeccompCmpOp::Ge, a.value),
                Op::Gt => (SeccompCmpOp::Gt, a.value),
                Op::MaskedEq => (SeccompCmpOp::MaskedEq(a.value), a.value_two),
            };
            SeccompCondition::new(a.index, SeccompCmpArgLen::Qword, op, v)
                .map_err(|e| format!("argument condition: {e}"))
        };
        if self.args.is_empty() {
            return Ok(Vec::new());
        }
        let mut seen = [0u8; 6];
        for a in &self.args {
            seen[usize::from(a.index)] += 1;
        }
        let rule = |c: Vec<SeccompCondition>| {
            SeccompRule::new(c).map_err(|e| format!("argument condition: {e}"))
        };
        if seen.iter().any(|&n| n > 1) {
            self.args.iter().map(|a| rule(vec![cond(a)?])).collect()
        } else {
            Ok(vec![rule(
                self.args.iter().map(cond).collect::<Result<_, _>>()?,
            )?])
        }
    }
}

/// Calls and their conditions for one action: `None` matches every call of
/// that number.
type Calls = BTreeMap<i64, Option<Vec<SeccompRule>>>;

fn add(calls: &mut Calls, nr: i64, chains: &[SeccompRule]) {
    let e = calls.entry(nr).or_insert_with(|| Some(Vec::new()));
    match (e.as_mut(), chains.is_empty()) {
        (None, _) => {}
        (Some(_), true) => *e = None,
        (Some(v), false) => v.extend_from_slice(chains),
    }
}

fn to_seccompiler(calls: Calls) -> BTreeMap<i64, Vec<SeccompRule>> {
    calls
        .into_iter()
        .map(|(nr, c)| (nr, c.unwrap_or_default()))
        .collect()
}

/// About how many calls one range of the dispatch holds.
const RANGE_CALLS: usize = 24;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// One chain of filters for `groups` (sorted, most restrictive first):
/// each non-allow group's filter returns its action for its calls and
/// jumps past its end (to the next filter) for the rest; the last filter
/// allows the allowed calls and returns `default` for every other one.
fn chain(
    groups: Vec<(Action, Calls)>,
    default: Action,
    sentinel: SeccompAction,
    arch: Arch,
) -> Result<BpfProgram, String> {
    let sentinel_ret = u32::from(sentinel.clone());
    let build = |calls: Calls, mismatch: SeccompAction, action: SeccompAction| {
        let f = SeccompFilter::new(to_seccompiler(calls), mismatch, action, arch.target())
            .map_err(|e| format!("cannot build the filter: {e}"))?;
        BpfProgram::try_from(f).map_err(|e| format!("cannot build the filter: {e}"))
    };
    let mut program: BpfProgram = Vec::new();
    let mut allowed = None;
    for (action, calls) in groups {
        if action == Action::Allow {
            allowed = Some(calls);
            continue;
        }
        let mut p = build(calls, sentinel.clone(), action.to_seccompiler())?;
        let len = p.len();
        for (i, ins) in p.iter_mut().enumerate() {
            if ins.code == BPF_RET && ins.k == sentinel_ret {
                *ins = stmt(BPF_JMP_JA, (len - i - 1) as u32);
            }
        }
        program.extend(p);
    }
    if default == Action::Allow {
        program.push(stmt(BPF_RET, Action::Allow.ret()));
    } else {
        program.extend(build(
            allowed.unwrap_or_default(),
            default.to_seccompiler(),
            SeccompAction::Allow,
        )?);
    }
    Ok(program)
}

/// The architecture check, then a jump by call number to the chain of its
/// range: `subs[i]` holds the numbers from `bounds[i - 1]` (from 0 for the
/// first) up to `bounds[i]` (excluded; the last has no end).
fn dispatch(arch: Arch, bounds: &[i64], subs: Vec<BpfProgram>) -> BpfProgram {
    let mut p = vec![
        stmt(BPF_LD_W_ABS, 4),
        sock_filter {
            code: BPF_JMP_JEQ_K,
            jt: 1,
            jf: 0,
            k: arch.audit(),
        },
        stmt(BPF_RET, Action::KillProcess.ret()),
        stmt(BPF_LD_W_ABS, 0),
    ];
    // Two instructions per bound, then one jump to the last range.
    let head = p.len() + 2 * bounds.len() + 1;
    let mut starts = Vec::with_capacity(subs.len());
    let mut at = head;
    for s in &subs {
        starts.push(at);
        at += s.len();
    }
    for (i, b) in bounds.iter().enumerate() {
        // nr >= bound: on to the next comparison; else to range i.
        p.push(sock_filter {
            code: BPF_JMP_JGE_K,
            jt: 1,
            jf: 0,
            k: *b as u32,
        });
        let pc = p.len();
        p.push(stmt(BPF_JMP_JA, (starts[i] - pc - 1) as u32));
    }
    let pc = p.len();
    p.push(stmt(BPF_JMP_JA, (starts[subs.len() - 1] - pc - 1) as u32));
    for s in subs {
        p.extend(s);
    }
    p
}

const BPF_RET: u16 = 0x06;
const BPF_JMP_JA: u16 = 0x05;
/// The kernel's limit on one program's length.
const BPF_MAXINSNS: usize = 4096;

/// A compiled filter, ready to install.
#[derive(Debug, Clone)]
pub struct Filter {
    program: BpfProgram,
    flags: u32,
    /// Names the profile gives that this architecture does not have
    /// (skipped).
    pub unknown: Vec<String>,
    /// Calls that have a rule, by action (for `--verbose`).
    pub counts: Vec<(Action, usize)>,
}

impl Profile {
    /// Build the BPF program for `t`.
    ///
    /// # Errors
    /// A condition seccompiler refuses, or a program longer than the
    /// kernel's 4096 instructions.
    pub fn compile(&self, t: &Target) -> Result<Filter, String> {
        self.compile_in_ranges(t, RANGE_CALLS)
    }

    fn compile_in_ranges(&self, t: &Target, range_calls: usize) -> Result<Filter, String> {
        let mut groups: Vec<(Action, Calls)> = Vec::new();
        let mut unknown = Vec::new();
        for r in self.rules.iter().filter(|r| r.applies(t)) {
            let chains = r.chains()?;
            let g = match groups.iter().position(|(a, _)| *a == r.action) {
                Some(i) => i,
                None => {
                    groups.push((r.action, Calls::new()));
                    groups.len() - 1
                }
            };
            for n in &r.names {
                match t.arch.number(n) {
                    Some(nr) => add(&mut groups[g].1, i64::from(nr), &chains),
                    None => {
                        if !unknown.contains(n) {
                            unknown.push(n.clone());
                        }
                    }
                }
            }
        }
        groups.retain(|(_, c)| !c.is_empty());
        groups.sort_by_key(|(a, _)| a.rank());
        let counts = groups.iter().map(|(a, c)| (*a, c.len())).collect();
        // A return value no action of this profile uses: "not mine, ask
        // the next filter".
        let used: Vec<u32> = groups
            .iter()
            .map(|(a, _)| a.ret())
            .chain([self.default_action.ret()])
            .collect();
        let sentinel = (0xfff0..0xffff)
            .map(SeccompAction::Trace)
            .find(|s| !used.contains(&u32::from(s.clone())))
            .unwrap_or(SeccompAction::Trace(0xffff));
        let chain = |groups: Vec<(Action, Calls)>| {
            chain(groups, self.default_action, sentinel.clone(), t.arch)
        };
        // The calls split into ranges of about RANGE_CALLS numbers, each
        // with a chain of its own, and a dispatcher in front: a call walks
        // a few comparisons to its range and then a short chain, instead of
        // one chain of every call (the kernel also walks the filter for
        // every number when it is installed, to build its cache of
        // always-allowed calls).
        let mut numbers: Vec<i64> = groups.iter().flat_map(|(_, c)| c.keys().copied()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let ranges = numbers.len().div_ceil(range_calls).clamp(1, 64);
        let program = if ranges == 1 {
            chain(groups)?
        } else {
            let per = numbers.len().div_ceil(ranges);
            // The first number of each range but the first.
            let bounds: Vec<i64> = numbers.iter().copied().skip(per).step_by(per).collect();
            let mut subs = Vec::new();
            let mut lo = i64::MIN;
            for hi in bounds.iter().copied().map(Some).chain([None]) {
                let part: Vec<(Action, Calls)> = groups
                    .iter()
                    .map(|(a, c)| {
                        let sub: Calls = c
                            .iter()
                            .filter(|(nr, _)| **nr >= lo && hi.is_none_or(|h| **nr < h))
                            .map(|(nr, r)| (*nr, r.clone()))
                            .collect();
                        (*a, sub)
                    })
                    .filter(|(_, c)| !c.is_empty())
                    .collect();
                subs.push(chain(part)?);
                lo = hi.unwrap_or(i64::MAX);
            }
            dispatch(t.arch, &bounds, subs)
        };
        if program.len() > BPF_MAXINSNS {
            return Err(format!(
                "the filter has {} instructions, more than the kernel's {BPF_MAXINSNS}",
                program.len()
            ));
        }
        Ok(Filter {
            program,
            flags: self.flags & !1,
            unknown,
            counts,
        })
    }
}

impl Filter {
    /// The compiled program and its flags as bytes, for a process that
    /// installs a filter another one compiled (runc-rs's init, handed the
    /// filter by create): the flags, then each instruction's code, jt, jf
    /// and k, little-endian.  The names and counts stay behind.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(4 + 8 * self.program.len());
        b.extend_from_slice(&self.flags.to_le_bytes());
        for i in &self.program {
            b.extend_from_slice(&i.code.to_le_bytes());
            b.push(i.jt);
            b.push(i.jf);
            b.extend_from_slice(&i.k.to_le_bytes());
        }
        b
    }

    /// The filter of [`Filter::to_bytes`]; `None` for bytes of another shape
    /// (the kernel checks the program itself when it is installed).
    #[must_use]
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let (flags, rest) = b.split_first_chunk::<4>()?;
        if rest.is_empty() || rest.len() % 8 != 0 || rest.len() / 8 > usize::from(u16::MAX) {
            return None;
        }
        let program = rest
            .chunks_exact(8)
            .map(|c| sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Self {
            program,
            flags: u32::from_le_bytes(*flags),
            unknown: vec![],
            counts: vec![],
        })
    }

    /// The number of BPF instructions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Whether the program is empty (never, once compiled).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// What the filter returns for a call, computed by a small BPF
    /// interpreter (for tests and checks; the kernel runs the real thing).
    /// `None` for an instruction the interpreter does not know.
    #[must_use]
    pub fn evaluate(&self, arch: u32, nr: u32, args: [u64; 6]) -> Option<u32> {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let p = &self.program;
        let mut a: u32 = 0;
        let mut pc = 0usize;
        while pc < p.len() {
            let ins = &p[pc];
            pc += 1;
            let jump = |cond: bool| usize::from(if cond { ins.jt } else { ins.jf });
            match ins.code {
                0x20 => {
                    let o = ins.k as usize;
                    a = u32::from_le_bytes(data.get(o..o + 4)?.try_into().ok()?);
                }
                0x54 => a &= ins.k,
                0x05 => pc += ins.k as usize,
                0x15 => pc += jump(a == ins.k),
                0x25 => pc += jump(a > ins.k),
                0x35 => pc += jump(a >= ins.k),
                0x45 => pc += jump(a & ins.k != 0),
                0x06 => return Some(ins.k),
                _ => return None,
            }
        }
        None
    }

    /// Install the filter on the calling thread.  Without no_new_privs the
    /// kernel requires CAP_SYS_ADMIN.
    ///
    /// # Errors
    /// seccomp(2)'s; EACCES means neither no_new_privs nor CAP_SYS_ADMIN.
    pub fn install(&self) -> std::io::Result<()> {
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr().cast::<libc::sock_filter>().cast_mut(),
        };
        // SAFETY: `prog` points at `len` instructions of the layout the
        // kernel reads (seccompiler's sock_filter is repr(C) like libc's),
        // alive for the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::c_ulong::from(self.flags),
                &raw const prog,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOSYS) && self.flags == 0 {
            // Kernels before 3.17: the prctl interface.
            // SAFETY: as above.
            let r = unsafe {
                libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &raw const prog,
                    0,
                    0,
                )
            };
            if r == 0 {
                return Ok(());
            }
            return Err(std::io::Error::last_os_error());
        }
        Err(e)
    }
}

/// The value of a `--seccomp` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `default`: [`DEFAULT_JSON`].
    Default,
    /// `unconfined`: no filter.
    Unconfined,
    /// A profile file.
    File(PathBuf),
}

impl Choice {
    /// `default`, `unconfined`, or a file name.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "default" => Self::Default,
            "unconfined" => Self::Unconfined,
            f => Self::File(PathBuf::from(f)),
        }
    }

    /// The profile chosen (`None` for unconfined), read and parsed.
    ///
    /// # Errors
    /// A file that cannot be read or parsed, as `FILE: why`.
    pub fn load(&self) -> Result<Option<Profile>, String> {
        match self {
            Self::Unconfined => Ok(None),
            Self::Default => Ok(Some(default_profile())),
            Self::File(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("{}: {}", p.display(), crate::error_text(&e)))?;
                parse(&text)
                    .map(Some)
                    .map_err(|e| format!("{}: {e}", p.display()))
            }
        }
    }
}

/// What the status line of /proc/self/status says about seccomp: the
/// `Seccomp:` mode (0 none, 1 strict, 2 filter).
#[must_use]
pub fn current_mode() -> Option<u32> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: u32 = 62 | 0xC000_0000;

    fn target(caps: &[&str]) -> Target {
        let mut m = 0u64;
        for c in caps {
            if let Some(crate::caps::Cap::One(n)) = crate::caps::parse(c) {
                m |= 1 << n;
            }
        }
        Target {
            caps: m,
            arch: Arch::X86_64,
            kernel: (6, 1),
        }
    }

    fn nr(name: &str) -> u32 {
        Arch::X86_64.number(name).unwrap()
    }

    fn eval(f: &Filter, name: &str, args: [u64; 6]) -> u32 {
        f.evaluate(X86, nr(name), args).unwrap()
    }

    const EPERM: u32 = 0x0005_0000 | 1;
    const ALLOW: u32 = 0x7fff_0000;

    #[test]
    fn a_filter_goes_through_bytes_unchanged() {
        let f = default_profile()
            .compile(&target(crate::caps::DOCKER_DEFAULT))
            .unwrap();
        let b = f.to_bytes();
        let g = Filter::from_bytes(&b).unwrap();
        assert_eq!(g.to_bytes(), b);
        assert_eq!((g.len(), g.flags), (f.len(), f.flags));
        let z = [0u64; 6];
        for call in ["keyctl", "read", "mount", "ptrace"] {
            assert_eq!(eval(&g, call, z), eval(&f, call, z), "{call}");
        }
        for bad in [&b[..3], &b[..4], &b[..b.len() - 1]] {
            assert!(Filter::from_bytes(bad).is_none());
        }
    }

    #[test]
    fn tables_are_sorted_and_known() {
        for t in [syscalls::X86_64, syscalls::AARCH64] {
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        }
        assert_eq!(nr("read"), 0);
        assert_eq!(nr("keyctl"), 250);
        assert_eq!(nr("open_tree_attr"), 467);
        assert_eq!(Arch::Aarch64.number("keyctl"), Some(219));
        assert_eq!(Arch::Aarch64.number("open"), None);
        assert_eq!(Arch::X86_64.number("nosuchcall"), None);
    }

    #[test]
    fn default_profile_parses_and_blocks_docker_s_list() {
        let p = default_profile();
        assert_eq!(p.default_action, Action::Errno(1));
        let f = p.compile(&target(crate::caps::DOCKER_DEFAULT)).unwrap();
        assert!(f.len() < BPF_MAXINSNS);
        let z = [0u64; 6];
        for blocked in [
            "keyctl",
            "add_key",
            "request_key",
            "bpf",
            "kexec_load",
            "open_by_handle_at",
            "perf_event_open",
            "userfaultfd",
            "io_uring_setup",
            "mount",
            "umount2",
            "pivot_root",
            "unshare",
            "setns",
            "swapon",
            "reboot",
            "init_module",
            "finit_module",
            "ptrace",
        ] {
            let expect = if blocked == "ptrace" { ALLOW } else { EPERM };
            assert_eq!(eval(&f, blocked, z), expect, "{blocked}");
        }
        for ok in [
            "read",
            "openat",
            "execve",
            "chroot",
            "mknod",
            "futex",
            "exit_group",
        ] {
            assert_eq!(eval(&f, ok, z), ALLOW, "{ok}");
        }
        // clone: threads and forks yes, namespaces no; clone3 ENOSYS.
        let thread = 0x3d0f00u64;
        assert_eq!(eval(&f, "clone", [thread, 0, 0, 0, 0, 0]), ALLOW);
        let newuser = 0x1000_0000u64;
        assert_eq!(eval(&f, "clone", [newuser | 17, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(eval(&f, "clone3", z), 0x0005_0000 | 38);
        // personality: the listed values only.
        assert_eq!(eval(&f, "personality", [8, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(eval(&f, "personality", [0x0040_0000, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(eval(&f, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]), ALLOW);
        // socket: not AF_VSOCK.
        assert_eq!(eval(&f, "socket", [1, 1, 0, 0, 0, 0]), ALLOW);
        assert_eq!(eval(&f, "socket", [40, 1, 0, 0, 0, 0]), EPERM);
        // Another ABI is killed.
        assert_eq!(f.evaluate(3 | 0x4000_0000, 0, z), Some(0x8000_0000));
    }

    #[test]
    fn dispatch_by_range_decides_as_one_chain() {
        let custom = parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir", "kill", "read", "open_tree_attr"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS",
                 "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        for p in [default_profile(), custom] {
            for caps in [&[][..], crate::caps::DOCKER_DEFAULT, &["CAP_SYS_ADMIN"][..]] {
                let t = target(caps);
                let one = p.compile_in_ranges(&t, usize::MAX).unwrap();
                for per in [1, 5, RANGE_CALLS, 100] {
                    let split = p.compile_in_ranges(&t, per).unwrap();
                    for nr in (0..520).chain([0x4000_0000, 0x4000_0001, u32::MAX]) {
                        for args in [
                            [0u64; 6],
                            [0x1000_0000 | 17, 9, 0, 0, 0, 0],
                            [40, 1, 0, 0, 0, 0],
                        ] {
                            assert_eq!(
                                one.evaluate(X86, nr, args),
                                split.evaluate(X86, nr, args),
                                "nr {nr} per {per}"
                            );
                        }
                    }
                    assert_eq!(
                        split.evaluate(3 | 0x4000_0000, 0, [0; 6]),
                        Some(0x8000_0000)
                    );
                }
            }
        }
    }

    #[test]
    fn capabilities_open_their_calls() {
        let f = default_profile()
            .compile(&target(&["CAP_SYS_ADMIN", "CAP_SYS_MODULE"]))
            .unwrap();
        let z = [0u64; 6];
        for ok in ["mount", "unshare", "setns", "clone3", "init_module"] {
            assert_eq!(eval(&f, ok, z), ALLOW, "{ok}");
        }
        assert_eq!(eval(&f, "clone", [0x1000_0000 | 17, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(eval(&f, "keyctl", z), EPERM);
        assert_eq!(eval(&f, "chroot", z), EPERM);
        // An old kernel: no ptrace.
        let mut t = target(&[]);
        t.kernel = (4, 4);
        let f = default_profile().compile(&t).unwrap();
        assert_eq!(eval(&f, "ptrace", z), EPERM);
    }

    #[test]
    fn custom_profile_with_conditions_and_actions() {
        let p = parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [
                  {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                  {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
                  {"names": ["setpgid"], "action": "SCMP_ACT_KILL_PROCESS"},
                  {"names": ["fcntl"], "action": "SCMP_ACT_TRAP",
                   "args": [{"index": 1, "value": 1024, "op": "SCMP_CMP_GE"},
                            {"index": 1, "value": 1030, "op": "SCMP_CMP_EQ"}]},
                  {"name": "getpid", "action": "SCMP_ACT_LOG"},
                  {"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}
                ]}"#,
        )
        .unwrap();
        let f = p.compile(&target(&[])).unwrap();
        assert_eq!(f.unknown, ["no_such_call"]);
        let z = [0u64; 6];
        assert_eq!(eval(&f, "mkdir", z), 0x0005_0000 | 13);
        assert_eq!(eval(&f, "mkdirat", z), 0x0005_0000 | 13);
        assert_eq!(eval(&f, "kill", [1, 9, 0, 0, 0, 0]), EPERM);
        assert_eq!(eval(&f, "kill", [1, 15, 0, 0, 0, 0]), ALLOW);
        assert_eq!(eval(&f, "setpgid", z), 0x8000_0000);
        // Two conditions on one argument: either one.
        assert_eq!(eval(&f, "fcntl", [0, 1025, 0, 0, 0, 0]), 0x0003_0000);
        assert_eq!(eval(&f, "fcntl", [0, 2, 0, 0, 0, 0]), ALLOW);
        assert_eq!(eval(&f, "getpid", z), 0x7ffc_0000);
        assert_eq!(eval(&f, "read", z), ALLOW);
        // A 64-bit argument compares all 64 bits.
        assert_eq!(eval(&f, "kill", [1, (1 << 32) | 9, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn masked_eq_and_refusals() {
        let p = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 2, "value": 255, "valueTwo": 16, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
        )
        .unwrap();
        let f = p.compile(&target(&[])).unwrap();
        assert_eq!(eval(&f, "read", [0, 0, 0x110, 0, 0, 0]), ALLOW);
        assert_eq!(eval(&f, "read", [0, 0, 0x111, 0, 0, 0]), 0x0005_0000 | 38);
        assert_eq!(eval(&f, "write", [0; 6]), 0x0005_0000 | 38);
        for bad in [
            r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#,
            r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#,
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]}"#,
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}"#,
            "not json",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Choice::parse("default"), Choice::Default);
        assert_eq!(Choice::parse("unconfined"), Choice::Unconfined);
        assert!(
            Choice::parse("/no/such")
                .load()
                .unwrap_err()
                .contains("/no/such")
        );
        assert_eq!(Choice::Unconfined.load(), Ok(None));
    }
}
