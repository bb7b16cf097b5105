//! `contain`'s networks (issue 16), for real, as root: the default network `bridge` and user
//! networks through the CNI plugins, published ports, names, isolation, the lifecycle.
//! Everything runs in the throwaway network namespace that `Env` binds the state root to
//! (it stands for the host); "outside" is a second throwaway namespace joined to it by a veth
//! with documentation addresses (198.51.100.0/24).  Every request is bounded in count and time.

mod contain_util;

use contain_util::{Env, stderr, stdout};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn root(test: &str) -> bool {
    cttest::require_root(&format!("e2e::contain_network::{test}"))
        && cttest::require(
            &format!("e2e::contain_network::{test}"),
            std::path::Path::new("/usr/lib/cni/bridge").exists(),
            "needs containernetworking-plugins (/usr/lib/cni)",
        )
}

/// A private state root bound to a throwaway host namespace, with an image holding busybox
/// (sh, ip, ping, nc, httpd) and a web root with a page.
fn setup(tag: &str) -> (Env, cttest::TempDir) {
    let env = Env::new(&format!("net-{tag}"));
    env.ok(&["build", "bb", "/bin/busybox"]);
    let www = cttest::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "hello from the container\n").unwrap();
    (env, www)
}

/// A command in the throwaway host namespace, two minutes at most.
fn host(env: &Env, program: &str, args: &[&str]) -> Output {
    let mut c = env.host_cmd(program);
    c.args(args);
    cttest::run_with_timeout(&mut c, Duration::from_secs(120))
}
fn host_sh(env: &Env, script: &str) -> String {
    let o = host(env, "sh", &["-c", script]);
    assert!(o.status.success(), "{script}: {}", stderr(&o));
    stdout(&o)
}

/// `busybox sh -c SCRIPT` in container NAME (exec).
fn in_ctr(env: &Env, name: &str, script: &str) -> Output {
    env.run(&["exec", name, "/bin/busybox", "sh", "-c", script])
}

/// The shell line of an HTTP GET / on IP:PORT with busybox nc (3 s), printing the body.
fn get_line(ip: &str, port: u16) -> String {
    format!(
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 busybox nc -w 3 {ip} {port} | sed '1,/^\\r\\?$/d'"
    )
}

/// GET / on IP:PORT from the host namespace, at most `tries` times 0.2 s apart while the
/// server is starting.
fn host_get(env: &Env, ip: &str, port: u16, tries: u32) -> String {
    let mut last = String::new();
    for _ in 0..tries {
        let o = host(env, "sh", &["-c", &get_line(ip, port)]);
        let body = stdout(&o);
        if !body.is_empty() {
            return body;
        }
        last = stderr(&o);
        std::thread::sleep(Duration::from_millis(200));
    }
    format!("FAILED: {last}")
}

