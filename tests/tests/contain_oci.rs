//! contain's images against the ecosystem's tools (issue 22): references as skopeo, umoci,
//! containerd and podman write them (`ref.name` = the tag, the full name in
//! `io.containerd.image.name`), the `oci:`, `oci-archive:` and `docker-archive:` transports,
//! `contain save` archives read by docker-archive and OCI readers, and failed pulls, loads and
//! imports that leave nothing behind.  skopeo, umoci and podman come from `make deps`; podman
//! runs with private storage under a temporary directory.

mod contain_util;

use contain_util::{Env, stderr, tree_digest};
use std::process::Command;

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sh_ok(script: &str) -> String {
    let o = cttest::sh(script);
    assert!(
        o.status.success(),
        "{script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn image_id(out: &str) -> String {
    out.split("sha256:")
        .nth(1)
        .map(|s| s.chars().take(64).collect())
        .unwrap_or_default()
}

/// The store has no work directory left under tmp.
fn tmp_empty(env: &Env) {
    let left: Vec<_> = std::fs::read_dir(env.state().join("tmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left under tmp: {left:?}");
}

#[test]
fn references_as_skopeo_writes_them() {
    if !cttest::require_root("e2e::contain_oci::references_as_skopeo_writes_them")
        || !cttest::require(
            "e2e::contain_oci::references_as_skopeo_writes_them",
            have("skopeo"),
            "needs skopeo (make deps)",
        )
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("oci-ref");
    let id = env.build_test_image("base");
    env.ok(&["tag", "base", "base:1"]);
    let tmp = cttest::tempdir().unwrap();
    let t = tmp.path().display().to_string();
    env.ok(&["push", "base:1", &format!("{t}/lay")]);
    let ann = sh_ok(&format!(
        "jq -c '.manifests[0].annotations' {t}/lay/index.json"
    ));
    assert_eq!(
        ann, r#"{"org.opencontainers.image.ref.name":"1","io.containerd.image.name":"base:1"}"#,
        "the tag alone in ref.name, the full name in containerd's annotation"
    );
    // skopeo finds it by tag, and copies it (gzip-compressed) to a layout of its own
    let dig = sh_ok(&format!("skopeo inspect oci:{t}/lay:1 | jq -r .Digest"));
    assert!(dig.starts_with("sha256:"), "{dig}");
    sh_ok(&format!(
        "skopeo copy -q oci:{t}/lay:1 oci:{t}/sk:latest && skopeo copy -q oci:{t}/lay:1 oci-archive:{t}/sk.tar:v2"
    ));
    let fresh = Env::new("oci-ref2");
    let sk = format!("{t}/sk");
    let by_tag = fresh.ok(&["pull", &sk, "acc2:latest"]);
    assert_eq!(image_id(&by_tag), id, "{by_tag}");
    let no_tag = fresh.ok(&["pull", &format!("oci:{sk}"), "x"]);
    assert!(no_tag.starts_with("x:latest:"), "{no_tag}");
    let oci_form = fresh.ok(&["pull", &format!("oci:{sk}:latest"), "y:2"]);
    assert!(oci_form.starts_with("y:2:"), "{oci_form}");
    let archive = fresh.ok(&["pull", &format!("oci-archive:{t}/sk.tar:v2"), "z"]);
    assert!(archive.starts_with("z:v2:"), "the archive's tag: {archive}");
    // contain's own layout: by oci:DIR:TAG, and named from containerd's annotation
    let own = fresh.ok(&["pull", &format!("oci:{t}/lay:1")]);
    assert!(own.starts_with("base:1:"), "{own}");
    let imgs = fresh.ok(&["images"]);
    for r in ["acc2 ", "x ", "y ", "z ", "base "] {
        assert!(
            imgs.lines()
                .any(|l| l.starts_with(r) && l.contains(&id[..12])),
            "{r}: {imgs}"
        );
    }
    assert!(
        fresh
            .ok(&["run", "--rm", "acc2", "/bin/echo", "hi"])
            .contains("hi")
    );
    // a layout written by contain before: ref.name = NAME:TAG
    sh_ok(&format!(
        "cp -a {t}/lay {t}/old && jq -c '.manifests[0].annotations = {{\"org.opencontainers.image.ref.name\": \"app:7\"}}' {t}/lay/index.json > {t}/old/index.json"
    ));
    let old = fresh.ok(&["pull", &format!("{t}/old"), "app:7"]);
    assert_eq!(image_id(&old), id, "{old}");
    assert!(
        fresh
            .ok(&["pull", &format!("oci:{t}/old")])
            .starts_with("app:7:")
    );
    // two images and no tag: the user must name one; an unknown tag is refused
    fresh.ok(&["push", "acc2", &format!("oci:{t}/lay:other")]);
    let out = fresh.run(&["pull", &format!("oci:{t}/lay"), "w"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("more than one image"),
        "{}",
        stderr(&out)
    );
    let out = fresh.run(&["pull", &format!("oci:{t}/lay:nope"), "w"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("has no image nope"),
        "{}",
        stderr(&out)
    );
    // push to the archive transports
    env.ok(&["push", "base:1", &format!("oci-archive:{t}/o.tar:v9")]);
    let d2 = sh_ok(&format!(
        "skopeo inspect oci-archive:{t}/o.tar:v9 | jq -r .Digest"
    ));
    assert_eq!(d2, dig, "the same manifest");
    env.ok(&["push", "base:1", &format!("docker-archive:{t}/d.tar")]);
    sh_ok(&format!(
        "skopeo inspect docker-archive:{t}/d.tar:base:1 >/dev/null"
    ));
    tmp_empty(&env);
    tmp_empty(&fresh);
}

#[test]
fn umoci_repack_and_insert_root_pull() {
    if !cttest::require_root("e2e::contain_oci::umoci_repack_and_insert_root_pull")
        || !cttest::require(
            "e2e::contain_oci::umoci_repack_and_insert_root_pull",
            have("umoci"),
            "needs umoci (make deps)",
        )
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("oci-umoci");
    env.build_test_image("base");
    let tmp = cttest::tempdir().unwrap();
    let t = tmp.path().display().to_string();
    env.ok(&["push", "base", &format!("oci:{t}/um")]);
    // unpack, change, repack; then umoci insert DIR / (a layer whose first entry is "/")
    sh_ok(&format!(
        "cd {t} && umoci unpack --image um:latest bun >/dev/null && echo hello > bun/rootfs/hello && rm bun/rootfs/bin/true \
         && umoci repack --image um:2 bun && mkdir -p ins/etc && echo ins > ins/etc/ins \
         && umoci insert --image um:2 ins / && tar -tzf um/blobs/sha256/$(jq -r '.layers[-1].digest' um/blobs/sha256/$(jq -r '.manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"] == \"2\") | .digest' um/index.json | cut -d: -f2) | cut -d: -f2) | head -1"
    ));
    let fresh = Env::new("oci-umoci2");
    let out = fresh.ok(&["pull", &format!("oci:{t}/um:2")]);
    assert!(
        out.starts_with("base:2:"),
        "named from containerd's name, tagged by ref.name: {out}"
    );
    let out = fresh.ok(&[
        "run",
        "--rm",
        "base:2",
        "/bin/sh",
        "-c",
        "cat /hello /etc/ins; ls /bin/true 2>&1; exit 0",
    ]);
    assert!(
        out.contains("hello") && out.contains("ins") && out.contains("No such file"),
        "{out}"
    );
    tmp_empty(&fresh);
}

/// In T: good.tar (one file), bad.tar (an entry `../escape`), and L, a layout (and
/// bad-archive.tar, the same as an archive) of one image tagged 1 with the two layers, good
/// first, their digests and diff_ids right.
fn layout_with_bad_layer(t: &str) {
    sh_ok(&format!(
        r#"set -e; cd {t}; mkdir -p good L/blobs/sha256; echo good > good/g; tar -C good -cf good.tar .
python3 -c "import tarfile,io; tf=tarfile.open('bad.tar','w'); i=tarfile.TarInfo('../escape'); i.size=1; tf.addfile(i, io.BytesIO(b'x')); tf.close()"
h1=$(sha256sum good.tar | cut -c1-64); h2=$(sha256sum bad.tar | cut -c1-64)
cp good.tar L/blobs/sha256/$h1; cp bad.tar L/blobs/sha256/$h2
printf '{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}}}' $h1 $h2 > c
c=$(sha256sum c | cut -c1-64); mv c L/blobs/sha256/$c
printf '{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":1}},"layers":[{{"digest":"sha256:%s","size":1}},{{"digest":"sha256:%s","size":1}}]}}' $c $h1 $h2 > m
m=$(sha256sum m | cut -c1-64); mv m L/blobs/sha256/$m
echo '{{"imageLayoutVersion":"1.0.0"}}' > L/oci-layout
printf '{{"schemaVersion":2,"manifests":[{{"digest":"sha256:%s","size":1,"annotations":{{"org.opencontainers.image.ref.name":"1"}}}}]}}' $m > L/index.json
tar -C L -cf bad-archive.tar oci-layout index.json blobs"#
    ));
}

fn unchanged(env: &Env, before: &str, args: &[&str], why: &str) {
    let out = env.run(args);
    assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
    assert_eq!(
        before,
        tree_digest(env.state()),
        "{args:?} left the store as it was"
    );
    tmp_empty(env);
}

#[test]
fn failures_leave_nothing() {
    if !cttest::require_root("e2e::contain_oci::failures_leave_nothing") {
        return;
    }
    let env = Env::new("oci-fail");
    env.ok(&["images"]);
    std::fs::write(env.state().join(".lock"), "").unwrap();
    let tmp = cttest::tempdir().unwrap();
    let t = tmp.path().display().to_string();
    // the second layer climbs out of the root: the first, already unpacked, must go too
    layout_with_bad_layer(&t);
    let before = tree_digest(env.state());
    let lay = format!("{t}/L");
    unchanged(
        &env,
        &before,
        &["pull", &lay, "bad:1"],
        "cannot unpack layer",
    );
    unchanged(
        &env,
        &before,
        &["load", "-i", &format!("{t}/bad-archive.tar")],
        "cannot unpack layer",
    );
    // a good first layer and a bad second one: the first is not kept
    unchanged(
        &env,
        &before,
        &[
            "import",
            "bad",
            &format!("{t}/good.tar"),
            &format!("{t}/bad.tar"),
        ],
        "cannot unpack",
    );
    // a cut gzip layer and an archive that is not one
    sh_ok(&format!(
        "gzip -c {t}/good.tar | head -c 40 > {t}/cut.tar.gz; echo hi > {t}/not.tar"
    ));
    unchanged(
        &env,
        &before,
        &["import", "bad", &format!("{t}/cut.tar.gz")],
        "import",
    );
    unchanged(
        &env,
        &before,
        &["load", "-i", &format!("{t}/not.tar")],
        "not a tar archive",
    );
    // a commit whose image cannot be written (images/ read-only in a mount namespace of the
    // command's own): the layer it stored is removed again
    let _g = cttest::serial("cgroup");
    env.build_test_image("base");
    env.ok(&["run", "--name", "c", "base", "/bin/sh", "-c", "echo x > /x"]);
    let before = tree_digest(env.state());
    let st = env.state().display().to_string();
    let o = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            &format!(
                "mount --make-rprivate / && mount --bind -o ro {st}/images {st}/images && exec \"$0\" \"$@\""
            ),
        ])
        .arg(contain_util::contain_script())
        .args(["commit", "c", "committed"])
        .env("PATH", contain_util::test_path())
        .env("CONTAIN_ROOT", env.state())
        .env("CONTAIN_CGROUP_PARENT", &env.cgparent)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(err.contains("cannot write the image"), "{err}");
    assert_eq!(
        before,
        tree_digest(env.state()),
        "a failed commit left the store as it was"
    );
    tmp_empty(&env);
    env.ok(&["rm", "c"]);
    // the good layer alone works, and leaves no work directory
    env.ok(&["import", "good", &format!("{t}/good.tar")]);
    tmp_empty(&env);
}

#[test]
fn save_is_read_by_docker_archive_and_oci_readers() {
    if !cttest::require_root("e2e::contain_oci::save_is_read_by_docker_archive_and_oci_readers")
        || !cttest::require(
            "e2e::contain_oci::save_is_read_by_docker_archive_and_oci_readers",
            have("skopeo") && have("podman"),
            "needs skopeo and podman (make deps)",
        )
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("oci-save");
    let id = env.build_test_image("base");
    env.ok(&["tag", "base", "base:1"]);
    let tmp = cttest::tempdir().unwrap();
    let t = tmp.path().display().to_string();
    env.ok(&["save", "-o", &format!("{t}/s.tar"), "base:1", "base"]);
    let list = sh_ok(&format!(
        "tar -tf {t}/s.tar | grep -v '^blobs/sha256/.' | sort | tr '\\n' ' '"
    ));
    assert_eq!(
        list,
        "blobs/ blobs/sha256/ index.json manifest.json oci-layout repositories"
    );
    let m = sh_ok(&format!(
        "tar -xOf {t}/s.tar manifest.json | jq -c '[.[].RepoTags[]]'"
    ));
    assert_eq!(m, r#"["base:1","base:latest"]"#);
    // skopeo's docker-archive and oci-archive readers
    sh_ok(&format!(
        "skopeo inspect docker-archive:{t}/s.tar:base:1 >/dev/null && skopeo inspect oci-archive:{t}/s.tar:1 >/dev/null"
    ));
    // podman, with private storage: loads it with the same image id, and its own save
    // archives (docker-archive and oci-archive) load into contain
    let p = format!(
        "podman --root {t}/pr --runroot {t}/prr --storage-driver vfs --events-backend none --cgroup-manager cgroupfs"
    );
    sh_ok(&format!("{p} load -q -i {t}/s.tar"));
    let pid = sh_ok(&format!(
        "{p} image inspect --format '{{{{.Id}}}}' localhost/base:1"
    ));
    assert_eq!(pid, id, "podman gives the image the same id");
    sh_ok(&format!(
        "{p} save -q --format docker-archive -o {t}/pd.tar localhost/base:1 && {p} save -q --format oci-archive -o {t}/po.tar localhost/base:1"
    ));
    for f in ["pd.tar", "po.tar"] {
        let fresh = Env::new("oci-save2");
        let out = fresh.ok(&["load", "-i", &format!("{t}/{f}")]);
        assert!(out.contains("Loaded image: base:1"), "{f}: {out}");
        // (podman's oci-archive writes a config of its own: the id is podman's)
        if f == "pd.tar" {
            assert!(fresh.ok(&["images"]).contains(&id[..12]), "{f}");
        }
        assert!(
            fresh
                .ok(&["run", "--rm", "base:1", "/bin/echo", "hi"])
                .contains("hi")
        );
        tmp_empty(&fresh);
    }
    sh_ok(&format!("{p} rmi -a -f >/dev/null 2>&1; true"));
}

#[test]
fn build_from_a_containerfile_with_cache() {
    if !cttest::require_root("e2e::contain_oci::build_from_a_containerfile_with_cache") {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("oci-build");
    env.build_test_image("base");
    let ctx = cttest::tempdir().unwrap();
    let c = ctx.path().display().to_string();
    sh_ok(&format!(
        r#"cd {c} && mkdir sub && echo a > sub/a.txt && echo secret > skip.log && echo skip.log > .dockerignore && tar -czf arch.tgz sub
cat > Containerfile <<'X'
ARG BASE=base
FROM ${{BASE}} AS one
ARG MSG=hello
ENV GREETING="hi there" X=1
WORKDIR /work
RUN echo RAN""-ONE; echo "$MSG $GREETING" > /work/out; rm /bin/true
COPY sub/ /copied/
ADD arch.tgz /unpacked
COPY . /ctx/
RUN echo RAN""-TWO; cat /copied/a.txt > /work/two

FROM base
LABEL org.x=y
EXPOSE 80 53/udp
STOPSIGNAL SIGINT
WORKDIR /srv
COPY --from=one /work/out /work/two /srv/
USER nobody
RUN ["/bin/cat", "/srv/out"]
ENTRYPOINT ["/bin/cat"]
CMD ["/srv/out"]
X"#
    ));
    let out = env.ok(&["build", "-t", "app:1", "--build-arg", "MSG=yo", &c]);
    assert!(
        out.contains("RAN-ONE") && out.contains("RAN-TWO") && out.contains("yo hi there"),
        "{out}"
    );
    let id = image_id(&out);
    let cfg = sh_ok(&format!(
        "jq -c '.config | [.User, .Entrypoint, .Cmd, .WorkingDir, (.ExposedPorts | keys), .Labels, .StopSignal, .Env]' {}/blobs/sha256/{id}",
        env.state().display()
    ));
    assert_eq!(
        cfg,
        r#"["nobody",["/bin/cat"],["/srv/out"],"/srv",["53/udp","80/tcp"],{"org.x":"y"},"SIGINT",["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]]"#
    );
    assert_eq!(env.ok(&["run", "--rm", "app:1"]).trim(), "yo hi there");
    // the first stage, by --target: its files, whiteout, ENV and WORKDIR
    env.ok(&[
        "build",
        "-t",
        "one",
        "--target",
        "one",
        "--build-arg",
        "MSG=yo",
        &c,
    ]);
    let one = env.ok(&[
        "run",
        "--rm",
        "one",
        "/bin/sh",
        "-c",
        "pwd; cat out two /unpacked/sub/a.txt; ls -a /ctx; ls /bin/true 2>&1; echo $GREETING$X",
    ]);
    assert!(one.starts_with("/work\nyo hi there\na\na\n"), "{one}");
    assert!(
        one.contains("Containerfile") && !one.contains("skip.log"),
        ".dockerignore: {one}"
    );
    assert!(
        one.contains("No such file") && one.contains("hi there1"),
        "{one}"
    );
    // cached: no RUN runs again; a changed file reruns exactly the steps from its COPY on
    let again = env.ok(&["build", "-t", "app:1", "--build-arg", "MSG=yo", &c]);
    assert!(!again.contains("RAN-"), "{again}");
    assert_eq!(
        image_id(&again),
        id,
        "a cached rebuild makes the same image"
    );
    sh_ok(&format!("echo b > {c}/sub/a.txt"));
    let changed = env.ok(&["build", "-t", "app:2", "--build-arg", "MSG=yo", &c]);
    assert!(
        !changed.contains("RAN-ONE") && changed.contains("RAN-TWO"),
        "{changed}"
    );
    let nocache = env.ok(&[
        "build",
        "--no-cache",
        "-t",
        "app:3",
        "--build-arg",
        "MSG=yo",
        &c,
    ]);
    assert!(nocache.contains("RAN-ONE"), "{nocache}");
    // only the tagged images are listed; no step container or work file is left
    let imgs = env.ok(&["images"]);
    assert_eq!(imgs.lines().count(), 6, "{imgs}");
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "");
    tmp_empty(&env);
    // a failing RUN fails the build and leaves the store as it was
    sh_ok(&format!(
        "printf 'FROM base\\nCOPY sub /new/\\nRUN echo RAN-BAD; exit 3\\n' > {c}/Bad"
    ));
    let before = tree_digest(env.state());
    let out = env.run(&["build", "-t", "bad", "-f", &format!("{c}/Bad"), &c]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("non-zero code: 3"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        before,
        tree_digest(env.state()),
        "a failed build left the store as it was"
    );
    tmp_empty(&env);
    // the host-programs build keeps its name
    env.ok(&["mkimage", "tiny", "/bin/sh"]);
}

#[test]
fn podman_build_makes_the_same_image() {
    if !cttest::require_root("e2e::contain_oci::podman_build_makes_the_same_image")
        || !cttest::require(
            "e2e::contain_oci::podman_build_makes_the_same_image",
            have("podman"),
            "needs podman (make deps)",
        )
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("oci-pbuild");
    env.build_test_image("base");
    env.ok(&["tag", "base", "localhost/base"]);
    let tmp = cttest::tempdir().unwrap();
    let t = tmp.path().display().to_string();
    sh_ok(&format!(
        r#"cd {t} && mkdir ctx ctx/sub && echo a > ctx/sub/a.txt && tar -C ctx -czf ctx/arch.tgz sub
cat > ctx/Containerfile <<'X'
FROM localhost/base:latest
ARG MSG=hello
ENV GREETING="hi there" X=1
WORKDIR /work
RUN echo "$MSG $GREETING" > /work/out; rm /bin/true
COPY sub/ /copied/
ADD arch.tgz /unpacked
LABEL org.x=y
EXPOSE 80 53/udp
STOPSIGNAL SIGINT
USER nobody
ENTRYPOINT ["/bin/cat"]
CMD ["/work/out"]
X"#
    ));
    // the same base in podman (private storage), then the same Containerfile built by both
    env.ok(&["save", "-o", &format!("{t}/base.tar"), "localhost/base"]);
    let p = format!(
        "podman --root {t}/pr --runroot {t}/prr --storage-driver vfs --events-backend none --cgroup-manager cgroupfs"
    );
    sh_ok(&format!(
        "{p} load -q -i {t}/base.tar && {p} build -q --isolation chroot --build-arg MSG=yo -t pod:1 {t}/ctx \
         && {p} save -q --format docker-archive -o {t}/pod.tar localhost/pod:1"
    ));
    let ours = image_id(&env.ok(&[
        "build",
        "-t",
        "ours:1",
        "--build-arg",
        "MSG=yo",
        &format!("{t}/ctx"),
    ]));
    env.ok(&["load", "-i", &format!("{t}/pod.tar")]);
    // the same config
    let cfg = |name: &str| {
        let v: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", name])).unwrap();
        let id = v[0]["Id"].as_str().unwrap_or_default().to_string();
        let id = id.trim().trim_start_matches("sha256:").to_string();
        sh_ok(&format!(
            "jq -S -c '.config | {{Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, StopSignal, Labels: (.Labels // {{}} | del(.[\"io.buildah.version\"]))}}' {}/blobs/sha256/{id}",
            env.state().display()
        ))
    };
    assert_eq!(cfg(&ours), cfg("pod:1"));
    // the same file tree (types, modes, owners, sizes, names, link targets; not times), apart
    // from the empty /etc/hostname and /etc/resolv.conf that buildah leaves from its RUN mounts
    let tree = |name: &str| {
        env.ok(&["create", "--name", &format!("x{}", name.len()), name]);
        let mut c = env.cmd();
        c.args(["export", &format!("x{}", name.len())]);
        let out = c.output().unwrap();
        assert!(out.status.success());
        std::fs::write(format!("{t}/{}.tar", name.len()), &out.stdout).unwrap();
        env.ok(&["rm", &format!("x{}", name.len())]);
        sh_ok(&format!(
            "tar -tvf {t}/{}.tar --numeric-owner | awk '{{print $1, $2, $3, $6, $7, $8}}' | grep -v ' 0 ./etc/hostname\\|0 ./etc/resolv.conf' | sort -k4",
            name.len()
        ))
    };
    let a = tree(&ours);
    let b = tree("pod:1");
    assert!(
        a.contains("./work/out") && a.contains("./unpacked/sub/a.txt"),
        "{a}"
    );
    assert!(!a.contains("./bin/true"), "{a}");
    assert_eq!(a, b);
    sh_ok(&format!("{p} rmi -a -f >/dev/null 2>&1; true"));
}

/// The deepest of this process's cgroups (one per hierarchy); every other hierarchy's own group
/// must be one of its ancestors, so a group beneath it is beneath the test's own group in each.
fn own_cgroup() -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let paths: Vec<&str> = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .collect();
    let deep = paths
        .iter()
        .max_by_key(|p| p.len())
        .copied()
        .unwrap_or("/")
        .trim_end_matches('/')
        .to_string();
    for p in &paths {
        let p = p.trim_end_matches('/');
        assert!(
            deep == p || deep.starts_with(&format!("{p}/")),
            "no single cgroup path lies beneath this test's own in every hierarchy: {text}"
        );
    }
    deep
}

/// Remove GROUP (a path from a hierarchy's root) and what is beneath it, bottom up, in every
/// mounted hierarchy; the directories that could not be removed.
fn remove_cgroup(group: &str) -> Vec<std::path::PathBuf> {
    fn rm(d: &std::path::Path, left: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rm(&e.path(), left);
            }
        }
        if std::fs::remove_dir(d).is_err() {
            left.push(d.to_path_buf());
        }
    }
    let rel = group.trim_start_matches('/');
    let mut bases = vec![std::path::PathBuf::from("/sys/fs/cgroup")];
    bases.extend(
        std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path()),
    );
    let mut left = Vec::new();
    for b in bases {
        let d = b.join(rel);
        if d.is_dir() && !d.is_symlink() {
            rm(&d, &mut left);
        }
    }
    left
}

