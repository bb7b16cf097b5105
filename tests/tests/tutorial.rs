//! The tutorial: every experiment of the document, run in order by `tutorial/run-all`, each
//! checking what it observes against what the document shows.  Every command the tutorial
//! prints is read back as a shell would read it and compared with the argv that ran, and the
//! fidelity table of `tutorial/README.md` is kept true.

mod contain_util;

use std::path::Path;
use std::time::Duration;

/// The words a POSIX shell (bash) reads from `line`, without expanding anything: bare words of
/// characters no shell treats specially, `'...'`, `$'...'` (bash's escapes), `"..."` without `$`
/// or backquotes, and `\c`.  Anything a shell would act on (an operator, an expansion, a glob,
/// a comment, an assignment as the first word) is an error: a printed command must be one
/// program's argv and nothing else.
fn shell_words(line: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut words = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut i = 0;
    let err = |i: usize, what: &str| {
        Err(format!(
            "{what} at byte {i} of {:?}",
            String::from_utf8_lossy(line)
        ))
    };
    while i < line.len() {
        let c = line[i];
        match c {
            b' ' | b'\t' => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
                i += 1;
            }
            b'\'' => {
                let w = cur.get_or_insert_with(Vec::new);
                let Some(end) = line[i + 1..].iter().position(|&b| b == b'\'') else {
                    return err(i, "unterminated '");
                };
                w.extend_from_slice(&line[i + 1..i + 1 + end]);
                i += end + 2;
            }
            b'$' if line.get(i + 1) == Some(&b'\'') => {
                let w = cur.get_or_insert_with(Vec::new);
                i += 2;
                loop {
                    let Some(&b) = line.get(i) else {
                        return err(i, "unterminated $'");
                    };
                    i += 1;
                    match b {
                        b'\'' => break,
                        b'\\' => {
                            let Some(&e) = line.get(i) else {
                                return err(i, "unterminated $'");
                            };
                            i += 1;
                            match e {
                                b'a' => w.push(7),
                                b'b' => w.push(8),
                                b'e' | b'E' => w.push(27),
                                b'f' => w.push(12),
                                b'n' => w.push(b'\n'),
                                b'r' => w.push(b'\r'),
                                b't' => w.push(b'\t'),
                                b'v' => w.push(11),
                                b'\\' | b'\'' | b'"' | b'?' => w.push(e),
                                b'0'..=b'7' => {
                                    let mut v = u32::from(e - b'0');
                                    for _ in 0..2 {
                                        match line.get(i) {
                                            Some(&d @ b'0'..=b'7') => {
                                                v = v * 8 + u32::from(d - b'0');
                                                i += 1;
                                            }
                                            _ => break,
                                        }
                                    }
                                    w.push((v & 0xff) as u8);
                                }
                                b'x' => {
                                    let mut v = 0u32;
                                    let mut n = 0;
                                    while n < 2 {
                                        match line.get(i).and_then(|d| (*d as char).to_digit(16)) {
                                            Some(d) => {
                                                v = v * 16 + d;
                                                i += 1;
                                                n += 1;
                                            }
                                            None => break,
                                        }
                                    }
                                    if n == 0 {
                                        return err(i, "\\x without digits");
                                    }
                                    w.push(v as u8);
                                }
                                _ => return err(i, "unknown $'' escape"),
                            }
                        }
                        _ => w.push(b),
                    }
                }
            }
            b'"' => {
                let w = cur.get_or_insert_with(Vec::new);
                i += 1;
                loop {
                    let Some(&b) = line.get(i) else {
                        return err(i, "unterminated \"");
                    };
                    i += 1;
                    match b {
                        b'"' => break,
                        b'$' | b'`' => return err(i - 1, "an expansion inside \"\""),
                        b'\\' => match line.get(i) {
                            Some(&e @ (b'$' | b'`' | b'"' | b'\\')) => {
                                w.push(e);
                                i += 1;
                            }
                            _ => w.push(b'\\'),
                        },
                        _ => w.push(b),
                    }
                }
            }
            b'\\' => {
                let Some(&e) = line.get(i + 1) else {
                    return err(i, "a trailing backslash");
                };
                cur.get_or_insert_with(Vec::new).push(e);
                i += 2;
            }
            b'|' | b'&' | b';' | b'<' | b'>' | b'(' | b')' | b'$' | b'`' | b'*' | b'?' | b'['
            | b']' | b'{' | b'}' | b'!' | b'\n' => {
                return err(i, "an unquoted shell character");
            }
            b'#' | b'~' if cur.is_none() => return err(i, "an unquoted # or ~ at a word's start"),
            b'=' if words.is_empty()
                && cur.as_ref().is_some_and(|w| {
                    !w.is_empty()
                        && w.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                        && !w[0].is_ascii_digit()
                }) =>
            {
                return err(i, "an assignment as the first word");
            }
            _ => {
                cur.get_or_insert_with(Vec::new).push(c);
                i += 1;
            }
        }
    }
    if let Some(w) = cur {
        words.push(w);
    }
    Ok(words)
}

