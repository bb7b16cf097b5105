//! `contain run --runtime NAME` (issue 20): the container's bundle (config.json written from
//! its settings, the union on its rootfs) run by an OCI runtime, runc-rs or runc, with the
//! same results as contain's own chain: the same process, limits, capabilities, filter,
//! volumes and lifecycle; and nothing left behind.

mod contain_util;

use contain_util::{Env, in_a_terminal, stderr, stdout};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The lines of /proc/self/status that the three must agree on, and what the test reads.
const PROBE: &str = "while read -r k v; do case $k in CapEff:|CapBnd:|Seccomp:|NoNewPrivs:) echo $k $v;; esac; done </proc/self/status; \
    echo pid1=$(cat /proc/1/cmdline); echo host=$(hostname); \
    echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max); \
    echo vol=$(cat /data/v); touch /data/w 2>/dev/null && echo rw || echo ro; \
    touch /rootw 2>/dev/null && echo rootrw || echo rootro";

/// The runtimes compared with contain's own chain (`--runtime contain`; each test's `None`,
/// as runc-rs is the default).
fn runtimes() -> Vec<&'static str> {
    let mut v = vec!["runc-rs"];
    let installed = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("runc").is_file()))
        || Path::new("/usr/sbin/runc").is_file();
    if installed {
        v.push("runc");
    } else {
        assert!(
            !cttest::strict(),
            "runc is not installed (make deps installs it)"
        );
    }
    v
}

/// The name=systemd and unified hierarchies' parent groups that a runtime makes beside the
/// controllers' (the harness's cleanup knows the controllers' alone).
fn remove_other_parents(parent: &str) {
    for h in ["systemd", "unified"] {
        let d = Path::new("/sys/fs/cgroup").join(h).join(parent);
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&d);
    }
}

/// Every group beneath the test's parent, in every hierarchy.
fn groups_left(parent: &str) -> Vec<String> {
    let mut v = Vec::new();
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let base = h.path();
        let mut stack = vec![base.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if !p.is_dir() {
                    continue;
                }
                let s = p.display().to_string();
                if s.contains(parent) {
                    if p.file_name().is_some_and(|n| n != parent) {
                        v.push(s);
                    }
                } else if p.strip_prefix(&base).map_or(0, |r| r.components().count()) < 3 {
                    stack.push(p);
                }
            }
        }
    }
    v
}

