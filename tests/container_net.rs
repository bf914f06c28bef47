//! Containers on networks, as a user checks them: the network modes
//! (bridge, a user-defined network, host, none, `container:NAME`), names
//! between containers, `-p` in Docker's forms answered by busybox httpd,
//! `network connect/disconnect` of a running container, the container's
//! `/etc/hosts` and `/etc/resolv.conf`, and that a stop or `rm -f` takes
//! everything away. Each test runs glassbox in a namespace of its own
//! playing the host (tests/netlab); traffic goes only to loopback and to
//! the containers and namespaces the test made.

mod common;
mod netlab;

use std::net::UdpSocket;
use std::process::Output;
use std::time::Duration;

use netlab::ctr::{IMAGE, http_get, http_wait, httpd, inspect, inspect_json, members, net, veths};
use netlab::{Lab, sh, tcp_server};

/// Docker's fixed lines of every container's `/etc/hosts`.
const HOSTS_HEAD: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

fn network_inspect(lab: &Lab, net: &str) -> serde_json::Value {
    let out = lab.ok(&["network", "inspect", net]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("network inspect prints JSON");
    v[0].clone()
}

/// `run --rm IMAGE sh -c LINE` with `opts` before the image; its output.
fn run_sh(lab: &Lab, opts: &[&str], line: &str) -> Output {
    let mut args = vec!["run", "--rm"];
    args.extend(opts);
    args.extend([IMAGE, "sh", "-c", line]);
    lab.run(&args)
}

fn run_sh_ok(lab: &Lab, opts: &[&str], line: &str) -> String {
    let out = run_sh(lab, opts, line);
    common::assert_succeeded(&[line], &out);
    common::stdout(&out)
}

/// The first IPv4 address of `dev` in a container, seen from a container
/// sharing its namespace.
fn address_in(lab: &Lab, name: &str, dev: &str) -> Option<String> {
    let out = run_sh_ok(
        lab,
        &["--network", &format!("container:{name}")],
        &format!("ip -o -4 addr show dev {dev} 2>/dev/null || true"),
    );
    out.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .map(String::from)
}

/// The links of a container's namespace, by name.
fn links_of(lab: &Lab, name: &str) -> Vec<String> {
    let out = run_sh_ok(
        lab,
        &["--network", &format!("container:{name}")],
        "ip -o link",
    );
    out.lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

/// The nft table of this root, or "" when there is none.
fn rules(lab: &Lab) -> String {
    if !lab.nft_table_exists() {
        return String::new();
    }
    lab.host_sh(&format!("nft list table ip {}", lab.names().firewall_table))
}

/// Every name a hosts file gives an address.
fn names_in(hosts: &str) -> Vec<String> {
    hosts
        .lines()
        .flat_map(|l| l.split_whitespace().skip(1))
        .map(String::from)
        .collect()
}

/// A container's own hosts file, as glassbox keeps it on the host.
fn hosts_file(lab: &Lab, name: &str) -> String {
    let id = inspect(lab, name, "{{.Id}}");
    std::fs::read_to_string(lab.root.path().join("containers").join(id).join("hosts"))
        .expect("read the container's hosts file")
}

#[test]
fn user_network_members_reach_each_other_by_name_alias_and_short_id_and_the_default_bridge_does_not()
 {
    let lab = net();
    lab.ok(&["network", "create", "appnet"]);
    lab.ok(&[
        "run",
        "-d",
        "--network",
        "appnet",
        "--name",
        "web",
        "--network-alias",
        "www",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let short = &inspect(&lab, "web", "{{.Id}}")[..12];
    let ip = inspect(
        &lab,
        "web",
        "{{.NetworkSettings.Networks.appnet.IPAddress}}",
    );
    for name in ["web", "www", short] {
        let out = run_sh_ok(
            &lab,
            &["--network", "appnet"],
            &format!("ping -c1 -W2 {name}"),
        );
        assert!(
            out.contains(&format!("PING {name} ({ip})")),
            "{name}: {out}"
        );
        assert!(out.contains("1 packets received"), "{name}: {out}");
    }
    // inspect says which names the network answers for it.
    let v = inspect_json(&lab, "web");
    let names = &v["NetworkSettings"]["Networks"]["appnet"]["DNSNames"];
    assert_eq!(names, &serde_json::json!(["web", "www", short]), "{v}");

    // The default bridge: by address yes, by name no (Docker's rule).
    lab.ok(&["run", "-d", "--name", "alpha", IMAGE, "sleep", "1000"]);
    let alpha_ip = inspect(&lab, "alpha", "{{.NetworkSettings.IPAddress}}");
    assert!(alpha_ip.starts_with("172.17."), "{alpha_ip}");
    let out = run_sh_ok(&lab, &[], &format!("ping -c1 -W2 {alpha_ip}"));
    assert!(out.contains("1 packets received"), "{out}");
    let out = run_sh(&lab, &[], "ping -c1 -W1 alpha");
    assert!(
        !out.status.success(),
        "alpha resolved on the default bridge"
    );
    assert!(
        common::stderr(&out).contains("bad address 'alpha'"),
        "{out:?}"
    );
    // Nor does a user network member's name reach the default bridge.
    assert!(!run_sh(&lab, &[], "ping -c1 -W1 web").status.success());
}

#[test]
fn a_containers_hosts_file_is_dockers_with_its_hostname_and_keeps_add_host_through_rewrites() {
    let lab = net();
    // The default bridge: exactly Docker's file.
    let out = run_sh_ok(
        &lab,
        &["--hostname", "box", "--add-host", "db:10.0.0.5"],
        "cat /etc/hosts; echo; hostname; ip -o -4 addr show dev eth0",
    );
    let ip = out
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .expect("an address")
        .to_string();
    assert_eq!(
        out.split("\n\n").next().unwrap(),
        format!("{HOSTS_HEAD}10.0.0.5\tdb\n{ip}\tbox"),
        "{out}"
    );
    assert!(out.contains("\nbox\n"), "{out}");
    // Without --hostname, the hostname is the short id: its own line has it.
    lab.ok(&["run", "-d", "--name", "plain", IMAGE, "sleep", "1000"]);
    let short = inspect(&lab, "plain", "{{.Id}}")[..12].to_string();
    let plain_ip = inspect(&lab, "plain", "{{.NetworkSettings.IPAddress}}");
    assert_eq!(
        hosts_file(&lab, "plain"),
        format!("{HOSTS_HEAD}{plain_ip}\t{short}\n")
    );

    // On a user network its own line carries its hostname and its name;
    // --add-host lines stay while peers come and go.
    lab.ok(&["network", "create", "n1"]);
    lab.ok(&[
        "run",
        "-d",
        "--network",
        "n1",
        "--name",
        "keep",
        "--hostname",
        "keeper",
        "--add-host",
        "db:10.0.0.5",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let keep_ip = inspect(&lab, "keep", "{{.NetworkSettings.Networks.n1.IPAddress}}");
    assert_eq!(
        hosts_file(&lab, "keep"),
        format!("{HOSTS_HEAD}10.0.0.5\tdb\n{keep_ip}\tkeeper keep\n")
    );
    lab.ok(&[
        "run",
        "-d",
        "--network",
        "n1",
        "--name",
        "peer",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let peer_ip = inspect(&lab, "peer", "{{.NetworkSettings.Networks.n1.IPAddress}}");
    let peer_short = inspect(&lab, "peer", "{{.Id}}")[..12].to_string();
    let seen = run_sh_ok(&lab, &["--network", "container:keep"], "cat /etc/hosts");
    assert_eq!(
        seen,
        format!("{HOSTS_HEAD}10.0.0.5\tdb\n{keep_ip}\tkeeper keep\n{peer_ip}\tpeer {peer_short}\n")
    );
    lab.ok(&["rm", "-f", "peer"]);
    assert_eq!(
        hosts_file(&lab, "keep"),
        format!("{HOSTS_HEAD}10.0.0.5\tdb\n{keep_ip}\tkeeper keep\n")
    );
}

#[test]
fn resolv_conf_is_the_hosts_less_loopback_with_resolveds_upstream_and_dns_replacing_servers() {
    let lab = net();
    let dir = lab.root.path();
    let stub = dir.join("stub.conf");
    let upstream = dir.join("upstream.conf");
    std::fs::write(&stub, "nameserver 127.0.0.53\noptions edns0 trust-ad\n").unwrap();
    std::fs::write(
        &upstream,
        "nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch lab.test\n",
    )
    .unwrap();
    let resolv = |opts: &[&str]| -> String {
        let mut cmd = lab.glassbox();
        cmd.env("GLASSBOX_RESOLV_CONF", &stub)
            .env("GLASSBOX_SYSTEMD_RESOLV_CONF", &upstream)
            .args(["run", "--rm"])
            .args(opts)
            .args([IMAGE, "cat", "/etc/resolv.conf"]);
        let out = cmd.output().unwrap();
        common::assert_succeeded(opts, &out);
        common::stdout(&out)
    };
    // systemd-resolved's stub is replaced by the servers it forwards to.
    assert_eq!(
        resolv(&[]),
        "nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch lab.test\n"
    );
    // A user network's members get the same servers (names come from
    // their hosts files).
    lab.ok(&["network", "create", "n1"]);
    assert_eq!(
        resolv(&["--network", "n1"]),
        "nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch lab.test\n"
    );
    // --dns replaces the servers, the search domains stay.
    assert_eq!(
        resolv(&["--dns", "192.0.2.99"]),
        "nameserver 192.0.2.99\nsearch lab.test\n"
    );
    // The host's network: the host's file as it is, stub included.
    assert_eq!(
        resolv(&["--network", "host"]),
        "nameserver 127.0.0.53\noptions edns0 trust-ad\n"
    );
    // Other loopback servers just go.
    std::fs::write(
        &stub,
        "search corp.test\nnameserver 192.0.2.1\nnameserver 127.0.0.1\n",
    )
    .unwrap();
    assert_eq!(
        resolv(&["--network", "none"]),
        "search corp.test\nnameserver 192.0.2.1\n"
    );
    // A --dns that is no address is refused before anything is made.
    let err = lab.fails(&["run", "--rm", "--dns", "nope", IMAGE, "true"]);
    assert!(
        err.contains("invalid argument \"nope\" for \"--dns\" flag: nope is not an ip address"),
        "{err}"
    );
    assert_eq!(lab.ok(&["ps", "-aq"]), "");
}

#[test]
fn published_ports_in_every_docker_form_answer_and_ps_and_inspect_show_the_real_host_ports() {
    let mut lab = net();
    let (out, host_ip, _) = lab.outside();
    let id = lab
        .ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            "1314:80",
            "-p",
            "127.0.0.1:8080:80",
            "-p",
            "80",
            "-p",
            "8000-8001:80-81",
            "-p",
            "5353:53/udp",
            IMAGE,
            "sh",
            "-c",
            &format!(
                "{} && {} && sleep 1000",
                httpd(80, "hello 80"),
                httpd(81, "hello 81")
            ),
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "{id}");
    let v = inspect_json(&lab, "web");
    let ports = &v["NetworkSettings"]["Ports"];
    let host_ports = |key: &str| -> Vec<(String, String)> {
        ports[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} in {ports}"))
            .iter()
            .map(|b| {
                (
                    b["HostIp"].as_str().unwrap().to_string(),
                    b["HostPort"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let p80 = host_ports("80/tcp");
    let random = p80
        .iter()
        .map(|(_, p)| p.clone())
        .find(|p| !["1314", "8080", "8000"].contains(&p.as_str()))
        .expect("the host port chosen for -p 80");
    let random_n: u16 = random.parse().expect("a port number");
    let range = lab.host_sh("cat /proc/sys/net/ipv4/ip_local_port_range");
    let lo: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    assert!(random_n >= lo, "{random} below the ephemeral range {range}");
    let mut got = p80.clone();
    got.sort();
    let mut want = vec![
        ("0.0.0.0".to_string(), "1314".to_string()),
        ("127.0.0.1".into(), "8080".into()),
        ("0.0.0.0".into(), random.clone()),
        ("0.0.0.0".into(), "8000".into()),
    ];
    want.sort();
    assert_eq!(got, want, "{ports}");
    assert_eq!(
        host_ports("81/tcp"),
        [("0.0.0.0".into(), "8001".into())],
        "{ports}"
    );
    assert_eq!(
        host_ports("53/udp"),
        [("0.0.0.0".into(), "5353".into())],
        "{ports}"
    );
    // HostConfig keeps what was asked: -p 80 stays "any port".
    let asked = &v["HostConfig"]["PortBindings"]["80/tcp"];
    assert!(
        asked
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["HostPort"] == "" && b["HostIp"] == ""),
        "{asked}"
    );
    let ps = lab.ok(&["ps", "--format", "{{.Ports}}"]);
    for shown in [
        "0.0.0.0:1314->80/tcp",
        "127.0.0.1:8080->80/tcp",
        &format!("0.0.0.0:{random}->80/tcp"),
        "0.0.0.0:5353->53/udp",
    ] {
        assert!(ps.contains(shown), "{shown} not in {ps}");
    }
    assert!(
        ps.contains("0.0.0.0:8000-8001->80-81/tcp") || ps.contains("0.0.0.0:8000->80/tcp"),
        "{ps}"
    );

    // Every form answers, from the host (loopback and its address) and
    // from outside.
    http_wait(&lab.host, "127.0.0.1:1314").unwrap();
    http_wait(&lab.host, "127.0.0.1:8001").unwrap();
    for (ns, addr, want) in [
        (&lab.host, "127.0.0.1:1314".to_string(), "hello 80"),
        (&lab.host, format!("{host_ip}:1314"), "hello 80"),
        (&out, format!("{host_ip}:1314"), "hello 80"),
        (&lab.host, "127.0.0.1:8080".into(), "hello 80"),
        (&lab.host, format!("127.0.0.1:{random}"), "hello 80"),
        (&out, format!("{host_ip}:{random}"), "hello 80"),
        (&lab.host, "127.0.0.1:8000".into(), "hello 80"),
        (&lab.host, "127.0.0.1:8001".into(), "hello 81"),
    ] {
        assert_eq!(http_get(ns, &addr).as_deref(), Ok(want), "{ns} -> {addr}");
    }
    // 127.0.0.1:8080 is the host's loopback only.
    assert!(http_get(&out, &format!("{host_ip}:8080")).is_err());
    // UDP: an echo in the container's namespace, reached through 5353.
    let pid: u32 = inspect(&lab, "web", "{{.State.Pid}}").parse().unwrap();
    let _echo = udp_echo_in(&format!("/proc/{pid}/ns/net"), 53);
    assert_eq!(
        netlab::udp_ask(&lab.host, "127.0.0.1:5353", "ping").as_deref(),
        Ok("echo:ping")
    );
    assert_eq!(
        netlab::udp_ask(&out, &format!("{host_ip}:5353"), "far").as_deref(),
        Ok("echo:far")
    );

    // Stopped: nothing answers, no rule, no ports shown; HostConfig stays.
    lab.ok(&["stop", "-t", "1", "web"]);
    assert!(http_get(&lab.host, "127.0.0.1:1314").is_err());
    assert!(!rules(&lab).contains("dport 1314"), "{}", rules(&lab));
    assert_eq!(lab.ok(&["ps", "-a", "--format", "{{.Ports}}"]).trim(), "");
    let v = inspect_json(&lab, "web");
    assert_eq!(v["NetworkSettings"]["Ports"], serde_json::json!({}));
    assert_eq!(v["NetworkSettings"]["IPAddress"], "");
    assert!(v["HostConfig"]["PortBindings"]["80/tcp"].is_array());
    // Started again: it answers again, a host port chosen again for -p 80.
    lab.ok(&["start", "web"]);
    assert_eq!(
        http_wait(&lab.host, "127.0.0.1:8001").as_deref(),
        Ok("hello 81")
    );
    let again = inspect(&lab, "web", "{{json .NetworkSettings.Ports}}");
    assert!(again.contains("\"1314\""), "{again}");
}

/// A UDP echo server (`echo:` + the datagram) in the network namespace
/// at `path` (a container's), on `port`, until dropped.
fn udp_echo_in(path: &str, port: u16) -> EchoGuard {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let path = path.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let f = std::fs::File::open(&path).expect("open the container's namespace");
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let sock = UdpSocket::bind(("0.0.0.0", port)).expect("bind the udp echo");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 1500];
        while !s.load(std::sync::atomic::Ordering::SeqCst) {
            if let Ok((n, peer)) = sock.recv_from(&mut buf) {
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                let _ = sock.send_to(&reply, peer);
            }
        }
    });
    rx.recv().expect("echo started");
    EchoGuard {
        stop,
        thread: Some(thread),
    }
}

struct EchoGuard {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EchoGuard {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_port_in_use_is_refused_as_docker_does_the_container_left_created_and_nothing_else() {
    let lab = net();
    // A process of the host listens on 1400.
    let _listener = tcp_server(&lab.host, 1400, "the host's own");
    let out = lab.run(&[
        "run", "-d", "--name", "p1", "-p", "1400:80", IMAGE, "sleep", "1000",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = common::stderr(&out);
    assert!(
        err.contains("driver failed programming external connectivity on endpoint p1 ("),
        "{err}"
    );
    assert!(
        err.contains("listen tcp4 0.0.0.0:1400: bind: address already in use"),
        "{err}"
    );
    // Docker made the container, and left it Created: nothing else stays.
    assert_eq!(
        lab.ok(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}} {{.Status}} [{{.Ports}}]"
        ]),
        "p1 Created []\n"
    );
    assert_eq!(members(&lab, "bridge"), Vec::<String>::new());
    assert_eq!(veths(&lab), Vec::<String>::new());
    assert!(!rules(&lab).contains("1400"), "{}", rules(&lab));
    let v = inspect_json(&lab, "p1");
    assert_eq!(v["State"]["ExitCode"], 125);
    assert!(
        v["State"]["Error"]
            .as_str()
            .unwrap()
            .contains("address already in use")
    );

    // A port another container has: Docker's "already allocated".
    lab.ok(&[
        "run",
        "-d",
        "--name",
        "a1",
        "-p",
        "1500:80",
        IMAGE,
        "sh",
        "-c",
        &format!("{} && sleep 1000", httpd(80, "from a1")),
    ]);
    let out = lab.run(&[
        "run", "-d", "--name", "b1", "-p", "1500:80", IMAGE, "sleep", "1000",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = common::stderr(&out);
    assert!(
        err.contains("driver failed programming external connectivity on endpoint b1 (")
            && err.contains("Bind for 0.0.0.0:1500 failed: port is already allocated"),
        "{err}"
    );
    assert_eq!(members(&lab, "bridge"), ["a1"]);
    assert_eq!(veths(&lab).len(), 1);
    assert!(rules(&lab).contains("dport 1500"), "{}", rules(&lab));
    assert_eq!(
        http_wait(&lab.host, "127.0.0.1:1500").as_deref(),
        Ok("from a1")
    );
    // Once a1 is gone, b1 starts with the port.
    lab.ok(&["rm", "-f", "a1"]);
    lab.ok(&["start", "b1"]);
    let v = inspect_json(&lab, "b1");
    assert_eq!(
        v["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"], "1500",
        "{v}"
    );
}

#[test]
fn network_connect_adds_an_interface_to_a_running_container_and_disconnect_removes_it() {
    let lab = net();
    lab.ok(&["run", "-d", "--name", "web", IMAGE, "sleep", "1000"]);
    lab.ok(&["network", "create", "n2"]);
    lab.ok(&[
        "run",
        "-d",
        "--network",
        "n2",
        "--name",
        "client",
        IMAGE,
        "sleep",
        "1000",
    ]);
    assert_eq!(links_of(&lab, "web"), ["lo", "eth0"]);

    lab.ok(&["network", "connect", "--alias", "api", "n2", "web"]);
    assert_eq!(links_of(&lab, "web"), ["lo", "eth0", "eth1"]);
    let ip = inspect(&lab, "web", "{{.NetworkSettings.Networks.n2.IPAddress}}");
    assert_eq!(
        address_in(&lab, "web", "eth1").as_deref(),
        Some(ip.as_str())
    );
    // network inspect lists it by name, under its id.
    let id = inspect(&lab, "web", "{{.Id}}");
    let n2 = network_inspect(&lab, "n2");
    assert_eq!(n2["Containers"][&id]["Name"], "web", "{n2}");
    assert_eq!(
        n2["Containers"][&id]["IPv4Address"],
        format!("{ip}/16").as_str()
    );
    // A member of n2 reaches it by name and alias; its hosts file has both
    // of its networks' addresses.
    for name in ["web", "api"] {
        let out = run_sh_ok(&lab, &["--network", "n2"], &format!("ping -c1 -W2 {name}"));
        assert!(out.contains(&format!("({ip})")), "{out}");
    }
    let own = hosts_file(&lab, "web");
    let eth0 = inspect(
        &lab,
        "web",
        "{{.NetworkSettings.Networks.bridge.IPAddress}}",
    );
    assert!(own.contains(&format!("{eth0}\t{}\n", &id[..12])), "{own}");
    assert!(
        own.contains(&format!("{ip}\t{} web api\n", &id[..12])),
        "{own}"
    );
    // Docker's refusals.
    let e = lab.fails(&["network", "connect", "n2", "web"]);
    assert!(
        e.contains("endpoint with name web already exists in network n2"),
        "{e}"
    );
    let e = lab.fails(&["network", "connect", "nonet", "web"]);
    assert!(e.contains("network nonet not found"), "{e}");
    let e = lab.fails(&["network", "connect", "--alias", "x", "bridge", "client"]);
    assert!(
        e.contains(
            "network-scoped alias is supported only for containers in user defined networks"
        ),
        "{e}"
    );

    lab.ok(&["network", "disconnect", "n2", "web"]);
    assert_eq!(links_of(&lab, "web"), ["lo", "eth0"]);
    let nets = inspect_json(&lab, "web")["NetworkSettings"]["Networks"].clone();
    assert_eq!(
        nets.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["bridge"],
        "{nets}"
    );
    assert_eq!(members(&lab, "n2"), ["client"]);
    let n2 = network_inspect(&lab, "n2");
    assert!(n2["Containers"].get(&id).is_none(), "{n2}");
    assert!(
        !run_sh(&lab, &["--network", "n2"], "ping -c1 -W1 web")
            .status
            .success()
    );
    assert!(!names_in(&hosts_file(&lab, "client")).contains(&"web".to_string()));
    let e = lab.fails(&["network", "disconnect", "n2", "web"]);
    assert!(
        e.contains(&format!("container {id} is not connected to network n2")),
        "{e}"
    );

    // A stopped container is plugged in at its next start.
    lab.ok(&["stop", "-t", "1", "web"]);
    lab.ok(&["network", "connect", "n2", "web"]);
    assert_eq!(members(&lab, "n2"), ["client"]);
    lab.ok(&["start", "web"]);
    assert_eq!(links_of(&lab, "web"), ["lo", "eth0", "eth1"]);
    let out = run_sh_ok(&lab, &["--network", "n2"], "ping -c1 -W2 web");
    assert!(out.contains("1 packets received"), "{out}");

    // Modes with no networks of their own are refused, as Docker does.
    lab.ok(&[
        "run",
        "-d",
        "--name",
        "hostc",
        "--network",
        "host",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let e = lab.fails(&["network", "connect", "n2", "hostc"]);
    assert!(
        e.contains("container sharing network namespace with another container or host cannot be connected to any other network"),
        "{e}"
    );
    lab.ok(&[
        "run",
        "-d",
        "--name",
        "nn",
        "--network",
        "none",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let e = lab.fails(&["network", "connect", "n2", "nn"]);
    assert!(
        e.contains("container cannot be connected to multiple networks with one of the networks in private (none) mode"),
        "{e}"
    );
}

#[test]
fn host_none_and_container_modes_share_what_docker_shares() {
    let lab = net();
    // host: the host's interfaces (here the lab's, with a link the test
    // made) and the host's hostname and hosts file.
    lab.host_sh("ip link add gbtdummy0 type veth peer name gbtdummy1");
    let out = run_sh_ok(
        &lab,
        &["--network", "host"],
        "ip -o link; echo; hostname; echo; cat /etc/hosts",
    );
    let parts: Vec<&str> = out.split("\n\n").collect();
    assert!(parts[0].contains(": gbtdummy0@gbtdummy1:"), "{out}");
    let me = nix::unistd::gethostname().unwrap();
    assert_eq!(parts[1].trim(), me.to_str().unwrap());
    assert_eq!(
        parts[2],
        std::fs::read_to_string("/etc/hosts").unwrap(),
        "{out}"
    );
    // Ports mean nothing there: Docker's warning.
    let out = lab.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "80:80",
        IMAGE,
        "true",
    ]);
    assert!(
        common::stderr(&out).contains("Published ports are discarded when using host network mode"),
        "{out:?}"
    );

    // none: only lo, and it is up.
    let out = run_sh_ok(&lab, &["--network", "none"], "ip -o link");
    let links: Vec<&str> = out.lines().collect();
    assert_eq!(links.len(), 1, "{out}");
    assert!(
        links[0].starts_with("1: lo: <LOOPBACK,UP,LOWER_UP>"),
        "{out}"
    );

    // container:NAME: NAME's interfaces, hostname and hosts file.
    lab.ok(&[
        "run",
        "-d",
        "--name",
        "owner",
        "--hostname",
        "ownerbox",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let ip = inspect(&lab, "owner", "{{.NetworkSettings.IPAddress}}");
    let out = run_sh_ok(
        &lab,
        &["--network", "container:owner"],
        "ip -o -4 addr show dev eth0; hostname; echo $HOSTNAME; tail -n1 /etc/hosts",
    );
    assert!(out.contains(&format!("inet {ip}/16")), "{out}");
    assert!(
        out.contains(&format!("\nownerbox\nownerbox\n{ip}\townerbox\n")),
        "{out}"
    );
    // Options the shared namespace would ignore: Docker's conflict, no record.
    for (opt, val, word) in [
        ("--hostname", "x", "hostname"),
        ("--add-host", "db:10.0.0.5", "custom host-to-IP mapping"),
        ("--dns", "192.0.2.1", "dns"),
        ("-p", "80", "port publishing"),
    ] {
        let e = lab.fails(&[
            "run",
            "--network",
            "container:owner",
            opt,
            val,
            IMAGE,
            "true",
        ]);
        assert!(e.contains(&format!("conflicting options: {word}")), "{e}");
    }
    assert_eq!(lab.ok(&["ps", "-aq"]).lines().count(), 1);

    // A stopped NAME: Docker's message; `run` leaves nothing, `create`
    // makes the container, whose start is refused the same way.
    lab.ok(&["stop", "-t", "1", "owner"]);
    let id = inspect(&lab, "owner", "{{.Id}}");
    let out = lab.run(&[
        "run",
        "--name",
        "joiner",
        "--network",
        "container:owner",
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        common::stderr(&out).contains(&format!(
            "cannot join network of a non running container: {id}"
        )),
        "{out:?}"
    );
    assert_eq!(
        lab.ok(&["ps", "-aq"]).lines().count(),
        1,
        "run left nothing"
    );
    lab.ok(&[
        "create",
        "--name",
        "joiner",
        "--network",
        "container:owner",
        IMAGE,
        "true",
    ]);
    let out = lab.run(&["start", "joiner"]);
    assert!(
        common::stderr(&out).contains(&format!(
            "cannot join network of a non running container: {id}"
        )),
        "{out:?}"
    );
    assert_eq!(inspect(&lab, "joiner", "{{.State.Status}}"), "created");
    let out = lab.run(&[
        "run",
        "--rm",
        "--network",
        "container:nosuch",
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        common::stderr(&out).contains("No such container: nosuch"),
        "{out:?}"
    );
    // A network that does not exist: refused before anything is made.
    let out = lab.run(&[
        "run",
        "--name",
        "lost",
        "--network",
        "nosuch",
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        common::stderr(&out).contains("network nosuch not found"),
        "{out:?}"
    );
    assert!(!lab.run(&["inspect", "lost"]).status.success());
}

#[test]
fn paths_glassbox_writes_inside_the_root_never_follow_a_symlink_to_the_host() {
    let lab = net();
    // Host files an image's symlinks point to; they must not change.
    let host = lab.root.path().join("host-files");
    std::fs::create_dir(&host).unwrap();
    let files = ["resolv.conf", "hosts", "hostname"];
    for f in files {
        std::fs::write(host.join(f), format!("the host's own {f}\n")).unwrap();
    }
    let rootfs = lab.root.path().join("rootfs");
    for d in ["bin", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat", "hostname"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    for f in files {
        std::os::unix::fs::symlink(host.join(f), rootfs.join("etc").join(f)).unwrap();
    }
    lab.ok(&["image", "import", rootfs.to_str().unwrap(), "links:1"]);
    let show = "cat /etc/resolv.conf /etc/hosts; hostname";
    let out = lab.ok(&[
        "run",
        "--name",
        "l1",
        "--hostname",
        "inside",
        "links:1",
        "sh",
        "-c",
        show,
    ]);
    assert!(out.starts_with("nameserver 192.0.2.53\n"), "{out}");
    assert!(
        out.contains(HOSTS_HEAD) && out.ends_with("\tinside\ninside\n"),
        "{out}"
    );
    // The container's own layer may hold such links too (a container can
    // change its files; here, as if it had): its next start still writes
    // and mounts inside its root.
    let upper = std::path::PathBuf::from(inspect(&lab, "l1", "{{.GraphDriver.Data.UpperDir}}"));
    std::fs::create_dir_all(upper.join("etc")).unwrap();
    for f in files {
        let _ = std::fs::remove_file(upper.join("etc").join(f));
        std::os::unix::fs::symlink(host.join(f), upper.join("etc").join(f)).unwrap();
    }
    let out = lab.ok(&["start", "-a", "l1"]);
    assert!(out.starts_with("nameserver 192.0.2.53\n"), "{out}");
    assert!(out.ends_with("\tinside\ninside\n"), "{out}");
    for f in files {
        assert_eq!(
            std::fs::read_to_string(host.join(f)).unwrap(),
            format!("the host's own {f}\n"),
            "{f} on the host changed"
        );
    }
}

#[test]
fn a_stop_or_a_racing_rm_f_takes_the_lease_veth_ports_and_names_away_and_network_rm_waits_for_it() {
    let lab = net();
    lab.ok(&["network", "create", "n1"]);
    lab.ok(&[
        "run",
        "-d",
        "--network",
        "n1",
        "--name",
        "a1",
        "-p",
        "1600:80",
        IMAGE,
        "sleep",
        "1000",
    ]);
    lab.ok(&[
        "run",
        "-d",
        "--network",
        "n1",
        "--name",
        "b1",
        IMAGE,
        "sleep",
        "1000",
    ]);
    assert!(names_in(&hosts_file(&lab, "b1")).contains(&"a1".to_string()));
    assert_eq!(members(&lab, "n1"), ["a1", "b1"]);
    assert_eq!(veths(&lab).len(), 2);
    assert!(rules(&lab).contains("dport 1600"));

    // Docker refuses to remove a network with a running container.
    let e = lab.fails(&["network", "rm", "n1"]);
    assert!(
        e.contains("error while removing network: network n1 id ")
            && e.contains("has active endpoints"),
        "{e}"
    );

    lab.ok(&["stop", "-t", "1", "a1"]);
    assert_eq!(members(&lab, "n1"), ["b1"]);
    assert_eq!(veths(&lab).len(), 1);
    assert!(!rules(&lab).contains("dport 1600"), "{}", rules(&lab));
    assert!(!names_in(&hosts_file(&lab, "b1")).contains(&"a1".to_string()));
    assert_eq!(
        inspect(&lab, "a1", "{{.NetworkSettings.Networks.n1.IPAddress}}"),
        ""
    );

    // Racing `rm -f`: both succeed or one finds it gone; nothing is left.
    lab.ok(&["start", "a1"]);
    lab.ok(&[
        "run",
        "-d",
        "--network",
        "n1",
        "--name",
        "c1",
        "-p",
        "1601:80",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let racers: Vec<_> = ["a1", "a1", "b1", "b1", "c1", "c1"]
        .iter()
        .map(|n| {
            lab.glassbox()
                .args(["rm", "-f", n])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for r in racers {
        let out = r.wait_with_output().unwrap();
        if !out.status.success() {
            assert!(
                common::stderr(&out).contains("No such container"),
                "{}",
                common::stderr(&out)
            );
        }
    }
    assert_eq!(lab.ok(&["ps", "-aq"]), "");
    assert_eq!(members(&lab, "n1"), Vec::<String>::new());
    assert_eq!(members(&lab, "bridge"), Vec::<String>::new());
    assert_eq!(veths(&lab), Vec::<String>::new());
    assert!(!rules(&lab).contains("dport"), "{}", rules(&lab));
    let run = lab.root.path().join("run").join("containers");
    assert!(
        common::entries(&run).is_empty(),
        "{:?}",
        common::entries(&run)
    );
    // Now the network goes.
    lab.ok(&["network", "rm", "n1"]);
    let left = sh(&format!("ip -n {} -o link", lab.host));
    assert!(
        !left.contains(&format!("{}n", lab.names().link_prefix)),
        "{left}"
    );
}
