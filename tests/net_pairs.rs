//! Setup and teardown in pairs: whatever `connect` (or `net veth add`)
//! sets up, `disconnect` (or `net veth del`, or `system prune --all`)
//! removes, the ports published to the member included, from the saved
//! records alone, in another process; a teardown of what is already gone
//! succeeds, and two at once both succeed. Also what `run` will need:
//! namespaces given by the path of their file, host ports chosen as Docker
//! does, and accept rules only where FORWARD really drops. Each test has
//! its own namespace playing the host (see tests/netlab).

mod common;
mod netlab;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use netlab::{Lab, addr_in, ping, sh, sh_ok, tcp_get, tcp_server};

/// Run `glassbox ARGS` twice at once; both outputs.
fn twice_at_once(lab: &Lab, args: &[&str]) -> (Output, Output) {
    let spawn = || {
        lab.glassbox()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn glassbox")
    };
    let (a, b) = (spawn(), spawn());
    (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
}

fn both_succeed(args: &[&str], (a, b): (Output, Output)) {
    common::assert_succeeded(args, &a);
    common::assert_succeeded(args, &b);
}

fn members(lab: &Lab, net: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(&lab.ok(&["network", "inspect", net])).unwrap();
    v[0]["Containers"].as_object().map_or(0, |m| m.len())
}

fn rules(lab: &Lab) -> String {
    lab.host_sh("nft list ruleset")
}

#[test]
fn two_teardowns_of_one_member_at_once_both_succeed_and_leave_nothing() {
    let mut lab = Lab::new();
    lab.host_sh("iptables -w -P FORWARD DROP");
    let (c1, c2, c3) = (lab.ns("c1"), lab.ns("c2"), lab.ns("c3"));
    lab.ok(&["network", "create", "--subnet", "10.80.0.0/24", "pair"]);
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.81.0.0/24"]);
    for round in 0..3 {
        // Docker's way, with a published port that must go too.
        lab.ok(&["network", "connect", "-p", "8080:80", "pair", &c1]);
        assert!(rules(&lab).contains("dport 8080"), "round {round}");
        let args = ["network", "disconnect", "pair", c1.as_str()];
        both_succeed(&args, twice_at_once(&lab, &args));
        assert_eq!(members(&lab, "pair"), 0, "round {round}");
        assert!(!rules(&lab).contains("dport 8080"), "round {round}");
        assert!(!Path::new(&format!("/etc/netns/{c1}")).exists());
        // By hand, on a bridge.
        lab.ok(&["net", "veth", "add", "--ns", &c2, "--bridge", &br]);
        let args = [
            "net",
            "veth",
            "del",
            "--ns",
            c2.as_str(),
            "--bridge",
            br.as_str(),
        ];
        both_succeed(&args, twice_at_once(&lab, &args));
        assert_eq!(members(&lab, &br), 0, "round {round}");
        // By hand, point to point.
        lab.ok(&["net", "veth", "add", "--ns", &c3, "--ip", "10.82.0.2/24"]);
        let args = ["net", "veth", "del", "--ns", c3.as_str()];
        both_succeed(&args, twice_at_once(&lab, &args));
        // Only the two bridges are left, and their accept rules.
        assert_eq!(
            lab.our_links().len(),
            2,
            "round {round}: {:?}",
            lab.our_links()
        );
    }
    // A teardown of what is already gone succeeds and says so.
    let out = lab.ok_stderr(&["network", "disconnect", "pair", &c1]);
    assert!(
        out.contains("is not connected to network pair: nothing to do"),
        "{out}"
    );
    let out = lab.ok_stderr(&["net", "veth", "del", "--ns", &c3]);
    assert!(out.contains("nothing to remove"), "{out}");
    lab.ok(&["network", "rm", "pair"]);
    lab.ok(&["net", "bridge", "del", &br]);
    assert!(lab.our_links().is_empty(), "{:?}", lab.our_links());
    assert!(lab.our_iptables_rules().is_empty());
    let ledger = std::fs::read_to_string(lab.root.path().join("run/resources.json")).unwrap();
    assert_eq!(ledger.trim(), "[]", "{ledger}");
}

#[test]
fn connect_publishes_and_disconnect_from_another_process_removes_it() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    lab.ok(&["network", "create", "--subnet", "10.83.0.0/24", "web"]);
    let out = lab.ok_stderr(&["network", "connect", "--publish", "1314:80", "web", &c1]);
    assert!(out.contains("published 1314:10.83.0.2:80/tcp"), "{out}");
    let _server = tcp_server(&c1, 80, "hello");
    let got = tcp_get(&lab.host, "127.0.0.1:1314").expect("the published port answers");
    assert!(got.starts_with("hello"), "{got}");
    // The teardown works from the saved lease: another process, which
    // knows only the member's name.
    let out = lab.ok_stderr(&["network", "disconnect", "web", &c1]);
    assert!(out.contains("unpublished 1314:10.83.0.2:80/tcp"), "{out}");
    assert!(tcp_get(&lab.host, "127.0.0.1:1314").is_err());
    assert!(!rules(&lab).contains("1314"));
    // A bad -p is refused before anything is made.
    let e = lab.fails(&["network", "connect", "-p", "8000-8001:80-82", "web", &c1]);
    assert!(
        e.contains("invalid ranges specified for container and host Ports: 80-82 and 8000-8001"),
        "{e}"
    );
    assert_eq!(members(&lab, "web"), 0);
    lab.ok(&["network", "rm", "web"]);
    assert!(lab.our_links().is_empty());
}

