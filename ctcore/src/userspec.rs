//! A container's `USER[:GROUP]` as Docker resolves it (unshare-rs --userspec in join
//! mode, chroot-rs --run-as): the credentials of `docker run -u` and `docker exec
//! -u`, looked up in the files of the container's root.
//!
//! The lookup runs after the namespaces and the root have been entered, so
//! `/etc/passwd` and `/etc/group` are opened inside the container's root:
//! an absolute symlink that the container planted there resolves inside it,
//! never on the host.  The rules are runc's (`GetExecUser`), which Docker
//! uses:
//!
//! * USER is a name or a uid; the first passwd line whose name or uid
//!   matches gives the uid, the login gid and HOME.  A number that no line
//!   names is taken as it is, with gid 0 and HOME `/`; a name that no line
//!   names is an error.
//! * GROUP (a name or a gid) replaces the login gid; a name no group line
//!   has is an error.  Without GROUP, the supplementary groups are every
//!   group that lists the user's name as a member; with GROUP there are
//!   none.

use crate::failure;

/// What `USER[:GROUP]` resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
    /// The supplementary groups.
    pub groups: Vec<u32>,
    /// The home directory (HOME, when the environment has none).
    pub home: Vec<u8>,
}

/// One passwd line's fields that matter here.
struct Entry<'a> {
    name: &'a [u8],
    uid: u32,
    gid: u32,
    home: &'a [u8],
}

fn lines(text: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    text.split(|&b| b == b'\n').filter_map(|l| {
        let l = l.trim_ascii();
        if l.is_empty() || l[0] == b'#' {
            return None;
        }
        Some(l.split(|&b| b == b':').collect())
    })
}

/// A decimal id as runc takes one (digits only, below 2^31).
fn number(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s)
        .ok()?
        .parse::<u32>()
        .ok()
        .filter(|&n| n <= i32::MAX as u32)
}

fn passwd_entries(text: &[u8]) -> Vec<Entry<'_>> {
    lines(text)
        .filter_map(|f| {
            if f.len() < 4 || f[0].is_empty() {
                return None;
            }
            Some(Entry {
                name: f[0],
                uid: number(f[2])?,
                gid: number(f[3])?,
                home: f.get(5).copied().unwrap_or(b""),
            })
        })
        .collect()
}

/// A group line: name, gid, members.
type GroupEntry<'a> = (&'a [u8], u32, Vec<&'a [u8]>);

/// The entries of a group file.
fn group_entries(text: &[u8]) -> Vec<GroupEntry<'_>> {
    lines(text)
        .filter_map(|f| {
            if f.len() < 3 || f[0].is_empty() {
                return None;
            }
            let members = f
                .get(3)
                .map(|m| {
                    m.split(|&b| b == b',')
                        .map(<[u8]>::trim_ascii)
                        .filter(|m| !m.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            Some((f[0], number(f[2])?, members))
        })
        .collect()
}

fn range_error() -> anyhow::Error {
    failure(125, "uids and gids must be in range 0-2147483647")
}

/// Resolve `spec` against the text of the passwd and group files (`None`:
/// the file does not exist).
///
/// # Errors
/// Docker's messages: `unable to find user NAME: no matching entries in
/// passwd file`, `unable to find group NAME: no matching entries in group
/// file`, and ids out of range.
pub fn resolve(spec: &str, passwd: Option<&[u8]>, group: Option<&[u8]>) -> anyhow::Result<Creds> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g).filter(|g| !g.is_empty())),
        None => (spec, None),
    };
    let mut c = Creds {
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        home: b"/".to_vec(),
    };
    let users = passwd.map(passwd_entries).unwrap_or_default();
    let num = number(user.as_bytes());
    let found = (!user.is_empty())
        .then(|| {
            users
                .iter()
                .find(|e| e.name == user.as_bytes() || num == Some(e.uid))
        })
        .flatten();
    let mut name: Option<&[u8]> = None;
    if let Some(e) = found {
        c.uid = e.uid;
        c.gid = e.gid;
        c.home = e.home.to_vec();
        name = Some(e.name);
    } else if !user.is_empty() {
        if user.bytes().all(|b| b.is_ascii_digit()) {
            c.uid = num.ok_or_else(range_error)?;
        } else {
            return Err(failure(
                125,
                format!("unable to find user {user}: no matching entries in passwd file"),
            ));
        }
    }
    let groups = group.map(group_entries).unwrap_or_default();
    if let Some(g) = grp {
        let gnum = number(g.as_bytes());
        if let Some((_, gid, _)) = groups
            .iter()
            .find(|(n, gid, _)| *n == g.as_bytes() || gnum == Some(*gid))
        {
            c.gid = *gid;
        } else if g.bytes().all(|b| b.is_ascii_digit()) {
            c.gid = gnum.ok_or_else(range_error)?;
        } else {
            return Err(failure(
                125,
                format!("unable to find group {g}: no matching entries in group file"),
            ));
        }
    } else if let Some(n) = name {
        c.groups = groups
            .iter()
            .filter(|(_, _, members)| members.contains(&n))
            .map(|(_, gid, _)| *gid)
            .collect();
    }
    Ok(c)
}

