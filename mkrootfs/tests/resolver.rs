//! The research notes' resolver pitfalls, each as a fixture built with `cc`
//! and checked against what the real loader does with it.

mod common;
use common::*;

use std::os::unix::fs::symlink;

macro_rules! need_cc {
    ($name:expr) => {
        if !cttest::require($name, have_cc(), "needs a C compiler (cc)") {
            return;
        }
    };
}

#[test]
fn a_runpath_is_not_inherited() {
    need_cc!("mkrootfs::a_runpath_is_not_inherited");
    let fx = Fx::new();
    fx.lib("d/libb.so.1", LIB_B, "");
    fx.lib("d/liba.so.1", LIB_A, "d/libb.so.1");
    fx.exe(
        "app",
        MAIN_A,
        &format!("d/liba.so.1 -Wl,--enable-new-dtags,-rpath,{}", fx.s("d")),
    );
    let got = agree(&fx.p("app"));
    let err = got.unwrap_err();
    assert!(
        err.contains("libb.so.1: not found") && err.contains("liba.so.1"),
        "{err}"
    );
}

#[test]
fn b_rpath_is_inherited() {
    need_cc!("mkrootfs::b_rpath_is_inherited");
    let fx = Fx::new();
    fx.lib("d/libb.so.1", LIB_B, "");
    fx.lib("d/liba.so.1", LIB_A, "d/libb.so.1");
    fx.exe(
        "app",
        MAIN_A,
        &format!("d/liba.so.1 -Wl,--disable-new-dtags,-rpath,{}", fx.s("d")),
    );
    let got = agree(&fx.p("app")).unwrap();
    assert!(got.contains(&fx.s("d/libb.so.1")), "{got:?}");
}

#[test]
fn own_rpath_before_parents() {
    need_cc!("mkrootfs::own_rpath_before_parents");
    let fx = Fx::new();
    fx.lib("p/libb.so.1", LIB_B, "");
    fx.lib("own/libb.so.1", LIB_B, "");
    fx.lib(
        "a/liba.so.1",
        LIB_A,
        &format!(
            "own/libb.so.1 -Wl,--disable-new-dtags,-rpath,{}",
            fx.s("own")
        ),
    );
    fx.exe(
        "app",
        MAIN_A,
        &format!(
            "a/liba.so.1 -Wl,--disable-new-dtags,-rpath,{}:{}",
            fx.s("a"),
            fx.s("p")
        ),
    );
    let got = agree(&fx.p("app")).unwrap();
    assert!(got.contains(&fx.s("own/libb.so.1")), "{got:?}");
}

#[test]
fn rpath_over_library_path_over_runpath() {
    need_cc!("mkrootfs::rpath_over_library_path_over_runpath");
    let fx = Fx::new();
    for d in ["r", "env", "run"] {
        fx.lib(&format!("{d}/libb.so.1"), LIB_B, "");
    }
    // RPATH (inherited by liba) wins over LD_LIBRARY_PATH.
    fx.lib("a/liba.so.1", LIB_A, "r/libb.so.1");
    fx.exe(
        "app",
        MAIN_A,
        &format!(
            "a/liba.so.1 -Wl,--disable-new-dtags,-rpath,{}:{}",
            fx.s("a"),
            fx.s("r")
        ),
    );
    let lp = fx.s("env");
    let want = oracle(&fx.p("app"), &[("LD_LIBRARY_PATH", &lp)]).unwrap();
    assert_eq!(ours(&fx.p("app"), &[&lp]).unwrap(), want);
    assert!(want.contains(&fx.s("r/libb.so.1")));
    // LD_LIBRARY_PATH wins over RUNPATH.
    fx.exe(
        "app2",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
        &format!(
            "run/libb.so.1 -Wl,--enable-new-dtags,-rpath,{}",
            fx.s("run")
        ),
    );
    let want = oracle(&fx.p("app2"), &[("LD_LIBRARY_PATH", &lp)]).unwrap();
    assert_eq!(ours(&fx.p("app2"), &[&lp]).unwrap(), want);
    assert!(want.contains(&fx.s("env/libb.so.1")));
    // Without it, RUNPATH.
    assert!(
        agree(&fx.p("app2"))
            .unwrap()
            .contains(&fx.s("run/libb.so.1"))
    );
}

