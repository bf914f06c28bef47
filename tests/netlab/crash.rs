//! Crash points inside a lab: `doctor` and `system prune` run in the lab's
//! host namespace (where glassbox made its links and rules), and "nothing
//! is left" also means no link, nft table, iptables rule, lease or
//! `/etc/netns` file of the lab's.

use std::process::Output;

use serde_json::Value;

use super::{Lab, sh_ok};
use crate::common::crash::{assert_state_files_valid, check, run_crashing};
use crate::common::{stderr, stdout};

/// `doctor --json` in the lab, parsed.
pub fn doctor(lab: &Lab) -> Vec<Value> {
    let out = lab.run(&["doctor", "--json"]);
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json: {e}\n{}", stderr(&out)))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// What doctor's "leftovers" line names, or `None` when it is ok.
pub fn leftovers(lab: &Lab) -> Option<String> {
    let checks = doctor(lab);
    let (status, detail) = check(&checks, "leftovers");
    (status != "ok").then(|| detail.to_string())
}

/// Run the lab's glassbox with `args`, crashing after step `k`.
pub fn crash(lab: &Lab, args: &[&str], k: usize) -> Output {
    let mut cmd = lab.glassbox();
    cmd.args(args);
    run_crashing(cmd, k)
}

/// Every lease file of the root, as JSON.
pub fn leases(lab: &Lab) -> Vec<(String, Value)> {
    let dir = lab.root.path().join("networks");
    let mut out = Vec::new();
    for name in crate::common::entries(&dir) {
        if name.ends_with(".leases.json") {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            out.push((name, serde_json::from_str(&text).unwrap()));
        }
    }
    out
}

/// After `system prune --all` in the lab nothing of the root may be left:
/// no leftover or unrecorded object doctor names, an empty ledger, no
/// temporary file, valid state files, and none of the lab's links, nft
/// table, iptables rules, leases or `/etc/netns` files.
pub fn assert_clean_after_prune(lab: &Lab, what: &str) {
    let out = lab.run(&["system", "prune", "--all", "-f"]);
    assert!(
        out.status.success(),
        "{what}: system prune --all failed\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let checks = doctor(lab);
    for name in ["leftovers", "not recorded"] {
        let (status, detail) = check(&checks, name);
        assert_eq!(status, "ok", "{what}: after prune, doctor {name}: {detail}");
    }
    if let Ok(text) = std::fs::read_to_string(lab.root.path().join("run/resources.json")) {
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, serde_json::json!([]), "{what}: ledger not empty: {v}");
    }
    assert_state_files_valid(lab.root.path(), what);
    assert!(
        lab.our_links().is_empty(),
        "{what}: links left: {:?}",
        lab.our_links()
    );
    assert!(!lab.nft_table_exists(), "{what}: nft table left");
    assert!(
        lab.our_iptables_rules().is_empty(),
        "{what}: iptables rules left: {:?}",
        lab.our_iptables_rules()
    );
    for (file, v) in leases(lab) {
        assert_eq!(v, serde_json::json!([]), "{what}: leases left in {file}");
    }
    for ns in &lab.made {
        assert!(
            !std::path::Path::new(&format!("/etc/netns/{ns}")).exists(),
            "{what}: /etc/netns/{ns} left"
        );
    }
}

/// Is `line` found in the lab host's nft rule set?
pub fn nft_has(lab: &Lab, text: &str) -> bool {
    sh_ok(&format!(
        "ip netns exec {} nft list ruleset | grep -qF '{text}'",
        lab.host
    ))
}
