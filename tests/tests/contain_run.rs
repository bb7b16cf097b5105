//! `contain run` and the container lifecycle, for real: namespaces, overlay layers, cgroups.

mod contain_util;

use contain_util::{Env, contain_script, in_a_terminal, stderr, stdout, test_path, tree_digest};
use std::time::Duration;

#[test]
fn run_ps_stop_start_rm_round_trip() {
    if !cttest::require_root("e2e::contain_run::run_ps_stop_start_rm_round_trip") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("round");
    env.build_test_image("img");
    let id = env
        .ok(&["run", "-d", "--name", "web", "img", "/bin/sleep", "1000"])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "a 64-hex id: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    env.wait_for("web", "running");
    let ps = env.ok(&["ps"]);
    assert!(
        ps.contains(&id[..12]) && ps.contains("web") && ps.contains("Up "),
        "{ps}"
    );
    // a 4-character prefix is enough, as the document says
    assert_eq!(env.ok(&["stop", "-t", "1", &id[..4]]).trim(), &id[..4]);
    let v = env.wait_for("web", "exited");
    let code = v["State"]["ExitCode"].as_i64().unwrap();
    assert!(
        code == 143 || code == 137,
        "TERM (forwarded by the init) or KILL after -t: {code}"
    );
    assert!(!env.ok(&["ps"]).contains("web"));
    let psa = env.ok(&["ps", "-a"]);
    assert!(psa.contains(&format!("Exited ({code})")), "{psa}");
    // An attached container's output reaches the caller, stdout and stderr
    // apart, and its log.
    let o = env.run(&[
        "run",
        "--name",
        "att",
        "img",
        "/bin/sh",
        "-c",
        "echo to-out; echo to-err >&2; exit 4",
    ]);
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(stdout(&o), "to-out\n");
    assert_eq!(stderr(&o), "to-err\n");
    // (logs writes each stream to its own descriptor, as docker logs does)
    let log = env.run(&["logs", "att"]);
    assert_eq!(stdout(&log), "to-out\n");
    assert_eq!(stderr(&log), "to-err\n");
    env.ok(&["rm", "att"]);
    env.ok(&["start", "web"]);
    env.wait_for("web", "running");
    env.ok(&["kill", "web"]);
    env.wait_for("web", "exited");
    env.ok(&["rm", "web"]);
    assert!(!env.ok(&["ps", "-a"]).contains("web"));
    assert!(
        std::fs::read_dir(env.state().join("containers"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn isolation_seen_from_inside() {
    if !cttest::require_root("e2e::contain_run::isolation_seen_from_inside") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("iso");
    let image = env.build_test_image("img");
    let layer =
        std::fs::read_to_string(env.state().join("images").join(&image).join("layers")).unwrap();
    let mut want: Vec<String> =
        std::fs::read_dir(env.state().join("layers").join(layer.trim()).join("fs"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
    want.sort();
    let out = env.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--hostname",
        "box",
        "img",
        "/probe",
    ]);
    let p = cttest::probe_json(&out);
    assert!(
        p["pid"].as_i64().unwrap() <= 2,
        "pid 1 (or 2 under an init): {}",
        p["pid"]
    );
    assert_eq!(p["hostname"], "box");
    assert_eq!(p["interfaces"], serde_json::json!(["lo"]));
    for kind in ["pid", "mnt", "uts", "ipc", "net"] {
        assert_ne!(
            p["ns"][kind].as_u64(),
            cttest::ns_inode(kind),
            "{kind} namespace is new"
        );
    }
    let root: Vec<String> = serde_json::from_value(p["root"].clone()).unwrap();
    assert!(root.contains(&"probe".to_string()), "{root:?}");
    assert_eq!(root, want, "the root is the image's");
    // The root is the union; a --rm container's layer, thrown away at the end, is
    // mounted volatile (nothing of it synced), a kept container's is not (the kernel
    // shows "volatile", or "fsync=volatile" on newer kernels).
    let root_mount = |p: &serde_json::Value| -> String {
        let m = p["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .rfind(|m| m["target"] == "/")
            .unwrap_or_else(|| panic!("no / in {}", p["mounts"]))
            .clone();
        assert_eq!(m["fstype"], "overlay", "{m}");
        m["super_options"].as_str().unwrap().to_string()
    };
    let volatile = |o: &str| o == "volatile" || o == "fsync=volatile";
    assert!(root_mount(&p).split(',').any(volatile), "{p}");
    let kept = env.ok(&["run", "img", "/probe"]);
    let kept: serde_json::Value = serde_json::from_str(kept.trim()).unwrap();
    assert!(!root_mount(&kept).split(',').any(volatile), "{kept}");
    // default hostname: the short id; --net host shares the host's interfaces
    let out = env.run(&["run", "--rm", "--net", "host", "img", "/probe"]);
    let p = cttest::probe_json(&out);
    assert_eq!(p["hostname"].as_str().unwrap().len(), 12);
    // (the host: the throwaway namespace the test's state root is bound to)
    let host_net = std::os::unix::fs::MetadataExt::ino(
        &std::fs::metadata(env.state().join("host-netns")).unwrap(),
    );
    assert_eq!(p["ns"]["net"].as_u64(), Some(host_net));
}

#[test]
fn layer_survives_stop_start_and_image_never_changes() {
    if !cttest::require_root("e2e::contain_run::layer_survives_stop_start_and_image_never_changes")
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("layer");
    let image = env.build_test_image("img");
    let layers =
        std::fs::read_to_string(env.state().join("images").join(&image).join("layers")).unwrap();
    let digest_all = || -> String {
        layers
            .lines()
            .map(|h| {
                tree_digest(&env.state().join("layers").join(h))
                    + &tree_digest(&env.state().join("blobs/sha256"))
            })
            .collect()
    };
    let before = digest_all();
    let script = "if [ -e /f ]; then echo again >> /f; else echo first > /f; fi; \
                  rm /bin/true; echo changed > /bin/ls; exec /bin/sleep 1000";
    env.ok(&["run", "-d", "--name", "c1", "img", "/bin/sh", "-c", script]);
    env.wait_for("c1", "running");
    // a second container of the same image does not see the first one's changes
    let other = env.ok(&[
        "run",
        "--rm",
        "img",
        "/bin/sh",
        "-c",
        "cat /f 2>&1; ls /bin/true",
    ]);
    assert!(
        other.contains("No such file") && other.contains("/bin/true"),
        "{other}"
    );
    env.ok(&["stop", "-t", "0", "c1"]);
    env.wait_for("c1", "exited");
    env.ok(&["start", "c1"]);
    env.wait_for("c1", "running");
    let out = env.run(&["exec", "c1", "/bin/cat", "/f"]);
    assert_eq!(stdout(&out), "first\nagain\n", "{}", stderr(&out));
    // An exec'd process gets the container's hardening: the bounding set of
    // a container's program (docker's default capabilities).
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(env.ok(args).trim()).expect("probe's JSON")
    };
    let exec = json(&["exec", "c1", "/probe"]);
    let main = json(&["run", "--rm", "img", "/probe"]);
    assert_eq!(exec["status"]["CapBnd"], "00000000a80425fb", "{exec}");
    assert_eq!(exec["status"]["CapBnd"], main["status"]["CapBnd"]);
    assert_eq!(exec["status"]["CapEff"], main["status"]["CapEff"]);
    // no_new_privs is off by default, as docker leaves it
    assert_eq!(exec["status"]["NoNewPrivs"], "0");
    assert_eq!(main["status"]["NoNewPrivs"], "0");
    env.ok(&["rm", "-f", "c1"]);
    assert_eq!(before, digest_all(), "the image's files are unchanged");
}

#[test]
fn tty_gives_an_interactive_shell_a_terminal_of_its_own() {
    if !cttest::require_root(
        "e2e::contain_run::tty_gives_an_interactive_shell_a_terminal_of_its_own",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("tty");
    env.build_test_image("img");
    // script(1) is the user's terminal; `-it` gives the shell a pty of the
    // container's own devpts, with the caller's window size.
    let (code, out) = in_a_terminal(
        &env,
        "stty cols 83 rows 19; contain run --rm -it img /bin/sh -c \
         'test -t 0 && test -t 1 && echo tty-ok; ls -l /proc/self/fd/0; exit 5'",
    );
    assert!(out.contains("tty-ok\n"), "{out:?}");
    assert!(out.contains("-> /dev/pts/0\n"), "{out:?}");
    assert_eq!(code, Some(5), "{out:?}");
    // Without -t the program has no terminal.
    let out = env.ok(&[
        "run",
        "--rm",
        "img",
        "/bin/sh",
        "-c",
        "test -t 1 || echo no-tty",
    ]);
    assert_eq!(out, "no-tty\n");
    // exec -it: a pty of the container's devpts for the joined process too.
    env.ok(&["run", "-d", "--name", "t1", "img", "/bin/sleep", "1000"]);
    env.wait_for("t1", "running");
    let (code, out) = in_a_terminal(
        &env,
        "contain exec -it t1 /bin/sh -c 'test -t 0 && echo exec-tty-ok; ls -l /proc/self/fd/1; exit 3'",
    );
    assert!(out.contains("exec-tty-ok\n"), "{out:?}");
    assert!(out.contains("-> /dev/pts/0\n"), "{out:?}");
    assert_eq!(code, Some(3), "{out:?}");
    env.ok(&["rm", "-f", "t1"]);
}

#[test]
fn kill_9_of_pid_1_is_exited_137() {
    if !cttest::require_root("e2e::contain_run::kill_9_of_pid_1_is_exited_137") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("kill9");
    env.build_test_image("img");
    env.ok(&["run", "-d", "--name", "k", "img", "/bin/sleep", "1000"]);
    let v = env.wait_for("k", "running");
    let pid = v["State"]["Pid"].as_i64().unwrap();
    assert!(pid > 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let v = env.wait_for("k", "exited");
    assert_eq!(v["State"]["ExitCode"], 137);
    assert!(env.ok(&["ps", "-a"]).contains("Exited (137)"));
    env.ok(&["rm", "k"]);
    assert!(env.cgroup_dirs().iter().all(|d| std::fs::read_dir(d).map_or(true, |r| r.flatten().all(|e| !e.path().is_dir()))));
}

fn snapshot(env: &Env) -> (String, String, Vec<String>, String) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let state_dir = env.state().display().to_string();
    let mounts: String = mounts
        .lines()
        .filter(|l| l.contains(&state_dir) || l.contains(&env.cgparent))
        .map(|l| l.split(' ').skip(3).collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    let loops: String = String::from_utf8_lossy(&cttest::sh("losetup -a").stdout)
        .lines()
        .filter(|l| l.contains(&state_dir))
        .collect();
    let mut cg: Vec<String> = Vec::new();
    for d in env.cgroup_dirs() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                cg.push(e.path().display().to_string());
            }
        }
    }
    let state = String::from_utf8_lossy(
        &cttest::sh(&format!(
            "cd {} && find containers tmp repositories | sort",
            env.state().display()
        ))
        .stdout,
    )
    .into_owned();
    (mounts, loops, cg, state)
}

#[test]
fn fifty_containers_at_once_leave_nothing_behind() {
    if !cttest::require_root("e2e::contain_run::fifty_containers_at_once_leave_nothing_behind") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("fifty");
    env.build_test_image("img");
    let before = snapshot(&env);
    let n = 50;
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let env = &env;
                s.spawn(move || {
                    let name = format!("c{i}");
                    // (--network none: fifty CNI setups at once, about 40 iptables
                    // execs each, can outlast the wait on a loaded 2-core machine;
                    // contain_network starts twenty on a network)
                    env.ok(&[
                        "run",
                        "-d",
                        "--network",
                        "none",
                        "--name",
                        &name,
                        "img",
                        "/bin/sleep",
                        "1000",
                    ])
                    .trim()
                    .to_string()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut uniq = ids.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), n);
    for id in &ids {
        env.wait_for(id, "running");
    }
    let ps = env.ok(&["ps", "-q"]);
    assert_eq!(ps.lines().count(), n, "{ps}");
    std::thread::scope(|s| {
        for chunk in ids.chunks(10) {
            let env = &env;
            s.spawn(move || {
                let mut args = vec!["rm", "-f"];
                args.extend(chunk.iter().map(String::as_str));
                env.ok(&args);
            });
        }
    });
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert_eq!(before, snapshot(&env));
}

#[test]
fn bad_input_one_line_and_no_state() {
    if !cttest::require_root("e2e::contain_run::bad_input_one_line_and_no_state") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("bad");
    env.build_test_image("img");
    env.ok(&["run", "-d", "--name", "taken", "img", "/bin/sleep", "1000"]);
    let cid = env.state().join("cid");
    std::fs::write(&cid, "x").unwrap();
    let cidp = cid.display().to_string();
    let before = snapshot(&env);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "nosuch", "/bin/true"], "Unable to find image"),
        (
            vec!["run", "--name", "taken", "img", "/bin/true"],
            "already in use",
        ),
        (
            vec!["run", "--cidfile", &cidp, "img", "/bin/true"],
            "Container ID file found",
        ),
        (
            vec!["run", "-m", "lots", "img", "/bin/true"],
            "contain: invalid --memory value \"lots\"",
        ),
        (
            vec!["run", "--cpus", "-1", "img", "/bin/true"],
            "contain: invalid --cpus value \"-1\"",
        ),
        (
            vec!["run", "--cpus", "99", "img", "/bin/true"],
            "Range of CPUs",
        ),
        (vec!["run", "--bogus", "img", "/bin/true"], "unknown option"),
        (
            vec!["run", "-u", "nosuch", "img", "/bin/true"],
            "unable to find user nosuch: no matching entries in passwd file",
        ),
        (
            vec!["run", "-w", "rel", "img", "/bin/true"],
            "the working directory 'rel' is invalid, it needs to be an absolute path",
        ),
        (
            vec!["run", "-e", "=x", "img", "/bin/true"],
            "invalid environment variable: =x",
        ),
        (
            vec![
                "run",
                "--env-file",
                "/nonexistent-ctools",
                "img",
                "/bin/true",
            ],
            "open /nonexistent-ctools: no such file or directory",
        ),
        (
            vec!["exec", "-u", "nosuch", "taken", "/bin/true"],
            "unable to find user nosuch",
        ),
        (
            vec!["run", "-v", "@rel:/x", "img", "/bin/true"],
            "the source must be an absolute host path or a volume name",
        ),
        (
            vec!["run", "-v", "/tmp:/x:zz", "img", "/bin/true"],
            "unknown mode 'zz'",
        ),
    ];
    for (args, want) in cases {
        let out = env.run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        // (docker's own hint line follows its daemon's errors: "See 'contain run --help'.")
        let lines = err
            .lines()
            .filter(|l| !l.starts_with("See 'contain "))
            .count();
        assert_eq!(lines, 1, "{args:?}: one line: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(before, snapshot(&env), "{args:?} left state behind");
    }
    // missing command: an image without a default command
    let probe = format!("{}:/probe", cttest::probe().display());
    env.ok(&["build", "--cmd", "", "--file", &probe, "nocmd"]);
    let before = snapshot(&env);
    let out = env.run(&["run", "nocmd"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("No command specified"),
        "{}",
        stderr(&out)
    );
    assert_eq!(before, snapshot(&env));
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), "x");
}

