//! The user and group databases, read from `/etc/passwd` and `/etc/group`
//! directly instead of through the C library's NSS.
//!
//! The tools are linked statically (see `build/link.rs`), and a static
//! glibc must dlopen every NSS module but `files`, which crashes the
//! process on a host whose nsswitch.conf lists nss-systemd or LDAP.  So
//! chroot-rs (`--userspec`, `--groups`) and unshare-rs (`--map-user`,
//! `--map-group`, the caller's name for /etc/subuid, the login shell)
//! answer the way glibc's `files` backend does: the first
//! matching entry wins, and a user's groups are its login group and then
//! every group that lists it as a member, in file order (`getgrouplist`).
//!
//! The paths are absolute, so they name the files of whatever root the
//! process has when a [`Db`] first reads them: make one per root.

use std::cell::OnceCell;
use std::path::PathBuf;

/// /etc/passwd.
pub const PASSWD: &str = "/etc/passwd";
/// /etc/group.
pub const GROUP: &str = "/etc/group";

/// One line of a passwd file (`name:pw:uid:gid:gecos:home:shell`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The login name (bytes: the files need not be UTF-8).
    pub name: Vec<u8>,
    /// The user id.
    pub uid: u32,
    /// The login group id.
    pub gid: u32,
    /// The login shell (empty when the line has none).
    pub shell: Vec<u8>,
}

/// One line of a group file (`name:pw:gid:member,member`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group name.
    pub name: Vec<u8>,
    /// The group id.
    pub gid: u32,
    /// The user names listed as members.
    pub members: Vec<Vec<u8>>,
}

