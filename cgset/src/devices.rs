//! The devices cgroup: docker's `--device-cgroup-rule` rules, the allow
//! list of its default containers, and the rules `--device` implies.
//!
//! On cgroup v1 the rules are written to `devices.deny` (`a`: deny
//! everything) and `devices.allow`, one rule a write.  cgroup v2 has no
//! device files: the policy is a `BPF_PROG_TYPE_CGROUP_DEVICE` program
//! attached to the cgroup.  It is generated here instruction by
//! instruction, loaded and attached with the raw bpf(2) system call (no
//! libbpf), as runc and crun do.

use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;

use anyhow::{Result, anyhow, bail};

/// Access bits, as the kernel's BPF_DEVCG_ACC_*.
pub const MKNOD: u8 = 1;
/// Read.
pub const READ: u8 = 2;
/// Write.
pub const WRITE: u8 = 4;
const ALL: u8 = MKNOD | READ | WRITE;

/// One allow rule: `TYPE MAJOR:MINOR ACCESS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// `a` (both), `b` (block) or `c` (char).
    pub kind: char,
    /// None: `*`.
    pub major: Option<u32>,
    /// None: `*`.
    pub minor: Option<u32>,
    /// MKNOD | READ | WRITE bits.
    pub access: u8,
}

impl Rule {
    const fn new(kind: char, major: Option<u32>, minor: Option<u32>, access: u8) -> Self {
        Self {
            kind,
            major,
            minor,
            access,
        }
    }
}

fn access_text(a: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
        if a & bit != 0 {
            s.push(c);
        }
    }
    s
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: Option<u32>| v.map_or_else(|| "*".to_string(), |x| x.to_string());
        write!(
            f,
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            access_text(self.access)
        )
    }
}

/// The allow list of docker's default (unprivileged) container: runc's
/// `AllowedDevices`, with mknod of any node.
pub const DEFAULT: &[Rule] = &[
    Rule::new('c', None, None, MKNOD),
    Rule::new('b', None, None, MKNOD),
    Rule::new('c', Some(1), Some(3), ALL),    // /dev/null
    Rule::new('c', Some(1), Some(5), ALL),    // /dev/zero
    Rule::new('c', Some(1), Some(7), ALL),    // /dev/full
    Rule::new('c', Some(1), Some(8), ALL),    // /dev/random
    Rule::new('c', Some(1), Some(9), ALL),    // /dev/urandom
    Rule::new('c', Some(5), Some(0), ALL),    // /dev/tty
    Rule::new('c', Some(5), Some(1), ALL),    // /dev/console
    Rule::new('c', Some(5), Some(2), ALL),    // /dev/ptmx
    Rule::new('c', Some(136), None, ALL),     // /dev/pts/*
    Rule::new('c', Some(10), Some(200), ALL), // /dev/net/tun
];

/// Parse an access string (`r`, `w`, `m` in any order, at least one).
fn parse_access(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 3 {
        return None;
    }
    let mut a = 0;
    for c in s.chars() {
        a |= match c {
            'r' => READ,
            'w' => WRITE,
            'm' => MKNOD,
            _ => return None,
        };
    }
    Some(a)
}