#[test]
fn veth_del_without_a_bridge_removes_a_bridged_member_too() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.84.0.0/24"]);
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    assert_eq!(lab.our_links().len(), 2);
    lab.ok(&["net", "veth", "del", "--ns", &c1]);
    assert_eq!(members(&lab, &br), 0);
    assert_eq!(lab.our_links(), vec![br.clone()]);
    assert!(!sh_ok(&format!(
        "ip -n {c1} link show eth0 >/dev/null 2>&1"
    )));
    lab.ok(&["net", "bridge", "del", &br]);
    assert!(lab.our_links().is_empty());
}

#[test]
fn prune_all_of_a_hand_made_network_drops_its_nat_and_ports() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.85.0.0/24"]);
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "nat", "on", "--subnet", "10.85.0.0/24"]);
    lab.ok(&["net", "publish", "8080:10.85.0.2:80"]);
    assert!(lab.nft_table_exists());
    lab.ok(&["system", "prune", "--all", "-f"]);
    assert!(lab.our_links().is_empty(), "{:?}", lab.our_links());
    assert!(!lab.nft_table_exists(), "the table outlived its network");
    let fw = std::fs::read_to_string(lab.root.path().join("firewall.json")).unwrap_or_default();
    assert!(
        !fw.contains("10.85.0."),
        "firewall.json keeps the network's rules: {fw}"
    );
    let ledger = std::fs::read_to_string(lab.root.path().join("run/resources.json")).unwrap();
    assert_eq!(ledger.trim(), "[]", "{ledger}");
    assert!(!lab.ok(&["net", "show"]).contains("10.85.0."));
    let doctor = lab.ok(&["doctor"]);
    let line = doctor.lines().find(|l| l.contains("leftovers")).unwrap();
    assert!(line.starts_with("ok"), "{line}");
}

/// A namespace file bind-mounted at `path` (as a container's pin is),
/// unmounted when dropped.
struct Pin(PathBuf);

