//! Crash points of the network commands: `network create`, `connect` and
//! `disconnect` (and `net bridge add`, `net veth add`) are killed after
//! each of their changes to the host in turn (`GLASSBOX_CRASH_AFTER_STEP`).
//! After every crash: doctor names what was left, or nothing was left (or
//! the command had finished); the next ordinary command (the same one
//! again, or its undo) succeeds; the same crash is also put right by
//! `system prune` alone; and after `system prune --all` nothing is left.
//! Each test has its own namespace playing the host (see tests/netlab).

mod common;
mod netlab;

use common::crash::{each_crash_point, killed};
use netlab::crash::{assert_clean_after_prune, crash, leases, leftovers, nft_has};
use netlab::{Lab, ping, sh_ok};
use serde_json::Value;

const NET: &str = "cn";

/// A host that drops forwarded traffic (so the iptables accept rules are
/// among the steps) and forwards already (so every run has the same
/// steps), with the default network's record made.
fn prepare(lab: &Lab) {
    lab.host_sh("iptables -w -P FORWARD DROP && sysctl -qw net.ipv4.ip_forward=1");
    lab.ok(&["network", "ls"]);
}

fn record(lab: &Lab, name: &str) -> Option<Value> {
    let text =
        std::fs::read_to_string(lab.root.path().join(format!("networks/{name}.json"))).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

/// What is there of network `name` with `subnet`: nothing, all of it, or
/// a part (what is missing).
#[derive(Debug, PartialEq)]
enum Made {
    Nothing,
    Whole,
    Part(String),
}

fn network_state(lab: &Lab, name: &str, subnet: &str, gateway: &str, nat: bool) -> Made {
    let Some(rec) = record(lab, name) else {
        let links = lab.our_links();
        if links.is_empty() && !nft_has(lab, &format!("nat {subnet}")) {
            return Made::Nothing;
        }
        return Made::Part(format!("no record, but links {links:?} or a nat rule"));
    };
    if rec.get("busy").is_some() {
        return Made::Part(format!("record marked busy: {rec}"));
    }
    let br = rec["bridge"].as_str().unwrap();
    let mut missing = Vec::new();
    if !sh_ok(&format!(
        "ip -n {} -4 -o addr show dev {br} up | grep -q 'inet {gateway}/'",
        lab.host
    )) {
        missing.push(format!("bridge {br} up with {gateway}"));
    }
    if nat && !nft_has(lab, &format!("nat {subnet}")) {
        missing.push("masquerade rule".into());
    }
    let accepts = lab
        .our_iptables_rules()
        .iter()
        .filter(|r| r.contains(br))
        .count();
    if accepts != 2 {
        missing.push(format!("2 accept rules (have {accepts})"));
    }
    if missing.is_empty() {
        Made::Whole
    } else {
        Made::Part(format!("missing {}", missing.join(", ")))
    }
}

fn cn_state(lab: &Lab) -> Made {
    network_state(lab, NET, "10.90.0.0/24", "10.90.0.1", true)
}

#[test]
fn network_create_is_undone_or_redone_after_a_crash_at_every_step() {
    let mut lab = Lab::new();
    prepare(&lab);
    let c1 = lab.ns("c1");
    let args = ["network", "create", "--subnet", "10.90.0.0/24", NET];
    let mut named = 0;
    let steps = each_crash_point(
        || {
            let mut c = lab.glassbox();
            c.args(args);
            c
        },
        |k, _| {
            let what = format!("network create killed after step {k}");
            // Doctor names what was left, or it is nothing or the whole.
            let left = leftovers(&lab);
            let state = cn_state(&lab);
            match (&left, &state) {
                (Some(detail), _) => {
                    named += 1;
                    assert!(
                        detail.contains(&format!("network {NET} (half-made: `network create`")),
                        "{what}: {detail}"
                    );
                    // A member cannot join it; the error says what to do.
                    let e = lab.fails(&["network", "connect", NET, &c1]);
                    assert!(
                        e.contains("died before finishing: run `glassbox network create cn` again, or `glassbox system prune`"),
                        "{what}: {e}"
                    );
                }
                (None, Made::Part(why)) => panic!("{what}: doctor names nothing, but {why}"),
                (None, _) => {}
            }
            // The next ordinary command: create again (a finished network
            // is said to exist), then its undo.
            if left.is_none() && state == Made::Whole {
                let e = lab.fails(&args);
                assert!(e.contains("already exists"), "{what}: {e}");
            } else {
                lab.ok(&args);
            }
            assert_eq!(cn_state(&lab), Made::Whole, "{what}: after create again");
            lab.ok(&["network", "rm", NET]);
            assert_clean_after_prune(&lab, &what);

            // The same crash, put right by `system prune` alone.
            assert!(killed(&crash(&lab, &args, k)));
            lab.ok(&["system", "prune", "-f"]);
            assert_eq!(leftovers(&lab), None, "{what}: after system prune");
            let state = cn_state(&lab);
            if let Made::Part(why) = state {
                panic!("{what}: after system prune {why}");
            }
            if state == Made::Nothing {
                lab.ok(&args);
            }
            lab.ok(&["network", "rm", NET]);
            assert_clean_after_prune(&lab, &format!("{what}, then system prune"));
        },
    );
    eprintln!("network create: {steps} crash points, {named} left something doctor named");
    assert_eq!(cn_state(&lab), Made::Whole);
    lab.ok(&["network", "rm", NET]);
    assert_clean_after_prune(&lab, "network create");
    assert!(steps >= 15, "network create took only {steps} steps");
}

/// The lease of `member` on `net`, if any.
fn lease_of(lab: &Lab, net: &str, member: &str) -> Option<Value> {
    leases(lab)
        .into_iter()
        .filter(|(f, _)| f == &format!("{net}.leases.json"))
        .flat_map(|(_, v)| v.as_array().cloned().unwrap_or_default())
        .find(|l| l["endpoint"] == member)
}

fn hosts_of(ns: &str) -> String {
    std::fs::read_to_string(format!("/etc/netns/{ns}/hosts")).unwrap_or_default()
}

/// How far `member` is plugged into `NET`, whose other member is `peer`.
fn member_state(lab: &Lab, member: &str, peer: &str) -> Made {
    let lease = lease_of(lab, NET, member);
    let eth0 = sh_ok(&format!("ip -n {member} link show eth0 >/dev/null 2>&1"));
    let named = hosts_of(peer).contains(member);
    let files = std::path::Path::new(&format!("/etc/netns/{member}")).exists();
    let Some(l) = lease else {
        if !eth0 && !named && !files {
            return Made::Nothing;
        }
        return Made::Part(format!(
            "no lease, but eth0 {eth0}, named in {peer}'s hosts {named}, /etc/netns/{member} {files}"
        ));
    };
    let mut missing = Vec::new();
    if l.get("busy").is_some() {
        missing.push(format!("an unmarked lease ({l})"));
    }
    if l["mac"].as_str().unwrap_or("").is_empty() {
        missing.push("a MAC".into());
    }
    let ip = l["ip"].as_str().unwrap().to_string();
    if !sh_ok(&format!(
        "ip -n {member} -4 -o addr show dev eth0 up | grep -q 'inet {ip}/'"
    )) {
        missing.push(format!("eth0 with {ip}"));
    }
    if !named || !hosts_of(member).contains(peer) {
        missing.push("names in both hosts files".into());
    }
    if missing.is_empty() && !ping(member, "10.90.0.1") {
        missing.push("a way to the gateway".into());
    }
    if missing.is_empty() {
        Made::Whole
    } else {
        Made::Part(format!("missing {}", missing.join(", ")))
    }
}

/// `cn` with member `c0` (whose hosts file must follow `c1`'s comings and
/// goings), and `c1` too when `with_c1`, with a port published to it.
fn setup(lab: &Lab, c0: &str, c1: &str, with_c1: bool) {
    lab.ok(&["network", "create", "--subnet", "10.90.0.0/24", NET]);
    lab.ok(&["network", "connect", NET, c0]);
    if with_c1 {
        lab.ok(&["network", "connect", NET, c1]);
        let ip = lease_of(lab, NET, c1).unwrap()["ip"]
            .as_str()
            .unwrap()
            .to_string();
        lab.ok(&["net", "publish", &format!("1317:{ip}:80")]);
    }
}

fn teardown(lab: &Lab, c0: &str, c1: &str, what: &str) {
    if lease_of(lab, NET, c1).is_some() {
        lab.ok(&["network", "disconnect", NET, c1]);
    }
    lab.ok(&["network", "disconnect", NET, c0]);
    lab.ok(&["network", "rm", NET]);
    assert_clean_after_prune(lab, what);
}

#[test]
fn network_connect_is_undone_or_redone_after_a_crash_at_every_step() {
    let mut lab = Lab::new();
    prepare(&lab);
    let (c0, c1) = (lab.ns("c0"), lab.ns("c1"));
    let args = ["network", "connect", NET, c1.as_str()];
    setup(&lab, &c0, &c1, false);
    let mut named = 0;
    let steps = each_crash_point(
        || {
            let mut c = lab.glassbox();
            c.args(args);
            c
        },
        |k, _| {
            let what = format!("network connect killed after step {k}");
            let left = leftovers(&lab);
            let state = member_state(&lab, &c1, &c0);
            match (&left, &state) {
                (Some(detail), _) => {
                    named += 1;
                    assert!(
                        detail.contains(&format!("lease {NET}/{c1} (half-made"))
                            || detail.contains("half-made"),
                        "{what}: {detail}"
                    );
                }
                (None, Made::Part(why)) => panic!("{what}: doctor names nothing, but {why}"),
                (None, _) => {}
            }
            // The next ordinary command: connect again (a finished one is
            // said to exist), then its undo.
            if left.is_none() && state == Made::Whole {
                let e = lab.fails(&args);
                assert!(e.contains("already exists in network"), "{what}: {e}");
            } else {
                lab.ok(&args);
            }
            assert_eq!(
                member_state(&lab, &c1, &c0),
                Made::Whole,
                "{what}: connected again"
            );
            lab.ok(&["network", "disconnect", NET, &c1]);
            assert_eq!(
                member_state(&lab, &c1, &c0),
                Made::Nothing,
                "{what}: disconnected"
            );
            teardown(&lab, &c0, &c1, &what);

            // The same crash, put right by `system prune` alone.
            setup(&lab, &c0, &c1, false);
            assert!(killed(&crash(&lab, &args, k)));
            lab.ok(&["system", "prune", "-f"]);
            assert_eq!(leftovers(&lab), None, "{what}: after system prune");
            match member_state(&lab, &c1, &c0) {
                Made::Part(why) => panic!("{what}: after system prune {why}"),
                Made::Nothing => lab.ok(&args),
                Made::Whole => String::new(),
            };
            assert_eq!(member_state(&lab, &c1, &c0), Made::Whole, "{what}");
            teardown(&lab, &c0, &c1, &format!("{what}, then system prune"));
            setup(&lab, &c0, &c1, false);
        },
    );
    eprintln!("network connect: {steps} crash points, {named} left something doctor named");
    assert_eq!(member_state(&lab, &c1, &c0), Made::Whole);
    teardown(&lab, &c0, &c1, "network connect");
    assert!(steps >= 15, "network connect took only {steps} steps");
}

#[test]
fn network_disconnect_is_finished_after_a_crash_at_every_step() {
    let mut lab = Lab::new();
    prepare(&lab);
    let (c0, c1) = (lab.ns("c0"), lab.ns("c1"));
    let args = ["network", "disconnect", NET, c1.as_str()];
    setup(&lab, &c0, &c1, true);
    let mut named = 0;
    // Gone means gone with its published port too.
    let state = |lab: &Lab| match member_state(lab, &c1, &c0) {
        Made::Nothing if nft_has(lab, "1317") => Made::Part("the port published to it".into()),
        s => s,
    };
    let steps = each_crash_point(
        || {
            let mut c = lab.glassbox();
            c.args(args);
            c
        },
        |k, _| {
            let what = format!("network disconnect killed after step {k}");
            let left = leftovers(&lab);
            let now = state(&lab);
            match (&left, &now) {
                (Some(detail), _) => {
                    named += 1;
                    assert!(
                        detail.contains(&format!("lease {NET}/{c1} (half-removed")),
                        "{what}: {detail}"
                    );
                }
                (None, Made::Part(why)) => panic!("{what}: doctor names nothing, but {why}"),
                (None, _) => {}
            }
            // The next ordinary command: disconnect again, or (when it
            // had finished) its undo.
            if left.is_none() && now == Made::Nothing {
                lab.ok(&["network", "connect", NET, &c1]);
                assert_eq!(state(&lab), Made::Whole, "{what}: connected again");
            } else {
                lab.ok(&args);
            }
            teardown(&lab, &c0, &c1, &what);

            // The same crash, put right by `system prune` alone.
            setup(&lab, &c0, &c1, true);
            assert!(killed(&crash(&lab, &args, k)));
            lab.ok(&["system", "prune", "-f"]);
            assert_eq!(leftovers(&lab), None, "{what}: after system prune");
            assert_eq!(state(&lab), Made::Nothing, "{what}: after system prune");
            teardown(&lab, &c0, &c1, &format!("{what}, then system prune"));
            setup(&lab, &c0, &c1, true);
        },
    );
    eprintln!("network disconnect: {steps} crash points, {named} left something doctor named");
    assert_eq!(state(&lab), Made::Nothing);
    teardown(&lab, &c0, &c1, "network disconnect");
    assert!(steps >= 8, "network disconnect took only {steps} steps");
}

#[test]
fn net_bridge_add_is_undone_or_redone_after_a_crash_at_every_step() {
    let lab = Lab::new();
    prepare(&lab);
    let br = format!("{}n0", lab.names().link_prefix);
    let args = [
        "net",
        "bridge",
        "add",
        br.as_str(),
        "--subnet",
        "10.91.0.0/24",
    ];
    let state = |lab: &Lab| network_state(lab, &br, "10.91.0.0/24", "10.91.0.1", false);
    let steps = each_crash_point(
        || {
            let mut c = lab.glassbox();
            c.args(args);
            c
        },
        |k, _| {
            let what = format!("net bridge add killed after step {k}");
            let left = leftovers(&lab);
            let now = state(&lab);
            if let (None, Made::Part(why)) = (&left, &now) {
                panic!("{what}: doctor names nothing, but {why}");
            }
            if left.is_none() && now == Made::Whole {
                let e = lab.fails(&args);
                assert!(e.contains("already exists"), "{what}: {e}");
            } else {
                lab.ok(&args);
            }
            assert_eq!(state(&lab), Made::Whole, "{what}: after bridge add again");
            lab.ok(&["net", "bridge", "del", &br]);
            assert_clean_after_prune(&lab, &what);

            assert!(killed(&crash(&lab, &args, k)));
            lab.ok(&["system", "prune", "-f"]);
            assert_eq!(leftovers(&lab), None, "{what}: after system prune");
            match state(&lab) {
                Made::Part(why) => panic!("{what}: after system prune {why}"),
                Made::Nothing => lab.ok(&args),
                Made::Whole => String::new(),
            };
            lab.ok(&["net", "bridge", "del", &br]);
            assert_clean_after_prune(&lab, &format!("{what}, then system prune"));
        },
    );
    eprintln!("net bridge add: {steps} crash points");
    lab.ok(&["net", "bridge", "del", &br]);
    assert_clean_after_prune(&lab, "net bridge add");
    assert!(steps >= 10, "net bridge add took only {steps} steps");
}

#[test]
fn net_veth_add_and_del_without_bridge_recover_from_a_crash_at_every_step() {
    let mut lab = Lab::new();
    prepare(&lab);
    let c1 = lab.ns("c1");
    let add: &[&str] = &["net", "veth", "add", "--ns", &c1, "--ip", "10.92.0.2/24"];
    let del: &[&str] = &["net", "veth", "del", "--ns", &c1];
    let state = |lab: &Lab| {
        let links = lab.our_links();
        let ledger =
            std::fs::read_to_string(lab.root.path().join("run/resources.json")).unwrap_or_default();
        match (links.len(), ledger.contains("\"live\"")) {
            (0, false) if !sh_ok(&format!("ip -n {c1} link show eth0 >/dev/null 2>&1")) => {
                Made::Nothing
            }
            (1, true) if ping(&c1, "10.92.0.1") => Made::Whole,
            _ => Made::Part(format!("links {links:?}, ledger {ledger}")),
        }
    };
    let mut counts = Vec::new();
    for (cmd, undo) in [(add, del), (del, add)] {
        if cmd[2] == "del" {
            lab.ok(add);
        }
        let steps = each_crash_point(
            || {
                let mut c = lab.glassbox();
                c.args(cmd);
                c
            },
            |k, _| {
                let what = format!("{} killed after step {k}", cmd[..3].join(" "));
                let left = leftovers(&lab);
                let now = state(&lab);
                if let (None, Made::Part(why)) = (&left, &now) {
                    panic!("{what}: doctor names nothing, but {why}");
                }
                // Done (or undone) by the command again, or by its undo
                // when it had finished.
                let finished = match cmd[2] {
                    "add" => now == Made::Whole,
                    _ => now == Made::Nothing,
                };
                if left.is_none() && finished {
                    lab.ok(undo);
                } else {
                    lab.ok(cmd);
                    if cmd[2] == "add" {
                        assert_eq!(state(&lab), Made::Whole, "{what}: after add again");
                        lab.ok(del);
                    }
                }
                assert_clean_after_prune(&lab, &what);
                if cmd[2] == "del" {
                    lab.ok(add);
                }
            },
        );
        counts.push(steps);
        if cmd[2] == "add" {
            lab.ok(del);
        }
        assert_clean_after_prune(&lab, cmd[2]);
    }
    eprintln!(
        "net veth add: {} crash points, net veth del: {}",
        counts[0], counts[1]
    );
    assert!(counts[0] >= 8 && counts[1] >= 2, "{counts:?}");
}

#[test]
fn connect_to_the_default_network_recovers_from_a_crash_at_every_step() {
    // The default network's bridge and masquerade rule are made by the
    // first connect and stay (as docker0 does): each crash point gets a
    // host of its own, so that each one exercises making them.
    let fresh = || {
        let mut lab = Lab::new();
        lab.host_sh("iptables -w -P FORWARD DROP");
        let c1 = lab.ns("c1");
        (lab, c1)
    };
    let current = std::cell::RefCell::new(fresh());
    let mut named = 0;
    let steps = each_crash_point(
        || {
            let (lab, c1) = &*current.borrow();
            let mut c = lab.glassbox();
            c.args(["network", "connect", "bridge", c1]);
            c
        },
        |k, _| {
            let what = format!("network connect bridge killed after step {k}");
            {
                let (lab, c1) = &*current.borrow();
                if leftovers(lab).is_some() {
                    named += 1;
                }
                // Connected, or connecting again works; then gone again.
                let again = lab.run(&["network", "connect", "bridge", c1]);
                let e = common::stderr(&again);
                assert!(
                    again.status.success() || e.contains("already exists in network bridge"),
                    "{what}: {e}"
                );
                let gw = record(lab, "bridge").unwrap()["gateway"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert!(ping(c1, &gw), "{what}: no way to the gateway {gw}");
                lab.ok(&["network", "disconnect", "bridge", c1]);
                lab.ok(&["system", "prune", "--all", "-f"]);
                for name in ["leftovers", "not recorded"] {
                    let checks = netlab::crash::doctor(lab);
                    let (status, detail) = common::crash::check(&checks, name);
                    assert_eq!(status, "ok", "{what}: doctor {name}: {detail}");
                }
                // Nothing stays: not c1's end, and not the default bridge,
                // which prune --all takes away once nothing uses it.
                assert_eq!(lab.our_links(), Vec::<String>::new(), "{what}");
                assert!(!std::path::Path::new(&format!("/etc/netns/{c1}")).exists());
                for (file, v) in leases(lab) {
                    assert_eq!(v, serde_json::json!([]), "{what}: {file}");
                }
                common::crash::assert_state_files_valid(lab.root.path(), &what);
            }
            *current.borrow_mut() = fresh();
        },
    );
    eprintln!("network connect bridge: {steps} crash points, {named} left something doctor named");
    assert!(steps >= 25, "{steps}");
}