/// A device number field: digits, or `*`.  Values above i32::MAX cannot be
/// compared in a BPF instruction's immediate and name no device.
fn parse_num(s: &str) -> Option<Option<u32>> {
    if s == "*" {
        return Some(None);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = s.parse().ok()?;
    (i32::try_from(n).is_ok()).then_some(Some(n))
}

/// Parse a rule in docker's `--device-cgroup-rule` syntax (its regular
/// expression `^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`).
///
/// # Errors
/// docker's message, `invalid device cgroup format 'RULE'`.
pub fn parse_rule(s: &str) -> Result<Rule> {
    let bad = || {
        anyhow!(
            "invalid argument \"{s}\" for \"--device-cgroup-rule\" flag: invalid device cgroup format '{s}'"
        )
    };
    let parts: Vec<&str> = s.split(' ').collect();
    let [kind, nums, acc] = parts[..] else {
        return Err(bad());
    };
    let kind = match kind {
        "a" | "b" | "c" => kind.chars().next().unwrap_or('a'),
        _ => return Err(bad()),
    };
    let (maj, min) = nums.split_once(':').ok_or_else(bad)?;
    let major = parse_num(maj).ok_or_else(bad)?;
    let minor = parse_num(min).ok_or_else(bad)?;
    let access = parse_access(acc).ok_or_else(bad)?;
    Ok(Rule {
        kind,
        major,
        minor,
        access,
    })
}

/// The rules of `--device-allow PATH[:ACCESS]` (docker's `--device
/// HOST[:CONTAINER][:ACCESS]` is taken too, the container path ignored):
/// the device node PATH, or every device node below the directory PATH
/// (as docker does for `--device /dev/snd`).  `stat` gives the numbers.
///
/// # Errors
/// docker's messages for a bad mode, a bad specification and a path that
/// names no device.
pub fn parse_allow(spec: &str, stat: &dyn Fn(&Path) -> io::Result<Node>) -> Result<Vec<Rule>> {
    let arr: Vec<&str> = spec.split(':').collect();
    let (path, access) = match arr[..] {
        [p] => (p, ALL),
        [p, x] => match parse_access(x) {
            Some(a) => (p, a),
            None if x.starts_with('/') => (p, ALL),
            None => {
                bail!("invalid argument \"{spec}\" for \"--device-allow\" flag: invalid mode: {x}")
            }
        },
        [p, _, m] => match parse_access(m) {
            Some(a) => (p, a),
            None => {
                bail!("invalid argument \"{spec}\" for \"--device-allow\" flag: invalid mode: {m}")
            }
        },
        _ => bail!(
            "invalid argument \"{spec}\" for \"--device-allow\" flag: invalid device specification: {spec}"
        ),
    };
    if path.is_empty() {
        bail!(
            "invalid argument \"{spec}\" for \"--device-allow\" flag: bad format for path: {spec}"
        );
    }
    let gather = |e: &dyn fmt::Display| {
        anyhow!("error gathering device information while adding custom device \"{path}\": {e}")
    };
    let node = stat(Path::new(path)).map_err(|e| gather(&go_errno(&e)))?;
    let mut nodes = Vec::new();
    match node {
        Node::Dir => walk(Path::new(path), stat, &mut nodes, 0),
        Node::Other => return Err(gather(&"not a device node")),
        n => nodes.push(n),
    }
    let mut out: Vec<Rule> = Vec::new();
    for n in nodes {
        let r = match n {
            Node::Char(ma, mi) => Rule::new('c', Some(ma), Some(mi), access),
            Node::Block(ma, mi) => Rule::new('b', Some(ma), Some(mi), access),
            _ => continue,
        };
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Device nodes below a directory (docker's `--device DIR`), symlinks
/// not followed below the top.
fn walk(dir: &Path, stat: &dyn Fn(&Path) -> io::Result<Node>, out: &mut Vec<Node>, depth: u32) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(fs::DirEntry::file_name);
    for e in entries {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() && depth < 16 {
            walk(&e.path(), stat, out, depth + 1);
        } else if (t.is_char_device() || t.is_block_device())
            && let Ok(n) = stat(&e.path())
        {
            out.push(n);
        }
    }
}

/// Go's errno text (lower-case first letter), as docker prints it.
fn go_errno(e: &io::Error) -> String {
    let t = ctcore::error_text(e);
    let mut c = t.chars();
    c.next()
        .map_or(String::new(), |f| f.to_lowercase().chain(c).collect())
}

/// What a path is, for `--device-allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Char(u32, u32),
    Block(u32, u32),
    Dir,
    Other,
}

/// stat(2), following symbolic links (docker resolves them first).
///
/// # Errors
/// stat's.
pub fn stat_node(p: &Path) -> io::Result<Node> {
    let st = nix::sys::stat::stat(p).map_err(io::Error::from)?;
    let (ma, mi) = (
        libc::major(st.st_rdev) as u32,
        libc::minor(st.st_rdev) as u32,
    );
    Ok(match st.st_mode & libc::S_IFMT {
        libc::S_IFCHR => Node::Char(ma, mi),
        libc::S_IFBLK => Node::Block(ma, mi),
        libc::S_IFDIR => Node::Dir,
        _ => Node::Other,
    })
}

/// The device policy of one run: deny everything, then allow `allow`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub allow: Vec<Rule>,
}

impl Policy {
    /// From the three options; None when none is given.
    ///
    /// # Errors
    /// For a bad rule or a path that is no device.
    pub fn from_options(
        default: bool,
        rules: &[String],
        allow: &[String],
        stat: &dyn Fn(&Path) -> io::Result<Node>,
    ) -> Result<Option<Self>> {
        if !default && rules.is_empty() && allow.is_empty() {
            return Ok(None);
        }
        let mut p = Self::default();
        let mut add = |r: Rule| {
            if !p.allow.contains(&r) {
                p.allow.push(r);
            }
        };
        if default {
            DEFAULT.iter().copied().for_each(&mut add);
        }
        for r in rules {
            add(parse_rule(r)?);
        }
        for a in allow {
            parse_allow(a, stat)?.into_iter().for_each(&mut add);
        }
        Ok(Some(p))
    }

    /// The v1 allow lines, as devices.list shows them (a rule of type `a`
    /// as one `b` and one `c` rule: the kernel reads a written `a` as
    /// "every device, rwm", whatever follows).
    #[must_use]
    pub fn v1_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.allow {
            let kinds: &[char] = if r.kind == 'a' {
                &['b', 'c']
            } else {
                &[r.kind]
            };
            for &k in kinds {
                let l = Rule { kind: k, ..*r }.to_string();
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        }
        out
    }

    /// The v1 writes that turn the group's devices.list `current` (None: a
    /// group not made yet) into this policy.  From "everything allowed"
    /// (`a *:* rwm`, what a new group under an unrestricted parent has):
    /// `a` to devices.deny, then each allow line.  From a list (a group that
    /// has a policy already): the lines to drop to devices.deny first, then
    /// the missing ones to devices.allow, so that a running group never has
    /// more than the old or the new policy gives, keeps the devices both
    /// allow all along, and re-applying the same policy writes nothing.
    #[must_use]
    pub fn v1_writes(&self, current: Option<&str>) -> Vec<(&'static str, String)> {
        let want = self.v1_lines();
        let have: Vec<&str> = current.map_or_else(Vec::new, |c| c.lines().map(str::trim).collect());
        if current.is_none() || have.contains(&"a *:* rwm") {
            let mut out = vec![("devices.deny", "a".to_string())];
            out.extend(want.into_iter().map(|l| ("devices.allow", l)));
            return out;
        }
        let mut out: Vec<(&'static str, String)> = have
            .iter()
            .filter(|l| !l.is_empty() && !want.iter().any(|w| w == *l))
            .map(|l| ("devices.deny", (*l).to_string()))
            .collect();
        out.extend(
            want.into_iter()
                .filter(|w| !have.contains(&w.as_str()))
                .map(|l| ("devices.allow", l)),
        );
        out
    }

    /// One line for --dry-run and messages.
    #[must_use]
    pub fn summary(&self) -> String {
        if self.allow.is_empty() {
            return "deny every device".into();
        }
        let list: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
        format!("deny every device but {}", list.join(", "))
    }
}

// ---------------------------------------------------------------------------
// cgroup v2: the BPF program.

/// One eBPF instruction (struct bpf_insn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The kernel's 8-byte encoding (little-endian host).
    #[must_use]
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.src << 4) | (self.dst & 0x0f);
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

// Opcodes: class | op | source.
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

/// The device type numbers of struct bpf_cgroup_dev_ctx (BPF_DEVCG_DEV_*).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// The program for `policy`: allow what one rule allows, deny the rest.
///
/// The context (struct bpf_cgroup_dev_ctx) is `u32 access_type` (access
/// bits << 16 | device type), `u32 major`, `u32 minor`; r0 = 1 allows.
/// Registers: r2 type, r3 access, r4 major, r5 minor; per rule one block
/// of tests, each jumping to the next block on a mismatch.
#[must_use]
pub fn program(policy: &Policy) -> Vec<Insn> {
    let mut p = vec![
        ins(LDX_MEM_W, 2, 1, 0, 0),
        ins(ALU32_AND_K, 2, 0, 0, 0xffff),
        ins(LDX_MEM_W, 3, 1, 0, 0),
        ins(ALU32_RSH_K, 3, 0, 0, 16),
        ins(LDX_MEM_W, 4, 1, 4, 0),
        ins(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in &policy.allow {
        // The tests of the block, their jump offsets filled in below.
        let mut block: Vec<Insn> = Vec::new();
        match r.kind {
            'b' => block.push(ins(JNE_K, 2, 0, 0, DEV_BLOCK)),
            'c' => block.push(ins(JNE_K, 2, 0, 0, DEV_CHAR)),
            _ => {}
        }
        if r.access & ALL != ALL {
            // Every access asked for must be allowed: (asked & allowed) == asked.
            block.push(ins(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(ins(ALU32_AND_K, 1, 0, 0, i32::from(r.access)));
            block.push(ins(JNE_X, 1, 3, 0, 0));
        }
        if let Some(m) = r.major {
            block.push(ins(JNE_K, 4, 0, 0, m.cast_signed()));
        }
        if let Some(m) = r.minor {
            block.push(ins(JNE_K, 5, 0, 0, m.cast_signed()));
        }
        block.push(ins(ALU32_MOV_K, 0, 0, 0, 1));
        block.push(ins(EXIT, 0, 0, 0, 0));
        let n = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            if insn.code == JNE_K || insn.code == JNE_X {
                // Relative to the next instruction: past the rest of the block.
                insn.off = i16::try_from(n - i - 1).unwrap_or(i16::MAX);
            }
        }
        p.extend(block);
    }
    p.push(ins(ALU32_MOV_K, 0, 0, 0, 0));
    p.push(ins(EXIT, 0, 0, 0, 0));
    p
}

/// What the program decides for a request, by interpreting its
/// instructions (the subset [`program`] emits) as the kernel would.
/// For tests: `kind` 'b' or 'c', `access` MKNOD | READ | WRITE bits.
#[must_use]
pub fn interpret(prog: &[Insn], kind: char, major: u32, minor: u32, access: u8) -> Option<bool> {
    let dev = if kind == 'b' { DEV_BLOCK } else { DEV_CHAR };
    let ctx = [
        (u32::from(access) << 16) | dev.cast_unsigned(),
        major,
        minor,
    ];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..100_000 {
        let i = prog.get(pc)?;
        let (d, s) = (usize::from(i.dst), usize::from(i.src));
        let imm = i64::from(i.imm).cast_unsigned();
        pc += 1;
        match i.code {
            LDX_MEM_W => r[d] = u64::from(ctx[usize::try_from(i.off).ok()? / 4]),
            ALU32_AND_K => r[d] = (r[d] & imm) & 0xffff_ffff,
            ALU32_RSH_K => r[d] = (r[d] & 0xffff_ffff) >> imm,
            ALU32_MOV_K => r[d] = imm & 0xffff_ffff,
            ALU32_MOV_X => r[d] = r[s] & 0xffff_ffff,
            JNE_K | JNE_X => {
                let other = if i.code == JNE_K { imm } else { r[s] };
                if r[d] != other {
                    pc = pc.checked_add_signed(isize::from(i.off))?;
                }
            }
            EXIT => return Some(r[0] == 1),
            _ => return None,
        }
    }
    None
}

/// The rules of a program [`program`] generated, read back from its
/// instructions; None for any other program.
#[must_use]
pub fn decode(prog: &[Insn]) -> Option<Vec<Rule>> {
    let head = program(&Policy::default());
    if prog.len() < head.len() || prog[..6] != head[..6] {
        return None;
    }
    let mut rules = Vec::new();
    let mut i = 6;
    loop {
        let at = |k: usize| prog.get(k).copied();
        // The end: deny.
        if at(i) == Some(ins(ALU32_MOV_K, 0, 0, 0, 0)) && at(i + 1) == Some(ins(EXIT, 0, 0, 0, 0)) {
            return (i + 2 == prog.len()).then_some(rules);
        }
        let mut r = Rule::new('a', None, None, ALL);
        let mut x = at(i)?;
        if x.code == JNE_K && x.dst == 2 {
            r.kind = match x.imm {
                DEV_BLOCK => 'b',
                DEV_CHAR => 'c',
                _ => return None,
            };
            i += 1;
            x = at(i)?;
        }
        if x == ins(ALU32_MOV_X, 1, 3, 0, 0) {
            let and = at(i + 1)?;
            if and.code != ALU32_AND_K || and.dst != 1 || at(i + 2)?.code != JNE_X {
                return None;
            }
            r.access = u8::try_from(and.imm).ok()? & ALL;
            i += 3;
            x = at(i)?;
        }
        if x.code == JNE_K && x.dst == 4 {
            r.major = Some(x.imm.cast_unsigned());
            i += 1;
            x = at(i)?;
        }
        if x.code == JNE_K && x.dst == 5 {
            r.minor = Some(x.imm.cast_unsigned());
            i += 1;
            x = at(i)?;
        }
        if x != ins(ALU32_MOV_K, 0, 0, 0, 1) || at(i + 1)? != ins(EXIT, 0, 0, 0, 0) {
            return None;
        }
        i += 2;
        rules.push(r);
    }
}

// bpf(2) commands, types and flags (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The name cgset gives its programs, to find them again.
pub const PROG_NAME: &str = "cgset_devices";

/// A zeroed `union bpf_attr`, filled field by field at the kernel's offsets.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Self {
        Self([0; 128])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn get_u32(&self, off: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.0[off..off + 4]);
        u32::from_ne_bytes(b)
    }
}

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<i64> {
    // SAFETY: attr is a zero-filled bpf_attr of 128 bytes whose pointer
    // fields point at buffers that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            std::mem::size_of::<Attr>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: i64) -> io::Result<OwnedFd> {
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: a new descriptor the kernel just returned to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ptr<T>(p: *const T) -> u64 {
    p as usize as u64
}

/// Load the program; on a verifier refusal, again with its log.
fn load(insns: &[Insn]) -> Result<OwnedFd> {
    let code: Vec<u8> = insns.iter().flat_map(Insn::encode).collect();
    let license = c"GPL";
    let try_load = |log: Option<&mut Vec<u8>>| {
        let mut a = Attr::new();
        a.u32(0, BPF_PROG_TYPE_CGROUP_DEVICE)
            .u32(4, u32::try_from(insns.len()).unwrap_or(u32::MAX))
            .u64(8, ptr(code.as_ptr()))
            .u64(16, ptr(license.as_ptr()));
        if let Some(l) = log {
            a.u32(24, 1)
                .u32(28, u32::try_from(l.len()).unwrap_or(0))
                .u64(32, ptr(l.as_mut_ptr()));
        }
        a.0[48..48 + PROG_NAME.len()].copy_from_slice(PROG_NAME.as_bytes());
        bpf(BPF_PROG_LOAD, &mut a).and_then(owned)
    };
    match try_load(None) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            let hint = match e.raw_os_error() {
                Some(libc::EPERM) => {
                    " (loading a BPF program needs CAP_SYS_ADMIN or CAP_BPF: run as root)"
                        .to_string()
                }
                Some(libc::ENOSYS) => {
                    " (the kernel has no bpf(2): CONFIG_BPF_SYSCALL is off)".into()
                }
                Some(libc::EINVAL) => {
                    let mut log = vec![0u8; 1 << 16];
                    let _ = try_load(Some(&mut log));
                    let text = String::from_utf8_lossy(&log);
                    let text = text.trim_end_matches('\0').trim();
                    let last = text.lines().last().unwrap_or("");
                    if last.is_empty() {
                        " (the kernel lacks BPF_PROG_TYPE_CGROUP_DEVICE: CONFIG_CGROUP_BPF is off?)"
                            .into()
                    } else {
                        format!(" (verifier: {last})")
                    }
                }
                _ => String::new(),
            };
            Err(anyhow!(
                "cannot load the device program (BPF_PROG_TYPE_CGROUP_DEVICE): {}{hint}",
                ctcore::error_text(&e)
            ))
        }
    }
}

/// The ids of the device programs attached to a cgroup directly.
fn query(cg: &OwnedFd) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut a = Attr::new();
        a.u32(0, u32::try_from(cg.as_raw_fd()).unwrap_or(0))
            .u32(4, BPF_CGROUP_DEVICE)
            .u64(16, ptr(ids.as_mut_ptr()))
            .u32(24, u32::try_from(ids.len()).unwrap_or(0));
        match bpf(BPF_PROG_QUERY, &mut a) {
            Ok(_) => {
                let n = a.get_u32(24) as usize;
                ids.truncate(n.min(ids.len()));
                return Ok(ids);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && ids.len() < 1 << 16 => {
                let n = (a.get_u32(24) as usize).max(ids.len() * 2);
                ids = vec![0; n];
            }
            Err(e) => return Err(e),
        }
    }
}

