//! contain's image model: content-addressed ids, tags, shared layers, commit, an OCI layout
//! registry (push/pull/save/load) with digest checks, and pause/unpause with the freezer.

mod contain_util;

use contain_util::{Env, stderr, stdout, tree_digest};
use std::path::Path;
use std::time::Duration;

fn du(p: &Path) -> u64 {
    let o = cttest::sh(&format!("du -sb {} | cut -f1", p.display()));
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

#[test]
fn tags_prefixes_and_shared_layers() {
    if !cttest::require_root("e2e::contain_images::tags_prefixes_and_shared_layers") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("tags");
    let id = env.build_test_image("base");
    assert_eq!(id.len(), 64);
    // the id is the sha256 of the config blob
    let cfg = env.state().join("blobs/sha256").join(&id);
    let o = cttest::sh(&format!("sha256sum {} | cut -c1-64", cfg.display()));
    assert_eq!(stdout(&o).trim(), id);
    env.ok(&["tag", "base", "ubuntu:14.04"]);
    env.ok(&["tag", &id[..6], "ubuntu"]);
    let imgs = env.ok(&["images"]);
    assert_eq!(
        imgs.lines().filter(|l| l.contains(&id[..12])).count(),
        3,
        "{imgs}"
    );
    assert!(imgs.starts_with("REPOSITORY"), "{imgs}");
    assert!(
        env.ok(&["run", "--rm", "ubuntu:14.04", "/bin/echo", "hi"])
            .contains("hi")
    );
    assert!(
        env.ok(&["run", "--rm", &id[..5], "/bin/echo", "hi"])
            .contains("hi")
    );
    // two images stacked on one parent store its layer once
    let before = du(&env.state().join("layers"));
    env.ok(&["run", "--name", "a", "base", "/bin/sh", "-c", "echo a > /a"]);
    env.ok(&["run", "--name", "b", "base", "/bin/sh", "-c", "echo b > /b"]);
    env.ok(&["commit", "a", "child-a"]);
    env.ok(&["commit", "b", "child-b"]);
    let after = du(&env.state().join("layers"));
    assert!(
        after - before < 100_000,
        "the shared base is not copied: {before} -> {after}"
    );
    let layers = std::fs::read_dir(env.state().join("layers"))
        .unwrap()
        .count();
    assert_eq!(layers, 3, "base + two small layers");
    let h = env.ok(&["history", "child-a"]);
    assert_eq!(h.lines().count(), 3, "{h}");
    // rmi: refused while a container uses the image, then removes only what nobody uses
    env.ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "child-a",
        "/bin/sleep",
        "1000",
    ]);
    let out = env.run(&["rmi", "child-a"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("is using it"), "{}", stderr(&out));
    env.ok(&["rm", "-f", "user", "a", "b"]);
    let out = env.ok(&["rmi", "child-a"]);
    assert!(
        out.contains("Untagged: child-a:latest") && out.contains("Deleted:"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_dir(env.state().join("layers"))
            .unwrap()
            .count(),
        2
    );
    let out = env.run(&["rmi", &id[..12]]);
    assert!(
        stderr(&out).contains("referenced in multiple repositories"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["run", "--rm", "child-a", "/bin/true"]);
    assert!(stderr(&out).contains("Unable to find image 'child-a:latest'"));
}

#[test]
fn commit_keeps_changes_and_whiteouts() {
    if !cttest::require_root("e2e::contain_images::commit_keeps_changes_and_whiteouts") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("commit");
    env.build_test_image("base");
    env.ok(&[
        "run",
        "--name",
        "c",
        "base",
        "/bin/sh",
        "-c",
        "echo new > /new; rm /bin/true",
    ]);
    env.ok(&["commit", "c", "changed:v1"]);
    let out = env.ok(&[
        "run",
        "--rm",
        "changed:v1",
        "/bin/sh",
        "-c",
        "cat /new; ls /bin/true 2>&1; exit 0",
    ]);
    assert!(out.contains("new") && out.contains("No such file"), "{out}");
    let out = env.ok(&[
        "run",
        "--rm",
        "base",
        "/bin/sh",
        "-c",
        "cat /new 2>&1; ls /bin/true",
    ]);
    assert!(
        out.contains("No such file") && out.contains("/bin/true"),
        "{out}"
    );
}

#[test]
fn push_pull_same_id_and_corruption_refused() {
    if !cttest::require_root("e2e::contain_images::push_pull_same_id_and_corruption_refused") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("push");
    let id = env.build_test_image("base");
    env.ok(&[
        "run",
        "--name",
        "c",
        "base",
        "/bin/sh",
        "-c",
        "echo x > /x; rm /bin/true",
    ]);
    let cid = env.ok(&["commit", "c", "app:1"]);
    let cid = cid.trim().trim_start_matches("sha256:");
    let reg = cttest::tempdir().unwrap();
    env.ok(&["push", "app:1", reg.path().to_str().unwrap()]);
    assert!(reg.path().join("oci-layout").is_file());
    let fresh = Env::new("push2");
    fresh.ok(&["pull", reg.path().to_str().unwrap(), "app:1"]);
    let imgs = fresh.ok(&["images"]);
    assert!(
        imgs.contains(&cid[..12]),
        "same image id after pull: {imgs}"
    );
    for h in std::fs::read_to_string(env.state().join("images").join(cid).join("layers"))
        .unwrap()
        .lines()
    {
        let a = std::fs::read(env.state().join("blobs/sha256").join(h)).unwrap();
        let b = std::fs::read(fresh.state().join("blobs/sha256").join(h)).unwrap();
        assert_eq!(a, b, "layer {h} byte-identical");
        // whiteouts (0:0 character devices) compare by name: their mode carries no meaning
        let norm = |t: String| -> String {
            t.lines()
                .map(|l| {
                    if let Some(rest) = l.strip_prefix("c ") {
                        format!("c {}\n", rest.split_once(' ').map_or(rest, |x| x.1))
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect()
        };
        assert_eq!(
            norm(tree_digest(&env.state().join("layers").join(h))),
            norm(tree_digest(&fresh.state().join("layers").join(h)))
        );
    }
    let out = fresh.ok(&[
        "run",
        "--rm",
        "app:1",
        "/bin/sh",
        "-c",
        "cat /x; ls /bin/true 2>&1; exit 0",
    ]);
    assert!(out.contains('x') && out.contains("No such file"), "{out}");
    // save / load round trip
    let tar = reg.path().join("app.tar");
    env.ok(&["save", "-o", tar.to_str().unwrap(), "app:1"]);
    let third = Env::new("push3");
    assert!(
        third
            .ok(&["load", "-i", tar.to_str().unwrap()])
            .contains("app:1")
    );
    assert!(third.ok(&["images"]).contains(&cid[..12]));
    // a corrupted blob is refused and the store stays as it was
    let base_layer =
        std::fs::read_to_string(env.state().join("images").join(&id).join("layers")).unwrap();
    let blob = reg.path().join("blobs/sha256").join(base_layer.trim());
    let mut bytes = std::fs::read(&blob).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let clean = Env::new("push4");
    clean.ok(&["images"]);
    let before = tree_digest(clean.state());
    let out = clean.run(&["pull", reg.path().to_str().unwrap(), "app:1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("corrupted"), "{}", stderr(&out));
    assert_eq!(before, tree_digest(clean.state()), "the store is unchanged");
}

fn cpu_ticks(pid: i64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn pause_stops_cpu_time_and_unpause_resumes() {
    if !cttest::require_root("e2e::contain_images::pause_stops_cpu_time_and_unpause_resumes") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("pause");
    env.build_test_image("base");
    env.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "base",
        "/bin/sh",
        "-c",
        "while :; do :; done",
    ]);
    let mut pid = 0;
    for _ in 0..100 {
        let v = env.inspect("busy");
        pid = v["State"]["Pid"].as_i64().unwrap_or(0);
        if pid > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pid > 0);
    // the busy loop is pid 1's child (or pid 1 itself): sum the whole container's ticks
    let total = || -> u64 {
        let o = cttest::sh(&format!(
            "for p in $(sed -n 's/^cgdir //p' {}/containers/*/meta | grep /cpuacct/ | sed 's|$|/cgroup.procs|' | xargs cat); do echo $p; done",
            env.state().display()
        ));
        stdout(&o)
            .split_whitespace()
            .map(|p| cpu_ticks(p.parse().unwrap()))
            .sum()
    };
    std::thread::sleep(Duration::from_millis(500));
    env.ok(&["pause", "busy"]);
    assert!(env.ok(&["ps"]).contains("(Paused)"));
    assert_eq!(env.inspect("busy")["State"]["Status"], "paused");
    let t0 = total();
    std::thread::sleep(Duration::from_millis(1500));
    let t1 = total();
    assert!(t1 - t0 <= 1, "cpu time advanced while paused: {t0} -> {t1}");
    env.ok(&["unpause", "busy"]);
    std::thread::sleep(Duration::from_millis(1500));
    let t2 = total();
    assert!(t2 > t1 + 10, "cpu time resumes after unpause: {t1} -> {t2}");
    env.ok(&["rm", "-f", "busy"]);
}
