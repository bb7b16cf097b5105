//! chroot-rs: run a command with another root directory, the GNU
//! coreutils `chroot` way (same grammar, messages and exit statuses), or
//! with pivot_root as container runtimes do, optionally setting up /proc,
//! /sys, /dev and /tmp inside the new root and hardening it as runc does.

pub mod args;
pub mod cgroupfs;
pub use ctcore::{caps, passwd, tty};
pub mod cli;
pub mod creds;
pub mod harden;
pub mod quote;
pub mod root;

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use args::{Opts, Parsed};
use nix::errno::Errno;
use root::Method;

/// coreutils' EXIT_CANCELED.
pub const EXIT_CANCELED: i32 = 125;
/// coreutils' EXIT_CANNOT_INVOKE.
pub const EXIT_CANNOT_INVOKE: i32 = 126;
/// coreutils' EXIT_ENOENT.
pub const EXIT_ENOENT: i32 = 127;

/// The text of `--help`.
#[must_use]
pub fn help_text(prog: &str) -> String {
    format!(
        "Usage: {prog} [OPTION]... NEWROOT [COMMAND [ARG]...]
  or:  {prog} OPTION
Run COMMAND with root directory set to NEWROOT.

      --groups=G_LIST        specify supplementary groups as g1,g2,..,gN
      --userspec=USER:GROUP  specify user and group (ID or name) to use
      --run-as=USER[:GROUP]  become USER as Docker's -u does: looked up in
                               NEWROOT's passwd and group files alone
      --skip-chdir           do not change working directory to '/'
      --pivot                pivot_root into NEWROOT and detach the old root
                               (needs a mount namespace: unshare-rs -m)
      --auto                 pivot_root when in a mount namespace of its own,
                               chroot otherwise
      --proc                 mount a fresh proc on NEWROOT/proc
      --sys                  mount a read-only sysfs on NEWROOT/sys
      --cgroupfs             with --sys: a read-only NEWROOT/sys/fs/cgroup
                               showing only the caller's own cgroups (v2: in
                               a new cgroup namespace)
      --dev                  mount a tmpfs NEWROOT/dev with null, zero, full,
                               random, urandom, tty, pts, ptmx, shm, fd links
      --tmp                  mount a tmpfs on NEWROOT/tmp
      --readonly             make the new root read-only
      --harden               mask and write-protect runc's /proc and /sys
                               paths, keep only docker's default capabilities
                               in the bounding set, /dev noexec, a new session
                               keyring, close descriptors above 2, keep its
                               own binary out of reach (its mount read-only
                               and noexec in the container, or a read-only
                               re-exec); in chroot mode move the new root
                               onto / (the chroot escape finds no old root)
      --no-new-privs         set no_new_privs (--harden leaves it off)
      --seccomp=PROFILE      install a seccomp filter last: default (docker's
                               policy), unconfined, or an OCI/Docker JSON FILE
      --device=HOST[:CTR[:ACC]]  make HOST's device node at CTR in NEWROOT,
                               never following a link out of it
      --host-dev             bind the host's /dev instead of --dev's tmpfs
      --init                 stay as COMMAND's reaping init (pid 1), passing
                               signals on and exiting as COMMAND did
      --preserve-fds=N       keep descriptors 3..3+N-1, close the others
      --no-new-keyring       keep the caller's session keyring with --harden
      --tty                  run COMMAND on a new pseudo-terminal of the new
                               root, relayed to this one
      --console-socket=PATH  send the master of a new pseudo-terminal of the
                               new root to the unix socket PATH (runc's
                               protocol) and run COMMAND on its slave; no
                               relay stays behind
      --cap-add=CAP          keep CAP in the bounding set (ALL: every one)
      --cap-drop=CAP         drop CAP from the bounding set (ALL: every one)
      --verbose              say on stderr what was mounted and how the root
                               was changed
      --help        display this help and exit
      --version     output version information and exit

If no command is given, run '\"$SHELL\" -i' (default: '/bin/sh -i').
Set-up options and --pivot need a mount namespace of their own.
"
    )
}

