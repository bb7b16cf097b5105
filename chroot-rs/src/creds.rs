//! `--userspec` and `--groups`, with the semantics of gnulib's
//! `parse_user_spec` and coreutils chroot's `parse_additional_groups`.
//!
//! Names are looked up in a [`Db`]: the /etc/passwd and /etc/group of
//! whatever root the process has when it first reads them (never through
//! the C library's NSS: chroot-rs is static, see [`crate::passwd`]).
//! chroot-rs looks up once before changing root and again after, each with
//! its own `Db`, and the inside answers win.

use crate::passwd::Db;

/// Parse an unsigned decimal number the way gnulib's `xstrtoul` does with
/// no valid suffixes: leading white space and one `+` allowed, a `-`
/// rejected, no trailing characters, no overflow.
#[must_use]
pub fn xstrtoul(s: &str) -> Option<u64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u64>().ok()
}

/// The user name of `uid` and its login group, from the passwd file.
#[must_use]
pub fn getpwuid(db: &Db, uid: u32) -> Option<(Vec<u8>, u32)> {
    db.user_by_uid(uid).map(|u| (u.name.clone(), u.gid))
}

const INVALID_USER: &str = "invalid user";
const INVALID_GROUP: &str = "invalid group";
const BAD_SPEC: &str = "invalid spec";

fn parse_with_separator(
    db: &Db,
    spec: &str,
    sep: Option<usize>,
    uid: &mut Option<u32>,
    gid: &mut Option<u32>,
) -> Option<&'static str> {
    let mut unum = *uid;
    let mut gnum = *gid;
    let (u, g) = match sep {
        None => ((!spec.is_empty()).then_some(spec), None),
        Some(i) => {
            let u = &spec[..i];
            let g = &spec[i + 1..];
            ((!u.is_empty()).then_some(u), (!g.is_empty()).then_some(g))
        }
    };
    let mut err = None;
    if let Some(u) = u {
        let pwd = if u.starts_with('+') {
            None
        } else {
            db.user_by_name(u)
        };
        match pwd {
            None => {
                if sep.is_some() && g.is_none() {
                    err = Some(BAD_SPEC);
                } else {
                    match xstrtoul(u) {
                        Some(v) if v < u64::from(u32::MAX) => unum = Some(v as u32),
                        _ => err = Some(INVALID_USER),
                    }
                }
            }
            Some(p) => {
                unum = Some(p.uid);
                if g.is_none() && sep.is_some() {
                    gnum = Some(p.gid);
                }
            }
        }
    }
    if let Some(g) = g
        && err.is_none()
    {
        let grp = if g.starts_with('+') {
            None
        } else {
            db.group_by_name(g)
        };
        match grp {
            None => match xstrtoul(g) {
                Some(v) if v < u64::from(u32::MAX) => gnum = Some(v as u32),
                _ => err = Some(INVALID_GROUP),
            },
            Some(gr) => gnum = Some(gr.gid),
        }
    }
    if err.is_none() {
        *uid = unum;
        *gid = gnum;
    }
    err
}

/// The result of parsing a user spec: an error message (fatal unless
/// `warn`), as gnulib's `parse_user_spec_warn` returns it.
#[derive(Debug, PartialEq, Eq)]
pub struct SpecResult {
    /// The message, if any.
    pub message: Option<&'static str>,
    /// Whether the message is only a warning (`'.' should be ':'`).
    pub warn: bool,
}

/// Parse `USER[:GROUP]` into `uid` and `gid`, which keep their values for
/// the parts the spec leaves out.
pub fn parse_user_spec(
    db: &Db,
    spec: &str,
    uid: &mut Option<u32>,
    gid: &mut Option<u32>,
) -> SpecResult {
    let colon = spec.find(':');
    let err = parse_with_separator(db, spec, colon, uid, gid);
    if colon.is_none()
        && err.is_some()
        && let Some(dot) = spec.find('.')
        && parse_with_separator(db, spec, Some(dot), uid, gid).is_none()
    {
        return SpecResult {
            message: Some("warning: '.' should be ':'"),
            warn: true,
        };
    }
    SpecResult {
        message: err,
        warn: false,
    }
}

/// Parse `--groups`: a comma-separated list of names or numbers (a `+`
/// forces a number).  `Err` carries the messages to print (empty when
/// `show_errors` is false).
///
/// # Errors
/// When an entry is unknown or the list holds no entry.
pub fn parse_additional_groups(
    db: &Db,
    groups: &str,
    show_errors: bool,
    quote: &dyn Fn(&str) -> String,
) -> Result<Vec<u32>, Vec<String>> {
    let mut gids = Vec::new();
    let mut msgs = Vec::new();
    let mut failed = false;
    for tok in groups.split(',').filter(|t| !t.is_empty()) {
        let value = match xstrtoul(tok) {
            Some(v) if v <= u64::from(u32::MAX) => {
                let t = tok.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
                let mut value = v as u32;
                if !t.starts_with('+')
                    && let Some(g) = db.group_by_name(t)
                {
                    value = g.gid;
                }
                Some(value)
            }
            _ => db.group_by_name(tok).map(|g| g.gid),
        };
        match value {
            Some(v) => gids.push(v),
            None => {
                failed = true;
                if show_errors {
                    msgs.push(format!("invalid group {}", quote(tok)));
                    continue;
                }
                break;
            }
        }
    }
    if !failed && gids.is_empty() {
        if show_errors {
            msgs.push(format!("invalid group list {}", quote(groups)));
        }
        failed = true;
    }
    if failed { Err(msgs) } else { Ok(gids) }
}

