//! User and group ID maps for a new user namespace: parsing the options,
//! reading /etc/subuid, and the text written to `/proc/PID/uid_map`.

use anyhow::{Context, Result, anyhow, bail};

/// One line of an ID map: `inner outer count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub inner: u32,
    pub outer: u32,
    pub count: u32,
}

/// Which of the two maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Uid,
    Gid,
}

impl Which {
    #[must_use]
    pub fn map_file(self) -> &'static str {
        match self {
            Self::Uid => "uid_map",
            Self::Gid => "gid_map",
        }
    }
    #[must_use]
    pub fn sub_file(self) -> &'static str {
        match self {
            Self::Uid => "/etc/subuid",
            Self::Gid => "/etc/subgid",
        }
    }
    #[must_use]
    pub fn helper(self) -> &'static str {
        match self {
            Self::Uid => "newuidmap",
            Self::Gid => "newgidmap",
        }
    }
}

/// The map to write, and whether the process may write it itself (a
/// single line of its own ID) or needs a helper in the parent namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Map {
    pub ranges: Vec<Range>,
    pub multi: bool,
}

impl Map {
    /// The text for `/proc/PID/*_map`.
    #[must_use]
    pub fn text(&self) -> String {
        self.ranges
            .iter()
            .map(|r| format!("{} {} {}\n", r.inner, r.outer, r.count))
            .collect()
    }

    /// Arguments for newuidmap/newgidmap after the pid.
    #[must_use]
    pub fn helper_args(&self) -> Vec<String> {
        self.ranges
            .iter()
            .flat_map(|r| {
                [
                    r.inner.to_string(),
                    r.outer.to_string(),
                    r.count.to_string(),
                ]
            })
            .collect()
    }
}

/// Parse one `--map-users`/`--map-groups` value that is a literal range:
/// `INNER:OUTER:COUNT`, or the old `OUTER,INNER,COUNT`.
///
/// # Errors
/// When it is neither.
pub fn parse_range(s: &str) -> Result<Range> {
    let num = |x: &str| -> Result<u32> {
        x.trim()
            .parse::<u32>()
            .map_err(|_| anyhow!("invalid mapping '{s}'"))
    };
    let (sep, colon) = if s.contains(':') {
        (':', true)
    } else {
        (',', false)
    };
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 3 {
        bail!("invalid mapping '{s}': expected INNER:OUTER:COUNT");
    }
    let (a, b, count) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
    if count == 0 {
        bail!("invalid mapping '{s}': the count is 0");
    }
    let (inner, outer) = if colon { (a, b) } else { (b, a) };
    if inner.checked_add(count - 1).is_none() || outer.checked_add(count - 1).is_none() {
        bail!("invalid mapping '{s}': the range overflows");
    }
    Ok(Range {
        inner,
        outer,
        count,
    })
}

/// The first range of `user` (name or number) in a subuid/subgid file.
///
/// # Errors
/// When there is none.
pub fn sub_range(text: &str, names: &[String], file: &str) -> Result<(u32, u32)> {
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() != 3 || !names.iter().any(|n| n == f[0]) {
            continue;
        }
        if let (Ok(start), Ok(count)) = (f[1].parse::<u32>(), f[2].parse::<u32>())
            && count > 0
        {
            return Ok((start, count));
        }
    }
    bail!(
        "no line matching user \"{}\" in {file} (add a range, e.g. with usermod --add-subuids)",
        names.first().map_or("", String::as_str)
    )
}

/// Parse `/proc/self/uid_map` text.
#[must_use]
pub fn parse_proc_map(text: &str) -> Vec<Range> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() == 3).then(|| Range {
                inner: f[0],
                outer: f[1],
                count: f[2],
            })
        })
        .collect()
}

/// Expand one `--map-users` value.  `names` are the user's name and number
/// (for /etc/subuid), `own_map` is the caller's current map (for `all`).
///
/// # Errors
/// Bad syntax or no subordinate range.
pub fn expand(spec: &str, which: Which, names: &[String], own_map: &[Range]) -> Result<Vec<Range>> {
    match spec {
        "auto" | "subids" => {
            let file = which.sub_file();
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("could not open '{file}'"))?;
            let (start, count) = sub_range(&text, names, file)?;
            let inner = if spec == "auto" { 0 } else { start };
            Ok(vec![Range {
                inner,
                outer: start,
                count,
            }])
        }
        "all" => Ok(own_map
            .iter()
            .map(|r| Range {
                inner: r.inner,
                outer: r.inner,
                count: r.count,
            })
            .collect()),
        _ => Ok(vec![parse_range(spec)?]),
    }
}

