//! mkrootfs: build a root filesystem from host programs and every library
//! the dynamic loader would map for them.
//!
//! The work is split in two: a [`plan::Plan`] of every path is computed
//! first (resolver, skeleton, extras), then written by one of the writers
//! in [`write`], so errors leave nothing behind and `--dry-run` is exact.

pub mod cli;
pub mod elf;
pub mod import;
pub mod ldconf;
pub mod plan;
pub mod resolve;
pub mod write;

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use plan::{Entry, Kind, Plan, rel};
use resolve::{Found, Resolver};

/// The document's skeleton.
pub const SKELETON: &[&str] = &[
    "bin", "dev", "etc", "home", "lib", "lib64", "mnt", "opt", "proc", "root", "run", "sbin",
    "sys", "tmp", "usr", "var",
];

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";
const NSSWITCH: &str = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n";
const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/// Builds the plan.
pub struct Builder {
    /// The plan so far.
    pub plan: Plan,
    /// The resolver and its caches.
    pub res: Resolver,
    done: HashSet<PathBuf>,
    ldd: bool,
    libc: Option<PathBuf>,
    verbose: bool,
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Builder {
    /// A builder; `ldd` selects the document's method.
    #[must_use]
    pub fn new(ldd: bool) -> Builder {
        Builder {
            plan: Plan::default(),
            res: Resolver::default(),
            done: HashSet::new(),
            ldd,
            libc: None,
            verbose: false,
        }
    }

    /// The skeleton, mirroring the host's merged-/usr links.
    ///
    /// # Errors
    /// Unreadable host links.
    pub fn skeleton(&mut self) -> anyhow::Result<()> {
        let chain = vec!["skeleton".to_string()];
        let mut names: Vec<&str> = SKELETON.to_vec();
        for extra in ["lib32", "libx32", "libo32"] {
            if Path::new("/").join(extra).is_symlink() {
                names.push(extra);
            }
        }
        for n in &names {
            let host = Path::new("/").join(n);
            if host.is_symlink()
                && std::fs::read_link(&host)
                    .is_ok_and(|t| t.starts_with("usr") || t.starts_with("/usr"))
            {
                self.plan.add_host(&host, &chain)?;
            }
        }
        for n in names {
            let mode = match n {
                "tmp" => 0o1777,
                "root" => 0o700,
                _ => 0o755,
            };
            if !self.plan.entries.contains_key(Path::new(n)) {
                self.plan
                    .insert(n.into(), Entry::made(Kind::Dir, mode, &chain));
            }
        }
        self.plan
            .insert("var/tmp".into(), Entry::made(Kind::Dir, 0o1777, &chain));
        Ok(())
    }

    /// Add a program or file: mirrored with its links, then scanned.
    ///
    /// # Errors
    /// Missing files, unresolved libraries.
    pub fn add_input(&mut self, p: &Path, chain: &[String]) -> anyhow::Result<()> {
        let md = std::fs::metadata(p).with_context(|| format!("{}: cannot access", p.display()))?;
        if md.is_dir() {
            bail!(
                "{}: is a directory (use --file for a directory tree)",
                p.display()
            );
        }
        let canon = self.plan.add_host(p, chain)?;
        if !self.done.insert(canon.clone()) {
            return Ok(());
        }
        if self.verbose {
            eprintln!("mkrootfs: adding {}", p.display());
        }
        self.scan(p, &canon, chain)
    }

    fn scan(&mut self, p: &Path, canon: &Path, chain: &[String]) -> anyhow::Result<()> {
        let mut head = [0u8; 256];
        let n = {
            use std::io::Read;
            let mut f = std::fs::File::open(canon)
                .with_context(|| format!("{}: cannot open", canon.display()))?;
            f.read(&mut head).unwrap_or(0)
        };
        let head = &head[..n];
        if head.starts_with(b"\x7fELF") {
            let found = if self.ldd {
                let env = self.res.env_for(p).unwrap_or_default();
                ldd(p, chain, &env)?
            } else {
                self.res.closure(p, chain)?
            };
            for f in found {
                self.add_found(&f)?;
            }
        } else if let Some(rest) = head.strip_prefix(b"#!") {
            let line = rest.split(|&c| c == b'\n').next().unwrap_or(b"");
            let line = String::from_utf8_lossy(line).into_owned();
            let mut words = line.split_whitespace();
            if let Some(interp) = words.next() {
                let mut c = chain.to_vec();
                c.push(interp.to_string());
                self.add_input(Path::new(interp), &c)?;
                if Path::new(interp).file_name().is_some_and(|n| n == "env") {
                    let prog = words.find(|w| !w.starts_with('-') && !w.contains('='));
                    if let Some(prog) = prog {
                        let path = ctcore::exec::which(prog.as_ref()).ok_or_else(|| {
                            anyhow::anyhow!("{prog}: not found in PATH (#! of {})", p.display())
                        })?;
                        let mut c = c.clone();
                        c.push(prog.to_string());
                        self.add_input(&path, &c)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn add_found(&mut self, f: &Found) -> anyhow::Result<()> {
        let canon = self.plan.add_host(&f.path, &f.chain)?;
        if f.via_cache && !self.plan.ldconfig {
            self.plan.ldconfig = true;
            for c in ["/etc/ld.so.conf", "/etc/ld.so.conf.d"] {
                if Path::new(c).exists() {
                    self.add_file(c)?;
                }
            }
        }
        let base = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if base.starts_with("libc.so.") && self.libc.is_none() {
            self.libc = Some(f.path.clone());
        }
        if self.ldd {
            self.done.insert(canon);
        }
        Ok(())
    }

    /// `--file SRC[:DEST]`.
    ///
    /// # Errors
    /// Missing sources, unresolved libraries of ELF files inside.
    pub fn add_file(&mut self, spec: &str) -> anyhow::Result<()> {
        let (src, dest) = if Path::new(spec).exists() {
            (spec, None)
        } else {
            match spec.rsplit_once(':') {
                Some((a, b)) if !a.is_empty() && !b.is_empty() => (a, Some(b)),
                _ => (spec, None),
            }
        };
        let chain = vec![format!("--file {spec}")];
        let src = Path::new(src);
        std::fs::symlink_metadata(src)
            .with_context(|| format!("{}: cannot access", src.display()))?;
        let files = match dest {
            None => {
                let canon = self.plan.add_host(src, &chain)?;
                if canon.is_dir() {
                    let r = rel(&canon);
                    self.plan.add_tree(&canon, &r, &chain)?
                } else {
                    vec![canon]
                }
            }
            Some(d) => self.plan.add_tree(src, Path::new(d), &chain)?,
        };
        for f in files {
            if elf::is_elf(&f) && self.done.insert(f.clone()) {
                let mut c = chain.clone();
                c.push(s(&f));
                self.scan(&f, &f, &c)?;
            }
        }
        Ok(())
    }

    /// A host directory tree (an extra such as terminfo), if it exists.
    fn add_dir_if(&mut self, p: &str, what: &str) -> anyhow::Result<bool> {
        if std::fs::symlink_metadata(p).is_err() {
            return Ok(false);
        }
        self.add_file(p).with_context(|| format!("--{what}"))?;
        Ok(true)
    }

    /// The minimal /etc.
    pub fn etc(&mut self) {
        let chain = vec!["--etc defaults".to_string()];
        for (n, c, m) in [
            ("passwd", PASSWD, 0o644),
            ("group", GROUP, 0o644),
            ("nsswitch.conf", NSSWITCH, 0o644),
            ("hosts", HOSTS, 0o644),
        ] {
            self.plan.insert(
                Path::new("etc").join(n),
                Entry::made(Kind::Data(c.as_bytes().to_vec()), m, &chain),
            );
        }
    }

    /// Device nodes and the usual /dev links.
    pub fn dev(&mut self) {
        let chain = vec!["--dev".to_string()];
        for &(n, ma, mi) in ctcore::dev::NODES {
            self.plan.insert(
                Path::new("dev").join(n),
                Entry::made(Kind::Char(ma, mi), 0o666, &chain),
            );
        }
        for &(n, t) in ctcore::dev::LINKS {
            self.plan.insert(
                Path::new("dev").join(n),
                Entry::made(Kind::Symlink(t.into()), 0o777, &chain),
            );
        }
        self.plan
            .insert("dev/pts".into(), Entry::made(Kind::Dir, 0o755, &chain));
        self.plan
            .insert("dev/shm".into(), Entry::made(Kind::Dir, 0o1777, &chain));
    }

    /// libgcc_s with libc, and the NSS modules nsswitch.conf names.
    ///
    /// # Errors
    /// Unresolved dependencies of those modules.
    pub fn dlopen_extras(&mut self) -> anyhow::Result<()> {
        let Some(libc) = self.libc.clone() else {
            return Ok(());
        };
        let mut names = vec!["libgcc_s.so.1".to_string()];
        let conf = match self
            .plan
            .entries
            .get(Path::new("etc/nsswitch.conf"))
            .map(|e| e.kind.clone())
        {
            Some(Kind::Data(d)) => String::from_utf8_lossy(&d).into_owned(),
            Some(Kind::File(src)) => std::fs::read_to_string(src).unwrap_or_default(),
            // glibc's defaults without the file: files, dns
            _ => "passwd: files\nhosts: dns files\n".into(),
        };
        for line in conf.lines() {
            let line = line.split('#').next().unwrap_or("");
            let Some((_, svcs)) = line.split_once(':') else {
                continue;
            };
            let mut depth = 0;
            for w in svcs.split_whitespace() {
                if w.starts_with('[') {
                    depth += 1;
                }
                if depth == 0 {
                    let n = format!("libnss_{w}.so.2");
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
                if w.ends_with(']') {
                    depth -= 1;
                }
            }
        }
        for n in names {
            // A missing module is skipped, as glibc does.
            let Some(p) = self.res.find_default(&n, &libc) else {
                continue;
            };
            let chain = vec![s(&libc), format!("{n} (dlopen)")];
            let canon = self.plan.add_host(&p, &chain)?;
            if self.done.insert(canon) {
                let found = self.res.closure(&p, &chain)?;
                for f in found {
                    self.add_found(&f)?;
                }
            }
        }
        Ok(())
    }

    /// `--gconv`: the gconv directory next to libc.
    ///
    /// # Errors
    /// Unresolved dependencies of the modules.
    pub fn gconv(&mut self) -> anyhow::Result<()> {
        let mut dirs = Vec::new();
        if let Some(l) = &self.libc
            && let Ok(c) = std::fs::canonicalize(l)
            && let Some(d) = c.parent()
        {
            dirs.push(d.join("gconv"));
        }
        dirs.extend(
            [
                "/usr/lib/x86_64-linux-gnu/gconv",
                "/usr/lib64/gconv",
                "/usr/lib/gconv",
            ]
            .map(PathBuf::from),
        );
        for d in dirs {
            if d.is_dir() {
                return self.add_file(&s(&d));
            }
        }
        bail!("--gconv: no gconv directory found")
    }
}

/// The document's method: run ldd and take every path it prints.
///
/// # Errors
/// ldd failing, or a library it reports as not found.
/// `env` tells which libraries came from ld.so.cache outside the system
/// directories (ldd does not say how it found them).
pub fn ldd(p: &Path, chain: &[String], env: &ldconf::LoaderEnv) -> anyhow::Result<Vec<Found>> {
    let out = std::process::Command::new("ldd")
        .arg(p)
        .env("LC_ALL", "C")
        .env_remove("LD_PRELOAD")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .context("cannot run ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if err.contains("not a dynamic executable") {
            return Ok(Vec::new());
        }
        bail!("ldd {}: {}", p.display(), err.trim());
    }
    let mut v = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let (name, rest) = match line.split_once(" => ") {
            Some((n, r)) => (n.to_string(), r),
            None => (String::new(), line),
        };
        if rest.starts_with("not found") {
            bail!("{name}: not found, needed by {} (ldd)", chain.join(" -> "));
        }
        let path = match rest.rfind(" (0x") {
            Some(i) => &rest[..i],
            None => rest,
        };
        if !path.starts_with('/') {
            continue;
        }
        let path = PathBuf::from(path);
        let dir = path
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let via_cache = !env.system_dirs.contains(&dir)
            && env.cache.as_ref().is_some_and(|c| {
                c.get(&name)
                    .is_some_and(|v| v.first().map(String::as_str) == path.to_str())
            });
        let mut c = chain.to_vec();
        c.push(if name.is_empty() {
            path.display().to_string()
        } else {
            name
        });
        v.push(Found {
            path,
            chain: c,
            via_cache,
        });
    }
    Ok(v)
}

fn read_stdin_inputs() -> anyhow::Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("cannot read standard input")?;
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            v.push(PathBuf::from(t));
        }
    }
    Ok(v)
}

fn lookup(p: &Path) -> anyhow::Result<PathBuf> {
    if p.as_os_str().as_encoded_bytes().contains(&b'/') {
        return Ok(p.to_path_buf());
    }
    ctcore::exec::which(p.as_os_str())
        .ok_or_else(|| ctcore::failure(125, format!("{}: not found in PATH", p.display())))
}

/// Build the plan from the command line.
///
/// # Errors
/// Any input or library that cannot be found.
pub fn build_plan(cli: &cli::Cli, programs: &[PathBuf]) -> anyhow::Result<Plan> {
    let mut b = Builder::new(cli.ldd);
    b.verbose = cli.verbose;
    if let Some(lp) = &cli.library_path {
        b.res.library_path = lp.split(':').map(String::from).collect();
    }
    b.skeleton()?;
    for f in &cli.files {
        b.add_file(f)?;
    }
    for p in programs {
        let path = lookup(p)?;
        b.add_input(&path, &[s(&path)])?;
    }
    if !cli.no_etc {
        b.etc();
    }
    if cli.dev {
        b.dev();
    }
    if cli.locale {
        let mut any = false;
        for d in ["/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8"] {
            any |= b.add_dir_if(d, "locale")?;
        }
        if !any {
            bail!("--locale: /usr/lib/locale/C.utf8 not found on this host");
        }
    }
    if cli.terminfo {
        let mut any = false;
        for d in ["/usr/share/terminfo", "/lib/terminfo", "/etc/terminfo"] {
            any |= b.add_dir_if(d, "terminfo")?;
        }
        if !any {
            bail!("--terminfo: no terminfo database found on this host");
        }
    }
    if cli.zoneinfo {
        if !b.add_dir_if("/usr/share/zoneinfo", "zoneinfo")? {
            bail!("--zoneinfo: /usr/share/zoneinfo not found on this host");
        }
        b.add_dir_if("/etc/localtime", "zoneinfo")?;
    }
    b.dlopen_extras()?;
    if cli.gconv {
        b.gconv()?;
    }
    Ok(b.plan)
}

/// The JSON listing of `--dry-run --json`.
#[must_use]
pub fn listing(plan: &Plan) -> serde_json::Value {
    let files: Vec<serde_json::Value> = plan
        .entries
        .iter()
        .map(|(p, e)| {
            let mut o = serde_json::json!({
                "path": format!("/{}", p.display()),
                "type": e.type_name(),
                "mode": format!("{:04o}", e.mode),
                "source": e.source.as_ref().map(|s| s.display().to_string()),
                "chain": e.chain,
            });
            match &e.kind {
                Kind::Symlink(t) => o["target"] = t.display().to_string().into(),
                Kind::Char(a, b) | Kind::Block(a, b) => o["device"] = format!("{a}:{b}").into(),
                Kind::File(_) | Kind::Data(_) => o["size"] = e.size.into(),
                _ => {}
            }
            o
        })
        .collect();
    serde_json::json!({ "count": files.len(), "files": files })
}

/// Run the host's `ldconfig -r DIR` so that libraries outside the built-in
/// directories are found in the root, as mkinitramfs and dracut do.
///
/// # Errors
/// ldconfig missing or failing.
pub fn ldconfig(dir: &Path) -> anyhow::Result<()> {
    let prog = ["/sbin/ldconfig", "/usr/sbin/ldconfig"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("ldconfig");
    let o = std::process::Command::new(prog)
        .arg("-r")
        .arg(dir)
        .output()
        .with_context(|| {
            format!("cannot run {prog} (needed for libraries outside the system directories)")
        })?;
    if !o.status.success() {
        bail!(
            "ldconfig -r {}: {}",
            dir.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    // not reproducible, as initramfs-tools notes
    let _ = std::fs::remove_file(dir.join("var/cache/ldconfig/aux-cache"));
    Ok(())
}

/// For an archive: build the root in a scratch directory, run ldconfig
/// there, and add the resulting /etc/ld.so.cache to the plan.
fn add_ld_cache(plan: &mut Plan) -> anyhow::Result<()> {
    let tmp = std::env::temp_dir().join(format!("mkrootfs-ldcache-{}", std::process::id()));
    let res = (|| {
        write::to_dir(plan, &tmp)?;
        ldconfig(&tmp)?;
        std::fs::read(tmp.join("etc/ld.so.cache")).context("ldconfig wrote no /etc/ld.so.cache")
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    let data = res?;
    plan.entries.insert(
        "etc/ld.so.cache".into(),
        Entry::made(Kind::Data(data), 0o644, &["ldconfig -r".to_string()]),
    );
    Ok(())
}

fn infer_format(cli: &cli::Cli, out: &Path) -> write::Format {
    if let Some(f) = cli.format {
        return f;
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".cpio") || name.contains(".cpio.") || name.ends_with(".initramfs") {
        write::Format::Cpio
    } else {
        write::Format::Tar
    }
}

/// Run the tool.
///
/// # Errors
/// Usage errors, missing inputs or libraries, I/O errors.
pub fn run(cli: cli::Cli) -> anyhow::Result<i32> {
    let mut programs = cli.programs.clone();
    let dir = if cli.output.is_some() {
        if let Some(d) = &cli.dir {
            programs.insert(0, d.clone());
        }
        None
    } else {
        Some(
            cli.dir
                .clone()
                .ok_or_else(|| ctcore::failure(125, "a DIR (or --output FILE) is required"))?,
        )
    };
    if cli.format.is_some() && cli.output.is_none() {
        return Err(ctcore::failure(125, "--format needs --output FILE"));
    }
    if !cli.import.is_empty() && dir.is_none() {
        return Err(ctcore::failure(125, "--import needs a DIR, not --output"));
    }
    let dash = programs.iter().any(|p| p.as_os_str() == "-");
    programs.retain(|p| p.as_os_str() != "-");
    if dash
        || (programs.is_empty()
            && cli.files.is_empty()
            && cli.import.is_empty()
            && !std::io::stdin().is_terminal())
    {
        programs.extend(read_stdin_inputs()?);
    }
    let layers_only = programs.is_empty() && cli.files.is_empty() && !cli.import.is_empty();
    let plan = if layers_only {
        Plan::default()
    } else {
        build_plan(&cli, &programs)?
    };
    if cli.dry_run {
        if cli.json {
            let mut v = listing(&plan);
            if !cli.import.is_empty() {
                v["import"] = cli
                    .import
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .into();
            }
            ctcore::json::print_pretty(&v)?;
        } else {
            let mut out = std::io::stdout().lock();
            for l in &cli.import {
                writeln!(out, "import {}", l.display())?;
            }
            for (p, e) in &plan.entries {
                let from = match (&e.kind, &e.source) {
                    (Kind::Symlink(t), _) => format!(" -> {}", t.display()),
                    (_, Some(src)) if *src != Path::new("/").join(p) => {
                        format!(" <- {}", src.display())
                    }
                    _ => String::new(),
                };
                writeln!(out, "{} /{}{from}", e.type_name(), p.display())?;
            }
        }
        return Ok(0);
    }
    let mut plan = plan;
    if let Some(out) = &cli.output {
        if plan.ldconfig {
            add_ld_cache(&mut plan)?;
        }
        let fmt = infer_format(&cli, out);
        let emit = |w: &mut dyn Write| match fmt {
            write::Format::Tar => write::tar(&plan, w),
            write::Format::Cpio => write::cpio(&plan, w),
        };
        if out.as_os_str() == "-" {
            if std::io::stdout().is_terminal() {
                return Err(ctcore::failure(
                    125,
                    "refusing to write an archive to a terminal (redirect standard output)",
                ));
            }
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            emit(&mut w)?;
            w.flush()?;
        } else {
            let tmp = out.with_file_name(format!(
                ".{}.mkrootfs-tmp",
                out.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
            let res = (|| {
                let f = std::fs::File::create(&tmp)
                    .with_context(|| format!("{}: cannot create", tmp.display()))?;
                let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
                emit(&mut w)?;
                w.into_inner().map_err(|e| e.into_error())?.sync_data().ok();
                std::fs::rename(&tmp, out)
                    .with_context(|| format!("{}: cannot write", out.display()))
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res?;
        }
        return Ok(0);
    }
    let dir = dir.unwrap_or_default();
    let existed = dir.exists();
    let was_empty = existed && std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none());
    let res = (|| {
        for l in &cli.import {
            let n = import::import(l, &dir)?;
            if cli.verbose {
                eprintln!("mkrootfs: {}: {n} entries", l.display());
            }
        }
        if !layers_only {
            let how = if cli.link {
                write::CopyMode::Link
            } else if cli.reflink {
                write::CopyMode::Reflink
            } else {
                write::CopyMode::Copy
            };
            let st = write::to_dir_with(&plan, &dir, how)?;
            if plan.ldconfig {
                ldconfig(&dir)?;
            }
            if cli.verbose {
                eprintln!(
                    "mkrootfs: {} files copied, {} linked, {} cloned, {} unchanged, {} other entries",
                    st.copied, st.linked, st.cloned, st.unchanged, st.made
                );
            }
        }
        anyhow::Ok(())
    })();
    if res.is_err() {
        if !existed {
            let _ = std::fs::remove_dir_all(&dir);
        } else if was_empty {
            import::empty_dir(&dir);
        }
    }
    res?;
    Ok(0)
}