/// One record of the log `tutorial/lib.sh` writes when TUT_SHOWN is set.
struct Shown {
    kind: String,
    printed: Vec<u8>,
    ran: Vec<Vec<u8>>,
}

fn read_shown(path: &Path) -> Vec<Shown> {
    let data = std::fs::read(path).unwrap_or_default();
    let mut fields = data.split(|b| *b == 0);
    let mut out = Vec::new();
    while let Some(kind) = fields.next() {
        if kind.is_empty() {
            break;
        }
        let printed = fields.next().expect("printed text").to_vec();
        let n: usize = String::from_utf8_lossy(fields.next().expect("argc"))
            .parse()
            .expect("argc");
        let ran = (0..n)
            .map(|_| fields.next().expect("arg").to_vec())
            .collect();
        out.push(Shown {
            kind: String::from_utf8_lossy(kind).into_owned(),
            printed,
            ran,
        });
    }
    out
}

/// Each logged line read back: a command's words equal its argv, a shell line equals the text
/// that bash ran.  Returns the differences.
fn check_shown(shown: &[Shown]) -> Vec<String> {
    let mut bad = Vec::new();
    for s in shown {
        let p = String::from_utf8_lossy(&s.printed);
        match s.kind.as_str() {
            "cmd" => match shell_words(&s.printed) {
                Ok(w) if w == s.ran => {}
                Ok(w) => bad.push(format!(
                    "printed {p:?} reads as {:?}, but ran {:?}",
                    w.iter()
                        .map(|x| String::from_utf8_lossy(x))
                        .collect::<Vec<_>>(),
                    s.ran
                        .iter()
                        .map(|x| String::from_utf8_lossy(x))
                        .collect::<Vec<_>>()
                )),
                Err(e) => bad.push(format!("printed {p:?}: {e}")),
            },
            "sh" => {
                if s.ran.len() != 1 || s.ran[0] != s.printed {
                    bad.push(format!("shell line {p:?} is not the text that ran"));
                }
            }
            k => bad.push(format!("unknown record kind {k}")),
        }
    }
    bad
}

/// Every prompt line of the output (`[root@xingdian ~]# ` or a container's `root@ID:/# `) is a
/// logged line, in order.  Chapters in `pending` may print unlogged ones.
fn check_prompts(text: &str, shown: &[Shown], pending: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    let mut next = shown.iter();
    let mut chapter = String::new();
    for line in text.lines() {
        let line = line.replace("\x1b[1m", "").replace("\x1b[0m", "");
        if let Some(c) = line.strip_prefix("##### ") {
            chapter = c.to_string();
            continue;
        }
        let typed = if let Some(t) = line.strip_prefix("[root@xingdian ~]# ") {
            t
        } else if line.starts_with("root@")
            && line.len() > 21
            && line[5..17].bytes().all(|b| b.is_ascii_hexdigit())
            && &line[17..21] == ":/# "
        {
            &line[21..]
        } else {
            continue;
        };
        if pending.iter().any(|p| chapter.starts_with(p)) {
            // an unlogged line here is allowed; a logged one is consumed
            let mut peek = next.clone();
            if peek.next().is_some_and(|s| s.printed == typed.as_bytes()) {
                next.next();
            }
            continue;
        }
        match next.next() {
            Some(s) if s.printed == typed.as_bytes() => {}
            Some(s) => bad.push(format!(
                "{chapter}: printed {typed:?}, but the next logged line is {:?}",
                String::from_utf8_lossy(&s.printed)
            )),
            None => bad.push(format!("{chapter}: printed {typed:?}, which is not logged")),
        }
    }
    for s in next {
        bad.push(format!(
            "logged {:?}, which was not printed",
            String::from_utf8_lossy(&s.printed)
        ));
    }
    bad
}