#[test]
fn runtimes_run_the_container_as_contains_own_chain_does() {
    if !cttest::require_root(
        "e2e::contain_runtime::runtimes_run_the_container_as_contains_own_chain_does",
    ) {
        return;
    }
    let env = Env::new("rt");
    env.build_test_image("rt");
    let vol = env.state().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("v"), "from-the-host\n").unwrap();
    let v = format!("{}:/data:ro", vol.display());
    let common = [
        "--network",
        "none",
        "--hostname",
        "box",
        "-m",
        "64m",
        "-v",
        &v,
        "--read-only",
    ];
    let run = |rt: Option<&str>| {
        let mut a = vec!["run", "--rm"];
        a.extend(["--runtime", rt.unwrap_or("contain")]);
        a.extend(common);
        a.extend(["rt", "/bin/sh", "-c", PROBE]);
        env.ok(&a)
    };
    let own = run(None);
    for want in [
        "CapEff: 00000000a80425fb",
        "Seccomp: 2",
        "NoNewPrivs: 0",
        "pid1=/bin/sh",
        "host=box",
        "mem=67108864",
        "vol=from-the-host",
        "\nro\n",
        "rootro",
    ] {
        assert!(
            own.contains(want),
            "contain's own chain lacks {want:?}:\n{own}"
        );
    }
    for rt in runtimes() {
        let got = run(Some(rt));
        // the same lines but pid 1's command line (the same program, NUL-separated)
        let norm = |s: &str| s.replace(['\0', ' '], "");
        assert_eq!(norm(&got), norm(&own), "--runtime {rt}");
        // the exit status is the program's
        let o = env.run(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            "--network",
            "none",
            "rt",
            "/bin/sh",
            "-c",
            "exit 3",
        ]);
        assert_eq!(o.status.code(), Some(3), "--runtime {rt}: {}", stderr(&o));
        // --cap-drop and --cap-add reach the runtime's process
        let caps = env.ok(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            "--network",
            "none",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "CHOWN",
            "rt",
            "/bin/sh",
            "-c",
            "while read -r k v; do [ $k = CapEff: ] && echo $v; done </proc/self/status; true",
        ]);
        assert_eq!(caps.trim(), "0000000000000001", "--runtime {rt}");
        // Docker's order: --cap-add ALL is every capability but the dropped ones
        let all_but_kill = |rt: Option<&str>| {
            let mut a = vec!["run", "--rm", "--network", "none"];
            a.extend(["--runtime", rt.unwrap_or("contain")]);
            a.extend([
                "--cap-add",
                "ALL",
                "--cap-drop",
                "KILL",
                "rt",
                "/bin/sh",
                "-c",
                "while read -r k v; do [ $k = CapEff: ] && echo $v; done </proc/self/status; true",
            ]);
            env.ok(&a)
        };
        assert_eq!(all_but_kill(Some(rt)), all_but_kill(None), "--runtime {rt}");
        // --device PATH:r: the devices cgroup refuses to open the node for writing (opened
        // only, nothing written; a linux.devices node gets no rwm rule of its own)
        if Path::new("/dev/loop0").exists() {
            let o = env.run(&[
                "run",
                "--rm",
                "--runtime",
                rt,
                "--network",
                "none",
                "--device",
                "/dev/loop0:/dev/myloop:r",
                "rt",
                "/bin/sh",
                "-c",
                "exec 3>/dev/myloop",
            ]);
            assert!(
                !o.status.success(),
                "--runtime {rt}: --device :r opened for writing"
            );
            assert!(
                stderr(&o).contains("Operation not permitted"),
                "--runtime {rt}: {}",
                stderr(&o)
            );
        }
    }
    // --privileged: every capability we have (this host's root may lack some), no filter
    let privileged = |rt: Option<&str>| {
        let mut a = vec!["run", "--rm", "--network", "none", "--privileged"];
        a.extend(["--runtime", rt.unwrap_or("contain")]);
        a.extend([
            "rt",
            "/bin/sh",
            "-c",
            "while read -r k v; do case $k in CapEff:|Seccomp:) echo $k $v;; esac; done </proc/self/status",
        ]);
        env.ok(&a)
    };
    let own = privileged(None);
    assert!(own.contains("Seccomp: 0"), "{own}");
    for rt in runtimes() {
        assert_eq!(privileged(Some(rt)), own, "--runtime {rt} --privileged");
    }
    remove_other_parents(&env.cgparent);
}

