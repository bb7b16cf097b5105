//! `/proc/PID/mountinfo`: the mount table as the kernel shows it.

/// One line of mountinfo, with the path fields unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The root of the mount within its file system (field 4).
    pub root: String,
    /// The mount point (field 5).
    pub target: String,
    /// Per-mount options (field 6).
    pub options: String,
    /// Optional fields: `shared:N`, `master:N`, ... (before the ` - `).
    pub optional: Vec<String>,
    /// File system type.
    pub fstype: String,
    /// Mount source.
    pub source: String,
    /// Per-superblock options, still escaped (overlay paths in them are
    /// unescaped with [`unescape`] one by one).
    pub super_options: String,
}

/// Every cgroup v1 controller name the kernel knows (to tell them from a cgroup mount's
/// other super options).
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "blkio",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// Parse mountinfo text; malformed lines are skipped.
#[must_use]
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (pre, post) = line.split_once(" - ")?;
    let pre: Vec<&str> = pre.split(' ').collect();
    let mut post = post.splitn(3, ' ');
    if pre.len() < 6 {
        return None;
    }
    Some(Mount {
        root: unescape(pre[3]),
        target: unescape(pre[4]),
        options: pre[5].to_string(),
        optional: pre[6..].iter().map(|s| (*s).to_string()).collect(),
        fstype: post.next()?.to_string(),
        source: unescape(post.next()?),
        super_options: post.next()?.to_string(),
    })
}

/// This process's mount table (empty when /proc is not readable).
#[must_use]
pub fn current() -> Vec<Mount> {
    parse(&crate::read_text("/proc/self/mountinfo").unwrap_or_default())
}

/// Undo the kernel's octal escapes in a mountinfo field (`\040` for a
/// space, `\011` tab, `\012` newline, `\134` backslash).
#[must_use]
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{parse, unescape};

    #[test]
    fn parses_lines() {
        let text = "36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n\
                    bad line\n\
                    40 1 0:40 / /o rw - overlay overlay rw,upperdir=/u\\040p,workdir=/w\n";
        let m = parse(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].root, "/mnt1");
        assert_eq!(m[0].target, "/mnt x");
        assert_eq!(m[0].options, "rw,noatime");
        assert_eq!(m[0].optional, ["master:1", "shared:2"]);
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[0].source, "/dev/root");
        assert_eq!(m[0].super_options, "rw,errors=continue");
        assert!(m[1].optional.is_empty());
        assert_eq!(m[1].super_options, "rw,upperdir=/u\\040p,workdir=/w");
    }

    #[test]
    fn reads_own_table() {
        assert!(super::current().iter().any(|m| m.target == "/"));
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape(r"/x\011\012\134"), "/x\t\n\\");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape(r"/end\"), r"/end\");
        assert_eq!(unescape(r"/short\04"), r"/short\04");
        assert_eq!(unescape(r"/not\089"), r"/not\089");
    }
}
