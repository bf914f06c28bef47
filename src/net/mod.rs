//! Networking: bridges, veth pairs, addresses, NAT and published ports.
//!
//! The pieces Docker's bridge driver is made of, each one kernel concept:
//! [`netlink`] speaks rtnetlink (what `ip` does), [`bridge`] makes a
//! network's virtual switch, [`endpoint`] plugs a network namespace into
//! it with a veth pair and an address from [`store`]'s leases, [`nat`]
//! masquerades and publishes ports through [`firewall`]'s nftables table
//! (loaded by [`nftable`]), [`hosts`] gives members each other's names.
//! [`network`] strings them together into Docker's networks (what `network
//! ...` and `run` call), [`manual`] into the by-hand `net bridge` and `net
//! veth`, each a transaction whose leftovers after a crash [`recover`]
//! finds and puts right; [`p2p`] is the cable without a bridge, [`ports`]
//! Docker's `-p`, [`human`] what the commands print. Read `veth(4)`,
//! `network_namespaces(7)`, `ip-link(8)`, `nft(8)`.

pub mod bridge;
pub mod cidr;
pub mod endpoint;
pub mod firewall;
pub mod hosts;
pub mod human;
pub mod ifname;
pub mod iptables;
pub mod manual;
pub mod mode;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod network;
pub mod nfnetlink;
pub mod nftable;
pub mod p2p;
pub mod ports;
pub mod recover;
pub mod store;
pub mod target;

use anyhow::Result;

use crate::state::Root;
use crate::state::resources::{self, Resource, ResourceKind};

pub use firewall::{IPT_KIND, NFT_KIND};

/// This root's ledger records, without making the ledger's lock file when
/// there is no ledger yet (a fresh root, a plan).
pub fn ledger(root: &Root) -> Result<Vec<Resource>> {
    resources::list_if_any(root)
}

/// A network link glassbox made (bridge or host end of a veth pair), in
/// the network namespace glassbox runs in. A link of a network made in
/// another namespace is out of sight here, not gone: it counts as
/// existing, and is not removed from here. Its kind is
/// [`LINK_KIND`]`.name()`, the one place the word is spelled.
pub struct LinkKind;
pub static LINK_KIND: LinkKind = LinkKind;

impl LinkKind {
    const NAME: &'static str = "link";
}

impl ResourceKind for LinkKind {
    fn name(&self) -> &'static str {
        Self::NAME
    }
    fn exists(&self, root: &Root, id: &str) -> bool {
        netlink::Netlink::new()
            .and_then(|mut nl| nl.link(id))
            .map(|l| l.is_some())
            .unwrap_or(false)
            || netns::link_elsewhere(root, id).is_some()
    }
    fn remove(&self, root: &Root, id: &str) -> Result<()> {
        if let Some(ns) = netns::link_elsewhere(root, id) {
            return netns::refuse(&format!("link {id}"), ns);
        }
        // A bridge made by hand (`net bridge add`) is a network of its
        // own: it goes whole, with what `net nat` and `net publish` made
        // for its subnet and its record, which would be stale without it.
        if let Some(net) = store::all(root)?
            .into_iter()
            .find(|n| n.manual && n.bridge == id)
        {
            return network::teardown(root, &net);
        }
        netlink::Netlink::new()?.del_link(id)
    }
    fn scan(&self, root: &Root) -> Vec<String> {
        let names = root.names();
        let Ok(links) = netlink::Netlink::new().and_then(|mut nl| nl.links()) else {
            return vec![];
        };
        links
            .into_iter()
            .map(|l| l.name)
            .filter(|n| n == &names.default_bridge || is_ours(&names.link_prefix, n))
            .collect()
    }
}

/// Does `name` follow the pattern of names [`ifname`] derives for this
/// prefix (`PREFIX` + role letter `n`/`v`/`p` + hex)?
pub fn is_ours(prefix: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let mut chars = rest.chars();
    matches!(chars.next(), Some('n' | 'v' | 'p'))
        && name.len() == ifname::IFNAME_MAX
        && chars.all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_names_are_told_apart_from_other_roots() {
        let mine = ifname::veth_host("gb", "n", "e");
        assert!(is_ours("gb", &mine));
        let other_root = ifname::veth_host("gbabc123", "n", "e");
        assert!(!is_ours("gb", &other_root), "{other_root}");
        assert!(is_ours("gbabc123", &other_root));
        assert!(!is_ours("gb", "gbr0"));
    }
}