/// A failure: exit status and message (printed after `prog: `).
struct Die {
    code: i32,
    msg: String,
}

fn die(code: i32, msg: impl Into<String>) -> Die {
    Die {
        code,
        msg: msg.into(),
    }
}

fn errtext(e: Errno) -> String {
    ctcore::errno_text(e)
}

fn step_msg(e: &root::StepError) -> String {
    let mut m = format!("{}: {}", e.what, errtext(e.errno));
    if let Some(h) = e.hint.as_deref().filter(|h| !h.is_empty()) {
        m.push_str(&format!(" ({h})"));
    }
    m
}

struct Ctx {
    prog: String,
    /// Whether the locale is UTF-8, asked only when a message needs
    /// quotes (loading the locale costs more than the rest of a run).
    utf8: std::cell::OnceCell<bool>,
    verbose: bool,
}

impl Ctx {
    fn say(&self, m: &str) {
        if self.verbose {
            eprintln!("{}: {m}", self.prog);
        }
    }

    fn q(&self, s: &str) -> String {
        quote::quote(s, *self.utf8.get_or_init(quote::locale_is_utf8))
    }
}

/// Run the tool with its raw arguments (program name first).  Everything
/// is reported here, so the result is always `Ok(status)` unless COMMAND
/// was executed.
///
/// # Errors
/// Never; the signature fits `ctcore::cli::main_raw`.
pub fn run_raw(argv: Vec<OsString>) -> anyhow::Result<i32> {
    let prog = argv.first().map_or_else(
        || "chroot-rs".to_string(),
        |a| a.to_string_lossy().into_owned(),
    );
    let rest = argv.get(1..).unwrap_or_default();
    match args::parse(rest) {
        Parsed::Help => {
            print!("{}", help_text(&prog));
            Ok(0)
        }
        Parsed::Version => {
            println!("chroot-rs (ctools) {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        Parsed::Usage(m) => {
            if let Some(m) = m {
                eprintln!("{prog}: {m}");
            }
            eprintln!("Try '{prog} --help' for more information.");
            Ok(EXIT_CANCELED)
        }
        Parsed::Run(o) => {
            // First of all: nothing in the container may reach the host's
            // binary through /proc/PID/exe (CVE-2019-5736).
            let exe_mount = match protect_binary(&o) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("{prog}: {e:#}");
                    return Ok(EXIT_CANCELED);
                }
            };
            let ctx = Ctx {
                prog: prog.clone(),
                utf8: std::cell::OnceCell::new(),
                verbose: o.verbose,
            };
            match go(&ctx, *o, exe_mount.as_ref()) {
                Ok(code) => Ok(code),
                Err(d) => {
                    if !d.msg.is_empty() {
                        eprintln!("{prog}: {}", d.msg);
                    }
                    Ok(d.code)
                }
            }
        }
    }
}

/// How chroot-rs keeps the host's binary out of the container's reach
/// (CVE-2019-5736), decided before anything else.
///
/// * With --harden --pivot, when chroot-rs execs COMMAND and leaves nothing
///   of itself behind (no --init, no --tty relay): the mount holding its
///   binary is found now and made read-only and noexec right before
///   pivot_root detaches it with the old root (`ExeMount::seal`); nothing
///   runs again.
/// * Otherwise (--init and the --tty relay stay in the container, chroot
///   mode keeps the old root attached beneath the new one), or where that
///   mount cannot be found: an exec of itself from a detached read-only
///   clone of its mount, else from a sealed memfd copy
///   (`ctcore::sealed::reexec_protected`).
fn protect_binary(o: &Opts) -> anyhow::Result<Option<ctcore::sealed::ExeMount>> {
    if !(o.harden || o.init) {
        return Ok(None);
    }
    if o.pivot
        && !o.init
        && !o.tty
        && let Ok(m) = ctcore::sealed::ExeMount::find()
    {
        return Ok(Some(m));
    }
    ctcore::sealed::reexec_protected()?;
    Ok(None)
}

