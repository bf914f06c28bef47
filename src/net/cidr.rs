//! Subnets: parse what the user typed, check it, and choose a free one.
//!
//! A bridge network is one IPv4 subnet: the bridge holds the first host
//! address (the gateway), members get the others, so it needs room for a
//! gateway and one member besides the network and broadcast addresses: a
//! /30 at least. The subnet must not overlap any route the host already
//! has, or packets for it would go the wrong way: Docker's `docker0`
//! (172.17.0.0/16) may already be there, and so may a VPN or the lab's own
//! LAN. Nor may it touch the ranges the kernel treats specially (loopback,
//! link-local, multicast, class E and the limited broadcast). Read
//! `ip-route(8)`, RFC 6890 (special-purpose address ranges).

use std::net::Ipv4Addr;

use anyhow::{Result, bail};
use ipnet::Ipv4Net;

/// Parse a network in CIDR form, `172.20.0.0/16`, with its host bits zero.
pub fn parse_subnet(s: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = match s.parse() {
        Ok(n) => n,
        Err(_) => bail!("invalid subnet {s:?}: write it in CIDR form, e.g. 172.20.0.0/16"),
    };
    if net.prefix_len() > 30 {
        bail!(
            "subnet {s} is too small: a bridge network needs at least a /30 (gateway and one member)"
        );
    }
    if net.prefix_len() < 8 {
        bail!("subnet {s} is too large: use a prefix of /8 or longer");
    }
    if net.addr() != net.network() {
        bail!(
            "invalid subnet {s}: host bits are set; did you mean {}?",
            net.trunc()
        );
    }
    check_not_reserved(net)?;
    Ok(net)
}

/// Ranges no bridge subnet may touch, and why (RFC 6890).
pub const RESERVED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\", a source address only"),
    ("127.0.0.0/8", "loopback, never routed to a link"),
    ("169.254.0.0/16", "link-local, never forwarded"),
    ("224.0.0.0/4", "multicast"),
    (
        "240.0.0.0/4",
        "reserved (class E) and the limited broadcast 255.255.255.255",
    ),
];

/// Refuse a subnet that overlaps a special-purpose range.
pub fn check_not_reserved(net: Ipv4Net) -> Result<()> {
    for (range, what) in RESERVED {
        let r: Ipv4Net = range.parse().expect("a valid reserved range");
        if overlaps(net, r) {
            bail!(
                "subnet {net} overlaps {r} ({what}): use a private range such as 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
            );
        }
    }
    Ok(())
}

/// Parse an interface address in CIDR form, `10.0.0.2/24`: a host address
/// (neither the network nor the broadcast address) with its prefix.
pub fn parse_host_cidr(s: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = match s.parse() {
        Ok(n) => n,
        Err(_) => bail!("invalid address {s:?}: write it in CIDR form, e.g. 10.0.0.2/24"),
    };
    if net.prefix_len() < 31 && (net.addr() == net.network() || net.addr() == net.broadcast()) {
        bail!(
            "{s} is the network or broadcast address of {}: choose a host address inside it",
            net.trunc()
        );
    }
    Ok(net)
}

/// Parse a plain IPv4 address.
pub fn parse_ip(s: &str) -> Result<Ipv4Addr> {
    match s.parse() {
        Ok(ip) => Ok(ip),
        Err(_) => bail!("invalid IPv4 address {s:?}"),
    }
}

/// The gateway of a subnet: its first host address.
pub fn gateway(subnet: Ipv4Net) -> Ipv4Addr {
    let n = u32::from(subnet.network());
    Ipv4Addr::from(n + 1)
}

/// Do two networks share any address?
pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first of `used` that `subnet` overlaps.
pub fn first_overlap(subnet: Ipv4Net, used: &[Ipv4Net]) -> Option<Ipv4Net> {
    used.iter().copied().find(|u| overlaps(subnet, *u))
}

/// Docker's default address pools, in the order Docker uses them:
/// 172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16 in /20 pieces.
pub fn default_pool() -> impl Iterator<Item = Ipv4Net> {
    let big =
        (17u8..=31).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid /16"));
    let small =
        (0u8..16).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20).expect("valid /20"));
    big.chain(small)
}

