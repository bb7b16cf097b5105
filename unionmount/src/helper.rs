//! The mount(8) helper: `mount.unionmount SOURCE TARGET [-sfnv] [-o OPTIONS]`,
//! as mount(8) runs it for `mount -t unionmount` (and mount.fuse for
//! `-t fuse.unionmount`).

use std::ffi::{OsStr, OsString};
use std::path::Path;

use anyhow::{Result, bail};

/// The names under which the binary acts as a mount(8) helper.
pub const HELPER_NAMES: &[&str] = &["mount.unionmount", "mount.fuse.unionmount"];

/// Whether argv[0] names the helper.
#[must_use]
pub fn is_helper_name(argv0: &OsStr) -> bool {
    Path::new(argv0)
        .file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|n| HELPER_NAMES.contains(&n))
}

/// Parse the helper's arguments (program name first) into a command line.
///
/// # Errors
/// On a missing SOURCE or TARGET, or an option without its value.
pub fn parse(argv: &[OsString]) -> Result<crate::cli::Cli> {
    let mut cli = crate::cli::Cli::default();
    let mut operands = Vec::new();
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            operands.extend(it.by_ref().cloned());
            break;
        }
        if let Some(flags) = s.strip_prefix('-').filter(|f| !f.is_empty()) {
            for (i, c) in flags.char_indices() {
                match c {
                    's' | 'n' | 'w' => {}
                    'f' => cli.fake = true,
                    'v' => cli.verbose = true,
                    'r' => cli.read_only = true,
                    'o' | 't' | 'N' => {
                        let rest = &flags[i + 1..];
                        let value = if rest.is_empty() {
                            match it.next() {
                                Some(v) => v.to_string_lossy().into_owned(),
                                None => bail!("option -{c} needs a value"),
                            }
                        } else {
                            rest.to_string()
                        };
                        if c == 'o' {
                            cli.options.push(value);
                        }
                        break;
                    }
                    _ => bail!("unknown option -{c}"),
                }
            }
            continue;
        }
        operands.push(a.clone());
    }
    if operands.len() != 2 {
        bail!("usage: mount.unionmount SOURCE TARGET [-sfnvr] [-o OPTIONS]");
    }
    cli.operands = operands;
    Ok(cli)
}

/// Run as a mount(8) helper: exit 32 when mounting fails, 1 on bad usage.
///
/// # Errors
/// With status 1 or 32 in the chain.
pub fn run(argv: Vec<OsString>) -> Result<i32> {
    let cli = parse(&argv).map_err(|e| ctcore::failure(1, format!("{e:#}")))?;
    crate::run(cli).map_err(|e| ctcore::failure(32, format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn names() {
        assert!(is_helper_name(OsStr::new("/sbin/mount.unionmount")));
        assert!(is_helper_name(OsStr::new("mount.fuse.unionmount")));
        assert!(!is_helper_name(OsStr::new("unionmount")));
    }

    #[test]
    fn mount_convention() {
        let c = parse(&v(&[
            "mount.unionmount",
            "none",
            "/c",
            "-o",
            "rw,dirs=A:B",
            "-nv",
        ]))
        .unwrap();
        assert_eq!(c.operands, v(&["none", "/c"]));
        assert_eq!(c.options, vec!["rw,dirs=A:B".to_string()]);
        assert!(c.verbose && !c.fake);
        let c = parse(&v(&["x", "-f", "-oro", "src", "/c", "-t", "unionmount"])).unwrap();
        assert!(c.fake);
        assert_eq!(c.options, vec!["ro".to_string()]);
        assert!(parse(&v(&["x", "/c"])).is_err());
        assert!(parse(&v(&["x", "a", "b", "-o"])).is_err());
        assert!(parse(&v(&["x", "a", "b", "-Z"])).is_err());
    }
}