#[test]
fn a_detached_runtime_container_execs_stops_and_leaves_nothing() {
    if !cttest::require_root(
        "e2e::contain_runtime::a_detached_runtime_container_execs_stops_and_leaves_nothing",
    ) {
        return;
    }
    let env = Env::new("rtd");
    env.build_test_image("rt");
    for rt in runtimes() {
        let id = env.ok(&[
            "run",
            "-d",
            "--runtime",
            rt,
            "--network",
            "none",
            "-u",
            "1:1",
            "rt",
            "/bin/sh",
            "-c",
            "trap 'exit 7' TERM; while :; do sleep 0.1; done",
        ]);
        let id = id.trim();
        let v = env.inspect(id);
        assert_eq!(v["State"]["Status"], "running", "--runtime {rt}: {v}");
        // the bundle is a valid one: its config.json is the container's
        let cfg: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(env.state().join("containers").join(id).join("config.json"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(cfg["process"]["user"]["uid"], 1);
        // its root the store's mnt, where the union is mounted in the chain's own mount
        // namespace (as the own chain's)
        assert_eq!(
            cfg["root"]["path"],
            env.state().join("mnt").to_str().unwrap()
        );
        // exec: the runtime's, as the container's user, in its root
        let o = env.ok(&["exec", id, "/bin/sh", "-c", "echo $(cat /proc/self/status | while read -r k v; do [ $k = Uid: ] && echo $v; done); cat /proc/1/cmdline"]);
        assert!(
            o.starts_with("1 1 1 1\n/bin/sh"),
            "--runtime {rt}: exec printed {o:?}"
        );
        // the container's pid (inspect, and what cp and export go through) is its init's,
        // inside its root: never the runtime's process, whose root is the host's
        let pid = env.inspect(id)["State"]["Pid"].as_i64().unwrap_or(0);
        assert!(pid > 0, "--runtime {rt}: no pid");
        let meta = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).unwrap();
        assert_ne!(
            meta(&format!("/proc/{pid}/root/")),
            meta("/"),
            "--runtime {rt}: pid {pid}'s root is the host's"
        );
        let probe = format!("ctools-rt-cp-{}", std::process::id());
        let host_probe = Path::new("/").join(&probe);
        let src = env.state().join("cp-src");
        std::fs::write(&src, "copied\n").unwrap();
        let r = env.run(&["cp", src.to_str().unwrap(), &format!("{id}:/tmp/{probe}")]);
        let on_host = Path::new("/tmp").join(&probe).exists() || host_probe.exists();
        let _ = std::fs::remove_file(Path::new("/tmp").join(&probe));
        assert!(!on_host, "--runtime {rt}: cp wrote the host's file");
        assert!(r.status.success(), "--runtime {rt}: {}", stderr(&r));
        let o = env.ok(&["exec", id, "/bin/cat", &format!("/tmp/{probe}")]);
        assert_eq!(o, "copied\n", "--runtime {rt}");
        let tar = env.state().join("export.tar");
        env.ok(&["export", "-o", tar.to_str().unwrap(), id]);
        let list = std::process::Command::new("tar")
            .arg("-tf")
            .arg(&tar)
            .output()
            .unwrap();
        let list = String::from_utf8_lossy(&list.stdout).to_string();
        assert!(
            list.lines().any(|l| l.ends_with(&format!("tmp/{probe}"))),
            "--runtime {rt}: the export lacks the container's file"
        );
        assert!(
            list.lines().count() < 2000,
            "--runtime {rt}: the export holds {} entries (the host's?)",
            list.lines().count()
        );
        std::fs::remove_file(&tar).unwrap();
        // stop: TERM through the runtime, the program's own exit status
        env.ok(&["stop", id]);
        let v = env.inspect(id);
        assert_eq!(v["State"]["ExitCode"], 7, "--runtime {rt}: {v}");
        env.ok(&["rm", id]);
        // the runtime's state, the groups and the mounts are gone
        let rtroot = env.state().join("runtime");
        let left: Vec<_> = std::fs::read_dir(&rtroot)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            // (but the seccomp filters kept per capability set)
            .filter(|p| !p.ends_with("seccomp"))
            .collect();
        assert!(left.is_empty(), "--runtime {rt} left its state: {left:?}");
        assert_eq!(
            groups_left(&env.cgparent),
            Vec::<String>::new(),
            "--runtime {rt}"
        );
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(&env.state().display().to_string()),
            "--runtime {rt}"
        );
    }
    remove_other_parents(&env.cgparent);
}

