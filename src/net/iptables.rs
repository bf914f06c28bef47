//! Coexisting with Docker's firewall: glassbox's tagged accept rules in
//! iptables.
//!
//! With `br_netfilter`, even traffic between two ports of one bridge
//! passes iptables' FORWARD chain, where Docker sets the policy to DROP.
//! An accept in our own nftables table cannot overrule a drop in another
//! base chain on the same hook, so when FORWARD can drop, glassbox inserts
//! its own accept rules, tagged with a comment, into `DOCKER-USER` (the
//! chain Docker keeps for its users) or into FORWARD when Docker is
//! absent, records them, and removes exactly those on teardown. Docker's
//! own rules are never touched. Read `iptables(8)`, `iptables-extensions(8)`.

use anyhow::{Result, bail};

use super::firewall::tool;
use crate::state::Root;
use crate::state::resources::{self, Owner, Phase, ResourceKind};
use crate::trace::{Action, Mechanism, Step};

/// Where glassbox puts its accept rules, if FORWARD can drop anything:
/// `DOCKER-USER` when Docker made it, else `FORWARD`.
pub fn accept_chain() -> Option<&'static str> {
    let forward = tool("iptables", &["-w", "-t", "filter", "-S", "FORWARD"], None).ok()?;
    if tool(
        "iptables",
        &["-w", "-t", "filter", "-S", "DOCKER-USER"],
        None,
    )
    .is_ok()
    {
        return Some("DOCKER-USER");
    }
    let can_drop = forward.lines().any(|l| {
        l == "-P FORWARD DROP"
            || (l.starts_with("-A FORWARD") && (l.contains("DROP") || l.contains("REJECT")))
    });
    can_drop.then_some("FORWARD")
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
/// that died after inserting it left it: its record is made live).
pub fn add_forward_accepts(root: &Root, bridge: &str, owner: &Owner) -> Result<()> {
    let Some(chain) = accept_chain() else {
        return Ok(());
    };
    let recorded = resources::list(root)?;
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
        let pending = resources::record(root, IPT_KIND.name(), &id, owner.clone())?;
        if !there {
            if !said {
                crate::trace::say(
                    Mechanism::Net,
                    format!(
                        "iptables FORWARD can drop bridged traffic here: adding glassbox's own accept rules to {chain}"
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
    let Some(chain) = accept_chain() else {
        return Ok(None);
    };
    let recorded = resources::list(root)?;
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
    for r in resources::list(root)? {
        if r.kind == IPT_KIND.name() && specs.iter().any(|s| r.id.ends_with(s.as_str())) {
            IPT_KIND.remove(root, &r.id)?;
            resources::forget(root, &r.kind, &r.id)?;
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
    fn exists(&self, root: &Root, id: &str) -> bool {
        if rule_elsewhere(root, id).is_some() {
            return true;
        }
        let Some((chain, spec)) = split_rule_id(id) else {
            return false;
        };
        let mut args = vec!["-w", "-t", "filter", "-C", chain];
        args.extend(spec.split_whitespace());
        tool("iptables", &args, None).is_ok()
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
        let mut out = Vec::new();
        for chain in ["DOCKER-USER", "FORWARD"] {
            let Ok(listing) = tool("iptables", &["-w", "-t", "filter", "-S", chain], None) else {
                continue;
            };
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