impl Pin {
    fn new(ns: &str, path: PathBuf) -> Pin {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        sh(&format!("mount --bind /run/netns/{ns} {}", path.display()));
        Pin(path)
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_namespace_given_by_the_path_of_its_file_is_plugged_in_and_out() {
    let mut lab = Lab::new();
    let (c1, c2) = (lab.ns("c1"), lab.ns("c2"));
    let pins = tempfile::tempdir().unwrap();
    let pin = Pin::new(&c1, pins.path().join("web1/ns/net"));
    let pin_path = pin.0.display().to_string();
    let files = pins.path().join("web1/files");
    lab.ok(&["network", "create", "--subnet", "10.86.0.0/24", "bypath"]);
    let out = lab.ok_stderr(&[
        "network",
        "connect",
        "--hosts-dir",
        files.to_str().unwrap(),
        "bypath",
        &pin_path,
    ]);
    assert!(
        out.contains("web1 is on bypath as 10.86.0.2/24 (eth0)"),
        "{out}"
    );
    assert_eq!(addr_in(&c1, "eth0"), "10.86.0.2");
    let hosts = std::fs::read_to_string(files.join("hosts")).unwrap();
    assert!(hosts.contains("10.86.0.2\tweb1"), "{hosts}");
    // /proc/PID/ns/net as a path: a process in c2.
    let mut sleeper = Command::new("ip")
        .args(["netns", "exec", &c2, "sleep", "30"])
        .spawn()
        .unwrap();
    let proc_path = format!("/proc/{}/ns/net", sleeper.id());
    let out = lab.ok_stderr(&["network", "connect", "bypath", &proc_path]);
    assert!(
        out.contains(&format!(
            "pid-{} is on bypath as 10.86.0.3/24",
            sleeper.id()
        )),
        "{out}"
    );
    assert!(
        ping(&c2, "10.86.0.2"),
        "the two members cannot reach each other"
    );
    lab.ok(&["network", "disconnect", "bypath", &pin_path]);
    lab.ok(&["network", "disconnect", "bypath", &proc_path]);
    assert_eq!(members(&lab, "bypath"), 0);
    assert!(!sh_ok(&format!(
        "ip -n {c1} link show eth0 >/dev/null 2>&1"
    )));
    // By hand too, and a path that is no namespace is refused cleanly.
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.87.0.0/24"]);
    lab.ok(&["net", "veth", "add", "--ns", &pin_path, "--bridge", &br]);
    assert_eq!(addr_in(&c1, "eth0"), "10.87.0.2");
    lab.ok(&["net", "veth", "del", "--ns", &pin_path]);
    let not_ns = pins.path().join("web2/ns/net");
    std::fs::create_dir_all(not_ns.parent().unwrap()).unwrap();
    std::fs::write(&not_ns, b"").unwrap();
    let e = lab.fails(&["network", "connect", "bypath", not_ns.to_str().unwrap()]);
    assert!(e.contains("is it a network namespace?"), "{e}");
    assert_eq!(members(&lab, "bypath"), 0);
    lab.ok(&["net", "bridge", "del", &br]);
    lab.ok(&["network", "rm", "bypath"]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    drop(pin);
    assert!(lab.our_links().is_empty(), "{:?}", lab.our_links());
}

#[test]
fn a_host_port_left_open_is_a_free_one_of_the_ephemeral_range_and_answers() {
    let mut lab = Lab::new();
    let (c1, c2, c3) = (lab.ns("c1"), lab.ns("c2"), lab.ns("c3"));
    // Four ephemeral ports here: one a process holds, one published.
    lab.host_sh("sysctl -qw net.ipv4.ip_local_port_range=\"40000 40003\"");
    let _holder = tcp_server(&lab.host, 40000, "someone else");
    lab.ok(&["network", "create", "--subnet", "10.88.0.0/24", "rnd"]);
    lab.ok(&["network", "connect", "-p", "40001:80", "rnd", &c2]);
    let out = lab.ok_stderr(&["network", "connect", "-p", "80", "rnd", &c1]);
    let line = out
        .lines()
        .find(|l| l.contains("published"))
        .unwrap_or_else(|| panic!("no port published: {out}"));
    assert!(line.contains("published 40002:10.88.0.3:80/tcp"), "{line}");
    let _web = tcp_server(&c1, 80, "chosen");
    let got = tcp_get(&lab.host, "127.0.0.1:40002").expect("the chosen port answers");
    assert!(got.starts_with("chosen"), "{got}");
    // Two more ports than the range has left: refused, nothing made.
    let e = lab.fails(&["network", "connect", "-p", "80", "-p", "81", "rnd", &c3]);
    assert!(
        e.contains("no free host port for 81/tcp in 40000-40003"),
        "{e}"
    );
    assert_eq!(members(&lab, "rnd"), 2);
    assert!(!rules(&lab).contains("40003"));
    lab.ok(&["network", "disconnect", "rnd", &c1]);
    lab.ok(&["network", "disconnect", "rnd", &c2]);
    lab.ok(&["network", "rm", "rnd"]);
}

#[test]
fn accept_rules_are_added_only_where_forward_really_drops() {
    let mut lab = Lab::new();
    let (c1, c2) = (lab.ns("c1"), lab.ns("c2"));
    // Docker's chains, but a FORWARD that accepts everything.
    lab.host_sh(
        "iptables -w -N DOCKER-USER && iptables -w -A DOCKER-USER -j RETURN && \
         iptables -w -A FORWARD -j DOCKER-USER && iptables -w -P FORWARD ACCEPT",
    );
    let prefix = lab.names().link_prefix;
    let (br1, br2) = (format!("{prefix}n1"), format!("{prefix}n2"));
    let out = lab.ok_stderr(&["net", "bridge", "add", &br1, "--subnet", "10.89.0.0/24"]);
    assert!(!out.contains("FORWARD"), "{out}");
    assert!(
        lab.our_iptables_rules().is_empty(),
        "{:?}",
        lab.our_iptables_rules()
    );
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br1]);
    lab.ok(&["net", "veth", "add", "--ns", &c2, "--bridge", &br1]);
    assert!(
        ping(&c1, "10.89.0.3"),
        "bridged traffic must pass an accepting FORWARD"
    );
    lab.ok(&["net", "veth", "del", "--ns", &c1]);
    lab.ok(&["net", "veth", "del", "--ns", &c2]);
    // Now FORWARD drops: glassbox says so and accepts its own traffic in
    // DOCKER-USER, which FORWARD passes first.
    lab.host_sh("iptables -w -P FORWARD DROP");
    let out = lab.ok_stderr(&["net", "bridge", "add", &br2, "--subnet", "10.90.0.0/24"]);
    assert!(
        out.contains(
            "FORWARD drops bridged traffic here: adding glassbox's own accept rules to DOCKER-USER"
        ),
        "{out}"
    );
    let ours = lab.our_iptables_rules();
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(
        ours.iter().all(|r| r.starts_with("-A DOCKER-USER ")),
        "{ours:?}"
    );
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br2]);
    lab.ok(&["net", "veth", "add", "--ns", &c2, "--bridge", &br2]);
    assert!(
        ping(&c1, "10.90.0.3"),
        "bridged traffic dropped despite the accept rules"
    );
    lab.ok(&["net", "veth", "del", "--ns", &c1]);
    lab.ok(&["net", "veth", "del", "--ns", &c2]);
    lab.ok(&["net", "bridge", "del", &br1]);
    lab.ok(&["net", "bridge", "del", &br2]);
    assert!(lab.our_iptables_rules().is_empty());
    assert!(lab.our_links().is_empty());
}