/// The lines worth parsing, glibc `files` style: leading white space
/// skipped, empty lines and `#` comments ignored, and (unlike glibc, which
/// takes them for names) the `+`/`-` lines of NIS compat skipped.
fn records(text: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    text.split(|&b| b == b'\n').filter_map(|l| {
        let start = l.iter().position(|b| !is_space(*b))?;
        let l = &l[start..];
        if matches!(l[0], b'#' | b'+' | b'-') {
            return None;
        }
        let f: Vec<&[u8]> = l.split(|&b| b == b':').collect();
        (!f[0].is_empty()).then_some(f)
    })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// A decimal id: digits only, no sign, no overflow.
fn id(field: &[u8]) -> Option<u32> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// The entries of a passwd file; malformed lines (fewer than four fields,
/// an empty name, a uid or gid that is not a number) are skipped.
#[must_use]
pub fn parse_passwd(text: &[u8]) -> Vec<User> {
    records(text)
        .filter_map(|f| {
            Some(User {
                name: f[0].to_vec(),
                uid: id(f.get(2)?)?,
                gid: id(f.get(3)?)?,
                shell: f.get(6).map_or_else(Vec::new, |s| s.to_vec()),
            })
        })
        .collect()
}

/// The entries of a group file; malformed lines (fewer than three fields,
/// an empty name, a gid that is not a number) are skipped.  Members are
/// split on `,`, leading white space and empty members dropped (glibc).
#[must_use]
pub fn parse_group(text: &[u8]) -> Vec<Group> {
    records(text)
        .filter_map(|f| {
            let members = f.get(3).map_or_else(Vec::new, |m| {
                m.split(|&b| b == b',')
                    .map(|m| &m[m.iter().position(|b| !is_space(*b)).unwrap_or(m.len())..])
                    .filter(|m| !m.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            });
            Some(Group {
                name: f[0].to_vec(),
                gid: id(f.get(2)?)?,
                members,
            })
        })
        .collect()
}

/// The passwd and group files of one root, each read (once) at its first
/// lookup.  A file that cannot be read has no entries, as with glibc.
#[derive(Debug)]
pub struct Db {
    passwd_path: PathBuf,
    group_path: PathBuf,
    passwd: OnceCell<Vec<User>>,
    group: OnceCell<Vec<Group>>,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

impl Db {
    /// `/etc/passwd` and `/etc/group` of the current root (at first use).
    #[must_use]
    pub fn new() -> Self {
        Self::with_files(PASSWD, GROUP)
    }

    /// Other files (tests).
    #[must_use]
    pub fn with_files(passwd: impl Into<PathBuf>, group: impl Into<PathBuf>) -> Self {
        Self {
            passwd_path: passwd.into(),
            group_path: group.into(),
            passwd: OnceCell::new(),
            group: OnceCell::new(),
        }
    }

    fn users(&self) -> &[User] {
        self.passwd.get_or_init(|| {
            std::fs::read(&self.passwd_path).map_or_else(|_| Vec::new(), |t| parse_passwd(&t))
        })
    }

    fn groups(&self) -> &[Group] {
        self.group.get_or_init(|| {
            std::fs::read(&self.group_path).map_or_else(|_| Vec::new(), |t| parse_group(&t))
        })
    }

    /// `getpwnam`: the first user named `name`.
    #[must_use]
    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.users().iter().find(|u| u.name == name.as_bytes())
    }

    /// `getpwuid`: the first user with id `uid`.
    #[must_use]
    pub fn user_by_uid(&self, uid: u32) -> Option<&User> {
        self.users().iter().find(|u| u.uid == uid)
    }

    /// `getgrnam`: the first group named `name`.
    #[must_use]
    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups().iter().find(|g| g.name == name.as_bytes())
    }

    /// `getgrouplist` with the `files` backend: `gid` first, then the id
    /// of every group listing `user` as a member, in file order, each id
    /// once.
    #[must_use]
    pub fn grouplist(&self, user: &[u8], gid: u32) -> Vec<u32> {
        let mut out = vec![gid];
        for g in self.groups() {
            if !out.contains(&g.gid) && g.members.iter().any(|m| m == user) {
                out.push(g.gid);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, uid: u32, gid: u32, shell: &str) -> User {
        User {
            name: name.into(),
            uid,
            gid,
            shell: shell.into(),
        }
    }

    #[test]
    fn passwd_lines() {
        let t = b"root:x:0:0:root:/root:/bin/bash\n\
# a comment\n\
   # an indented comment\n\
\n\
bad line\n\
+nisuser\n\
-nisuser:x:7:7::/:\n\
+:::::::\n\
:x:5:5::/:\n\
nouid:x::5::/:\n\
neg:x:-1:5::/:\n\
big:x:4294967296:5::/:\n\
plus:x:+3:5::/:\n\
short:x:9\n\
  indented:x:10:11::/:/bin/sh\n\
min:x:12:13\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin";
        assert_eq!(
            parse_passwd(t),
            vec![
                user("root", 0, 0, "/bin/bash"),
                user("indented", 10, 11, "/bin/sh"),
                user("min", 12, 13, ""),
                user("nobody", 65534, 65534, "/usr/sbin/nologin"),
            ]
        );
        // Not UTF-8: still parsed, as bytes.
        let u = parse_passwd(b"caf\xe9:x:1:2::/:\nok:x:3:4::/:\n");
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].name, b"caf\xe9");
        assert_eq!(u[1], user("ok", 3, 4, ""));
    }

    #[test]
    fn group_lines() {
        let t = b"wheel:x:10:alice,bob\n\
users:x:100:\n\
bare:x:101\n\
spaced:x:102: alice,, bob ,\n\
#c:x:103:alice\n\
+nis:x:104:alice\n\
nogid:x::alice\n\
bad\n";
        let g = parse_group(t);
        let names: Vec<&[u8]> = g.iter().map(|g| g.name.as_slice()).collect();
        assert_eq!(names, [&b"wheel"[..], b"users", b"bare", b"spaced"]);
        assert_eq!(g[0].gid, 10);
        assert_eq!(g[0].members, [b"alice".to_vec(), b"bob".to_vec()]);
        assert!(g[1].members.is_empty());
        assert!(g[2].members.is_empty());
        assert_eq!(g[3].members, [b"alice".to_vec(), b"bob ".to_vec()]);
    }

    #[test]
    fn lookups_in_files() {
        let d = cttest::tempdir().unwrap();
        let p = d.path().join("passwd");
        let g = d.path().join("group");
        std::fs::write(
            &p,
            "a:x:1:1::/:/bin/sh\nb:x:2:20::/:/bin/zsh\na:x:3:3::/:/bin/sh\nc:x:2:30::/:\n",
        )
        .unwrap();
        std::fs::write(
            &g,
            "g1:x:1:\nextra:x:50:b,a\nother:x:51:a\nagain:x:50:b\ng20:x:20:b\nlast:x:52:c,b\ng1:x:99:\n",
        )
        .unwrap();
        let db = Db::with_files(&p, &g);
        // First match wins, by name and by id.
        assert_eq!(db.user_by_name("a"), Some(&user("a", 1, 1, "/bin/sh")));
        assert_eq!(db.user_by_uid(2), Some(&user("b", 2, 20, "/bin/zsh")));
        assert_eq!(
            db.user_by_uid(3).map(|u| u.name.clone()),
            Some(b"a".to_vec())
        );
        assert!(db.user_by_name("nobody").is_none());
        assert!(db.user_by_uid(4).is_none());
        assert_eq!(db.group_by_name("g1").map(|g| g.gid), Some(1));
        assert_eq!(db.group_by_name("last").map(|g| g.gid), Some(52));
        assert!(db.group_by_name("nogroup").is_none());
        // The login group first, then memberships in file order, each once
        // (the login group again as a member, or a gid twice, adds nothing).
        assert_eq!(db.grouplist(b"b", 20), [20, 50, 52]);
        assert_eq!(db.grouplist(b"a", 1), [1, 50, 51]);
        assert_eq!(db.grouplist(b"a", 7), [7, 50, 51]);
        assert_eq!(db.grouplist(b"zz", 5), [5]);
        // Missing files: no entries, and the group list is the login group.
        let none = Db::with_files(d.path().join("no-passwd"), d.path().join("no-group"));
        assert!(none.user_by_name("a").is_none());
        assert!(none.group_by_name("g1").is_none());
        assert_eq!(none.grouplist(b"a", 1), [1]);
    }

    #[test]
    fn files_are_read_at_first_use() {
        let d = cttest::tempdir().unwrap();
        let p = d.path().join("passwd");
        let g = d.path().join("group");
        let db = Db::with_files(&p, &g);
        std::fs::write(&p, "late:x:5:6::/:\n").unwrap();
        std::fs::write(&g, "lateg:x:6:\n").unwrap();
        assert_eq!(db.user_by_name("late").map(|u| u.uid), Some(5));
        assert_eq!(db.group_by_name("lateg").map(|g| g.gid), Some(6));
    }
}
