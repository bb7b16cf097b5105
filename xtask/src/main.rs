//! `cargo xtask man|completions|lint-man [--out DIR]`
//!
//! Man pages: NAME, SYNOPSIS and OPTIONS are generated from each tool's
//! clap definition; DESCRIPTION and the sections after OPTIONS come from the
//! tool's `cli::MAN`.  `man/ctools.7`, the overview, and `contain/contain.1`
//! are written by hand and copied.  Completions for bash, zsh and fish come from the same
//! definitions.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use ctcore::ManExtra;

/// Every tool: its clap definition and the hand-written parts of its page.
fn tools() -> Vec<(clap::Command, ManExtra)> {
    vec![
        (stress_rs::cli::command(), stress_rs::cli::MAN),
        (cgset::cli::command(), cgset::cli::MAN),
        (unshare_rs::cli::command(), unshare_rs::cli::MAN),
        (chroot_rs::cli::command(), chroot_rs::cli::MAN),
        (mkrootfs::cli::command(), mkrootfs::cli::MAN),
        (unionmount::cli::command(), unionmount::cli::MAN),
        (runc_rs::cli::command(), runc_rs::cli::MAN),
    ]
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
const DATE: &str = "2026-12-01";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Render one page: generated NAME/SYNOPSIS/OPTIONS around hand-written
/// DESCRIPTION and further sections.
fn render_page(cmd: &clap::Command, extra: &ManExtra) -> anyhow::Result<String> {
    let mut cmd = cmd.clone();
    cmd.build();
    let man = clap_mangen::Man::new(cmd)
        .section(extra.section)
        .manual("ctools")
        .source(format!("ctools {VERSION}"))
        .date(DATE);
    let mut buf: Vec<u8> = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    buf.extend_from_slice(b".SH DESCRIPTION\n");
    buf.extend_from_slice(extra.description.trim_end().as_bytes());
    buf.push(b'\n');
    man.render_options_section(&mut buf)?;
    for (title, body) in extra.sections {
        buf.extend_from_slice(format!(".SH {title}\n").as_bytes());
        buf.extend_from_slice(body.trim_end().as_bytes());
        buf.push(b'\n');
    }
    Ok(tidy(&String::from_utf8(buf)?))
}

/// Post-process clap_mangen's roff so that `mandoc -T lint` is clean: one
/// preamble, no trailing white space, no empty lines, no `.br` before a
/// section or paragraph macro.
fn tidy(roff: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut seen_preamble = false;
    let mut lines = roff.lines().peekable();
    while let Some(line) = lines.next() {
        let line = line.trim_end();
        if line.starts_with(".ie \\n(.g .ds Aq") {
            // The two-line apostrophe preamble, repeated by each render call.
            let next = lines.next().unwrap_or("");
            if !seen_preamble {
                out.push(line.to_string());
                out.push(next.trim_end().to_string());
                seen_preamble = true;
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if line == ".br"
            && lines.peek().is_some_and(|n| {
                n.starts_with(".SH") || n.starts_with(".TP") || n.starts_with(".PP") || n.is_empty()
            })
        {
            continue;
        }
        out.push(line.to_string());
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn page_name(cmd: &clap::Command, extra: &ManExtra) -> String {
    format!("{}.{}", cmd.get_name(), extra.section)
}

fn write_man(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut written = Vec::new();
    for (cmd, extra) in tools() {
        let path = out.join(page_name(&cmd, &extra));
        fs::write(&path, render_page(&cmd, &extra)?)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    // Hand-written pages: the overview and the shell script's.
    for (src, name) in [
        ("man/ctools.7", "ctools.7"),
        ("contain/contain.1", "contain.1"),
    ] {
        let src = workspace_root().join(src);
        let dest = out.join(name);
        fs::copy(&src, &dest).with_context(|| format!("copying {}", src.display()))?;
        written.push(dest);
    }
    Ok(written)
}

fn write_completions(out: &Path) -> anyhow::Result<()> {
    use clap_complete::{Shell, generate_to};
    for (shell, dir) in [
        (Shell::Bash, "bash"),
        (Shell::Zsh, "zsh"),
        (Shell::Fish, "fish"),
    ] {
        let d = out.join(dir);
        fs::create_dir_all(&d)?;
        for (mut cmd, _) in tools() {
            let name = cmd.get_name().to_string();
            generate_to(shell, &mut cmd, name, &d)?;
        }
    }
    Ok(())
}

fn lint(pages: &[PathBuf]) -> anyhow::Result<()> {
    let out = Command::new("mandoc")
        .args(["-T", "lint", "-W", "warning"])
        .args(pages)
        .output()
        .context("running mandoc (apt-get install mandoc)")?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !text.trim().is_empty() || !out.status.success() {
        bail!("mandoc -T lint found problems:\n{text}");
    }
    println!("mandoc -T lint: {} pages clean", pages.len());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map_or("", String::as_str);
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let target = workspace_root().join("target");
    match task {
        "man" => {
            let dir = out.unwrap_or_else(|| target.join("man"));
            for p in write_man(&dir)? {
                println!("{}", p.display());
            }
        }
        "completions" => write_completions(&out.unwrap_or_else(|| target.join("completions")))?,
        "lint-man" => {
            let dir = out.unwrap_or_else(|| target.join("man"));
            lint(&write_man(&dir)?)?;
        }
        _ => bail!("usage: cargo xtask man|completions|lint-man [--out DIR]"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option of `--help` appears in the OPTIONS section of the page.
    #[test]
    fn pages_list_every_option() {
        for (cmd, extra) in tools() {
            let page = render_page(&cmd, &extra).unwrap();
            let options = page
                .split(".SH OPTIONS")
                .nth(1)
                .unwrap_or_else(|| panic!("{}: no OPTIONS", cmd.get_name()));
            for arg in cmd.get_arguments() {
                if arg.is_hide_set() {
                    continue;
                }
                if let Some(long) = arg.get_long() {
                    let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
                    assert!(
                        options.contains(&roff),
                        "{}: --{long} missing from page",
                        cmd.get_name()
                    );
                }
            }
            assert!(
                page.contains(".SH EXIT STATUS"),
                "{}: no EXIT STATUS",
                cmd.get_name()
            );
        }
    }

    #[test]
    fn tidy_drops_repeated_preamble_and_blank_lines() {
        let roff = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH x 1\n\n.ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.SH NAME  \n";
        assert_eq!(
            tidy(roff),
            ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH x 1\n.SH NAME\n"
        );
    }
}
