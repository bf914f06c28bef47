//! `glassbox net` by hand: a bridge, veth pairs into namespaces, NAT, and
//! the Docker-style FORWARD DROP policy. Each test has its own namespace
//! playing the host (see tests/netlab).

mod common;
mod netlab;

use netlab::{Lab, addr_in, ping, tcp_get, tcp_server};

#[test]
fn two_namespaces_on_one_bridge_ping_each_other_even_under_forward_drop() {
    let mut lab = Lab::new();
    // What Docker does to the host: bridged traffic passes iptables FORWARD
    // (br_netfilter) and the policy drops it.
    lab.host_sh("iptables -w -P FORWARD DROP");
    let (c1, c2) = (lab.ns("c1"), lab.ns("c2"));
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.50.0.0/24"]);
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "veth", "add", "--ns", &c2, "--bridge", &br]);
    assert_eq!(addr_in(&c1, "eth0"), "10.50.0.2");
    assert_eq!(addr_in(&c2, "eth0"), "10.50.0.3");
    assert!(
        ping(&c1, "10.50.0.3"),
        "c1 cannot ping c2 across the bridge"
    );
    assert!(
        ping(&c2, "10.50.0.2"),
        "c2 cannot ping c1 across the bridge"
    );
    assert!(ping(&c1, "10.50.0.1"), "c1 cannot ping its gateway");
    // glassbox's own accept rules made that possible; Docker's policy stays.
    assert_eq!(
        lab.our_iptables_rules().len(),
        2,
        "{:?}",
        lab.our_iptables_rules()
    );
    assert!(
        lab.host_sh("iptables -w -S FORWARD")
            .contains("-P FORWARD DROP")
    );

    lab.ok(&["net", "veth", "del", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "veth", "del", "--ns", &c2, "--bridge", &br]);
    lab.ok(&["net", "bridge", "del", &br]);
    assert!(lab.our_links().is_empty(), "{:?}", lab.our_links());
    assert!(lab.our_iptables_rules().is_empty());
    assert!(
        lab.host_sh("iptables -w -S FORWARD")
            .contains("-P FORWARD DROP")
    );
    let ledger = std::fs::read_to_string(lab.root.path().join("run/resources.json")).unwrap();
    assert_eq!(ledger.trim(), "[]", "{ledger}");
}

#[test]
fn veth_without_bridge_gives_the_host_end_the_gateway() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--ip", "10.51.0.2/24"]);
    assert_eq!(addr_in(&c1, "eth0"), "10.51.0.2");
    assert!(ping(&c1, "10.51.0.1"));
    lab.ok(&["net", "veth", "del", "--ns", &c1]);
    assert!(lab.our_links().is_empty());
}