#[test]
fn an_unknown_runtime_is_refused_and_leaves_nothing() {
    if !cttest::require_root(
        "e2e::contain_runtime::an_unknown_runtime_is_refused_and_leaves_nothing",
    ) {
        return;
    }
    let env = Env::new("rtbad");
    env.build_test_image("rt");
    let o = env.run(&[
        "run",
        "--rm",
        "--runtime",
        "no-such-runtime",
        "--network",
        "none",
        "rt",
        "/bin/true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        stderr(&o),
        "contain: unknown or invalid runtime name: no-such-runtime\n"
    );
    assert_eq!(stdout(&env.run(&["ps", "-aq"])), "");
}

#[test]
fn init_chroot_and_tty_go_through_the_runtime_as_through_the_own_chain() {
    if !cttest::require_root(
        "e2e::contain_runtime::init_chroot_and_tty_go_through_the_runtime_as_through_the_own_chain",
    ) {
        return;
    }
    let env = Env::new("rtict");
    env.build_test_image("rt");
    let with = |rt: Option<&str>, flags: &[&str], cmd: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend(["--runtime", rt.unwrap_or("contain")]);
        a.extend(flags);
        a.push("rt");
        a.extend(cmd);
        env.run(&a)
    };
    // --init: a reaping init is pid 1 (its command line `init`), the program is not, and its
    // exit status is the container's; an orphan the program leaves is reaped.
    let init_probe = [
        "/bin/sh",
        "-c",
        "/bin/sh -c '/bin/sleep 0 & exit 0'; /bin/sleep 0.3; \
         z=0; for s in /proc/[0-9]*/stat; do read -r p c st r <$s; [ \"$st\" = Z ] && z=$((z+1)); done; \
         echo pid1=$(cat /proc/1/cmdline) me1=$([ $$ = 1 ] && echo yes || echo no) zombies=$z; exit 4",
    ];
    let own = with(None, &["--init"], &init_probe);
    assert_eq!(own.status.code(), Some(4), "{}", stderr(&own));
    assert_eq!(stdout(&own), "pid1=init me1=no zombies=0\n");
    // --chroot: the classic chroot escape is refused (a root change without pivot_root)
    let dir = cttest::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "host-token\n").unwrap();
    let secret = secret.display().to_string();
    let chroot_probe = [
        "/probe",
        "attack",
        "chroot",
        &secret,
        "host-token",
        "+",
        "mount",
        "+",
        "sysrq",
    ];
    let own_chroot = with(None, &["--chroot"], &chroot_probe);
    let own_chroot = stdout(&own_chroot);
    assert_eq!(own_chroot.lines().count(), 3, "{own_chroot}");
    assert!(
        own_chroot.lines().all(|l| l.starts_with("REFUSED")),
        "{own_chroot}"
    );
    let verdicts = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect()
    };
    // -t: the program has a terminal (a pty of the container's devpts), as in the own chain
    let tty_line = |rt: &str| {
        format!(
            "contain run --rm -it {rt} --network none rt /bin/sh -c \
             'test -t 0 && test -t 1 && echo tty-ok; ls -l /proc/self/fd/0; exit 5'"
        )
    };
    let (code, own_tty) = in_a_terminal(&env, &tty_line(""));
    assert_eq!(code, Some(5), "{own_tty:?}");
    assert!(own_tty.contains("tty-ok\n"), "{own_tty:?}");
    assert!(own_tty.contains("-> /dev/pts/0\n"), "{own_tty:?}");
    for rt in runtimes() {
        let o = with(Some(rt), &["--init"], &init_probe);
        assert_eq!(
            o.status.code(),
            Some(4),
            "--runtime {rt} --init: {}",
            stderr(&o)
        );
        assert_eq!(stdout(&o), stdout(&own), "--runtime {rt} --init");
        let cfg_dir = env.state().join("runtime");
        assert!(
            cfg_dir.join("init").is_file(),
            "--runtime {rt}: the init's copy"
        );
        let o = with(Some(rt), &["--chroot"], &chroot_probe);
        assert_eq!(
            verdicts(&stdout(&o)),
            verdicts(&own_chroot),
            "--runtime {rt} --chroot: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(!Path::new(&format!("{secret}.chroot-escaped")).exists());
        let o = with(Some(rt), &["--chroot"], &["/bin/ls", "/"]);
        assert!(
            stdout(&o).lines().any(|l| l == "probe"),
            "--runtime {rt}: {o:?}"
        );
        let (code, out) = in_a_terminal(&env, &tty_line(&format!("--runtime {rt}")));
        assert_eq!(code, Some(5), "--runtime {rt} -t: {out:?}");
        assert!(out.contains("tty-ok\n"), "--runtime {rt} -t: {out:?}");
        assert!(
            out.contains("-> /dev/pts/0\n"),
            "--runtime {rt} -t: {out:?}"
        );
    }
    // --init in a detached container: stop's TERM reaches the program through the init
    for rt in runtimes() {
        let id = env.ok(&[
            "run",
            "-d",
            "--init",
            "--runtime",
            rt,
            "--network",
            "none",
            "rt",
            "/bin/sh",
            "-c",
            "trap 'exit 7' TERM; while :; do /bin/sleep 0.1; done",
        ]);
        let id = id.trim();
        env.wait_for(id, "running");
        env.ok(&["stop", id]);
        let v = env.inspect(id);
        assert_eq!(v["State"]["ExitCode"], 7, "--runtime {rt} --init: {v}");
        env.ok(&["rm", id]);
    }
    // -d -t on runc-rs: the program's terminal output reaches the log
    let id = env.ok(&[
        "run",
        "-d",
        "-t",
        "--runtime",
        "runc-rs",
        "--network",
        "none",
        "rt",
        "/bin/sh",
        "-c",
        "test -t 1 && echo detached-tty",
    ]);
    let id = id.trim();
    env.wait_for(id, "exited");
    assert_eq!(
        stdout(&env.run(&["logs", id])).replace('\r', ""),
        "detached-tty\n"
    );
    env.ok(&["rm", id]);
    remove_other_parents(&env.cgparent);
}

/// The credentials an exec'd shell has, from its own /proc/self/status, and its HOME.
const IDS: &str = "while read -r k a b; do case $k in Uid:|Gid:) echo $k $a;; Groups:) echo $k $a $b;; esac; done </proc/self/status; echo HOME=$HOME";

