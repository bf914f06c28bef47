//! Interface names: at most 15 bytes (`IFNAMSIZ` - 1), derived from the
//! state root's `link_prefix` so that two glassbox installations (or two
//! tests) on one host never pick the same name. A name a user gives must
//! be literal: the kernel turns `%d` into the first free number
//! (`dev_alloc_name`), so `pb%d` would make a `pb0` no record knows.
//! Read `netdevice(7)`.

use anyhow::{Result, bail};
use sha2::{Digest, Sha256};

/// The kernel's limit on an interface name, without the trailing NUL.
pub const IFNAME_MAX: usize = 15;

/// Check a name the user gave for a link: what the kernel would take
/// literally (`dev_valid_name`, and no `%` for `dev_alloc_name` to expand).
pub fn validate(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > IFNAME_MAX {
        bail!(
            "interface name {name:?} must be 1 to {IFNAME_MAX} bytes (the kernel's IFNAMSIZ); choose a shorter name"
        );
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '%' || c.is_whitespace() || c.is_control())
    {
        bail!(
            "invalid interface name {name:?}: it may not be . or .. nor contain '/', ':', '%' (the kernel would expand %d into a number) or whitespace; choose a plain name such as br0"
        );
    }
    Ok(())
}

/// `prefix` + `role` + as many hex digits of sha256(`key`) as fit in 15.
pub fn derive(prefix: &str, role: &str, key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let room = IFNAME_MAX.saturating_sub(prefix.len() + role.len()).max(1);
    format!("{prefix}{role}{}", &hex[..room.min(hex.len())])
}

/// The bridge of a network made by `network create`.
pub fn bridge(prefix: &str, network_id: &str) -> String {
    derive(prefix, "n", network_id)
}

/// The host end of a veth pair for `endpoint` on `network`.
pub fn veth_host(prefix: &str, network: &str, endpoint: &str) -> String {
    derive(prefix, "v", &format!("{network}/{endpoint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_differ() {
        for prefix in ["gb", "gbabc123"] {
            let a = veth_host(prefix, "n1", "c1");
            let b = veth_host(prefix, "n1", "c2");
            assert!(a.len() <= 15 && b.len() <= 15, "{a} {b}");
            assert!(a.starts_with(prefix));
            assert_ne!(a, b);
            validate(&a).unwrap();
        }
        assert_eq!(bridge("gbabc123", "x").len(), 15);
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(validate("").is_err());
        assert!(validate("a-name-that-is-too-long").is_err());
        assert!(validate("a/b").is_err());
        assert!(validate("a b").is_err());
        for bad in ["pb%d", "%d", "a%", ".", "..", "a:b", "a\tb", "a\nb"] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        // 15 bytes, not characters: two-byte letters count twice.
        assert!(validate("ééééééééé").is_err());
        validate("ééééééé").unwrap();
        validate("br0").unwrap();
    }
}