#[test]
fn nat_gives_the_outside_the_hosts_address() {
    let mut lab = Lab::new();
    lab.host_sh("iptables -w -P FORWARD DROP");
    let (out, host_ip, out_ip) = lab.outside();
    let c1 = lab.ns("c1");
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.52.0.0/24"]);
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    let _server = tcp_server(&out, 8080, "outside");
    let target = format!("{out_ip}:8080");
    // Without NAT the outside has no way back to 10.52.0.2.
    assert!(tcp_get(&c1, &target).is_err());
    lab.ok(&["net", "nat", "on", "--subnet", "10.52.0.0/24"]);
    assert_eq!(
        tcp_get(&c1, &target).unwrap(),
        format!("outside peer={host_ip}"),
        "the outside must see the host's address"
    );
    assert!(lab.nft_table_exists());
    lab.ok(&["net", "nat", "off", "--subnet", "10.52.0.0/24"]);
    assert!(!lab.nft_table_exists(), "an empty table is deleted");
    lab.ok(&["net", "veth", "del", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "bridge", "del", &br]);
    assert!(lab.our_links().is_empty());
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    let mut lab = Lab::new();
    let (_out, _h, _o) = lab.outside();
    let c1 = lab.ns("c1");
    let br = format!("{}n0", lab.names().link_prefix);
    let e = lab.fails(&["net", "bridge", "add", &br, "--subnet", "10.0.0.1/24"]);
    assert!(e.contains("did you mean 10.0.0.0/24"), "{e}");
    let e = lab.fails(&["net", "bridge", "add", &br, "--subnet", "banana"]);
    assert!(e.contains("invalid subnet"), "{e}");
    // The outside link's 198.18.T.0/24 is routed already.
    let e = lab.fails(&["net", "bridge", "add", &br, "--subnet", "198.18.0.0/15"]);
    assert!(e.contains("overlaps"), "{e}");
    let e = lab.fails(&[
        "net",
        "bridge",
        "add",
        "a-name-longer-than-15",
        "--subnet",
        "10.53.0.0/24",
    ]);
    assert!(e.contains("1 to 15 bytes"), "{e}");
    let e = lab.fails(&["net", "veth", "add", "--ns", &c1, "--bridge", "nosuchbr"]);
    assert!(e.contains("not made by glassbox"), "{e}");
    let e = lab.fails(&[
        "net",
        "veth",
        "add",
        "--ns",
        "gbt-no-such-ns",
        "--ip",
        "10.9.0.2/24",
    ]);
    assert!(e.contains("open network namespace"), "{e}");
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.53.0.0/24"]);
    let e = lab.fails(&["net", "bridge", "add", &br, "--subnet", "10.54.0.0/24"]);
    assert!(e.contains("already exists"), "{e}");
    let e = lab.fails(&[
        "net",
        "bridge",
        "add",
        &format!("{br}x"),
        "--subnet",
        "10.53.0.0/25",
    ]);
    assert!(e.contains("overlaps 10.53.0.0/24 (network"), "{e}");
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    let e = lab.fails(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    assert!(e.contains("already exists in network"), "{e}");
    let e = lab.fails(&["net", "bridge", "del", &br]);
    assert!(e.contains("active endpoints"), "{e}");
    // Failed commands made nothing: one bridge and one veth only.
    assert_eq!(lab.our_links().len(), 2, "{:?}", lab.our_links());
    lab.ok(&["net", "veth", "del", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "bridge", "del", &br]);
    assert!(lab.our_links().is_empty());
}

#[test]
fn trace_shows_each_step_with_its_ip_command() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    let prefix = lab.names().link_prefix;
    let br = format!("{prefix}n0");
    let out = lab
        .glassbox()
        .args([
            "-v",
            "net",
            "bridge",
            "add",
            &br,
            "--subnet",
            "10.55.0.0/24",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out2 = lab
        .glassbox()
        .args(["-v", "net", "veth", "add", "--ns", &c1, "--bridge", &br])
        .output()
        .unwrap();
    assert!(out2.status.success(), "{}", common::stderr(&out2));
    let text = format!("{}{}", common::stderr(&out), common::stderr(&out2));
    insta::with_settings!({filters => vec![
        (r"ok +[0-9.]+(µs|ms|s)", "ok [time]"),
        (prefix.as_str(), "[gb]"),
        (c1.as_str(), "[c1]"),
        (r"\[gb\]([vp])[0-9a-f]{6}", "[gb]$1[hash]"),
    ]}, {
        insta::assert_snapshot!(text);
    });
    lab.ok(&["net", "veth", "del", "--ns", &c1, "--bridge", &br]);
    lab.ok(&["net", "bridge", "del", &br]);
}

#[test]
fn system_prune_removes_what_glassbox_made_and_leaves_strays_named() {
    let mut lab = Lab::new();
    lab.host_sh("iptables -w -P FORWARD DROP");
    let c1 = lab.ns("c1");
    let prefix = lab.names().link_prefix;
    let br = format!("{prefix}n0");
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.56.0.0/24"]);
    lab.ok(&["net", "veth", "add", "--ns", &c1, "--bridge", &br]);
    // A link with this root's names that no command recorded: someone
    // else's (another root's, a person's), so prune never removes it, and
    // doctor names it.
    let stray = format!("{prefix}n123456");
    lab.host_sh(&format!("ip link add {stray} type bridge"));
    let out = lab.ok(&["system", "prune", "-f"]);
    assert!(!out.contains(&stray), "{out}");
    assert_eq!(lab.our_links().len(), 3, "made by hand: kept without --all");
    let doctor = lab.ok(&["doctor"]);
    let line = doctor.lines().find(|l| l.contains("not recorded")).unwrap();
    assert!(
        line.starts_with("warn") && line.contains(&format!("link {stray}")),
        "{line}"
    );
    let out = lab.ok(&["system", "prune", "--all", "-f"]);
    assert!(out.contains(&format!("removed link {br}")), "{out}");
    assert!(!out.contains(&stray), "{out}");
    assert_eq!(lab.our_links(), vec![stray.clone()]);
    lab.host_sh(&format!("ip link del {stray}"));
    assert!(lab.our_iptables_rules().is_empty());
    // The hand-made bridge's record went with it: no stale network is
    // listed, and the same bridge can be made again.
    let listed = lab.ok(&["network", "ls"]);
    assert!(!listed.contains(&br), "{listed}");
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.56.0.0/24"]);
    lab.ok(&["net", "bridge", "del", &br]);
}

#[test]
fn a_namespace_given_by_pid_is_plugged_in_too() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    let mut sleeper = std::process::Command::new("ip")
        .args(["netns", "exec", &c1, "sleep", "30"])
        .spawn()
        .unwrap();
    let pid = sleeper.id().to_string();
    let hosts_dir = lab.root.path().join("c1-files");
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.57.0.0/24"]);
    let out = lab
        .glassbox()
        .args(["-v", "net", "veth", "add", "--ns", &pid, "--bridge", &br])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let trace = common::stderr(&out);
    assert!(
        trace.contains(&format!(
            "nsenter -t {pid} -n ip addr add 10.57.0.2/24 dev eth0"
        )),
        "{trace}"
    );
    assert_eq!(addr_in(&c1, "eth0"), "10.57.0.2");
    lab.ok(&["net", "veth", "del", "--ns", &pid, "--bridge", &br]);
    // Docker's way, with a directory for the PID's hosts file.
    lab.ok(&["network", "create", "--subnet", "10.58.0.0/24", "bypid"]);
    lab.ok(&[
        "network",
        "connect",
        "--hosts-dir",
        hosts_dir.to_str().unwrap(),
        "bypid",
        &pid,
    ]);
    let hosts = std::fs::read_to_string(hosts_dir.join("hosts")).unwrap();
    assert!(hosts.contains(&format!("10.58.0.2\tpid-{pid}")), "{hosts}");
    lab.ok(&["network", "disconnect", "bypid", &pid]);
    lab.ok(&["network", "rm", "bypid"]);
    lab.ok(&["net", "bridge", "del", &br]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(lab.our_links().is_empty());
}
