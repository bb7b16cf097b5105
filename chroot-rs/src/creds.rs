//! `--userspec` and `--groups`, with the semantics of gnulib's
//! `parse_user_spec` and coreutils chroot's `parse_additional_groups`.
//!
//! Lookups go through the C library (`getpwnam_r`, `getgrnam_r`,
//! `getgrouplist`), so they read the passwd and group databases of
//! whatever root the process has at the time: chroot-rs looks up once
//! before changing root and again after, and the inside answers win.

use nix::unistd::{Gid, Group, Uid, User};

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

fn getpwnam(name: &str) -> Option<User> {
    User::from_name(name).ok().flatten()
}

fn getgrnam(name: &str) -> Option<Group> {
    Group::from_name(name).ok().flatten()
}

/// The user name of `uid` and its login group, from the passwd database.
#[must_use]
pub fn getpwuid(uid: u32) -> Option<(String, u32)> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| (u.name, u.gid.as_raw()))
}

const INVALID_USER: &str = "invalid user";
const INVALID_GROUP: &str = "invalid group";
const BAD_SPEC: &str = "invalid spec";

fn parse_with_separator(
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
            getpwnam(u)
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
                unum = Some(p.uid.as_raw());
                if g.is_none() && sep.is_some() {
                    gnum = Some(p.gid.as_raw());
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
            getgrnam(g)
        };
        match grp {
            None => match xstrtoul(g) {
                Some(v) if v < u64::from(u32::MAX) => gnum = Some(v as u32),
                _ => err = Some(INVALID_GROUP),
            },
            Some(gr) => gnum = Some(gr.gid.as_raw()),
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
pub fn parse_user_spec(spec: &str, uid: &mut Option<u32>, gid: &mut Option<u32>) -> SpecResult {
    let colon = spec.find(':');
    let err = parse_with_separator(spec, colon, uid, gid);
    if colon.is_none()
        && err.is_some()
        && let Some(dot) = spec.find('.')
        && parse_with_separator(spec, Some(dot), uid, gid).is_none()
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
                    && let Some(g) = getgrnam(t)
                {
                    value = g.gid.as_raw();
                }
                Some(value)
            }
            _ => getgrnam(tok).map(|g| g.gid.as_raw()),
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
/// them (duplicates removed).
#[must_use]
pub fn xgetgroups(user: &str, gid: u32) -> Option<Vec<u32>> {
    let name = std::ffi::CString::new(user).ok()?;
    let list = nix::unistd::getgrouplist(&name, Gid::from_raw(gid)).ok()?;
    let mut out: Vec<u32> = Vec::with_capacity(list.len());
    for g in list {
        let g = g.as_raw();
        if !out.contains(&g) {
            out.push(g);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        format!("'{s}'")
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
        let (mut u, mut g) = (None, None);
        assert_eq!(
            parse_user_spec("+99999:+99998", &mut u, &mut g).message,
            None
        );
        assert_eq!((u, g), (Some(99999), Some(99998)));
        let (mut u, mut g) = (None, None);
        assert_eq!(parse_user_spec("root", &mut u, &mut g).message, None);
        assert_eq!((u, g), (Some(0), None));
        let (mut u, mut g) = (None, None);
        assert_eq!(parse_user_spec("root:", &mut u, &mut g).message, None);
        assert_eq!((u, g), (Some(0), Some(0)));
        let (mut u, mut g) = (None, None);
        assert_eq!(
            parse_user_spec("no-such-user-x", &mut u, &mut g).message,
            Some("invalid user")
        );
        assert_eq!(
            parse_user_spec("+root", &mut u, &mut g).message,
            Some("invalid user")
        );
        assert_eq!(
            parse_user_spec("99999:", &mut u, &mut g).message,
            Some("invalid spec")
        );
        assert_eq!(
            parse_user_spec("0:0:0", &mut u, &mut g).message,
            Some("invalid group")
        );
        assert_eq!((u, g), (None, None));
        let r = parse_user_spec("root.root", &mut u, &mut g);
        assert!(r.warn);
        assert_eq!((u, g), (Some(0), Some(0)));
        let (mut u, mut g) = (None, None);
        assert_eq!(parse_user_spec("", &mut u, &mut g).message, None);
        assert_eq!((u, g), (None, None));
    }

    #[test]
    fn group_lists() {
        assert_eq!(parse_additional_groups("0,,+1,", true, &q), Ok(vec![0, 1]));
        assert_eq!(parse_additional_groups("root", true, &q), Ok(vec![0]));
        assert_eq!(
            parse_additional_groups(",", true, &q),
            Err(vec!["invalid group list ','".to_string()])
        );
        assert_eq!(
            parse_additional_groups("no-such-g-1,no-such-g-2", true, &q),
            Err(vec![
                "invalid group 'no-such-g-1'".to_string(),
                "invalid group 'no-such-g-2'".to_string()
            ])
        );
        assert_eq!(parse_additional_groups(" ", false, &q), Err(vec![]));
    }
}