/// What a container sees of its root as the own chain shows it, through runc-rs and runc:
/// exec -u looks the user up in the running container's own files (a user it added is found,
/// a passwd file it turned into a link to a host path resolves inside its root), run -u in
/// its layer over the image's (links resolved inside it too); a volume whose destination
/// the layer turned into a link is refused before any runtime runs; /sys/fs/cgroup holds the
/// container's own groups, read-only.
#[test]
fn runtime_containers_see_their_own_root_as_the_own_chain() {
    if !cttest::require_root(
        "e2e::contain_runtime::runtime_containers_see_their_own_root_as_the_own_chain",
    ) {
        return;
    }
    let env = Env::new("rtroot");
    env.build_test_image("rt");
    let dir = cttest::tempdir().unwrap();
    // a file of the host's that a link could point at: a copy made for the test
    let decoy = dir.path().join("group");
    std::fs::write(&decoy, "decoy:x:999:app\n").unwrap();
    let mut modes: Vec<Option<&str>> = vec![None];
    modes.extend(runtimes().into_iter().map(Some));
    let mut seen = vec![];
    for rt in modes {
        let name = rt.unwrap_or("own chain");
        fn with<'a>(rt: Option<&'a str>, a: &[&'a str]) -> Vec<&'a str> {
            let mut v: Vec<&str> = vec![a[0]];
            v.extend(["--runtime", rt.unwrap_or("contain")]);
            v.extend(&a[1..]);
            v
        }
        // exec -u: the running container's own passwd and group files
        let id = env.ok(&with(
            rt,
            &["run", "-d", "--network", "none", "rt", "/bin/sleep", "1000"],
        ));
        let id = id.trim();
        env.wait_for(id, "running");
        env.ok(&[
            "exec",
            id,
            "/bin/sh",
            "-c",
            "echo app:x:4242:4243:app:/home/app:/bin/sh >>/etc/passwd; echo extra:x:777:app,other >>/etc/group",
        ]);
        let o = env.ok(&["exec", "-u", "app", id, "/bin/sh", "-c", IDS]);
        assert_eq!(
            o, "Uid: 4242\nGid: 4243\nGroups: 777\nHOME=/home/app\n",
            "{name}: exec -u app"
        );
        let o = env.ok(&["exec", "-u", "app:5", id, "/bin/sh", "-c", IDS]);
        assert_eq!(
            o, "Uid: 4242\nGid: 5\nGroups:\nHOME=/home/app\n",
            "{name}: exec -u app:5"
        );
        let out = env.run(&["exec", "-u", "nosuch", id, "/bin/true"]);
        assert_eq!(out.status.code(), Some(125), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("unable to find user nosuch"),
            "{name}: {}",
            stderr(&out)
        );
        // the container turns its passwd into a link to the host's /etc/shadow: it resolves
        // in its own root (no shadow there), never on the host
        let o = env.ok(&["exec", id, "/probe", "attack", "passwd", "/etc/shadow"]);
        assert!(o.contains("planted"), "{name}: {o}");
        let out = env.run(&["exec", "-u", "root", id, "/bin/true"]);
        assert_eq!(out.status.code(), Some(125), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("unable to find user root"),
            "{name}: {}",
            stderr(&out)
        );
        let o = env.ok(&["exec", "-u", "1234:5", id, "/bin/sh", "-c", IDS]);
        assert!(o.starts_with("Uid: 1234\nGid: 5\n"), "{name}: {o}");
        env.ok(&["rm", "-f", id]);

        // run -u: the container's layer over the image's (here one that changed nobody's
        // entry, as a container's earlier run could), its links resolved inside it
        let id = env.ok(&with(
            rt,
            &[
                "create",
                "--network",
                "none",
                "-u",
                "nobody",
                "rt",
                "/bin/sh",
                "-c",
                IDS,
            ],
        ));
        let id = id.trim();
        let etc = env.state().join("containers").join(id).join("upper/etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:4242:4243:app:/home/app:/bin/sh\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(&decoy, etc.join("group")).unwrap();
        let out = env.run(&["start", "-a", id]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let o = stdout(&out);
        // (the own chain's chroot-rs --userspec looks the name up with coreutils chroot's
        // rules, outside the root first: the gid and groups of the image's entry stay; a
        // runtime is given Docker's, from the container's files alone)
        let want = if rt.is_some() {
            "Uid: 4242\nGid: 4243\nGroups:\n"
        } else {
            "Uid: 4242\n"
        };
        assert!(
            o.starts_with(want),
            "{name}: run -u nobody (the decoy group file is the host's): {o}"
        );
        assert!(!o.contains("999"), "{name}: the host's decoy group: {o}");
        env.ok(&["rm", id]);

        // a volume destination through a link of the layer's, or that is one: refused, the
        // host's directory untouched
        for (k, dst) in ["/data/sub", "/data"].iter().enumerate() {
            let src = dir.path().join(format!("src-{name}-{k}"));
            let victim = dir.path().join(format!("victim-{name}-{k}"));
            std::fs::create_dir(&src).unwrap();
            std::fs::create_dir(&victim).unwrap();
            let vol = format!("{}:{dst}", src.display());
            let id = env.ok(&with(rt, &["create", "-v", &vol, "rt", "/bin/ls", dst]));
            let id = id.trim();
            std::os::unix::fs::symlink(
                &victim,
                env.state().join("containers").join(id).join("upper/data"),
            )
            .unwrap();
            let out = env.run(&["start", "-a", id]);
            assert_eq!(
                out.status.code(),
                Some(125),
                "{name} {dst}: {}",
                stdout(&out)
            );
            assert_eq!(env.inspect(id)["State"]["ExitCode"], 125, "{name} {dst}");
            assert!(
                stderr(&out).contains("symbolic link"),
                "{name}: {}",
                stderr(&out)
            );
            assert!(
                std::fs::read_dir(&victim).unwrap().next().is_none(),
                "{name}: nothing made on the host"
            );
            env.ok(&["rm", "-f", id]);
        }

        // /sys/fs/cgroup: the container's own groups, read-only
        let o = env.ok(&with(
            rt,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-m",
                "64m",
                "rt",
                "/bin/sh",
                "-c",
                CGROUP_VIEW,
            ],
        ));
        seen.push((name, o));
    }
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        for (name, o) in &seen {
            assert!(o.contains("limit 67108864\n"), "{name}: {o}");
            for bad in ["child ", "release_agent ", "wrote-", "made-cgroup"] {
                assert!(!o.contains(bad), "{name}: {bad}: {o}");
            }
            let top = o.lines().find_map(|l| l.strip_prefix("top ")).unwrap();
            for want in ["memory", "pids", "blkio", "cpuset", "freezer"] {
                assert!(top.split(' ').any(|t| t == want), "{name}: {want}: {o}");
            }
            // runc 1.1.5 shows name=systemd (its own group there: it joins one) and leaves
            // the tmpfs beneath writable; the own chain and runc-rs neither
            if *name != "runc" {
                assert!(
                    !top.contains("systemd") && !top.contains("unified"),
                    "{name}: {o}"
                );
                assert!(!o.contains("made-top"), "{name}: {o}");
            }
        }
    }
    remove_other_parents(&env.cgparent);
}

/// What /sys/fs/cgroup shows and lets through (cgroup v1).
const CGROUP_VIEW: &str = r#"
    echo "limit $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
    echo "top" $(ls /sys/fs/cgroup)
    for d in /sys/fs/cgroup/*/*/; do [ -d "$d" ] && echo "child $d"; done
    for h in /sys/fs/cgroup/*; do [ -e "$h/release_agent" ] && echo "release_agent $h"; done
    echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null && echo wrote-limit
    echo 0 > /sys/fs/cgroup/memory/cgroup.procs 2>/dev/null && echo wrote-procs
    mkdir /sys/fs/cgroup/memory/x 2>/dev/null && echo made-cgroup
    mkdir /sys/fs/cgroup/x 2>/dev/null && echo made-top
    echo end
"#;

/// --tmpfs, --shm-size and --ulimit reach a runtime's container as they reach the own
/// chain's: the same mounts (type, options) and the same limits.
#[test]
fn tmpfs_shm_size_and_ulimit_as_the_own_chain() {
    if !cttest::require_root("e2e::contain_runtime::tmpfs_shm_size_and_ulimit_as_the_own_chain") {
        return;
    }
    let env = Env::new("rttmp");
    env.build_test_image("rt");
    let probe = "while read -r dev dst typ opts rest; do case $dst in /run|/scratch|/dev/shm) echo $dst $typ $opts;; esac; done </proc/self/mounts; \
        echo nofile $(ulimit -Sn) $(ulimit -Hn); echo core $(ulimit -Sc) $(ulimit -Hc); \
        echo x >/run/f && echo wrote";
    let run = |rt: Option<&str>| {
        let mut a = vec!["run", "--rm", "--network", "none", "--read-only"];
        a.extend(["--runtime", rt.unwrap_or("contain")]);
        a.extend([
            "--tmpfs",
            "/run:size=1m",
            "--mount",
            "type=tmpfs,target=/scratch,tmpfs-size=2097152,tmpfs-mode=1770",
            "--shm-size",
            "8m",
            "--ulimit",
            "nofile=1024:2048",
            "--ulimit",
            "core=-1",
            "rt",
            "/bin/sh",
            "-c",
            probe,
        ]);
        env.ok(&a)
    };
    // the mount each destination shows last (the own chain stacks --shm-size's tmpfs on the
    // default /dev/shm; a runtime mounts it once)
    let last = |out: String| -> String {
        let mut seen: Vec<(String, String)> = vec![];
        for l in out.lines() {
            let k = l.split(' ').next().unwrap_or("").to_string();
            seen.retain(|(d, _)| *d != k);
            seen.push((k, l.to_string()));
        }
        let mut v: Vec<String> = seen.into_iter().map(|(_, l)| l + "\n").collect();
        v.sort();
        v.concat()
    };
    let own = last(run(None));
    for want in [
        "/run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k",
        "/dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=8192k",
        "/scratch tmpfs ",
        "mode=1770",
        "nofile 1024 2048",
        "core unlimited unlimited",
        "wrote",
    ] {
        assert!(own.contains(want), "own chain lacks {want:?}:\n{own}");
    }
    for rt in runtimes() {
        assert_eq!(last(run(Some(rt))), own, "--runtime {rt} and the own chain");
    }
    // (runc's groups in name=systemd and the unified hierarchy: every run left one)
    remove_other_parents(&env.cgparent);
}

/// On cgroup v2 alone (the VM of `cttest::vm`; this host is v1): a runtime's container has
/// what the own chain's has (vm_contain_v2): its limits in its own v2 group, /sys/fs/cgroup
/// the root of a cgroup namespace of its own (cgroup2, read-only, nothing of the host's),
/// exec and pause through it, nothing left once it is removed or refused by the kernel.  The
/// VM's root is the initramfs, which pivot_root refuses: contain hands the runtime
/// `--no-pivot` there (the own chain's chroot-rs falls back by itself).
#[test]
fn runtime_containers_on_cgroup_v2() {
    if !cttest::vm::require("e2e::contain_runtime::runtime_containers_on_cgroup_v2") {
        return;
    }
    let env = Env::new("rtvm");
    env.build_test_image("img");
    let tmp = cttest::tempdir().expect("tempdir");
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ctcore/data/seccomp-default.json");
    let r = contain_util::contain_vm(env.state(), tmp.path())
        .tools(&["runc-rs"])
        // runc-rs's debug build (70 MB, twice in the initramfs) beside the chain's four
        .memory_mb(2048)
        .file(&profile, "/usr/share/ctools/seccomp-default.json")
        .script(V2_SCRIPT)
        .run(std::time::Duration::from_secs(240));
    eprintln!("{}", r.report());
    r.assert_passed(V2_CHECKS);
}

const V2_SCRIPT: &str = r#"
export CONTAIN_ROOT=/tmp/contain CONTAIN_RUNTIME=runc-rs
G=/sys/fs/cgroup/contain
mkdir -p $CONTAIN_ROOT && tar -xf /vm/store.tar -C $CONTAIN_ROOT
out=$(contain run --rm --hostname box img /bin/sh -c 'hostname; cat /proc/self/cgroup; ls /' 2>&1)
vm_info rm_out "$out"
vm_expect rm_hostname box "$(echo "$out" | sed -n 1p)"
vm_expect rm_own_group "0::/" "$(echo "$out" | sed -n 2p)"
vm_expect rm_nothing_left "||" "$(ls $CONTAIN_ROOT/containers)|$(ls $CONTAIN_ROOT/names)|$(find $G -mindepth 1 -type d)"
cid=$(contain run -d --name web -m 64m --cpus 0.5 -c 512 --pids-limit 20 img /bin/sleep 600 2>&1)
vm_info cid "$cid"
i=0
while [ $i -lt 100 ] && ! grep -q . $G/$cid/cgroup.procs 2>/dev/null; do usleep 50000; i=$((i + 1)); done
vm_expect limits "67108864|50000 100000|20|50" \
    "$(cat $G/$cid/memory.max)|$(cat $G/$cid/cpu.max)|$(cat $G/$cid/pids.max)|$(cat $G/$cid/cpu.weight)"
vm_expect member "yes" "$(grep -q . $G/$cid/cgroup.procs && echo yes || echo no)"
vm_expect exec_group "0::/" "$(contain exec web /bin/cat /proc/self/cgroup 2>&1)"
vm_expect inside_limit "67108864|20" \
    "$(contain exec web /bin/cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max 2>&1 | tr '\n' '|' | sed 's/|$//')"
vm_expect inside_nothing_else "/sys/fs/cgroup/*/" "$(contain exec web /bin/sh -c 'echo /sys/fs/cgroup/*/' 2>&1)"
vm_expect inside_read_only "refused|refused" \
    "$(contain exec web /bin/sh -c 'echo 1 > /sys/fs/cgroup/memory.max' >/dev/null 2>&1 && echo wrote || echo refused)|$(contain exec web /bin/mkdir /sys/fs/cgroup/x >/dev/null 2>&1 && echo made || echo refused)"
vm_expect inside_procs_own "yes" "$(contain exec web /bin/cat /sys/fs/cgroup/cgroup.procs 2>/dev/null | grep -qx 1 && echo yes || echo no)"
vm_expect inside_mount "cgroup2 ro" "$(contain exec web /bin/cat /proc/self/mounts 2>&1 | awk '$2 == "/sys/fs/cgroup" { print $3, substr($4, 1, 2) }')"
vm_check pause contain pause web
vm_expect frozen "1" "$(cat $G/$cid/cgroup.freeze)"
vm_check unpause contain unpause web
vm_expect thawed "0|running" "$(cat $G/$cid/cgroup.freeze)|$(contain inspect web | grep -o '"Status":"[a-z]*"' | cut -d'"' -f4)"
vm_check stop contain stop -t 1 web
vm_check rm contain rm web
vm_expect removed "||" "$(ls $CONTAIN_ROOT/containers)|$(find $G -mindepth 1 -type d)|$(ls $CONTAIN_ROOT/runtime | grep -v seccomp)"
# A bad limit: the kernel's refusal, and no state nor group left.
out=$(contain run --rm --cpuset-cpus 7 img /bin/true 2>&1); rc=$?
vm_info bad_limit_out "$out"
vm_expect bad_limit_status 125 "$rc"
vm_expect bad_limit_nothing_left "|||" "$(ls $CONTAIN_ROOT/containers)|$(ls $CONTAIN_ROOT/names)|$(find $G -mindepth 1 -type d)|$(ls $CONTAIN_ROOT/runtime | grep -v seccomp)"
# A user's runtime container (rootless, as rootless podman's): its own store, the runtime in a
# user namespace of its own (root inside is the user), no group of its own (no limits asked).
U=/tmp/user
mkdir -p $U/contain && tar -xf /vm/store.tar -C $U/contain && chown -R 65534:65534 $U
out=$(/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=$U CONTAIN_ROOT=$U/contain \
    contain run --rm --runtime runc-rs --hostname ubox img /bin/sh -c 'hostname; while read -r k v r; do [ $k = Uid: ] && echo $v; done </proc/self/status; cat /proc/self/uid_map' 2>&1)
vm_info user_out "$out"
vm_expect user_hostname ubox "$(echo "$out" | sed -n 1p)"
vm_expect user_root_inside 0 "$(echo "$out" | sed -n 2p)"
vm_expect user_mapped_to_nobody "0 65534 1" "$(echo "$out" | sed -n 3p | tr -s ' ' | sed 's/^ //')"
vm_expect user_nothing_left "||" "$(ls $U/contain/containers)|$(ls $U/contain/names)|$(find $G -mindepth 1 -type d)"
exit 0
"#;

const V2_CHECKS: &[&str] = &[
    "rm_hostname",
    "rm_own_group",
    "rm_nothing_left",
    "limits",
    "member",
    "exec_group",
    "inside_limit",
    "inside_nothing_else",
    "inside_read_only",
    "inside_procs_own",
    "inside_mount",
    "pause",
    "frozen",
    "unpause",
    "thawed",
    "stop",
    "rm",
    "removed",
    "bad_limit_status",
    "bad_limit_nothing_left",
    "user_hostname",
    "user_root_inside",
    "user_mapped_to_nobody",
    "user_nothing_left",
];