/// The clap entry point (used when the binary is driven through clap, for
/// example by tests of the definition): forwards to the same logic.
///
/// # Errors
/// Never.
pub fn run(cli: cli::Cli) -> anyhow::Result<i32> {
    run_raw(cli.to_argv())
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Credentials worked out before and after the root change.
#[derive(Default)]
struct Creds {
    uid: Option<u32>,
    gid: Option<u32>,
    username: Option<Vec<u8>>,
    gids: Vec<u32>,
}

fn lookup_outside(o: &Opts, c: &mut Creds, ctx: &Ctx) {
    // --run-as: the new root's files alone
    if o.run_as.is_some() {
        return;
    }
    let db = passwd::Db::new();
    if let Some(spec) = &o.userspec {
        let _ = creds::parse_user_spec(&db, spec, &mut c.uid, &mut c.gid);
    }
    if let Some(uid) = c.uid
        && (o.groups.is_none() || c.gid.is_none())
        && let Some((name, pgid)) = creds::getpwuid(&db, uid)
    {
        if c.gid.is_none() {
            c.gid = Some(pgid);
        }
        c.username = Some(name);
    }
    match &o.groups {
        Some(g) if !g.is_empty() => {
            if let Ok(v) = creds::parse_additional_groups(&db, g, false, &|s| ctx.q(s)) {
                c.gids = v;
            }
        }
        None => {
            if let (Some(gid), Some(user)) = (c.gid, &c.username) {
                c.gids = creds::xgetgroups(&db, user, gid);
            }
        }
        Some(_) => {}
    }
}

fn lookup_inside(o: &Opts, c: &mut Creds, ctx: &Ctx) -> Result<(), Die> {
    // A new Db: the files of the new root.
    let db = passwd::Db::new();
    if let Some(spec) = &o.run_as {
        // Docker's rules (ctcore::userspec, as unshare-rs's join mode), nothing from outside
        let r =
            ctcore::userspec::resolve_here(spec).map_err(|e| die(EXIT_CANCELED, e.to_string()))?;
        c.uid = Some(r.uid);
        c.gid = Some(r.gid);
        c.gids = r.groups;
        if let Some(g) = o.groups.as_deref().filter(|g| !g.is_empty()) {
            match creds::parse_additional_groups(&db, g, true, &|s| ctx.q(s)) {
                Ok(v) => c.gids.extend(v),
                Err(msgs) => {
                    for m in &msgs {
                        eprintln!("{}: {m}", ctx.prog);
                    }
                    return Err(die(EXIT_CANCELED, ""));
                }
            }
        }
        return Ok(());
    }
    if let Some(spec) = &o.userspec {
        let r = creds::parse_user_spec(&db, spec, &mut c.uid, &mut c.gid);
        if let Some(m) = r.message {
            if r.warn {
                eprintln!("{}: {m}", ctx.prog);
            } else {
                return Err(die(EXIT_CANCELED, m));
            }
        }
    }
    if let Some(uid) = c.uid
        && (o.groups.is_none() || c.gid.is_none())
    {
        match creds::getpwuid(&db, uid) {
            Some((name, pgid)) => {
                if c.gid.is_none() {
                    c.gid = Some(pgid);
                }
                c.username = Some(name);
            }
            None if c.gid.is_none() => {
                return Err(die(
                    EXIT_CANCELED,
                    format!("no group specified for unknown uid: {}", uid as i32),
                ));
            }
            None => {}
        }
    }
    match &o.groups {
        Some(g) if !g.is_empty() => {
            let outside = !c.gids.is_empty();
            match creds::parse_additional_groups(&db, g, !outside, &|s| ctx.q(s)) {
                Ok(v) => c.gids = v,
                Err(msgs) => {
                    for m in &msgs {
                        eprintln!("{}: {m}", ctx.prog);
                    }
                    if !outside {
                        return Err(die(EXIT_CANCELED, ""));
                    }
                }
            }
        }
        None => {
            if let (Some(gid), Some(user)) = (c.gid, &c.username) {
                c.gids = creds::xgetgroups(&db, user, gid);
            }
        }
        Some(_) => {}
    }
    Ok(())
}

fn set_creds(o: &Opts, c: &Creds) -> Result<(), Die> {
    use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
    if c.uid.is_some() || o.groups.is_some() {
        let g: Vec<Gid> = c.gids.iter().map(|&g| Gid::from_raw(g)).collect();
        setgroups(&g).map_err(|e| {
            die(
                EXIT_CANCELED,
                format!("failed to set supplemental groups: {}", errtext(e)),
            )
        })?;
    }
    if let Some(gid) = c.gid {
        setgid(Gid::from_raw(gid)).map_err(|e| {
            die(
                EXIT_CANCELED,
                format!("failed to set group-ID: {}", errtext(e)),
            )
        })?;
    }
    if let Some(uid) = c.uid {
        setuid(Uid::from_raw(uid)).map_err(|e| {
            die(
                EXIT_CANCELED,
                format!("failed to set user-ID: {}", errtext(e)),
            )
        })?;
    }
    Ok(())
}

fn mount_ns_hint(prog: &str, what: &str) -> String {
    format!(
        "{what} needs a mount namespace of its own, and this is the host's: \
         run it as 'unshare-rs -m {prog} ...' (or 'unshare -m {prog} ...'), \
         or use plain chroot without set-up options"
    )
}

fn go(ctx: &Ctx, o: Opts, exe_mount: Option<&ctcore::sealed::ExeMount>) -> Result<i32, Die> {
    // The quoting style depends on the locale, which must be read before
    // the root changes (the new root may have no locale files), as
    // coreutils does with setlocale at start-up.
    ctx.utf8.get_or_init(quote::locale_is_utf8);
    let newroot = PathBuf::from(&o.newroot);
    let is_oldroot = same_file(&newroot, Path::new("/"));
    if !is_oldroot && o.skip_chdir {
        eprintln!(
            "{}: option --skip-chdir only permitted if NEWROOT is old {}",
            ctx.prog,
            quote::quoteaf("/")
        );
        eprintln!("Try '{} --help' for more information.", ctx.prog);
        return Err(die(EXIT_CANCELED, ""));
    }
    if o.pivot && o.auto {
        return Err(die(
            EXIT_CANCELED,
            "options --pivot and --auto are mutually exclusive",
        ));
    }
    if o.run_as.is_some() && o.userspec.is_some() {
        return Err(die(
            EXIT_CANCELED,
            "options --run-as and --userspec are mutually exclusive",
        ));
    }
    if o.skip_chdir && o.chdir.is_some() {
        return Err(die(
            EXIT_CANCELED,
            "options --chdir and --skip-chdir are mutually exclusive",
        ));
    }
    if o.skip_chdir && (o.pivot || o.auto) {
        return Err(die(
            EXIT_CANCELED,
            "option --skip-chdir cannot be combined with --pivot or --auto",
        ));
    }
    // The caller's descriptors stay out (runc's --preserve-fds): only
    // 0-2 and the N preserved ones reach COMMAND.
    let preserve = match o.preserve_fds.as_deref().map(str::parse::<u32>) {
        None => None,
        Some(Ok(n)) if n < 1 << 20 => Some(n),
        Some(_) => {
            return Err(die(
                EXIT_CANCELED,
                format!(
                    "invalid number of descriptors to preserve: {}",
                    ctx.q(o.preserve_fds.as_deref().unwrap_or_default())
                ),
            ));
        }
    };
    if o.harden || preserve.is_some() {
        harden::close_fds_from(
            3 + preserve.unwrap_or(0),
            exe_mount.map(std::os::fd::AsRawFd::as_raw_fd),
        );
    }
    if o.tty && o.console_socket.is_some() {
        return Err(die(
            EXIT_CANCELED,
            "options --tty and --console-socket are mutually exclusive",
        ));
    }
    // --console-socket: connected now, a path of the old root (close-on-exec).
    let console = match &o.console_socket {
        None => None,
        Some(p) => Some({
            let (_dir, short) = ctcore::tty::socket_path(Path::new(p));
            std::os::unix::net::UnixStream::connect(short).map_err(|e| {
                die(
                    EXIT_CANCELED,
                    format!(
                        "cannot connect to the console socket {}: {}",
                        ctx.q(p),
                        ctcore::error_text(&e)
                    ),
                )
            })?
        }),
    };
    let devices = o
        .devices
        .iter()
        .map(|d| harden::DeviceSpec::parse(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| die(EXIT_CANCELED, m))?;
    let want_caps = o.harden || !o.cap_add.is_empty() || !o.cap_drop.is_empty();
    let keep = if want_caps {
        let base = if o.harden {
            caps::docker_default()
        } else {
            caps::bounding()
        };
        Some(
            caps::keep_set(base, &o.cap_add, &o.cap_drop, caps::all_mask())
                .map_err(|n| die(EXIT_CANCELED, format!("unknown capability {}", ctx.q(&n))))?,
        )
    } else {
        None
    };

    // The seccomp profile, read and compiled for the capabilities COMMAND
    // will have before anything is made, so a bad one leaves nothing behind.
    let filter = match o.seccomp.as_deref().map(ctcore::seccomp::Choice::parse) {
        None => None,
        Some(choice) => match choice.load() {
            Ok(None) => None,
            Ok(Some(profile)) => {
                let bad = |m: String| die(EXIT_CANCELED, format!("--seccomp: {m}"));
                let target = ctcore::seccomp::Target::native(keep.unwrap_or_else(caps::bounding))
                    .map_err(bad)?;
                let f = profile.compile(&target).map_err(bad)?;
                if !f.unknown.is_empty() {
                    ctx.say(&format!(
                        "seccomp: {} names unknown on this architecture, skipped: {}",
                        f.unknown.len(),
                        f.unknown.join(" ")
                    ));
                }
                Some(f)
            }
            Err(m) => return Err(die(EXIT_CANCELED, format!("--seccomp: {m}"))),
        },
    };

    let mut c = Creds::default();
    if !is_oldroot {
        lookup_outside(&o, &mut c, ctx);
    }

    // Choose the method and check the mount namespace.
    let needs_ns = o.pivot || o.mounts_anything();
    // Only asked when it matters, so plain chroot does no /proc look-ups.
    let initial = if needs_ns || o.auto {
        root::in_initial_mount_ns()
    } else {
        Some(true)
    };
    let own_ns = initial == Some(false);
    if needs_ns && !own_ns {
        let what = if o.pivot {
            "--pivot".to_string()
        } else {
            "setting up the new root (--proc, --sys, --dev, --tmp, --bind, --readonly, --harden)"
                .into()
        };
        let mut m = mount_ns_hint(&ctx.prog, &what);
        if initial.is_none() {
            m = format!(
                "{what} needs a mount namespace of its own, and /proc/self/ns/mnt cannot be \
                 compared with pid 1's: run it under 'unshare-rs -m' with /proc mounted"
            );
        }
        return Err(die(EXIT_CANCELED, m));
    }
    let use_pivot = o.pivot || (o.auto && own_ns);
    let mounting = use_pivot || o.mounts_anything();

    let mut log = |m: &str| ctx.say(m);
    let method;
    let chroot_path = if mounting {
        let abs = std::fs::canonicalize(&newroot).map_err(|e| {
            die(
                EXIT_CANCELED,
                format!(
                    "cannot change root directory to {}: {}",
                    quote::quoteaf(&newroot.to_string_lossy()),
                    ctcore::error_text(&e)
                ),
            )
        })?;
        if !abs.is_dir() {
            return Err(die(
                EXIT_CANCELED,
                format!(
                    "cannot change root directory to {}: {}",
                    quote::quoteaf(&newroot.to_string_lossy()),
                    errtext(Errno::ENOTDIR)
                ),
            ));
        }
        let step = |r: root::Step| r.map_err(|e| die(EXIT_CANCELED, step_msg(&e)));
        step(root::make_slave(&abs))?;
        step(root::bind_self(&abs))?;
        // Lookups starting at "/" do not cross the bind stacked on the
        // process's root; "/.." does.
        let abs = if is_oldroot {
            PathBuf::from("/..")
        } else {
            abs
        };
        if o.proc {
            step(root::setup_proc(&abs, &mut log))?;
        }
        if o.sys || o.cgroupfs {
            step(root::setup_sys(&abs, &mut log))?;
        }
        if o.cgroupfs {
            step(cgroupfs::setup(&abs, &mut log))?;
        }
        if o.host_dev {
            step(root::bind_host_dev(&abs, &mut log))?;
        } else if o.dev {
            step(root::setup_dev(&abs, o.harden, &mut log))?;
        }
        if o.tmp {
            step(root::setup_tmp(&abs, &mut log))?;
        }
        for (spec, ro) in &o.binds {
            step(root::bind_into(&abs, spec, *ro, &mut log))?;
        }
        for d in &devices {
            step(harden::make_device(&abs, d, o.host_dev, &mut log))?;
        }
        if o.harden {
            step(root::harden_mounts(&abs, &mut log))?;
        }
        if o.readonly {
            step(root::remount_ro(&abs, nix::mount::MsFlags::empty()))?;
            log(&format!("made '{}' read-only", abs.display()));
        }
        abs
    } else {
        newroot.clone()
    };

    // --console-socket: a pty of the new root's devpts, its master sent
    // away before the change of root; the slave is kept for COMMAND.
    let slave = match console {
        None => None,
        Some(sock) => Some(send_console(ctx, &o, &chroot_path, &sock)?),
    };
    // The mount of chroot-rs's own binary: read-only and noexec in this
    // namespace, detached with the old root just after (see protect_binary).
    if let Some(m) = exe_mount {
        m.seal().map_err(|e| {
            die(
                EXIT_CANCELED,
                format!(
                    "cannot make the mount of chroot-rs's own binary read-only: {}",
                    ctcore::error_text(&e)
                ),
            )
        })?;
        log("made the mount of chroot-rs's own binary read-only and noexec");
    }
    if use_pivot {
        match root::pivot(&chroot_path, &mut log) {
            Ok(m) => method = m,
            Err(e) if o.auto => {
                ctx.say(&format!("{}; falling back to chroot", step_msg(&e)));
                do_chroot(&chroot_path, &o.newroot, o.skip_chdir)?;
                method = Method::Chroot;
            }
            Err(e) => return Err(die(EXIT_CANCELED, step_msg(&e))),
        }
    } else if o.harden && mounting && !is_oldroot {
        // chroot mode in a mount namespace of its own: switch_root's way,
        // so that the classic chroot escape finds no old root above.
        method = root::move_root(&chroot_path, None, &mut log)
            .map_err(|e| die(EXIT_CANCELED, step_msg(&e)))?;
    } else {
        do_chroot(&chroot_path, &o.newroot, o.skip_chdir)?;
        method = Method::Chroot;
    }
    ctx.say(&format!("root changed with {}", method.name()));
    if o.dev || o.host_dev {
        root::reopen_dev_null();
    }

    let mut argv: Vec<OsString> = o.command.clone();
    if argv.is_empty() {
        let shell = std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into());
        argv = vec![shell, "-i".into()];
    }

    lookup_inside(&o, &mut c, ctx)?;
    // COMMAND's terminal, taken before credentials and filters change
    // (with --init, by the child that becomes COMMAND).
    let mut slave = slave;
    if !o.init
        && let Some(s) = slave.take()
    {
        attach_console(s, c.uid)?;
    }
    // --chdir: made now, as root, inside the new root; entered once the
    // credentials are set, so that they decide whether it may be.
    if let Some(d) = &o.chdir
        && std::fs::metadata(d).is_err()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(d)
            .map_err(|e| {
                die(
                    EXIT_CANCELED,
                    format!(
                        "cannot create directory {}: {}",
                        ctx.q(d),
                        ctcore::error_text(&e)
                    ),
                )
            })?;
        ctx.say(&format!("created the working directory {d}"));
    }
    if o.harden && !o.no_new_keyring {
        harden::join_session_keyring().map_err(|e| {
            die(
                EXIT_CANCELED,
                format!("cannot join a new session keyring: {}", errtext(e)),
            )
        })?;
        ctx.say("joined a new session keyring");
    }
    if let Some(keep) = keep {
        caps::restrict(keep).map_err(|(what, e)| {
            die(EXIT_CANCELED, format!("{what}: {}", ctcore::error_text(&e)))
        })?;
    }
    // Without no_new_privs the kernel wants CAP_SYS_ADMIN for a filter:
    // installed now, while still privileged (the profile must then allow
    // the few calls left: setgroups, setgid, setuid, chdir, execve), as
    // runc does; with no_new_privs, last, right before exec.
    if let Some(f) = &filter
        && !o.no_new_privs
    {
        install_filter(ctx, f, false)?;
    }
    if o.no_new_privs {
        caps::no_new_privs().map_err(|e| {
            die(
                EXIT_CANCELED,
                format!("cannot set no_new_privs: {}", ctcore::error_text(&e)),
            )
        })?;
    }
    set_creds(&o, &c)?;
    if let Some(f) = &filter
        && o.no_new_privs
    {
        install_filter(ctx, f, true)?;
    }
    if let Some(d) = &o.chdir {
        std::env::set_current_dir(d).map_err(|e| {
            die(
                EXIT_CANCELED,
                format!(
                    "cannot change directory to {}: {}",
                    ctx.q(d),
                    ctcore::error_text(&e)
                ),
            )
        })?;
    }
    if o.init {
        match harden::fork_init(keep) {
            Ok(harden::Forked::Init(code)) => return Ok(code),
            Ok(harden::Forked::Child) => {
                if let Some(s) = slave.take() {
                    attach_console(s, c.uid)?;
                }
            }
            Err(e) => {
                return Err(die(EXIT_CANCELED, format!("cannot fork: {}", errtext(e))));
            }
        }
    }
    if o.tty {
        return on_a_tty(ctx, &argv);
    }
    Err(exec(ctx, &argv))
}