/// An attached program: its id and name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attached {
    pub id: u32,
    pub name: String,
    /// The rules it allows, read back from the instructions of a program
    /// cgset made (None for others, or where the kernel does not show them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<String>>,
}

fn prog_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, id);
    bpf(BPF_PROG_GET_FD_BY_ID, &mut a).and_then(owned)
}

/// struct bpf_prog_info up to its name (offset 64, 16 bytes); with
/// `insns`, the translated instructions are copied there (their length in
/// bytes at offset 20, the buffer at offset 32).
fn prog_info(fd: &OwnedFd, insns: Option<&mut Vec<u8>>) -> io::Result<[u8; 80]> {
    #[repr(C, align(8))]
    struct Info([u8; 80]);
    let mut info = Info([0u8; 80]);
    if let Some(buf) = insns {
        info.0[20..24].copy_from_slice(&u32::try_from(buf.len()).unwrap_or(0).to_ne_bytes());
        info.0[32..40].copy_from_slice(&ptr(buf.as_mut_ptr()).to_ne_bytes());
    }
    let mut a = Attr::new();
    a.u32(0, u32::try_from(fd.as_raw_fd()).unwrap_or(0))
        .u32(4, 80)
        .u64(8, ptr(info.0.as_mut_ptr()));
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a)?;
    Ok(info.0)
}

