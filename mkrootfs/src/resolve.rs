//! The resolver: which files the dynamic loader would map for a program,
//! following glibc's `_dl_map_object` rules (see the research notes §2).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::bail;

use crate::elf::{self, ElfInfo};
use crate::ldconf::{self, LoaderEnv};

/// One file the loader maps, and why.
#[derive(Debug, Clone)]
pub struct Found {
    /// The path where the loader finds it (not canonicalised).
    pub path: PathBuf,
    /// Input, then each DT_NEEDED name leading to it.
    pub chain: Vec<String>,
    /// Found through ld.so.cache or ld.so.conf in a directory that is not
    /// a built-in system directory: the root needs its own cache.
    pub via_cache: bool,
}

struct Obj {
    info: Rc<ElfInfo>,
    origin: String,
    loader: Option<usize>,
    chain: Vec<String>,
}

/// Parsed-file and loader-environment caches shared by all inputs.
#[derive(Default)]
pub struct Resolver {
    elves: HashMap<PathBuf, Option<Rc<ElfInfo>>>,
    envs: HashMap<(Option<String>, u16, u8), Rc<LoaderEnv>>,
    /// Directories searched like LD_LIBRARY_PATH (only when given).
    pub library_path: Vec<String>,
    fixed_env: Option<Rc<LoaderEnv>>,
}

/// Split a path list on `:` and `;` like glibc's `fillin_rpath`.
fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split([':', ';'])
}