fn web(env: &Env, www: &cttest::TempDir, name: &str, extra: &[&str]) -> String {
    let vol = format!("{}:/www", www.path().display());
    let mut a = vec!["run", "-d", "--name", name, "-v", &vol];
    a.extend_from_slice(extra);
    a.extend_from_slice(&[
        "bb",
        "/bin/busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    env.ok(&a).trim().to_string()
}

fn ip_of(env: &Env, name: &str) -> String {
    env.inspect(name)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The host namespace's links (without counters), rules and the lease directory.
fn net_state(env: &Env) -> String {
    let links = host_sh(
        env,
        "ip -d -o link | sed -E 's/^[0-9]+: //; s/<[^>]*>//; s/ state [A-Z]+//; s/ link-netnsid [0-9]+//; s/ [a-z_]*timer +[0-9.]+//g'",
    );
    let rules = host_sh(
        env,
        "iptables-save | grep -E '^-A|^:[^ ]+ (-|DROP) ' || true",
    );
    let leases = host_sh(
        env,
        &format!(
            "cd '{}' 2>/dev/null && find run -type f ! -path 'run/lock/*' | sort || true",
            env.state().display()
        ),
    );
    format!("{links}\n{rules}\n{leases}")
}

/// The fake outside: a namespace holding 198.51.100.1, joined to the host namespace
/// (198.51.100.2, its default route) by a veth.
struct Outside {
    holder: Child,
}
impl Outside {
    fn new(env: &Env) -> Outside {
        use std::io::BufRead;
        let mut holder = Command::new("unshare")
            .args([
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up && echo up && exec sleep 600",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid = holder.id();
        host_sh(
            env,
            &format!(
                "ip link add wan0 type veth peer name wanpeer && ip link set wanpeer netns {pid} && \
                 ip addr add 198.51.100.2/24 dev wan0 && ip link set wan0 up && \
                 ip route add default via 198.51.100.1 && \
                 nsenter --net=/proc/{pid}/ns/net sh -c 'ip addr add 198.51.100.1/24 dev wanpeer && ip link set wanpeer up'"
            ),
        );
        Outside { holder }
    }
    /// `busybox nc -l -p PORT` in the outside (a minute at most), once it listens: polled with
    /// ss for at most 30 s (a fixed pause before the client ran raced a loaded machine).
    fn listen(&self, port: u16) -> Child {
        let server = Command::new("nsenter")
            .arg(format!("--net=/proc/{}/ns/net", self.holder.id()))
            .args([
                "--",
                "timeout",
                "60",
                "busybox",
                "nc",
                "-l",
                "-p",
                &port.to_string(),
            ])
            // (a standard input that stays open: busybox nc -l may end at its input's EOF
            // before the connection's data is read, and print nothing)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let t0 = std::time::Instant::now();
        let filter = format!("sport = :{port}");
        while t0.elapsed() < Duration::from_secs(30) {
            let o = self.cmd(&["ss", "-Hltn", &filter]);
            if !o.stdout.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
    fn cmd(&self, args: &[&str]) -> Output {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/proc/{}/ns/net", self.holder.id()))
            .arg("--")
            .args(args);
        cttest::run_with_timeout(&mut c, Duration::from_secs(60))
    }
}
impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

#[test]
fn default_bridge_gives_eth0_an_address_and_a_default_route() {
    if !root("default_bridge_gives_eth0_an_address_and_a_default_route") {
        return;
    }
    let (env, _www) = setup("eth0");
    let out = env.ok(&[
        "run", "--rm", "--hostname", "box", "bb", "/bin/busybox", "sh", "-c",
        "ip -o -4 addr show eth0; ip route; cat /etc/hostname; grep box /etc/hosts; cat /proc/net/dev | grep -c eth0",
    ]);
    assert!(out.contains("inet 10.98."), "{out}");
    assert!(out.contains("default via 10.98.0.1 dev eth0"), "{out}");
    assert!(out.contains("box\n"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("10.98.") && l.ends_with("\tbox")),
        "{out}"
    );
    // the host side: the bridge contain0 with the gateway address
    let br = host_sh(&env, "ip -o -4 addr show contain0");
    assert!(br.contains("10.98.0.1/16"), "{br}");
    // --network none: lo only; host: the host namespace's links
    let none = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "bb",
        "/bin/busybox",
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(none.lines().count(), 1, "{none}");
    assert!(none.contains(": lo:"), "{none}");
    let hostnet = env.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "bb",
        "/bin/busybox",
        "ip",
        "-o",
        "link",
    ]);
    assert!(hostnet.contains("contain0"), "{hostnet}");
    // --rm left no address, namespace file or port behind
    let left = host_sh(
        &env,
        &format!(
            "ls -A '{0}/run/c' '{0}/run/ports'; ls '{0}/run/ipam/bridge'",
            env.state().display()
        ),
    );
    assert!(!left.contains("10.98."), "a lease is left: {left}");
}

#[test]
fn published_ports_from_the_host_and_localhost_and_conflicts_refused() {
    if !root("published_ports_from_the_host_and_localhost_and_conflicts_refused") {
        return;
    }
    let (env, www) = setup("ports");
    let out = Outside::new(&env);
    web(&env, &www, "w1", &["-p", "8080:80"]);
    assert_eq!(
        host_get(&env, "198.51.100.2", 8080, 50),
        "hello from the container\n"
    );
    assert_eq!(
        host_get(&env, "127.0.0.1", 8080, 5),
        "hello from the container\n"
    );
    // from outside, through the FORWARD policy DROP docker's hosts have
    host_sh(&env, "iptables -P FORWARD DROP");
    let o = out.cmd(&["sh", "-c", &get_line("198.51.100.2", 8080)]);
    assert_eq!(stdout(&o), "hello from the container\n", "{}", stderr(&o));
    // the container's own port is not reachable from outside without -p
    let ip = ip_of(&env, "w1");
    let direct = format!(
        "ip route add 10.98.0.0/16 via 198.51.100.2; {}",
        get_line(&ip, 80)
    );
    let o = out.cmd(&["sh", "-c", &direct]);
    assert_eq!(stdout(&o), "", "reached {ip}:80 directly");
    // contain port, inspect's Ports
    assert_eq!(env.ok(&["port", "w1"]), "80/tcp -> 0.0.0.0:8080\n");
    assert_eq!(env.ok(&["port", "w1", "80"]), "0.0.0.0:8080\n");
    let v = env.inspect("w1");
    assert_eq!(
        v["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
        "8080"
    );
    // the same host port twice: docker's refusal, and nothing started
    let o = env.run(&[
        "run",
        "-d",
        "--name",
        "w2",
        "-p",
        "8080:80",
        "bb",
        "/bin/busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("Bind for 0.0.0.0:8080 failed: port is already allocated"),
        "{}",
        stderr(&o)
    );
    assert_eq!(env.inspect("w2")["State"]["Status"], "created");
    // -p CTRPORT: an ephemeral host port, 127.0.0.1:PORT:CTRPORT
    web(&env, &www, "w3", &["-p", "80", "-p", "127.0.0.1:8081:80"]);
    let ports = env.ok(&["port", "w3"]);
    let eph: u16 = ports
        .lines()
        .find(|l| l.contains("0.0.0.0:"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{ports}"));
    assert!(eph >= 32768, "{ports}");
    assert!(ports.contains("80/tcp -> 127.0.0.1:8081"), "{ports}");
    assert_eq!(
        host_get(&env, "198.51.100.2", eph, 50),
        "hello from the container\n"
    );
    assert_eq!(
        host_get(&env, "127.0.0.1", 8081, 5),
        "hello from the container\n"
    );
    // after rm, the port is free again
    env.ok(&["rm", "-f", "w1", "w2"]);
    web(&env, &www, "w4", &["-p", "8080:80"]);
    assert_eq!(
        host_get(&env, "127.0.0.1", 8080, 50),
        "hello from the container\n"
    );
    env.ok(&["rm", "-f", "w3", "w4"]);
}

#[test]
fn outbound_nat_reaches_the_outside() {
    if !root("outbound_nat_reaches_the_outside") {
        return;
    }
    let (env, _www) = setup("nat");
    let out = Outside::new(&env);
    host_sh(&env, "iptables -P FORWARD DROP");
    // (a minute at most: on a loaded machine the container may start late)
    let server = out.listen(9000);
    let o = env.run(&[
        "run",
        "--rm",
        "bb",
        "/bin/busybox",
        "sh",
        "-c",
        // the listener may not be up yet on a loaded machine: at most 25 tries, 0.2 s apart
        "i=0; until echo from-the-container | nc -w 3 198.51.100.1 9000; do \
         i=$((i+1)); [ $i -ge 25 ] && break; sleep 0.2; done; echo tries $i; \
         ping -c 1 -W 3 198.51.100.1",
    ]);
    let got = server.wait_with_output().unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        "from-the-container\n",
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    // the outside saw the host's address (masquerade), never the container's
    let o = out.cmd(&["ip", "neigh"]);
    assert!(!stdout(&o).contains("10.98."), "{}", stdout(&o));
}

#[test]
fn user_networks_resolve_names_and_are_isolated() {
    if !root("user_networks_resolve_names_and_are_isolated") {
        return;
    }
    let (env, _www) = setup("user");
    let before = net_state(&env);
    env.ok(&["network", "create", "red"]);
    env.ok(&[
        "network",
        "create",
        "--subnet",
        "10.99.77.0/24",
        "--internal",
        "blue",
    ]);
    let ls = env.ok(&["network", "ls"]);
    assert!(
        ls.contains(" red ") && ls.contains(" blue ") && ls.contains(" bridge "),
        "{ls}"
    );
    let o = env.run(&["network", "create", "red"]);
    assert!(
        stderr(&o).contains("network with name red already exists"),
        "{}",
        stderr(&o)
    );
    for (n, net) in [("r1", "red"), ("r2", "red"), ("b1", "blue")] {
        env.ok(&[
            "run",
            "-d",
            "--name",
            n,
            "--network",
            net,
            "bb",
            "/bin/busybox",
            "sleep",
            "300",
        ]);
    }
    let b1 = ip_of(&env, "b1");
    assert!(b1.starts_with("10.99.77."), "{b1}");
    // by name, both ways, through /etc/hosts
    for (a, b) in [("r1", "r2"), ("r2", "r1")] {
        let o = in_ctr(&env, a, &format!("ping -c 1 -W 3 {b}"));
        assert!(
            o.status.success(),
            "{a} -> {b}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    // not across networks
    let o = in_ctr(&env, "r1", &format!("ping -c 1 -W 2 {b1}"));
    assert!(!o.status.success(), "red reached blue: {}", stdout(&o));
    // the hosts files follow the containers: r3 appears in r1's, then goes
    env.ok(&[
        "run",
        "-d",
        "--name",
        "r3",
        "--network",
        "red",
        "bb",
        "/bin/busybox",
        "sleep",
        "300",
    ]);
    let o = in_ctr(&env, "r1", "ping -c 1 -W 3 r3");
    assert!(o.status.success(), "{}", stderr(&o));
    env.ok(&["rm", "-f", "r3"]);
    let hosts = stdout(&in_ctr(&env, "r1", "cat /etc/hosts"));
    assert!(!hosts.contains("r3"), "{hosts}");
    // connect gives eth1 on blue, disconnect takes it away
    env.ok(&["network", "connect", "blue", "r1"]);
    let o = in_ctr(&env, "r1", "ip -o -4 addr show eth1; ping -c 1 -W 3 b1");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    env.ok(&["network", "disconnect", "blue", "r1"]);
    let o = in_ctr(&env, "r1", "ip link show eth1");
    assert!(!o.status.success(), "{}", stdout(&o));
    // inspect
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["network", "inspect", "red"])).unwrap();
    assert_eq!(v[0]["Name"], "red");
    assert_eq!(
        v[0]["Containers"].as_object().map(|m| m.len()),
        Some(2),
        "{v}"
    );
    let c = env.inspect("r1");
    assert!(
        c["NetworkSettings"]["Networks"]["red"]["IPAddress"]
            .as_str()
            .unwrap()
            .starts_with("10.99.")
    );
    // rm refuses while used; then everything goes, exactly as before
    let o = env.run(&["network", "rm", "red"]);
    assert!(
        stderr(&o).contains("has active endpoints"),
        "{}",
        stderr(&o)
    );
    env.ok(&["rm", "-f", "r1", "r2", "b1"]);
    env.ok(&["network", "rm", "red", "blue"]);
    env.ok(&["network", "prune", "-f"]);
    assert_eq!(
        before,
        net_state(&env),
        "network rm and prune left something"
    );
}

#[test]
fn stop_start_and_container_network_mode() {
    if !root("stop_start_and_container_network_mode") {
        return;
    }
    let (env, www) = setup("life");
    web(&env, &www, "s1", &["-p", "8090:80"]);
    assert_eq!(
        host_get(&env, "127.0.0.1", 8090, 50),
        "hello from the container\n"
    );
    // --network container:s1 shares s1's namespace: its address and its port 80
    // (a few tries: the machine may be slow)
    let mut got = String::new();
    for _ in 0..5 {
        let o = env.run(&[
            "run",
            "--rm",
            "--network",
            "container:s1",
            "bb",
            "/bin/busybox",
            "sh",
            "-c",
            "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 127.0.0.1 80",
        ]);
        got = format!("{}{}", stdout(&o), stderr(&o));
        if got.contains("hello from the container") {
            break;
        }
    }
    assert!(got.contains("hello from the container"), "{got}");
    env.ok(&["stop", "-t", "1", "s1"]);
    let v = env.inspect("s1");
    assert_eq!(
        v["NetworkSettings"]["IPAddress"], "",
        "the address is released: {v}"
    );
    let leases = host_sh(
        &env,
        &format!("ls '{}/run/ipam/bridge'", env.state().display()),
    );
    assert!(!leases.contains("10.98."), "{leases}");
    env.ok(&["start", "s1"]);
    assert_eq!(
        host_get(&env, "127.0.0.1", 8090, 50),
        "hello from the container\n"
    );
    env.ok(&["restart", "-t", "1", "s1"]);
    assert_eq!(
        host_get(&env, "127.0.0.1", 8090, 50),
        "hello from the container\n"
    );
    env.ok(&["rm", "-f", "s1"]);
}

/// `--network container:NAME` of a container that has no network file of its own (`--network
/// none`) joins that container's namespace, read from its pid 1, on the own chain and on a
/// runtime (where the chain's first process is the runtime's, in the host's namespace).
#[test]
fn container_mode_of_a_container_without_a_network_is_its_namespace() {
    if !root("container_mode_of_a_container_without_a_network_is_its_namespace") {
        return;
    }
    let (env, _www) = setup("cnone");
    env.ok(&[
        "run",
        "-d",
        "--name",
        "n1",
        "--network",
        "none",
        "bb",
        "/bin/busybox",
        "sleep",
        "60",
    ]);
    let ns = |o: Output| {
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_string()
    };
    let n1 = ns(in_ctr(&env, "n1", "readlink /proc/self/ns/net"));
    let joined = ns(env.run(&[
        "run",
        "--rm",
        "--network",
        "container:n1",
        "bb",
        "/bin/busybox",
        "readlink",
        "/proc/self/ns/net",
    ]));
    let host = host_sh(&env, "readlink /proc/self/ns/net");
    assert!(n1.starts_with("net:["), "{n1}");
    assert_eq!(joined, n1, "the joiner is in n1's namespace");
    assert_ne!(joined, host.trim(), "not in the host's");
    env.ok(&["rm", "-f", "n1"]);
}

#[test]
fn a_crashed_monitor_leaves_what_the_next_command_collects() {
    if !root("a_crashed_monitor_leaves_what_the_next_command_collects") {
        return;
    }
    let (env, _www) = setup("crash");
    env.ok(&["run", "--rm", "-p", "8095:80", "bb", "/bin/busybox", "true"]);
    let before = net_state(&env);
    let id = env.ok(&[
        "run",
        "-d",
        "--name",
        "k1",
        "-p",
        "8095:80",
        "bb",
        "/bin/busybox",
        "sleep",
        "300",
    ]);
    let id = id.trim();
    let run = std::fs::read_to_string(env.state().join("containers").join(id).join("run")).unwrap();
    let mpid: i32 = run
        .lines()
        .find_map(|l| l.strip_prefix("mpid "))
        .and_then(|p| p.trim().parse().ok())
        .expect("mpid");
    let v = env.inspect("k1");
    let pid = v["State"]["Pid"].as_i64().unwrap();
    // the monitor dies without its teardown, then its container
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(mpid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(
        before,
        net_state(&env),
        "the crash left its lease and rules"
    );
    // the next network command collects them; the port is free again
    env.ok(&["network", "ls"]);
    env.ok(&["rm", "-f", "k1"]);
    assert_eq!(before, net_state(&env));
    let o = env.run(&["run", "--rm", "-p", "8095:80", "bb", "/bin/busybox", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn twenty_containers_in_parallel_get_twenty_addresses() {
    if !root("twenty_containers_in_parallel_get_twenty_addresses") {
        return;
    }
    let (env, _www) = setup("par");
    env.ok(&["network", "create", "par"]);
    // the network's bridge and the plugins' shared chains are made by its first container
    env.ok(&[
        "run",
        "--rm",
        "--network",
        "par",
        "bb",
        "/bin/busybox",
        "true",
    ]);
    let before = net_state(&env);
    let kids: Vec<_> = (0..20)
        .map(|i| {
            let mut c = env.cmd();
            c.args([
                "run",
                "-d",
                "--name",
                &format!("p{i}"),
                "--network",
                "par",
                "bb",
                "/bin/busybox",
                "sleep",
                "300",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let mut ips: Vec<String> = (0..20).map(|i| ip_of(&env, &format!("p{i}"))).collect();
    assert!(ips.iter().all(|i| i.starts_with("10.99.")), "{ips:?}");
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 20, "{ips:?}");
    let names: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
    let mut a = vec!["rm", "-f"];
    a.extend(names.iter().map(String::as_str));
    env.ok(&a);
    assert_eq!(before, net_state(&env), "rm left something");
    env.ok(&["network", "rm", "par"]);
}

#[test]
fn hosts_resolv_conf_and_inspect_as_docker_writes_them() {
    if !root("hosts_resolv_conf_and_inspect_as_docker_writes_them") {
        return;
    }
    let (env, _www) = setup("files");
    let out = env.ok(&[
        "run",
        "--rm",
        "--hostname",
        "web1",
        "--add-host",
        "db.example:192.0.2.7",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.org",
        "--dns-option",
        "ndots:2",
        "bb",
        "/bin/busybox",
        "sh",
        "-c",
        "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; cat /etc/hostname",
    ]);
    let mut parts = out.split("---\n");
    let (hosts, resolv, hostname) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
    assert!(hosts.contains("192.0.2.7\tdb.example\n"), "{hosts}");
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with("10.98.") && l.ends_with("\tweb1")),
        "{hosts}"
    );
    assert_eq!(
        resolv,
        "nameserver 192.0.2.53\nsearch example.org\noptions ndots:2\n"
    );
    assert_eq!(hostname, "web1\n");
    // without --dns: the host's resolvers minus loopback ones
    let r = env.ok(&[
        "run",
        "--rm",
        "bb",
        "/bin/busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(!r.contains("nameserver 127."), "{r}");
    assert!(r.contains("nameserver "), "{r}");
    // inspect: NetworkSettings in docker's shape
    env.ok(&[
        "run",
        "-d",
        "--name",
        "i1",
        "bb",
        "/bin/busybox",
        "sleep",
        "60",
    ]);
    let v = env.inspect("i1");
    let ns = &v["NetworkSettings"];
    assert_eq!(ns["Gateway"], "10.98.0.1", "{ns}");
    assert_eq!(ns["IPPrefixLen"], 16, "{ns}");
    assert!(ns["MacAddress"].as_str().unwrap().len() == 17, "{ns}");
    assert_eq!(
        ns["Networks"]["bridge"]["IPAddress"], ns["IPAddress"],
        "{ns}"
    );
    assert_eq!(v["HostConfig"]["NetworkMode"], "bridge");
    let none = env.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "bb",
        "/bin/busybox",
        "sleep",
        "60",
    ]);
    let v = env.inspect(none.trim());
    assert!(v["NetworkSettings"]["Networks"]["none"].is_object(), "{v}");
    env.ok(&["rm", "-f", "i1", none.trim()]);
}

/// `contain ARGS` run by an unprivileged user (uid 65534, its state in `home`) in the
/// throwaway host namespace, in a private mount namespace where /dev/net/tun is a fresh node
/// of mode 0666, as a stock Debian has it (this machine's is 0600; it stays untouched).
fn user_contain(env: &Env, home: &std::path::Path, args: &[&str]) -> Output {
    let script = "mount -t tmpfs -o mode=755 tun \"$1/tun\" && mknod -m 666 \"$1/tun/tun\" c 10 200 && \
                  mount --bind \"$1/tun/tun\" /dev/net/tun && shift && \
                  exec setpriv --reuid=65534 --regid=65534 --clear-groups -- \"$@\"";
    let mut c = Command::new("nsenter");
    c.arg(format!(
        "--net={}",
        env.state().join("host-netns").display()
    ))
    .args([
        "--",
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        "sh",
    ])
    .arg(home)
    .arg(contain_util::contain_script())
    .args(args)
    .env("PATH", contain_util::test_path())
    .env("HOME", home)
    .env("CONTAIN_ROOT", home.join("state"))
    .env_remove("CONTAIN_CGROUP_PARENT")
    .env_remove("XDG_RUNTIME_DIR")
    .current_dir("/");
    cttest::run_with_timeout(&mut c, Duration::from_secs(120))
}

/// The pids of slirp4netns processes of uid 65534.
fn user_slirps() -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let p = e.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
        if comm.trim() == "slirp4netns"
            && status
                .lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("65534"))
        {
            v.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    v
}

#[test]
fn rootless_slirp4netns_gives_outbound_access_and_published_ports() {
    let t = "rootless_slirp4netns_gives_outbound_access_and_published_ports";
    if !root(t)
        || !cttest::require(
            &format!("e2e::contain_network::{t}"),
            std::path::Path::new("/usr/bin/slirp4netns").exists()
                && std::path::Path::new("/usr/bin/socat").exists(),
            "needs slirp4netns and socat",
        )
    {
        return;
    }
    let env = Env::new("net-rootless");
    let home = cttest::tempdir().unwrap();
    std::fs::create_dir(home.path().join("tun")).unwrap();
    let www = home.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello from a user's container\n").unwrap();
    for p in [home.path(), &www, &www.join("index.html")] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    let ok = |args: &[&str]| -> String {
        let o = user_contain(&env, home.path(), args);
        assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    };
    ok(&["build", "bb", "/bin/busybox"]);
    let out = Outside::new(&env);
    let before = net_state(&env);
    // tap0 with rootless podman's addresses, its default route, slirp4netns's resolver first
    let o = ok(&[
        "run",
        "--rm",
        "--network",
        "slirp4netns",
        "bb",
        "/bin/busybox",
        "sh",
        "-c",
        "ip -4 -o addr show tap0; ip route; head -n 1 /etc/resolv.conf; id -u",
    ]);
    assert!(o.contains("inet 10.0.2.100/24"), "{o}");
    assert!(o.contains("default via 10.0.2.2 dev tap0"), "{o}");
    assert!(o.contains("nameserver 10.0.2.3\n0\n"), "{o}");
    // outbound, to the fake outside; a user's `bridge` is slirp4netns's network
    // (a minute at most: on a loaded machine the container may start late)
    let server = out.listen(9000);
    let o = user_contain(
        &env,
        home.path(),
        &[
            "run",
            "--rm",
            "--network",
            "bridge",
            "bb",
            "/bin/busybox",
            "sh",
            "-c",
            "i=0; until echo from-a-user | nc -w 3 198.51.100.1 9000; do \
         i=$((i+1)); [ $i -ge 25 ] && break; sleep 0.2; done; echo tries $i",
        ],
    );
    let got = server.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        "from-a-user\n",
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    // -p: from the host's address, from 127.0.0.1 and from outside; `port`; the same host
    // port twice refused
    let vol = format!("{}:/www", www.display());
    ok(&[
        "run",
        "-d",
        "--name",
        "w",
        "--network",
        "slirp4netns",
        "-p",
        "8080:80",
        "-v",
        &vol,
        "bb",
        "/bin/busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert_eq!(
        host_get(&env, "127.0.0.1", 8080, 50),
        "hello from a user's container\n"
    );
    assert_eq!(
        host_get(&env, "198.51.100.2", 8080, 50),
        "hello from a user's container\n"
    );
    let o = out.cmd(&["sh", "-c", &get_line("198.51.100.2", 8080)]);
    assert_eq!(
        stdout(&o),
        "hello from a user's container\n",
        "{}",
        stderr(&o)
    );
    assert_eq!(ok(&["port", "w"]), "80/tcp -> 0.0.0.0:8080\n");
    let o = user_contain(
        &env,
        home.path(),
        &[
            "run",
            "-d",
            "--name",
            "w2",
            "--network",
            "slirp4netns",
            "-p",
            "8080:80",
            "bb",
            "/bin/busybox",
            "sleep",
            "30",
        ],
    );
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("port is already allocated"),
        "{}",
        stderr(&o)
    );
    assert!(!user_slirps().is_empty());
    ok(&["rm", "-f", "w", "w2"]);
    // nothing left: no slirp4netns, no state, the host namespace's links and rules as before
    assert_eq!(user_slirps(), Vec::<String>::new());
    let run = home.path().join("state/run");
    for d in ["c", "api", "ports"] {
        assert_eq!(
            std::fs::read_dir(run.join(d)).unwrap().count(),
            0,
            "{d} is not empty"
        );
    }
    assert_eq!(net_state(&env), before);
}
