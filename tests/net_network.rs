//! Docker's network commands: `network ls/create/inspect/connect/
//! disconnect/rm/prune`, names between members, parallel attachments and
//! subnet choice. Each test has its own namespace playing the host.

mod common;
mod netlab;

use std::collections::BTreeSet;
use std::process::Child;

use netlab::{Lab, inode, ping, sh, sh_ok};

fn inspect(lab: &Lab, net: &str) -> serde_json::Value {
    let out = lab.ok(&["network", "inspect", net]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect prints JSON");
    v[0].clone()
}

/// `getent hosts NAME` as the member `ns` sees it (`ip netns exec` binds
/// /etc/netns/NS/hosts over /etc/hosts).
fn resolve(ns: &str, name: &str) -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "getent", "hosts", name])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    s.split_whitespace().next().map(|s| s.to_string())
}

#[test]
fn ls_and_inspect_look_like_docker() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    let id = lab.ok(&["network", "create", "mynet"]).trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let resolv = lab.root.path().join("resolv.src");
    std::fs::write(&resolv, "nameserver 192.0.2.53\n").unwrap();
    lab.ok(&[
        "network",
        "connect",
        "--resolv-conf",
        resolv.to_str().unwrap(),
        "mynet",
        &c1,
    ]);
    let ls = lab.ok(&["network", "ls"]);
    let raw = lab.ok(&["network", "inspect", "mynet"]);
    let v = inspect(&lab, "mynet");
    assert_eq!(v["Id"], id.as_str());
    let prefix = lab.names().link_prefix;
    insta::with_settings!({filters => vec![
        (r"\b[0-9a-f]{64}\b", "[id]"),
        (r"\b[0-9a-f]{12}\b", "[short-id]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", "[created]"),
        (prefix.as_str(), "[gb]"),
        (r"\[gb\]n[0-9a-f]{6}", "[gb]n[hash]"),
        (r"([0-9a-f]{2}:){5}[0-9a-f]{2}", "[mac]"),
        (c1.as_str(), "[c1]"),
    ]}, {
        insta::assert_snapshot!("network_ls", ls);
        insta::assert_snapshot!("network_inspect", raw);
    });
    // Docker's fields and the member with its address.
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "172.18.0.0/16");
    assert_eq!(v["IPAM"]["Config"][0]["Gateway"], "172.18.0.1");
    let members: Vec<_> = v["Containers"].as_object().unwrap().values().collect();
    assert_eq!(members[0]["IPv4Address"], "172.18.0.2/16");
    // resolv.conf came from the configured source, naming no real server.
    let rc = std::fs::read_to_string(format!("/etc/netns/{c1}/resolv.conf")).unwrap();
    assert_eq!(rc, "nameserver 192.0.2.53\n");
    let e = lab.fails(&["network", "rm", "mynet"]);
    assert!(e.contains("has active endpoints"), "{e}");
    lab.ok(&["network", "disconnect", "mynet", &c1]);
    assert_eq!(lab.ok(&["network", "rm", "mynet"]).trim(), "mynet");
    assert!(lab.our_links().is_empty(), "{:?}", lab.our_links());
    assert!(!lab.nft_table_exists());
    let e = lab.fails(&["network", "inspect", "mynet"]);
    assert!(e.contains("network mynet not found"), "{e}");
}

#[test]
fn members_reach_each_other_by_name_on_user_networks_only() {
    let mut lab = Lab::new();
    let (c1, c2, c3, c4) = (lab.ns("c1"), lab.ns("c2"), lab.ns("c3"), lab.ns("c4"));
    lab.ok(&["network", "create", "--subnet", "10.70.0.0/24", "mynet"]);
    lab.ok(&["network", "connect", "mynet", &c1]);
    lab.ok(&["network", "connect", "--alias", "db", "mynet", &c2]);
    assert_eq!(resolve(&c1, &c2).as_deref(), Some("10.70.0.3"));
    assert_eq!(resolve(&c1, "db").as_deref(), Some("10.70.0.3"));
    assert!(ping(&c1, "10.70.0.3"));
    // A newcomer is known to a running member at once, in the same file.
    let hosts = format!("/etc/netns/{c1}/hosts");
    let before = inode(&hosts);
    lab.ok(&["network", "connect", "mynet", &c3]);
    assert_eq!(resolve(&c1, &c3).as_deref(), Some("10.70.0.4"));
    assert_eq!(inode(&hosts), before, "hosts must be rewritten in place");
    lab.ok(&["network", "disconnect", "mynet", &c3]);
    assert_eq!(resolve(&c1, &c3), None);
    assert!(!std::path::Path::new(&format!("/etc/netns/{c3}")).exists());
    // The default bridge gives no names (Docker's rule).
    lab.ok(&["network", "connect", "bridge", &c1]);
    lab.ok(&["network", "connect", "bridge", &c4]);
    assert_eq!(resolve(&c1, &c4), None);
    assert_eq!(resolve(&c4, &c1), None);
    // c1 is on both networks now: it keeps its first one.
    assert_eq!(resolve(&c1, &c2).as_deref(), Some("10.70.0.3"));
    let e = lab.fails(&["network", "connect", "mynet", &c1]);
    assert!(e.contains("already exists in network mynet"), "{e}");
    for (n, c) in [
        ("mynet", &c1),
        ("mynet", &c2),
        ("bridge", &c1),
        ("bridge", &c4),
    ] {
        lab.ok(&["network", "disconnect", n, c]);
    }
    lab.ok(&["network", "rm", "mynet"]);
    assert!(
        lab.our_links()
            .iter()
            .all(|l| l == &lab.names().default_bridge)
    );
}

