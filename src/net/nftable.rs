//! glassbox's nftables table in the kernel: load it from a script in one
//! transaction, look at what it holds, remove it. The record it is made
//! from is [`super::firewall`]'s; this module is the kernel side, reached
//! through the `nft` tool (which speaks nf_tables netlink). Every rule
//! glassbox writes carries a `comment`, so the rules in the kernel can be
//! compared with the record without parsing nft's normal form. Read
//! `nft(8)`.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::state::Root;
use crate::state::resources::ResourceKind;
use crate::trace::{Action, Done, Mechanism, Step};

/// What a tool said: whether it succeeded, and its output.
#[derive(Debug, Clone)]
pub struct Said {
    pub ok: bool,
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Launch a tool, feeding `stdin`, and collect what it said. Only called
/// from inside a step ([`tool`] for a change, [`read`] for a read).
fn launch(prog: &str, args: &[&str], stdin: Option<&str>) -> Result<Said> {
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
    Ok(Said {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// The error of a tool that failed; one that says it lacks permission
/// carries `EPERM`, so that a plan made without root shows the step as
/// needing root ([`Step::observe_or_plan`]).
pub fn failed(prog: &str, args: &[&str], said: &Said) -> anyhow::Error {
    let text = format!(
        "{prog} {} failed (exit {}): {}",
        args.join(" "),
        said.code
            .map_or("by a signal".to_string(), |c| c.to_string()),
        said.stderr
    );
    let denied = [
        "Permission denied",
        "Operation not permitted",
        "must be root",
    ]
    .iter()
    .any(|w| said.stderr.contains(w));
    if denied {
        anyhow::Error::new(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            said.stderr.clone(),
        ))
        .context(text)
    } else {
        anyhow::anyhow!(text)
    }
}

/// Run a tool that changes the host (inside the caller's step); its
/// stdout, or an error with its stderr.
pub fn tool(prog: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let said = launch(prog, args, stdin)?;
    if !said.ok {
        return Err(failed(prog, args, &said));
    }
    Ok(said.stdout)
}

/// Run a tool that only reads, as a detail step: `answer` turns what it
/// said into the value (a failure that means "not there" is an answer,
/// not an error). In a plan made without root, a read the tool refuses
/// is shown as needing root and gives `Done::Planned`.
pub fn read<T>(
    summary: String,
    prog: &str,
    args: &[&str],
    answer: impl FnOnce(Said) -> Result<T>,
) -> Result<Done<T>> {
    Step::new(Mechanism::Net, Action::Process, summary)
        .arg("command", format!("{prog} {}", args.join(" ")))
        .shell(format!("{prog} {}", args.join(" ")))
        .man(format!("{prog}(8)"))
        .detail()
        .observe_or_plan(|| answer(launch(prog, args, None)?))
}

/// `nft list table ip TABLE`: its listing, `None` if there is no such
/// table; not read (`Done::Planned`) in a plan made without root.
pub fn list(table: &str) -> Result<Done<Option<String>>> {
    let args = ["list", "table", "ip", table];
    read(format!("list nft table ip {table}"), "nft", &args, |said| {
        if said.ok {
            Ok(Some(said.stdout))
        } else if said.stderr.contains("No such file or directory") {
            Ok(None)
        } else {
            Err(failed("nft", &args, &said))
        }
    })
}

/// Is there an nft table `ip TABLE`? Asked over netlink
/// ([`super::nfnetlink`]), without starting `nft`; not asked
/// (`Done::Planned`) in a plan made without root.
pub fn present(table: &str) -> Result<Done<bool>> {
    Step::new(Mechanism::Net, Action::Netlink, format!("look for nft table ip {table}"))
        .arg("table", table)
        .shell(format!("nft list table ip {table}"))
        .man("nft(8)")
        .why("NFT_MSG_GETTABLE on a NETLINK_NETFILTER socket: the first question `nft list table` asks the kernel.")
        .detail()
        .observe_or_plan(|| super::nfnetlink::table_exists(table))
}

/// Is `table` in the kernel? (`false` where it cannot be read.)
pub fn exists(table: &str) -> bool {
    matches!(present(table), Ok(Done::Ran(true)))
}

/// May this process read the rule set (`nft list tables` works)?
pub fn readable() -> bool {
    let args = ["list", "tables"];
    matches!(
        read("list nft tables".into(), "nft", &args, |said| Ok(said.ok)),
        Ok(Done::Ran(true))
    )
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
/// transaction; whether it ran or was only planned.
pub fn load(table: &str, script: &str, summary: String) -> Result<Done<()>> {
    Step::new(Mechanism::Net, Action::Firewall, summary)
    .arg("table", table)
    .shell(format!("nft -f - <<'EOF'\n{script}EOF"))
    .why("One table of our own, replaced in one transaction: DNAT sends published ports to members, masquerade gives them the host's address outside.")
    .man("nft(8)")
    .apply(|| tool("nft", &["-f", "-"], Some(script)).map(drop))
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
