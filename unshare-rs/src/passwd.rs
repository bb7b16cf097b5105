//! The user and group databases, read from `/etc/passwd` and `/etc/group`
//! directly instead of through the C library's NSS.
//!
//! unshare-rs is linked statically (see `build/link.rs`), and a static
//! glibc must dlopen every NSS module but `files`, which crashes the
//! process on a host whose nsswitch.conf lists nss-systemd or LDAP.  The
//! names unshare-rs resolves (`--setuid`, `--setgid`, the caller's name for
//! /etc/subuid, the caller's login shell) are local accounts, as the
//! subordinate-id files and newuidmap(1) expect; numbers always work.

use std::path::Path;

/// One line of /etc/passwd or /etc/group: name, id, and (passwd) the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub id: u32,
    pub shell: String,
}

/// The entries of a passwd (`name:pw:uid:gid:gecos:home:shell`) or group
/// (`name:pw:gid:members`) file; malformed lines are skipped.
#[must_use]
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('+') && !l.starts_with('-'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let id = f.get(2)?.parse().ok()?;
            let name = (*f.first()?).to_string();
            if name.is_empty() {
                return None;
            }
            let shell = if f.len() >= 7 { f[6] } else { "" }.to_string();
            Some(Entry { name, id, shell })
        })
        .collect()
}

fn read(file: &Path) -> Vec<Entry> {
    std::fs::read_to_string(file).map_or_else(|_| Vec::new(), |t| parse(&t))
}

/// The first entry named `name` in `file`.
#[must_use]
pub fn by_name(file: &Path, name: &str) -> Option<Entry> {
    read(file).into_iter().find(|e| e.name == name)
}

/// The first entry with id `id` in `file`.
#[must_use]
pub fn by_id(file: &Path, id: u32) -> Option<Entry> {
    read(file).into_iter().find(|e| e.id == id)
}

/// /etc/passwd.
pub const PASSWD: &str = "/etc/passwd";
/// /etc/group.
pub const GROUP: &str = "/etc/group";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_lines() {
        let t = "root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n+nis\n:x:5:5::/:\n";
        let e = parse(t);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].name, "nobody");
        assert_eq!(e[1].id, 65534);
        assert_eq!(e[1].shell, "/usr/sbin/nologin");
        let g = parse("wheel:x:10:alice,bob\nusers:x:100:\n");
        assert_eq!(
            g[1],
            Entry {
                name: "users".into(),
                id: 100,
                shell: String::new()
            }
        );
    }

    #[test]
    fn lookups_in_files() {
        let d = cttest::tempdir().unwrap();
        let f = d.path().join("passwd");
        std::fs::write(
            &f,
            "a:x:1:1::/:/bin/sh\nb:x:2:2::/:/bin/zsh\na:x:3:3::/:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(by_name(&f, "a").unwrap().id, 1);
        assert_eq!(by_id(&f, 2).unwrap().shell, "/bin/zsh");
        assert!(by_name(&f, "c").is_none());
        assert!(by_name(&d.path().join("missing"), "a").is_none());
    }
}