/// The groups of `user` with `gid` first, as gnulib's `xgetgroups` gives
/// them (duplicates removed).  With files only this cannot fail.
#[must_use]
pub fn xgetgroups(db: &Db, user: &[u8], gid: u32) -> Vec<u32> {
    db.grouplist(user, gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        format!("'{s}'")
    }

    /// A root's databases as files in a temporary directory.
    struct Fixture {
        _dir: cttest::TempDir,
        db: Db,
    }

    fn fixture(passwd: &str, group: &str) -> Fixture {
        let dir = cttest::tempdir().unwrap();
        let (p, g) = (dir.path().join("passwd"), dir.path().join("group"));
        std::fs::write(&p, passwd).unwrap();
        std::fs::write(&g, group).unwrap();
        Fixture {
            db: Db::with_files(p, g),
            _dir: dir,
        }
    }

    fn system() -> Fixture {
        fixture(
            "root:x:0:0:root:/root:/bin/bash\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
             ct:x:4242:4343::/:/bin/false\n",
            "root:x:0:\nnogroup:x:65534:\nctgroup:x:4343:\n\
             ctextra:x:4444:nobody,ct\n+nis:x:5:ct\nbad:x::ct\n",
        )
    }

    fn spec(db: &Db, s: &str) -> (Option<&'static str>, Option<u32>, Option<u32>) {
        let (mut u, mut g) = (None, None);
        let r = parse_user_spec(db, s, &mut u, &mut g);
        (r.message, u, g)
    }

    #[test]
    fn numbers() {
        assert_eq!(xstrtoul("+5"), Some(5));
        assert_eq!(xstrtoul(" 7"), Some(7));
        assert_eq!(xstrtoul("-1"), None);
        assert_eq!(xstrtoul("0trail"), None);
        assert_eq!(xstrtoul(""), None);
        assert_eq!(xstrtoul("+"), None);
    }

    #[test]
    fn specs() {
        let f = system();
        let db = &f.db;
        assert_eq!(spec(db, "+99999:+99998"), (None, Some(99999), Some(99998)));
        assert_eq!(spec(db, "root"), (None, Some(0), None));
        assert_eq!(spec(db, "root:"), (None, Some(0), Some(0)));
        assert_eq!(spec(db, "ct:"), (None, Some(4242), Some(4343)));
        assert_eq!(spec(db, "ct:ctextra"), (None, Some(4242), Some(4444)));
        assert_eq!(spec(db, ":nogroup"), (None, None, Some(65534)));
        assert_eq!(spec(db, "no-such-user-x").0, Some("invalid user"));
        assert_eq!(spec(db, "+root").0, Some("invalid user"));
        assert_eq!(spec(db, "99999:").0, Some("invalid spec"));
        assert_eq!(spec(db, "0:0:0"), (Some("invalid group"), None, None));
        assert_eq!(spec(db, "root:nogroup-zz").0, Some("invalid group"));
        // Skipped lines are not names.
        assert_eq!(spec(db, ":+nis").0, Some("invalid group"));
        assert_eq!(spec(db, ":bad").0, Some("invalid group"));
        let (mut u, mut g) = (None, None);
        let r = parse_user_spec(db, "root.root", &mut u, &mut g);
        assert!(r.warn);
        assert_eq!((u, g), (Some(0), Some(0)));
        assert_eq!(spec(db, ""), (None, None, None));
    }

    #[test]
    fn group_lists() {
        let f = system();
        let db = &f.db;
        assert_eq!(
            parse_additional_groups(db, "0,,+1,", true, &q),
            Ok(vec![0, 1])
        );
        assert_eq!(parse_additional_groups(db, "root", true, &q), Ok(vec![0]));
        assert_eq!(
            parse_additional_groups(db, "ctextra,nogroup", true, &q),
            Ok(vec![4444, 65534])
        );
        assert_eq!(
            parse_additional_groups(db, ",", true, &q),
            Err(vec!["invalid group list ','".to_string()])
        );
        assert_eq!(
            parse_additional_groups(db, "no-such-g-1,no-such-g-2", true, &q),
            Err(vec![
                "invalid group 'no-such-g-1'".to_string(),
                "invalid group 'no-such-g-2'".to_string()
            ])
        );
        assert_eq!(parse_additional_groups(db, " ", false, &q), Err(vec![]));
    }

    #[test]
    fn users_and_their_groups() {
        let f = system();
        let db = &f.db;
        assert_eq!(getpwuid(db, 4242), Some((b"ct".to_vec(), 4343)));
        assert_eq!(getpwuid(db, 1), None);
        assert_eq!(xgetgroups(db, b"ct", 4343), [4343, 4444]);
        assert_eq!(xgetgroups(db, b"nobody", 65534), [65534, 4444]);
        assert_eq!(xgetgroups(db, b"root", 0), [0]);
        // Nothing readable: names fail, numbers still work.
        let d = cttest::tempdir().unwrap();
        let empty = Db::with_files(d.path().join("p"), d.path().join("g"));
        assert_eq!(spec(&empty, "root").0, Some("invalid user"));
        assert_eq!(spec(&empty, "0:0"), (None, Some(0), Some(0)));
        assert_eq!(xgetgroups(&empty, b"root", 0), [0]);
    }
}
