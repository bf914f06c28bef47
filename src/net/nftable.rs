//! glassbox's nftables table in the kernel: load it from a script in one
//! transaction, look at what it holds, remove it. The record it is made
//! from is [`super::firewall`]'s; this module is the kernel side, reached
//! through the `nft` tool (which speaks nf_tables netlink). Every rule
//! glassbox writes carries a `comment`, so the rules in the kernel can be
//! compared with the record without parsing nft's normal form. Read
//! `nft(8)`.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::state::Root;
use crate::state::resources::ResourceKind;
use crate::trace::{Action, Mechanism, Step};

/// Run a tool, feeding `stdin`; its stdout, or an error with its stderr.
pub fn tool(prog: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| {
        format!("run {prog}: is it installed? (Debian: apt-get install nftables iptables)")
    })?;
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(input.as_bytes())
            .with_context(|| format!("write to {prog}'s stdin"))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("wait for {prog}"))?;
    if !out.status.success() {
        bail!(
            "{prog} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `nft list table ip TABLE`, or `None` if there is no such table.
pub fn list(table: &str) -> Option<String> {
    tool("nft", &["list", "table", "ip", table], None).ok()
}

pub fn exists(table: &str) -> bool {
    list(table).is_some()
}

/// May this process read the rule set (`nft list tables` works)?
pub fn readable() -> bool {
    tool("nft", &["list", "tables"], None).is_ok()
}

/// The comments of the rules in an nft script or listing, sorted: what
/// tells one of glassbox's rules from another.
pub fn comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("comment \"") {
        rest = &rest[i + "comment \"".len()..];
        let Some(end) = rest.find('"') else { break };
        out.push(rest[..end].to_string());
        rest = &rest[end + 1..];
    }
    out.sort();
    out
}

/// Load `script` (which deletes and re-creates `table`) in one
/// transaction.
pub fn load(table: &str, script: &str, summary: String) -> Result<()> {
    Step::new(Mechanism::Net, Action::Firewall, summary)
    .arg("table", table)
    .shell(format!("nft -f - <<'EOF'\n{script}EOF"))
    .why("One table of our own, replaced in one transaction: DNAT sends published ports to members, masquerade gives them the host's address outside.")
    .man("nft(8)")
    .run(|| tool("nft", &["-f", "-"], Some(script)).map(drop))
}

/// glassbox's nftables table.
pub struct NftTableKind;
pub static NFT_KIND: NftTableKind = NftTableKind;

impl ResourceKind for NftTableKind {
    fn name(&self) -> &'static str {
        "nft-table"
    }
    fn exists(&self, root: &Root, id: &str) -> bool {
        exists(id) || super::netns::table_elsewhere(root).is_some()
    }
    fn remove(&self, root: &Root, id: &str) -> Result<()> {
        if let Some(ns) = super::netns::table_elsewhere(root) {
            return super::netns::refuse(&format!("nft table ip {id}"), ns);
        }
        if !exists(id) {
            return Ok(());
        }
        Step::new(
            Mechanism::Net,
            Action::Firewall,
            format!("delete nft table ip {id}"),
        )
        .shell(format!("nft delete table ip {id}"))
        .run(|| tool("nft", &["delete", "table", "ip", id], None).map(drop))
    }
    fn scan(&self, root: &Root) -> Vec<String> {
        let table = root.names().firewall_table;
        if exists(&table) { vec![table] } else { vec![] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_read_from_a_script_and_from_a_listing_alike() {
        let script =
            "add rule x masquerade comment \"nat 10.0.0.0/24\"\n    y comment \"1:2:3/tcp\"\n";
        let listing = "table ip t {\n\tchain p {\n\t\tip saddr 10.0.0.0/24 masquerade comment \"nat 10.0.0.0/24\"\n\t\tz comment \"1:2:3/tcp\"\n\t}\n}\n";
        assert_eq!(comments(script), comments(listing));
        assert_eq!(comments(script), vec!["1:2:3/tcp", "nat 10.0.0.0/24"]);
        assert!(comments("table ip t {\n}\n").is_empty());
    }
}
