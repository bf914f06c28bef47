//! A small synchronous rtnetlink client: links, addresses and routes.
//!
//! `ip link`, `ip addr` and `ip route` are thin front ends to the same
//! thing: they send a message on a `NETLINK_ROUTE` socket (`RTM_NEWLINK`,
//! `RTM_NEWADDR`, `RTM_NEWROUTE`, ...) and read the kernel's answer. glassbox
//! does exactly that, one message per step, and shows the `ip` command that
//! sends the same message. A netlink socket belongs to the network
//! namespace it was created in, so to configure a container's side we enter
//! its namespace (`setns(2)`) just long enough to open a socket there.
//! Read `rtnetlink(7)`, `netlink(7)`, `veth(4)`, `ip-link(8)`.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{Context, Result, bail};
use ipnet::{IpNet, Ipv4Net};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::trace::{Action, Mechanism, Step};

/// One link as `ip link show` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, `dummy`, ... (empty for loopback and physical).
    pub kind: String,
    /// The index of the bridge this link is a port of.
    pub master: Option<u32>,
    pub up: bool,
    /// The hardware address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
}

/// One IPv4 route of the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: Ipv4Net,
    pub oif: Option<u32>,
    pub gateway: Option<Ipv4Addr>,
}

/// A netlink socket in one network namespace.
pub struct Netlink {
    /// `None`: a namespace a plan made without root could not enter; it
    /// reads as empty, and nothing is ever sent to it (a plan sends
    /// nothing).
    sock: Option<Socket>,
    seq: u32,
    /// How a student reaches the same namespace with `ip`: `ip`,
    /// `ip -n c1`, `nsenter -t 1234 -n ip`.
    ip: String,
}

impl Netlink {
    /// A socket in the caller's own network namespace.
    pub fn new() -> Result<Netlink> {
        Ok(Netlink {
            sock: Some(open_socket()?),
            seq: 0,
            ip: "ip".into(),
        })
    }

