//! A minimal root filesystem for tests, built from host binaries the way
//! the document builds one: make the skeleton, copy each program, ask
//! `ldd` which shared libraries it needs, and copy those to the same
//! paths inside the root.
//!
//! ```ignore
//! let root = cttest::tempdir()?;
//! cttest::minroot::build(root.path(), &["bash", "ls", "/usr/bin/id"])?;
//! ```
//!
//! A program named without a slash is looked up in `PATH` and copied to
//! `/bin/NAME`; one given as a path is copied to the same path inside the
//! root.  Static programs (where `ldd` says "not a dynamic executable")
//! are copied alone.  The skeleton is the document's directory list (`bin
//! dev etc home lib lib64 mnt opt proc root run sbin sys tmp usr var`),
//! with `/tmp` mode 1777, plus a minimal `/etc/passwd` and `/etc/group`
//! (root and nobody/nogroup) when the root has none.  Building twice into
//! the same directory is fine.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The document's `ls /` of a root filesystem.
pub const SKELETON: &[&str] = &[
    "bin", "dev", "etc", "home", "lib", "lib64", "mnt", "opt", "proc", "root", "run", "sbin",
    "sys", "tmp", "usr", "var",
];

/// Build a minimal root in `dir` holding `programs` and their libraries.
///
/// # Errors
/// A program that cannot be found or copied, or `ldd` failing to run.
pub fn build(dir: &Path, programs: &[&str]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for d in SKELETON {
        fs::create_dir_all(dir.join(d))?;
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    let passwd = dir.join("etc/passwd");
    if !passwd.exists() {
        fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )?;
    }
    let group = dir.join("etc/group");
    if !group.exists() {
        fs::write(&group, "root:x:0:\nnogroup:x:65534:\n")?;
    }
    for prog in programs {
        let (src, dest) = locate(prog)?;
        copy_into(dir, &src, &dest)?;
        for lib in libraries(&src)? {
            copy_into(dir, &lib, &lib)?;
        }
    }
    Ok(())
}

/// Where `prog` is on the host, and where it goes in the root.
fn locate(prog: &str) -> io::Result<(PathBuf, PathBuf)> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        let abs = if p.is_absolute() {
            p
        } else {
            std::env::current_dir()?.join(p)
        };
        return Ok((abs.clone(), abs));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
        .map(|p| (p, Path::new("/bin").join(prog)))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{prog}: not found in PATH"),
            )
        })
}

/// The libraries `ldd` lists for `bin`: the `=> /path` targets and the
/// interpreter line (`/lib64/ld-linux-x86-64.so.2 (0x...)`), as the
/// document's `egrep -o '/lib.*\.[0-9]'` picks them.
///
/// # Errors
/// When ldd cannot be run.
pub fn libraries(bin: &Path) -> io::Result<Vec<PathBuf>> {
    let out = Command::new("ldd").arg(bin).output()?;
    Ok(parse_ldd(&String::from_utf8_lossy(&out.stdout)))
}

/// Parse `ldd` output into absolute library paths.
#[must_use]
pub fn parse_ldd(text: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rhs)) => rhs.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            let p = PathBuf::from(p);
            if !v.contains(&p) {
                v.push(p);
            }
        }
    }
    v
}

/// Copy `src` (following symbolic links, as cp does) to `dest` inside
/// `root`, keeping its mode.
fn copy_into(root: &Path, src: &Path, dest: &Path) -> io::Result<()> {
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    let to = root.join(rel);
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    if to.exists() {
        fs::remove_file(&to)?;
    }
    fs::copy(src, &to).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", src.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ldd() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibtinfo.so.6 => /lib/x86_64-linux-gnu/libtinfo.so.6 (0x00007f5c)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5c)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f5c)\n\
                    \tlibgone.so.1 => not found\n";
        assert_eq!(
            parse_ldd(text),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libtinfo.so.6"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        assert!(parse_ldd("\tnot a dynamic executable\n").is_empty());
    }

    #[test]
    fn builds_a_root_with_bash() {
        let d = crate::tempdir().unwrap();
        build(d.path(), &["bash", "ls"]).unwrap();
        assert!(d.path().join("bin/bash").is_file());
        assert!(d.path().join("bin/ls").is_file());
        for lib in libraries(Path::new("/bin/bash")).unwrap() {
            assert!(d.path().join(lib.strip_prefix("/").unwrap()).is_file());
        }
        let mut names: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, SKELETON);
        build(d.path(), &["bash"]).unwrap();
        assert!(build(d.path(), &["no-such-program-ctools"]).is_err());
    }
}
