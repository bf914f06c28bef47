//! The plan is the run, for every network command the labs use (labs 05
//! and 06): each is run with `--dry-run` and then for real, in order, on
//! a host namespace of its own (tests/netlab), and the steps must be the
//! same (mechanism, action, summary; what only a real run can know
//! redacted). Without root a plan never fails: a read that needs root is
//! listed as such.

mod common;
mod netlab;

use std::process::Command;

use common::plan::{Traced, assert_plan_is_the_run, read_trace};
use netlab::Lab;

/// Run each command of `table` (arguments after `glassbox`) as a plan and
/// for real, in order.
fn each_plan_is_the_run(lab: &Lab, table: &[Vec<String>], redact: &[(&str, &str)]) {
    for args in table {
        let what = args.join(" ");
        let steps = assert_plan_is_the_run(
            &what,
            |flags| {
                let mut c = lab.glassbox();
                c.args(flags).args(args);
                c
            },
            redact,
        );
        eprintln!("{what}: {} steps", steps.len());
    }
}

fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

#[test]
fn each_network_command_of_the_labs_plans_what_it_does() {
    let mut lab = Lab::new();
    // Docker's FORWARD policy, so that the accept rules are among the steps.
    lab.host_sh("iptables -w -P FORWARD DROP");
    let (c1, c2) = (lab.ns("c1"), lab.ns("c2"));
    let prefix = lab.names().link_prefix;
    let br = format!("{prefix}n0");
    // A network's bridge is named after its id, which holds its creation
    // time: only the real run knows it.
    let bridge_of_id = format!("{prefix}n[0-9a-f]{{6,}}");
    let redact = [(bridge_of_id.as_str(), "[bridge]")];
    let table: Vec<Vec<String>> = [
        // Lab 05: a bridge and two namespaces by hand.
        format!("net bridge add {br} --subnet 10.0.0.0/24"),
        format!("net veth add --ns {c1} --bridge {br}"),
        format!("net veth add --ns {c2} --bridge {br}"),
        "net show".to_string(),
        // Lab 06's rules, on the hand-made bridge.
        "net nat on --subnet 10.0.0.0/24".to_string(),
        "net publish 1314:10.0.0.2:80".to_string(),
        "net show".to_string(),
        "net unpublish 1314:10.0.0.2:80".to_string(),
        "net nat off --subnet 10.0.0.0/24".to_string(),
        // Lab 05 section 5 and lab 06 section 1: the Docker way, the
        // default network made on first use within the same command.
        "network create mynet".to_string(),
        "network ls".to_string(),
        format!("network connect mynet {c1}"),
        format!("network connect mynet {c2}"),
        "network inspect mynet".to_string(),
        "net publish 1315:172.18.0.2:80".to_string(),
        format!("network disconnect mynet {c1}"),
        format!("network disconnect mynet {c2}"),
        "network rm mynet".to_string(),
        "network create other".to_string(),
        "network prune -f".to_string(),
        // Clean up by hand: one member by its bridge, the other without.
        format!("net veth del --ns {c1} --bridge {br}"),
        format!("net veth del --ns {c2}"),
        format!("net bridge del {br}"),
        // A cable without a bridge.
        format!("net veth add --ns {c1} --ip 10.9.0.2/24"),
        format!("net veth del --ns {c1}"),
    ]
    .iter()
    .map(|l| argv(l))
    .collect();
    each_plan_is_the_run(&lab, &table, &redact);
    // The real runs left nothing behind them.
    assert!(lab.our_links().is_empty(), "{:?}", lab.our_links());
    assert!(!lab.nft_table_exists());
}