#[test]
fn h_soname_reuse_any_order() {
    need_cc!("mkrootfs::h_soname_reuse_any_order");
    let fx = Fx::new();
    fx.lib("d/libb.so.1", LIB_B, "");
    fx.lib("d/liba.so.1", LIB_A, "d/libb.so.1");
    let rp = format!(
        "-Wl,--enable-new-dtags,-rpath,{} -Wl,--no-as-needed",
        fx.s("d")
    );
    fx.exe("app1", MAIN_A, &format!("{rp} d/libb.so.1 d/liba.so.1"));
    fx.exe("app2", MAIN_A, &format!("{rp} d/liba.so.1 d/libb.so.1"));
    for app in ["app1", "app2"] {
        let got = agree(&fx.p(app)).unwrap();
        assert!(got.contains(&fx.s("d/libb.so.1")), "{app}: {got:?}");
    }
}

#[test]
fn soname_differs_from_file_name() {
    need_cc!("mkrootfs::soname_differs_from_file_name");
    let fx = Fx::new();
    // app NEEDs liba.so.1 and /abs/q/libq-impl.so (no soname at link time);
    // the file is then rebuilt with soname libq.so.1, which liba NEEDs and
    // can only get by DT_SONAME reuse.
    fx.write("q.c", LIB_B);
    fx.write("a.c", LIB_A);
    fx.write("main.c", MAIN_A);
    let q = fx.s("q/libq-impl.so");
    fx.cc_v(&["-shared", "-fPIC", "-o", &q, "q.c"]);
    fx.cc("-shared -fPIC -o tmp/libq.so.1 -Wl,-soname,libq.so.1 q.c");
    fx.cc("-shared -fPIC -o a/liba.so.1 -Wl,-soname,liba.so.1 a.c tmp/libq.so.1");
    fx.cc_v(&[
        "-o",
        "app",
        "main.c",
        "-Wl,--no-as-needed",
        "a/liba.so.1",
        &q,
        &format!("-Wl,--enable-new-dtags,-rpath,{}", fx.s("a")),
    ]);
    fx.cc_v(&["-shared", "-fPIC", "-o", &q, "-Wl,-soname,libq.so.1", "q.c"]);
    std::fs::remove_dir_all(fx.p("tmp")).unwrap();
    let got = agree(&fx.p("app")).unwrap();
    assert!(got.contains(&q), "{got:?}");
}

