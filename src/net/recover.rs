//! What a crash, or a change behind glassbox's back, leaves of networks,
//! and how it is put right ([`crate::state::recover::Recover`]):
//!
//! - a network whose `network create` or `network rm` (or `net bridge
//!   add`/`del`) died half way: what it made is removed (the create is
//!   undone, the removal finished);
//! - a lease whose `network connect` or `disconnect` died half way (the
//!   attachment is undone, the detachment finished), or whose veth is gone
//!   because its namespace was deleted (`ip netns del`) or its process
//!   exited: the member is released (its veth end, address, names, ports);
//! - a bridge this root made that lacks its address, up or its accept
//!   rules (the default network's, made on first use, by a command that
//!   died; or changed by hand): it is finished;
//! - the firewall record out of step with the kernel's nft table (an
//!   update that died, a table changed by hand): the record is loaded
//!   again.
//!
//! Half-made links, rules and tables themselves are the ledger's
//! ([`crate::state::resources`]). Read `ip-netns(8)`, `veth(4)`, `nft(8)`.

use anyhow::Result;

use super::{bridge, endpoint, firewall, netns, network, store};
use crate::state::Root;
use crate::state::recover::Recover;
use crate::state::resources::Leftover;

pub struct NetState;
pub static NET: NetState = NetState;

/// Leftover kinds.
const NETWORK: &str = "network";
const LEASE: &str = "lease";
const BRIDGE: &str = "bridge";
const FIREWALL: &str = "firewall";

impl Recover for NetState {
    fn area(&self) -> &'static str {
        "net"
    }

    fn find(&self, root: &Root) -> Result<Vec<Leftover>> {
        let mut out = Vec::new();
        let nets = store::all(root)?;
        let mut links = None;
        for net in &nets {
            // What glassbox made in another network namespace is out of
            // sight here, not gone.
            if !netns::is_here(net.netns) {
                continue;
            }
            if let Some(b) = net.busy {
                if b.abandoned() {
                    let what = match b.op {
                        store::Op::Removing => "half-removed",
                        _ => "half-made",
                    };
                    out.push(Leftover {
                        kind: NETWORK.into(),
                        id: net.name.clone(),
                        reason: format!(
                            "{what}: `{}` (pid {}) died before finishing",
                            b.command(),
                            b.pid
                        ),
                    });
                }
                continue;
            }
            if let Some(why) = bridge::missing(root, net)? {
                out.push(Leftover {
                    kind: BRIDGE.into(),
                    id: net.bridge.clone(),
                    reason: format!("half-made bridge of network {}: {why}", net.name),
                });
            }
            let leases = store::leases(root, &net.name)?;
            if leases.is_empty() {
                continue;
            }
            if links.is_none() {
                links = Some(endpoint::link_names()?);
            }
            let Some(links) = links.as_ref() else {
                continue;
            };
            for l in &leases {
                if let Some(why) = endpoint::trouble(l, links) {
                    out.push(Leftover {
                        kind: LEASE.into(),
                        id: format!("{}/{}", net.name, l.endpoint),
                        reason: why,
                    });
                }
            }
        }
        if let Some(why) = firewall::out_of_step(root)? {
            out.push(Leftover {
                kind: FIREWALL.into(),
                id: firewall::state_path(root).display().to_string(),
                reason: why,
            });
        }
        Ok(out)
    }

    fn repair(&self, root: &Root, l: &Leftover) -> Result<()> {
        match l.kind.as_str() {
            NETWORK => {
                let _g = store::global_lock(root)?;
                network::clear_abandoned(root, &l.id).map(drop)
            }
            LEASE => {
                let name = l.id.split_once('/').map_or(l.id.as_str(), |(n, _)| n);
                match store::load(root, name)? {
                    Some(net) => endpoint::settle(root, &net).map(drop),
                    None => Ok(()),
                }
            }
            BRIDGE => match store::find(root, &l.id)? {
                Some(net) if net.busy.is_none() => bridge::ensure(root, &net),
                _ => Ok(()),
            },
            FIREWALL => firewall::reapply(root),
            other => anyhow::bail!("unknown net leftover kind {other}"),
        }
    }
}