#[test]
fn rootless_run_by_an_unprivileged_user_leaves_nothing() {
    if !cttest::require_root(
        "e2e::contain_run::rootless_run_by_an_unprivileged_user_leaves_nothing",
    ) {
        return;
    }
    use std::os::unix::process::CommandExt;
    // The user's own state directory, as $HOME would hold it.
    let home = cttest::tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(65534), Some(65534)).unwrap();
    let state = home.path().join("state");
    let probe = format!("{}:/probe", cttest::probe().display());
    let contain = |args: &[&str]| {
        let mut c = std::process::Command::new(contain_script());
        c.args(args)
            .env("PATH", test_path())
            .env("HOME", home.path())
            .env("CONTAIN_ROOT", &state)
            .uid(65534)
            .gid(65534)
            .current_dir("/");
        cttest::run_with_timeout(&mut c, Duration::from_secs(120))
    };
    let o = contain(&["build", "--file", &probe, "rl", "/bin/sh", "/bin/true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Root inside, mapped to the user; the overlay mounted in its user
    // namespace; a layer to write to.
    let o = contain(&["run", "--rm", "rl", "/probe"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(j["uid"], 0);
    assert_eq!(j["uid_map"], serde_json::json!([[0, 65534, 1]]));
    let o = contain(&[
        "run",
        "--rm",
        "rl",
        "/bin/sh",
        "-c",
        "echo x > /new && echo wrote",
    ]);
    assert_eq!(stdout(&o), "wrote\n", "{}", stderr(&o));
    // -e, -w and a volume of the user's, in its user namespace; export of a stopped
    // container through a union mounted there.
    let vol = home.path().join("vol");
    std::fs::create_dir(&vol).unwrap();
    std::os::unix::fs::chown(&vol, Some(65534), Some(65534)).unwrap();
    let v = format!("{}:/vol", vol.display());
    let o = contain(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/work",
        "-v",
        &v,
        "rl",
        "/bin/sh",
        "-c",
        "echo \"$A $(pwd)\"; echo v > /vol/f",
    ]);
    assert_eq!(stdout(&o), "1 /work\n", "{}", stderr(&o));
    let m = std::fs::metadata(vol.join("f")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&m), 65534);
    let o = contain(&["run", "--name", "ex", "rl", "/bin/sh", "-c", "echo e > /e"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tar = home.path().join("ex.tar");
    let o = contain(&["export", "-o", &tar.display().to_string(), "ex"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .any(|l| l == "./e"),
        "{}",
        String::from_utf8_lossy(&list.stdout)
    );
    let o = contain(&["rm", "ex"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Nothing left of any container (their overlay work directories,
    // mode 000, included).
    let left: Vec<_> = std::fs::read_dir(state.join("containers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(std::fs::read_dir(state.join("names")).unwrap().count(), 0);
}

#[test]
fn environment_user_and_workdir_as_docker_makes_them() {
    if !cttest::require_root("e2e::contain_run::environment_user_and_workdir_as_docker_makes_them")
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("envs");
    env.build_test_image("img");
    let probe = |args: &[&str], extra: &[(&str, &str)]| -> serde_json::Value {
        let mut c = env.cmd();
        c.args(args);
        for (k, v) in extra {
            c.env(k, v);
        }
        let out = cttest::run_with_timeout(&mut c, Duration::from_secs(120));
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        cttest::probe_json(&out)
    };
    let envmap = |p: &serde_json::Value| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = p["env"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = v
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.sort();
        v
    };
    const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    // Nothing of the caller's environment: docker's defaults only.
    let p = probe(
        &["run", "--rm", "--hostname", "box", "img", "/probe"],
        &[("CTOOLS_SECRET_TOKEN", "leak")],
    );
    assert_eq!(
        envmap(&p),
        pairs(&[("PATH", PATH), ("HOSTNAME", "box"), ("HOME", "/root")]),
        "{}",
        p["env"]
    );
    assert_eq!(p["cwd"], "/");
    assert_eq!((p["uid"].as_u64(), p["gid"].as_u64()), (Some(0), Some(0)));
    // -e NAME=VALUE, -e NAME from the caller, --env-file (read first, -e wins), -w
    // (made when missing), -u by name (its passwd home and login group).
    let file = env.state().join("envfile");
    std::fs::write(&file, "# comment\n\nFROM_FILE=f v\nBOTH=file\n  PASSED\n").unwrap();
    let filep = file.display().to_string();
    let p = probe(
        &[
            "run",
            "--rm",
            "--hostname",
            "box",
            "-e",
            "A=1",
            "-e",
            "BOTH=flag",
            "--env-file",
            &filep,
            "-e",
            "PASSED",
            "-e",
            "UNSET_CTOOLS",
            "-w",
            "/work/dir",
            "-u",
            "nobody",
            "img",
            "/probe",
        ],
        &[("PASSED", "from caller")],
    );
    assert_eq!(
        envmap(&p),
        pairs(&[
            ("PATH", PATH),
            ("HOSTNAME", "box"),
            ("HOME", "/nonexistent"),
            ("A", "1"),
            ("BOTH", "flag"),
            ("FROM_FILE", "f v"),
            ("PASSED", "from caller"),
        ]),
        "{}",
        p["env"]
    );
    assert_eq!(p["cwd"], "/work/dir");
    assert_eq!(
        (p["uid"].as_u64(), p["gid"].as_u64()),
        (Some(65534), Some(65534))
    );
    // A uid the image does not name: group 0 and HOME=/, as docker gives them.
    let p = probe(&["run", "--rm", "-u", "4321", "img", "/probe"], &[]);
    assert_eq!(
        (p["uid"].as_u64(), p["gid"].as_u64()),
        (Some(4321), Some(0))
    );
    assert!(envmap(&p).contains(&("HOME".into(), "/".into())));
    // An image's Env, WorkingDir and User (contain build --env/--workdir/--user), in its
    // config, and -e over them.
    env.ok(&[
        "build",
        "--from",
        "img",
        "--env",
        "IMG=1",
        "--env",
        "PATH=/bin",
        "--workdir",
        "/data",
        "--user",
        "nobody",
        "img2",
        "/bin/true",
    ]);
    let cfg = env.ok(&["inspect", "img2"]);
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(
        cfg[0]["Config"]["Env"],
        serde_json::json!(["IMG=1", "PATH=/bin"])
    );
    assert_eq!(cfg[0]["Config"]["WorkingDir"], "/data");
    assert_eq!(cfg[0]["Config"]["User"], "nobody");
    let p = probe(&["run", "--rm", "-e", "IMG=2", "img2", "/probe"], &[]);
    let e = envmap(&p);
    assert!(e.contains(&("IMG".into(), "2".into())), "{e:?}");
    assert!(e.contains(&("PATH".into(), "/bin".into())), "{e:?}");
    assert_eq!(p["cwd"], "/data");
    assert_eq!(p["uid"].as_u64(), Some(65534));
    let p = probe(
        &["run", "--rm", "-u", "0", "-w", "/", "img2", "/probe"],
        &[],
    );
    assert_eq!((p["uid"].as_u64(), p["cwd"].as_str()), (Some(0), Some("/")));
    // exec: the container's environment, user and directory, or exec's own.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "e1",
        "-e",
        "CV=1",
        "-w",
        "/srv",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    env.wait_for("e1", "running");
    let p = probe(
        &["exec", "e1", "/probe"],
        &[("CTOOLS_SECRET_TOKEN", "leak")],
    );
    let e = envmap(&p);
    assert!(e.contains(&("CV".into(), "1".into())), "{e:?}");
    assert!(!e.iter().any(|(k, _)| k == "CTOOLS_SECRET_TOKEN"), "{e:?}");
    assert_eq!(p["cwd"], "/srv");
    let p = probe(
        &[
            "exec", "-e", "CV=2", "-w", "/etc", "-u", "nobody", "e1", "/probe",
        ],
        &[],
    );
    let e = envmap(&p);
    assert!(e.contains(&("CV".into(), "2".into())), "{e:?}");
    assert!(e.contains(&("HOME".into(), "/nonexistent".into())), "{e:?}");
    assert_eq!(p["cwd"], "/etc");
    assert_eq!(p["uid"].as_u64(), Some(65534));
    // The container's pid 1 has its environment too, not the caller's.
    let inspect = env.inspect("e1");
    let pid = inspect["State"]["Pid"].as_i64().unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains("CV=1"), "{environ:?}");
    assert!(!environ.contains("CTOOLS_"), "{environ:?}");
    assert_eq!(
        inspect["Config"]["Env"].as_array().unwrap().len(),
        4,
        "{}",
        inspect["Config"]
    );
    assert_eq!(inspect["Config"]["WorkingDir"], "/srv");
    env.ok(&["rm", "-f", "e1"]);
}

#[test]
fn volumes_bind_host_paths_read_write_and_read_only() {
    if !cttest::require_root("e2e::contain_run::volumes_bind_host_paths_read_write_and_read_only") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("vol");
    env.build_test_image("img");
    let host = cttest::tempdir().unwrap();
    let data = host.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("f"), "host data\n").unwrap();
    let conf = host.path().join("app.conf");
    std::fs::write(&conf, "k=v\n").unwrap();
    let fresh = host.path().join("made/by/run");
    let v1 = format!("{}:/data", data.display());
    let v2 = format!("{}:/etc/app.conf:ro", conf.display());
    let v3 = format!("{}:/new", fresh.display());
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        &v1,
        "-v",
        &v2,
        "--volume",
        &v3,
        "img",
        "/bin/sh",
        "-c",
        "cat /data/f /etc/app.conf; echo from-container > /data/w; \
         (echo x > /etc/app.conf) 2>/dev/null || echo conf-read-only; \
         touch /new/n && echo new-ok",
    ]);
    assert_eq!(out, "host data\nk=v\nconf-read-only\nnew-ok\n");
    assert_eq!(
        std::fs::read_to_string(data.join("w")).unwrap(),
        "from-container\n"
    );
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "k=v\n");
    assert!(fresh.join("n").is_file(), "the missing source was made");
    // A kept container: the mounts in inspect, and again after stop/start.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "v1",
        "-v",
        &format!("{}:/data:ro", data.display()),
        "img",
        "/bin/sleep",
        "1000",
    ]);
    env.wait_for("v1", "running");
    let i = env.inspect("v1");
    assert_eq!(
        i["Mounts"],
        serde_json::json!([{"Type": "bind", "Source": data.display().to_string(),
                            "Destination": "/data", "Mode": "ro", "RW": false,
                            "Propagation": "rprivate"}])
    );
    env.ok(&["stop", "-t", "0", "v1"]);
    env.wait_for("v1", "exited");
    env.ok(&["start", "v1"]);
    env.wait_for("v1", "running");
    let out = env.run(&[
        "exec",
        "v1",
        "/bin/sh",
        "-c",
        "cat /data/f; touch /data/z 2>/dev/null || echo ro",
    ]);
    assert_eq!(stdout(&out), "host data\nro\n", "{}", stderr(&out));
    env.ok(&["rm", "-f", "v1"]);
    // Nothing of the binds is left on the host.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&data.display().to_string()),
        "a bind leaked: {mounts}"
    );
}

#[test]
fn wait_restart_top_and_diff() {
    if !cttest::require_root("e2e::contain_run::wait_restart_top_and_diff") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cmds");
    env.build_test_image("img");
    let script = "mkdir /newdir; touch /newdir/f /etc/newconf; rm /bin/ls; \
                  echo ready > /ready; exec /bin/sleep 1000";
    env.ok(&["run", "-d", "--name", "d1", "img", "/bin/sh", "-c", script]);
    env.wait_for("d1", "running");
    let t0 = std::time::Instant::now();
    while env.run(&["exec", "d1", "/bin/cat", "/ready"]).status.code() != Some(0) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the script did not get ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // diff: docker's letters, sorted, the changed parents as C.
    let diff = env.ok(&["diff", "d1"]);
    for line in [
        "C /etc",
        "A /etc/newconf",
        "A /newdir",
        "A /newdir/f",
        "A /ready",
    ] {
        assert!(diff.lines().any(|l| l == line), "{line:?} not in:\n{diff}");
    }
    // /bin may be a link to usr/bin (mkrootfs keeps the host's merged /usr).
    assert!(
        diff.lines()
            .any(|l| l == "D /bin/ls" || l == "D /usr/bin/ls"),
        "{diff}"
    );
    let mut sorted: Vec<&str> = diff.lines().collect();
    sorted.sort_by_key(|l| &l[2..]);
    assert_eq!(sorted, diff.lines().collect::<Vec<_>>());
    // top: the container's processes (its cgroup's), ps -f or the given columns.
    let top = env.ok(&["top", "d1"]);
    assert!(top.starts_with("UID "), "{top}");
    assert!(top.contains("sleep 1000"), "{top}");
    let top = env.ok(&["top", "d1", "-o", "comm="]);
    assert_eq!(top, "sleep\n");
    // wait: blocks until the end and prints the exit code; restart runs it again.
    let mut w = env.cmd();
    w.args(["wait", "d1"]);
    let waiter =
        std::thread::spawn(move || cttest::run_with_timeout(&mut w, Duration::from_secs(60)));
    std::thread::sleep(Duration::from_millis(300));
    // (the program is pid 1, as under docker: a TERM it has no handler for is ignored)
    env.ok(&["kill", "-s", "TERM", "d1"]);
    env.ok(&["kill", "-s", "SIGKILL", "d1"]);
    let out = waiter.join().unwrap();
    assert_eq!(stdout(&out), "137\n", "{}", stderr(&out));
    env.ok(&["restart", "-t", "0", "d1"]);
    env.wait_for("d1", "running");
    env.ok(&["restart", "-t", "0", "d1"]);
    env.wait_for("d1", "running");
    env.ok(&["kill", "d1"]);
    assert_eq!(env.ok(&["wait", "d1"]), "137\n");
    env.ok(&["rm", "d1"]);
    let out = env.run(&["wait", "d1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("No such container: d1"));
    let out = env.run(&["top", "nosuch"]);
    assert_eq!(out.status.code(), Some(125));
    // logs --tail: the last lines only.
    env.ok(&[
        "run",
        "--name",
        "lg",
        "img",
        "/bin/sh",
        "-c",
        "echo 1; echo 2; echo 3",
    ]);
    assert_eq!(env.ok(&["logs", "lg"]), "1\n2\n3\n");
    assert_eq!(env.ok(&["logs", "-n", "2", "lg"]), "2\n3\n");
    assert_eq!(env.ok(&["logs", "--tail=all", "lg"]), "1\n2\n3\n");
    assert_eq!(
        env.run(&["logs", "--tail", "x", "lg"]).status.code(),
        Some(125)
    );
    env.ok(&["rm", "lg"]);
}

#[test]
fn export_then_import_round_trip() {
    if !cttest::require_root("e2e::contain_run::export_then_import_round_trip") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("export");
    env.build_test_image("img");
    let list = |tar: &[u8]| -> Vec<String> {
        let mut c = std::process::Command::new("tar");
        c.arg("-t").stdin(std::process::Stdio::piped());
        let mut child = c.stdout(std::process::Stdio::piped()).spawn().expect("tar");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(tar).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    // A stopped container: through a read-only union of its layer over the image's.
    env.ok(&[
        "run",
        "--name",
        "x1",
        "img",
        "/bin/sh",
        "-c",
        "echo data > /exported; rm /bin/touch",
    ]);
    let out = env.run(&["export", "x1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let names = list(&out.stdout);
    assert!(names.iter().any(|n| n == "./exported"), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with("bin/cat")), "{names:?}");
    assert!(
        !names.iter().any(|n| n.ends_with("bin/touch")),
        "deleted: {names:?}"
    );
    let tar = env.state().join("x1.tar");
    env.ok(&["export", "-o", &tar.display().to_string(), "x1"]);
    assert_eq!(std::fs::read(&tar).unwrap(), out.stdout, "the same archive");
    // It leaves no mount behind; contain import reads it back as an image.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&env.state().display().to_string()),
        "{mounts}"
    );
    env.ok(&["import", "imported", &tar.display().to_string()]);
    let out = env.ok(&[
        "run",
        "--rm",
        "imported",
        "/bin/sh",
        "-c",
        "cat /exported; ls /bin/touch 2>&1; true",
    ]);
    assert!(
        out.starts_with("data\n") && out.contains("No such file"),
        "{out}"
    );
    // A running container: its root's file system only (no /proc, /dev or /sys contents).
    env.ok(&[
        "run",
        "-d",
        "--name",
        "x2",
        "img",
        "/bin/sh",
        "-c",
        "echo live > /live; exec /bin/sleep 1000",
    ]);
    env.wait_for("x2", "running");
    let t0 = std::time::Instant::now();
    let names = loop {
        let out = env.run(&["export", "x2"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let names = list(&out.stdout);
        if names.iter().any(|n| n == "./live") {
            break names;
        }
        assert!(t0.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    };
    for mounted in ["./proc/", "./dev/", "./sys/"] {
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with(mounted) && n.len() > mounted.len()),
            "{mounted} contents exported: {names:?}"
        );
    }
    env.ok(&["rm", "-f", "x1", "x2"]);
    let out = env.run(&["export", "x1"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn capabilities_read_only_and_privileged() {
    if !cttest::require_root("e2e::contain_run::capabilities_read_only_and_privileged") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("caps");
    env.build_test_image("img");
    let bounding = |args: &[&str]| -> (u64, String) {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend(["img", "/probe"]);
        let p: serde_json::Value = serde_json::from_str(env.ok(&a).trim()).unwrap();
        let bnd = u64::from_str_radix(p["status"]["CapBnd"].as_str().unwrap(), 16).unwrap();
        (bnd, p["status"]["NoNewPrivs"].as_str().unwrap().to_string())
    };
    // The host's own bounding set: --privileged and --cap-add ALL cannot exceed it.
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let host = host
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    const DEFAULT: u64 = 0xa804_25fb;
    const CHOWN: u64 = 1 << 0;
    const KILL: u64 = 1 << 5;
    const NET_BIND: u64 = 1 << 10;
    const SYS_ADMIN: u64 = 1 << 21;
    assert_eq!(bounding(&[]), (DEFAULT, "0".into()));
    assert_eq!(
        bounding(&["--security-opt", "no-new-privileges"]),
        (DEFAULT, "1".into())
    );
    assert_eq!(bounding(&["--chroot"]), (DEFAULT, "0".into()));
    assert_eq!(bounding(&["--cap-drop", "chown"]).0, DEFAULT & !CHOWN);
    assert_eq!(
        bounding(&["--cap-add", "CAP_SYS_ADMIN"]).0,
        DEFAULT | SYS_ADMIN
    );
    assert_eq!(
        bounding(&["--cap-drop", "ALL", "--cap-add", "net_bind_service"]).0,
        NET_BIND
    );
    assert_eq!(
        bounding(&["--cap-add", "all", "--cap-drop", "kill"]).0,
        host & !KILL
    );
    assert_eq!(bounding(&["--privileged"]), (host, "0".into()));
    // exec gets the container's set.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "k1",
        "--cap-add",
        "sys_admin",
        "--cap-drop",
        "chown",
        "--read-only",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    env.wait_for("k1", "running");
    let p: serde_json::Value =
        serde_json::from_str(env.ok(&["exec", "k1", "/probe"]).trim()).unwrap();
    assert_eq!(
        u64::from_str_radix(p["status"]["CapBnd"].as_str().unwrap(), 16).unwrap(),
        (DEFAULT | SYS_ADMIN) & !CHOWN
    );
    let i = env.inspect("k1");
    assert_eq!(i["HostConfig"]["CapAdd"], serde_json::json!(["sys_admin"]));
    assert_eq!(i["HostConfig"]["CapDrop"], serde_json::json!(["chown"]));
    assert_eq!(i["HostConfig"]["ReadonlyRootfs"], true);
    // --read-only: the root refuses writes; /dev and a volume do not.
    let out = env.run(&[
        "exec",
        "k1",
        "/bin/sh",
        "-c",
        "touch /x 2>/dev/null || echo root-ro; touch /dev/shm/y && echo shm-ok",
    ]);
    assert_eq!(stdout(&out), "root-ro\nshm-ok\n", "{}", stderr(&out));
    env.ok(&["rm", "-f", "k1"]);
    // A capability the kernel has no name for: refused before anything is made.
    let out = env.run(&["run", "--rm", "--cap-add", "bogus", "img", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(stderr(&out), "contain: unknown capability: \"bogus\"\n");
    assert_eq!(
        std::fs::read_dir(env.state().join("containers"))
            .unwrap()
            .count(),
        0
    );
}