#[test]
fn c_origin_and_version_chain_run_in_chroot() {
    need_cc!("mkrootfs::c_origin_and_version_chain_run_in_chroot");
    let fx = Fx::new();
    fx.lib("lib/libb.so.1.2.3", LIB_B, "");
    // versioned chain
    std::fs::remove_file(fx.p("lib/libb.so.1.2.3")).unwrap();
    fx.write("b2.c", LIB_B);
    fx.cc("-shared -fPIC -o lib/libb.so.1.2.3 -Wl,-soname,libb.so.1 b2.c");
    symlink("libb.so.1.2.3", fx.p("lib/libb.so.1")).unwrap();
    symlink("libb.so.1", fx.p("lib/libb.so")).unwrap();
    fx.write(
        "m.c",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
    );
    fx.cc("-o bin/app m.c -Llib -lb -Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib");
    let got = agree(&fx.p("bin/app")).unwrap();
    assert!(
        got.iter().any(|p| p.ends_with("/bin/../lib/libb.so.1")),
        "{got:?}"
    );
    // lnk: a symlink to the exe from elsewhere still finds $ORIGIN by realpath.
    std::fs::create_dir_all(fx.p("elsewhere")).unwrap();
    symlink(fx.p("bin/app"), fx.p("elsewhere/app")).unwrap();
    agree(&fx.p("elsewhere/app")).unwrap();
    if !cttest::require_root("mkrootfs::c_origin_and_version_chain_run_in_chroot") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path().join("r");
    ok(&mkrootfs(&[r.to_str().unwrap(), &fx.s("elsewhere/app")]));
    // the chain is kept as links, the symlinked input as link plus target
    let inner = |p: &str| r.join(p.trim_start_matches('/'));
    assert!(inner(&fx.s("lib/libb.so.1")).is_symlink());
    assert!(inner(&fx.s("lib/libb.so.1.2.3")).is_file());
    assert!(inner(&fx.s("elsewhere/app")).is_symlink());
    // The executable's $ORIGIN comes from /proc/self/exe: without /proc it
    // cannot be expanded, with it the symlinked program runs.
    let o = chroot(&r, &[&fx.s("elsewhere/app")]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("libb.so.1"),
        "{o:?}"
    );
    let o = chroot_proc(&r, &[&fx.s("elsewhere/app")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = chroot_proc(&r, &[&fx.s("bin/app")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn o_library_origin_is_where_found() {
    need_cc!("mkrootfs::o_library_origin_is_where_found");
    let fx = Fx::new();
    fx.lib("real/sub/libf.so.1", "int ff(void){return 2;}\n", "");
    fx.lib(
        "real/libe.so.1",
        "int ff(void); int fb(void){return ff();}\n",
        "real/sub/libf.so.1 -Wl,--enable-new-dtags,-rpath,$ORIGIN/sub",
    );
    // libe is found through a symlinked dir where $ORIGIN/sub does not exist.
    std::fs::create_dir_all(fx.p("view")).unwrap();
    symlink(fx.p("real/libe.so.1"), fx.p("view/libe.so.1")).unwrap();
    fx.write(
        "m.c",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
    );
    fx.cc(&format!(
        "-o app m.c real/libe.so.1 -Wl,-rpath-link,{} -Wl,--enable-new-dtags,-rpath,{}",
        fx.s("real/sub"),
        fx.s("view")
    ));
    let e = agree(&fx.p("app")).unwrap_err();
    assert!(e.contains("libf.so.1"), "{e}");
}

#[test]
fn e_lib_and_brace_tokens() {
    need_cc!("mkrootfs::e_lib_and_brace_tokens");
    let fx = Fx::new();
    let env = mkrootfs::ldconf::loader_env(Some("/lib64/ld-linux-x86-64.so.2"), 62, 2);
    let libdir = format!("x/{}", env.dst_lib);
    fx.lib(&format!("{libdir}/libb.so.1"), LIB_B, "");
    fx.write(
        "m.c",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
    );
    fx.cc_v(&[
        "-o",
        "app",
        "m.c",
        &format!("{libdir}/libb.so.1"),
        "-Wl,--enable-new-dtags,-rpath,${ORIGIN}/x/${LIB}",
    ]);
    fx.cc_v(&[
        "-o",
        "app2",
        "m.c",
        &format!("{libdir}/libb.so.1"),
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN/x/$LIB",
    ]);
    assert_eq!(agree(&fx.p("app")).unwrap().len(), 2);
    assert_eq!(agree(&fx.p("app2")).unwrap().len(), 2);
}

#[test]
fn g_wrong_machine_earlier_in_path_is_skipped() {
    need_cc!("mkrootfs::g_wrong_machine_earlier_in_path_is_skipped");
    let fx = Fx::new();
    fx.lib("good/libb.so.1", LIB_B, "");
    // A hand-made copy with e_machine = AArch64 (183), first in the path.
    let mut bytes = std::fs::read(fx.p("good/libb.so.1")).unwrap();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes());
    std::fs::create_dir_all(fx.p("bad")).unwrap();
    std::fs::write(fx.p("bad/libb.so.1"), bytes).unwrap();
    fx.write(
        "m.c",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
    );
    fx.cc(&format!(
        "-o app m.c good/libb.so.1 -Wl,--enable-new-dtags,-rpath,{}:{}",
        fx.s("bad"),
        fx.s("good")
    ));
    assert!(
        agree(&fx.p("app"))
            .unwrap()
            .contains(&fx.s("good/libb.so.1"))
    );
    // Only the wrong one: both fail, and we say why.
    fx.cc(&format!(
        "-o app2 m.c good/libb.so.1 -Wl,--enable-new-dtags,-rpath,{} -Wl,-z,nodefaultlib",
        fx.s("bad")
    ));
    let e = agree(&fx.p("app2")).unwrap_err();
    assert!(e.contains("wrong ELF class or machine"), "{e}");
}

#[test]
fn nodefaultlib_skips_system_dirs() {
    need_cc!("mkrootfs::nodefaultlib_skips_system_dirs");
    let fx = Fx::new();
    fx.lib("d/libb.so.1", LIB_B, "");
    fx.write(
        "m.c",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
    );
    // libc comes from the cache normally; with nodefaultlib it cannot.
    fx.cc(&format!(
        "-o app m.c d/libb.so.1 -Wl,--enable-new-dtags,-rpath,{} -Wl,-z,nodefaultlib",
        fx.s("d")
    ));
    let e = agree(&fx.p("app")).unwrap_err();
    assert!(e.contains("libc.so.6"), "{e}");
    fx.cc(&format!(
        "-o app2 m.c d/libb.so.1 -Wl,--enable-new-dtags,-rpath,{}",
        fx.s("d")
    ));
    agree(&fx.p("app2")).unwrap();
}

#[test]
fn n_no_section_headers() {
    need_cc!("mkrootfs::n_no_section_headers");
    let fx = Fx::new();
    fx.lib("d/libb.so.1", LIB_B, "");
    fx.write(
        "m.c",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
    );
    fx.cc(&format!(
        "-o app m.c d/libb.so.1 -Wl,--enable-new-dtags,-rpath,{}",
        fx.s("d")
    ));
    let mut b = std::fs::read(fx.p("app")).unwrap();
    b[40..48].fill(0); // e_shoff
    b[60..64].fill(0); // e_shnum, e_shstrndx
    std::fs::write(fx.p("app"), &b).unwrap();
    let o = std::process::Command::new("readelf")
        .arg("-S")
        .arg(fx.p("app"))
        .output();
    if let Ok(o) = o {
        assert!(String::from_utf8_lossy(&o.stdout).contains("no sections"));
    }
    assert!(agree(&fx.p("app")).unwrap().contains(&fx.s("d/libb.so.1")));
}

#[test]
fn p_absolute_needed_with_spaces() {
    need_cc!("mkrootfs::p_absolute_needed_with_spaces");
    let fx = Fx::new();
    fx.write("b.c", LIB_B);
    std::fs::create_dir_all(fx.p("with space")).unwrap();
    let lib = fx.s("with space/lib b.so");
    fx.cc_v(&["-shared", "-fPIC", "-o", &lib, "b.c"]); // no soname: NEEDED is the path
    fx.write(
        "m.c",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
    );
    fx.cc_v(&["-o", "my app", "m.c", &lib]);
    let got = agree(&fx.p("my app")).unwrap();
    assert!(got.contains(&lib), "{got:?}");
    if !cttest::require_root("mkrootfs::p_absolute_needed_with_spaces") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path().join("r");
    ok(&mkrootfs(&[r.to_str().unwrap(), &fx.s("my app")]));
    let o = chroot(&r, &[&fx.s("my app")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn s_static_and_static_pie() {
    need_cc!("mkrootfs::s_static_and_static_pie");
    let fx = Fx::new();
    fx.write(
        "m.c",
        "#include <stdio.h>\nint main(void){ puts(\"static ok\"); return 0; }\n",
    );
    let o = std::process::Command::new("cc")
        .current_dir(fx.dir.path())
        .args(["-static", "-o", "st", "m.c"])
        .output()
        .unwrap();
    if !cttest::require(
        "mkrootfs::s_static_and_static_pie",
        o.status.success(),
        "needs libc.a (libc6-dev)",
    ) {
        return;
    }
    fx.cc("-static-pie -o stpie m.c");
    for exe in ["st", "stpie"] {
        let info = mkrootfs::elf::parse(&fx.p(exe)).unwrap().unwrap();
        assert!(info.interp.is_none() && info.needed.is_empty());
        assert!(ours(&fx.p(exe), &[]).unwrap().is_empty());
    }
    let root = tempfile::tempdir().unwrap();
    let r = root.path().join("r");
    let out = ok(&mkrootfs(&[
        "-n",
        "--json",
        r.to_str().unwrap(),
        &fx.s("st"),
        &fx.s("stpie"),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files = v["files"].as_array().unwrap();
    assert!(
        !files
            .iter()
            .any(|f| f["path"].as_str().unwrap().contains("ld-linux")),
        "no loader for static"
    );
    assert!(!r.exists(), "dry run writes nothing");
    if !cttest::require_root("mkrootfs::s_static_and_static_pie") {
        return;
    }
    ok(&mkrootfs(&[
        "--no-etc",
        r.to_str().unwrap(),
        &fx.s("st"),
        &fx.s("stpie"),
    ]));
    for exe in ["st", "stpie"] {
        let o = chroot(&r, &[&fx.s(exe)]);
        assert_eq!(String::from_utf8_lossy(&o.stdout), "static ok\n");
    }
}

#[test]
fn library_input_mode_0644_is_scanned() {
    need_cc!("mkrootfs::library_input_mode_0644_is_scanned");
    let fx = Fx::new();
    fx.lib("d/libb.so.1", LIB_B, "");
    fx.lib(
        "d/liba.so.1",
        LIB_A,
        &format!("d/libb.so.1 -Wl,--enable-new-dtags,-rpath,{}", fx.s("d")),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(fx.p("d/liba.so.1"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let got = ours(&fx.p("d/liba.so.1"), &[]).unwrap();
    assert!(got.contains(&fx.s("d/libb.so.1")), "{got:?}");
    let root = tempfile::tempdir().unwrap();
    let out = ok(&mkrootfs(&[
        "-n",
        root.path().join("r").to_str().unwrap(),
        &fx.s("d/liba.so.1"),
    ]));
    assert!(out.contains(&fx.s("d/libb.so.1")), "{out}");
}

#[test]
fn unresolved_names_chain_and_dirs_and_leaves_nothing() {
    need_cc!("mkrootfs::unresolved_names_chain_and_dirs_and_leaves_nothing");
    let fx = Fx::new();
    fx.lib("d/libb.so.1", LIB_B, "");
    fx.lib("d/liba.so.1", LIB_A, "d/libb.so.1");
    fx.exe(
        "app",
        MAIN_A,
        &format!("d/liba.so.1 -Wl,--enable-new-dtags,-rpath,{}", fx.s("d")),
    );
    let root = tempfile::tempdir().unwrap();
    let r = root.path().join("r");
    let o = mkrootfs(&[r.to_str().unwrap(), "/bin/true", &fx.s("app")]);
    assert_eq!(o.status.code(), Some(125));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.starts_with("mkrootfs: libb.so.1: not found, needed by "),
        "{e}"
    );
    assert!(e.contains(&format!("{} -> liba.so.1", fx.s("app"))), "{e}");
    assert!(
        e.contains("searched:") && e.contains("/lib/x86_64-linux-gnu") || e.contains("searched:"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
    assert!(!r.exists(), "nothing left behind");
    let o = mkrootfs(&["-o", r.to_str().unwrap(), "/no/such/program"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(!r.exists());
}

#[test]
fn scripts_bring_their_interpreters() {
    let fx = Fx::new();
    fx.write("s.sh", "#!/bin/sh\necho hi\n");
    fx.write("p.py", "#!/usr/bin/env python3\nprint(1)\n");
    let root = tempfile::tempdir().unwrap();
    let out = ok(&mkrootfs(&[
        "-n",
        "--json",
        root.path().join("r").to_str().unwrap(),
        &fx.s("s.sh"),
        &fx.s("p.py"),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let paths: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/bin"), "{paths:?}");
    assert!(
        paths.contains(&"/usr/bin/sh") && paths.contains(&"/usr/bin/env"),
        "{paths:?}"
    );
    let py = ctcore::exec::which("python3".as_ref()).unwrap();
    let py = py.to_string_lossy();
    assert!(paths.iter().any(|p| *p == py.as_ref()), "{py} in {paths:?}");
    // chain recorded
    let sh = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/usr/bin/sh")
        .unwrap();
    assert_eq!(sh["chain"][1], "/bin/sh");
}

#[test]
fn pthread_exit_needs_libgcc_s() {
    need_cc!("mkrootfs::pthread_exit_needs_libgcc_s");
    if !cttest::require_root("mkrootfs::pthread_exit_needs_libgcc_s") {
        return;
    }
    let fx = Fx::new();
    fx.exe("pt", "#include <pthread.h>\nstatic void *f(void *a){ pthread_exit(a); }\nint main(void){ pthread_t t; pthread_create(&t,0,f,0); pthread_join(t,0); return 0; }\n", "-pthread");
    let root = tempfile::tempdir().unwrap();
    let r = root.path().join("r");
    ok(&mkrootfs(&[r.to_str().unwrap(), &fx.s("pt")]));
    let o = chroot(&r, &[&fx.s("pt")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Pitfall 27: for every dynamic ELF in /usr/bin, the same files as
/// `ld.so --list` (realpaths compared, vDSO ignored).
#[test]
fn differential_against_ld_so_list() {
    let ld = "/lib64/ld-linux-x86-64.so.2";
    if !std::path::Path::new(ld).exists() {
        return;
    }
    let mut n = 0;
    let mut bad = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir("/usr/bin")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for p in names {
        let Ok(Some(info)) = mkrootfs::elf::parse(&p) else {
            continue;
        };
        if info.interp.as_deref() != Some(ld) || p.is_symlink() {
            continue;
        }
        let v = std::process::Command::new(ld)
            .arg("--verify")
            .arg(&p)
            .status()
            .unwrap();
        if v.code() != Some(0) {
            continue;
        }
        let out = std::process::Command::new(ld)
            .arg("--list")
            .arg(&p)
            .env_clear()
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let want: std::collections::BTreeSet<String> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let path = l.split_once(" => ").map_or(l, |(_, r)| r);
                let path = path.rsplit_once(" (0x").map_or(path, |(a, _)| a);
                path.starts_with('/')
                    .then(|| std::fs::canonicalize(path).unwrap().display().to_string())
            })
            .collect();
        let mut r = mkrootfs::resolve::Resolver::default();
        let got: std::collections::BTreeSet<String> = match r.closure(&p, &[]) {
            Ok(v) => v
                .iter()
                .map(|f| {
                    std::fs::canonicalize(&f.path)
                        .unwrap()
                        .display()
                        .to_string()
                })
                .collect(),
            Err(e) => {
                bad.push(format!("{}: {e:#}", p.display()));
                continue;
            }
        };
        n += 1;
        if got != want {
            bad.push(format!("{}: ld.so {want:?} vs ours {got:?}", p.display()));
        }
    }
    eprintln!(
        "differential: {n} programs compared, {} mismatches",
        bad.len()
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(n > 10);
}

/// Pitfall 18: a library found only through ld.so.cache, outside the
/// built-in directories, is flagged, and the root gets its own cache.
#[test]
fn library_outside_system_dirs_needs_a_cache() {
    need_cc!("mkrootfs::library_outside_system_dirs_needs_a_cache");
    let fx = Fx::new();
    fx.lib("opt/x/lib/libb.so.1", LIB_B, "");
    fx.write(
        "m.c",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
    );
    fx.cc("-o app m.c opt/x/lib/libb.so.1");
    let mut env = mkrootfs::ldconf::loader_env(Some("/lib64/ld-linux-x86-64.so.2"), 62, 2);
    let mut cache = env.cache.clone().unwrap_or_default();
    cache.insert("libb.so.1".into(), vec![fx.s("opt/x/lib/libb.so.1")]);
    env.cache = Some(cache);
    let mut r = mkrootfs::resolve::Resolver::default();
    r.set_env(env);
    let found = r.closure(&fx.p("app"), &[]).unwrap();
    let b = found
        .iter()
        .find(|f| f.path.ends_with("libb.so.1"))
        .unwrap();
    assert!(b.via_cache);
    assert!(
        found
            .iter()
            .filter(|f| !f.path.ends_with("libb.so.1"))
            .all(|f| !f.via_cache)
    );
    if !cttest::require_root("mkrootfs::library_outside_system_dirs_needs_a_cache") {
        return;
    }
    // The root: the program, its libraries, and an ld.so.conf naming the dir.
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("r");
    ok(&mkrootfs(&[root.to_str().unwrap(), "/bin/true"]));
    std::fs::copy(fx.p("app"), root.join("usr/bin/app")).unwrap();
    std::fs::create_dir_all(root.join("opt/x/lib")).unwrap();
    std::fs::copy(
        fx.p("opt/x/lib/libb.so.1"),
        root.join("opt/x/lib/libb.so.1"),
    )
    .unwrap();
    std::fs::write(root.join("etc/ld.so.conf"), "/opt/x/lib\n").unwrap();
    let o = chroot(&root, &["/usr/bin/app"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("libb.so.1"),
        "fails without a cache"
    );
    mkrootfs::ldconfig(&root).unwrap();
    let o = chroot(&root, &["/usr/bin/app"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn platform_token() {
    need_cc!("mkrootfs::platform_token");
    let fx = Fx::new();
    let env = mkrootfs::ldconf::loader_env(Some("/lib64/ld-linux-x86-64.so.2"), 62, 2);
    let dir = format!("p/{}", env.platform);
    fx.lib(&format!("{dir}/libb.so.1"), LIB_B, "");
    fx.write(
        "m.c",
        "int fb(void); int main(void){ return fb() == 2 ? 0 : 1; }\n",
    );
    fx.cc_v(&[
        "-o",
        "app",
        "m.c",
        &format!("{dir}/libb.so.1"),
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN/p/$PLATFORM",
    ]);
    assert!(
        agree(&fx.p("app"))
            .unwrap()
            .iter()
            .any(|p| p.ends_with(&format!("{dir}/libb.so.1")))
    );
}

/// `.note.dlopen` (systemd's ELF_DLOPEN_METADATA): required and recommended
/// sonames are added (the first one found), suggested ones are not.
#[test]
fn dlopen_note_is_followed() {
    need_cc!("mkrootfs::dlopen_note_is_followed");
    let fx = Fx::new();
    fx.lib("d/libplug.so.1", LIB_B, "");
    fx.lib("d/libsugg.so.1", LIB_B, "");
    let json = r#"[{\"feature\":\"p\",\"soname\":[\"libnope.so.9\",\"libplug.so.1\"],\"priority\":\"required\"},{\"soname\":[\"libsugg.so.1\"],\"priority\":\"suggested\"}]"#;
    let src = format!(
        "#define J \"{json}\"\nstruct n {{ unsigned a, b, c; char name[4]; char desc[(sizeof(J) + 3) & ~3]; }};\n\
         __attribute__((section(\".note.dlopen\"), aligned(4), used)) static const struct n note = {{ 4, sizeof(J), 0x407c0c0a, \"FDO\", J }};\n\
         int main(void) {{ return 0; }}\n"
    );
    fx.write("m.c", &src);
    fx.cc(&format!(
        "-o app m.c -Wl,--enable-new-dtags,-rpath,{}",
        fx.s("d")
    ));
    let info = mkrootfs::elf::parse(&fx.p("app")).unwrap().unwrap();
    assert_eq!(
        info.dlopen,
        vec![vec!["libnope.so.9".to_string(), "libplug.so.1".to_string()]]
    );
    let got = ours(&fx.p("app"), &[]).unwrap();
    assert!(got.contains(&fx.s("d/libplug.so.1")), "{got:?}");
    assert!(!got.contains(&fx.s("d/libsugg.so.1")), "{got:?}");
    assert!(
        std::process::Command::new(fx.p("app"))
            .status()
            .unwrap()
            .success()
    );
}