/// The first pool subnet that overlaps nothing in `used` (routes,
/// addresses and the subnets of other glassbox networks).
pub fn choose_subnet(used: &[Ipv4Net]) -> Result<Ipv4Net> {
    match default_pool().find(|c| first_overlap(*c, used).is_none()) {
        Some(n) => Ok(n),
        None => bail!(
            "every subnet of the default pools (172.17-31.0.0/16, 192.168.0.0/16) overlaps a route here: give one with --subnet"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_parse_and_are_checked() {
        assert_eq!(parse_subnet("10.10.0.0/24").unwrap(), net("10.10.0.0/24"));
        let e = parse_subnet("10.10.0.1/24").unwrap_err().to_string();
        assert!(e.contains("did you mean 10.10.0.0/24"), "{e}");
        assert!(parse_subnet("10.10.0.0").is_err());
        assert!(parse_subnet("10.10.0.0/33").is_err());
        assert!(parse_subnet("300.1.0.0/16").is_err());
        assert!(
            parse_subnet("10.0.0.0/31")
                .unwrap_err()
                .to_string()
                .contains("too small")
        );
        assert!(parse_subnet("127.0.0.0/8").is_err());
        assert!(parse_subnet("").is_err());
    }

    #[test]
    fn special_ranges_and_broadcast_only_prefixes_are_refused() {
        for s in [
            "0.0.0.0/8",
            "0.1.0.0/16",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "169.254.3.0/24",
            "169.0.0.0/8",
            "224.0.0.0/8",
            "239.1.0.0/16",
            "240.0.0.0/8",
            "255.255.255.252/30",
        ] {
            let e = parse_subnet(s).unwrap_err().to_string();
            assert!(
                e.contains("overlaps") && e.contains("private range"),
                "{s}: {e}"
            );
        }
        for s in ["10.0.0.0/31", "10.0.0.0/32", "10.0.0.1/32", "224.0.0.0/4"] {
            assert!(parse_subnet(s).is_err(), "{s}");
        }
        // A /30 holds a gateway and one member: the smallest bridge subnet.
        assert_eq!(parse_subnet("10.0.0.4/30").unwrap(), net("10.0.0.4/30"));
        parse_subnet("192.168.0.0/16").unwrap();
        parse_subnet("172.16.0.0/12").unwrap();
        parse_subnet("100.64.0.0/10").unwrap();
    }

    #[test]
    fn host_cidr_must_be_a_host() {
        assert_eq!(
            parse_host_cidr("10.0.0.2/24").unwrap().addr(),
            Ipv4Addr::new(10, 0, 0, 2)
        );
        assert!(parse_host_cidr("10.0.0.0/24").is_err());
        assert!(parse_host_cidr("10.0.0.255/24").is_err());
        assert!(parse_host_cidr("10.0.0.2").is_err());
    }

    #[test]
    fn gateway_is_first_host() {
        assert_eq!(gateway(net("172.18.0.0/16")), Ipv4Addr::new(172, 18, 0, 1));
    }

    #[test]
    fn overlap_both_ways() {
        assert!(overlaps(net("10.0.0.0/8"), net("10.1.0.0/16")));
        assert!(overlaps(net("10.1.0.0/16"), net("10.0.0.0/8")));
        assert!(!overlaps(net("10.1.0.0/16"), net("10.2.0.0/16")));
    }

    #[test]
    fn choice_skips_docker0_and_wider_routes() {
        assert_eq!(choose_subnet(&[]).unwrap(), net("172.17.0.0/16"));
        assert_eq!(
            choose_subnet(&[net("172.17.0.0/16")]).unwrap(),
            net("172.18.0.0/16")
        );
        // A /12 covering all of 172.16-31 pushes us into 192.168.
        assert_eq!(
            choose_subnet(&[net("172.16.0.0/12")]).unwrap(),
            net("192.168.0.0/20")
        );
        // A single host route inside a candidate also excludes it.
        assert_eq!(
            choose_subnet(&[net("172.17.5.5/32")]).unwrap(),
            net("172.18.0.0/16")
        );
        let all: Vec<_> = vec![net("172.16.0.0/12"), net("192.168.0.0/16")];
        assert!(choose_subnet(&all).is_err());
    }
}

/// Serialize an `Ipv4Net` as its CIDR text (`#[serde(with = ...)]`).
pub mod serde_net {
    use ipnet::Ipv4Net;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(n: &Ipv4Net, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&n.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Net, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