fn install_filter(ctx: &Ctx, f: &ctcore::seccomp::Filter, nnp: bool) -> Result<(), Die> {
    f.install().map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EACCES) && !nnp {
            " (without no_new_privs a filter needs CAP_SYS_ADMIN: add --no-new-privs)"
        } else {
            ""
        };
        die(
            EXIT_CANCELED,
            format!(
                "cannot install the seccomp filter: {}{hint}",
                ctcore::error_text(&e)
            ),
        )
    })?;
    ctx.say(&format!(
        "installed a seccomp filter of {} instructions{}",
        f.len(),
        if nnp { " (no_new_privs)" } else { "" }
    ));
    Ok(())
}

/// `--console-socket`: open a pty of the new root at `root` (its devpts
/// instance with `--dev`), send the master on `sock` and return the slave.
fn send_console(
    ctx: &Ctx,
    o: &Opts,
    root: &Path,
    sock: &std::os::unix::net::UnixStream,
) -> Result<std::os::fd::OwnedFd, Die> {
    use std::os::fd::AsRawFd;
    let ptmx = if o.dev && !o.host_dev {
        root.join("dev/pts/ptmx")
    } else {
        root.join("dev/ptmx")
    };
    let (master, slave) = tty::open_pair(&ptmx).map_err(|e| {
        die(
            EXIT_CANCELED,
            format!(
                "cannot open a pseudo-terminal ({}): {}",
                ptmx.display(),
                errtext(e)
            ),
        )
    })?;
    tty::send_fd(sock.as_raw_fd(), master.as_raw_fd(), b"/dev/ptmx").map_err(|e| {
        die(
            EXIT_CANCELED,
            format!(
                "cannot send the terminal to the console socket {}: {}",
                ctx.q(o.console_socket.as_deref().unwrap_or_default()),
                errtext(e)
            ),
        )
    })?;
    ctx.say("sent the master of a pseudo-terminal to the console socket");
    Ok(slave)
}

