//! Coexisting with Docker's firewall: glassbox's tagged accept rules in
//! iptables.
//!
//! With `br_netfilter`, even traffic between two ports of one bridge
//! passes iptables' FORWARD chain, where Docker sets the policy to DROP.
//! An accept in our own nftables table cannot overrule a drop in another
//! base chain on the same hook, so when FORWARD really drops (its policy,
//! or one of its rules), glassbox inserts its own accept rules, tagged
//! with a comment, into `DOCKER-USER` (the chain Docker keeps for its
//! users) when FORWARD jumps there, else into FORWARD itself; records
//! them, and removes exactly those on teardown. Docker's own rules are
//! never touched; a host whose FORWARD accepts everything gets no rules. Read `iptables(8)`, `iptables-extensions(8)`.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::nftable::{self, failed, tool};
use crate::state::Root;
use crate::state::resources::{Owner, Phase, ResourceKind};
use crate::trace::{Action, Done, Mechanism, Step};

/// Read `iptables -S ARGS` (a detail step); `Done::Planned` in a plan made
/// without root.
fn list_rules(summary: &str, args: &[&str]) -> Result<Done<String>> {
    let mut all = vec!["-w", "-t", "filter", "-S"];
    all.extend(args);
    nftable::read(summary.to_string(), "iptables", &all, |said| {
        if said.ok {
            Ok(said.stdout)
        } else {
            Err(failed("iptables", &all, &said))
        }
    })
}

/// Where glassbox's accept rules go, given `iptables -S FORWARD`: nowhere
/// unless FORWARD really drops (its policy is DROP, or one of its rules
/// drops or rejects); then into `DOCKER-USER` when FORWARD jumps there
/// (Docker's chain for its users, passed before Docker's own rules), else
/// into FORWARD itself.
pub fn chain_for(forward: &str) -> Option<&'static str> {
    let drops = forward.lines().any(|l| {
        l == "-P FORWARD DROP"
            || (l.starts_with("-A FORWARD ") && (l.ends_with("-j DROP") || l.contains("-j REJECT")))
    });
    if !drops {
        return None;
    }
    let jumps_to_user = forward
        .lines()
        .any(|l| l.starts_with("-A FORWARD ") && l.ends_with("-j DOCKER-USER"));
    Some(if jumps_to_user {
        "DOCKER-USER"
    } else {
        "FORWARD"
    })
}

/// Where glassbox puts its accept rules here, if FORWARD can drop
/// anything ([`chain_for`]). `Done::Planned` in a plan made without root;
/// a host without iptables has nothing to accept in (`None`).
pub fn accept_chain() -> Done<Option<&'static str>> {
    if !filter_table_here() {
        return Done::Ran(None);
    }
    match list_rules("read iptables FORWARD chain", &["FORWARD"]) {
        Ok(Done::Ran(forward)) => Done::Ran(chain_for(&forward)),
        Ok(Done::Planned) => Done::Planned,
        Err(_) => Done::Ran(None),
    }
}

/// Has either of iptables' back ends a filter table in this network
/// namespace? Without one, FORWARD holds no rule and its policy is
/// ACCEPT: there is nothing to read, and starting `iptables` to read it
/// costs milliseconds at every container start. The legacy back end lists
/// its tables in `/proc/net/ip_tables_names`; iptables-nft keeps its in
/// the nft table `ip filter`. Where either cannot be read, `true` (read
/// the chain).
fn filter_table_here() -> bool {
    let names = Path::new("/proc/net/ip_tables_names");
    let legacy = Step::new(
        Mechanism::Net,
        Action::FileRead,
        format!("read {}", names.display()),
    )
    .shell(format!("cat {}", names.display()))
    .why("The tables of legacy iptables in this network namespace (the file is missing until its module is loaded).")
    .detail()
    .observe_or_plan(|| match std::fs::read_to_string(names) {
        Ok(text) => Ok(text.lines().any(|l| l.trim() == "filter")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("read {}", names.display())),
    });
    !matches!(legacy, Ok(Done::Ran(false)))
        || !matches!(nftable::present("filter"), Ok(Done::Ran(false)))
}