#[test]
fn skopeo_copies_to_containers_storage_and_podman_runs_it() {
    let name = "e2e::contain_oci::skopeo_copies_to_containers_storage_and_podman_runs_it";
    if !cttest::require_root(name)
        || !cttest::require(
            name,
            have("skopeo") && have("podman"),
            "needs skopeo and podman (make deps)",
        )
    {
        return;
    }
    let _g = cttest::serial("cgroup");
    let env = Env::new("oci-podrun");
    env.build_test_image("base");
    let tmp = cttest::tempdir().unwrap();
    let t = tmp.path().display().to_string();
    // an image of two layers: the second adds /only-here and deletes /bin/true (a whiteout)
    sh_ok(&format!(
        "mkdir {t}/ctx && printf 'FROM base\\nRUN echo only-here > /only-here; rm /bin/true\\n' > {t}/ctx/Containerfile"
    ));
    env.ok(&["build", "-t", "app:1", &format!("{t}/ctx")]);
    env.ok(&["push", "app:1", &format!("oci:{t}/lay:1")]);
    let last = sh_ok(&format!(
        "m=$(jq -r '.manifests[0].digest' {t}/lay/index.json | cut -d: -f2); \
         l=$(jq -r '.layers[-1].digest' {t}/lay/blobs/sha256/$m | cut -d: -f2); tar -tf {t}/lay/blobs/sha256/$l"
    ));
    assert!(
        last.lines()
            .any(|l| l.trim_start_matches("./") == "usr/bin/.wh.true"),
        "the top layer whites out /usr/bin/true (/bin is a link to usr/bin): {last}"
    );
    // Private storage, run root, tmpdir, network config and events under T; containers.conf
    // with the ulimits this host allows (its root lacks CAP_SYS_RESOURCE) and no network.
    // The cgroups (the container's and conmon's) go beneath this test's own group.
    let cg = format!("{}/ctools-podrun-{}", own_cgroup(), std::process::id());
    let _cg = cttest::defer({
        let cg = cg.clone();
        move || {
            remove_cgroup(&cg);
        }
    });
    std::fs::write(
        format!("{t}/containers.conf"),
        format!(
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\nnetns = \"none\"\n\
             [network]\nnetwork_config_dir = \"{t}/net\"\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \"{t}/events.log\"\n\
             runtime = \"runc\"\ntmp_dir = \"{t}/ptmp\"\nvolume_path = \"{t}/vol\"\n"
        ),
    )
    .unwrap();
    let store = format!("[vfs@{t}/pr+{t}/prr]");
    let p = format!(
        "CONTAINERS_CONF={t}/containers.conf timeout 120 podman --root {t}/pr --runroot {t}/prr --tmpdir {t}/ptmp --storage-driver vfs"
    );
    let _reset = cttest::defer({
        let (p, t) = (p.clone(), t.clone());
        move || {
            let _ = cttest::sh(&format!(
                "{p} rm -af -t 0; {p} system reset -f; grep -o ' {t}/[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l"
            ));
        }
    });
    // skopeo's blob-info cache would go to /var/lib/containers/cache: a tmpfs over /var/lib in
    // a mount namespace of its own keeps it off the host
    sh_ok(&format!(
        "unshare -m --propagation private sh -c 'mount -t tmpfs ctools-podrun /var/lib && \
         timeout 120 skopeo copy -q oci:{t}/lay:1 containers-storage:{store}localhost/app:1'"
    ));
    let images = sh_ok(&format!(
        "{p} images --format '{{{{.Repository}}}}:{{{{.Tag}}}}'"
    ));
    assert_eq!(images, "localhost/app:1");
    let out = sh_ok(&format!(
        "{p} run --rm --cgroup-parent {cg} localhost/app:1 /bin/sh -c \
         'cat /only-here; ls /bin/true 2>&1; ls /bin/ls; cat /proc/self/cgroup; exit 0'"
    ));
    assert!(out.contains("only-here\n"), "the image's own file: {out}");
    assert!(
        out.lines()
            .any(|l| l.contains("/bin/true") && l.contains("No such file")),
        "the whiteout of /bin/true honoured: {out}"
    );
    assert!(out.contains("/bin/ls\n"), "the base layer beneath: {out}");
    let groups: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()) && l.contains(':'))
        .collect();
    assert!(
        !groups.is_empty()
            && groups
                .iter()
                .filter(|l| !l.contains("name=") && !l.starts_with("0::"))
                .all(|l| l.contains(&format!("{cg}/"))),
        "the container's cgroups lie beneath {cg}: {out}"
    );
    // podman removed the container; what is left (conmon's group) goes, and nothing remains
    sh_ok(&format!("{p} system reset -f"));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&t), "mounts left under {t}: {mounts}");
    let left = remove_cgroup(&cg);
    assert!(left.is_empty(), "cgroups not removable: {left:?}");
}
