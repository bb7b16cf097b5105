//! `contain`'s state tells the truth: a monitor per container (the client only attaches), what
//! ps, inspect and the kernel show after a client or a monitor is killed, signals sent on to
//! the container, one instance per layer, restart policies.  Each test checks the state in
//! `ps`, `inspect` and the kernel (the process, its cgroup, its mounts).

mod contain_util;

use contain_util::{Env, stderr, stdout};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Poll `inspect` until `pred` holds (three minutes at most: a loaded machine).
fn wait_until(
    env: &Env,
    id: &str,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(180) {
        let out = env.run(&["inspect", id]);
        if out.status.success()
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&stdout(&out))
            && pred(&v[0])
        {
            return v[0].clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "container {id} never {what}: {}",
        stdout(&env.run(&["inspect", id]))
    );
}

/// Until the container runs its program (a pid of its own is known).
fn wait_running(env: &Env, id: &str) -> serde_json::Value {
    wait_until(env, id, "ran", |v| {
        v["State"]["Status"] == "running" && v["State"]["Pid"].as_i64().unwrap_or(0) > 1
    })
}

fn wait_exited(env: &Env, id: &str) -> serde_json::Value {
    wait_until(env, id, "exited", |v| v["State"]["Status"] == "exited")
}

/// A foreground `contain run ARGS` client, its streams off (what it prints is not read).
fn spawn(env: &Env, args: &[&str]) -> Child {
    env.cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("contain run")
}

/// The exit status of `child` (two minutes at most), its signal as 128 + N.
fn wait_child(child: &mut Child) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the client never ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: i64, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()), sig)
        .expect("kill");
}

/// Whether process `pid` exists (and is not a zombie).
fn proc_alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let rest = s.rsplit_once(") ").map_or("", |x| x.1);
            !rest.starts_with('Z') && !rest.starts_with('X')
        })
        .unwrap_or(false)
}

/// The container's cgroup directories (one per hierarchy) that exist.
fn cgroups_of(env: &Env, id: &str) -> Vec<PathBuf> {
    env.cgroup_dirs()
        .into_iter()
        .map(|d| d.join(id))
        .filter(|d| d.is_dir())
        .collect()
}

/// Lines of this mount namespace's mount table naming the state directory.
fn mounts_of(env: &Env) -> Vec<String> {
    let dir = env.state().display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&dir) && !l.contains("contain-test-full"))
        .map(str::to_string)
        .collect()
}

/// The `ps -a` line of the container named `name`.
fn ps_line(env: &Env, name: &str) -> String {
    stdout(&env.run(&["ps", "-a"]))
        .lines()
        .find(|l| l.split_whitespace().last() == Some(name))
        .unwrap_or("")
        .to_string()
}

/// A field of the container's run file (while a monitor runs it).
fn run_field(env: &Env, id: &str, key: &str) -> Option<i64> {
    let text = std::fs::read_to_string(env.state().join("containers").join(id).join("run")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// After `rm -f` of everything: no container, name, process, cgroup or mount is left.
fn assert_nothing_left(env: &Env, pids: &[i64]) {
    for id in stdout(&env.run(&["ps", "-aq"])).split_whitespace() {
        env.ok(&["rm", "-f", id]);
    }
    assert_eq!(stdout(&env.run(&["ps", "-aq"])).trim(), "");
    for d in ["containers", "names"] {
        let left: Vec<_> = std::fs::read_dir(env.state().join(d))
            .unwrap()
            .flatten()
            .collect();
        assert!(left.is_empty(), "{d}: {left:?}");
    }
    for p in pids {
        assert!(!proc_alive(*p), "process {p} is left");
    }
    for d in env.cgroup_dirs() {
        let sub: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .collect();
        assert!(sub.is_empty(), "cgroups left: {sub:?}");
    }
    assert_eq!(mounts_of(env), Vec::<String>::new());
}

const TRAP7: &str = "trap 'exit 7' TERM; touch /ready; while :; do sleep 0.1; done";

/// Until the container's program has made /ready (its signal handlers are set then).
fn wait_ready(env: &Env, name: &str) {
    let id = wait_running(env, name)["Id"].as_str().unwrap().to_string();
    let f = env.state().join("containers").join(id).join("upper/ready");
    let t0 = Instant::now();
    while !f.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{name} never got ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn client_sigkill_leaves_the_container_up_attachable_stoppable_removable() {
    if !cttest::require_root(
        "e2e::contain_state::client_sigkill_leaves_the_container_up_attachable_stoppable_removable",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("stclient");
    env.build_test_image("img");
    let mut client = spawn(
        &env,
        &[
            "run",
            "--name",
            "k1",
            "--network",
            "none",
            "img",
            "/bin/sh",
            "-c",
            TRAP7,
        ],
    );
    wait_ready(&env, "k1");
    let v = wait_running(&env, "k1");
    let id = v["Id"].as_str().unwrap().to_string();
    let pid = v["State"]["Pid"].as_i64().unwrap();
    client.kill().unwrap();
    assert_eq!(wait_child(&mut client), 137);
    // Up, in ps and inspect and the kernel
    let v = env.inspect("k1");
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(v["State"]["Running"], true);
    assert_eq!(v["State"]["Pid"].as_i64(), Some(pid));
    assert!(
        ps_line(&env, "k1").contains(" Up "),
        "{}",
        ps_line(&env, "k1")
    );
    assert!(proc_alive(pid));
    let cg = cgroups_of(&env, &id);
    assert!(!cg.is_empty());
    let procs = cg
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .next()
        .unwrap();
    assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    // attachable (exec), stoppable (its TERM handler's status), removable
    assert_eq!(env.ok(&["exec", "k1", "/bin/echo", "in"]), "in\n");
    env.ok(&["stop", "-t", "30", "k1"]);
    let v = env.inspect("k1");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 7, "{v}");
    assert!(
        ps_line(&env, "k1").contains("Exited (7)"),
        "{}",
        ps_line(&env, "k1")
    );
    assert!(!proc_alive(pid));
    // the cgroup goes when the container ends
    assert_eq!(cgroups_of(&env, &id), Vec::<PathBuf>::new());
    assert_eq!(mounts_of(&env), Vec::<String>::new());
    env.ok(&["rm", "k1"]);
    assert_nothing_left(&env, &[pid]);
}

/// A reader of `r` in a thread of its own: each line as it comes, then `None` at its end.
fn lines_of(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<Option<String>> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(r).lines() {
            let Ok(l) = l else { break };
            if tx.send(Some(l)).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });
    rx
}

/// The lines `rx` gets until its end (two minutes at most: the end must come).
fn lines_to_end(rx: &std::sync::mpsc::Receiver<Option<String>>, what: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Some(l)) => got.push(l),
            Ok(None) => return got,
            Err(e) => panic!("{what} never ended (someone still holds it: {e}); got {got:?}"),
        }
    }
}