/// Expand `$ORIGIN`, `$LIB`, `$PLATFORM` (and their `${...}` forms).
#[must_use]
pub fn expand_dst(s: &str, origin: &str, env: &LoaderEnv) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(e) => (&b[..e], e + 2),
                None => ("", 0),
            }
        } else {
            let e = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..e], e)
        };
        let val = match name {
            "ORIGIN" => Some(origin),
            "LIB" => Some(env.dst_lib.as_str()),
            "PLATFORM" => Some(env.platform.as_str()),
            _ => None,
        };
        match val {
            Some(v) if len > 0 => {
                out.push_str(v);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn dirname(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p[..i].into(),
        None => ".".into(),
    }
}

impl Resolver {
    /// Parse (cached) a file; `None` when it is not ELF or unreadable.
    pub fn elf(&mut self, path: &Path) -> Option<Rc<ElfInfo>> {
        if let Some(v) = self.elves.get(path) {
            return v.clone();
        }
        let v = elf::parse(path).ok().flatten().map(Rc::new);
        self.elves.insert(path.to_path_buf(), v.clone());
        v
    }

    /// Use `env` for every object instead of the host's loader values
    /// (for tests and other roots).
    pub fn set_env(&mut self, env: LoaderEnv) {
        self.fixed_env = Some(Rc::new(env));
    }

    /// `env` with the loader's own values (asked once per loader).
    fn refined(&mut self, env: &mut Rc<LoaderEnv>) {
        if env.refined {
            return;
        }
        let key_of = |e: &LoaderEnv| e.interp.clone();
        let r = Rc::new(ldconf::refine(env));
        for v in self.envs.values_mut() {
            if !v.refined && key_of(v) == key_of(&r) {
                *v = r.clone();
            }
        }
        *env = r;
    }

    /// The loader environment that applies to the ELF file `path`.
    pub fn env_for(&mut self, path: &Path) -> Option<Rc<LoaderEnv>> {
        let info = self.elf(path)?;
        Some(self.env(info.interp.as_deref(), &info))
    }

    fn env(&mut self, interp: Option<&str>, info: &ElfInfo) -> Rc<LoaderEnv> {
        if let Some(e) = &self.fixed_env {
            return e.clone();
        }
        let key = (interp.map(String::from), info.machine, info.class);
        self.envs
            .entry(key)
            .or_insert_with(|| Rc::new(ldconf::loader_env_fast(interp, info.machine, info.class)))
            .clone()
    }

    /// Every file the loader maps to run `main`: the interpreter at its
    /// PT_INTERP path, then the libraries in breadth-first order. An
    /// ELF without PT_INTERP (a shared library, a static-pie) gets its
    /// DT_NEEDED resolved too; a static one gives an empty list.
    ///
    /// # Errors
    /// A library that cannot be found, with the chain that needs it and the
    /// directories searched.
    pub fn closure(&mut self, main: &Path, chain: &[String]) -> anyhow::Result<Vec<Found>> {
        let Some(info) = self.elf(main) else {
            elf::parse(main)?;
            bail!("{}: not an ELF file", main.display())
        };
        let mut out = Vec::new();
        if info.interp.is_none() && info.needed.is_empty() && info.dlopen.is_empty() {
            return Ok(out);
        }
        let mut env = self.env(info.interp.as_deref(), &info);
        let main_s = main.to_string_lossy().into_owned();
        let origin = if info.interp.is_some() {
            // The executable's $ORIGIN is the dir of /proc/self/exe: its realpath.
            std::fs::canonicalize(main)
                .map_or_else(|_| dirname(&main_s), |p| dirname(&p.to_string_lossy()))
        } else {
            dirname(&main_s)
        };
        let mut objs = vec![Obj {
            info: info.clone(),
            origin,
            loader: None,
            chain: chain.to_vec(),
        }];
        // Names (DT_NEEDED strings, sonames, paths) of loaded objects.
        let mut names: HashMap<String, usize> = HashMap::new();
        names.insert(main_s.clone(), 0);
        if let Some(s) = &info.soname {
            names.insert(s.clone(), 0);
        }
        if let Some(interp) = &info.interp {
            let ip = PathBuf::from(interp);
            let Some(ii) = self.elf(&ip) else {
                bail!(
                    "{}: interpreter {interp} not found (needed by {})",
                    main.display(),
                    chain.join(" -> ")
                )
            };
            let mut c = chain.to_vec();
            c.push(interp.clone());
            objs.push(Obj {
                info: ii.clone(),
                origin: dirname(interp),
                loader: None,
                chain: c.clone(),
            });
            let id = objs.len() - 1;
            names.insert(interp.clone(), id);
            if let Some(n) = ip.file_name() {
                names.insert(n.to_string_lossy().into_owned(), id);
            }
            if let Some(s) = &ii.soname {
                names.insert(s.clone(), id);
            }
            out.push(Found {
                path: ip,
                chain: c,
                via_cache: false,
            });
        }
        let mut next = 0;
        while next < objs.len() {
            let id = next;
            next += 1;
            if id == 1 && info.interp.is_some() {
                continue; // the interpreter's own deps are none
            }
            let needed = objs[id].info.needed.clone();
            for name in needed {
                if names.contains_key(&name) {
                    continue;
                }
                let mut chain = objs[id].chain.clone();
                chain.push(name.clone());
                let (found, tried, wrong) = self.search(&name, id, &objs, &mut env, &info);
                let Some((path, li, via_cache)) = found else {
                    let why = if wrong {
                        "wrong ELF class or machine"
                    } else {
                        "not found"
                    };
                    bail!(
                        "{name}: {why}, needed by {} (searched: {})",
                        chain[..chain.len() - 1].join(" -> "),
                        if tried.is_empty() {
                            "nothing".into()
                        } else {
                            tried.join(":")
                        }
                    );
                };
                let ps = path.to_string_lossy().into_owned();
                objs.push(Obj {
                    info: li.clone(),
                    origin: dirname(&ps),
                    loader: Some(id),
                    chain: chain.clone(),
                });
                let nid = objs.len() - 1;
                names.insert(name.clone(), nid);
                names.insert(ps, nid);
                if let Some(s) = &li.soname {
                    names.entry(s.clone()).or_insert(nid);
                }
                out.push(Found {
                    path,
                    chain,
                    via_cache,
                });
            }
            // .note.dlopen: optional, so a missing one is skipped.
            let dl = objs[id].info.dlopen.clone();
            for alts in dl {
                if alts.iter().any(|n| names.contains_key(n)) {
                    continue;
                }
                for name in alts {
                    let (found, _, _) = self.search(&name, id, &objs, &mut env, &info);
                    let Some((path, li, via_cache)) = found else {
                        continue;
                    };
                    let mut chain = objs[id].chain.clone();
                    chain.push(format!("{name} (dlopen note)"));
                    let ps = path.to_string_lossy().into_owned();
                    objs.push(Obj {
                        info: li.clone(),
                        origin: dirname(&ps),
                        loader: Some(id),
                        chain: chain.clone(),
                    });
                    let nid = objs.len() - 1;
                    names.insert(name.clone(), nid);
                    names.insert(ps, nid);
                    if let Some(s) = &li.soname {
                        names.entry(s.clone()).or_insert(nid);
                    }
                    out.push(Found {
                        path,
                        chain,
                        via_cache,
                    });
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Find `name` the way a `dlopen` from libc would (no RPATH): for NSS
    /// modules and libgcc_s.
    pub fn find_default(&mut self, name: &str, like: &Path) -> Option<PathBuf> {
        let info = self.elf(like)?;
        let mut env = self.env(None, &info);
        let mut cands: Vec<String> = self
            .library_path
            .iter()
            .map(|d| format!("{d}/{name}"))
            .collect();
        if let Some(c) = env.cache.as_ref().and_then(|c| c.get(name)) {
            cands.extend(c.iter().cloned());
        }
        let ok =
            |me: &mut Self, p: &String| me.elf(Path::new(p)).is_some_and(|i| info.compatible(&i));
        if let Some(p) = cands.iter().find(|p| ok(self, p)) {
            return Some(PathBuf::from(p));
        }
        self.refined(&mut env);
        let rest: Vec<String> = env
            .conf_dirs
            .iter()
            .chain(&env.system_dirs)
            .map(|d| format!("{d}/{name}"))
            .collect();
        rest.into_iter().find(|p| ok(self, p)).map(PathBuf::from)
    }

    #[allow(clippy::type_complexity)]
    fn search(
        &mut self,
        name: &str,
        id: usize,
        objs: &[Obj],
        env_rc: &mut Rc<LoaderEnv>,
        main: &ElfInfo,
    ) -> (Option<(PathBuf, Rc<ElfInfo>, bool)>, Vec<String>, bool) {
        let obj = &objs[id];
        // $LIB and $PLATFORM need the loader's own values.
        let needs_dst = |s: &str| s.contains('$') && (s.contains("LIB") || s.contains("PLATFORM"));
        let mut any_dst = needs_dst(name) || self.library_path.iter().any(|s| needs_dst(s));
        let mut l = Some(id);
        while let Some(i) = l {
            let o = &objs[i].info;
            any_dst |= o.rpath.iter().chain(&o.runpath).any(|s| needs_dst(s));
            l = objs[i].loader;
        }
        if any_dst {
            self.refined(env_rc);
        }
        let mut env = env_rc.clone();
        let mut tried = Vec::new();
        let mut wrong = false;
        let mut check =
            |me: &mut Self, p: String, tried: &mut Vec<String>| -> Option<(PathBuf, Rc<ElfInfo>)> {
                let path = PathBuf::from(&p);
                tried.push(dirname(&p));
                match me.elf(&path) {
                    Some(i) if main.compatible(&i) => Some((path, i)),
                    Some(_) => {
                        wrong = true;
                        None
                    }
                    None => None,
                }
            };
        if name.contains('/') {
            let p = expand_dst(name, &obj.origin, &env);
            return (
                check(self, p, &mut tried).map(|(a, b)| (a, b, false)),
                tried,
                wrong,
            );
        }
        let mut dirs: Vec<String> = Vec::new();
        if obj.info.runpath.is_none() {
            let mut l = Some(id);
            while let Some(i) = l {
                let o = &objs[i];
                if o.info.runpath.is_none()
                    && let Some(rp) = &o.info.rpath
                {
                    dirs.extend(split_list(rp).map(|d| expand_dst(d, &o.origin, &env)));
                }
                l = o.loader;
            }
        }
        dirs.extend(
            self.library_path
                .iter()
                .map(|d| expand_dst(d, &obj.origin, &env)),
        );
        if let Some(rp) = &obj.info.runpath {
            dirs.extend(split_list(rp).map(|d| expand_dst(d, &obj.origin, &env)));
        }
        for d in dirs {
            let d = if d.is_empty() { ".".to_string() } else { d };
            let p = if d.ends_with('/') {
                format!("{d}{name}")
            } else {
                format!("{d}/{name}")
            };
            if let Some((a, b)) = check(self, p, &mut tried) {
                return (Some((a, b, false)), tried, wrong);
            }
        }
        if obj.info.nodeflib {
            return (None, tried, wrong);
        }
        if let Some(c) = env.cache.as_ref().and_then(|c| c.get(name)).cloned() {
            for p in c {
                if let Some((a, b)) = check(self, p.clone(), &mut tried) {
                    let dir = dirname(&p);
                    if !env.system_dirs.contains(&dir) {
                        // is it really outside the built-in dirs? ask the loader
                        self.refined(env_rc);
                        env = env_rc.clone();
                    }
                    let system = env.system_dirs.contains(&dir);
                    return (Some((a, b, !system)), tried, wrong);
                }
            }
        }
        self.refined(env_rc);
        let env = env_rc.clone();
        for d in env.conf_dirs.iter().chain(&env.system_dirs) {
            if let Some((a, b)) = check(self, format!("{d}/{name}"), &mut tried) {
                let system = env.system_dirs.contains(d);
                return (Some((a, b, !system)), tried, wrong);
            }
        }
        tried.dedup();
        (None, tried, wrong)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dst_expansion() {
        let env = LoaderEnv {
            dst_lib: "lib/x86_64-linux-gnu".into(),
            platform: "haswell".into(),
            ..Default::default()
        };
        assert_eq!(expand_dst("$ORIGIN/../lib", "/a/b", &env), "/a/b/../lib");
        assert_eq!(
            expand_dst("${ORIGIN}/x/${LIB}", "/o", &env),
            "/o/x/lib/x86_64-linux-gnu"
        );
        assert_eq!(
            expand_dst("/p/$PLATFORM/$LIBX", "/o", &env),
            "/p/haswell/$LIBX"
        );
        assert_eq!(expand_dst("/p/$", "/o", &env), "/p/$");
    }
}