fn prog_name(fd: &OwnedFd) -> io::Result<String> {
    let info = prog_info(fd, None)?;
    let name = &info[64..80];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(String::from_utf8_lossy(&name[..end]).into_owned())
}

/// The program's instructions, as the kernel keeps them.
fn prog_insns(fd: &OwnedFd) -> io::Result<Vec<Insn>> {
    let info = prog_info(fd, None)?;
    let len = u32::from_ne_bytes([info[20], info[21], info[22], info[23]]) as usize;
    let mut buf = vec![0u8; len];
    prog_info(fd, Some(&mut buf))?;
    Ok(buf
        .chunks_exact(8)
        .map(|b| Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_ne_bytes([b[2], b[3]]),
            imm: i32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect())
}

fn open_cgroup(dir: &Path) -> Result<OwnedFd> {
    fs::File::open(dir).map(OwnedFd::from).map_err(|e| {
        anyhow!(
            "cannot open cgroup {}: {}",
            dir.display(),
            ctcore::error_text(&e)
        )
    })
}

/// The device programs attached to the v2 cgroup `dir` itself.
///
/// # Errors
/// When the cgroup cannot be opened or queried.
pub fn attached(dir: &Path) -> Result<Vec<Attached>> {
    let cg = open_cgroup(dir)?;
    let ids = query(&cg).map_err(|e| {
        anyhow!(
            "cannot list the device programs of {}: {}",
            dir.display(),
            ctcore::error_text(&e)
        )
    })?;
    Ok(ids
        .into_iter()
        .map(|id| {
            let fd = prog_by_id(id).ok();
            let name = fd
                .as_ref()
                .and_then(|fd| prog_name(fd).ok())
                .unwrap_or_default();
            let rules = fd
                .as_ref()
                .filter(|_| name == PROG_NAME)
                .and_then(|fd| prog_insns(fd).ok())
                .and_then(|p| decode(&p))
                .map(|r| r.iter().map(ToString::to_string).collect());
            Attached { id, name, rules }
        })
        .collect())
}

/// Attach the policy's program to the v2 cgroup `dir` (BPF_F_ALLOW_MULTI),
/// then detach the programs cgset attached there before; nothing when
/// cgset's one program there has the same rules.  Between the two
/// both run, and a request passes only when every program allows it: the
/// group never has more access than either policy gives.
///
/// # Errors
/// When the kernel refuses the program or the attachment.
pub fn attach_v2(dir: &Path, policy: &Policy, dry: bool) -> Result<()> {
    let insns = program(policy);
    if dry {
        println!(
            "bpf attach {} cgroup_device ({} instructions): {}",
            dir.display(),
            insns.len(),
            policy.summary()
        );
        return Ok(());
    }
    let cg = open_cgroup(dir)?;
    let old: Vec<(u32, OwnedFd)> = query(&cg)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|id| {
            let fd = prog_by_id(id).ok()?;
            (prog_name(&fd).ok()? == PROG_NAME).then_some((id, fd))
        })
        .collect();
    // The same policy attached already (a join of a group with rules given
    // again): nothing to do.
    if let [(_, fd)] = &old[..]
        && prog_insns(fd).ok().and_then(|p| decode(&p)).as_ref() == Some(&policy.allow)
    {
        return Ok(());
    }
    let prog = load(&insns)?;
    let mut a = Attr::new();
    a.u32(0, u32::try_from(cg.as_raw_fd()).unwrap_or(0))
        .u32(4, u32::try_from(prog.as_raw_fd()).unwrap_or(0))
        .u32(8, BPF_CGROUP_DEVICE)
        .u32(12, BPF_F_ALLOW_MULTI);
    if let Err(e) = bpf(BPF_PROG_ATTACH, &mut a) {
        let hint = match e.raw_os_error() {
            Some(libc::EPERM) => {
                " (a device program attached without BPF_F_ALLOW_MULTI is there already, or no privilege)"
            }
            Some(libc::EINVAL) => " (the kernel has no cgroup BPF: CONFIG_CGROUP_BPF is off?)",
            _ => "",
        };
        bail!(
            "cannot attach the device program to {}: {}{hint}",
            dir.display(),
            ctcore::error_text(&e)
        );
    }
    for (id, fd) in old {
        let mut a = Attr::new();
        a.u32(0, u32::try_from(cg.as_raw_fd()).unwrap_or(0))
            .u32(4, u32::try_from(fd.as_raw_fd()).unwrap_or(0))
            .u32(8, BPF_CGROUP_DEVICE);
        if let Err(e) = bpf(BPF_PROG_DETACH, &mut a) {
            bail!(
                "cannot detach the previous device program (id {id}) from {}: {}",
                dir.display(),
                ctcore::error_text(&e)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_stat(_: &Path) -> io::Result<Node> {
        Err(io::Error::from_raw_os_error(libc::ENOENT))
    }

    #[test]
    fn rules_in_docker_syntax() {
        assert_eq!(
            parse_rule("c 1:3 rwm").unwrap(),
            Rule::new('c', Some(1), Some(3), ALL)
        );
        assert_eq!(
            parse_rule("b *:* m").unwrap(),
            Rule::new('b', None, None, MKNOD)
        );
        assert_eq!(
            parse_rule("a 7:* rw").unwrap(),
            Rule::new('a', Some(7), None, READ | WRITE)
        );
        assert_eq!(parse_rule("c 136:* wr").unwrap().to_string(), "c 136:* rw");
        for bad in [
            "",
            "c",
            "c 1:3",
            "x 1:3 r",
            "c 1 r",
            "c 1:3 rwx",
            "c 1:3 rwmr",
            "c -1:3 r",
            "c 1:3  r",
            " c 1:3 r",
            "c 1:3 r ",
            "c 1:a r",
            "c 99999999999:1 r",
            "c 1:3 ",
        ] {
            let e = parse_rule(bad).unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "invalid argument \"{bad}\" for \"--device-cgroup-rule\" flag: invalid device cgroup format '{bad}'"
                )
            );
        }
    }

    #[test]
    fn allow_paths() {
        let st = |p: &Path| -> io::Result<Node> {
            match p.to_str().unwrap() {
                "/dev/loop0" => Ok(Node::Block(7, 0)),
                "/dev/null" => Ok(Node::Char(1, 3)),
                "/etc/passwd" => Ok(Node::Other),
                _ => no_stat(p),
            }
        };
        let one = |s: &str| parse_allow(s, &st);
        assert_eq!(
            one("/dev/loop0").unwrap(),
            [Rule::new('b', Some(7), Some(0), ALL)]
        );
        assert_eq!(
            one("/dev/loop0:r").unwrap(),
            [Rule::new('b', Some(7), Some(0), READ)]
        );
        assert_eq!(
            one("/dev/null:/dev/x").unwrap(),
            [Rule::new('c', Some(1), Some(3), ALL)]
        );
        assert_eq!(
            one("/dev/null:/dev/x:rw").unwrap(),
            [Rule::new('c', Some(1), Some(3), READ | WRITE)]
        );
        let e = |s: &str| one(s).unwrap_err().to_string();
        assert!(
            e("/dev/null:/x:q").ends_with("invalid mode: q"),
            "{}",
            e("/dev/null:/x:q")
        );
        assert!(e("/dev/null:q").ends_with("invalid mode: q"));
        assert!(e("/a:/b:r:x").ends_with("invalid device specification: /a:/b:r:x"));
        assert_eq!(
            e("/dev/nope"),
            "error gathering device information while adding custom device \"/dev/nope\": no such file or directory"
        );
        assert_eq!(
            e("/etc/passwd"),
            "error gathering device information while adding custom device \"/etc/passwd\": not a device node"
        );
    }

    #[test]
    fn policy_starts_from_deny_all() {
        assert_eq!(
            Policy::from_options(false, &[], &[], &no_stat).unwrap(),
            None
        );
        let p = Policy::from_options(false, &["b 7:* rw".into()], &[], &no_stat)
            .unwrap()
            .unwrap();
        assert_eq!(
            p.v1_writes(None),
            [
                ("devices.deny", "a".to_string()),
                ("devices.allow", "b 7:* rw".to_string())
            ]
        );
        assert_eq!(p.v1_writes(Some("a *:* rwm\n")), p.v1_writes(None));
        // From a list: drop what goes, then add what is missing; the same
        // policy again writes nothing.
        assert_eq!(
            p.v1_writes(Some("c 1:3 rwm\nb 7:* r\n")),
            [
                ("devices.deny", "c 1:3 rwm".to_string()),
                ("devices.deny", "b 7:* r".to_string()),
                ("devices.allow", "b 7:* rw".to_string())
            ]
        );
        assert!(p.v1_writes(Some("b 7:* rw\n")).is_empty());
        // Everything denied already: only the additions.
        assert_eq!(
            p.v1_writes(Some("")),
            [("devices.allow", "b 7:* rw".to_string())]
        );
        let p = Policy::from_options(true, &["c 1:3 rwm".into(), "a 4:* r".into()], &[], &no_stat)
            .unwrap()
            .unwrap();
        // The duplicate of a default rule is dropped; `a` becomes b and c.
        assert_eq!(p.allow.len(), DEFAULT.len() + 1);
        let w = p.v1_writes(None);
        assert_eq!(w[1], ("devices.allow", "c *:* m".to_string()));
        assert_eq!(w[w.len() - 2], ("devices.allow", "b 4:* r".to_string()));
        assert_eq!(w[w.len() - 1], ("devices.allow", "c 4:* r".to_string()));
    }

    fn allows(p: &Policy, kind: char, ma: u32, mi: u32, acc: u8) -> bool {
        let prog = program(p);
        interpret(&prog, kind, ma, mi, acc).expect("the program runs to an exit")
    }

    #[test]
    fn the_program_allows_what_docker_allows() {
        let p = Policy::from_options(true, &[], &[], &no_stat)
            .unwrap()
            .unwrap();
        assert!(allows(&p, 'c', 1, 3, READ | WRITE));
        assert!(allows(&p, 'c', 1, 9, READ));
        assert!(allows(&p, 'c', 136, 42, READ | WRITE));
        assert!(allows(&p, 'c', 5, 2, READ | WRITE));
        assert!(allows(&p, 'c', 10, 200, READ | WRITE));
        // mknod of anything, opening none of it.
        assert!(allows(&p, 'b', 7, 0, MKNOD));
        assert!(allows(&p, 'c', 10, 232, MKNOD));
        assert!(!allows(&p, 'b', 7, 0, READ));
        assert!(!allows(&p, 'b', 7, 0, READ | MKNOD));
        assert!(!allows(&p, 'c', 10, 232, READ | WRITE));
        assert!(!allows(&p, 'c', 1, 1, READ)); // /dev/mem
        assert!(!allows(&p, 'b', 1, 3, READ)); // the type counts
        let p = Policy::from_options(
            false,
            &["b 7:* r".into(), "a 4:64 rw".into()],
            &[],
            &no_stat,
        )
        .unwrap()
        .unwrap();
        assert!(allows(&p, 'b', 7, 3, READ));
        assert!(!allows(&p, 'b', 7, 3, WRITE));
        assert!(!allows(&p, 'b', 7, 3, MKNOD));
        assert!(!allows(&p, 'c', 7, 3, READ));
        assert!(!allows(&p, 'b', 8, 0, READ));
        assert!(allows(&p, 'c', 4, 64, READ | WRITE));
        assert!(allows(&p, 'b', 4, 64, WRITE));
        assert!(!allows(&p, 'c', 4, 65, READ));
        assert!(!allows(&p, 'c', 1, 3, READ));
        // Deny everything.
        let p = Policy::default();
        assert_eq!(program(&p).len(), 8);
        assert!(!allows(&p, 'c', 1, 3, READ));
    }

    #[test]
    fn programs_read_back_as_their_rules() {
        for p in [
            Policy::default(),
            Policy::from_options(true, &[], &[], &no_stat)
                .unwrap()
                .unwrap(),
            Policy::from_options(
                false,
                &["a *:* r".into(), "b 7:* rwm".into(), "c 4:1 w".into()],
                &[],
                &no_stat,
            )
            .unwrap()
            .unwrap(),
        ] {
            assert_eq!(decode(&program(&p)), Some(p.allow.clone()));
        }
        let mut other = program(&Policy::default());
        other[7].code = JNE_K;
        assert_eq!(decode(&other), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn instruction_encoding() {
        // r2 = *(u32 *)(r1 + 0): code 0x61, dst 2, src 1.
        assert_eq!(
            ins(LDX_MEM_W, 2, 1, 0, 0).encode(),
            [0x61, 0x12, 0, 0, 0, 0, 0, 0]
        );
        // if r4 != 136 goto +3
        assert_eq!(
            ins(JNE_K, 4, 0, 3, 136).encode(),
            [0x55, 0x04, 3, 0, 136, 0, 0, 0]
        );
    }
}