fn comment(root: &Root) -> String {
    format!("glassbox:{}", root.names().firewall_table)
}

/// The accept rules for one bridge (without chain).
fn accept_specs(root: &Root, bridge: &str) -> Vec<String> {
    let c = comment(root);
    vec![
        format!("-i {bridge} -m comment --comment {c} -j ACCEPT"),
        format!(
            "-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment {c} -j ACCEPT"
        ),
    ]
}

/// Add glassbox's accept rules for `bridge` if the FORWARD chain can drop;
/// a rule this root recorded and that is there already is kept (a command
/// that died after inserting it left it: its record is made live). In a
/// plan made without root, where FORWARD cannot be read, nothing is added.
pub fn add_forward_accepts(root: &Root, bridge: &str, owner: &Owner) -> Result<()> {
    let Done::Ran(Some(chain)) = accept_chain() else {
        return Ok(());
    };
    let recorded = super::ledger(root)?;
    let mut said = false;
    for spec in accept_specs(root, bridge) {
        let id = format!("{chain} {spec}");
        let record = recorded
            .iter()
            .find(|r| r.kind == IPT_KIND.name() && r.id == id);
        let there = record.is_some() && IPT_KIND.exists(root, &id);
        if there && record.is_some_and(|r| r.phase == Phase::Live) {
            continue;
        }
        let pending = crate::state::resources::record(root, IPT_KIND.name(), &id, owner.clone())?;
        if !there {
            if !said {
                crate::trace::say(
                    Mechanism::Net,
                    format!(
                        "iptables FORWARD drops bridged traffic here: adding glassbox's own accept rules to {chain}"
                    ),
                );
                said = true;
            }
            ipt_step(chain, &spec, true)?;
        }
        pending.commit()?;
    }
    Ok(())
}

/// The chain glassbox's accept rules for `bridge` belong in, if they are
/// not all there and recorded live.
pub fn missing_accepts(root: &Root, bridge: &str) -> Result<Option<&'static str>> {
    let Done::Ran(Some(chain)) = accept_chain() else {
        return Ok(None);
    };
    let recorded = super::ledger(root)?;
    let all_there = accept_specs(root, bridge).iter().all(|spec| {
        let id = format!("{chain} {spec}");
        recorded
            .iter()
            .any(|r| r.kind == IPT_KIND.name() && r.id == id && r.phase == Phase::Live)
            && IPT_KIND.exists(root, &id)
    });
    Ok((!all_there).then_some(chain))
}

/// Remove glassbox's accept rules for `bridge` (wherever they are).
pub fn remove_forward_accepts(root: &Root, bridge: &str) -> Result<()> {
    let specs = accept_specs(root, bridge);
    for r in super::ledger(root)? {
        if r.kind == IPT_KIND.name() && specs.iter().any(|s| r.id.ends_with(s.as_str())) {
            IPT_KIND.remove(root, &r.id)?;
            crate::state::resources::forget(root, &r.kind, &r.id)?;
        }
    }
    Ok(())
}

fn ipt_step(chain: &str, spec: &str, insert: bool) -> Result<()> {
    let verb = if insert { "-I" } else { "-D" };
    let words: Vec<&str> = spec.split_whitespace().collect();
    let mut args = vec!["-w", "-t", "filter", verb, chain];
    args.extend(&words);
    Step::new(
        Mechanism::Net,
        Action::Firewall,
        if insert {
            format!("accept glassbox traffic in iptables {chain}")
        } else {
            format!("remove glassbox's accept rule from iptables {chain}")
        },
    )
    .arg("chain", chain)
    .arg("rule", spec)
    .shell(format!("iptables -t filter {verb} {chain} {spec}"))
    .why("A DROP policy in iptables' FORWARD chain (Docker sets one) drops even bridged traffic; only a rule in that same hook can accept it.")
    .man("iptables(8)")
    .run(|| tool("iptables", &args, None).map(drop))
}

