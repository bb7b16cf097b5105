//! `contain`'s Docker command line, for real: inspect in Docker's shape, the --format
//! template engine (Docker's documented examples), the listings, and the commands.

mod contain_util;

use contain_util::{Env, stderr, stdout};
use serde_json::json;
use std::time::Duration;

/// Nothing of the test's containers is left: no state directory, no name, no cgroup.
fn assert_clean(env: &Env) {
    for id in env.ok(&["ps", "-aq"]).split_whitespace() {
        env.ok(&["rm", "-f", id]);
    }
    let left: Vec<_> = std::fs::read_dir(env.state().join("containers"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "containers left: {left:?}");
    let names: Vec<_> = std::fs::read_dir(env.state().join("names"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(names.is_empty(), "names left: {names:?}");
    for d in env.cgroup_dirs() {
        let sub: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name())
            .collect();
        assert!(sub.is_empty(), "cgroups left in {}: {sub:?}", d.display());
    }
}

#[test]
fn inspect_fields_follow_the_flags_that_set_them() {
    if !cttest::require_root("e2e::contain_cli::inspect_fields_follow_the_flags_that_set_them") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-inspect");
    env.build_test_image("img");
    let vol = env.state().join("vsrc");
    let bind = format!("{}:/data:ro", vol.display());
    let id = env
        .ok(&[
            "create",
            "--name",
            "full",
            "-m",
            "64m",
            "--memory-swap",
            "128m",
            "--cpus",
            "1.5",
            "-c",
            "512",
            "--cpuset-cpus",
            "0",
            "--pids-limit",
            "50",
            "-v",
            &bind,
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "chown",
            "--read-only",
            "--init",
            "--security-opt",
            "no-new-privileges",
            "-e",
            "FOO=bar",
            "-w",
            "/data",
            "-h",
            "box",
            "img",
            "/bin/sh",
            "-c",
            "exit 3",
        ])
        .trim()
        .to_string();
    let v = env.inspect("full");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Name"], "/full");
    assert_eq!(v["Path"], "/bin/sh");
    assert_eq!(v["Args"], json!(["-c", "exit 3"]));
    let st = &v["State"];
    assert_eq!(st["Status"], "created");
    for k in ["Running", "Paused", "Restarting", "OOMKilled", "Dead"] {
        assert_eq!(st[k], false, "State.{k}: {st}");
    }
    assert_eq!(st["Pid"], 0);
    assert_eq!(st["ExitCode"], 0);
    assert_eq!(st["Error"], "");
    assert_eq!(st["StartedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(st["FinishedAt"], "0001-01-01T00:00:00Z");
    let hc = &v["HostConfig"];
    assert_eq!(hc["Memory"], 64 << 20);
    assert_eq!(hc["MemorySwap"], 128 << 20);
    assert_eq!(hc["NanoCpus"], 1_500_000_000u64);
    assert_eq!(hc["CpuShares"], 512);
    assert_eq!(hc["CpuPeriod"], 0);
    assert_eq!(hc["CpuQuota"], 0);
    assert_eq!(hc["CpusetCpus"], "0");
    assert_eq!(hc["PidsLimit"], 50);
    for k in [
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
        "Devices",
    ] {
        assert_eq!(hc[k], json!([]), "HostConfig.{k}");
    }
    assert_eq!(hc["Binds"], json!([bind]));
    assert_eq!(hc["CapAdd"], json!(["net_admin"]));
    assert_eq!(hc["CapDrop"], json!(["chown"]));
    assert_eq!(hc["Privileged"], false);
    assert_eq!(hc["ReadonlyRootfs"], true);
    assert_eq!(hc["Init"], true);
    // the runtime that runs it: the default runtime's name (runc-rs unless CONTAIN_RUNTIME
    // names another; `contain` for the own chain)
    let rt = std::env::var("CONTAIN_RUNTIME")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "runc-rs".into());
    assert_eq!(hc["Runtime"], rt.as_str());
    assert_eq!(hc["SecurityOpt"], json!(["no-new-privileges"]));
    assert_eq!(hc["RestartPolicy"]["Name"], "no");
    let cfg = &v["Config"];
    assert_eq!(cfg["Image"], "img");
    assert_eq!(cfg["Cmd"], json!(["/bin/sh", "-c", "exit 3"]));
    assert_eq!(cfg["Entrypoint"], serde_json::Value::Null);
    assert_eq!(cfg["WorkingDir"], "/data");
    assert_eq!(cfg["Hostname"], "box");
    assert_eq!(cfg["User"], "");
    assert!(cfg["Env"].as_array().unwrap().contains(&json!("FOO=bar")));
    assert_eq!(cfg["Labels"], json!({}));
    let m = &v["Mounts"][0];
    assert_eq!(m["Type"], "bind");
    assert_eq!(m["Source"], vol.to_str().unwrap());
    assert_eq!(m["Destination"], "/data");
    assert_eq!(m["RW"], false);
    assert_eq!(v["GraphDriver"]["Name"], "overlay");
    assert!(
        v["GraphDriver"]["Data"]["UpperDir"]
            .as_str()
            .unwrap()
            .ends_with("/upper")
    );
    assert!(v["NetworkSettings"].is_object());
    // once run: the exit code, and both times
    env.ok(&["start", "full"]);
    let v = env.wait_for("full", "exited");
    assert_eq!(v["State"]["ExitCode"], 3, "{}", env.ok(&["logs", "full"]));
    assert_ne!(v["State"]["StartedAt"], "0001-01-01T00:00:00Z");
    assert_ne!(v["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    // the Go templates of docker's documentation
    let f = |t: &str| env.ok(&["inspect", "-f", t, "full"]);
    assert_eq!(f("{{.State.Pid}}"), "0\n");
    assert_eq!(f("{{.State.ExitCode}} {{.State.Status}}"), "3 exited\n");
    assert_eq!(f("{{.Config.Image}}"), "img\n");
    assert_eq!(f("{{.HostConfig.Memory}}"), "67108864\n");
    assert_eq!(
        f("{{range .Mounts}}{{.Source}}{{end}}"),
        format!("{}\n", vol.display())
    );
    let cfg: serde_json::Value = serde_json::from_str(&f("{{json .Config}}")).unwrap();
    assert_eq!(cfg["Hostname"], "box");
    assert_eq!(f("{{join .Args \" , \"}}"), "-c , exit 3\n");
    assert_eq!(f("{{lower .Name}}"), "/full\n");
    assert_eq!(f("{{upper .Name}}"), "/FULL\n");
    assert_eq!(f("{{title .Config.Hostname}}"), "Box\n");
    assert_eq!(f("{{split .Path \"/\"}}"), "[ bin sh]\n");
    assert_eq!(f("{{len .Args}}"), "2\n");
    assert_eq!(f("{{index .Args 1}}"), "exit 3\n");
    assert_eq!(f("{{if .State.Running}}up{{else}}down{{end}}"), "down\n");
    assert_eq!(
        f("{{if eq .State.ExitCode 0}}ok{{else if eq .State.ExitCode 3}}three{{end}}"),
        "three\n"
    );
    assert_eq!(f("{{json .HostConfig.CapAdd}}"), "[\"net_admin\"]\n");
    assert_eq!(f("{{.Config.Cmd}}"), "[/bin/sh -c exit 3]\n");
    assert_eq!(f("{{.Nope}}"), "<no value>\n");
    assert_eq!(
        f("{{range $i, $a := .Args}}{{$i}}={{$a}};{{end}}"),
        "0=-c;1=exit 3;\n"
    );
    assert_eq!(f("{{with .HostConfig}}{{.PidsLimit}}{{end}}"), "50\n");
    assert_eq!(f("{{printf \"%s:%d\" .Name .State.ExitCode}}"), "/full:3\n");
    assert_eq!(f("{{.Name | upper}}"), "/FULL\n");
    // a network of its own: docker's example reads the address through index
    env.ok(&[
        "create",
        "--name",
        "n1",
        "--cpu-period",
        "100000",
        "--cpu-quota",
        "50000",
        "--memory-reservation",
        "6.5m",
        "img",
        "/bin/true",
    ]);
    let hc = &env.inspect("n1")["HostConfig"];
    assert_eq!(hc["CpuPeriod"], 100000);
    // --runtime is the container's runtime (Docker's HostConfig.Runtime)
    env.ok(&[
        "create",
        "--name",
        "rt1",
        "--runtime",
        "runc-rs",
        "img",
        "/bin/true",
    ]);
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.HostConfig.Runtime}}", "rt1"]),
        "runc-rs\n"
    );
    env.ok(&["rm", "rt1"]);
    assert_eq!(hc["CpuQuota"], 50000);
    assert_eq!(hc["MemoryReservation"], 6815744);
    assert_eq!(hc["NanoCpus"], 0);
    assert_eq!(hc["PidsLimit"], serde_json::Value::Null);
    let ip = env.ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}|{{(index .NetworkSettings.Networks \"bridge\").IPAddress}}",
        "n1",
    ]);
    assert!(ip.ends_with("|\n") || ip.contains('|'), "{ip}");
    // two objects: a line each
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.Name}}", "full", "n1"]),
        "/full\n/n1\n"
    );
    // errors: a missing object is status 1 after the others, a bad template 125 or 1
    let o = env.run(&["inspect", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o).trim(), "[]");
    assert!(
        stderr(&o).contains("No such object: nope"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["inspect", "full", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let o = env.run(&["inspect", "--type", "image", "full"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("No such image: full"));
    let o = env.run(&["inspect", "-f", "{{.Name", "full"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("template"), "{}", stderr(&o));
    let o = env.run(&["inspect", "-f", "{{nosuchfunc .Name}}", "full"]);
    assert!(stderr(&o).contains("function \"nosuchfunc\" not defined"));
    // an image: valid JSON too, with its tags
    let im = env.ok(&["inspect", "-f", "{{json .RepoTags}}", "img"]);
    assert_eq!(im, "[\"img:latest\"]\n");
    assert_clean(&env);
}

#[test]
fn ps_filters_formats_and_columns() {
    if !cttest::require_root("e2e::contain_cli::ps_filters_formats_and_columns") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-ps");
    env.build_test_image("img");
    let up = env
        .ok(&["run", "-d", "--name", "up1", "img", "/bin/sleep", "1000"])
        .trim()
        .to_string();
    env.wait_for("up1", "running");
    env.ok(&["run", "--name", "ex0", "img", "/bin/true"]);
    let o = env.run(&["run", "--name", "ex3", "img", "/bin/sh", "-c", "exit 3"]);
    assert_eq!(o.status.code(), Some(3));
    env.ok(&["create", "--name", "new1", "img", "/bin/echo", "ünïcödé…x"]);
    let ids = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        let mut v: Vec<String> = env.ok(&a).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&[]), ["up1"]);
    assert_eq!(ids(&["-a"]), ["ex0", "ex3", "new1", "up1"]);
    assert_eq!(ids(&["-f", "status=exited"]), ["ex0", "ex3"]);
    assert_eq!(ids(&["--filter", "status=created"]), ["new1"]);
    assert_eq!(
        ids(&["-f", "status=created", "-f", "status=running"]),
        ["new1", "up1"]
    );
    assert_eq!(ids(&["-a", "-f", "exited=3"]), ["ex3"]);
    assert_eq!(ids(&["-a", "-f", "name=ex"]), ["ex0", "ex3"]);
    assert_eq!(ids(&["-a", "-f", "name=ex", "-f", "exited=0"]), ["ex0"]);
    assert_eq!(ids(&["-a", "-f", &format!("id={}", &up[..6])]), ["up1"]);
    assert_eq!(ids(&["-a", "-f", "ancestor=img"]).len(), 4);
    assert_eq!(ids(&["-a", "-f", "ancestor=img:latest"]).len(), 4);
    assert!(ids(&["-a", "-f", "ancestor=other"]).is_empty());
    assert_eq!(ids(&["-l"]), ["new1"]);
    assert_eq!(ids(&["-f", "before=ex3"]), ["ex0", "up1"]);
    assert_eq!(ids(&["-f", "since=ex0"]), ["ex3", "new1"]);
    assert_eq!(ids(&["-n", "2"]), ["ex3", "new1"]);
    let o = env.run(&["ps", "-f", "colour=red"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("invalid filter 'colour'"));
    // -q with filters, and --no-trunc
    assert_eq!(env.ok(&["ps", "-q"]).trim(), &up[..12]);
    assert_eq!(env.ok(&["ps", "-q", "--no-trunc"]).trim(), up);
    // the table: the header, and every column starting at the same display column, with
    // the command cut to 20 columns and a … (a multibyte character)
    let t = env.ok(&["ps", "-a"]);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID   IMAGE"), "{t}");
    let col = |l: &str, k: usize| -> usize {
        // the display column of the start of the k-th field, fields being runs of non-spaces
        // separated by two spaces or more
        let cs: Vec<char> = l.chars().collect();
        let mut field = 0;
        let mut i = 0;
        while i < cs.len() {
            if i >= 2 && cs[i] != ' ' && cs[i - 1] == ' ' && cs[i - 2] == ' ' {
                field += 1;
                if field == k {
                    return i;
                }
            }
            i += 1;
        }
        usize::MAX
    };
    let names_col = lines[0].chars().count() - "NAMES".len();
    for l in &lines[1..] {
        let name_at = l.chars().count() - l.split_whitespace().last().unwrap().chars().count();
        assert_eq!(name_at, names_col, "the NAMES column in:\n{t}");
        assert_eq!(col(l, 1), col(lines[0], 1), "the IMAGE column in:\n{t}");
    }
    let row = lines.iter().find(|l| l.contains("new1")).unwrap();
    assert!(row.contains("\"/bin/echo ünïcödé…x\""), "{row}");
    env.ok(&[
        "create",
        "--name",
        "long1",
        "img",
        "/bin/echo",
        "a-rather-long-argument-list",
    ]);
    let t = env.ok(&["ps", "-a", "-f", "name=long1"]);
    assert!(t.contains("\"/bin/echo a-rather-…\""), "{t}");
    let t = env.ok(&["ps", "-a", "--no-trunc", "-f", "name=long1"]);
    assert!(
        t.contains("\"/bin/echo a-rather-long-argument-list\""),
        "{t}"
    );
    // table formats and json
    let t = env.ok(&["ps", "--format", "table {{.ID}}\\t{{.Names}}"]);
    assert_eq!(t, format!("CONTAINER ID   NAMES\n{}   up1\n", &up[..12]));
    let j: serde_json::Value =
        serde_json::from_str(env.ok(&["ps", "--format", "json"]).trim()).unwrap();
    assert_eq!(j["Names"], "up1");
    assert_eq!(j["State"], "running");
    let s = env.ok(&["ps", "-s", "--format", "{{.Size}}"]);
    assert!(s.contains("(virtual "), "{s}");
    env.ok(&["container", "ls", "-a"]);
    assert_clean(&env);
}

#[test]
fn images_history_and_stats_listings() {
    if !cttest::require_root("e2e::contain_cli::images_history_and_stats_listings") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-images");
    let id = env.build_test_image("img");
    env.ok(&["tag", "img", "other:v2"]);
    env.ok(&[
        "tag",
        "img",
        "a-very-long-repository-name-for-the-columns:tag",
    ]);
    let t = env.ok(&["images"]);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 4, "{t}");
    let tag_col = lines[0].find("TAG").unwrap();
    let id_col = lines[0].find("IMAGE ID").unwrap();
    for l in &lines[1..] {
        assert_eq!(&l[id_col..id_col + 12], &id[..12], "{t}");
        assert!(l[..tag_col].ends_with("   "), "{t}");
    }
    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "other"]),
        "other:v2\n"
    );
    assert_eq!(
        env.ok(&["images", "-f", "reference=oth*", "--format", "{{.Tag}}"]),
        "v2\n"
    );
    assert_eq!(env.ok(&["images", "-q"]).trim(), &id[..12]);
    assert!(
        env.ok(&["images", "-f", "dangling=true", "-q"])
            .trim()
            .is_empty()
    );
    assert_eq!(
        env.ok(&["image", "ls", "--format", "{{.ID}}", "img:latest"]),
        format!("{}\n", &id[..12])
    );
    let o = env.run(&["images", "-f", "bogus=1"]);
    assert_eq!(o.status.code(), Some(125));
    // history: docker's columns, the image's id on the newest row
    let h = env.ok(&["history", "img"]);
    assert!(h.starts_with("IMAGE"), "{h}");
    assert!(h.lines().nth(1).unwrap().starts_with(&id[..12]), "{h}");
    let by = env.ok(&["history", "--format", "{{.CreatedBy}}", "img"]);
    for l in by.lines() {
        assert!(l.chars().count() <= 45, "{l}");
    }
    // stats: one sample with --no-stream, with Docker's columns and the kernel's counters
    env.ok(&["run", "-d", "--name", "s1", "img", "/bin/sleep", "1000"]);
    env.wait_for("s1", "running");
    let s = env.ok(&["stats", "--no-stream"]);
    let head = s.lines().next().unwrap();
    for c in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(head.contains(c), "{s}");
    }
    assert!(s.lines().nth(1).unwrap().contains("s1"), "{s}");
    let f = env.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}} {{.NetIO}}",
        "s1",
    ]);
    assert!(f.starts_with("s1 1 "), "{f}");
    let pc = env.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.CPUPerc}} {{.MemPerc}}",
        "s1",
    ]);
    let pcs: Vec<&str> = pc.split_whitespace().collect();
    assert_eq!(pcs.len(), 2, "{pc}");
    for p in pcs {
        let n = p.strip_suffix('%').expect("a percentage");
        assert!(n.parse::<f64>().is_ok(), "{pc}");
    }
    assert!(f.contains(" / "), "{f}");
    env.ok(&["rm", "-f", "s1"]);
    assert_clean(&env);
}