    /// A socket in the network namespace at `ns_path` (`/run/netns/NAME`,
    /// `/proc/PID/ns/net`, a pin). `ip` is how the shell lines name it.
    /// Entering the namespace changes nothing there, so it is a read: a
    /// plan made as root looks inside as the real run will; one made
    /// without root shows the step as needing root.
    pub fn in_netns(ns_path: &Path, ip: &str) -> Result<Netlink> {
        let sock = Step::new(
            Mechanism::Net,
            Action::Syscall,
            format!("open a netlink socket inside {}", ns_path.display()),
        )
        .arg("ns", ns_path.display())
        .shell(format!("nsenter --net={} ip ...", ns_path.display()))
        .why("A netlink socket talks to the namespace it was created in: enter it with setns, open the socket, come back.")
        .man("setns(2)")
        .detail()
        .observe_or_plan(|| {
            let ns = File::open(ns_path).with_context(|| {
                format!(
                    "open network namespace {}: is the process, pin or `ip netns` name right?",
                    ns_path.display()
                )
            })?;
            let own = File::open("/proc/thread-self/ns/net")
                .context("open /proc/thread-self/ns/net to come back to it")?;
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).with_context(|| {
                format!(
                    "setns(CLONE_NEWNET) into {}: is it a network namespace?",
                    ns_path.display()
                )
            })?;
            let sock = open_socket();
            nix::sched::setns(&own, nix::sched::CloneFlags::CLONE_NEWNET)
                .context("setns(CLONE_NEWNET) back into our own namespace")?;
            sock
        })?;
        Ok(Netlink {
            sock: sock.value(),
            seq: 0,
            ip: ip.into(),
        })
    }

    /// The `ip` prefix for shell lines in this namespace.
    pub fn ip_cmd(&self) -> &str {
        &self.ip
    }

    /// Send one request and collect the answers (a dump's parts, or the ack).
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        let Some(sock) = self.sock.as_mut() else {
            return Ok(Vec::new());
        };
        sock.send(&buf, 0).context("send on the netlink socket")?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        loop {
            let (data, _) = sock
                .recv_from_full()
                .context("receive from the netlink socket")?;
            let mut offset = 0;
            while offset < data.len() {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .context("decode a netlink answer")?;
                let len = msg.header.length as usize;
                let seq = msg.header.sequence_number;
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) if seq == self.seq => {
                        if e.code.is_none() {
                            if !dump {
                                return Ok(out);
                            }
                        } else {
                            return Err(e.to_io().into());
                        }
                    }
                    NetlinkPayload::InnerMessage(m) if seq == self.seq => out.push(m),
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
            if !dump && !out.is_empty() {
                return Ok(out);
            }
        }
    }

    /// Send a change and wait for the kernel's ack.
    fn change(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<()> {
        self.request(msg, NLM_F_ACK | flags).map(drop)
    }

    // ----- reads ---------------------------------------------------------

    /// Every link in this namespace (`ip link show`).
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let answers = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(parse_link(&l)),
                _ => None,
            })
            .collect())
    }

    /// The link called `name`, if there is one.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        Ok(self.links()?.into_iter().find(|l| l.name == name))
    }

    /// The index of link `name`. Changes look it up inside their step, so
    /// that a plan can name a link an earlier step of it would create.
    fn index(&mut self, name: &str) -> Result<u32> {
        match self.link(name)? {
            Some(l) => Ok(l.index),
            None => bail!("no link named {name} ({} link show)", self.ip),
        }
    }

    /// IPv4 addresses: (link index, address with prefix) (`ip -4 addr`).
    pub fn addresses(&mut self) -> Result<Vec<(u32, Ipv4Net)>> {
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Inet;
        let answers = self.request(RouteNetlinkMessage::GetAddress(req), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for m in answers {
            if let RouteNetlinkMessage::NewAddress(a) = m {
                for attr in &a.attributes {
                    if let AddressAttribute::Local(IpAddr::V4(ip)) = attr
                        && let Ok(net) = Ipv4Net::new(*ip, a.header.prefix_len)
                    {
                        out.push((a.header.index, net));
                    }
                }
            }
        }
        Ok(out)
    }

    /// IPv4 routes of the main table (`ip -4 route`).
    pub fn routes(&mut self) -> Result<Vec<Route>> {
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet;
        let answers = self.request(RouteNetlinkMessage::GetRoute(req), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for m in answers {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            if r.header.table != RouteHeader::RT_TABLE_MAIN || r.header.kind != RouteType::Unicast {
                continue;
            }
            let mut dst = Ipv4Addr::UNSPECIFIED;
            let mut oif = None;
            let mut gateway = None;
            for attr in &r.attributes {
                match attr {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => dst = *ip,
                    RouteAttribute::Oif(i) => oif = Some(*i),
                    RouteAttribute::Gateway(RouteAddress::Inet(ip)) => gateway = Some(*ip),
                    _ => {}
                }
            }
            if let Ok(dst) = Ipv4Net::new(dst, r.header.destination_prefix_length) {
                out.push(Route { dst, oif, gateway });
            }
        }
        Ok(out)
    }

    // ----- changes -------------------------------------------------------

    fn step(&self, summary: String, shell: String) -> Step {
        Step::new(Mechanism::Net, Action::Netlink, summary)
            .shell(shell)
            .man("ip-link(8)")
    }

    /// `ip link add NAME type bridge`
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        let shell = format!("{} link add {name} type bridge", self.ip);
        self.step(format!("create bridge {name}"), shell)
            .arg("name", name)
            .why("A bridge is a virtual switch: every veth end plugged into it shares one Ethernet segment.")
            .run(|| {
                self.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
                    .map_err(|e| exists_hint(e, "link", name))
            })
    }

    /// `ip link add NAME type veth peer name PEER`
    pub fn add_veth(&mut self, name: &str, peer: &str) -> Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg.attributes.push(LinkAttribute::IfName(peer.into()));
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        let shell = format!("{} link add {name} type veth peer name {peer}", self.ip);
        self.step(format!("create veth pair {name} <-> {peer}"), shell)
            .arg("name", name)
            .arg("peer", peer)
            .why("A veth pair is a virtual cable: what goes in one end comes out of the other, even across namespaces.")
            .man("veth(4)")
            .run(|| {
                self.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
                    .map_err(|e| exists_hint(e, "link", name))
            })
    }

    /// `ip link add NAME type veth peer name PEER netns NS`: the pair made
    /// with its other end already inside the namespace at `ns_path`, named
    /// as it is to be there. (Moving an end in afterwards costs the kernel
    /// an RCU barrier: tens of milliseconds.)
    pub fn add_veth_into(
        &mut self,
        name: &str,
        peer: &str,
        ns_path: &Path,
        ns_shell: &str,
    ) -> Result<()> {
        let shell = format!(
            "{} link add {name} type veth peer name {peer} netns {ns_shell}",
            self.ip
        );
        self.step(
            format!("create veth pair {name} <-> {peer} in namespace {ns_shell}"),
            shell,
        )
        .arg("name", name)
        .arg("peer", peer)
        .arg("netns", ns_shell)
        .why("A veth pair is a virtual cable: what goes in one end comes out of the other, even across namespaces. Its other end is made inside the namespace, which connects it to us.")
        .man("veth(4)")
        .run(|| {
            let ns = File::open(ns_path)
                .with_context(|| format!("open network namespace {}", ns_path.display()))?;
            let mut peer_msg = LinkMessage::default();
            peer_msg.attributes.push(LinkAttribute::IfName(peer.into()));
            peer_msg
                .attributes
                .push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
            let mut msg = LinkMessage::default();
            msg.attributes.push(LinkAttribute::IfName(name.into()));
            msg.attributes.push(LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
            ]));
            self.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
                .map_err(|e| exists_hint(e, "link", name))
        })
    }

    /// `ip link set NAME master BRIDGE`
    pub fn set_master(&mut self, name: &str, bridge: &str) -> Result<()> {
        let shell = format!("{} link set {name} master {bridge}", self.ip);
        self.step(format!("plug {name} into bridge {bridge}"), shell)
            .arg("link", name)
            .arg("master", bridge)
            .why("Making the bridge the link's master turns the link into a port of the switch.")
            .run(|| {
                let mut msg = LinkMessage::default();
                msg.header.index = self.index(name)?;
                msg.attributes
                    .push(LinkAttribute::Controller(self.index(bridge)?));
                self.change(RouteNetlinkMessage::SetLink(msg), 0)
            })
    }

    /// `ip link set NAME type bridge_slave hairpin on`: the bridge may send
    /// a frame back out of the port it came in by.
    pub fn set_hairpin(&mut self, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                true,
            )])),
        ]));
        let shell = format!("{} link set {name} type bridge_slave hairpin on", self.ip);
        // RTM_NEWLINK on an existing link, as `ip link set ... type` sends:
        // RTM_SETLINK ignores IFLA_LINKINFO without an error, so the port
        // would silently stay without hairpin.
        self.step(format!("let {name} take back its own frames (hairpin)"), shell)
            .arg("link", name)
            .why("With bridge-nf-call-iptables=1 a member's connection to its own published port is rewritten (DNAT) on the bridge and must leave by the port it came in by; a bridge port does that only in hairpin mode.")
            .run(|| {
                msg.header.index = self.index(name)?;
                self.change(RouteNetlinkMessage::NewLink(msg), 0)
            })
    }

    /// `ip link set NAME up|down`
    pub fn set_up(&mut self, name: &str, up: bool) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.change_mask = LinkFlags::Up;
        if up {
            msg.header.flags = LinkFlags::Up;
        }
        let word = if up { "up" } else { "down" };
        let shell = format!("{} link set {name} {word}", self.ip);
        self.step(format!("bring {name} {word}"), shell)
            .arg("link", name)
            .why("A link passes no traffic until it is administratively up.")
            .run(|| {
                msg.header.index = self.index(name)?;
                self.change(RouteNetlinkMessage::SetLink(msg), 0)
            })
    }

    /// `ip link set NAME netns NS name NEWNAME`: move a link into the
    /// namespace at `ns_path` (a file of `/run/netns`, `/proc/PID/ns`, a
    /// pin), renaming it on the way.
    pub fn move_to_netns(
        &mut self,
        name: &str,
        ns_path: &Path,
        ns_shell: &str,
        new_name: &str,
    ) -> Result<()> {
        let shell = format!(
            "{} link set {name} netns {ns_shell} name {new_name}",
            self.ip
        );
        self.step(format!("move {name} into namespace {ns_shell} as {new_name}"), shell)
            .arg("link", name)
            .arg("netns", ns_shell)
            .arg("name", new_name)
            .why("A link lives in exactly one network namespace; moving one veth end in connects the namespace to us.")
            .man("network_namespaces(7)")
            .run(|| {
                let ns = File::open(ns_path).with_context(|| {
                    format!("open network namespace {}", ns_path.display())
                })?;
                let mut msg = LinkMessage::default();
                msg.header.index = self.index(name)?;
                msg.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
                msg.attributes.push(LinkAttribute::IfName(new_name.into()));
                self.change(RouteNetlinkMessage::SetLink(msg), 0)
                    .map_err(|e| exists_hint(e, "link inside the namespace", new_name))
            })
    }

    /// `ip link del NAME` ("already gone" is success: no step at all).
    pub fn del_link(&mut self, name: &str) -> Result<()> {
        let Some(link) = self.link(name)? else {
            return Ok(());
        };
        let index = link.index;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        let shell = format!("{} link del {name}", self.ip);
        self.step(format!("delete link {name}"), shell)
            .arg("link", name)
            .why("Deleting one end of a veth pair deletes the other; deleting a bridge unplugs its ports.")
            .run(|| match self.change(RouteNetlinkMessage::DelLink(msg), 0) {
                Err(e) if is_errno(&e, libc::ENODEV) => Ok(()),
                r => r,
            })
    }

    /// [`Netlink::del_link`] in this process's own network namespace,
    /// going on as soon as the link is out of the namespace's list. The
    /// kernel unlists a deleted device at once, then, still inside the
    /// same `RTM_DELLINK`, waits for an RCU barrier before it frees it:
    /// 10 to 20 ms here, most of a container's teardown. That wait is left
    /// to a thread of its own, which a process ending meanwhile lets
    /// finish (the kernel completes the call before the thread exits).
    /// Once unlisted the name is free and the peer is gone with it.
    pub fn del_link_unlisted(name: &str) -> Result<()> {
        let Some(index) = index_of(name) else {
            return Ok(());
        };
        let summary = format!("delete link {name}");
        Step::new(Mechanism::Net, Action::Netlink, summary)
            .shell(format!("ip link del {name}"))
            .man("ip-link(8)")
            .arg("link", name)
            .why("Deleting one end of a veth pair deletes the other. The kernel takes the link out of the list at once and frees it after an RCU barrier; glassbox goes on once it is out of the list.")
            .run(|| {
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::Builder::new()
                    .name("del-link".into())
                    .spawn(move || {
                        let mut msg = LinkMessage::default();
                        msg.header.index = index;
                        let r = Netlink::new()
                            .and_then(|mut nl| nl.change(RouteNetlinkMessage::DelLink(msg), 0));
                        let _ = tx.send(r);
                    })
                    .context("spawn a thread to delete the link")?;
                wait_unlisted(name, index, &rx)
            })
    }

    /// `ip addr add ADDR/LEN dev NAME`
    pub fn add_address(&mut self, name: &str, addr: Ipv4Net) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = addr.prefix_len();
        let ip = IpAddr::V4(addr.addr());
        msg.attributes.push(AddressAttribute::Local(ip));
        msg.attributes.push(AddressAttribute::Address(ip));
        msg.attributes
            .push(AddressAttribute::Broadcast(addr.broadcast()));
        let shell = format!("{} addr add {addr} dev {name}", self.ip);
        self.step(format!("give {name} the address {addr}"), shell)
            .arg("link", name)
            .arg("address", addr)
            .why("The address and its prefix also make the kernel add a route to the subnet through this link.")
            .man("ip-address(8)")
            .run(|| {
                msg.header.index = self.index(name)?;
                self.change(RouteNetlinkMessage::NewAddress(msg), NLM_F_CREATE | NLM_F_EXCL)
                    .map_err(|e| exists_hint(e, "address", &addr.to_string()))
            })
    }

    /// `ip route add default via GW` (or `ip route add DST dev NAME`).
    pub fn add_route(
        &mut self,
        dst: Ipv4Net,
        gateway: Option<Ipv4Addr>,
        dev: Option<&str>,
    ) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = dst.prefix_len();
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Static;
        msg.header.kind = RouteType::Unicast;
        msg.header.scope = if gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        if dst.prefix_len() > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::Inet(dst.addr())));
        }
        let mut shell = format!("{} route add ", self.ip);
        shell.push_str(&if dst.prefix_len() == 0 {
            "default".to_string()
        } else {
            dst.to_string()
        });
        if let Some(gw) = gateway {
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
            shell.push_str(&format!(" via {gw}"));
        }
        if let Some(dev) = dev {
            shell.push_str(&format!(" dev {dev}"));
        }
        let summary = match (dst.prefix_len(), gateway) {
            (0, Some(gw)) => format!("add default route via {gw}"),
            _ => format!("add route to {dst}"),
        };
        self.step(summary, shell)
            .arg("dst", dst)
            .why("Packets for addresses outside the namespace's own subnet go to the gateway, the bridge's address on the host.")
            .man("ip-route(8)")
            .run(|| {
                if let Some(dev) = dev {
                    msg.attributes.push(RouteAttribute::Oif(self.index(dev)?));
                }
                self.change(RouteNetlinkMessage::NewRoute(msg), NLM_F_CREATE | NLM_F_EXCL)
                    .map_err(|e| exists_hint(e, "route", &dst.to_string()))
            })
    }
}