/// One of glassbox's tagged iptables accept rules: id `CHAIN SPEC`.
pub struct IptablesRuleKind;
pub static IPT_KIND: IptablesRuleKind = IptablesRuleKind;

fn split_rule_id(id: &str) -> Option<(&str, &str)> {
    id.split_once(' ')
}

/// The other network namespace the bridge of a rule (`-i BR`, `-o BR`)
/// lives in.
fn rule_elsewhere(root: &Root, id: &str) -> Option<super::netns::NsId> {
    let words: Vec<&str> = id.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "-i" || w[0] == "-o")
        .and_then(|w| super::netns::link_elsewhere(root, w[1]))
}

impl ResourceKind for IptablesRuleKind {
    fn name(&self) -> &'static str {
        "iptables-rule"
    }
    /// A rule that cannot be checked (a plan made without root) counts as
    /// there, so that its removal is planned.
    fn exists(&self, root: &Root, id: &str) -> bool {
        if rule_elsewhere(root, id).is_some() {
            return true;
        }
        let Some((chain, spec)) = split_rule_id(id) else {
            return false;
        };
        let mut args = vec!["-w", "-t", "filter", "-C", chain];
        args.extend(spec.split_whitespace());
        let checked = nftable::read(
            format!("look for glassbox's rule in iptables {chain}"),
            "iptables",
            &args,
            |said| match said.code {
                Some(0) => Ok(true),
                // "Bad rule (does a matching rule exist in that chain?)"
                Some(1) if !said.stderr.contains("ermission") => Ok(false),
                _ => Err(failed("iptables", &args, &said)),
            },
        );
        matches!(checked, Ok(Done::Ran(true) | Done::Planned))
    }
    fn remove(&self, root: &Root, id: &str) -> Result<()> {
        if let Some(ns) = rule_elsewhere(root, id) {
            return super::netns::refuse(&format!("iptables rule {id}"), ns);
        }
        if !self.exists(root, id) {
            return Ok(());
        }
        let Some((chain, spec)) = split_rule_id(id) else {
            bail!("malformed iptables rule record {id:?}");
        };
        ipt_step(chain, spec, false)
    }
    fn scan(&self, root: &Root) -> Vec<String> {
        let c = comment(root);
        let Ok(Done::Ran(listing)) = list_rules("read iptables filter table", &[]) else {
            return vec![];
        };
        let mut out = Vec::new();
        for chain in ["DOCKER-USER", "FORWARD"] {
            let prefix = format!("-A {chain} ");
            for line in listing.lines() {
                if let Some(spec) = line.strip_prefix(&prefix)
                    && spec.split_whitespace().any(|w| w == c)
                {
                    out.push(format!("{chain} {spec}"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_rules_go_where_forward_really_drops() {
        // A fresh host: FORWARD accepts, nothing to do.
        assert_eq!(chain_for("-P FORWARD ACCEPT\n"), None);
        // Docker made DOCKER-USER and jumps there, but the policy accepts
        // and no rule drops: nothing to do either.
        let docker_accepting =
            "-P FORWARD ACCEPT\n-A FORWARD -j DOCKER-USER\n-A FORWARD -o docker0 -j DOCKER\n";
        assert_eq!(chain_for(docker_accepting), None);
        // Docker's DROP policy: into DOCKER-USER, which FORWARD passes first.
        let docker =
            "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n-A FORWARD -o docker0 -j DOCKER\n";
        assert_eq!(chain_for(docker), Some("DOCKER-USER"));
        // A DROP policy with no jump to DOCKER-USER (a chain nothing
        // passes): into FORWARD.
        assert_eq!(chain_for("-P FORWARD DROP\n"), Some("FORWARD"));
        // A rule that rejects, under an accepting policy.
        let reject =
            "-P FORWARD ACCEPT\n-A FORWARD -i eth9 -j REJECT --reject-with icmp-port-unreachable\n";
        assert_eq!(chain_for(reject), Some("FORWARD"));
        // A jump to a chain named after DROP is not a drop.
        assert_eq!(
            chain_for("-P FORWARD ACCEPT\n-A FORWARD -j DROP-LOGGER\n"),
            None
        );
    }
}