/// COMMAND's terminal: the slave given to its user (as a login's terminal
/// is, and runc's), then its controlling terminal and 0, 1 and 2.
fn attach_console(slave: std::os::fd::OwnedFd, uid: Option<u32>) -> Result<(), Die> {
    use std::os::fd::AsRawFd;
    if let Some(u) = uid {
        // SAFETY: fchown of a descriptor we own; the group stays.
        if unsafe { libc::fchown(slave.as_raw_fd(), u, libc::gid_t::MAX) } < 0 {
            return Err(die(
                EXIT_CANCELED,
                format!(
                    "cannot give the pseudo-terminal to uid {u}: {}",
                    errtext(Errno::last())
                ),
            ));
        }
    }
    tty::attach_slave(slave).map_err(|e| {
        die(
            EXIT_CANCELED,
            format!("cannot attach the pseudo-terminal: {}", errtext(e)),
        )
    })
}

/// `--tty`: COMMAND in a child on a new pty, this process its relay.
fn on_a_tty(ctx: &Ctx, argv: &[OsString]) -> Result<i32, Die> {
    let pty = tty::Pty::open().map_err(|e| {
        die(
            EXIT_CANCELED,
            format!("cannot open a pseudo-terminal: {}", errtext(e)),
        )
    })?;
    // SAFETY: the process has a single thread.
    match unsafe { libc::fork() } {
        -1 => Err(die(
            EXIT_CANCELED,
            format!("cannot fork: {}", errtext(Errno::last())),
        )),
        0 => {
            let d = match pty.attach() {
                Ok(()) => exec(ctx, argv),
                Err(e) => die(
                    EXIT_CANCELED,
                    format!("cannot attach the pseudo-terminal: {}", errtext(e)),
                ),
            };
            eprintln!("{}: {}", ctx.prog, d.msg);
            // SAFETY: the child ends here.
            unsafe { libc::_exit(d.code) }
        }
        child => {
            let st = pty.relay(child);
            match ctcore::wait::Ended::from_raw(st) {
                Some(ended) => ctcore::wait::exit_like(ended),
                None => Ok(EXIT_CANCELED),
            }
        }
    }
}