/// Read the passwd and group files of the current root and resolve `spec`.
///
/// # Errors
/// See [`resolve`]; a file that exists but cannot be read.
pub fn resolve_here(spec: &str) -> anyhow::Result<Creds> {
    let read = |p: &str| match std::fs::read(p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failure(
            125,
            format!("cannot read {p}: {}", crate::error_text(&e)),
        )),
    };
    let passwd = read(crate::passwd::PASSWD)?;
    let group = read(crate::passwd::GROUP)?;
    resolve(spec, passwd.as_deref(), group.as_deref())
}

/// Become `c`: supplementary groups, gid, uid (as root, before the
/// capabilities go with the uid).
///
/// # Errors
/// A refused call (setgroups in a user namespace that denies it, with
/// groups to set).
pub fn become_user(c: &Creds) -> anyhow::Result<()> {
    let err = |what: &str| {
        failure(
            125,
            format!(
                "{what}: {}",
                crate::error_text(&std::io::Error::last_os_error())
            ),
        )
    };
    let groups: Vec<libc::gid_t> = c.groups.clone();
    // SAFETY: a valid array of `len` gids.
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } < 0 && !groups.is_empty() {
        return Err(err("setgroups failed"));
    }
    // SAFETY: plain credential calls.
    if unsafe { libc::setgid(c.gid) } < 0 {
        return Err(err("setgid() failed"));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(c.uid) } < 0 {
        return Err(err("setuid() failed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        short:x:1001:1001\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    const GROUP: &[u8] = b"root:x:0:\n\
        daemon:x:1:\n\
        wheel:x:10:app,root\n\
        audio:x:29: app\n\
        app:x:1000:\n\
        nogroup:x:65534:\n";

    fn r(spec: &str) -> anyhow::Result<Creds> {
        resolve(spec, Some(PASSWD), Some(GROUP))
    }

    fn msg(spec: &str) -> String {
        r(spec).unwrap_err().to_string()
    }

    #[test]
    fn name_gives_uid_gid_home_and_member_groups() {
        let c = r("app").unwrap();
        assert_eq!((c.uid, c.gid), (1000, 1000));
        assert_eq!(c.home, b"/home/app");
        assert_eq!(c.groups, [10, 29]);
        let c = r("root").unwrap();
        assert_eq!((c.uid, c.gid, c.groups.clone()), (0, 0, vec![10]));
    }

    #[test]
    fn uid_finds_its_line_or_stands_alone() {
        let c = r("1000").unwrap();
        assert_eq!((c.uid, c.gid), (1000, 1000));
        assert_eq!(c.home, b"/home/app");
        let c = r("4242").unwrap();
        assert_eq!((c.uid, c.gid, c.home.clone()), (4242, 0, b"/".to_vec()));
        assert!(c.groups.is_empty());
        let c = r("short").unwrap();
        assert_eq!(c.home, b"");
    }

    #[test]
    fn group_replaces_the_login_group_and_the_supplementary_ones() {
        let c = r("app:audio").unwrap();
        assert_eq!((c.uid, c.gid), (1000, 29));
        assert!(c.groups.is_empty());
        let c = r("app:4242").unwrap();
        assert_eq!(c.gid, 4242);
        let c = r("app:10").unwrap();
        assert_eq!(c.gid, 10);
        let c = r(":audio").unwrap();
        assert_eq!((c.uid, c.gid), (0, 29));
        let c = r("app:").unwrap();
        assert_eq!(c.gid, 1000);
    }

    #[test]
    fn docker_messages() {
        assert_eq!(
            msg("ghost"),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            msg("app:ghosts"),
            "unable to find group ghosts: no matching entries in group file"
        );
        assert_eq!(
            msg("4294967296"),
            "uids and gids must be in range 0-2147483647"
        );
        let e = resolve("app", None, None).unwrap_err().to_string();
        assert_eq!(
            e,
            "unable to find user app: no matching entries in passwd file"
        );
        let c = resolve("7", None, None).unwrap();
        assert_eq!((c.uid, c.gid), (7, 0));
    }
}