#[test]
fn a_plan_publishes_on_the_network_it_would_make() {
    let mut lab = Lab::new();
    let c1 = lab.ns("c1");
    // On a fresh root the default network, its bridge and its masquerade
    // are made by this very command, then the member, then its port: the
    // plan can only publish on a network it has not made.
    let table = vec![
        argv(&format!(
            "network connect -p 8080:80 -p 127.0.0.1::81 bridge {c1}"
        )),
        argv(&format!("network disconnect bridge {c1}")),
    ];
    each_plan_is_the_run(&lab, &table, &[]);
    // The ports went with the member; the default network keeps its
    // masquerade, as Docker's does.
    let rules = lab.host_sh(&format!("nft list table ip {}", lab.names().firewall_table));
    assert!(!rules.contains("dport"), "{rules}");
    assert!(
        rules.contains("masquerade comment \"nat 172.17.0.0/16\""),
        "{rules}"
    );
}

#[test]
fn network_create_plans_the_subnet_and_the_rule_it_makes() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.jsonl");
    let out = lab
        .glassbox()
        .args(["--dry-run", "--trace-json"])
        .arg(&file)
        .args(["network", "create", "mynet"])
        .output()
        .unwrap();
    common::assert_succeeded(&["--dry-run", "network", "create", "mynet"], &out);
    let text = common::stderr(&out);
    // The default network takes 172.17.0.0/16 (saved with the first one
    // made); mynet the next.
    assert!(text.contains("the address 172.18.0.1/16"), "{text}");
    assert!(
        text.contains("ip saddr 172.18.0.0/16 oifname != "),
        "the plan's masquerade is not the one the run makes:\n{text}"
    );
    assert!(!text.contains("ip daddr !="), "{text}");
    // Nothing was made, not even the state directory's files.
    assert!(lab.our_links().is_empty());
    assert_eq!(common::entries(lab.root.path()), vec!["resolv.conf"]);
    let steps: Vec<Traced> = read_trace(&file);
    assert!(
        steps
            .iter()
            .all(|s| s.result == "planned" || s.result == "ok")
    );
}

/// `glassbox --dry-run ARGS` as nobody in the lab's host namespace, with a
/// fresh root nobody may make; its stderr.
fn plan_as_nobody(
    lab: &Lab,
    bin: &std::path::Path,
    root: &std::path::Path,
    args: &[&str],
) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.host))
        .args([
            "setpriv",
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
        ])
        .arg(bin)
        .arg("--root")
        .arg(root)
        .args(["--no-color", "--dry-run", "-vv"])
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert!(
        out.status.success(),
        "glassbox --dry-run {args:?} failed as nobody\n{}{err}",
        common::stdout(&out)
    );
    assert!(!err.contains("FAILED"), "a step of the plan failed: {err}");
    err
}

#[test]
fn without_root_a_plan_shows_the_reads_it_cannot_make() {
    let mut lab = Lab::new();
    lab.host_sh("iptables -w -P FORWARD DROP");
    let c1 = lab.ns("c1");
    // A copy of the binary nobody can run, and a root nobody could make.
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("glassbox");
    std::fs::copy(common::glassbox_bin(), &bin).unwrap();
    let root = dir.path().join("root");
    let needs_root = |text: &str, what: &str| {
        let line = text
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("the plan does not show {what:?}:\n{text}"));
        assert!(
            line.contains("(needs root") && line.trim_end().ends_with("planned"),
            "{line}"
        );
    };

    // FORWARD drops here, but nobody cannot read iptables.
    let text = plan_as_nobody(
        &lab,
        &bin,
        &root,
        &["net", "bridge", "add", "br0", "--subnet", "10.0.0.0/24"],
    );
    needs_root(&text, "read iptables FORWARD chain");
    assert!(text.contains("create bridge br0"), "{text}");
    // Entering the member's namespace needs root.
    let text = plan_as_nobody(&lab, &bin, &root, &["network", "connect", "bridge", &c1]);
    needs_root(
        &text,
        &format!("open a netlink socket inside /run/netns/{c1}"),
    );
    assert!(
        text.contains(&format!("peer name eth0 netns {c1}")),
        "{text}"
    );
    // Listing the firewall's table needs root.
    let text = plan_as_nobody(&lab, &bin, &root, &["net", "show"]);
    needs_root(&text, "list nft table ip");
    // Nothing was made, as nobody or otherwise.
    assert!(!root.exists());
    assert!(lab.our_links().is_empty());
}