/// Remove `id` from the inner (`inner == true`) or outer side of `ranges`,
/// splitting a range that contains it.
#[must_use]
pub fn punch(ranges: &[Range], id: u32, inner: bool) -> Vec<Range> {
    let mut out = Vec::new();
    for r in ranges {
        let start = if inner { r.inner } else { r.outer };
        let end = start + (r.count - 1);
        if id < start || id > end {
            out.push(*r);
            continue;
        }
        let before = id - start;
        if before > 0 {
            out.push(Range {
                count: before,
                ..*r
            });
        }
        let after = end - id;
        if after > 0 {
            out.push(Range {
                inner: r.inner + before + 1,
                outer: r.outer + before + 1,
                count: after,
            });
        }
    }
    out
}

/// Build the map from an optional single ID (`inner` mapped to the caller's
/// `own` ID) and the expanded ranges.
#[must_use]
pub fn build(single: Option<u32>, own: u32, ranges: Vec<Range>) -> Option<Map> {
    match (single, ranges.is_empty()) {
        (None, true) => None,
        (Some(inner), true) => Some(Map {
            ranges: vec![Range {
                inner,
                outer: own,
                count: 1,
            }],
            multi: false,
        }),
        (single, false) => {
            let mut ranges = ranges;
            if let Some(inner) = single {
                ranges = punch(&punch(&ranges, inner, true), own, false);
                ranges.insert(
                    0,
                    Range {
                        inner,
                        outer: own,
                        count: 1,
                    },
                );
            }
            Some(Map {
                ranges,
                multi: true,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn r(inner: u32, outer: u32, count: u32) -> Range {
        Range {
            inner,
            outer,
            count,
        }
    }

    #[test]
    fn colon_and_comma_forms() {
        assert_eq!(parse_range("0:100000:65536").unwrap(), r(0, 100_000, 65536));
        assert_eq!(parse_range("100000,0,65536").unwrap(), r(0, 100_000, 65536));
        assert!(parse_range("1:2").is_err());
        assert!(parse_range("a:b:c").is_err());
        assert!(parse_range("0:0:0").is_err());
        assert!(parse_range("4294967295:0:2").is_err());
        let e = parse_range("x:1:1").unwrap_err();
        assert_eq!(e.to_string(), "invalid mapping 'x:1:1'");
    }

    #[test]
    fn subuid_lookup() {
        let text = "alice:100000:65536\n1000:200000:10\nbob:300000:5\n";
        let names = ["bob".to_string(), "1001".to_string()];
        assert_eq!(
            sub_range(text, &names, "/etc/subuid").unwrap(),
            (300_000, 5)
        );
        let names = ["carol".to_string(), "1000".to_string()];
        assert_eq!(
            sub_range(text, &names, "/etc/subuid").unwrap(),
            (200_000, 10)
        );
        let e = sub_range(text, &["dave".to_string()], "/etc/subuid").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("no line matching user \"dave\" in /etc/subuid")
        );
    }

    #[test]
    fn all_copies_own_map() {
        let own = parse_proc_map("         0          0 4294967295\n");
        let v = expand("all", Which::Uid, &[], &own).unwrap();
        assert_eq!(v, vec![r(0, 0, u32::MAX)]);
    }

    #[test]
    fn punch_splits() {
        let v = punch(&[r(0, 100, 10)], 3, true);
        assert_eq!(v, vec![r(0, 100, 3), r(4, 104, 6)]);
        let v = punch(&[r(0, 100, 10)], 100, false);
        assert_eq!(v, vec![r(1, 101, 9)]);
        let v = punch(&[r(0, 100, 10)], 109, false);
        assert_eq!(v, vec![r(0, 100, 9)]);
        let v = punch(&[r(0, 100, 1)], 0, true);
        assert!(v.is_empty());
        assert_eq!(punch(&[r(0, 100, 10)], 50, true), vec![r(0, 100, 10)]);
    }

    #[test]
    fn build_single_and_multi() {
        assert_eq!(build(None, 1000, vec![]), None);
        let m = build(Some(0), 1000, vec![]).unwrap();
        assert!(!m.multi);
        assert_eq!(m.text(), "0 1000 1\n");
        let m = build(Some(0), 1000, vec![r(0, 100_000, 65536)]).unwrap();
        assert!(m.multi);
        assert_eq!(m.ranges, vec![r(0, 1000, 1), r(1, 100_001, 65535)]);
        assert_eq!(m.helper_args()[..3], ["0", "1000", "1"]);
        let m = build(None, 0, vec![r(0, 100_000, 5)]).unwrap();
        assert_eq!(m.text(), "0 100000 5\n");
    }
}
