//! Names: each member's `hosts` file lists the other members of its
//! user-defined networks, the way Docker's embedded DNS answers for them.
//! On the default bridge members get no names of each other (Docker's
//! rule). A `hosts` file may be bind-mounted into a container, so it is
//! rewritten in place (`O_TRUNC` + write): a rename would leave the
//! container looking at the old inode. A member that is leaving (its lease
//! marked [`super::store::Op::Detaching`]) is already left out, and when no
//! lease of it names a hosts file any more, the files glassbox made for it
//! under `/etc/netns` go. Read `hosts(5)`, `ip-netns(8)` (`ip netns exec`
//! binds `/etc/netns/NAME/hosts` over `/etc/hosts`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::store::{self, Lease, Network};
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};

/// One line of a hosts file: an address and its names.
pub type Entry = (Ipv4Addr, Vec<String>);

/// The lines Docker starts every container's hosts file with.
pub const DOCKER_HEAD: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The text of a hosts file: loopback, the member's own addresses, then
/// the peers it may reach by name.
pub fn render(own: &[Entry], peers: &[Entry]) -> String {
    let mut s = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    push_entries(&mut s, own.iter().chain(peers));
    s
}

fn push_entries<'a>(s: &mut String, entries: impl Iterator<Item = &'a Entry>) {
    for (ip, names) in entries {
        s.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
}

/// `--add-host NAME:IP` as a hosts line (`IP\tNAME`); none if malformed.
fn extra_line(spec: &str) -> Option<String> {
    let (name, ip) = spec.split_once(':')?;
    Some(format!("{ip}\t{name}\n"))
}

/// The hosts file of a container, as Docker writes it: its fixed lines,
/// the `--add-host` lines, the container's own addresses with its
/// hostname; then, since glassbox has no DNS server of Docker's kind, the
/// peers its user-defined networks let it reach by name.
pub fn render_container(extra: &[String], own: &[Entry], peers: &[Entry]) -> String {
    let mut s = String::from(DOCKER_HEAD);
    for e in extra {
        s.extend(extra_line(e));
    }
    push_entries(&mut s, own.iter().chain(peers));
    s
}

fn add_names<'a>(names: &mut Vec<String>, more: impl IntoIterator<Item = &'a String>) {
    for n in more {
        if !n.is_empty() && !names.contains(n) {
            names.push(n.clone());
        }
    }
}

/// The names Docker's DNS answers for a member of a user-defined network
/// (its `DNSNames`): its name, its aliases, and for a container its short
/// id and its hostname.
pub fn dns_names(l: &Lease) -> Vec<String> {
    let mut names = Vec::new();
    add_names(&mut names, std::iter::once(&l.endpoint).chain(&l.aliases));
    if let Some(c) = &l.container {
        add_names(&mut names, [&c.short_id().to_string(), &c.hostname]);
    }
    names
}

/// The names on a member's own line: a container's hostname (all Docker
/// writes), then on a user-defined network its name and aliases there;
/// another member's name.
fn own_names(l: &Lease, net: &Network) -> Vec<String> {
    let Some(c) = &l.container else {
        return vec![l.endpoint.clone()];
    };
    let mut names = vec![c.hostname.clone()];
    if !net.default_bridge {
        add_names(&mut names, std::iter::once(&l.endpoint).chain(&l.aliases));
    }
    names
}

/// What one member's hosts file should say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostsOf {
    /// The file (none if no lease of the member has one).
    pub path: Option<PathBuf>,
    pub own: Vec<Entry>,
    pub peers: Vec<Entry>,
    /// Set for a container: its `--add-host` lines and Docker's layout.
    pub container: Option<store::ContainerMember>,
}

impl HostsOf {
    pub fn text(&self) -> String {
        match &self.container {
            Some(c) => render_container(&c.extra_hosts, &self.own, &self.peers),
            None => render(&self.own, &self.peers),
        }
    }
}

/// What `endpoint`'s hosts file should say, from every network's leases
/// (members that are leaving left out).
pub fn entries_for(endpoint: &str, nets: &[(Network, Vec<Lease>)]) -> HostsOf {
    let mut out = HostsOf::default();
    let mut peers: BTreeMap<Ipv4Addr, Vec<String>> = BTreeMap::new();
    for (net, leases) in nets.iter().filter(|(n, _)| !n.manual) {
        let Some(me) = leases
            .iter()
            .find(|l| l.endpoint == endpoint && !l.leaving())
        else {
            continue;
        };
        if out.path.is_none() {
            out.path = me.hosts.clone();
        }
        if out.container.is_none() {
            out.container = me.container.clone();
        }
        out.own.push((me.ip, own_names(me, net)));
        if net.default_bridge {
            continue;
        }
        for l in leases
            .iter()
            .filter(|l| l.endpoint != endpoint && !l.leaving())
        {
            add_names(peers.entry(l.ip).or_default(), &dns_names(l));
        }
    }
    out.peers = peers.into_iter().collect();
    out
}

