//! Changes behind glassbox's back, and bad input that must leave nothing:
//! a member namespace deleted with `ip netns del` while connected, hosts
//! files of a member on two networks, glassbox's nft table deleted by
//! hand, link names the kernel would expand, special-purpose subnets.
//! Each test has its own namespace playing the host (see tests/netlab).

mod common;
mod netlab;

use std::path::Path;

use netlab::crash::{assert_clean_after_prune, leases, leftovers, nft_has};
use netlab::{Lab, ping, sh, sh_ok};

fn members(lab: &Lab, net: &str) -> Vec<String> {
    let out = lab.ok(&["network", "inspect", net]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut m: Vec<String> = v[0]["Containers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["Name"].as_str().unwrap().to_string())
        .collect();
    m.sort();
    m
}

fn hosts_of(ns: &str) -> String {
    std::fs::read_to_string(format!("/etc/netns/{ns}/hosts")).unwrap_or_default()
}

/// `ip netns del NS`, then wait for the kernel to finish with it: a
/// namespace is cleaned up asynchronously, and its veth ends (the host
/// ends too) go only then.
fn delete_netns(lab: &Lab, ns: &str) {
    sh(&format!("ip netns del {ns}"));
    let host_ends: Vec<String> = leases(lab)
        .into_iter()
        .flat_map(|(_, v)| v.as_array().cloned().unwrap_or_default())
        .filter(|l| l["endpoint"] == ns)
        .map(|l| l["host_if"].as_str().unwrap().to_string())
        .collect();
    for _ in 0..500 {
        if !lab.our_links().iter().any(|l| host_ends.contains(l)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the veth ends of {ns} outlived it: {host_ends:?}");
}

fn netns_dir(ns: &str) -> bool {
    Path::new(&format!("/etc/netns/{ns}")).exists()
}

#[test]
fn a_member_namespace_deleted_behind_glassboxs_back_is_named_and_released() {
    let mut lab = Lab::new();
    let (c1, c2, gx) = (lab.ns("c1"), lab.ns("c2"), lab.ns("gx"));
    lab.ok(&["network", "create", "--subnet", "10.93.0.0/24", "n1"]);
    lab.ok(&["network", "create", "--subnet", "10.94.0.0/24", "n2"]);
    lab.ok(&["network", "connect", "n1", &c1]);
    lab.ok(&["network", "connect", "n1", &gx]);
    lab.ok(&["network", "connect", "n2", &gx]);
    lab.ok(&["net", "publish", "1318:10.93.0.3:80"]);
    assert!(hosts_of(&c1).contains(&gx));
    delete_netns(&lab, &gx);

    // doctor names both of its leases.
    let left = leftovers(&lab).expect("doctor names the member that went away");
    for net in ["n1", "n2"] {
        assert!(
            left.contains(&format!("lease {net}/{gx} (its veth")),
            "{left}"
        );
    }
    // The ordinary commands recover: a connect to n1 releases gx there
    // (its address, its name in c1's hosts file, the port published to it).
    lab.ok(&["network", "connect", "n1", &c2]);
    assert_eq!(members(&lab, "n1"), vec![c1.clone(), c2.clone()]);
    assert!(!hosts_of(&c1).contains(&gx), "{}", hosts_of(&c1));
    assert!(hosts_of(&c1).contains(&c2));
    assert!(
        !nft_has(&lab, "1318"),
        "the port published to gx outlived it"
    );
    // gx is still on n2, which gives names: its files stay until then.
    assert!(netns_dir(&gx));
    // `network rm` releases it from n2 instead of refusing.
    assert_eq!(lab.ok(&["network", "rm", "n2"]).trim(), "n2");
    assert!(
        !netns_dir(&gx),
        "/etc/netns/{gx} left after it left both networks"
    );
    assert_eq!(leftovers(&lab), None);

    // Made again under the same name, it connects again.
    sh(&format!("ip netns add {gx}"));
    lab.ok(&["network", "connect", "n1", &gx]);
    delete_netns(&lab, &gx);
    // `network disconnect` of a member that went away succeeds.
    lab.ok(&["network", "disconnect", "n1", &gx]);
    assert!(!netns_dir(&gx));

    // `system prune` (without --all) releases what went away, too.
    sh(&format!("ip netns add {gx}"));
    lab.ok(&["network", "connect", "n1", &gx]);
    delete_netns(&lab, &gx);
    lab.ok(&["system", "prune", "-f"]);
    assert_eq!(leftovers(&lab), None);
    assert_eq!(members(&lab, "n1"), vec![c1.clone(), c2.clone()]);
    assert!(!hosts_of(&c2).contains(&gx));
    assert!(!netns_dir(&gx));
    // c2 took the address gx gave back.
    assert!(
        ping(&c1, "10.93.0.3"),
        "the members that stayed reach each other"
    );

    // `net bridge del` of a hand-made bridge whose member went away.
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.95.0.0/24"]);
    sh(&format!("ip netns add {gx}"));
    lab.ok(&["net", "veth", "add", "--ns", &gx, "--bridge", &br]);
    delete_netns(&lab, &gx);
    lab.ok(&["net", "bridge", "del", &br]);

    for c in [&c1, &c2] {
        lab.ok(&["network", "disconnect", "n1", c]);
    }
    lab.ok(&["network", "rm", "n1"]);
    assert_clean_after_prune(&lab, "members gone behind glassbox's back");
}

#[test]
fn a_members_hosts_files_go_when_it_leaves_its_last_network_with_names() {
    let mut lab = Lab::new();
    let x = lab.ns("x");
    let br = format!("{}n0", lab.names().link_prefix);
    lab.ok(&["network", "create", "--subnet", "10.96.0.0/24", "named"]);
    lab.ok(&["net", "bridge", "add", &br, "--subnet", "10.97.0.0/24"]);
    // On a network with names and on a bridge made by hand (which gives
    // none), left in both orders.
    for first_named in [true, false] {
        lab.ok(&["network", "connect", "named", &x]);
        lab.ok(&["net", "veth", "add", "--ns", &x, "--bridge", &br]);
        assert!(hosts_of(&x).contains("10.96.0.2"), "{}", hosts_of(&x));
        if first_named {
            lab.ok(&["network", "disconnect", "named", &x]);
            assert!(
                !netns_dir(&x),
                "/etc/netns/{x} left though no network gives it names"
            );
            lab.ok(&["net", "veth", "del", "--ns", &x, "--bridge", &br]);
        } else {
            lab.ok(&["net", "veth", "del", "--ns", &x, "--bridge", &br]);
            assert!(netns_dir(&x));
            lab.ok(&["network", "disconnect", "named", &x]);
        }
        assert!(!netns_dir(&x), "/etc/netns/{x} left");
    }
    // On two networks with names: the file stays, rewritten, until the last.
    lab.ok(&["network", "create", "--subnet", "10.98.0.0/24", "other"]);
    lab.ok(&["network", "connect", "named", &x]);
    lab.ok(&["network", "connect", "other", &x]);
    lab.ok(&["network", "disconnect", "named", &x]);
    assert!(!hosts_of(&x).contains("10.96.0.2") && hosts_of(&x).contains("10.98.0.2"));
    lab.ok(&["network", "disconnect", "other", &x]);
    assert!(!netns_dir(&x), "/etc/netns/{x} left");
    lab.ok(&["network", "rm", "named", "other"]);
    lab.ok(&["net", "bridge", "del", &br]);
    assert_clean_after_prune(&lab, "hosts files");
}

#[test]
fn a_firewall_table_changed_by_hand_is_named_and_loaded_again() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    lab.ok(&["network", "create", "--subnet", "10.99.0.0/24", "fw"]);
    lab.ok(&["network", "connect", "fw", &c1]);
    lab.ok(&["net", "publish", "1319:10.99.0.2:80"]);
    let table = lab.names().firewall_table;
    for damage in [
        format!("nft delete table ip {table}"),
        format!("nft flush chain ip {table} postrouting"),
    ] {
        lab.host_sh(&damage);
        let left = leftovers(&lab).unwrap_or_else(|| panic!("doctor is silent after `{damage}`"));
        assert!(left.contains(&table), "{left}");
        lab.ok(&["system", "prune", "-f"]);
        assert_eq!(leftovers(&lab), None, "after `{damage}` and prune");
        assert!(
            nft_has(&lab, "nat 10.99.0.0/24"),
            "masquerade not back after `{damage}`"
        );
        assert!(
            nft_has(&lab, "dport 1319"),
            "published port not back after `{damage}`"
        );
    }
    lab.ok(&["network", "disconnect", "fw", &c1]);
    lab.ok(&["network", "rm", "fw"]);
    assert_clean_after_prune(&lab, "firewall");
}

#[test]
fn link_names_the_kernel_would_expand_or_refuse_are_refused_and_make_nothing() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    // The kernel would have made pb0 of it, which no record knows.
    let e = lab.fails(&["net", "bridge", "add", "pb%d", "--subnet", "10.100.0.0/24"]);
    let links = sh(&format!("ip -n {} -o link show", lab.host));
    assert_eq!(links.lines().count(), 1, "only lo may be there: {links}");
    assert!(e.contains("'%'"), "{e}");
    for name in [
        "pb%d",
        "%d",
        "a/b",
        "a:b",
        ".",
        "..",
        "a b",
        "a\tb",
        "sixteen-bytes-xx",
        "",
    ] {
        let e = lab.fails(&["net", "bridge", "add", name, "--subnet", "10.100.0.0/24"]);
        assert!(e.contains("interface name"), "{name:?}: {e}");
        let e = lab.fails(&["net", "veth", "add", "--ns", &c1, "--bridge", name]);
        assert!(e.contains("interface name"), "{name:?}: {e}");
        let e = lab.fails(&["net", "bridge", "del", name]);
        assert!(e.contains("interface name"), "{name:?}: {e}");
    }
    let links = sh(&format!("ip -n {} -o link show", lab.host));
    assert_eq!(links.lines().count(), 1, "only lo may be there: {links}");
    // A link of that name that glassbox did not make is not taken over.
    lab.host_sh("ip link add pb7 type bridge");
    let e = lab.fails(&["net", "bridge", "add", "pb7", "--subnet", "10.100.0.0/24"]);
    assert!(e.contains("already exists on this host"), "{e}");
    assert!(lab.host_sh("ip -o link show pb7").contains("pb7"));
    assert!(records(&lab).is_empty(), "{:?}", records(&lab));
    lab.host_sh("ip link del pb7");
    assert_clean_after_prune(&lab, "bad link names");
}

/// The `*.json` files in the root's `networks/`.
fn records(lab: &Lab) -> Vec<String> {
    common::entries(&lab.root.path().join("networks"))
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect()
}

#[test]
fn special_purpose_subnets_and_broadcast_only_prefixes_are_refused() {
    let lab = Lab::new();
    for subnet in [
        "240.0.0.0/8",
        "255.255.255.252/30",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "127.0.0.0/8",
        "224.0.0.0/4",
        "239.255.0.0/16",
        "10.102.0.0/31",
        "10.102.0.0/32",
    ] {
        for args in [
            vec!["network", "create", "--subnet", subnet, "bad"],
            vec!["net", "bridge", "add", "bad0", "--subnet", subnet],
        ] {
            let e = lab.fails(&args);
            assert!(
                e.contains("overlaps") || e.contains("too small") || e.contains("too large"),
                "{args:?}: {e}"
            );
        }
    }
    assert!(records(&lab).is_empty(), "{:?}", records(&lab));
    assert!(lab.our_links().is_empty() && !lab.nft_table_exists());
    // The smallest bridge subnet works: a gateway and one member.
    lab.ok(&["network", "create", "--subnet", "10.106.0.0/30", "tiny"]);
    lab.ok(&["network", "rm", "tiny"]);
    assert_clean_after_prune(&lab, "special subnets");
}

#[test]
fn a_failed_network_create_leaves_no_record_not_even_the_default_networks() {
    let lab = Lab::new();
    lab.host_sh(
        "ip link add up0 type veth peer name up1 && ip addr add 10.101.0.1/24 dev up0 && ip link set up0 up",
    );
    // Taken by a route here, or a gateway outside the subnet.
    let e = lab.fails(&["network", "create", "--subnet", "10.101.0.0/16", "bad"]);
    assert!(
        e.contains("overlaps 10.101.0.0/24 (a route on this host)"),
        "{e}"
    );
    let e = lab.fails(&[
        "network",
        "create",
        "--subnet",
        "10.103.0.0/24",
        "--gateway",
        "10.104.0.1",
        "bad",
    ]);
    assert!(e.contains("not a host address of subnet"), "{e}");
    assert!(
        records(&lab).is_empty(),
        "a failed create left {:?}",
        records(&lab)
    );
    assert!(lab.our_links().is_empty() && !lab.nft_table_exists());
    // Another network's subnet is taken as well.
    lab.ok(&["network", "create", "--subnet", "10.105.0.0/24", "good"]);
    let e = lab.fails(&["network", "create", "--subnet", "10.105.0.128/25", "bad"]);
    assert!(e.contains("overlaps 10.105.0.0/24 (network good)"), "{e}");
    assert!(!records(&lab).contains(&"bad.json".to_string()));
    lab.ok(&["network", "rm", "good"]);
    assert!(sh_ok(&format!("ip -n {} link del up0", lab.host)));
    assert_clean_after_prune(&lab, "failed creates");
}

#[test]
fn doctor_and_prune_from_another_network_namespace_neither_release_nor_remake() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    let elsewhere = lab.ns("else");
    lab.ok(&["network", "create", "--subnet", "10.107.0.0/24", "here"]);
    lab.ok(&["network", "connect", "here", &c1]);
    // The same root, seen from a namespace where none of it is: out of
    // sight, not gone. Nothing is released there, nothing made again.
    let from_elsewhere = |args: &[&str]| {
        let mut cmd = std::process::Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{elsewhere}"))
            .arg(common::glassbox_bin())
            .arg("--root")
            .arg(lab.root.path())
            .args(args);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
        common::stdout(&out)
    };
    let doctor = from_elsewhere(&["doctor"]);
    let line = doctor.lines().find(|l| l.contains("leftovers")).unwrap();
    assert!(
        !line.contains("lease") && !line.contains("firewall"),
        "{line}"
    );
    from_elsewhere(&["system", "prune", "-f"]);
    let table = lab.names().firewall_table;
    assert!(
        !sh_ok(&format!(
            "ip netns exec {elsewhere} nft list table ip {table} >/dev/null 2>&1"
        )),
        "prune made the firewall table again in another namespace"
    );
    // Back where it all lives, every record is still there and whole.
    let checks = netlab::crash::doctor(&lab);
    for name in ["leftovers", "not recorded"] {
        let (status, detail) = common::crash::check(&checks, name);
        assert_eq!(status, "ok", "doctor {name}: {detail}");
    }
    assert_eq!(members(&lab, "here"), vec![c1.clone()]);
    assert!(hosts_of(&c1).contains("10.107.0.2"));
    assert!(ping(&c1, "10.107.0.1"));
    assert!(nft_has(&lab, "nat 10.107.0.0/24"));
    lab.ok(&["network", "disconnect", "here", &c1]);
    lab.ok(&["network", "rm", "here"]);
    assert_clean_after_prune(&lab, "another namespace");
}
