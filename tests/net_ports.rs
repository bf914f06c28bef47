//! Published ports, reached every way a user tries them: from an outside
//! machine, from the host to its own address, from the host to 127.0.0.1,
//! and from another member through the host (hairpin); TCP and UDP; with
//! bridge-nf-call-iptables at 1 and at 0; under a FORWARD DROP policy.

mod common;
mod netlab;

use netlab::{Lab, addr_in, tcp_get, tcp_server, udp_ask, udp_echo};

fn published_port_answers_every_way(bridge_nf: u8) {
    let mut lab = Lab::new();
    lab.host_sh(&format!(
        "iptables -w -P FORWARD DROP; echo {bridge_nf} > /proc/sys/net/bridge/bridge-nf-call-iptables"
    ));
    let (out, host_ip, _out_ip) = lab.outside();
    let (c1, c2) = (lab.ns("c1"), lab.ns("c2"));
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.60.0.0/24"]);
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "veth", "add", "--ns", &c2, "--bridge", &br]);
    let server_ip = addr_in(&c1, "eth0");
    let _web = tcp_server(&c1, 80, "hello from c1");
    let _dns = udp_echo(&c1, 53);
    lab.ok(&["net", "publish", &format!("1314:{server_ip}:80")]);
    lab.ok(&["net", "publish", &format!("5353:{server_ip}:53/udp")]);

    let to_host = format!("{host_ip}:1314");
    let got = tcp_get(&out, &to_host).expect("outside -> host address");
    assert!(got.starts_with("hello from c1"), "{got}");
    let got = tcp_get(&lab.host, &to_host).expect("host -> its own address");
    assert!(got.starts_with("hello from c1"), "{got}");
    let got = tcp_get(&lab.host, "127.0.0.1:1314").expect("host -> 127.0.0.1");
    assert!(got.starts_with("hello from c1"), "{got}");
    let got = tcp_get(&c2, &to_host).expect("c2 -> host address (hairpin)");
    assert!(got.starts_with("hello from c1"), "{got}");
    // A member reaching its own published port: with bridge-nf-call-iptables
    // at 1 the DNATed frame is bridged back out of the port it came in by,
    // which only a port in hairpin mode does; masquerading makes the answer
    // come back through the host.
    let ports = lab.host_sh(&format!("ip -d link show master {br}"));
    assert_eq!(ports.matches("hairpin on").count(), 2, "{ports}");
    let got = tcp_get(&c1, &to_host).expect("c1 -> its own published port");
    assert_eq!(got, "hello from c1 peer=10.60.0.1");
    let got = udp_ask(&out, &format!("{host_ip}:5353"), "ping").expect("udp from outside");
    assert_eq!(got, "echo:ping");
    let got = udp_ask(&lab.host, "127.0.0.1:5353", "local").expect("udp from 127.0.0.1");
    assert_eq!(got, "echo:local");
    let got = udp_ask(&c1, &format!("{host_ip}:5353"), "self").expect("udp c1 -> itself");
    assert_eq!(got, "echo:self");

    // The rules are in glassbox's own table, one per path.
    let rules = lab.host_sh(&format!("nft list table ip {}", lab.names().firewall_table));
    assert!(
        rules.contains(&format!("tcp dport 1314 dnat to {server_ip}:80")),
        "{rules}"
    );
    assert!(rules.contains("ip saddr 127.0.0.0/8"), "{rules}");

    lab.ok(&["net", "unpublish", &format!("1314:{server_ip}:80")]);
    lab.ok(&["net", "unpublish", &format!("5353:{server_ip}:53/udp")]);
    assert!(
        tcp_get(&out, &to_host).is_err(),
        "unpublished port still answers"
    );
    assert!(!lab.nft_table_exists());
    lab.ok(&["net", "veth", "del", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "veth", "del", "--ns", &c2, "--bridge", &br]);
    lab.ok(&["net", "bridge", "del", &br]);
    assert!(lab.our_links().is_empty());
    assert!(lab.our_iptables_rules().is_empty());
}

#[test]
fn published_port_answers_every_way_with_bridge_nf_call_iptables() {
    published_port_answers_every_way(1);
}

#[test]
fn published_port_answers_every_way_without_bridge_nf_call_iptables() {
    published_port_answers_every_way(0);
}

#[test]
fn bad_publish_specs_and_busy_ports_are_refused() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.61.0.0/24"]);
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    let e = lab.fails(&["net", "publish", "99999:10.61.0.2:80"]);
    assert!(e.contains("1 to 65535"), "{e}");
    let e = lab.fails(&["net", "publish", "1314:80"]);
    assert!(e.contains("invalid publish spec"), "{e}");
    let e = lab.fails(&["net", "publish", "1314:10.99.0.2:80"]);
    assert!(e.contains("no glassbox network holds 10.99.0.2"), "{e}");
    // A host address this host does not have (Docker: cannot assign
    // requested address), and no rule made for it.
    let e = lab.fails(&["net", "publish", "192.0.2.77:1316:10.61.0.2:80"]);
    assert!(
        e.contains("no interface of this host has that address"),
        "{e}"
    );
    assert!(!lab.nft_table_exists());
    // A process of this test listens on host port 1315: the error names it.
    let _holder = tcp_server(&lab.host, 1315, "busy");
    let e = lab.fails(&["net", "publish", "1315:10.61.0.2:80"]);
    assert!(
        e.contains(&format!("in use by pid {}", std::process::id())),
        "{e}"
    );
    lab.ok(&["net", "publish", "1314:10.61.0.2:80"]);
    let e = lab.fails(&["net", "publish", "1314:10.61.0.2:81"]);
    assert!(e.contains("port is already allocated"), "{e}");
    let e = lab.fails(&["net", "unpublish", "1316:10.61.0.2:80"]);
    assert!(e.contains("is not published"), "{e}");
    lab.ok(&["net", "unpublish", "1314:10.61.0.2:80"]);
    assert!(!lab.nft_table_exists());
}

#[test]
fn net_show_lists_bridges_members_and_rules() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    let prefix = lab.names().link_prefix;
    let table = lab.names().firewall_table;
    let br = format!("{prefix}n0");
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.62.0.0/24"]);
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "nat", "on", "--subnet", "10.62.0.0/24"]);
    lab.ok(&["net", "publish", "8080:10.62.0.2:80"]);
    let show = lab.ok(&["net", "show"]);
    insta::with_settings!({filters => vec![
        (table.as_str(), "[table]"),
        (prefix.as_str(), "[gb]"),
        (r"\[gb\]v[0-9a-f]{6}", "[gb]v[hash]"),
        (c1.as_str(), "[c1]"),
    ]}, {
        insta::assert_snapshot!(show);
    });
    lab.ok(&["net", "unpublish", "8080:10.62.0.2:80"]);
    lab.ok(&["net", "nat", "off", "--subnet", "10.62.0.0/24"]);
    lab.ok(&["net", "veth", "del", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "bridge", "del", &br]);
}