/// Rewrite `path` in place with `text` (same inode).
pub fn write_in_place(path: &Path, text: &str) -> Result<()> {
    Step::new(
        Mechanism::Net,
        Action::FileWrite,
        format!("rewrite {} in place", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("cat > {} <<'EOF' ... EOF", path.display()))
    .why("Truncate and write keeps the inode, so a bind mount of this file into a container sees the change at once.")
    .man("hosts(5)")
    .detail()
    .run(|| {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("open {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("write {}", path.display()))
    })
}

/// Every network with its leases.
pub fn snapshot(root: &Root) -> Result<Vec<(Network, Vec<Lease>)>> {
    store::all(root)?
        .into_iter()
        .map(|n| {
            let l = store::leases(root, &n.name)?;
            Ok((n, l))
        })
        .collect()
}

/// `nets` with the leases this command holds in hand put in (each
/// replacing the saved lease of its endpoint, its network added if it is
/// not saved): what the files must say once this command's writes are
/// done, the same whether they ran or were only planned.
pub fn with_leases(
    mut nets: Vec<(Network, Vec<Lease>)>,
    in_hand: &[(Network, Lease)],
) -> Vec<(Network, Vec<Lease>)> {
    for (net, lease) in in_hand {
        let i = match nets.iter().position(|(n, _)| n.name == net.name) {
            Some(i) => i,
            None => {
                nets.push((net.clone(), Vec::new()));
                nets.len() - 1
            }
        };
        let leases = &mut nets[i].1;
        match leases.iter_mut().find(|l| l.endpoint == lease.endpoint) {
            Some(l) => *l = lease.clone(),
            None => leases.push(lease.clone()),
        }
    }
    nets
}

/// Hosts files glassbox wrote for `endpoint` that only leaving leases
/// still name, and that `ip netns exec` reads (under `/etc/netns`): the
/// member has left every network that gave it names.
pub fn orphaned_files(endpoint: &str, nets: &[(Network, Vec<Lease>)]) -> Vec<PathBuf> {
    let current = entries_for(endpoint, nets).path;
    let mut out: Vec<PathBuf> = nets
        .iter()
        .flat_map(|(_, ls)| ls.iter())
        .filter(|l| l.endpoint == endpoint && l.leaving())
        .filter_map(|l| l.hosts.clone())
        .filter(|p| p.starts_with("/etc/netns") && Some(p) != current.as_ref())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Rewrite the hosts files of `endpoints` from the current leases (and
/// the ones this command holds `in_hand`, see [`with_leases`]), under one
/// lock so that parallel connects and disconnects never write a stale
/// file; remove the files of those that have left every named network.
pub fn refresh(
    root: &Root,
    endpoints: &BTreeSet<String>,
    in_hand: &[(Network, Lease)],
) -> Result<()> {
    let _lock = store::lock_file(&store::dir(root).join(".hosts.lock"))?;
    let nets = with_leases(snapshot(root)?, in_hand);
    for e in endpoints {
        let of = entries_for(e, &nets);
        if let Some(p) = &of.path {
            write_in_place(p, &of.text())?;
        }
        for hosts in orphaned_files(e, &nets) {
            remove_files(&hosts)?;
        }
    }
    Ok(())
}

/// Remove a member's `hosts` and the `resolv.conf` beside it, then their
/// directory if nothing else is in it.
fn remove_files(hosts: &Path) -> Result<()> {
    let why = "The member left its last network with names: the files glassbox made for it go.";
    crate::host::remove_file(Mechanism::Net, hosts, why)?;
    let Some(dir) = hosts.parent() else {
        return Ok(());
    };
    crate::host::remove_file(Mechanism::Net, &dir.join("resolv.conf"), why)?;
    Step::new(
        Mechanism::Net,
        Action::Filesystem,
        format!("remove directory {} if empty", dir.display()),
    )
    .arg("path", dir.display())
    .shell(format!("rmdir {}", dir.display()))
    .man("rmdir(2)")
    .detail()
    .run(|| match std::fs::remove_dir(dir) {
        Err(e)
            if e.kind() != std::io::ErrorKind::NotFound
                && e.kind() != std::io::ErrorKind::DirectoryNotEmpty =>
        {
            Err(e).with_context(|| format!("rmdir {}", dir.display()))
        }
        _ => Ok(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, default_bridge: bool) -> Network {
        Network {
            name: name.into(),
            id: "0".repeat(64),
            driver: "bridge".into(),
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: "10.1.0.1".parse().unwrap(),
            bridge: "b".into(),
            created: String::new(),
            manual: false,
            default_bridge,
            busy: None,
            netns: None,
        }
    }

    fn lease(e: &str, ip: &str, aliases: &[&str]) -> Lease {
        Lease {
            ip: ip.parse().unwrap(),
            endpoint: e.into(),
            netns: PathBuf::new(),
            host_if: String::new(),
            inner_if: "eth0".into(),
            hosts: Some(PathBuf::from(format!("/x/{e}/hosts"))),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            mac: String::new(),
            busy: None,
            container: None,
        }
    }

    #[test]
    fn user_network_members_see_each_other_default_bridge_does_not() {
        let nets = vec![
            (
                net("mynet", false),
                vec![lease("a", "10.1.0.2", &[]), lease("b", "10.1.0.3", &["db"])],
            ),
            (
                net("bridge", true),
                vec![lease("a", "10.2.0.2", &[]), lease("c", "10.2.0.3", &[])],
            ),
        ];
        let HostsOf {
            path, own, peers, ..
        } = entries_for("a", &nets);
        assert_eq!(path.unwrap(), PathBuf::from("/x/a/hosts"));
        insta::assert_snapshot!(render(&own, &peers));
        let peers_c = entries_for("c", &nets).peers;
        assert!(peers_c.is_empty());
    }

    fn netns_lease(e: &str, ip: &str, leaving: bool, hosts: bool) -> Lease {
        let mut l = lease(e, ip, &[]);
        l.hosts = hosts.then(|| PathBuf::from(format!("/etc/netns/{e}/hosts")));
        if leaving {
            l.busy = Some(store::Busy::now(store::Op::Detaching));
        }
        l
    }

    #[test]
    fn a_leaving_member_is_left_out_and_its_files_go_with_its_last_named_network() {
        let mut manual = net("m", false);
        manual.manual = true;
        // x leaves a: b still names it, so its file stays and is rewritten.
        let nets = vec![
            (
                net("a", false),
                vec![
                    netns_lease("x", "10.1.0.2", true, true),
                    netns_lease("y", "10.1.0.3", false, true),
                ],
            ),
            (
                net("b", false),
                vec![netns_lease("x", "10.2.0.2", false, true)],
            ),
        ];
        let HostsOf { path, own, .. } = entries_for("x", &nets);
        assert_eq!(path.unwrap(), PathBuf::from("/etc/netns/x/hosts"));
        assert_eq!(own, vec![("10.2.0.2".parse().unwrap(), vec!["x".into()])]);
        assert!(orphaned_files("x", &nets).is_empty());
        let peers_y = entries_for("y", &nets).peers;
        assert!(peers_y.is_empty(), "y still sees x: {peers_y:?}");
        // x leaves a while on a bridge made by hand (no names there): the
        // file goes, although x is still on a network.
        let nets = vec![
            (
                net("a", false),
                vec![netns_lease("x", "10.1.0.2", true, true)],
            ),
            (manual, vec![netns_lease("x", "10.3.0.2", false, false)]),
        ];
        assert_eq!(
            orphaned_files("x", &nets),
            vec![PathBuf::from("/etc/netns/x/hosts")]
        );
        // A file outside /etc/netns (a PID member's --hosts-dir) is the
        // user's: never removed.
        let mut l = netns_lease("p", "10.1.0.9", true, true);
        l.hosts = Some("/srv/p/hosts".into());
        assert!(orphaned_files("p", &[(net("a", false), vec![l])]).is_empty());
    }

    fn container_lease(e: &str, ip: &str, id: &str, hostname: &str, extra: &[&str]) -> Lease {
        let mut l = lease(e, ip, &[]);
        l.container = Some(store::ContainerMember {
            id: id.repeat(32),
            hostname: hostname.into(),
            extra_hosts: extra.iter().map(|s| s.to_string()).collect(),
        });
        l
    }

    #[test]
    fn a_containers_file_is_dockers_with_its_hostname_extras_and_peers_by_every_name() {
        let mut web = container_lease("web", "10.1.0.2", "ab", "ab".repeat(6).as_str(), &[]);
        web.aliases = vec!["www".into()];
        let me = container_lease("me", "10.1.0.3", "cd", "box", &["db:10.0.0.5"]);
        let nets = vec![
            (net("mynet", false), vec![web, me.clone()]),
            (
                net("bridge", true),
                vec![container_lease(
                    "me",
                    "10.2.0.3",
                    "cd",
                    "box",
                    &["db:10.0.0.5"],
                )],
            ),
        ];
        let of = entries_for("me", &nets);
        assert_eq!(
            of.text(),
            format!(
                "{DOCKER_HEAD}10.0.0.5\tdb\n10.1.0.3\tbox me\n10.2.0.3\tbox\n10.1.0.2\tweb www abababababab\n"
            )
        );
        // Alone on the default bridge: exactly Docker's file.
        let alone = vec![(
            net("bridge", true),
            vec![container_lease(
                "c",
                "172.17.0.2",
                "ef",
                "efefefefefef",
                &[],
            )],
        )];
        assert_eq!(
            entries_for("c", &alone).text(),
            format!("{DOCKER_HEAD}172.17.0.2\tefefefefefef\n")
        );
    }
}
