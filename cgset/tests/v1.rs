//! Real cgroup v1 tests on this machine: limits written, the document's
//! figures, lifecycle, validation.  Groups live beneath our own cgroups.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn validation_messages_leave_nothing() {
    if !cttest::require_root("cgset::validation_messages_leave_nothing") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let p = Parent::new("valid");
    let g = p.sub("x");
    let ncpu = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let too_many = (ncpu + 1).to_string();
    let range =
        format!("range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-m", "4m"], "Minimum memory limit allowed is 6MB"),
        (
            vec!["-m", "64m", "--memory-swap", "32m"],
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            vec!["--memory-swap", "64m"],
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            vec!["--memory-swappiness", "101"],
            "invalid value: 101. Valid memory swappiness range is 0-100",
        ),
        (
            vec!["--memory-reservation", "1m"],
            "Minimum memory reservation allowed is 6MB",
        ),
        (
            vec!["-m", "64m", "--memory-reservation", "128m"],
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ),
        (vec!["--cpus", &too_many], &range),
        (
            vec!["--cpus", "1", "--cpu-period", "50000"],
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            vec!["--cpu-period", "999"],
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (
            vec!["--cpu-quota", "500"],
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ),
        (
            vec!["--blkio-weight", "5"],
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            vec!["-c", "-1"],
            "invalid CPU shares (-1): value must be a positive integer",
        ),
        (
            vec!["--cpuset-cpus", "0-x"],
            "Invalid value 0-x for cpuset cpus: invalid format: 0-x",
        ),
        (
            vec!["--cpuset-cpus", "7-9"],
            "Requested CPUs are not available - requested 7-9, available: ",
        ),
        (
            vec!["-m", "junk"],
            "invalid argument \"junk\" for \"-m, --memory\" flag: invalid size: 'junk'",
        ),
        (vec!["-m", "12zb"], "invalid suffix: 'zb'"),
        (
            vec!["--device-read-bps", "/dev/nonexistent-disk:1mb"],
            "stat /dev/nonexistent-disk: no such file or directory",
        ),
        (
            vec!["--device-read-bps", "sda:1mb"],
            "bad format for device path: sda:1mb",
        ),
        (
            vec!["--device-read-bps", "/dev/sda"],
            "bad format: /dev/sda",
        ),
        (
            vec!["--device-read-iops", "/dev/null:1mb"],
            "invalid rate for device: /dev/null:1mb. The correct format is <device-path>:<number>. Number must be a positive integer",
        ),
        (vec!["-r", "cpu.shares="], "wrong parameter of option -r"),
        (vec!["-r", "cpushares=1"], "wrong -r parameter (name=value)"),
        (vec!["--pid", "0"], "invalid pid '0'"),
        (
            vec!["--pid", "999999999"],
            "cannot move process 999999999: No such process",
        ),
    ];
    for (args, want) in &cases {
        let mut a = args.clone();
        a.push(&g);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with("cgset: ") && e.contains(want),
            "{args:?}: got {e:?}, want {want:?}"
        );
        assert_eq!(e.lines().count(), 1, "{args:?}: one line: {e:?}");
        assert!(!exists_anywhere(&p.name), "{args:?} left {} behind", p.name);
    }
    for bad in ["./a/../b", "/x//y", "", "./.."] {
        let o = run(&["-m", "64m", bad]);
        assert_eq!(o.status.code(), Some(125), "{bad}");
        assert!(
            stderr(&o).contains("cgroup name") || stderr(&o).contains("empty"),
            "{bad}: {}",
            stderr(&o)
        );
    }
    // A kernel refusal after creation removes what was made.
    let o = run(&["-r", "cpu.cfs_quota_us=10", &g]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("cpu.cfs_quota_us: Invalid argument"),
        "{}",
        stderr(&o)
    );
    assert!(!exists_anywhere(&p.name));
    // A missing PROGRAM is 127 and leaves nothing.
    let o = run(&["-m", "64m", &g, "--", "/nonexistent/program"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(!exists_anywhere(&p.name));
}

#[test]
fn limits_land_in_v1_files() {
    if !cttest::require_root("cgset::limits_land_in_v1_files") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let p = Parent::new("files");
    let g = p.sub("box");
    let o = run(&[
        "-c",
        "512",
        "--cpus",
        "0.5",
        "-m",
        "64m",
        "--memory-reservation",
        "32m",
        "--memory-swappiness",
        "10",
        "--pids-limit",
        "20",
        "--cpuset-cpus",
        "0",
        &g,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(read("cpu", &g, "cpu.shares"), "512");
    assert_eq!(read("cpu", &g, "cpu.cfs_period_us"), "100000");
    assert_eq!(read("cpu", &g, "cpu.cfs_quota_us"), "50000");
    assert_eq!(read("memory", &g, "memory.limit_in_bytes"), "67108864");
    assert_eq!(
        read("memory", &g, "memory.memsw.limit_in_bytes"),
        "134217728"
    );
    assert_eq!(read("memory", &g, "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(read("memory", &g, "memory.swappiness"), "10");
    assert_eq!(read("pids", &g, "pids.max"), "20");
    assert_eq!(read("cpuset", &g, "cpuset.cpus"), "0");
    // The parent got cpus and mems from its own parent, so processes can join.
    assert!(!read("cpuset", &p.name, "cpuset.mems").is_empty());
    // Lowering then raising memory with swap: the safe order works both ways.
    let o = run(&["-m", "32m", "--memory-swap", "48m", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["-m", "1g", "--memory-swap", "2g", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        read("memory", &g, "memory.memsw.limit_in_bytes"),
        "2147483648"
    );
    // Rounded and clamped values are reported.
    let o = run(&[
        "-r",
        "memory.soft_limit_in_bytes=10000",
        "-r",
        "cpu.shares=1",
        &g,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("memory.soft_limit_in_bytes: asked for 10000, the kernel set 8192"),
        "{e}"
    );
    assert!(
        e.contains("cpu.shares: asked for 1, the kernel set 2 (clamped"),
        "{e}"
    );
    // libcgroup syntax with v2 names, on two groups; then --copy-from.
    let g2 = p.sub("other");
    let o = run(&[
        "-r",
        "cpu.weight=50",
        "-r",
        "memory.max=96M",
        "-r",
        "cpu.max=20000 100000",
        &g,
        &g2,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for x in [&g, &g2] {
        assert_eq!(read("cpu", x, "cpu.shares"), "512");
        assert_eq!(read("memory", x, "memory.limit_in_bytes"), "100663296");
        assert_eq!(read("cpu", x, "cpu.cfs_quota_us"), "20000");
    }
    let g3 = p.sub("copy");
    let o = run(&["-r", "pids.max=7", &g]);
    assert!(o.status.success());
    let o = run(&["--copy-from", &g, &g3]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read("pids", &g3, "pids.max"), "7");
    assert_eq!(read("memory", &g3, "memory.limit_in_bytes"), "100663296");
    assert_eq!(read("cpu", &g3, "cpu.shares"), "512");
    // --show --json reports what was set.
    let o = run(&["--show", "--json", &g3]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["limits"]["pids_max"], 7);
    assert_eq!(v["limits"]["cpu_shares"], 512);
    assert_eq!(v["mode"], "hybrid");
    // Kernel memory and oom-kill-disable on v1.
    let o = run(&["-m", "64m", "--oom-kill-disable", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(read("memory", &g, "memory.oom_control").contains("oom_kill_disable 1"));
}

#[test]
fn lifecycle_attach_exec_delete_freeze() {
    if !cttest::require_root("cgset::lifecycle_attach_exec_delete_freeze") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let p = Parent::new("life");
    let g = p.sub("a/b");
    // Exec chain: the program runs inside the group in every hierarchy.
    let o = run(&["--pids-limit", "50", &g, "--", "cat", "/proc/self/cgroup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let leaf = g.trim_start_matches("./");
    for c in ["cpu", "memory", "pids", "freezer", "blkio"] {
        assert!(
            out.lines().any(|l| l
                .split(':')
                .nth(1)
                .is_some_and(|x| x.split(',').any(|y| y == c))
                && l.ends_with(leaf)),
            "{c} not in {leaf}: {out}"
        );
    }
    // The whole process moved (cgset moves itself through `tasks`, one
    // thread, which for a single-threaded process is the process): the
    // group's cgroup.procs lists the program, and so does a child's view.
    for c in HIERS {
        let procs = dir(c, &g).join("cgroup.procs");
        let script = format!(
            "grep -qx $$ {} && sh -c 'grep -qx $$ {}' && echo in",
            procs.display(),
            procs.display()
        );
        let o = run(&[&g, "--", "sh", "-c", &script]);
        assert_eq!(stdout(&o), "in\n", "{c}: {}", stderr(&o));
    }
    // The program's status passes through.
    let o = run(&[&g, "--", "sh", "-c", "exit 3"]);
    assert_eq!(o.status.code(), Some(3));
    // --pid, and pids from stdin.
    let mut kids = Kids(vec![]);
    for _ in 0..3 {
        kids.0
            .push(Command::new("sleep").arg("60").spawn().unwrap());
    }
    let o = run(&["--pid", &kids.0[0].id().to_string(), &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut c = cgset()
        .args(["--pid", "-", &g])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        c.stdin.as_mut().unwrap(),
        format!("{}\n{}\n", kids.0[1].id(), kids.0[2].id()).as_bytes(),
    )
    .unwrap();
    drop(c.stdin.take());
    assert!(c.wait().unwrap().success());
    for c in HIERS {
        let procs = read(c, &g, "cgroup.procs");
        for k in &kids.0 {
            assert!(
                procs.lines().any(|l| l == k.id().to_string()),
                "{c}: {} not in {procs}",
                k.id()
            );
        }
    }
    // Freeze: the state is reached, and a frozen hog uses no CPU.
    let h = p.sub("hog");
    kids.0.push(hog(&h));
    wait_procs(&h, 1);
    let o = run(&["--freeze", &h]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read("freezer", &h, "freezer.state"), "FROZEN");
    let a = usage_ns(&h);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(usage_ns(&h), a, "a frozen group used CPU");
    let o = run(&["--show", "--json", &h]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["usage"]["frozen"], true);
    let o = run(&["--thaw", &h]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read("freezer", &h, "freezer.state"), "THAWED");
    std::thread::sleep(Duration::from_millis(300));
    assert!(usage_ns(&h) > a, "a thawed group did not run");
    // Delete refuses a populated group, then --kill empties and removes it.
    let o = run(&["--delete", &g]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("populated"), "{}", stderr(&o));
    assert!(dir("memory", &g).exists());
    // A frozen group is killed too (thawed first).
    assert!(run(&["--freeze", &h]).status.success());
    let o = run(&["--delete", "--kill", &g, &h]);
    assert!(o.status.success(), "{}", stderr(&o));
    for c in HIERS {
        assert!(!dir(c, &g).exists(), "{c}: {g} left");
        assert!(!dir(c, &h).exists(), "{c}: {h} left");
    }
    for k in &mut kids.0 {
        let st = k.wait().unwrap();
        assert!(!st.success());
    }
    let o = run(&["--delete", &g]);
    assert!(stderr(&o).contains("no such cgroup"), "{}", stderr(&o));
    let o = run(&["--delete", "./"]);
    assert!(stderr(&o).contains("refusing"), "{}", stderr(&o));
}

fn ratio_window(a: &str, b: &str, secs: u64) -> (f64, f64) {
    std::thread::sleep(Duration::from_secs(1));
    let (a0, b0, t0) = (usage_ns(a), usage_ns(b), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (a1, b1) = (usage_ns(a), usage_ns(b));
    let wall = t0.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    ((a1 - a0) as f64 / 1e9 / wall, (b1 - b0) as f64 / 1e9 / wall)
}

#[test]
fn shares_1024_vs_512_split_2_to_1() {
    if !cttest::require_root("cgset::shares_1024_vs_512_split_2_to_1") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let _c = cttest::serial("cpu");
    let p = Parent::new("shares");
    // A heavy parent outweighs other load; one CPU makes the groups compete.
    let o = run(&["-c", "65536", "--cpuset-cpus", "0", &p.name]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (hi, lo) = (p.sub("hi"), p.sub("lo"));
    assert!(run(&["-c", "1024", &hi]).status.success());
    assert!(run(&["-c", "512", &lo]).status.success());
    let mut kids = Kids(vec![hog(&hi), hog(&hi), hog(&lo), hog(&lo)]);
    wait_procs(&hi, 2);
    wait_procs(&lo, 2);
    let (a, b) = ratio_window(&hi, &lo, 5);
    let ratio = a / b;
    eprintln!("shares: hi {a:.3} cpu, lo {b:.3} cpu, ratio {ratio:.2}");
    assert!(
        (1.7..=2.3).contains(&ratio),
        "ratio {ratio:.2} (hi {a:.3}, lo {b:.3})"
    );
    kids.0.clear();
}

#[test]
fn cpus_half_holds_half_a_cpu_and_more_than_the_host_fails() {
    if !cttest::require_root("cgset::cpus_half_holds_half_a_cpu_and_more_than_the_host_fails") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let _c = cttest::serial("cpu");
    let p = Parent::new("cpus");
    assert!(run(&["-c", "65536", &p.name]).status.success());
    let g = p.sub("half");
    let o = run(&["--cpus", "0.5", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    let _kids = Kids(vec![hog(&g), hog(&g)]);
    wait_procs(&g, 2);
    let (a, _) = ratio_window(&g, &g, 4);
    eprintln!("--cpus 0.5 with two hogs: {:.1}% of one CPU", a * 100.0);
    assert!((0.35..=0.56).contains(&a), "{a:.3} cpus");
    let o = run(&["--show", "--json", &g]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["usage"]["nr_throttled"].as_u64().unwrap() > 0, "{v}");
    drop(_kids);
    // The document's --cpus 1.5 with three hogs, where the host has 2 CPUs.
    let ncpu = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if ncpu >= 2 {
        let g15 = p.sub("one-and-a-half");
        let o = run(&["--cpus", "1.5", &g15]);
        assert!(o.status.success(), "{}", stderr(&o));
        let _kids = Kids(vec![hog(&g15), hog(&g15), hog(&g15)]);
        wait_procs(&g15, 3);
        let (a, _) = ratio_window(&g15, &g15, 4);
        eprintln!("--cpus 1.5 with three hogs: {:.1}% CPU", a * 100.0);
        assert!((1.2..=1.6).contains(&a), "{a:.3} cpus");
    }
    let o = run(&["--cpus", &(ncpu + 1).to_string(), &g]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains(&format!("as there are only {ncpu} CPUs available")));
}

#[test]
fn memory_64m_kills_a_100m_allocation() {
    if !cttest::require_root("cgset::memory_64m_kills_a_100m_allocation") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let p = Parent::new("oom");
    let g = p.sub("m");
    let alloc = |mb: u32| {
        let code = format!("b = bytearray(b'1') * ({mb} << 20); print(len(b))");
        cttest::run_with_timeout(
            cgset().args(["-m", "64m", &g, "--", "python3", "-c", &code]),
            Duration::from_secs(60),
        )
    };
    let o = alloc(100);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        o.status.signal(),
        Some(9),
        "100M in 64M: {:?} {}",
        o.status,
        stderr(&o)
    );
    let o = alloc(16);
    assert!(o.status.success(), "16M in 64M: {}", stderr(&o));
    let o = run(&["--show", "--json", &g]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["usage"]["oom_kills"].as_u64().unwrap() >= 1, "{v}");
    assert!(
        v["usage"]["memory_peak"].as_u64().unwrap() > 60 << 20,
        "{v}"
    );
}

struct Loop(String);
impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

#[test]
fn device_read_bps_and_iops_on_a_loop_device() {
    if !cttest::require_root("cgset::device_read_bps_and_iops_on_a_loop_device") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let tmp = cttest::tempdir().unwrap();
    let img = tmp.path().join("disk.img");
    fs::write(&img, vec![7u8; 16 << 20]).unwrap();
    let o = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "losetup: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dev = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let _lo = Loop(dev.clone());
    let p = Parent::new("blk");
    let g = p.sub("d");
    let spec = format!("{dev}:1mb");
    let o = run(&["--device-read-bps", &spec, &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = read("blkio", &g, "blkio.throttle.read_bps_device");
    assert!(line.ends_with(" 1048576"), "{line}");
    let t = Instant::now();
    let o = run(&[
        &g,
        "--",
        "dd",
        &format!("if={dev}"),
        "of=/dev/null",
        "bs=64k",
        "count=40",
        "iflag=direct",
    ]);
    let secs = t.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", stderr(&o));
    let rate = 2.5 / secs;
    eprintln!("read bps 1mb: 2.5 MiB in {secs:.2}s = {rate:.2} MiB/s");
    assert!((0.5..=1.6).contains(&rate), "{rate:.2} MiB/s");
    let o = run(&["--show", "--json", &g]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["usage"]["io_read_bytes"].as_u64().unwrap() >= 2_621_440,
        "{v}"
    );
    let g2 = p.sub("i");
    let spec = format!("{dev}:100");
    assert!(run(&["--device-read-iops", &spec, &g2]).status.success());
    let t = Instant::now();
    let o = run(&[
        &g2,
        "--",
        "dd",
        &format!("if={dev}"),
        "of=/dev/null",
        "bs=4k",
        "count=250",
        "iflag=direct",
    ]);
    let secs = t.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", stderr(&o));
    let iops = 250.0 / secs;
    eprintln!("read iops 100: 250 reads in {secs:.2}s = {iops:.0}/s");
    assert!((50.0..=160.0).contains(&iops), "{iops:.0} reads/s");
}

#[test]
fn watch_prints_a_stats_table() {
    if !cttest::require_root("cgset::watch_prints_a_stats_table") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let p = Parent::new("watch");
    let g = p.sub("w");
    assert!(run(&["-m", "64m", &g]).status.success());
    let o = run(&["--watch", "--interval", "100ms", "--count", "2", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("NAME")).count(),
        2,
        "{out}"
    );
    assert!(out.contains("/ 64MiB"), "{out}");
    // SIGINT stops it with status 0.
    let mut c = cgset()
        .args(["--watch", "--interval", "50ms", &g])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(c.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(c.wait().unwrap().success());
}

#[test]
fn recursive_writes_every_existing_cgroup_below() {
    if !cttest::require_root("cgset::recursive_writes_every_existing_cgroup_below") {
        return;
    }
    let _l = cttest::serial("cgroup");
    let p = Parent::new("recursive");
    let g = p.sub("top");
    let o = run(&["-c", "1024", &format!("{g}/a/b"), &format!("{g}/c")]);
    assert!(o.status.success(), "{}", stderr(&o));
    // One more cgroup that exists in the cpu hierarchy only (v1 allows it).
    let only_cpu = dir("cpu", &format!("{g}/a/cpu-only"));
    std::fs::create_dir(&only_cpu).unwrap();
    let o = run(&["-R", "-c", "512", "-m", "64m", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    for sub in ["", "/a", "/a/b", "/c", "/a/cpu-only"] {
        assert_eq!(
            read("cpu", &format!("{g}{sub}"), "cpu.shares"),
            "512",
            "{sub}"
        );
    }
    for sub in ["", "/a", "/a/b", "/c"] {
        assert_eq!(
            read("memory", &format!("{g}{sub}"), "memory.limit_in_bytes"),
            "67108864",
            "{sub}"
        );
    }
    assert!(!dir("memory", &format!("{g}/a/cpu-only")).exists());
    // Without -R only the group itself; -r rules recurse too.
    let o = run(&["-c", "256", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read("cpu", &g, "cpu.shares"), "256");
    assert_eq!(read("cpu", &format!("{g}/a"), "cpu.shares"), "512");
    let o = run(&["-R", "-r", "pids.max=7", &format!("{g}/a")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read("pids", &format!("{g}/a/b"), "pids.max"), "7");
    assert_eq!(read("pids", &format!("{g}/c"), "pids.max"), "max");
}