fn do_chroot(path: &Path, given: &OsString, skip_chdir: bool) -> Result<(), Die> {
    nix::unistd::chroot(path).map_err(|e| {
        die(
            EXIT_CANCELED,
            format!(
                "cannot change root directory to {}: {}",
                quote::quoteaf(&given.to_string_lossy()),
                errtext(e)
            ),
        )
    })?;
    if !skip_chdir {
        nix::unistd::chdir("/").map_err(|e| {
            die(
                EXIT_CANCELED,
                format!("cannot chdir to root directory: {}", errtext(e)),
            )
        })?;
    }
    Ok(())
}

fn exec(ctx: &Ctx, argv: &[OsString]) -> Die {
    let cargs: Result<Vec<CString>, _> = argv.iter().map(|a| CString::new(a.as_bytes())).collect();
    let name = argv[0].to_string_lossy().into_owned();
    let e = match cargs {
        Ok(cargs) => match nix::unistd::execvp(&cargs[0], &cargs) {
            Err(e) => e,
            Ok(never) => match never {},
        },
        Err(_) => Errno::EINVAL,
    };
    let code = if e == Errno::ENOENT {
        EXIT_ENOENT
    } else {
        EXIT_CANNOT_INVOKE
    };
    die(
        code,
        format!("failed to run command {}: {}", ctx.q(&name), errtext(e)),
    )
}