/// An image with a shell and ln, to plant links.
fn build_ln_image(env: &Env, name: &str) {
    env.ok(&[
        "build",
        name,
        "/bin/sh",
        "/bin/ln",
        "/bin/cat",
        "/bin/sleep",
        "/bin/echo",
        "/bin/mkdir",
        "/bin/ls",
        "/bin/true",
    ]);
}

#[test]
fn cp_both_ways_never_through_a_planted_link() {
    if !cttest::require_root("e2e::contain_cli::cp_both_ways_never_through_a_planted_link") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-cp");
    build_ln_image(&env, "lnimg");
    let host = cttest::tempdir().unwrap();
    let h = host.path();
    // the victims: a host directory and a host file the container names by their paths
    let victim = h.join("victim");
    std::fs::create_dir(&victim).unwrap();
    let secret = h.join("secret");
    std::fs::write(&secret, "host secret\n").unwrap();
    let script = format!(
        "mkdir -p /data/dir && echo hello > /data/file && echo deep > /data/dir/y && \
         ln -s {v} /evil && ln -s ../../../../../../../..{v} /rel && ln -s {s} /leak && \
         ln -s {hp} /leakdir && echo ready > /ready && sleep 1000",
        v = victim.display(),
        s = secret.display(),
        hp = h.display()
    );
    env.ok(&[
        "run", "-d", "--name", "c1", "lnimg", "/bin/sh", "-c", &script,
    ]);
    env.wait_for("c1", "running");
    let t0 = std::time::Instant::now();
    while env
        .run(&["cp", "c1:/ready", &h.join("r").display().to_string()])
        .status
        .code()
        != Some(0)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the container never got ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let hs = |p: &str| h.join(p).display().to_string();
    // out of the container: a file, a directory by its name, a directory's contents
    env.ok(&["cp", "c1:/data/file", &hs("file")]);
    assert_eq!(std::fs::read_to_string(h.join("file")).unwrap(), "hello\n");
    std::fs::create_dir(h.join("into")).unwrap();
    env.ok(&["cp", "c1:/data", &hs("into")]);
    assert_eq!(
        std::fs::read_to_string(h.join("into/data/dir/y")).unwrap(),
        "deep\n"
    );
    env.ok(&["cp", "c1:/data/.", &hs("contents")]);
    assert_eq!(
        std::fs::read_to_string(h.join("contents/dir/y")).unwrap(),
        "deep\n"
    );
    // a tar stream on stdout
    let o = env.run(&["cp", "c1:/data/file", "-"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.len() >= 512 && String::from_utf8_lossy(&o.stdout).contains("hello"));
    // the container's links are its own: followed (-L) inside its root, never to the host
    let o = env.run(&["cp", "-L", "c1:/leak", &hs("leaked")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!h.join("leaked").exists());
    let o = env.run(&["cp", "c1:/leakdir/secret", &hs("leaked2")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Could not find the file"),
        "{}",
        stderr(&o)
    );
    assert!(!h.join("leaked2").exists());
    // without -L the link itself is copied, as docker copies it
    env.ok(&["cp", "c1:/leak", &hs("link")]);
    assert!(
        h.join("link")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // into the container: through /evil and /rel the host's victim stays empty
    std::fs::write(h.join("payload"), "payload\n").unwrap();
    for dest in [
        "c1:/evil/payload",
        "c1:/rel/payload",
        "c1:/evil",
        "c1:/rel/",
    ] {
        let _ = env.run(&["cp", &hs("payload"), dest]);
        assert_eq!(
            std::fs::read_dir(&victim).unwrap().count(),
            0,
            "cp to {dest} wrote on the host"
        );
    }
    // a file and a directory in, read back by the container
    env.ok(&["cp", &hs("payload"), "c1:/data/"]);
    assert_eq!(
        env.ok(&["exec", "c1", "/bin/cat", "/data/payload"]),
        "payload\n"
    );
    env.ok(&["cp", &hs("contents"), "c1:/copied"]);
    assert_eq!(
        env.ok(&["exec", "c1", "/bin/cat", "/copied/dir/y"]),
        "deep\n"
    );
    // a link the container made where the copy lands is replaced, not followed
    env.ok(&[
        "exec",
        "c1",
        "/bin/ln",
        "-s",
        &victim.display().to_string(),
        "/data/dir2",
    ]);
    std::fs::create_dir_all(h.join("dir2")).unwrap();
    std::fs::write(h.join("dir2/z"), "z\n").unwrap();
    env.ok(&["cp", &hs("dir2"), "c1:/data/"]);
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    assert_eq!(env.ok(&["exec", "c1", "/bin/cat", "/data/dir2/z"]), "z\n");
    // a stopped container: through its union, both ways
    env.ok(&["stop", "-t", "0", "c1"]);
    env.wait_for("c1", "exited");
    env.ok(&["cp", &hs("payload"), "c1:/stopped-in"]);
    env.ok(&["cp", "c1:/stopped-in", &hs("back")]);
    assert_eq!(
        std::fs::read_to_string(h.join("back")).unwrap(),
        "payload\n"
    );
    let _ = env.run(&["cp", &hs("payload"), "c1:/evil/x"]);
    let o = env.run(&["cp", "c1:/leakdir/secret", &hs("leaked3")]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    // errors in docker's words and status
    let o = env.run(&["cp", "nosuch:/x", &hs("n")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("No such container: nosuch"));
    let o = env.run(&["cp", &hs("a"), &hs("b")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("must specify at least one container source"));
    let o = env.run(&["cp", "c1:/nope", &hs("n")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Could not find the file /nope in container c1"));
    assert_clean(&env);
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host secret\n");
}

#[test]
fn named_volumes_are_shared_and_survive_rm() {
    if !cttest::require_root("e2e::contain_cli::named_volumes_are_shared_and_survive_rm") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-vol");
    env.build_test_image("img");
    assert_eq!(
        env.ok(&["volume", "create", "--label", "k=v", "v1"]),
        "v1\n"
    );
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "v1\n");
    let vi: serde_json::Value =
        serde_json::from_str(&env.ok(&["volume", "inspect", "v1"])).unwrap();
    assert_eq!(vi[0]["Name"], "v1");
    assert_eq!(vi[0]["Driver"], "local");
    assert_eq!(vi[0]["Labels"]["k"], "v");
    let mp = vi[0]["Mountpoint"].as_str().unwrap().to_string();
    // a writer and a reader at once
    env.ok(&[
        "run",
        "-d",
        "--name",
        "w",
        "-v",
        "v1:/data",
        "img",
        "/bin/sh",
        "-c",
        "echo from-w > /data/w; sleep 1000",
    ]);
    env.wait_for("w", "running");
    let t0 = std::time::Instant::now();
    while !std::path::Path::new(&mp).join("w").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "-v",
            "v1:/other:ro",
            "img",
            "/bin/cat",
            "/other/w"
        ]),
        "from-w\n"
    );
    let m = &env.inspect("w")["Mounts"][0];
    assert_eq!(m["Type"], "volume");
    assert_eq!(m["Name"], "v1");
    assert_eq!(m["Source"], mp.as_str());
    assert_eq!(m["Destination"], "/data");
    assert_eq!(
        env.ok(&[
            "ps",
            "--format",
            "{{.Names}} {{.Mounts}}",
            "-f",
            "volume=v1"
        ]),
        "w v1\n"
    );
    let o = env.run(&["volume", "rm", "v1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));
    env.ok(&["rm", "-f", "w"]);
    // it outlives the container
    assert_eq!(
        env.ok(&["run", "--rm", "-v", "v1:/d", "img", "/bin/cat", "/d/w"]),
        "from-w\n"
    );
    // made by run when missing; --mount; an anonymous one, pruned once unused
    env.ok(&["run", "--rm", "-v", "auto1:/a", "img", "/bin/touch", "/a/t"]);
    assert!(env.ok(&["volume", "ls", "-q"]).contains("auto1"));
    env.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=auto1,target=/m,readonly",
        "img",
        "/bin/cat",
        "/m/t",
    ]);
    let o = env.run(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=auto1,dst=/m,ro",
        "img",
        "/bin/touch",
        "/m/u",
    ]);
    assert_ne!(o.status.code(), Some(0), "read-only volume");
    let bind = env.state().join("bindsrc");
    std::fs::create_dir(&bind).unwrap();
    env.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,source={},target=/b", bind.display()),
        "img",
        "/bin/touch",
        "/b/x",
    ]);
    assert!(bind.join("x").exists());
    let o = env.run(&[
        "run",
        "--rm",
        "--mount",
        "type=bogus,target=/x",
        "img",
        "/bin/true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    env.ok(&[
        "run",
        "--name",
        "anon",
        "-v",
        "/anon",
        "img",
        "/bin/touch",
        "/anon/f",
    ]);
    let anon = env.inspect("anon")["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(anon.len(), 64);
    env.ok(&["rm", "anon"]);
    let p = env.ok(&["volume", "prune", "-f"]);
    assert!(p.contains(&anon), "{p}");
    assert!(!env.ok(&["volume", "ls", "-q"]).contains(&anon));
    assert!(
        env.ok(&["volume", "ls", "-q"]).contains("v1"),
        "named volumes stay"
    );
    env.ok(&["volume", "rm", "v1", "auto1"]);
    assert_eq!(env.ok(&["volume", "ls", "-q"]), "");
    let o = env.run(&["volume", "inspect", "v1"]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean(&env);
}

#[test]
fn rename_update_labels_entrypoint_ulimit_and_prunes() {
    if !cttest::require_root("e2e::contain_cli::rename_update_labels_entrypoint_ulimit_and_prunes")
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-cmds");
    env.build_test_image("img");
    // rename
    env.ok(&[
        "run",
        "-d",
        "--name",
        "old",
        "-m",
        "64m",
        "img",
        "/bin/sleep",
        "1000",
    ]);
    env.wait_for("old", "running");
    env.ok(&["rename", "old", "new"]);
    assert!(!env.state().join("names/old").exists());
    assert_eq!(env.inspect("new")["Name"], "/new");
    assert_eq!(env.ok(&["ps", "--format", "{{.Names}}"]), "new\n");
    env.ok(&["create", "--name", "other", "img", "/bin/true"]);
    let o = env.run(&["rename", "new", "other"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already in use"));
    let o = env.run(&["rename", "nosuch", "x"]);
    assert_eq!(o.status.code(), Some(1));
    // update: the cgroup at once, inspect, and errors naming contain's flag
    env.ok(&[
        "update",
        "-m",
        "128m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "20",
        "new",
    ]);
    let hc = env.inspect("new")["HostConfig"].clone();
    assert_eq!(hc["Memory"], 128 << 20);
    assert_eq!(hc["NanoCpus"], 500_000_000);
    assert_eq!(hc["PidsLimit"], 20);
    let id = env.inspect("new")["Id"].as_str().unwrap().to_string();
    for d in env.cgroup_dirs() {
        let c = d.join(&id);
        if let Ok(m) = std::fs::read_to_string(c.join("memory.limit_in_bytes")) {
            assert_eq!(m.trim(), "134217728");
        }
        if let Ok(p) = std::fs::read_to_string(c.join("pids.max")) {
            assert_eq!(p.trim(), "20");
        }
        if let Ok(q) = std::fs::read_to_string(c.join("cpu.cfs_quota_us")) {
            assert_eq!(q.trim(), "50000");
        }
    }
    let o = env.run(&["update", "--cpus", "-1", "new"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim(),
        "contain: invalid --cpus value \"-1\": a positive number of CPUs (1.5)"
    );
    assert!(!stderr(&o).contains("cgset"));
    for (flag, val) in [
        ("--blkio-weight", "5"),
        ("--device-read-bps", "sda"),
        ("--pids-limit", "many"),
    ] {
        let o = env.run(&["run", "--rm", flag, val, "img", "/bin/true"]);
        assert_eq!(o.status.code(), Some(125));
        assert!(
            stderr(&o).starts_with(&format!("contain: invalid {flag} value \"{val}\": ")),
            "{}",
            stderr(&o)
        );
    }
    env.ok(&["update", "--restart", "on-failure:3", "new"]);
    let rp = &env.inspect("new")["HostConfig"]["RestartPolicy"];
    assert_eq!(rp["Name"], "on-failure");
    assert_eq!(rp["MaximumRetryCount"], 3);
    // labels, --entrypoint, --stop-timeout, --ulimit
    env.ok(&[
        "create",
        "--name",
        "lab",
        "-l",
        "a=1",
        "--label",
        "b",
        "--stop-timeout",
        "7",
        "--entrypoint",
        "/bin/echo",
        "img",
        "hi",
    ]);
    let v = env.inspect("lab");
    assert_eq!(v["Config"]["Labels"], json!({"a": "1", "b": ""}));
    assert_eq!(v["Config"]["Entrypoint"], json!(["/bin/echo"]));
    assert_eq!(v["Config"]["Cmd"], json!(["hi"]));
    assert_eq!(v["Config"]["StopTimeout"], 7);
    assert_eq!(v["Path"], "/bin/echo");
    assert_eq!(
        env.ok(&[
            "ps",
            "-a",
            "-f",
            "label=a=1",
            "--format",
            "{{.Names}} {{.Labels}}"
        ]),
        "lab a=1,b\n"
    );
    assert_eq!(
        env.ok(&["ps", "-a", "-f", "label=b", "-q"]).lines().count(),
        1
    );
    env.ok(&["start", "lab"]);
    env.wait_for("lab", "exited");
    assert_eq!(env.ok(&["logs", "lab"]), "hi\n");
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=100:200",
            "img",
            "/bin/sh",
            "-c",
            "ulimit -n; ulimit -Hn",
        ]),
        "100\n200\n"
    );
    let o = env.run(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=300:200",
        "img",
        "/bin/true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    // prunes and df
    let df = env.ok(&["system", "df"]);
    assert!(df.starts_with("TYPE"), "{df}");
    assert!(df.contains("Images") && df.contains("Containers"), "{df}");
    let p = env.ok(&["container", "prune", "-f"]);
    assert!(p.contains("Deleted Containers:"), "{p}");
    assert_eq!(
        env.ok(&["ps", "-aq"]).lines().count(),
        1,
        "the running one stays"
    );
    env.ok(&["rm", "-f", "new"]);
    env.ok(&["tag", "img", "spare:1"]);
    env.ok(&["rmi", "img"]);
    let p = env.ok(&["image", "prune", "-a", "-f"]);
    assert!(p.contains("untagged: spare:1"), "{p}");
    assert_eq!(env.ok(&["images", "-q"]), "");
    assert_clean(&env);
}

/// README's table of Docker's commands: every row that says yes runs its example, in
/// order, with `contain` first in PATH and a scratch store holding an image `img`.
#[test]
fn readme_table_rows_that_say_yes_run() {
    if !cttest::require_root("e2e::contain_cli::readme_table_rows_that_say_yes_run") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let readme = std::fs::read_to_string(cttest::workspace_root().join("README.md")).unwrap();
    let table = readme
        .split("<!-- docker-table -->")
        .nth(1)
        .and_then(|t| t.split("<!-- /docker-table -->").next())
        .expect("README's docker-table markers");
    let env = Env::new("cli-readme");
    env.build_test_image("img");
    let mut yes = 0;
    for row in table.lines().filter(|l| l.starts_with('|')).skip(2) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "a row of three cells: {row}");
        match cells[2] {
            "yes" => {}
            "no" | "partly" => continue,
            other => panic!("Supported must be yes, no or partly: {other} in {row}"),
        }
        let ex = cells[1].trim_matches('`');
        assert!(
            ex.starts_with("contain ") || ex.starts_with("timeout "),
            "{row}"
        );
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg(ex)
            .env("PATH", contain_util::test_path())
            .env("CONTAIN_ROOT", env.state())
            .env("CONTAIN_CGROUP_PARENT", &env.cgparent)
            .stdin(std::process::Stdio::null());
        let o = cttest::run_with_timeout(&mut c, Duration::from_secs(120));
        assert!(
            o.status.success(),
            "README row {row}\nstatus {:?}\nstdout: {}\nstderr: {}",
            o.status,
            stdout(&o),
            stderr(&o)
        );
        yes += 1;
        // the detached one must be up before the rows that use it
        if ex.contains("run -d --name t1") {
            env.wait_for("t1", "running");
        }
    }
    assert!(yes >= 30, "{yes} rows say yes");
    assert_clean(&env);
}

#[test]
fn commit_takes_a_message_and_changes() {
    if !cttest::require_root("e2e::contain_cli::commit_takes_a_message_and_changes") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-commit");
    env.build_test_image("img");
    env.ok(&["run", "--name", "c", "img", "/bin/touch", "/made"]);
    let id = env
        .ok(&[
            "commit",
            "-m",
            "my message",
            "-c",
            "CMD [\"/bin/sh\", \"-c\", \"echo $A$B; ls /made\"]",
            "-c",
            "ENV A=1 B=2",
            "-c",
            "WORKDIR /tmp",
            "-c",
            "LABEL k=v",
            "-c",
            "EXPOSE 80",
            "-c",
            "USER 0",
            "-a",
            "me",
            "c",
            "img3:v1",
        ])
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    let f = |t: &str| env.ok(&["inspect", "-f", t, "img3:v1"]);
    assert_eq!(
        f("{{json .Config.Cmd}}"),
        "[\"/bin/sh\",\"-c\",\"echo $A$B; ls /made\"]\n"
    );
    assert_eq!(
        f("{{.Config.WorkingDir}} {{.Config.User}} {{.Author}} {{.Comment}}"),
        "/tmp 0 me my message\n"
    );
    assert_eq!(f("{{index .Config.Labels \"k\"}}"), "v\n");
    assert_eq!(
        f("{{range $p, $_ := .Config.ExposedPorts}}{{$p}}{{end}}"),
        "80/tcp\n"
    );
    assert_eq!(
        env.ok(&["history", "--format", "{{.Comment}}", "img3:v1"])
            .lines()
            .next(),
        Some("my message")
    );
    assert_eq!(env.ok(&["run", "--rm", "img3:v1"]), "12\n/made\n");
    // an exec form that is no list, an unknown instruction: refused, nothing made
    for bad in ["CMD [\"x\"", "VOLUME /x", "WORKDIR rel"] {
        let o = env.run(&["commit", "-c", bad, "c", "img4"]);
        assert_eq!(o.status.code(), Some(125), "{bad}");
        assert!(stderr(&o).contains("invalid --change"), "{}", stderr(&o));
    }
    assert!(!env.ok(&["images"]).contains("img4"));
    // no name: an untagged image, listed as dangling
    let id = env.ok(&["commit", "c"]).trim().to_string();
    assert_eq!(
        env.ok(&["images", "-f", "dangling=true", "-q"]).trim(),
        &id[7..19]
    );
    env.ok(&["rm", "c"]);
    assert_clean(&env);
}

#[test]
fn attach_follows_the_output_and_proxies_signals() {
    if !cttest::require_root("e2e::contain_cli::attach_follows_the_output_and_proxies_signals") {
        return;
    }
    use std::io::BufRead;
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-attach");
    env.build_test_image("img");
    env.ok(&[
        "run",
        "-d",
        "--name",
        "a1",
        "img",
        "/bin/sh",
        "-c",
        "trap 'echo got-term; exit 3' TERM; while [ ! -e /stop ]; do echo tick; sleep 0.2; done; echo done; exit 7",
    ]);
    env.wait_for("a1", "running");
    for (how, code, last) in [("stop", 7, "done"), ("signal", 3, "got-term")] {
        if how == "signal" {
            env.ok(&["rm", "-f", "a1"]);
            env.ok(&[
                "run",
                "-d",
                "--name",
                "a1",
                "img",
                "/bin/sh",
                "-c",
                "trap 'echo got-term; exit 3' TERM; while :; do echo tick; sleep 0.2; done",
            ]);
            env.wait_for("a1", "running");
        }
        let mut c = env.cmd();
        c.args(["attach", "a1"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "tick\n", "attach shows the output from now on");
        if how == "stop" {
            env.ok(&["exec", "a1", "/bin/touch", "/stop"]);
        } else {
            // SIGTERM to attach goes on to the container (--sig-proxy)
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            )
            .unwrap();
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut r, &mut rest).unwrap();
        let st = child.wait().unwrap();
        assert_eq!(st.code(), Some(code), "{how}: {rest}");
        assert_eq!(rest.lines().last(), Some(last), "{how}: {rest}");
    }
    let o = env.run(&["attach", "a1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("You cannot attach to a stopped container"));
    assert_clean(&env);
}

#[test]
fn attach_relays_its_input_to_a_detached_i_container() {
    if !cttest::require_root("e2e::contain_cli::attach_relays_its_input_to_a_detached_i_container")
    {
        return;
    }
    use std::io::{BufRead, Write};
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-attin");
    env.build_test_image("img");
    env.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "i1",
        "--network",
        "none",
        "img",
        "/bin/sh",
        "-c",
        "while read l; do echo got $l; [ $l = bye ] && exit 6; done; echo eof",
    ]);
    env.wait_for("i1", "running");
    // Two attaches in turn: each one's input reaches the container's, and the end of the
    // first one's input (its EOF) is not the container's (docker's -d -i).  (What is typed
    // before attach follows the log may be answered unseen: each line is typed again until
    // its answer comes.)
    for (word, last) in [("one", false), ("bye", true)] {
        let mut child = env
            .cmd()
            .args(["attach", "--sig-proxy=false", "i1"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let want = format!("got {word}");
        let t0 = std::time::Instant::now();
        'typed: loop {
            assert!(t0.elapsed() < Duration::from_secs(120), "{want} never came");
            if writeln!(input, "{word}").is_err() {
                // (attach has ended: the container ended on this word, its answer maybe
                // written before attach followed the log; the log has it, below)
                assert!(last, "attach ended early");
                break;
            }
            while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
                if l == want {
                    break 'typed;
                }
            }
        }
        drop(input);
        if last {
            // the container ends on "bye": attach ends with its status
            let st = child.wait().unwrap();
            assert_eq!(st.code(), Some(6));
        } else {
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(env.inspect("i1")["State"]["Status"], "running");
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
    let log = env.ok(&["logs", "i1"]);
    assert!(
        log.contains("got one\n") && log.ends_with("got bye\n"),
        "{log}"
    );
    assert!(!log.contains("eof"), "{log}");
    // --no-stdin, and a stopped container
    let o = env.run(&["attach", "--no-stdin", "i1"]);
    assert_eq!(o.status.code(), Some(1));
    assert_clean(&env);
}

#[test]
fn events_journal_keeps_removed_containers_whole_lines_and_rotates() {
    if !cttest::require_root(
        "e2e::contain_cli::events_journal_keeps_removed_containers_whole_lines_and_rotates",
    ) {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-journal");
    env.build_test_image("img");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let since = now().to_string();
    // a container's life, then its removal: its events outlive it
    env.run(&[
        "run",
        "--name",
        "j1",
        "--network",
        "none",
        "img",
        "/bin/sh",
        "-c",
        "exit 3",
    ]);
    env.ok(&["rename", "j1", "j2"]);
    env.ok(&["rm", "j2"]);
    env.ok(&[
        "run",
        "-d",
        "--name",
        "j3",
        "--network",
        "none",
        "img",
        "/bin/sleep",
        "100",
    ]);
    env.wait_for("j3", "running");
    env.ok(&["pause", "j3"]);
    env.ok(&["unpause", "j3"]);
    env.ok(&["stop", "-t", "0", "j3"]);
    env.ok(&["rm", "j3"]);
    env.ok(&["volume", "create", "jv"]);
    env.ok(&["volume", "rm", "jv"]);
    env.ok(&["tag", "img", "img:j"]);
    env.ok(&["rmi", "img:j"]);
    let until = now().to_string();
    let json = |filter: &str| -> Vec<serde_json::Value> {
        let mut args = vec!["events", "--since", &since, "--until", &until];
        for f in filter.split(' ') {
            args.extend(["-f", f]);
        }
        args.extend(["--format", "json"]);
        env.ok(&args)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    };
    let j1 = json("container=j1");
    let actions: Vec<&str> = j1.iter().map(|e| e["Action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "start", "die"], "{j1:?}");
    // (after the rename its events carry the new name)
    let j2 = json("container=j2");
    let actions: Vec<&str> = j2.iter().map(|e| e["Action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["rename", "destroy"], "{j2:?}");
    assert_eq!(j2[0]["Actor"]["Attributes"]["oldName"], "/j1");
    let id = j1[0]["Actor"]["ID"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    for e in j1.iter().chain(&j2) {
        // Docker's shape
        assert_eq!(e["Type"], "container");
        assert_eq!(e["Actor"]["ID"], id);
        assert_eq!(e["id"], id);
        assert_eq!(e["status"], e["Action"]);
        assert_eq!(e["from"], "img");
        assert_eq!(e["Actor"]["Attributes"]["image"], "img");
        assert_eq!(e["scope"], "local");
        let (t, n) = (e["time"].as_u64().unwrap(), e["timeNano"].as_u64().unwrap());
        assert_eq!(n / 1_000_000_000, t, "{e}");
    }
    assert_eq!(j1[2]["Actor"]["Attributes"]["exitCode"], "3");
    let j3: Vec<String> = json("container=j3")
        .iter()
        .map(|e| {
            let a = &e["Actor"]["Attributes"];
            match e["Action"].as_str().unwrap() {
                "kill" => format!("kill {}", a["signal"].as_str().unwrap()),
                "die" => format!("die {}", a["exitCode"].as_str().unwrap()),
                x => x.to_string(),
            }
        })
        .collect();
    assert_eq!(
        j3,
        [
            "create", "start", "pause", "unpause", "kill 15", "kill 9", "die 137", "stop",
            "destroy"
        ]
    );
    let vol: Vec<String> = json("type=volume")
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["Action"].as_str().unwrap(),
                e["Actor"]["ID"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(vol, ["create jv", "destroy jv"]);
    let img: Vec<String> = json("type=image image=img:j")
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["Action"].as_str().unwrap(),
                e["Actor"]["Attributes"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(img, ["tag img:j", "untag img:j"]);
    // writers at once: every line of the journal is a whole event
    let kids: Vec<_> = (0..8)
        .map(|i| {
            env.cmd()
                .args([
                    "run",
                    "--rm",
                    "--name",
                    &format!("p{i}"),
                    "--network",
                    "none",
                    "img",
                    "/bin/true",
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut k in kids {
        assert!(k.wait().unwrap().success());
    }
    let journal = std::fs::read_to_string(env.state().join("events")).unwrap();
    let mut each = 0;
    for l in journal.lines() {
        let e: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
        if e["Actor"]["Attributes"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with('p'))
        {
            each += 1;
        }
    }
    assert_eq!(
        each,
        8 * 4,
        "create, start, die, destroy of each: {journal}"
    );
    // bounded: past CONTAIN_EVENTS_MAX bytes the journal goes to events.1, and events --since
    // reads both
    let o = env
        .cmd()
        .env("CONTAIN_EVENTS_MAX", "2000")
        .args(["volume", "create", "jw"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let old = std::fs::read_to_string(env.state().join("events.1")).unwrap();
    assert!(old.lines().last().unwrap().contains("\"jw\""), "{old}");
    assert!(
        !env.state().join("events").exists()
            || std::fs::metadata(env.state().join("events")).unwrap().len() < 2000
    );
    env.ok(&["volume", "rm", "jw"]);
    let until = now().to_string();
    let all = env.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--format",
        "{{.Action}} {{.Actor.ID}}",
    ]);
    assert!(all.contains(&format!("create {id}\n")), "{all}");
    assert!(all.ends_with("create jw\ndestroy jw\n"), "{all}");
    assert_clean(&env);
}

#[test]
fn events_of_the_store_past_and_streamed() {
    if !cttest::require_root("e2e::contain_cli::events_of_the_store_past_and_streamed") {
        return;
    }
    use std::io::BufRead;
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-events");
    env.build_test_image("img");
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let id = env
        .ok(&["create", "--name", "e1", "img", "/bin/sh", "-c", "exit 4"])
        .trim()
        .to_string();
    env.ok(&["start", "e1"]);
    env.wait_for("e1", "exited");
    env.ok(&["volume", "create", "ev1"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let since = t0.to_string();
    let ev = env.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &now,
        "--filter",
        "container=e1",
    ]);
    let actions: Vec<&str> = ev
        .lines()
        .map(|l| l.split(' ').nth(2).unwrap_or(""))
        .collect();
    assert_eq!(actions, ["create", "start", "die"], "{ev}");
    assert!(
        ev.lines()
            .all(|l| l.contains("container ") && l.contains(&id)),
        "{ev}"
    );
    assert!(ev.contains("exitCode=4, image=img, name=e1"), "{ev}");
    assert_eq!(
        env.ok(&[
            "events",
            "--since",
            &since,
            "--until",
            &now,
            "-f",
            "event=die",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
        ]),
        "container die e1 4\n"
    );
    assert_eq!(
        env.ok(&[
            "events",
            "--since",
            &since,
            "--until",
            &now,
            "-f",
            "type=volume",
            "--format",
            "{{.Actor.ID}}",
        ]),
        "ev1\n"
    );
    let o = env.run(&["events", "--since", "yesterday-ish", "--until", &now]);
    assert_eq!(o.status.code(), Some(1));
    // streamed: a container made after the stream starts.  --since a second taken before it
    // (without it the stream begins at its own start, which a slow start could put after the
    // run's create: the read below then waited for ever and CI ran out of time)
    let t1 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let mut c = env.cmd();
    c.args([
        "events",
        "--since",
        &t1,
        "--filter",
        "container=e2",
        "--format",
        "{{.Action}}",
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let r = std::io::BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in r.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    env.ok(&["run", "--name", "e2", "img", "/bin/true"]);
    let mut got = Vec::new();
    // bounded: a missing event fails the test instead of hanging it
    while got.len() < 3 {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => got.push(l),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    // (the reader ends when the stream's tail sees its shell gone; not waited for)
    drop(reader);
    assert_eq!(got, ["create", "start", "die"]);
    env.ok(&["volume", "rm", "ev1"]);
    assert_clean(&env);
}

#[test]
fn tmpfs_mounts_and_shm_size() {
    if !cttest::require_root("e2e::contain_cli::tmpfs_mounts_and_shm_size") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("cli-tmpfs");
    env.build_test_image("img");
    let mounts = |args: &[&str]| -> String {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["img", "/bin/cat", "/proc/self/mounts"]);
        env.ok(&a)
    };
    let m = mounts(&[
        "--tmpfs",
        "/run:size=1m",
        "--mount",
        "type=tmpfs,target=/scratch,tmpfs-size=2097152,tmpfs-mode=1770",
        "--shm-size",
        "8m",
    ]);
    let line = |dest: &str| {
        m.lines()
            .rfind(|l| l.split(' ').nth(1) == Some(dest))
            .unwrap_or_else(|| panic!("no mount at {dest}: {m}"))
            .to_string()
    };
    let run = line("/run");
    assert!(run.starts_with("tmpfs /run tmpfs "), "{run}");
    assert!(
        run.contains("size=1024k") && run.contains("noexec") && run.contains("nosuid"),
        "{run}"
    );
    let sc = line("/scratch");
    assert!(
        sc.contains("size=2048k") && sc.contains("mode=1770"),
        "{sc}"
    );
    let shm = line("/dev/shm");
    assert!(shm.contains("size=8192k"), "{shm}");
    // writable, even on a read-only root; gone with the container
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "--read-only",
            "--tmpfs",
            "/run",
            "img",
            "/bin/sh",
            "-c",
            "echo x > /run/f && cat /run/f",
        ]),
        "x\n"
    );
    let id = env
        .ok(&[
            "create",
            "--tmpfs",
            "/run:size=1m",
            "--shm-size",
            "8m",
            "img",
            "/bin/true",
        ])
        .trim()
        .to_string();
    let hc = &env.inspect(&id)["HostConfig"];
    assert_eq!(hc["Tmpfs"]["/run"], "rw,nosuid,nodev,noexec,size=1m");
    assert_eq!(hc["ShmSize"], 8 << 20);
    for bad in [
        vec!["--tmpfs", "rel"],
        vec!["--tmpfs", "/x:size=1m;rm"],
        vec!["--shm-size", "lots"],
        vec!["--mount", "type=tmpfs,source=/a,target=/x"],
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(&bad);
        a.extend_from_slice(&["img", "/bin/true"]);
        let o = env.run(&a);
        assert_eq!(o.status.code(), Some(125), "{bad:?}");
    }
    // the host never sees the tmpfs
    let host = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!host.contains(&env.state().display().to_string()), "{host}");
    assert_clean(&env);
}