fn open_socket() -> Result<Socket> {
    let mut sock = Socket::new(NETLINK_ROUTE).context("socket(AF_NETLINK, NETLINK_ROUTE)")?;
    sock.bind_auto().context("bind the netlink socket")?;
    sock.connect(&SocketAddr::new(0, 0))
        .context("connect the netlink socket to the kernel")?;
    Ok(sock)
}

fn parse_link(l: &LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        up: l.header.flags.contains(LinkFlags::Up),
        ..Link::default()
    };
    for attr in &l.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name = n.clone(),
            LinkAttribute::Controller(m) => link.master = Some(*m),
            LinkAttribute::Address(a) => {
                link.mac = a
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            }
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(k) = info {
                        link.kind = k.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    link
}

/// Is this error the kernel's `errno`?
/// The index of link `name` in this process's network namespace
/// (`if_nametoindex(3)`), `None` if there is no such link.
fn index_of(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated string; the call reads nothing else.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// How long [`Netlink::del_link_unlisted`] waits for the kernel before it
/// gives up on seeing the link unlisted and waits for the answer instead.
const UNLIST_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Wait until link `index` named `name` is out of the list, or the thread
/// deleting it answers (an error, or "no such device": someone else was
/// first, which is success too).
fn wait_unlisted(
    name: &str,
    index: u32,
    answer: &std::sync::mpsc::Receiver<Result<()>>,
) -> Result<()> {
    use std::sync::mpsc::RecvTimeoutError;
    let done = |r: Result<()>| match r {
        Err(e) if is_errno(&e, libc::ENODEV) => Ok(()),
        r => r,
    };
    let start = std::time::Instant::now();
    while start.elapsed() < UNLIST_WAIT {
        match answer.recv_timeout(std::time::Duration::from_micros(200)) {
            Ok(r) => return done(r),
            Err(RecvTimeoutError::Disconnected) => {
                bail!("the thread deleting link {name} ended without an answer")
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if index_of(name) != Some(index) {
            return Ok(());
        }
    }
    match answer.recv() {
        Ok(r) => done(r),
        Err(_) => bail!("the thread deleting link {name} ended without an answer"),
    }
}

pub fn is_errno(e: &anyhow::Error, errno: i32) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .and_then(|io| io.raw_os_error())
            == Some(errno)
    })
}

fn exists_hint(e: anyhow::Error, what: &str, name: &str) -> anyhow::Error {
    if is_errno(&e, libc::EEXIST) {
        e.context(format!(
            "a {what} named {name} already exists: choose another name or remove it first"
        ))
    } else {
        e
    }
}

/// Is `ip` one of this namespace's own addresses?
pub fn is_local(addrs: &[(u32, Ipv4Net)], ip: Ipv4Addr) -> bool {
    addrs.iter().any(|(_, n)| n.addr() == ip)
}

/// The subnets of every route and address here: what a new network must
/// not overlap.
pub fn used_subnets(nl: &mut Netlink) -> Result<Vec<Ipv4Net>> {
    let mut used: Vec<Ipv4Net> = nl
        .routes()?
        .into_iter()
        .filter(|r| r.dst.prefix_len() > 0)
        .map(|r| r.dst)
        .collect();
    used.extend(nl.addresses()?.into_iter().map(|(_, n)| n.trunc()));
    Ok(used)
}

/// A route `dst` as an `IpNet` (for messages).
pub fn as_ipnet(n: Ipv4Net) -> IpNet {
    IpNet::V4(n)
}