#[test]
fn shell_words_reads_what_bash_reads() {
    let ok: &[(&str, &[&str])] = &[
        ("a b  c", &["a", "b", "c"]),
        (
            "sh -c 'echo hi > /x; rm y'",
            &["sh", "-c", "echo hi > /x; rm y"],
        ),
        ("'it'\\''s'", &["it's"]),
        ("$'a\\tb\\n' ''", &["a\tb\n", ""]),
        ("\"a b\"c", &["a bc"]),
        ("'a=b'", &["a=b"]),
        ("env A=b", &["env", "A=b"]),
        ("$'\\E\\001\\x41'", &["\x1b\x01A"]),
    ];
    for (line, want) in ok {
        let got = shell_words(line.as_bytes()).unwrap();
        let want: Vec<Vec<u8>> = want.iter().map(|w| w.as_bytes().to_vec()).collect();
        assert_eq!(got, want, "{line}");
    }
    for bad in [
        "echo a; rm b",
        "a > b",
        "$(x)",
        "`x`",
        "a*",
        "\"$HOME\"",
        "A=b cmd",
        "a=b",
        "# x",
        "~/x",
        "{a,b}",
        "'open",
    ] {
        assert!(shell_words(bad.as_bytes()).is_err(), "{bad}");
    }
}

/// `show` and its kin print argvs that read back as they ran, tricky words included; bash
/// itself reads each printed line back the same (the words are harmless if it did not).
#[test]
fn tutorial_prints_commands_as_they_run() {
    let dir = cttest::tempdir().unwrap();
    let log = dir.path().join("shown");
    let lib = cttest::workspace_root().join("tutorial").join("lib.sh");
    let script = format!(
        r#". {lib:?} || exit 1
cd {dir:?} || exit 1
show printf '<%s>\n' 'echo hello > /hello.txt; rm /bin/hostname; exec sleep 1000' \
	"it's" $'tab\there' $'new\nline' '' '*' '~' '#x' '{{a,b}}' '$(touch pwned)' '`touch pwned`' \
	'a=b' '中文' '-' '--cpus=1.5' 'x y' '!' '\' '"' "\$HOME"
show A=b printf '%s\n' 1
shown printf '%s|' 'a b' "c'd"
showsh "printf '%s\n' 'a; b' | cat"
typed 'ls /tmp'
"#,
        lib = lib,
        dir = dir.path()
    );
    let out = cttest::run_with_timeout(
        std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("TUT_SHOWN", &log)
            .env("PATH", contain_util::test_path())
            .env("CONTAIN_ROOT", dir.path().join("state"))
            .current_dir(dir.path()),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("pwned").exists(), "a printed word was run");
    let shown = read_shown(&log);
    assert_eq!(shown.len(), 5, "{text}");
    let bad = check_shown(&shown);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let bad = check_prompts(&text, &shown, &[]);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // bash reads the first printed line back to the same argv
    let first = &shown[0];
    let again = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "args() {{ printf '%s\\0' \"$@\"; }}; args {}",
            String::from_utf8_lossy(&first.printed)
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let words: Vec<Vec<u8>> = again
        .stdout
        .split(|b| *b == 0)
        .filter(|_| true)
        .map(<[u8]>::to_vec)
        .collect();
    let mut want = first.ran.clone();
    want.push(Vec::new()); // the split's empty tail
    assert_eq!(words, want);
    assert!(!dir.path().join("pwned").exists());
}

/// One row of the fidelity table in tutorial/README.md.
struct Row {
    file: String,
    line: usize,
    check: String,
}

fn fidelity_rows() -> Vec<Row> {
    let readme = cttest::workspace_root().join("tutorial").join("README.md");
    let text = std::fs::read_to_string(&readme).expect("tutorial/README.md");
    let mut rows = Vec::new();
    let mut in_table = false;
    for l in text.lines() {
        if l.starts_with("| Document") {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        if !l.starts_with('|') {
            if !rows.is_empty() {
                break;
            }
            continue;
        }
        if l.starts_with("|---") {
            continue;
        }
        let cols: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cols.len(), 5, "a row of 5 columns: {l}");
        let at = cols[2].trim_matches('`');
        let (file, line) = at.rsplit_once(':').expect("FILE:LINE");
        rows.push(Row {
            file: file.to_string(),
            line: line.parse().expect("LINE"),
            check: cols[4].trim_matches('`').to_string(),
        });
    }
    rows
}