#[test]
fn twenty_parallel_attachments_get_twenty_addresses_and_clean_up() {
    let mut lab = Lab::new();
    lab.host_sh("iptables -w -P FORWARD DROP");
    lab.ok(&["network", "create", "--subnet", "10.71.0.0/24", "par"]);
    let members: Vec<String> = (0..20).map(|i| lab.ns(&format!("m{i}"))).collect();
    // `network VERB par M` for every member at once; all must succeed.
    let all_at_once = |verb: &str| {
        let kids: Vec<Child> = members
            .iter()
            .map(|m| {
                lab.glassbox()
                    .args(["network", verb, "par", m])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for k in kids {
            let out = k.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", common::stderr(&out));
        }
    };
    all_at_once("connect");
    let v = inspect(&lab, "par");
    let addrs: BTreeSet<String> = v["Containers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["IPv4Address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(addrs.len(), 20, "{addrs:?}");
    assert_eq!(lab.our_links().len(), 21, "bridge + 20 veths");
    assert!(ping(&members[0], "10.71.0.21") || ping(&members[0], "10.71.0.2"));
    all_at_once("disconnect");
    assert_eq!(lab.our_links().len(), 1, "{:?}", lab.our_links());
    let v = inspect(&lab, "par");
    assert!(v["Containers"].as_object().unwrap().is_empty());
    for m in &members {
        assert!(!std::path::Path::new(&format!("/etc/netns/{m}")).exists());
    }
    lab.ok(&["network", "rm", "par"]);
    assert!(lab.our_links().is_empty());
    assert!(lab.our_iptables_rules().is_empty());
    assert!(!lab.nft_table_exists());
    let ledger = std::fs::read_to_string(lab.root.path().join("run/resources.json")).unwrap();
    assert_eq!(ledger.trim(), "[]", "{ledger}");
}

#[test]
fn subnet_choice_skips_an_existing_route() {
    let lab = Lab::new();
    // Docker's docker0 subnet is already routed here.
    lab.host_sh("ip link add dock0 type veth peer name dock1 && ip addr add 172.17.0.1/16 dev dock0 && ip link set dock0 up");
    lab.ok(&["network", "create", "n1"]);
    // glassbox's default bridge takes the first free subnet, n1 the next.
    assert_eq!(
        inspect(&lab, "bridge")["IPAM"]["Config"][0]["Subnet"],
        "172.18.0.0/16"
    );
    assert_eq!(
        inspect(&lab, "n1")["IPAM"]["Config"][0]["Subnet"],
        "172.19.0.0/16"
    );
    lab.ok(&["network", "create", "n2"]);
    assert_eq!(
        inspect(&lab, "n2")["IPAM"]["Config"][0]["Subnet"],
        "172.20.0.0/16"
    );
    let e = lab.fails(&["network", "create", "--subnet", "172.17.5.0/24", "n3"]);
    assert!(e.contains("overlaps 172.17.0.0/16"), "{e}");
    let e = lab.fails(&["network", "create", "n1"]);
    assert!(e.contains("network with name n1 already exists"), "{e}");
    let e = lab.fails(&["network", "create", "--subnet", "10.1.2.3/33", "n4"]);
    assert!(e.contains("invalid subnet"), "{e}");
    let e = lab.fails(&["network", "rm", "bridge"]);
    assert!(e.contains("pre-defined"), "{e}");
    let e = lab.fails(&["network", "connect", "host", "x"]);
    assert!(e.contains("host network"), "{e}");
    let e = lab.fails(&[
        "network",
        "create",
        "--subnet",
        "10.74.0.0/24",
        "--gateway",
        "10.75.0.1",
        "n5",
    ]);
    assert!(e.contains("not a host address of subnet"), "{e}");
    lab.ok(&[
        "network",
        "create",
        "--subnet",
        "10.74.0.0/24",
        "--gateway",
        "10.74.0.254",
        "gw",
    ]);
    assert_eq!(
        inspect(&lab, "gw")["IPAM"]["Config"][0]["Gateway"],
        "10.74.0.254"
    );
    let bridge = inspect(&lab, "gw")["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        lab.host_sh(&format!("ip -4 addr show dev {bridge}"))
            .contains("10.74.0.254/24")
    );
    let pruned = lab.ok(&["network", "prune", "-f"]);
    assert!(pruned.contains("n1") && pruned.contains("n2"), "{pruned}");
    assert!(lab.our_links().is_empty());
    assert!(sh_ok(&format!("ip -n {} link del dock0", lab.host)));
    let _ = sh;
}

#[test]
fn a_failure_half_way_leaves_no_lease_and_nothing_of_someone_else_removed() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    lab.ok(&["network", "create", "--subnet", "10.72.0.0/24", "half"]);
    // Someone else's link already has the name the host end would take.
    let taken = glassbox::net::ifname::veth_host(&lab.names().link_prefix, "half", &c1);
    lab.host_sh(&format!("ip link add {taken} type veth peer name othr0"));
    let e = lab.fails(&["network", "connect", "half", &c1]);
    assert!(e.contains("already exists"), "{e}");
    let v = inspect(&lab, "half");
    assert!(
        v["Containers"].as_object().unwrap().is_empty(),
        "the lease was not released: {v}"
    );
    assert!(
        sh_ok(&format!("ip -n {} link show {taken} >/dev/null", lab.host)),
        "someone else's link was removed"
    );
    assert!(!std::path::Path::new(&format!("/etc/netns/{c1}")).exists());
    lab.host_sh(&format!("ip link del {taken}"));
    lab.ok(&["network", "connect", "half", &c1]);
    lab.ok(&["network", "disconnect", "half", &c1]);
    lab.ok(&["network", "rm", "half"]);
}

#[test]
fn with_docker_present_accept_rules_go_to_docker_user_and_dockers_rules_stay() {
    let mut lab = Lab::new();
    // What dockerd sets up in the filter table.
    lab.host_sh(
        "iptables -w -N DOCKER-USER && iptables -w -A DOCKER-USER -j RETURN && \
         iptables -w -N DOCKER && iptables -w -A FORWARD -j DOCKER-USER && \
         iptables -w -A FORWARD -o docker0 -j DOCKER && iptables -w -P FORWARD DROP",
    );
    let before: Vec<String> = lab
        .host_sh("iptables -w -S")
        .lines()
        .map(String::from)
        .collect();
    let (c1, c2) = (lab.ns("c1"), lab.ns("c2"));
    lab.ok(&["network", "create", "--subnet", "10.73.0.0/24", "dk"]);
    lab.ok(&["network", "connect", "dk", &c1]);
    lab.ok(&["network", "connect", "dk", &c2]);
    assert!(
        ping(&c1, "10.73.0.3"),
        "members cannot ping under Docker's rules"
    );
    let ours = lab.our_iptables_rules();
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(
        ours.iter().all(|r| r.starts_with("-A DOCKER-USER ")),
        "{ours:?}"
    );
    let during: Vec<String> = lab
        .host_sh("iptables -w -S")
        .lines()
        .map(String::from)
        .collect();
    for rule in &before {
        assert!(during.contains(rule), "Docker's rule {rule} changed");
    }
    lab.ok(&["network", "disconnect", "dk", &c1]);
    lab.ok(&["network", "disconnect", "dk", &c2]);
    lab.ok(&["network", "rm", "dk"]);
    let after: Vec<String> = lab
        .host_sh("iptables -w -S")
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(before, after, "teardown must leave exactly Docker's rules");
}

#[test]
fn disconnect_removes_the_ports_published_to_the_member_so_the_next_member_does_not_inherit_them() {
    let mut lab = Lab::new();
    let (c1, c2) = (lab.ns("c1"), lab.ns("c2"));
    lab.ok(&["network", "create", "--subnet", "10.73.0.0/24", "pubnet"]);
    lab.ok(&["network", "connect", "pubnet", &c1]);
    lab.ok(&["net", "publish", "1317:10.73.0.2:80"]);
    assert!(lab.host_sh("nft list ruleset").contains("dport 1317"));
    lab.ok(&["network", "disconnect", "pubnet", &c1]);
    let rules = lab.host_sh("nft list ruleset");
    assert!(
        !rules.contains("1317"),
        "a rule outlived its member:\n{rules}"
    );
    // The next member gets the same address and no port of the old one.
    lab.ok(&["network", "connect", "pubnet", &c2]);
    assert!(!lab.ok(&["net", "show"]).contains("1317"));
    lab.ok(&["network", "disconnect", "pubnet", &c2]);
    lab.ok(&["network", "rm", "pubnet"]);
    assert!(lab.our_links().is_empty(), "{:?}", lab.our_links());
}