/// Until `contain logs NAME` (both streams) has `line`.
fn wait_log_line(env: &Env, name: &str, line: &str) -> (String, String) {
    let t0 = Instant::now();
    loop {
        let out = env.run(&["logs", name]);
        let (o, e) = (stdout(&out), stderr(&out));
        if o.lines().chain(e.lines()).any(|l| l == line) {
            return (o, e);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{line:?} never reached the log of {name}: {o}\n{e}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn client_sigkill_stops_the_output_to_the_caller_and_the_log_keeps_it() {
    if !cttest::require_root(
        "e2e::contain_state::client_sigkill_stops_the_output_to_the_caller_and_the_log_keeps_it",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("strelay");
    env.build_test_image("img");
    // an -i container: what it reads is said on stdout; at its input's end it ticks on both
    // streams until stopped (its TERM handler's status 7)
    let script = "trap 'exit 7' TERM; while read l; do echo got $l; done; echo eof; i=0; \
                  while :; do i=$((i+1)); echo tick $i; echo etick $i >&2; sleep 0.1; done";
    let mut client = env
        .cmd()
        .args([
            "run",
            "-i",
            "--name",
            "r1",
            "--network",
            "none",
            "img",
            "/bin/sh",
            "-c",
            script,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("contain run");
    // our end of its input stays open all along: only the client's end can end it
    let mut input = client.stdin.take().unwrap();
    let out = lines_of(client.stdout.take().unwrap());
    let err = lines_of(client.stderr.take().unwrap());
    std::io::Write::write_all(&mut input, b"a\n").unwrap();
    assert_eq!(
        out.recv_timeout(Duration::from_secs(120)).unwrap(),
        Some("got a".to_string())
    );
    let v = wait_running(&env, "r1");
    let pid = v["State"]["Pid"].as_i64().unwrap();
    client.kill().unwrap();
    assert_eq!(wait_child(&mut client), 137);
    // the caller's pipes end: nothing holds them any more, and nothing more came on them
    assert_eq!(
        lines_to_end(&out, "the caller's stdout"),
        Vec::<String>::new()
    );
    assert_eq!(
        lines_to_end(&err, "the caller's stderr"),
        Vec::<String>::new()
    );
    // the container's input ended with the client (docker's stdin-once), and it runs on, its
    // output in the log, each stream apart, the line read before the kill too
    let (o, e) = wait_log_line(&env, "r1", "tick 3");
    assert!(o.starts_with("got a\neof\ntick 1\n"), "{o}");
    assert!(!o.contains("etick"), "{o}");
    wait_log_line(&env, "r1", "etick 3");
    assert!(!e.contains("got a"), "{e}");
    let v = env.inspect("r1");
    assert_eq!(v["State"]["Status"], "running", "{v}");
    assert_eq!(v["State"]["Pid"].as_i64(), Some(pid));
    // stoppable, its status recorded; nothing more reached the old caller (its pipes are shut)
    env.ok(&["stop", "-t", "30", "r1"]);
    let v = env.inspect("r1");
    assert_eq!(v["State"]["ExitCode"], 7, "{v}");
    drop(input);
    // --rm: the caller's pipe ends too, the container runs on and goes when it is stopped
    let mut client = env
        .cmd()
        .args([
            "run",
            "--rm",
            "--name",
            "r2",
            "--network",
            "none",
            "img",
            "/bin/sh",
            "-c",
            "trap 'exit 7' TERM; echo first; while :; do echo more; sleep 0.1; done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("contain run");
    let out = lines_of(client.stdout.take().unwrap());
    assert_eq!(
        out.recv_timeout(Duration::from_secs(120)).unwrap(),
        Some("first".to_string())
    );
    let pid2 = wait_running(&env, "r2")["State"]["Pid"].as_i64().unwrap();
    client.kill().unwrap();
    assert_eq!(wait_child(&mut client), 137);
    let got = lines_to_end(&out, "the --rm caller's stdout");
    assert!(got.iter().all(|l| l == "more"), "{got:?}");
    assert!(proc_alive(pid2));
    env.ok(&["stop", "-t", "30", "r2"]);
    let t0 = Instant::now();
    while env.run(&["inspect", "r2"]).status.success() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "r2 was never removed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_nothing_left(&env, &[pid, pid2]);
}

#[test]
fn monitor_sigkill_is_exited_255_in_ps_and_inspect_with_nothing_left_running() {
    if !cttest::require_root(
        "e2e::contain_state::monitor_sigkill_is_exited_255_in_ps_and_inspect_with_nothing_left_running",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("stmon");
    env.build_test_image("img");
    // detached, and attached (the monitor of a foreground run is a process of its own too)
    env.ok(&[
        "run",
        "-d",
        "--name",
        "m1",
        "--network",
        "none",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    let mut client = spawn(
        &env,
        &[
            "run",
            "--name",
            "m2",
            "--network",
            "none",
            "img",
            "/bin/sleep",
            "1000",
        ],
    );
    let mut pids = Vec::new();
    for name in ["m1", "m2"] {
        let v = wait_running(&env, name);
        let id = v["Id"].as_str().unwrap().to_string();
        let pid = v["State"]["Pid"].as_i64().unwrap();
        let mon = run_field(&env, &id, "mpid").expect("the monitor's pid");
        assert_ne!(mon, i64::from(client.id()));
        signal(mon, nix::sys::signal::Signal::SIGKILL);
        let t0 = Instant::now();
        while proc_alive(mon) && t0.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let line = ps_line(&env, name);
        assert!(line.contains("Exited (255)"), "{line}");
        let v = env.inspect(name);
        assert_eq!(v["State"]["Status"], "exited", "{v}");
        assert_eq!(v["State"]["Running"], false);
        assert_eq!(v["State"]["ExitCode"], 255, "{v}");
        if let Some(e) = v["State"]["Error"].as_str() {
            assert!(e.contains("monitor"), "{e}");
        }
        // its end is an event, as a monitor's own end is: die with 255
        let ev = env.ok(&[
            "events",
            "--since",
            "10m",
            "--until",
            "0s",
            "--filter",
            &format!("container={name}"),
            "--format",
            "{{.Action}} {{.Actor.Attributes.exitCode}}",
        ]);
        assert!(ev.lines().any(|l| l == "die 255"), "{ev}");
        // the container did not run on unseen
        assert!(!proc_alive(pid), "pid 1 of {name} runs on");
        assert_eq!(cgroups_of(&env, &id), Vec::<PathBuf>::new());
        // and it starts again
        env.ok(&["start", name]);
        let v = wait_running(&env, name);
        pids.push(pid);
        pids.push(v["State"]["Pid"].as_i64().unwrap());
    }
    // the attached client says so, and ends
    let code = wait_child(&mut client);
    assert_eq!(code, 255);
    assert_nothing_left(&env, &pids);
}

#[test]
fn sigterm_and_sigint_to_the_client_reach_the_container() {
    if !cttest::require_root(
        "e2e::contain_state::sigterm_and_sigint_to_the_client_reach_the_container",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("stsig");
    env.build_test_image("img");
    for (name, sig, code) in [
        ("t1", nix::sys::signal::Signal::SIGTERM, 7),
        ("t2", nix::sys::signal::Signal::SIGINT, 8),
    ] {
        let script =
            "trap 'exit 7' TERM; trap 'exit 8' INT; touch /ready; while :; do sleep 0.1; done";
        let mut client = spawn(
            &env,
            &[
                "run",
                "--name",
                name,
                "--network",
                "none",
                "img",
                "/bin/sh",
                "-c",
                script,
            ],
        );
        wait_ready(&env, name);
        let v = wait_running(&env, name);
        let pid = v["State"]["Pid"].as_i64().unwrap();
        signal(i64::from(client.id()), sig);
        assert_eq!(wait_child(&mut client), code, "{sig}");
        let v = env.inspect(name);
        assert_eq!(v["State"]["Status"], "exited");
        assert_eq!(v["State"]["ExitCode"], code);
        assert!(ps_line(&env, name).contains(&format!("Exited ({code})")));
        assert!(!proc_alive(pid));
        assert_eq!(
            cgroups_of(&env, v["Id"].as_str().unwrap()),
            Vec::<PathBuf>::new()
        );
    }
    // --sig-proxy=false: the client ends, the container runs on
    let mut client = spawn(
        &env,
        &[
            "run",
            "--sig-proxy=false",
            "--name",
            "t3",
            "--network",
            "none",
            "img",
            "/bin/sh",
            "-c",
            TRAP7,
        ],
    );
    wait_ready(&env, "t3");
    let v = wait_running(&env, "t3");
    let pid = v["State"]["Pid"].as_i64().unwrap();
    signal(i64::from(client.id()), nix::sys::signal::Signal::SIGTERM);
    assert_eq!(wait_child(&mut client), 128 + 15);
    assert_eq!(env.inspect("t3")["State"]["Status"], "running");
    assert!(proc_alive(pid));
    assert_nothing_left(&env, &[pid]);
}

#[test]
fn a_second_start_never_runs_a_second_instance() {
    if !cttest::require_root("e2e::contain_state::a_second_start_never_runs_a_second_instance") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("ststart");
    env.build_test_image("img");
    env.ok(&[
        "create",
        "--name",
        "s1",
        "--network",
        "none",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    let id = env.inspect("s1")["Id"].as_str().unwrap().to_string();
    let mut pids = Vec::new();
    for round in 0..2 {
        // four starts at once, on a created container, then on a stopped one
        let starts: Vec<Child> = (0..4)
            .map(|_| {
                env.cmd()
                    .args(["start", "s1"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut s in starts {
            wait_child(&mut s);
        }
        let v = wait_running(&env, "s1");
        let pid = v["State"]["Pid"].as_i64().unwrap();
        pids.push(pid);
        // once more, after it runs
        env.ok(&["start", "s1"]);
        let cg = cgroups_of(&env, &id);
        let procs = std::fs::read_to_string(cg[0].join("cgroup.procs")).unwrap();
        assert_eq!(
            procs.lines().collect::<Vec<_>>(),
            vec![pid.to_string()],
            "round {round}"
        );
        assert!(ps_line(&env, "s1").contains(" Up "));
        // one overlay mount of its layer, in one mount namespace: the container's, on the own
        // chain (CONTAIN_RUNTIME=contain); with an OCI runtime (runc-rs by default), two: the
        // union is mounted in the chain's namespace, on the bundle's root, and the runtime's
        // container namespace is a copy of it, as under podman; a second instance would show
        // four
        let upper = env
            .state()
            .join("containers")
            .join(&id)
            .join("upper")
            .display()
            .to_string();
        let out = cttest::sh(&format!(
            "cat /proc/[0-9]*/mountinfo 2>/dev/null | grep -F 'upperdir={upper},' | sort -u | wc -l"
        ));
        let want = if std::env::var_os("CONTAIN_RUNTIME").is_some_and(|v| v == "contain") {
            "1"
        } else {
            "2"
        };
        assert_eq!(stdout(&out).trim(), want, "round {round}");
        env.ok(&["stop", "-t", "1", "s1"]);
        assert!(!proc_alive(pid));
    }
    assert_nothing_left(&env, &pids);
}

#[test]
fn a_signal_death_in_the_foreground_has_its_status_and_no_job_message() {
    if !cttest::require_root(
        "e2e::contain_state::a_signal_death_in_the_foreground_has_its_status_and_no_job_message",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("stdeath");
    env.build_test_image("img");
    let client = env
        .cmd()
        .args([
            "run",
            "--name",
            "g1",
            "--network",
            "none",
            "img",
            "/bin/sleep",
            "1000",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let v = wait_running(&env, "g1");
    let pid = v["State"]["Pid"].as_i64().unwrap();
    env.ok(&["kill", "g1"]);
    let out = client.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(137));
    assert_eq!(stderr(&out), "", "no job message");
    let v = env.inspect("g1");
    assert_eq!(v["State"]["ExitCode"], 137);
    assert!(ps_line(&env, "g1").contains("Exited (137)"));
    assert!(!proc_alive(pid));
    assert_eq!(
        cgroups_of(&env, v["Id"].as_str().unwrap()),
        Vec::<PathBuf>::new()
    );
    // a --rm container killed by the signal SEGV sent by another process of its own
    let out = env.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "img",
        "/bin/sh",
        "-c",
        "sleep 1000 & p=$!; sleep 0.2; kill -SEGV $p; wait $p; exit $?",
    ]);
    assert_eq!(out.status.code(), Some(139));
    assert!(!stderr(&out).contains("contain: line"), "{}", stderr(&out));
    assert_nothing_left(&env, &[pid]);
}

#[test]
fn restart_on_failure_runs_a_program_that_fails_twice_to_its_success() {
    if !cttest::require_root(
        "e2e::contain_state::restart_on_failure_runs_a_program_that_fails_twice_to_its_success",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("strestart");
    env.build_test_image("img");
    // the count is kept in the container's own layer, which a restart keeps
    let script =
        "n=$(cat /n 2>/dev/null || echo 0); n=$((n + 1)); echo $n >/n; echo run $n; [ $n -ge 3 ]";
    for (name, policy, runs, code) in [
        ("r1", "on-failure", 3, 0),
        ("r2", "on-failure:1", 2, 1),
        ("r3", "no", 1, 1),
        ("r4", "always", 0, 0),
    ] {
        if policy == "always" {
            // always: started again after a success too, until stopped
            env.ok(&[
                "run",
                "-d",
                "--restart",
                policy,
                "--name",
                name,
                "--network",
                "none",
                "img",
                "/bin/sh",
                "-c",
                "echo once; sleep 0.2",
            ]);
            wait_until(&env, name, "restarted twice", |_| {
                std::fs::read_to_string(
                    env.state()
                        .join("containers")
                        .join(id_of(&env, name))
                        .join("restartcount"),
                )
                .is_ok_and(|s| s.trim().parse::<u32>().unwrap_or(0) >= 2)
            });
            env.ok(&["stop", "-t", "1", name]);
            let v = wait_exited(&env, name);
            assert_eq!(v["State"]["Status"], "exited");
            continue;
        }
        env.ok(&[
            "run",
            "-d",
            "--restart",
            policy,
            "--name",
            name,
            "--network",
            "none",
            "img",
            "/bin/sh",
            "-c",
            script,
        ]);
        let v = wait_exited(&env, name);
        assert_eq!(v["State"]["ExitCode"], code, "{name} {v}");
        let count = std::fs::read_to_string(
            env.state()
                .join("containers")
                .join(id_of(&env, name))
                .join("restartcount"),
        )
        .map(|s| s.trim().parse::<u32>().unwrap())
        .unwrap_or(0);
        assert_eq!(count, runs - 1, "{name}");
        if let Some(n) = v["RestartCount"].as_u64() {
            assert_eq!(n, u64::from(runs - 1), "{name}");
        }
        let log = env.ok(&["logs", name]);
        let want: String = (1..=runs).map(|i| format!("run {i}\n")).collect();
        assert_eq!(log, want, "{name}");
        assert!(ps_line(&env, name).contains(&format!("Exited ({code})")));
    }
    let bad = env.run(&["run", "--rm", "--restart", "always", "img", "/bin/true"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(
        stderr(&bad).contains("--restart and --rm"),
        "{}",
        stderr(&bad)
    );
    let bad = env.run(&["run", "--restart", "sometimes", "img", "/bin/true"]);
    assert_eq!(bad.status.code(), Some(125));
    assert_nothing_left(&env, &[]);
}

#[test]
fn restart_delay_doubles_and_is_reset_after_ten_seconds_of_running() {
    if !cttest::require_root(
        "e2e::contain_state::restart_delay_doubles_and_is_reset_after_ten_seconds_of_running",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("stbackoff");
    env.build_test_image("img");
    // runs 1 and 2 fail at once, run 3 fails after 11 s, run 4 waits for /go and succeeds;
    // each run from the third says so by a file of its own in the layer
    let script = "n=$(cat /n 2>/dev/null || echo 0); n=$((n + 1)); echo $n >/n; \
                  [ $n -ge 3 ] && touch /ready$n; [ $n = 3 ] && sleep 11 && exit 1; \
                  [ $n -ge 4 ] && { while ! [ -e /go ]; do sleep 0.1; done; exit 0; }; exit 1";
    let id = env
        .ok(&[
            "run",
            "-d",
            "--restart",
            "on-failure",
            "--name",
            "b1",
            "--network",
            "none",
            "img",
            "/bin/sh",
            "-c",
            script,
        ])
        .trim()
        .to_string();
    let upper = env.state().join("containers").join(&id).join("upper");
    let wait_file = |f: &str| {
        let t0 = Instant::now();
        while !upper.join(f).exists() {
            assert!(t0.elapsed() < Duration::from_secs(180), "no /{f}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // the delay the monitor waited before this run (the run file's `delay`, in ms): 100 ms
    // then 200 ms after two quick failures, 100 ms again after a run of 11 s (not 400)
    wait_file("ready3");
    assert_eq!(run_field(&env, &id, "delay"), Some(200));
    wait_file("ready4");
    assert_eq!(run_field(&env, &id, "delay"), Some(100));
    env.ok(&["exec", "b1", "/bin/touch", "/go"]);
    let v = wait_exited(&env, "b1");
    assert_eq!(v["State"]["ExitCode"], 0, "{v}");
    assert_eq!(v["RestartCount"], 3, "{v}");
    assert_nothing_left(&env, &[]);
}

/// Run the shell line under script(1) (the caller's terminal) with the test's contain first in
/// PATH; its status and output (script's own end-of-input marks dropped).
fn in_a_terminal(env: &Env, line: &str, input: &[u8]) -> (Option<i32>, String) {
    in_a_terminal_typed(env, line, &[(300, input)])
}

/// in_a_terminal with its input typed in turns: each (pause in ms, bytes).
fn in_a_terminal_typed(env: &Env, line: &str, typed: &[(u64, &[u8])]) -> (Option<i32>, String) {
    use std::io::Write;
    let mut c = contain_util::terminal_cmd(env, line);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("script");
    let mut w = child.stdin.take().unwrap();
    // (the input is typed once the terminal is raw: the container echoes it itself)
    let typed: Vec<(u64, Vec<u8>)> = typed.iter().map(|(d, b)| (*d, b.to_vec())).collect();
    std::thread::spawn(move || {
        for (pause, bytes) in typed {
            std::thread::sleep(Duration::from_millis(pause));
            let _ = w.write_all(&bytes);
        }
        std::thread::sleep(Duration::from_secs(120));
    });
    let out = lines_of(child.stdout.take().unwrap());
    let got = lines_to_end(&out, "script's output");
    let code = wait_child(&mut child);
    (
        Some(code),
        got.join("\n").replace('\r', "").replace("^D", "") + "\n",
    )
}

#[test]
fn tty_output_is_logged_as_stdout_and_the_terminal_kept() {
    if !cttest::require_root(
        "e2e::contain_state::tty_output_is_logged_as_stdout_and_the_terminal_kept",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("sttty");
    env.ok(&[
        "build",
        "timg",
        "/bin/sh",
        "/bin/stty",
        "/bin/echo",
        "/bin/cat",
        "/bin/sleep",
    ]);
    // -t: the pty's output on our terminal and in the log (one stream, stdout, as docker logs
    // it, with the pty's \r\n); the terminal's size reaches the container; our terminal is
    // given back as it was (raw while the container ran)
    let (code, out) = in_a_terminal(
        &env,
        "stty rows 33 cols 101; contain run -t --name t1 --network none timg \
         sh -c 'echo hello-tty; stty size; exit 4'; echo rc=$?; stty -a | grep -o -- '-*icanon'",
        b"",
    );
    assert_eq!(out, "hello-tty\n33 101\nrc=4\nicanon\n", "{code:?}");
    let logs = env.run(&["logs", "t1"]);
    assert_eq!(stdout(&logs), "hello-tty\r\n33 101\r\n");
    assert_eq!(stderr(&logs), "");
    // -it: what is typed reaches the container's shell (echoed by its pty), in the log too
    let (code, out) = in_a_terminal(
        &env,
        "contain run -it --name t2 --network none timg sh; echo rc=$?",
        b"echo typed-$((40 + 2))\nexit 3\n",
    );
    assert!(out.contains("typed-42\n"), "{out:?}");
    assert!(out.ends_with("rc=3\n"), "{code:?} {out:?}");
    let logs = stdout(&env.run(&["logs", "t2"]));
    assert!(logs.contains("typed-42\r\n"), "{logs:?}");
    // -t, its client killed with SIGKILL: the terminal gets nothing more (the relay died with
    // the client), the log goes on, the container runs on (looked at while the terminal is
    // still there: its end would hang up the container, as before)
    let (_, out) = in_a_terminal(
        &env,
        "contain run -t --name t4 --network none timg sh -c 'while :; do echo tick; sleep 0.1; done' & \
         p=$!; until contain logs t4 2>/dev/null | grep -q tick; do sleep 0.1; done; sleep 0.5; \
         kill -9 $p; sleep 0.5; echo after-kill; sleep 1.5; echo end; \
         contain inspect -f '{{.State.Status}}' t4 >\"$CONTAIN_ROOT/t4.state\"; \
         contain logs t4 >\"$CONTAIN_ROOT/t4.log\"; contain rm -f t4 >/dev/null",
        b"",
    );
    let (before, after) = out.split_once("after-kill\n").expect("after-kill");
    assert!(before.contains("tick\n"), "{out:?}");
    assert_eq!(after, "end\n", "{out:?}");
    let state = std::fs::read_to_string(env.state().join("t4.state")).unwrap();
    assert_eq!(state, "running\n");
    let log = std::fs::read_to_string(env.state().join("t4.log")).unwrap();
    assert!(
        log.matches("tick\r\n").count() > before.matches("tick\n").count() + 5,
        "{log:?} {out:?}"
    );
    // -dt: detached, the pty's output is the log's
    env.ok(&[
        "run",
        "-dt",
        "--name",
        "t3",
        "--network",
        "none",
        "timg",
        "sh",
        "-c",
        "echo detached-tty; exit 5",
    ]);
    let v = wait_exited(&env, "t3");
    assert_eq!(v["State"]["ExitCode"], 5);
    let logs = env.run(&["logs", "t3"]);
    assert_eq!(stdout(&logs), "detached-tty\r\n");
    assert_nothing_left(&env, &[]);
}

fn id_of(env: &Env, name: &str) -> String {
    env.inspect(name)["Id"].as_str().unwrap().to_string()
}

/// Processes (other than this test's) whose environment names the state directory: contain's
/// clients and monitors (the containers' own processes have none of it, and are in cgroups).
fn contain_processes(env: &Env) -> Vec<i64> {
    let needle = format!("CONTAIN_ROOT={}", env.state().display());
    let me = i64::from(std::process::id());
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        if pid == me || !proc_alive(pid) {
            continue;
        }
        if let Ok(b) = std::fs::read(e.path().join("environ"))
            && b.split(|&c| c == 0).any(|kv| kv == needle.as_bytes())
        {
            v.push(pid);
        }
    }
    v
}

#[test]
fn kill_9_at_random_moments_of_run_start_stop_rm_leaves_nothing_torn() {
    if !cttest::require_root(
        "e2e::contain_state::kill_9_at_random_moments_of_run_start_stop_rm_leaves_nothing_torn",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("stchaos");
    env.build_test_image("img");
    // a seeded xorshift: the same moments every run
    let mut x: u64 = 0x5eed_1234_abcd_0042;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for i in 0..24u64 {
        let name = format!("c{}", i % 6);
        let args: Vec<String> = match next(6) {
            0 => vec![
                "run",
                "--name",
                &name,
                "--network",
                "none",
                "img",
                "/bin/sleep",
                "1000",
            ],
            1 => vec![
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "none",
                "img",
                "/bin/sleep",
                "1000",
            ],
            2 => vec![
                "run",
                "--rm",
                "--network",
                "none",
                "img",
                "/bin/sleep",
                "1000",
            ],
            3 => vec!["start", &name],
            4 => vec!["stop", "-t", "1", &name],
            _ => vec!["rm", "-f", &name],
        }
        .into_iter()
        .map(str::to_string)
        .collect();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = spawn(&env, &argv);
        std::thread::sleep(Duration::from_millis(next(400)));
        let _ = child.kill();
        let _ = child.wait();
    }
    // what ps lists is all there is, and rm -f removes each
    let out = env.run(&["ps", "-a"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for id in stdout(&env.run(&["ps", "-aq"])).split_whitespace() {
        let out = env.run(&["rm", "-f", id]);
        assert!(out.status.success(), "rm -f {id}: {}", stderr(&out));
    }
    assert_nothing_left(&env, &[]);
    assert_eq!(contain_processes(&env), Vec::<i64>::new());
    let tmp: Vec<_> = std::fs::read_dir(env.state().join("tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

/// A tmpfs mounted on the state directory, unmounted when dropped.
struct Tmpfs(PathBuf);
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_fails_each_command_in_one_line_and_leaves_nothing_half_made() {
    if !cttest::require_root(
        "e2e::contain_state::a_full_disk_fails_each_command_in_one_line_and_leaves_nothing_half_made",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("stfull");
    let root = env.state().to_path_buf();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=40m", "contain-test-full"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success());
    let _m = Tmpfs(root.clone());
    if let Some(h) = &env.netns_holder {
        std::os::unix::fs::symlink(format!("/proc/{}/ns/net", h.id()), root.join("host-netns"))
            .unwrap();
    }
    env.build_test_image("img");
    env.ok(&[
        "run",
        "--name",
        "keep",
        "--network",
        "none",
        "img",
        "/bin/true",
    ]);
    let listing = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let before = (
        listing("containers"),
        listing("names"),
        listing("images"),
        listing("tmp"),
    );
    let repos = std::fs::read_to_string(root.join("repositories")).unwrap();
    // the last byte taken
    let _ = cttest::sh(&format!(
        "dd if=/dev/zero of={0}/fill bs=64k 2>/dev/null; dd if=/dev/zero of={0}/fill2 bs=1 2>/dev/null; true",
        root.display()
    ));
    for args in [
        &["run", "--rm", "--network", "none", "img", "/bin/echo", "hi"][..],
        &["run", "-d", "--network", "none", "img", "/bin/sleep", "100"],
        &[
            "run",
            "--name",
            "full",
            "--network",
            "none",
            "img",
            "/bin/echo",
            "hi",
        ],
        &["create", "--network", "none", "img", "/bin/true"],
        &["tag", "img", "img2"],
        &["commit", "keep", "img3"],
    ] {
        let out = env.run(args);
        let err = stderr(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("contain: "), "{args:?}: {err}");
        assert_eq!(
            (
                listing("containers"),
                listing("names"),
                listing("images"),
                listing("tmp")
            ),
            before,
            "{args:?}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("repositories")).unwrap(),
            repos,
            "{args:?}"
        );
        let extra: Vec<_> = listing(".")
            .into_iter()
            .filter(|n| n.starts_with("repositories."))
            .collect();
        assert!(extra.is_empty(), "{extra:?}");
    }
    // the store works again once there is room
    std::fs::remove_file(root.join("fill")).unwrap();
    let _ = std::fs::remove_file(root.join("fill2"));
    assert_eq!(
        env.ok(&["run", "--rm", "--network", "none", "img", "/bin/echo", "hi"]),
        "hi\n"
    );
    env.ok(&["tag", "img", "img2"]);
    env.ok(&["rm", "keep"]);
    assert_nothing_left(&env, &[]);
}

#[test]
fn rmi_racing_tag_commit_and_run_on_one_image_leaves_no_dangling_reference() {
    if !cttest::require_root(
        "e2e::contain_state::rmi_racing_tag_commit_and_run_on_one_image_leaves_no_dangling_reference",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("strmi");
    env.build_test_image("base");
    env.ok(&[
        "run",
        "--name",
        "src",
        "--network",
        "none",
        "base",
        "/bin/true",
    ]);
    for i in 0..6 {
        // a fresh image each round, removed while it is tagged, committed onto and run
        env.ok(&["commit", "src", "victim"]);
        let bg = |args: &[&str]| {
            env.cmd()
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let run_name = format!("r{i}");
        let mut kids = [
            bg(&["rmi", "victim"]),
            bg(&["tag", "victim", &format!("t{i}")]),
            bg(&[
                "run",
                "--name",
                &run_name,
                "--network",
                "none",
                "victim",
                "/bin/true",
            ]),
        ];
        for k in &mut kids {
            wait_child(k);
        }
        // every tag names an image that is there; every container's image is there
        let repos = std::fs::read_to_string(env.state().join("repositories")).unwrap();
        for line in repos.lines() {
            let id = line.split_whitespace().nth(2).unwrap();
            assert!(
                env.state().join("images").join(id).is_dir(),
                "dangling tag {line}"
            );
            let out = env.run(&["inspect", id]);
            assert!(out.status.success(), "{line}: {}", stderr(&out));
        }
        for e in std::fs::read_dir(env.state().join("containers"))
            .unwrap()
            .flatten()
        {
            let meta = std::fs::read_to_string(e.path().join("meta")).unwrap_or_default();
            if let Some(img) = meta.lines().find_map(|l| l.strip_prefix("image ")) {
                assert!(
                    env.state().join("images").join(img).is_dir(),
                    "container {:?} on a removed image",
                    e.file_name()
                );
            }
        }
        let _ = env.run(&["rm", "-f", &run_name]);
        let _ = env.run(&["rmi", "-f", "victim"]);
        let _ = env.run(&["rmi", "-f", &format!("t{i}")]);
    }
    let tmp: Vec<_> = std::fs::read_dir(env.state().join("tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    assert_nothing_left(&env, &[]);
}

#[test]
fn logs_keep_stdout_and_stderr_apart_with_time_and_follow_to_the_end() {
    if !cttest::require_root(
        "e2e::contain_state::logs_keep_stdout_and_stderr_apart_with_time_and_follow_to_the_end",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("stlogs");
    env.build_test_image("img");
    let script =
        "echo out1; echo err1 >&2; printf 'q\"b\\\\t\\tx\\n'; sleep 1.5; echo out2; printf part";
    let run = env.run(&[
        "run",
        "--name",
        "l1",
        "--network",
        "none",
        "img",
        "/bin/sh",
        "-c",
        script,
    ]);
    assert_eq!(stdout(&run), "out1\nq\"b\\t\tx\nout2\npart");
    assert_eq!(stderr(&run), "err1\n");
    // the log: Docker's json-file records, one per line
    let id = id_of(&env, "l1");
    let log =
        std::fs::read_to_string(env.state().join("containers").join(&id).join("log")).unwrap();
    let recs: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect();
    assert_eq!(recs.len(), 5, "{log}");
    // (the two streams' writers append side by side: their records interleave as they come)
    let of = |stream: &str| -> Vec<serde_json::Value> {
        recs.iter()
            .filter(|r| r["stream"] == stream)
            .cloned()
            .collect()
    };
    let (out, err) = (of("stdout"), of("stderr"));
    assert_eq!(out.len(), 4, "{log}");
    assert_eq!(out[0]["log"], "out1\n");
    assert_eq!(out[1]["log"], "q\"b\\t\tx\n");
    assert_eq!(out[3]["log"], "part");
    assert_eq!(err.len(), 1, "{log}");
    assert_eq!(err[0]["log"], "err1\n");
    let t0 = out[0]["time"].as_str().unwrap().to_string();
    let t3 = out[2]["time"].as_str().unwrap().to_string();
    let t4 = out[3]["time"].as_str().unwrap().to_string();
    assert!(t0.ends_with('Z') && t0.len() == 30, "{t0}");
    // logs: each stream to its own descriptor
    let out = env.run(&["logs", "l1"]);
    assert_eq!(stdout(&out), "out1\nq\"b\\t\tx\nout2\npart");
    assert_eq!(stderr(&out), "err1\n");
    // -t, --tail, --since and --until
    let out = env.run(&["logs", "-t", "--tail", "2", "l1"]);
    assert_eq!(stdout(&out), format!("{t3} out2\n{t4} part"));
    let out = env.run(&["logs", "--since", &t3, "l1"]);
    assert_eq!(stdout(&out), "out2\npart");
    assert_eq!(stderr(&out), "");
    let out = env.run(&["logs", "--until", &t0, "l1"]);
    assert_eq!(stdout(&out), "out1\n");
    let out = env.run(&["logs", "--since", "10m", "l1"]);
    assert_eq!(stderr(&out), "err1\n");
    let out = env.run(&["logs", "--since", "2099-01-01T00:00:00Z", "l1"]);
    assert_eq!((stdout(&out), stderr(&out)), (String::new(), String::new()));
    let bad = env.run(&["logs", "--since", "yesterday-ish", "l1"]);
    assert_eq!(bad.status.code(), Some(125));
    // -f ends when the container ends, with everything it wrote
    env.ok(&[
        "run",
        "-d",
        "--name",
        "l2",
        "--network",
        "none",
        "img",
        "/bin/sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.3; done; echo e >&2",
    ]);
    let out = env.run(&["logs", "-f", "l2"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "1\n2\n3\n");
    assert_eq!(stderr(&out), "e\n");
    assert_nothing_left(&env, &[]);
}

#[test]
fn a_creation_cut_short_is_listed_dead_and_removed() {
    if !cttest::require_root("e2e::contain_state::a_creation_cut_short_is_listed_dead_and_removed")
    {
        return;
    }
    let env = Env::new("dead");
    env.ok(&["ps", "-a"]);
    // what a run killed between making the directory and writing its meta leaves
    let id = "d".repeat(64);
    std::fs::create_dir_all(env.state().join("containers").join(&id)).unwrap();
    let ps = env.ok(&["ps", "-a", "--format", "{{.ID}} {{.Status}} {{.State}}"]);
    assert_eq!(ps, format!("{} Dead dead\n", &id[..12]));
    let o = env.run(&["inspect", &id[..12]]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "[]\n");
    assert_eq!(
        stderr(&o),
        format!(
            "contain: Error: {}: its stored state cannot be read\n",
            &id[..12]
        )
    );
    env.ok(&["rm", "-f", &id[..12]]);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert!(!env.state().join("containers").join(&id).exists());
}

#[test]
fn attach_to_a_dit_container_is_its_terminal_and_detaches_on_ctrl_p_ctrl_q() {
    if !cttest::require_root(
        "e2e::contain_state::attach_to_a_dit_container_is_its_terminal_and_detaches_on_ctrl_p_ctrl_q",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("statt");
    env.ok(&["build", "timg", "/bin/sh", "/bin/echo", "/bin/sleep"]);
    // -dit and -dt: the shell waits on its terminal, as under docker (a console fed from
    // nothing would end it at once)
    for (name, flag) in [("a1", "-dit"), ("a2", "-dt")] {
        env.ok(&[
            "run",
            flag,
            "--name",
            name,
            "--network",
            "none",
            "timg",
            "/bin/sh",
        ]);
        wait_running(&env, name);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(env.inspect("a1")["State"]["Status"], "running");
    assert_eq!(env.inspect("a2")["State"]["Status"], "running");
    // attach is the container's terminal: a line typed runs in its shell (its answer comes
    // once attach follows the output), ^P^Q detaches with docker's words and status 1, and
    // the container runs on
    let (code, out) = in_a_terminal_typed(
        &env,
        "contain attach a1; echo rc=$?; contain inspect -f 'after={{.State.Status}}' a1",
        &[(300, b"sleep 1; echo hi-$((2 + 3))\r"), (2500, b"\x10\x11")],
    );
    assert!(out.contains("\nhi-5\n"), "{code:?} {out:?}");
    assert!(
        out.contains("read escape sequence\nrc=1\nafter=running\n"),
        "{out:?}"
    );
    // --detach-keys: a sequence broken off is typed on as it was (x then z), and the
    // container's end is attach's status
    let (code, out) = in_a_terminal_typed(
        &env,
        "contain attach --detach-keys=x,y a1; echo rc=$?",
        &[(300, b"sleep 1; echo xz-$((1 + 1))\r"), (2500, b"exit 4\r")],
    );
    assert!(out.contains("\nxz-2\n"), "{code:?} {out:?}");
    assert!(out.ends_with("rc=4\n"), "{code:?} {out:?}");
    assert_eq!(wait_exited(&env, "a1")["State"]["ExitCode"], 4);
    // keys it does not know: refused, the container untouched
    let r = env.run(&["attach", "--detach-keys=ctrl-xx", "a2"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("Invalid detach keys"), "{}", stderr(&r));
    env.ok(&["rm", "-f", "a2"]);
    assert_nothing_left(&env, &[]);
}