/// Each row of the fidelity table points at a chapter line that exists and prints or checks
/// something, and names a check that the chapter has.
#[test]
fn tutorial_fidelity_table_points_at_lines_that_exist() {
    let rows = fidelity_rows();
    assert!(rows.len() >= 30, "the table has {} rows", rows.len());
    for r in &rows {
        let path = cttest::workspace_root().join("tutorial").join(&r.file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{}", r.file));
        let line = text
            .lines()
            .nth(r.line - 1)
            .unwrap_or_else(|| panic!("{}:{} does not exist", r.file, r.line));
        let verbs = [
            "show",
            "shown",
            "showsh",
            "shownsh",
            "shown_in",
            "show_bg",
            "typed",
            "check",
            "check_eq",
            "check_range",
            "ok",
            "ns",
            "start",
            "run_stress",
            "run_until",
            "with",
            "ensure_stress_image",
        ];
        assert!(
            verbs.iter().any(|v| {
                let l = line.trim_start();
                l == *v || l.starts_with(&format!("{v} "))
            }),
            "{}:{} shows nothing: {line}",
            r.file,
            r.line
        );
        assert!(
            text.contains(&r.check),
            "{}: no check named {:?}",
            r.file,
            r.check
        );
    }
}

#[test]
fn tutorial_runs_every_experiment_of_the_document() {
    if !cttest::require_root("e2e::tutorial::tutorial_runs_every_experiment_of_the_document") {
        return;
    }
    // It measures CPU shares and quotas and touches cgroups, mounts and loop devices.
    let _c = cttest::serial("cgroup");
    let _m = cttest::serial("cpu");
    let state = cttest::tempdir().unwrap();
    let log = cttest::tempdir().unwrap();
    let shown_log = log.path().join("shown");
    let parent = format!("ctools-test-tutorial-{}", std::process::id());
    let script = cttest::workspace_root().join("tutorial").join("run-all");
    let out = cttest::run_with_timeout(
        std::process::Command::new(script)
            .env("PATH", contain_util::test_path())
            .env("CTOOLS_BIN_DIR", cttest::bin_dir())
            .env("CONTAIN_ROOT", state.path())
            .env("CONTAIN_CGROUP_PARENT", &parent)
            .env("TUT_SHOWN", &shown_log),
        Duration::from_secs(900),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .rev()
        .find(|l| l.starts_with("tutorial:"))
        .unwrap_or("");
    assert!(
        out.status.success(),
        "{summary}\n{text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(summary.contains(" 0 failed"), "{summary}");
    assert!(
        contain_util::cgroup_parents(&parent).is_empty(),
        "cgroups left behind"
    );
    // Every printed command reads back as the argv that ran.
    let shown = read_shown(&shown_log);
    assert!(
        shown.len() > 100,
        "only {} printed commands logged",
        shown.len()
    );
    let mut bad = check_shown(&shown);
    bad.extend(check_prompts(&text, &shown, &[]));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // Every check the fidelity table names ran and passed.
    let oks: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("ok   "))
        .collect();
    for r in fidelity_rows() {
        assert!(
            oks.iter().any(|o| o.starts_with(&r.check)),
            "the table's check {:?} ({}:{}) did not pass",
            r.check,
            r.file,
            r.line
        );
    }
}

/// The flags the document lists (and `contain --help` names) are taken by `contain run`: none is
/// an "unknown option" (the last of each line of contain's list once was); `run --help` prints
/// the usage; `--cpus` above the CPUs there are is refused in docker's words, before anything is
/// made.
#[test]
fn contain_run_takes_the_flags_the_document_lists() {
    if !cttest::require_root("e2e::tutorial::contain_run_takes_the_flags_the_document_lists") {
        return;
    }
    let _c = cttest::serial("cgroup");
    let env = contain_util::Env::new("tutflags");
    env.build_test_image("flags");
    let help = env.run(&["run", "--help"]);
    assert!(help.status.success(), "{help:?}");
    let usage = String::from_utf8_lossy(&help.stdout);
    assert!(usage.contains("Usage: contain"), "{usage}");
    let flags: &[(&str, &str)] = &[
        ("--cpu-shares", "512"),
        ("--cpus", "1.5"),
        ("--cpu-period", "100000"),
        ("--cpu-quota", "50000"),
        ("--cpuset-cpus", "0"),
        ("--cpuset-mems", "0"),
        ("--memory", "64m"),
        ("--memory-swap", "128m"),
        ("--memory-swappiness", "10"),
        ("--memory-reservation", "32m"),
        ("--kernel-memory", "50m"),
        ("--blkio-weight", "500"),
        ("--pids-limit", "100"),
    ];
    for (flag, value) in flags {
        let mut args = vec!["run", "--rm"];
        if flag.starts_with("--memory-") {
            args.extend(["-m", "64m"]);
        }
        args.extend([*flag, *value, "flags", "/bin/true"]);
        let out = env.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("unknown option"), "{flag}: {err}");
        assert!(
            out.status.success(),
            "contain {args:?}: {:?}\n{err}",
            out.status
        );
    }
    // the CPUs this process may run on, as contain counts them (nproc: sched_getaffinity)
    let nproc = std::process::Command::new("nproc").output().unwrap();
    let n: usize = String::from_utf8_lossy(&nproc.stdout)
        .trim()
        .parse()
        .unwrap();
    let too_many = (n * 4).to_string();
    let out = env.run(&["run", "--rm", "--cpus", &too_many, "flags", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "contain: Error response from daemon: Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available.\nSee 'contain run --help'.\n"
        )
    );
    assert!(env.ok(&["ps", "-aq"]).trim().is_empty(), "nothing is made");
}
